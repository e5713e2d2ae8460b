"""Reproduce the shipped `vqual-lite` heads from scratch: `python scripts/train_lite.py` (about 10-15 min, 2 cores).

Stage 1 (no human labels): graded synthetic distortions of clean photographs (Kodak 24 and McMaster 1-12; McMaster
13-18 are held out for benchmarks/attributes.py) teach the attribute heads (which distortion, how strong) and a
synthetic-quality direction learned from pairs (same content, stronger distortion = worse).
Stage 2 (human labels): the score head is fitted on the 200 MOS of ../shared/data/clive-fewlabel, with every
choice (ridge strength, whether the stage-1 outputs join the score) made by cross-validation inside those images.

Writes src/vqual/assets/lite/heads.npz and lite.json (config, CV figures, data, sha256). Features are cached under
.cache/train_lite/ so that reruns only refit the heads.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CACHE = ROOT / ".cache" / "train_lite"
CROP = 496  # native-resolution crops the spatial encoder sees without resizing
HELD_OUT_MCMASTER = {13, 14, 15, 16, 17, 18}

# image attribute -> synthetic distortion(s) that teach it
ATTRIBUTE_SOURCES = {
    "blur": ["blur"], "noise": ["noise"], "compression": ["jpeg", "h264"], "underexposure": ["underexposure"],
    "overexposure": ["overexposure"], "colour": ["colour"], "scaling": ["scaling"],
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def training_contents() -> list[tuple[str, np.ndarray]]:
    """(content id, CROPxCROP uint8 RGB) for every training crop; deterministic."""
    out = []
    for p in sorted((SHARED / "pristine" / "kodak24").glob("*.png")):
        rgb = np.asarray(Image.open(p).convert("RGB"))
        h, w = rgb.shape[:2]
        ys = [(h - CROP) // 2]
        xs = [0, w - CROP] if w - CROP > CROP // 2 else [(w - CROP) // 2]
        if h > w:
            ys, xs = ([0, h - CROP] if h - CROP > CROP // 2 else [(h - CROP) // 2]), [(w - CROP) // 2]
        for i, (y, x) in enumerate((y, x) for y in ys for x in xs):
            out.append((f"kodak/{p.stem}#{i}", np.ascontiguousarray(rgb[y:y + CROP, x:x + CROP])))
    for p in sorted((SHARED / "pristine" / "mcmaster").glob("*.png"), key=lambda q: int(q.stem)):
        if int(p.stem) in HELD_OUT_MCMASTER:
            continue
        rgb = np.asarray(Image.open(p).convert("RGB"))
        h, w = rgb.shape[:2]
        y, x = (h - CROP) // 2, (w - CROP) // 2
        out.append((f"mcmaster/{p.stem}", np.ascontiguousarray(rgb[y:y + CROP, x:x + CROP])))
    return out


def distort(name: str, rgb: np.ndarray, level, seed: int) -> np.ndarray:
    from vqual.data import synthetic as syn

    if name == "h264":  # one frame through the video encoder: its block and blur artefacts, not JPEG's
        return next(iter(syn.h264([rgb], crf=int(level))))
    return syn.apply_image(name, rgb, level, seed=seed)


def synthetic_set() -> tuple[list[dict], list]:
    """Stage-1 items: per content, the clean crop and every distortion at every level. Returns (meta, images-lazy)."""
    from vqual.data.synthetic import DISTORTIONS

    contents = training_contents()
    names = [d for srcs in ATTRIBUTE_SOURCES.values() for d in srcs]
    meta, makers = [], []
    for ci, (cid, rgb) in enumerate(contents):
        meta.append({"content": cid, "distortion": "clean", "level": 0})
        makers.append((rgb, None, None, 0))
        for name in names:
            for li, level in enumerate(DISTORTIONS[name][1], start=1):
                meta.append({"content": cid, "distortion": name, "level": li})
                makers.append((rgb, name, level, ci * 1000 + li))
    return meta, makers


def clive_set() -> tuple[list[str], np.ndarray]:
    import csv

    root = SHARED / "clive-fewlabel"
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [str(root / r["image"]) for r in rows], np.array([float(r["mos"]) for r in rows])


def cached_features(tag: str, n: int, make_image, extract, dim_hint: str) -> np.ndarray:
    """Features of n images, computed once and cached in CACHE/<tag>.npy (resumable every 100 images)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{tag}.npy"
    part = CACHE / f"{tag}.partial.npz"
    if path.exists():
        x = np.load(path)
        if len(x) == n:
            return x
    done: list[np.ndarray] = []
    if part.exists():
        with np.load(part) as z:
            done = list(z["x"])
    t0, start = time.time(), len(done)
    for i in range(start, n):
        done.append(extract(make_image(i)))
        if (i + 1) % 100 == 0 or i + 1 == n:
            np.savez(part, x=np.stack(done))
            rate = (time.time() - t0) / (i + 1 - start)
            log(f"{tag}: {i + 1}/{n} {dim_hint} ({rate * 1000:.0f} ms/image)")
    x = np.stack(done).astype(np.float32)
    np.save(path, x)
    part.unlink(missing_ok=True)
    return x


def extract_all() -> dict[str, np.ndarray]:
    from vqual.encoders.measures import measures
    from vqual.encoders.spatial import SpatialEncoder
    from vqual.media import load_image

    torch.set_num_threads(2)
    enc = SpatialEncoder()
    meta, makers = synthetic_set()
    _cache_img: dict[int, np.ndarray] = {}

    def syn_image(i: int) -> np.ndarray:
        if i not in _cache_img:
            _cache_img.clear()
            rgb, name, level, seed = makers[i]
            _cache_img[i] = rgb if name is None else distort(name, rgb, level, seed)
        return _cache_img[i]

    paths, mos = clive_set()
    feats = {
        "syn_spatial": cached_features("syn_spatial", len(makers), syn_image, enc.encode, "spatial"),
        "syn_measures": cached_features("syn_measures", len(makers), syn_image, measures, "measures"),
        "clive_spatial": cached_features("clive_spatial", len(paths), lambda i: load_image(paths[i]), enc.encode,
                                         "spatial"),
        "clive_measures": cached_features("clive_measures", len(paths), lambda i: load_image(paths[i]), measures,
                                          "measures"),
    }
    feats["mos"] = mos
    feats["meta"] = meta  # type: ignore[assignment]
    return feats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--extract-only", action="store_true", help="only compute and cache the features")
    args = ap.parse_args(argv)
    feats = extract_all()
    if args.extract_only:
        return 0
    from fit_lite import fit_and_save  # noqa: E402  (same folder: the fitting half of this script)

    fit_and_save(feats, sources=ATTRIBUTE_SOURCES, command="python scripts/train_lite.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
