"""Do vqual-lite@2.0's attribute heads name distortions better on new content when they also learn the graded
synthetic distortions of clean BIQ2021 photographs, and how should the severity bands be fitted then (issue #21;
research/lite2/README.md, ninth session)?

The synthetic crops the heads learn come from 36 crops of 30 pictures (Kodak 24 + McMaster 1-12);
`--distorted-photographs K` (scripts/train_lite2.py's heads stage) adds every synthetic distortion at levels 1-5 of K
of the clean BIQ2021 negatives (K x 40 rows). A proxy for benchmarks/explain_truth.py without the language model, as
research/lite2/clean_grayscale.py: a picture is clean when no attribute reaches its "noticeable" band; bands are
refitted for each row the way scripts/fit_severity_bands.py fits them, its choices switched one at a time (which
pictures are measured out of fold, the level -> band targets, the share of clean pictures kept at "none"); the
injected distortion is "named" when its attribute reaches "noticeable", and its word is that band ("none" below
noticeable), as the grounding rule says. Held-out content only: the 38 clean pictures of explain_truth, McMaster
13-18 with 8 distortions x 5 levels. The first row reproduces explain_truth's counts for vqual-lmm 2.0.1 (21 of 38
clean, 11 with a strong word); the last is the shipped recipe (2.2.1 and its bands).

Usage: python research/lite2/distorted_photographs.py WORK BIQ_ROOT FEATS.npz BANDS_CACHE [K]
(WORK: scripts/train_lite2.py's work folder, where `--distorted-photographs K` has cached its rows, default 200;
FEATS.npz: clean_negatives_large.py's `features` output; BANDS_CACHE: fit_severity_bands.py's --cache).
"""
import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "benchmarks")]
import fit_severity_bands as B  # noqa: E402
import train_lite2 as L2  # noqa: E402
from fit_lite import attribute_targets, folds  # noqa: E402

import vqual  # noqa: E402
from vqual.encoders.features import block_digest  # noqa: E402
from vqual.heads.linear import fit_ridge  # noqa: E402

BANDS = ("none", "slight", "noticeable", "strong", "severe")


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


class Setup:
    """Everything the heads and the proxy read: the heads stage's rows, the held-out measurements, the bands'
    training-crop features."""

    def __init__(self, work: Path, root: Path, feats: Path, bcache: Path):
        self.work = work
        self.lite = vqual.load_model("vqual-lite@2.0")
        self.names = list(B.IMAGE_SOURCES)
        self.paths, self.y = L2.biq_split(root, "train")
        self.va = L2.val_mask(len(self.paths), 0)
        self.meta = list(L2.synthetic_items()[0])
        self.x_syn = np.hstack([np.load(work / "feat-syn.npy"), np.load(work / "syn-measures.npy")])
        self.x_tr = np.load(work / "feat-biq-train.npy")
        z = np.load(feats, allow_pickle=True)
        self.clean_x, self.clean_names = z["clean_x"], [str(n) for n in z["clean_names"]]
        self.dist_x, self.dist_d, self.dist_lv = z["dist_x"], [str(d) for d in z["dist_d"]], z["dist_lv"]
        with np.load(bcache / block_digest(self.lite.encoder.block) / "image_features.npz") as f:
            self.xb = f["x"].astype(np.float64)  # the training crops through the scoring path (the bands' input)
        self.ys = attribute_targets(self.meta, B.IMAGE_SOURCES)
        self.fs = folds([m["content"] for m in self.meta], 6, seed=0)
        self.attr_of = {d: self.names.index(k) for k, ds in B.IMAGE_SOURCES.items() for d in ds}
        self.bcache = bcache

    def extra(self, k: int) -> tuple[np.ndarray, list[dict]]:
        a = argparse.Namespace(work=self.work, clean_negatives=1500, large_mosaics=48, distorted_photographs=k)
        x, meta, _ = L2.extra_attribute_rows(a, self.paths, self.y, self.va, self.x_tr)
        return x, meta

    def evaluate(self, tag, head, alpha, x_extra, meta_extra, th=None) -> dict:
        names = self.names
        if th is None:
            oof = np.clip(B.oof_with_extra(self.xb, self.ys, self.fs, alpha, x_extra,
                                           attribute_targets(meta_extra, B.IMAGE_SOURCES)), 0, 1)
            th = {k: v["thresholds"] for k, v in B.fit_group(self.meta, oof, names, B.IMAGE_SOURCES).items()}

        def bands(v):
            return np.array([[int(np.searchsorted(th[names[a]], v[i, a], side="right")) for a in range(len(names))]
                             for i in range(len(v))])

        c = np.clip(head(self.clean_x), 0, 1)
        cb = bands(c)
        called, strong = int(np.sum(cb.max(1) < 2)), int(np.sum(cb.max(1) >= 3))
        d = np.clip(head(self.dist_x), 0, 1)
        db = bands(d)
        ia = np.array([self.attr_of[x] for x in self.dist_d])
        own = db[np.arange(len(d)), ia]
        word = np.where(own >= 2, own, 0)
        hi = self.dist_lv >= 3
        out = {"clean": called, "strong": strong, "named": int(np.sum(own[hi] >= 2)), "by_type": {}}
        print(f"\n{tag} (alpha {alpha:g})")
        print(f"  clean held-out pictures with nothing noticeable: {called}/38; with a strong or severe band: {strong}")
        print("  misses:", {self.clean_names[i]: [f"{names[a]} {BANDS[cb[i, a]]}" for a in range(len(names))
                                                  if cb[i, a] >= 2] for i in range(len(c)) if cb[i].max() >= 2})
        print(f"  injected named at levels 3-5: {out['named']}/{int(hi.sum())}")
        for dn in sorted(set(self.dist_d), key=self.dist_d.index):
            m = np.array([x == dn for x in self.dist_d])
            rho = spearman(self.dist_lv[m], word[m])
            out["by_type"][dn] = (int(np.sum(own[m & hi] >= 2)), rho)
            print(f"  {dn:13s} named 3-5 {int(np.sum(own[m & hi] >= 2)):2d}/{int(np.sum(m & hi))}  word SRCC "
                  f"{rho:.3f}  mean word by level "
                  f"{[round(float(word[m & (self.dist_lv == lv)].mean()), 2) for lv in range(1, 6)]}")
        print("  noticeable thresholds:", {k: round(v[1], 3) for k, v in th.items()}, flush=True)
        return out


