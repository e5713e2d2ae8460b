"""Reproduce the shipped `vqual-lmm` projectors: `python scripts/train_lmm.py` (frozen encoders, frozen SmolLM2-135M).

Stage A (no human labels): explanation Q&A on graded synthetic distortions of the `vqual-lite` training contents
(Kodak 24 + McMaster 1-12; McMaster 13-18 are held out for benchmarks/lmm.py): images with blur, noise, JPEG,
H.264, exposure, colour and scaling, and 2-second panning videos with stutter, frame drops, shake and flicker. The
answer names the injected distortion and how strong it is (`vqual.lmm.explain.compose`).
Stage B (human labels): two-turn Q&A on ../shared/data/clive-fewlabel, the five-level score (soft target whose
expectation is the MOS) and good/fair/poor by tertiles, with stage-A items replayed so explanations are kept.

`--cv` first runs stage B on each of 5 folds (the folds of scripts/fit_lite.py's fold heads, seed 0) from the same
stage-A projectors and writes the out-of-fold figures. Writes projectors.safetensors and lmm.json into --out
(default src/vqual/assets/lmm).

`--lite` names the vqual-lite model whose encoder and attribute head the projectors are trained on (default
vqual-lite@2.0; `--lite vqual-lite` reproduces vqual-lmm 1.2.0 on 1.0's encoder). The card records it (`lite`,
`preset`) and `vqual.models.lmm.VqualLMM` loads that model. Features are cached under --cache (default
$VQUAL_LMM_CACHE or ~/.cache/vqual/train_lmm), in one folder per encoder (its preset and the digest of its
`FeaturePreset.block`, so 1.0 and 2.x features never mix); stage-A and CV results also carry the attribute head's
digest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from vqual.encoders.temporal import ATTRIBUTES as TEMPORAL_ATTRIBUTES
from vqual.encoders.temporal import FEATURE_NAMES as TEMPORAL_FEATURES

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import train_lite as T  # noqa: E402

DEFAULT_CACHE = Path(os.environ.get("VQUAL_LMM_CACHE", "~/.cache/vqual/train_lmm")).expanduser()
ASSETS = ROOT / "src" / "vqual" / "assets" / "lmm"
DEFAULT_LITE = "vqual-lite@2.0"
#: the vqual-lmm version the projectors trained on each vqual-lite model make
VERSIONS = {"vqual-lite": "1.2.0", "vqual-lite@2.0": "2.1.0"}
VIDEO_DISTORTIONS = ("stutter", "drops", "shake", "flicker")
VIDEO_ATTRIBUTE = {"stutter": "stutter", "drops": "frame_drops", "shake": "shake", "flicker": "flicker"}
IMAGE_ATTRIBUTE = {"blur": "blur", "noise": "noise", "jpeg": "compression", "h264": "compression",
                   "underexposure": "underexposure", "overexposure": "overexposure", "colour": "colour",
                   "scaling": "scaling"}
LEVEL_SEVERITY = {1: 0.4, 2: 0.5, 3: 0.7, 4: 0.9, 5: 0.95}  # synthetic level -> severity word via compose()
VIDEO_LEVELS = (2, 4)  # 1-based levels of each temporal distortion used for training clips
VIDEO_SIZE = (216, 384)
VIDEO_SECONDS = 2
VIDEO_FPS = 24
# the temporal attribute token reads the severities at the end of the temporal feature vector
assert [n.removeprefix("sev_") for n in TEMPORAL_FEATURES[-len(TEMPORAL_ATTRIBUTES):]] == list(TEMPORAL_ATTRIBUTES)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# features
# ----------------------------------------------------------------------------------------------------------------
class Lite:
    """The vqual-lite model the projectors read: its card, feature encoder block, attribute head and cache keys."""

    def __init__(self, name: str):
        from vqual.encoders.features import block_digest, encoder_config
        from vqual.models.cards import card_of

        try:
            card = card_of(name)
        except KeyError:
            raise SystemExit(f"--lite {name}: not a built-in model") from None
        if card.family != "vqual-lite" or not card.preset:
            raise SystemExit(f"--lite {name}: not a vqual-lite model with a feature encoder")
        if name not in VERSIONS:
            raise SystemExit(f"--lite {name}: no vqual-lmm version for it (known: {', '.join(VERSIONS)})")
        self.name, self.card, self.version = name, card, VERSIONS[name]
        self.block = encoder_config(str(card.preset))
        self.heads_path = ROOT / "src" / "vqual" / "assets" / card.folder / "heads.npz"
        self.encoder_key = block_digest(self.block)  # the feature caches' folder, recorded in lmm.json
        with np.load(self.heads_path, allow_pickle=False) as z:
            h = hashlib.sha256()
            for k in sorted(k for k in z.files if k.startswith("attributes.")):
                h.update(k.encode())
                h.update(np.ascontiguousarray(z[k]).tobytes())
        self.attr_key = h.hexdigest()[:12]  # stage A and CV read the attribute tokens: keyed by the attribute head

    def frames(self):
        from vqual.encoders.features import get_encoder
        from vqual.lmm.visual import FrameEncoder

        return FrameEncoder(get_encoder(self.block, engine="torch"))


def cached(cache: Path, tag: str, make) -> np.ndarray:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{tag}.npy"
    if not path.exists():
        x = make()
        np.save(cache / f"{tag}.tmp.npy", x)
        (cache / f"{tag}.tmp.npy").replace(path)
    return np.load(path)


def frame_features(cache: Path, tag: str, n: int, image, frames) -> tuple[np.ndarray, np.ndarray]:
    """Global features (n, G) and grids (n, cells, C), float32, of n images from one backbone pass each (what
    `VqualLMM` computes at inference); cached as <tag>_global.npy / <tag>_grid.npy, resumable every 100 images."""
    gpath, cpath, part = cache / f"{tag}_global.npy", cache / f"{tag}_grid.npy", cache / f"{tag}.partial.npz"
    if gpath.exists() and cpath.exists():
        return np.load(gpath), np.load(cpath)
    cache.mkdir(parents=True, exist_ok=True)
    gs: list[np.ndarray] = []
    cs: list[np.ndarray] = []
    if part.exists():
        with np.load(part) as z:
            gs, cs = list(z["g"]), list(z["c"])
    t0, start = time.time(), len(gs)
    for i in range(start, n):
        ff = frames(image(i))
        gs.append(ff.global_feats)
        cs.append(ff.grid)
        if (i + 1) % 100 == 0 or i + 1 == n:
            np.savez(part, g=np.stack(gs), c=np.stack(cs))
            log(f"{tag}: {i + 1}/{n} ({(time.time() - t0) / (i + 1 - start) * 1000:.0f} ms/image)")
    g, c = np.stack(gs).astype(np.float32), np.stack(cs).astype(np.float32)
    np.save(gpath, g)
    np.save(cpath, c)
    part.unlink(missing_ok=True)
    return g, c


def image_features(frames, cache: Path) -> dict:
    from vqual.media import load_image

    meta, makers = T.synthetic_set()
    paths, mos = T.clive_set()

    def syn_image(i: int) -> np.ndarray:
        rgb, name, level, seed = makers[i]
        return rgb if name is None else T.distort(name, rgb, level, seed)

    syn_global, syn_grid = frame_features(cache, "syn", len(makers), syn_image, frames)
    clive_global, clive_grid = frame_features(cache, "clive", len(paths), lambda i: load_image(paths[i]), frames)
    return {"syn_global": syn_global, "syn_grid": syn_grid, "syn_meta": meta,
            "clive_global": clive_global, "clive_grid": clive_grid, "mos": mos}


def video_items() -> list[dict]:
    """Per training content: a clean pan and each temporal distortion at VIDEO_LEVELS (name, level index)."""
    out = []
    for ci, (cid, _) in enumerate(T.training_contents()):
        out.append({"content": cid, "ci": ci, "distortion": "clean", "level": 0})
        for name in VIDEO_DISTORTIONS:
            for li in VIDEO_LEVELS:
                out.append({"content": cid, "ci": ci, "distortion": name, "level": li})
    return out


def make_clip(rgb: np.ndarray, name: str, li: int, path: Path, seed: int) -> None:
    from vqual.data import synthetic as syn

    n = VIDEO_SECONDS * VIDEO_FPS
    frames = syn.pan_frames(rgb, n, VIDEO_SIZE, speed=2.0)
    if name == "clean":
        syn.write_video(path, frames, fps=VIDEO_FPS, crf=18)
        return
    level = syn.DISTORTIONS[name].levels[li - 1]
    pairs = syn.apply_video(name, frames, level, seed=seed, fps=VIDEO_FPS)
    frames2, ts = syn.split_timed(pairs)
    syn.write_video(path, frames2, fps=VIDEO_FPS, crf=18, timestamps=ts if name == "drops" else None)


def video_features(frames, temporal, cache: Path) -> dict:
    """Per clip: (VIDEO_SECONDS, ...) key-frame global + grid and chunk temporal features, through the same media
    pipeline as inference (encode with x264 CRF 18, decode, 1-second chunks)."""
    import tempfile

    from vqual.media import iter_chunks

    items = video_items()
    contents = T.training_contents()

    def make():
        g, c, t = [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            for i, it in enumerate(items):
                p = Path(tmp) / f"clip{i}.mp4"
                make_clip(contents[it["ci"]][1], it["distortion"], it["level"], p, seed=1000 + i)
                gs, cs, ts = [], [], []
                for chunk in iter_chunks(p, luma_size=256):
                    ff = frames(chunk.key_frame)
                    gs.append(ff.global_feats)
                    cs.append(ff.grid)
                    ts.append(temporal.encode(chunk).vector)
                p.unlink()
                k = VIDEO_SECONDS
                g.append(np.stack(gs[:k]))
                c.append(np.stack(cs[:k]))
                t.append(np.stack(ts[:k]))
                if (i + 1) % 50 == 0:
                    log(f"video clips {i + 1}/{len(items)}")
        return np.stack(g).astype(np.float32), np.stack(c).astype(np.float32), np.stack(t).astype(np.float32)

    if not (cache / "vid_temporal.npy").exists():
        g, c, t = make()
        cached(cache, "vid_global", lambda: g)
        cached(cache, "vid_grid", lambda: c)
        cached(cache, "vid_temporal", lambda: t)
    return {"vid_global": np.load(cache / "vid_global.npy"), "vid_grid": np.load(cache / "vid_grid.npy"),
            "vid_temporal": np.load(cache / "vid_temporal.npy"), "vid_meta": items}


def add_attributes(f: dict, heads_path: Path) -> list[str]:
    """The shipped `vqual-lite` attribute head's severities (heads_path: the lite model's heads.npz) for every frame
    (what `vqual-lmm` computes at inference), as f["syn_attr"], f["clive_attr"] (n, A) and f["vid_attr"] (n, K, A).
    The head learned from synthetic distortions of these same training contents (no human labels). Returns the
    attribute names in order."""
    from vqual.heads.store import load_heads

    heads, _ = load_heads(heads_path, ("attributes",))
    head = heads["attributes"]

    def sev(x: np.ndarray) -> np.ndarray:
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        return np.clip(head(flat), 0.0, 1.0).astype(np.float32).reshape(*x.shape[:-1], -1)

    f["syn_attr"] = sev(f["syn_global"])
    f["clive_attr"] = sev(f["clive_global"])
    f["vid_attr"] = sev(f["vid_global"])
    return list(head.names)


# words each attribute token column starts from (the decoder's embedding of the attribute's name)
ATTRIBUTE_WORDS = {"blur": " blur", "noise": " noise", "compression": " compression", "underexposure": " underexposure",
                   "overexposure": " overexposure", "colour": " colour cast", "scaling": " upscaling",
                   "stutter": " stutter", "frame_drops": " dropped frames", "shake": " camera shake",
                   "flicker": " flicker"}


# ----------------------------------------------------------------------------------------------------------------
# instruction items
# ----------------------------------------------------------------------------------------------------------------
def explain_items(f: dict, rng: random.Random) -> list:
    from vqual.lmm.explain import compose
    from vqual.lmm.model import Visual
    from vqual.lmm.prompts import Conversation, Turn, instruction

    items = []
    for i, m in enumerate(f["syn_meta"]):
        attrs = {} if m["distortion"] == "clean" else {IMAGE_ATTRIBUTE[m["distortion"]]: LEVEL_SEVERITY[m["level"]]}
        conv = Conversation("image", 1, [Turn("explain", instruction("explain", "image", rng), compose(attrs))])
        items.append((conv, Visual(f["syn_global"][i:i + 1], f["syn_grid"][i:i + 1],
                                   attributes=f["syn_attr"][i:i + 1])))
    for i, m in enumerate(f["vid_meta"]):
        attrs = {} if m["distortion"] == "clean" else {VIDEO_ATTRIBUTE[m["distortion"]]: LEVEL_SEVERITY[m["level"]]}
        conv = Conversation("video", VIDEO_SECONDS,
                            [Turn("explain", instruction("explain", "video", rng), compose(attrs))])
        items.append((conv, Visual(f["vid_global"][i], f["vid_grid"][i], f["vid_temporal"][i], f["vid_attr"][i])))
    return items


def score_items(f: dict, idx: np.ndarray, tertiles: tuple[float, float], rng: random.Random) -> list:
    from vqual.lmm.model import Visual
    from vqual.lmm.prompts import Conversation, Turn, coarse_levels, instruction, soft_levels

    y = 1.0 + 4.0 * f["mos"] / 100.0
    items = []
    for i in idx:
        conv = Conversation("image", 1, [
            Turn("score", instruction("score", "image", rng), soft_levels(y[i])),
            Turn("coarse", instruction("coarse", "image", rng), coarse_levels(y[i], tertiles)),
        ])
        items.append((conv, Visual(f["clive_global"][i:i + 1], f["clive_grid"][i:i + 1],
                                   attributes=f["clive_attr"][i:i + 1])))
    return items


def predict(path, f: dict, idx: np.ndarray) -> np.ndarray:
    from vqual.lmm.model import Visual, expected_score
    from vqual.lmm.prompts import Conversation, Turn, instruction

    out = []
    for i in idx:
        conv = Conversation("image", 1, [Turn("score", instruction("score", "image"))])
        p, _ = path.level_probs(conv, Visual(f["clive_global"][i:i + 1], f["clive_grid"][i:i + 1],
                                             attributes=f["clive_attr"][i:i + 1]))
        out.append(expected_score(p)[0])
    return np.array(out)


# ----------------------------------------------------------------------------------------------------------------
def build_path(decoder, f: dict, attr_names: list[str]):
    from vqual.lmm.model import LanguagePath
    from vqual.lmm.projectors import Projectors

    torch.manual_seed(0)
    emb = decoder.model.get_input_embeddings().weight
    emb_rms = float(emb.pow(2).mean().sqrt())
    proj = Projectors(f["syn_global"].shape[1], f["syn_grid"].shape[2], f["syn_grid"].shape[1],
                      f["vid_temporal"].shape[2], decoder.hidden_size, out_scale=emb_rms, attr_dim=len(attr_names),
                      temporal_attr_dim=len(TEMPORAL_ATTRIBUTES))
    proj.fit_standardisation(torch.from_numpy(f["syn_global"]), torch.from_numpy(f["syn_grid"]),
                             torch.from_numpy(f["vid_temporal"]))
    with torch.no_grad():  # each attribute's column starts as the embedding of its name
        for layer, names in ((proj.spatial.attr_in, attr_names), (proj.temporal.attr_in, TEMPORAL_ATTRIBUTES)):
            for a, name in enumerate(names):
                ids = decoder.tokenizer.encode(ATTRIBUTE_WORDS[name], add_special_tokens=False)
                layer.weight[:, a] = emb[ids].mean(0)
    return LanguagePath(decoder, proj), emb_rms


def stage_b(path, f, idx, replay, cfg_b, seed: int):
    from vqual.lmm.tuning import TuneConfig, tune

    y = 1.0 + 4.0 * f["mos"] / 100.0
    tert = tuple(float(v) for v in np.quantile(y[idx], [1 / 3, 2 / 3]))
    rng = random.Random(seed)
    items = score_items(f, idx, tert, rng) + rng.sample(replay, min(len(replay), cfg_b["replay"]))
    hist = tune(path, items, TuneConfig(epochs=cfg_b["epochs"], lr=cfg_b["lr"], batch=8, seed=seed), log=log)
    return hist, tert


def cfg_key(version: str, cfg_a: dict, cfg_b: dict) -> str:
    return f"{version}_a{cfg_a['epochs']}-{cfg_a['lr']:g}_b{cfg_b['epochs']}-{cfg_b['lr']:g}-{cfg_b['replay']}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cv", action="store_true", help="also run the 5-fold cross-validation of stage B")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--features-only", action="store_true")
    ap.add_argument("--cv-only", action="store_true",
                    help="only run the cross-validation and write its figures into the existing lmm.json")
    ap.add_argument("--folds", default=None, help="CV: only these folds (comma-separated, 0-4), e.g. to run folds "
                                                   "in parallel processes; figures are written when all are done")
    ap.add_argument("--stage-a-epochs", type=int, default=1)
    ap.add_argument("--stage-b-epochs", type=int, default=3)
    ap.add_argument("--lite", default=DEFAULT_LITE, help=f"the vqual-lite model to read (default {DEFAULT_LITE}; "
                                                          "vqual-lite: 1.0, vqual-lmm 1.2.0's)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                    help="feature cache root (default $VQUAL_LMM_CACHE or ~/.cache/vqual/train_lmm)")
    ap.add_argument("--out", type=Path, default=ASSETS, help="where projectors.safetensors and lmm.json go")
    args = ap.parse_args(argv)
    lite = Lite(args.lite)
    version = lite.version
    cache = args.cache.expanduser() / lite.encoder_key
    torch.set_num_threads(args.threads)
    from safetensors.torch import load_file, save_file

    from vqual.encoders.temporal import TemporalEncoder
    from vqual.eval.metrics import evaluate
    from vqual.lmm.decoder import load_decoder
    from vqual.lmm.tuning import TuneConfig, tune
    from vqual.models.cards import identity
    from vqual.weights import sha256_file

    t_start = time.time()
    frames = lite.frames()
    log(f"{lite.name}: encoder {lite.encoder_key}, attribute head {lite.attr_key}, features in {cache}")
    f = image_features(frames, cache)
    f.update(video_features(frames, TemporalEncoder(), cache))
    attr_names = add_attributes(f, lite.heads_path)
    log(f"features: {len(f['syn_meta'])} synthetic images, {len(f['vid_meta'])} clips, {len(f['mos'])} MOS")
    if args.features_only:
        return 0
    decoder = load_decoder()
    path, emb_rms = build_path(decoder, f, attr_names)
    cfg_a = {"epochs": args.stage_a_epochs, "lr": 1e-3, "seed": 0}
    cfg_b = {"epochs": args.stage_b_epochs, "lr": 5e-4, "replay": 120}
    replay = explain_items(f, random.Random(1))
    stage_a_file = cache / f"stage_a_{version}_e{cfg_a['epochs']}_attr{lite.attr_key}.safetensors"
    if stage_a_file.exists():
        path.projectors.load_state_dict(load_file(stage_a_file))
        hist_a = json.loads(stage_a_file.with_suffix(".json").read_text())
        log("stage A: loaded from cache")
    else:
        log(f"stage A: {len(replay)} explanation items")
        hist_a = tune(path, replay, TuneConfig(epochs=cfg_a["epochs"], lr=cfg_a["lr"], batch=8, seed=0), log=log)
        save_file(path.projectors.state_dict(), str(stage_a_file))
        stage_a_file.with_suffix(".json").write_text(json.dumps(hist_a))
    state_a = {k: v.clone() for k, v in path.projectors.state_dict().items()}
    y = 1.0 + 4.0 * f["mos"] / 100.0
    report: dict = {}
    if args.cv or args.cv_only:
        from fit_lite import folds

        fs = folds([str(i) for i in range(len(y))], 5, seed=0)
        todo = range(5) if args.folds is None else [int(k) for k in args.folds.split(",")]
        for k in todo:  # each fold's out-of-fold scores are cached, so folds can run in separate processes
            part = cache / f"cv_fold{k}_{cfg_key(version, cfg_a, cfg_b)}_attr{lite.attr_key}.npy"
            if part.exists():
                continue
            te = fs[k]
            tr = np.setdiff1d(np.arange(len(y)), te)
            path.projectors.load_state_dict(state_a)
            log(f"CV fold {k + 1}/5: stage B on {len(tr)} images")
            stage_b(path, f, tr, replay, cfg_b, seed=10 + k)
            pred = predict(path, f, te)
            np.save(part, pred)
            log(f"  fold SRCC {evaluate(pred, y[te])['srcc']:.3f}")
        parts = [cache / f"cv_fold{k}_{cfg_key(version, cfg_a, cfg_b)}_attr{lite.attr_key}.npy" for k in range(5)]
        if not all(p.exists() for p in parts):
            log("not every fold is done yet (run the others with --folds); no figures written")
            return 0
        oof = np.zeros(len(y))
        for te, p in zip(fs, parts):
            oof[te] = np.load(p)
        per_fold = [evaluate(oof[te], y[te]) for te in fs]
        report = {"folds": "scripts/fit_lite.py folds(..., 5, seed=0)", "oof": oof.round(5).tolist(),
                  **{m: {"mean": float(np.mean([p[m] for p in per_fold])),
                         "std": float(np.std([p[m] for p in per_fold], ddof=1))} for m in ("srcc", "plcc", "krcc")},
                  "pooled": evaluate(oof, y)}
        log(f"5-fold CV SRCC {report['srcc']['mean']:.3f} ± {report['srcc']['std']:.3f}, "
            f"PLCC {report['plcc']['mean']:.3f}")
    if args.cv_only:
        cfg_path = args.out / "lmm.json"
        config = json.loads(cfg_path.read_text())
        config["cv"] = report
        if config.get("lite", "vqual-lite") != lite.name:
            raise SystemExit(f"{cfg_path} is for {config.get('lite', 'vqual-lite')}, not --lite {lite.name}")
        config["training"]["command"] = f"python scripts/train_lmm.py --lite {lite.name} --cv"
        cfg_path.write_text(json.dumps(config, indent=1) + "\n")
        log(f"wrote the CV figures into {cfg_path}")
        return 0
    path.projectors.load_state_dict(state_a)
    log(f"stage B on all {len(y)} images")
    hist_b, tert = stage_b(path, f, np.arange(len(y)), replay, cfg_b, seed=99)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "projectors.safetensors"
    state = {k: v.detach().contiguous() for k, v in path.projectors.state_dict().items()}
    save_file(state, str(out), metadata={"model": "vqual-lmm", "version": version, "lite": lite.name})
    old_card = args.out / "lmm.json" if (args.out / "lmm.json").is_file() else ASSETS / "lmm.json"
    old = json.loads(old_card.read_text()) if old_card.is_file() else {}
    config = {  # the card's identity fields (vqual.models.cards) carried over, the new projectors' sha256 in them
        **identity(old), "model": "vqual-lmm", "version": version,
        "description": f"{lite.name}'s encoders -> projectors -> SmolLM2-135M: level-word score, explanations "
                       "(needs the lmm extra)",
        "weights": {"projectors.safetensors": sha256_file(out)}, "preset": lite.card.preset, "lite": lite.name,
        "lite_encoder": lite.encoder_key,
        "dims": path.projectors.dims, "out_scale_init": emb_rms, "attributes": attr_names,
        "temporal_attributes": list(TEMPORAL_ATTRIBUTES),
        "decoder": {"name": decoder.name, "sha256": decoder.sha256},
        "tertiles": list(tert),
        "training": {
            "command": f"python scripts/train_lmm.py --lite {lite.name}" + (" --cv" if args.cv else ""),
            "date": time.strftime("%Y-%m-%d"),
            "data": {"stage_a": "synthetic distortions of Kodak 24 + McMaster 1-12 (images) and 2-s pans over them "
                                "(videos); McMaster 13-18 held out",
                     "stage_b": "../shared/data/clive-fewlabel (200 MOS): score + good/fair/poor turns"},
            "stage_a": {**cfg_a, "items": len(replay), "history": hist_a},
            "stage_b": {**cfg_b, "items": len(y), "history": hist_b},
            "minutes": round((time.time() - t_start) / 60, 1),
        },
        "cv": report,
    }
    (args.out / "lmm.json").write_text(json.dumps(config, indent=1) + "\n")
    sha = config["weights"]["projectors.safetensors"]
    log(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, sha256 {sha[:12]}) and lmm.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
