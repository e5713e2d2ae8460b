"""Fit the severity bands of vqual-lmm's explanations: `python scripts/fit_severity_bands.py [--lite NAME]` (about
15 min, 2 cores, from an empty cache).

`--lite` names the vqual-lite model whose attribute head the bands read (default vqual-lite@2.0, the model
vqual-lmm 2 reads; `--lite vqual-lite` refits 1.0's bands). For every attribute it measures, a monotone map of its
0-1 output to the bands none / slight / noticeable / strong / severe (four thresholds), fitted on graded synthetic
distortions (`vqual.data.synthetic`, levels 1-5) of TRAINING content only: the crops of Kodak 24 and McMaster 1-12
that scripts/train_lite.py uses (McMaster 13-18 and every other clean picture are left for
benchmarks/explain_truth.py).

- Image attributes (blur, noise, compression, under- and over-exposure, colour, scaling): each content's clean crop
  and each of its distortions (compression: JPEG and one H.264 frame) at levels 1-5, through `vqual-lite`'s own
  encoder. The shipped attribute head was fitted on these crops, so on them it is in-sample (clean crops measure
  lower than new clean pictures do); the bands are fitted on its out-of-fold outputs instead: the head refitted
  the way scripts/fit_lite.py fits it on 5 of 6 content groups and applied to the sixth. Where the shipped head
  also learnt other rows (vqual-lite@2.0 from 2.1.1: clean BIQ2021 photographs and large mosaics; from 2.2.1 the
  graded distortions of 200 of those photographs; scripts/train_lite2.py's heads stage), the folds learn them too:
  `--heads-work WORK --biq-root DIR` (required then; WORK is that stage's --work folder, or on a machine without its
  training checkpoint a folder `train_lite2.py --stage features` filled). The distorted photographs
  and their clean copies are measured like the crops, out of fold in the same content-grouped folds (236 contents in
  all); the other rows train every fold.
- Temporal attributes (stutter, frame drops, shake, flicker): 3-second 216x384 24 fps pans over every other
  training content (x264 CRF 18, as vqual scores a file), clean and with each temporal distortion at levels 1-5;
  the temporal encoder's severity per 1-second chunk.

Target band of a synthetic level (`TARGET`): clean -> none, 1 and 2 -> slight, 3 -> noticeable, 4 -> strong, 5 ->
severe for image attributes (the levels issue #21 requires to be named get the named bands, one word per level; their
level 2 is hard to see); for temporal ones (`TEMPORAL_TARGET`, whose level 2 is a plainly visible motion defect) 1 ->
slight, 2 -> noticeable, 3 and 4 -> strong, 5 -> severe. Two constraints hold
whatever the error elsewhere: clean training items measure "none" (image attributes: the first threshold lies above
the `CLEAN_QUANTILE` (95%) of the clean pictures' values; temporal ones: above the largest clean chunk's) and the
mildest level is at most "slight" for at least 90% of the level-1 items (the second threshold lies above their 90th
percentile, `LEVEL1_QUANTILE`). Within those,
each threshold is placed where the fewest items of the attribute's own distortion fall on the wrong side of it
(ties: the cut farthest from any measured value), thresholds increasing by at least `MIN_GAP` (the noticeable and
strong bands at least `NAMED_GAP` wide).

Writes src/vqual/assets/lmm/severity_bands.json (thresholds, how they were fitted, per-level band counts, the
vqual-lite model and heads sha256 they belong to: vqual-lmm refuses bands fitted for other heads). Measurements are
cached under --cache (default $VQUAL_BANDS_CACHE or ~/.cache/vqual/fit_severity_bands): the image features in one
folder per encoder (`vqual.encoders.features.block_digest`, so 1.0 and 2.x features never mix), the temporal
severities (the same for every vqual-lite) in temporal/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import train_lite as T  # noqa: E402  (training contents and distortions: the same as vqual-lite's)

DEFAULT_CACHE = Path(os.environ.get("VQUAL_BANDS_CACHE", "~/.cache/vqual/fit_severity_bands")).expanduser()
DEFAULT_LITE = "vqual-lite@2.0"
OUT = ROOT / "src" / "vqual" / "assets" / "lmm" / "severity_bands.json"
BANDS = ("none", "slight", "noticeable", "strong", "severe")
#: image attributes: synthetic level -> target band index (clean is level 0). Level 1 is the just-noticeable grade
#: ("slight"); level 2 (JPEG quality 40, blur sigma 1, 2x rescaling: hard to see on a 500-px picture) is still
#: "slight", and the levels issue #21 asks to be named (3-5) are noticeable, strong and severe, one word each
TARGET = {0: 0, 1: 1, 2: 1, 3: 2, 4: 3, 5: 4}
#: temporal attributes: level 2 (each picture held 3 frames, 10% of frames dropped, 2 px shake, +-5% flicker) is a
#: plainly visible motion defect, "noticeable"; levels 3-4 "strong"
TEMPORAL_TARGET = {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 4}
#: image bands: the none|slight threshold lies above this quantile of the clean training pictures' values (out of
#: fold) rather than above all of them: with the distorted photographs there are 236 clean pictures, and their single
#: largest value (a warm Kodak crop's colour 0.75) would leave casts up to level 4 unnamed on every other picture
CLEAN_QUANTILE = 0.95
IMAGE_SOURCES = T.ATTRIBUTE_SOURCES  # attribute -> synthetic distortions
VIDEO_SOURCES = {"stutter": ["stutter"], "frame_drops": ["drops"], "shake": ["shake"], "flicker": ["flicker"]}
VIDEO_SIZE = (216, 384)
VIDEO_FPS = 24
VIDEO_SECONDS = 3
VIDEO_CONTENT_STEP = 2  # every other training content for the clips
#: share of level-1 items the noticeable threshold must lie above ("the mildest level is at most slight"). Not all
#: of them: out of fold, a few level-1 crops measure like level 3 (over-exposure at gain 1.3 measures up to 0.86
#: on a bright picture), and a bound at their maximum would leave whole attributes unnameable.
LEVEL1_QUANTILE = 0.9
MIN_GAP = 0.01  # smallest distance between two thresholds of an attribute
#: smallest width of the noticeable and strong bands: where the error-minimising cut for strong or severe lies below
#: the noticeable threshold (colour: clean pictures measure up to 0.42 out of fold, level 5 a median of 0.48), a
#: narrower band would let a slightly higher value jump from noticeable to severe
NAMED_GAP = 0.05


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# measurements
# ----------------------------------------------------------------------------------------------------------------
def image_measurements(lite, cache: Path, extra: tuple[np.ndarray, list[dict]] | None = None
                       ) -> tuple[list[dict], np.ndarray, np.ndarray, list[str]]:
    """(meta, shipped-head outputs (n, A), out-of-fold outputs (n, A), attribute names) of every clean and distorted
    training crop.

    The shipped attribute head was fitted on these very crops, so its outputs on them are in-sample: clean crops
    measure lower, and graded ones closer to their targets, than any new picture would. The bands are therefore
    fitted on out-of-fold outputs: the head refitted (same features, targets and ridge strength as its card records,
    scripts/fit_lite.py's fit) on the crops of 5 of 6 content groups and applied to the sixth, which it never saw.
    `lite`: the vqual-lite model; its features are cached in cache/<its encoder's block_digest>/. `extra`: rows
    (heads' inputs, meta) beyond the synthetic crops that the shipped head also learnt (`extra_rows`); they join the
    training part of every fold."""
    from fit_lite import attribute_targets, folds

    from vqual.encoders.features import block_digest

    head = lite.heads["attributes"]
    meta, makers = T.synthetic_set()
    where = cache / block_digest(lite.encoder.block)
    where.mkdir(parents=True, exist_ok=True)
    path = where / "image_features.npz"
    done: list[np.ndarray] = []
    if path.exists():
        with np.load(path) as z:
            done = list(z["x"])
    t0, start = time.time(), len(done)
    for i in range(start, len(makers)):
        rgb, name, level, seed = makers[i]
        img = rgb if name is None else T.distort(name, rgb, level, seed)
        done.append(lite.features(img).astype(np.float32))
        if (i + 1) % 100 == 0 or i + 1 == len(makers):
            np.savez(path, x=np.stack(done))
            log(f"images {i + 1}/{len(makers)} ({(time.time() - t0) / (i + 1 - start):.2f} s/image)")
    x = np.stack(done).astype(np.float64)
    card = lite.config["attributes"]
    x_extra, meta_extra = extra if extra is not None else (np.zeros((0, x.shape[1])), [])
    # extra rows of the contents the head learnt graded distortions of (scripts/train_lite2.py's distorted
    # photographs, with their clean copies) are measured too, out of fold like the crops; the others (clean
    # photographs without distorted copies, mosaics) train every fold
    from train_lite2 import is_distorted_photograph

    graded = {m["content"] for m in meta_extra if is_distorted_photograph(m)}
    grouped = np.array([m["content"] in graded for m in meta_extra], dtype=bool)
    seen: set[tuple] = set()
    measured = []  # one measured row per (content, distortion, level): the clean copies are repeated as weights
    for i in np.flatnonzero(grouped):
        key = (meta_extra[i]["content"], meta_extra[i]["distortion"], meta_extra[i]["level"])
        if key not in seen:
            seen.add(key)
            measured.append(i)
    x_all = np.vstack([x, x_extra[measured]]) if measured else x
    meta_all = meta + [meta_extra[i] for i in measured]
    groups = [m["content"] for m in meta_all]
    oof = oof_grouped(x_all, attribute_targets(meta_all, IMAGE_SOURCES), folds(groups, 6, seed=0), groups,
                      float(card["alpha"]), x_extra, attribute_targets(meta_extra, IMAGE_SOURCES),
                      [m["content"] if g else None for m, g in zip(meta_extra, grouped)], skip=measured)
    return meta_all, np.clip(head(x_all), 0.0, 1.0), np.clip(oof, 0.0, 1.0), list(head.names)


def oof_with_extra(x: np.ndarray, y: np.ndarray, test_folds: list[np.ndarray], alpha: float, x_extra: np.ndarray,
                   y_extra: np.ndarray) -> np.ndarray:
    """Out-of-fold ridge predictions of (x, y) with the extra rows in the training part of every fold (none:
    scripts/fit_lite.py's ridge_oof)."""
    return oof_grouped(x, y, test_folds, [""] * len(y), alpha, x_extra, y_extra, [None] * len(y_extra), skip=[])


def oof_grouped(x: np.ndarray, y: np.ndarray, test_folds: list[np.ndarray], groups: list[str], alpha: float,
                x_extra: np.ndarray, y_extra: np.ndarray, extra_groups: list[str | None],
                skip: list[int]) -> np.ndarray:
    """Out-of-fold ridge predictions of (x, y): extra rows whose group is None train every fold, the others only the
    folds their group is not tested in; extra rows listed in `skip` are already among (x, y) (measured) and train
    through their copies in the extra rows only."""
    from vqual.heads.linear import fit_ridge

    oof = np.zeros(y.shape, dtype=np.float64)
    eg = np.array([g if g is not None else "" for g in extra_groups], dtype=object)
    n_own = len(y) - len(skip)  # the rows of (x, y) that are not copies of extra rows
    for te in test_folds:
        held = {groups[i] for i in te}
        tr = np.setdiff1d(np.arange(n_own), te)
        ex = np.array([g == "" or g not in held for g in eg], dtype=bool)
        oof[te] = fit_ridge(np.vstack([x[tr], x_extra[ex]]), np.vstack([y[tr], y_extra[ex]]), alpha,
                            ("y",) * y.shape[1])(x[te])
    return oof


def extra_rows(lite, heads_work: Path | None, biq_root: Path | None) -> tuple[np.ndarray, list[dict]] | None:
    """The rows beyond the synthetic crops that `lite`'s attribute head learnt, as scripts/train_lite2.py's heads
    stage made them (`extra_attribute_rows`: clean BIQ2021 photographs, large mosaics, distorted photographs), read
    from or made in that stage's work folder; None when the card records none. Without them the out-of-fold head is
    not the shipped head's kind (for vqual-lite 2.1.1 its clean crops measure up to 0.66 colour instead of 0.44) and
    the bands come out wrong, so they are required, not optional."""
    card = lite.config["attributes"]
    if not {"clean_negatives", "large_mosaics", "distorted_photographs"} & set(card):
        return None
    if heads_work is None or biq_root is None:
        raise SystemExit(f"--lite {lite.name}: its attribute head also learnt "
                         f"{card.get('clean_negatives', {}).get('n', 0)} clean BIQ2021 photographs and "
                         f"{card.get('large_mosaics', {}).get('n', 0)} large mosaics (scripts/train_lite2.py's heads "
                         "stage); pass --heads-work (that stage's --work folder) and --biq-root so that the "
                         "out-of-fold heads learn them too")
    import train_lite2 as L2

    from vqual.weights import sha256_file

    stamp = heads_work / "feat-biq-train.sha256"
    if not stamp.is_file() or stamp.read_text() != sha256_file(L2.ASSET):
        raise SystemExit(f"--heads-work {heads_work}: no BIQ2021 training features of the shipped encoder there; run "
                         "python scripts/train_lite2.py --biq-root DIR --work WORK --stage features first (no training "
                         "checkpoint needed; ~30 min on one core, or the heads stage)")
    seed = int(lite.config["training"]["args"].get("seed", 0))
    args = argparse.Namespace(work=heads_work, clean_negatives=card.get("clean_negatives", {}).get("n", 0),
                              large_mosaics=card.get("large_mosaics", {}).get("n", 0),
                              distorted_photographs=card.get("distorted_photographs", {}).get("n", 0))
    paths, y = L2.biq_split(biq_root, "train")
    x, meta, _ = L2.extra_attribute_rows(args, paths, y, L2.val_mask(len(paths), seed),
                                         np.load(heads_work / "feat-biq-train.npy"))
    log(f"extra rows of the shipped head: {len(meta)} (from {heads_work})")
    return x, meta


def video_measurements(cache: Path) -> tuple[list[dict], np.ndarray, list[str]]:
    """(meta per chunk, (n, 4) temporal severities, names) of clean and distorted pans over training content."""
    from vqual.data import synthetic as syn
    from vqual.encoders.temporal import ATTRIBUTES, TemporalEncoder
    from vqual.media import iter_chunks

    contents = T.training_contents()[::VIDEO_CONTENT_STEP]
    clips = [(ci, "clean", 0) for ci in range(len(contents))]
    clips += [(ci, d, lv) for ci in range(len(contents)) for ds in VIDEO_SOURCES.values() for d in ds
              for lv in range(1, 6)]
    import hashlib

    import vqual.encoders.temporal as temporal_module

    # kept per version of the temporal encoder's code: a change to it (e.g. how a long hold is found) re-measures
    digest = hashlib.sha256(Path(temporal_module.__file__).read_bytes()).hexdigest()[:12]
    (cache / "temporal").mkdir(parents=True, exist_ok=True)
    path = cache / "temporal" / f"video-{digest}.json"
    rows: list[dict] = json.loads(path.read_text()) if path.exists() else []
    seen = {(r["ci"], r["distortion"], r["level"]) for r in rows}
    enc = TemporalEncoder()
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for k, (ci, d, lv) in enumerate(clips):
            if (ci, d, lv) in seen:
                continue
            cid, rgb = contents[ci]
            clip = Path(tmp) / "clip.mp4"
            frames = syn.pan_frames(rgb, VIDEO_SECONDS * VIDEO_FPS, VIDEO_SIZE, speed=2.0)
            if d == "clean":
                syn.write_video(clip, frames, fps=VIDEO_FPS, crf=18)
            else:
                pairs = syn.apply_video(d, frames, syn.DISTORTIONS[d].levels[lv - 1], seed=7000 + 10 * ci + lv,
                                        fps=VIDEO_FPS)
                fr, ts = syn.split_timed(pairs)
                syn.write_video(clip, fr, fps=VIDEO_FPS, crf=18, timestamps=ts if d == "drops" else None)
            for chunk in iter_chunks(clip, luma_size=256):
                sev = enc.encode(chunk).severities
                rows.append({"ci": ci, "content": cid, "distortion": d, "level": lv, "second": chunk.index,
                             "severities": [float(sev[a]) for a in ATTRIBUTES]})
            if (k + 1) % 20 == 0 or k + 1 == len(clips):
                path.write_text(json.dumps(rows))
                log(f"clips {k + 1}/{len(clips)} ({time.time() - t0:.0f} s)")
    path.write_text(json.dumps(rows))
    meta = [{"content": r["content"], "distortion": r["distortion"], "level": r["level"]} for r in rows]
    return meta, np.array([r["severities"] for r in rows]), list(ATTRIBUTES)


# ----------------------------------------------------------------------------------------------------------------
# fitting
# ----------------------------------------------------------------------------------------------------------------
def _best_cut(v: np.ndarray, above: np.ndarray, low: float) -> float:
    """The threshold t > low that puts the fewest of `v` on the wrong side (items with `above` should be >= t, the
    others < t); among equally good cuts the middle of the widest gap between neighbouring values."""
    xs = np.unique(np.concatenate([v, [low, 1.0]]))
    xs = xs[xs >= low]
    cands = np.concatenate([[low + 1e-6], (xs[:-1] + xs[1:]) / 2]) if len(xs) > 1 else np.array([low + 1e-6])
    cands = cands[cands > low]
    errs = np.array([np.sum(above & (v < t)) + np.sum(~above & (v >= t)) for t in cands])
    best = np.flatnonzero(errs == errs.min())
    # the candidate whose gap to the nearest measured value is widest (margin), then the lowest
    margin = np.array([np.min(np.abs(v - cands[i])) if len(v) else 0.0 for i in best])
    return float(cands[best[int(np.argmax(margin))]])


def fit_thresholds(v: np.ndarray, target: np.ndarray, clean_max: float, level1_bound: float) -> list[float]:
    """Four increasing thresholds (none|slight, slight|noticeable, noticeable|strong, strong|severe) for values `v`
    with target bands `target` (0-4), the first above `clean_max`, the second above `level1_bound`, each at least
    `MIN_GAP` above the one before."""
    cuts: list[float] = []
    low = 0.0
    for k in range(1, 5):
        floor = {1: clean_max, 2: level1_bound}.get(k, 0.0)
        t = _best_cut(v, target >= k, max(low + {1: 0.0, 2: MIN_GAP}.get(k, NAMED_GAP), floor))
        cuts.append(float(np.ceil(t * 1e4) / 1e4))  # rounded up: a value at the bound stays below
        low = t
    cuts[0] = max(cuts[0], 1e-4)
    for i in range(1, 4):  # increasing after rounding
        cuts[i] = max(cuts[i], round(cuts[i - 1] + (MIN_GAP if i == 1 else NAMED_GAP), 4))
    return cuts


def _floor4(v: float) -> float:
    return float(np.floor(v * 1e4) / 1e4)


def band_of(v: float, cuts: list[float]) -> int:
    return int(np.searchsorted(np.asarray(cuts), v, side="right"))


def fit_group(meta: list[dict], vals: np.ndarray, names: list[str], sources: dict[str, list[str]], fit: bool = True,
              thresholds: dict[str, list[float]] | None = None, clean_quantile: float = 1.0,
              targets: dict[int, int] | None = None) -> dict:
    """Each attribute's thresholds (`fit`) or, given `thresholds`, how they sort `vals`. The first threshold lies above
    the `clean_quantile` of the clean items' values (1.0: all of them); `targets`: level -> band (default `TARGET`)."""
    targets = TARGET if targets is None else targets
    clean = np.array([m["distortion"] == "clean" for m in meta])
    levels = np.array([m["level"] for m in meta])
    out = {}
    for a, attr in enumerate(names):
        own = np.array([m["distortion"] in sources[attr] for m in meta])
        sel = own | clean
        v = vals[sel, a]
        target = np.array([targets[lv] for lv in levels[sel]])
        clean_max = float(np.quantile(vals[clean, a], clean_quantile)) if clean.any() else 0.0
        level1 = vals[own & (levels == 1), a]
        level1_bound = float(np.quantile(level1, LEVEL1_QUANTILE, method="higher"))  # at most 10% above it
        cuts = fit_thresholds(v, target, clean_max, level1_bound) if fit else thresholds[attr]
        got = np.array([band_of(x, cuts) for x in v])
        per_level = {}
        for lv in range(6):
            m = levels[sel] == lv
            per_level[str(lv)] = [int(np.sum(got[m] == b)) for b in range(5)]
        # the bounds are recorded rounded down, the thresholds were rounded up: the record keeps the constraints
        # (clean max "none", level-1 bound at most "slight") that the unrounded values meet
        out[attr] = {"thresholds": cuts, "sources": sources[attr],
                     ("clean_max" if clean_quantile == 1.0 else f"clean_q{round(100 * clean_quantile)}"):
                         _floor4(clean_max),
                     "clean_at_none": round(float(np.mean(vals[clean, a] < cuts[0])), 4) if clean.any() else None,
                     f"level1_q{round(100 * LEVEL1_QUANTILE)}": _floor4(level1_bound),
                     "level1_at_most_slight": round(float(np.mean(level1 < cuts[1])), 4), "n": int(sel.sum()),
                     "exact_band_rate": round(float(np.mean(got == target)), 4),
                     "bands_by_level": per_level}
        if fit:
            log(f"{attr:13s} thresholds {cuts}  (clean bound {clean_max:.3f}, level-1 bound {level1_bound:.3f}, "
                f"exact band {np.mean(got == target):.0%})")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--lite", default=DEFAULT_LITE,
                    help=f"the vqual-lite model whose attribute head the bands read (default {DEFAULT_LITE})")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                    help="measurement cache (default $VQUAL_BANDS_CACHE or ~/.cache/vqual/fit_severity_bands)")
    ap.add_argument("--heads-work", type=Path, default=None,
                    help="scripts/train_lite2.py's --work folder, for a vqual-lite whose attribute head also learnt "
                         "clean photographs and large mosaics (vqual-lite@2.0 from 2.1.1; required then)")
    ap.add_argument("--biq-root", type=Path, default=None, help="BIQ2021 folder (with --heads-work)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from vqual.models.cards import card_of
    from vqual.registry import create_model

    try:
        if card_of(args.lite).family != "vqual-lite":
            raise KeyError(args.lite)
    except KeyError:
        raise SystemExit(f"--lite {args.lite}: not a built-in vqual-lite model") from None
    lite = create_model(args.lite)
    cache = args.cache.expanduser()
    t0 = time.time()
    extra = extra_rows(lite, args.heads_work, args.biq_root)
    meta_i, shipped_i, oof_i, names_i = image_measurements(lite, cache, extra)
    meta_v, vals_v, names_v = video_measurements(cache)
    image = fit_group(meta_i, oof_i, names_i, IMAGE_SOURCES, clean_quantile=CLEAN_QUANTILE)
    in_sample = fit_group(meta_i, shipped_i, names_i, IMAGE_SOURCES, fit=False,
                          thresholds={k: v["thresholds"] for k, v in image.items()}, clean_quantile=CLEAN_QUANTILE)
    for k in image:  # how the same thresholds sort the shipped head's (in-sample) outputs on these crops
        image[k]["in_sample_bands_by_level"] = in_sample[k]["bands_by_level"]
    video = fit_group(meta_v, vals_v, names_v, VIDEO_SOURCES, targets=TEMPORAL_TARGET)
    card = {
        "bands": list(BANDS),
        "form": "band(v) = number of thresholds <= v (0 none ... 4 severe), v the attribute's measured 0-1 value; "
                "calibrated severity: piecewise linear through (0, 0), (t1, 0.2), (t2, 0.4), (t3, 0.6), "
                "(t4, 0.8), (1, 1)",
        "for": {"model": lite.name, "version": lite.version, "heads_sha256": lite.weights_sha256,
                "temporal": "vqual.encoders.temporal.TemporalEncoder severities"},
        "attributes": {**image, **video},
        "fitted": {
            "command": f"python scripts/fit_severity_bands.py --lite {lite.name}"
                       + (" --heads-work WORK --biq-root DIR" if extra is not None else ""),
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "target": "image attributes: clean -> none, levels 1-2 -> slight, 3 -> noticeable, 4 -> strong, 5 -> "
                      "severe; temporal ones: clean -> none, 1 -> slight, 2 -> noticeable, 3-4 -> strong, 5 -> severe "
                      "(vqual.data.synthetic.DISTORTIONS levels)",
            "constraints": f"image attributes: the clean training pictures are 'none' up to their "
                           f"{CLEAN_QUANTILE:.0%} quantile (out of fold); temporal attributes: every clean training "
                           "chunk is 'none'; at least 90% of the level-1 items are at most 'slight'; thresholds at "
                           "least 0.01 apart, the noticeable and strong bands at least 0.05 wide",
            "images": f"{len(meta_i)} pictures of {len({m['content'] for m in meta_i})} training contents, "
                      "out of fold (6 folds grouped by content): the crops of Kodak 24 + McMaster 1-12 "
                      "(scripts/train_lite.py) and the distorted BIQ2021 photographs the head learnt "
                      "(scripts/train_lite2.py), each clean + 8 distortions x 5 levels",
            "out_of_fold_extra_rows": None if extra is None else
            f"{len(extra[1])} rows the shipped head also learnt (scripts/train_lite2.py's heads stage): those of the "
            "distorted photographs' contents in the training part of the folds that do not test them, the others "
            "(clean BIQ2021 photographs, large clean mosaics and their upscaled copies) in every fold",
            "videos": f"{len(meta_v)} one-second chunks of 3-s {VIDEO_SIZE[0]}x{VIDEO_SIZE[1]} {VIDEO_FPS} fps pans "
                      f"(x264 CRF 18) over every other training content, clean + 4 temporal distortions x 5 levels",
            "held_out": "McMaster 13-18 and all other clean pictures (benchmarks/explain_truth.py)",
            "minutes": round((time.time() - t0) / 60, 1),
        },
    }
    Path(args.out).write_text(json.dumps(card, indent=1) + "\n")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