def bands(s: Setup, head, alpha: float, extra: tuple[np.ndarray, list[dict]], wide: bool, target: dict,
          clean_quantile: float) -> dict:
    """Thresholds as scripts/fit_severity_bands.py fits them, with its choices switchable: `wide` measures the
    distorted photographs out of fold beside the crops (its image_measurements) or only the crops (the 2.2.0 way),
    `target` the level -> band map, `clean_quantile` the share of clean pictures kept at "none"."""
    if wide:
        lite = SimpleNamespace(heads={"attributes": head}, config={"attributes": {"alpha": alpha}},
                               encoder=s.lite.encoder, features=s.lite.features)
        meta, _, oof, names = B.image_measurements(lite, s.bcache, extra)
    else:
        meta, names = s.meta, s.names
        oof = np.clip(B.oof_with_extra(s.xb, s.ys, s.fs, alpha, extra[0],
                                       attribute_targets(extra[1], B.IMAGE_SOURCES)), 0, 1)
    fitted = B.fit_group(meta, oof, names, B.IMAGE_SOURCES, clean_quantile=clean_quantile, targets=target)
    return {k: v["thresholds"] for k, v in fitted.items()}


OLD_TARGET = {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 4}  # 2.2.0's bands: level 2 noticeable, 3-4 strong


def main() -> None:
    s = Setup(*(Path(a) for a in sys.argv[1:5]))
    k = int(sys.argv[5]) if len(sys.argv) > 5 else 200
    alpha = 1000.0  # what the recipe's grouped CV chooses with and without the distorted photographs' rows
    x0, m0 = s.extra(0)
    before = fit_ridge(np.vstack([s.x_syn, x0]), attribute_targets(s.meta + m0, B.IMAGE_SOURCES), alpha,
                       tuple(s.names))  # 2.2.0's attribute head, refitted
    x1, m1 = s.extra(k)
    after = fit_ridge(np.vstack([s.x_syn, x1]), attribute_targets(s.meta + m1, B.IMAGE_SOURCES), alpha,
                      tuple(s.names))  # 2.2.1's
    shipped_target = B.TARGET
    rows = [
        ("2.2.0 head, 2.2.0 bands", before, (x0, m0), False, OLD_TARGET, 1.0),
        (f"+ {k} distorted photographs, 2.2.0 bands", after, (x1, m1), False, OLD_TARGET, 1.0),
        ("... bands: levels 1-2 slight, 3 noticeable, 4 strong, 5 severe", after, (x1, m1), False, shipped_target, 1.0),
        ("... bands also out of fold on the distorted photographs (236 contents)", after, (x1, m1), True,
         shipped_target, 1.0),
        (f"... bands with clean pictures at none up to their {B.CLEAN_QUANTILE:.0%} quantile (2.2.1, shipped)", after, (x1, m1), True,
         shipped_target, B.CLEAN_QUANTILE),
    ]
    out = []
    for tag, head, extra, wide, target, q in rows:
        th = bands(s, head, alpha, extra, wide, target, q)
        out.append((tag, s.evaluate(tag, head, alpha, None, None, th=th)))
    print("\n| heads and bands | clean pictures called clean (of 38) | with a strong or severe word | injected named "
          "at levels 3-5 (of 144) | word SRCC >= 0.9 (of 8 types) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for tag, r in out:
        ok = sum(rho >= 0.9 for _, rho in r["by_type"].values())
        print(f"| {tag} | {r['clean']} | {r['strong']} | {r['named']} | {ok} |")


if __name__ == "__main__":
    main()
