"""Can the encoder learn what the attribute heads lack (issue #21's over-exposure, colour, scaling, and casts that are
not warm)? A continued fine-tune of vqual-lite@2.0's upper half with an attribute loss beside the score losses,
judged against the shipped encoder on photographs neither saw (research/lite2/README.md, eleventh session).

The tenth session found the attribute head at the limit of the shipped features: more content, other alphas, an MLP
moved nothing, and a linear head chose between "warm" and "colourful" when asked for casts in every direction. This
asks whether the features themselves can carry it.

- Training (`train`): scripts/train_lite2.py's attributes stage (outside the recipe's `all`; its defaults are this
  study's lead row, measured through the whole pipeline and not shipped: README, twelfth session), its checkpoint
  under OUT/runs/NAME: from vqual-lite@2.0 2.2.1's encoder and its end-to-end score head, `--steps` more steps of the
  shipped recipe's losses (BIQ2021 MSE + in-batch ranking on 16 training photographs, 3 synthetic ranking pairs)
  plus `--w-attr` x the mean squared error of a linear attribute head (7 attributes, on the
  standardised 4096-d features, ridge-initialised) on `--attr-batch` attribute rows per step: graded distortions of the
  1,500 best-rated training photographs outside the validation part (vqual-lite 2's clean negatives; every synthetic
  image distortion, the colour cast in four chroma directions, levels 1-5, target level / 5 on its attribute), those
  photographs clean (target 0), and the synthetic crops the heads already learn from. `--w-attr 0` is the control
  (the same steps without the attribute loss). Its graded photographs are cached in WORK (`--stage attributes`').
- Judging (`judge`): the held-apart photographs of explain_truth / heldapart_heads (vqual-lite 2's validation part
  rated >= 4.2, never trained on by any encoder here), clean and with each judged distortion at levels 1-5, through
  each encoder (whole 512-px views, as the scoring path takes them) + the 59 direct measures; per encoder a ridge
  attribute head fitted on one half's photographs judges the other half, both ways (2-fold by photograph): AUC of
  clean against level 3 of each distortion on its attribute, Spearman's rho of that attribute against the level
  (clean = 0), and how often the injected attribute is the largest at levels 3-5. And the score: SRCC on the 1,000
  held-back BIQ2021 photographs (the validation part).

2026-12-06: the table in research/lite2/README.md, eleventh session (cache ~5 min, each run ~11 min, judge ~2 min
per encoder, two threads).

Usage (WORK: a scripts/train_lite2.py work folder after `--stage cache`; OUT: this study's cache and runs, ~2 GB):
  python research/lite2/attribute_encoder.py cache WORK OUT BIQ_ROOT
  python research/lite2/attribute_encoder.py train WORK OUT BIQ_ROOT [--w-attr W] [--steps N] [--run NAME]
  python research/lite2/attribute_encoder.py judge WORK OUT BIQ_ROOT --runs 2.2.1 NAME... [--heads recipe]
(`--runs`: a run's NAME, `shipped` for the repository's encoder, `2.2.1` for the encoder the runs start from: the same
encoder while 2.2.1 ships.)
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "benchmarks")]
import train_lite2 as L2  # noqa: E402
from common import auc  # noqa: E402
from explain_truth import OTHER_CASTS, distorted_image, heldapart_photographs  # noqa: E402
from fit_lite import attribute_targets  # noqa: E402
from train_lite import ATTRIBUTE_SOURCES  # noqa: E402


ATTRS = list(ATTRIBUTE_SOURCES)
JUDGED = {"overexposure": "overexposure", "scaling": "scaling", "underexposure": "underexposure", "blur": "blur",
          "colour": "colour", **{c: "colour" for c in OTHER_CASTS}}  # the warm cast, then +90, +180, +270 degrees
JUDGE_PHOTOS = 128  # held-apart photographs judged (`heldapart_photographs`' rule), halves A / B alternate


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def training_photos(root):
    """(paths, MOS, the clean negatives' indices, validation mask) as scripts/train_lite2.py picks them."""
    paths, y = L2.biq_split(root, "train")
    va = L2.val_mask(len(paths), 0)
    return paths, y, L2.negatives_order(y, va, 1500), va


def judge_items(root):
    meta = []
    for k, (path, _) in enumerate(heldapart_photographs(root, JUDGE_PHOTOS)):
        meta.append({"photo": str(path), "k": k, "distortion": "clean", "level": 0})
        for d in JUDGED:
            for lv in range(1, 6):
                meta.append({"photo": str(path), "k": k, "distortion": d, "level": lv})
    return meta


def judge_image(m):
    from vqual.media import load_image

    rgb = load_image(Path(m["photo"]))
    if m["distortion"] == "clean":
        return rgb
    return distorted_image(rgb, m["distortion"], m["level"], seed=1000 * (m["k"] + 1))  # as explain_truth's photographs


# --- cache ---------------------------------------------------------------------------------------------------------
def stage_cache(args):
    from vqual.encoders.measures import measures

    torch.set_num_threads(args.threads)
    L2.cache_attr_items(args.work, args.biq_root)  # the training rows: scripts/train_lite2.py's attributes stage's
    jm = judge_items(args.biq_root)
    L2.cache_set(args.out, "attr-judge", len(jm), lambda j: judge_image(jm[j]))
    mpath = args.out / "judge-measures.npy"
    if not mpath.exists():
        np.save(mpath, np.stack([measures(judge_image(m)) for m in jm]).astype(np.float64))
    log("cache done")


# --- train: scripts/train_lite2.py's attributes stage, its checkpoint under OUT/runs/NAME ----------------------------
def stage_train(args):
    run = args.out / "runs" / args.run
    run.mkdir(parents=True, exist_ok=True)
    ns = argparse.Namespace(work=args.work, biq_root=args.biq_root, threads=args.threads, seed=0, batch=16,
                            crop=L2.CROP, syn_pairs=3, wd=1e-4, w_rank=1.0, w_syn=1.0, syn_margin=0.1, ckpt_every=50,
                            resume=True, attr_steps=args.steps, attr_weight=args.w_attr, attr_lr=args.lr,
                            attr_lr_head=args.lr_attr, attr_batch=args.attr_batch, attr_keep=args.keep,
                            attr_skip_heads_photos=args.skip_heads_photos, distorted_photographs=200)
    L2.stage_attributes(ns, run / "last.pt")
    d = torch.load(run / "last.pt", weights_only=False)
    (run / "history.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                   "history": d["state"]["history"]}, indent=2))


# --- judge ---------------------------------------------------------------------------------------------------------
def encoder_of(args, name):
    if name == "shipped":
        model, _, _ = L2.trained_upper(argparse.Namespace(work=args.work))
        return model
    if name == "2.2.1":  # the runs' start, from git (`attributes_start` without a train-stage checkpoint)
        return L2.start_from_git(args.out / f"start-{L2.ATTR_START_REV}")[0].eval()
    model = L2.Upper()
    model.load_state_dict(torch.load(args.out / "runs" / name / "last.pt", weights_only=False)["model"])
    model.eval()
    return model


def recipe_rows(args, name, model, neg, low, maps):
    """`--heads recipe`: the shipped heads stage's rows that need no further pictures through the encoder (the synthetic
    crops and the clean negatives counted 3 times; not its distorted photographs or large mosaics), features through
    `model` + their cached measures (WORK); returns alpha -> the fitted head."""
    from vqual.heads.linear import fit_ridge

    path = args.out / f"recipe-features-{name}.npy"
    smeta, _ = L2.synthetic_items()
    if not path.exists():
        slow, smaps = L2.load_cache(args.work, "syn", len(smeta))
        np.save(path, np.vstack([L2.features_of(model, slow, smaps),
                                 L2.features_of(model, low[neg], [maps[i] for i in neg])]))
    f = np.load(path)
    meas = np.vstack([np.load(args.work / "syn-measures.npy"), np.load(args.work / "biq-clean-measures-1500.npy")])
    x = np.hstack([f, meas])
    n = len(smeta)
    x = np.vstack([x[:n], *[x[n:]] * L2.CLEAN_WEIGHT])
    y = np.vstack([attribute_targets(smeta, ATTRIBUTE_SOURCES), np.zeros((L2.CLEAN_WEIGHT * len(neg), len(ATTRS)))])
    return lambda alpha: fit_ridge(x, y, alpha, tuple(ATTRS))


def stage_judge(args):
    from scipy.stats import spearmanr

    from vqual.heads.linear import fit_ridge

    torch.set_num_threads(args.threads)
    jm = judge_items(args.biq_root)
    jlow, jmaps = L2.load_cache(args.out, "attr-judge", len(jm))
    meas = np.load(args.out / "judge-measures.npy")
    paths, y, neg, va_m = training_photos(args.biq_root)
    va = np.flatnonzero(va_m)
    low, maps = L2.load_cache(args.work, "biq-train", len(paths))
    ya = np.zeros((len(jm), len(ATTRS)))
    for j, m in enumerate(jm):
        if m["distortion"] != "clean":
            ya[j, ATTRS.index(JUDGED[m["distortion"]])] = m["level"] / 5.0
    half_a = np.array([m["k"] % 2 == 0 for m in jm])
    clean = np.array([m["distortion"] == "clean" for m in jm])
    lv = np.array([m["level"] for m in jm])
    out = {}
    for name in args.runs:
        fpath = args.out / f"judge-features-{name}.npy"
        model = encoder_of(args, name)
        if not fpath.exists():
            np.save(fpath, L2.features_of(model, jlow, jmaps))
        x = np.hstack([np.load(fpath), meas])
        val = L2.srcc(L2.predict(model, low[va], [maps[i] for i in va]), y[va])
        rec = {"val_srcc": val}
        fit_recipe = recipe_rows(args, name, model, neg, low, maps) if args.heads == "recipe" else None
        for alpha in args.alphas:
            if fit_recipe is not None:
                p = fit_recipe(alpha)(x)
            else:
                p = np.zeros_like(ya)  # out of fold: each half judged by the head fitted on the other
                for part in (half_a, ~half_a):
                    p[part] = fit_ridge(x[~part], ya[~part], alpha, tuple(ATTRS))(x[part])
            r = {}
            for d, a in JUDGED.items():
                col = p[:, ATTRS.index(a)]
                sel = np.array([m["distortion"] == d for m in jm])
                lv3, strong = sel & (lv == 3), sel & (lv >= 3)
                r[d] = {"auc_l3": auc(col[clean], col[lv3]),
                        "rho": float(spearmanr(col[clean | sel], lv[clean | sel]).statistic),
                        "largest_l3_5": float(np.mean(p[strong].argmax(1) == ATTRS.index(a)))}
            rec[f"alpha={alpha:g}"] = r
        out[name] = rec
        log(f"{name}: val SRCC {val:.4f}")
    (args.out / f"judge-{args.heads}.json").write_text(json.dumps(out, indent=2))
    for alpha in args.alphas:
        print(f"\nalpha {alpha:g}: AUC clean vs level 3 / rho vs level / injected largest at levels 3-5")
        print("| encoder | val SRCC | " + " | ".join(JUDGED) + " |")
        for name, rec in out.items():
            r = rec[f"alpha={alpha:g}"]
            print(f"| {name} | {rec['val_srcc']:.3f} | " + " | ".join(
                f"{r[d]['auc_l3']:.3f} / {r[d]['rho']:.2f} / {r[d]['largest_l3_5']:.2f}" for d in JUDGED) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("cache", "train", "judge"))
    ap.add_argument("work", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("biq_root", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--run", default="attr")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--w-attr", type=float, default=1.0)
    ap.add_argument("--attr-batch", type=int, default=12)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--lr-attr", type=float, default=1e-5,
                    help="the attribute head's (1e-3 moved its 4,096 inputs' weights enough to send its loss from "
                         "~0.1 to ~1 in the first steps: the eleventh session's first runs)")
    ap.add_argument("--keep", type=float, default=0.0, help="train: scripts/train_lite2.py --attr-keep")
    ap.add_argument("--skip-heads-photos", action="store_true", help="train: --attr-skip-heads-photos")
    ap.add_argument("--runs", nargs="+", default=["shipped"])
    ap.add_argument("--alphas", nargs="+", type=float, default=[100.0, 1000.0])
    ap.add_argument("--heads", choices=("heldapart", "recipe"), default="heldapart",
                    help="judge: the ridge fitted on the other half of the held-apart photographs (default), or on "
                         "the shipped recipe's synthetic crops and clean negatives (`recipe_rows`)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    {"cache": stage_cache, "train": stage_train, "judge": stage_judge}[args.stage](args)


if __name__ == "__main__":
    main()
