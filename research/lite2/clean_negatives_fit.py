"""Clean-negatives study, step 2: attribute heads fitted on the synthetic set alone and with the best-rated BIQ2021
photographs as clean examples; per variant the share of injected distortions named first at levels 3-5 and the
clean pictures whose severities exceed a proxy threshold or 0.3. Usage: python research/lite2/clean_negatives_fit.py
WORK FEATS.npz (WORK: scripts/train_lite2.py's --work after its heads stage; FEATS: step 1's output)."""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "scripts")]
import explain_truth as E
import train_lite2 as L2
from fit_lite import attribute_targets
from train_lite import ATTRIBUTE_SOURCES

from vqual.heads.linear import fit_ridge

W = Path(sys.argv[1])
f = np.load(sys.argv[2])
meta, _ = L2.synthetic_items()
x_syn = np.hstack([np.load(W / "feat-syn.npy"), np.load(W / "syn-measures.npy")])
y_syn = attribute_targets(meta, ATTRIBUTE_SOURCES)
xb_all = np.load(W / "feat-biq-train.npy")
names = list(ATTRIBUTE_SOURCES)
dist_attr = np.array([E.IMAGE_SET[d] for d in f["dist_d"]])

def evaluate(head, label):
    # thresholds per attribute from the held-out set itself (proxy): midpoint of median level-1 and level-2 values
    pd = np.clip(head(f["dist_x"]), 0, 1)
    pc = np.clip(head(f["clean_x"]), 0, 1)
    thr = {}
    for j, a in enumerate(names):
        own = dist_attr == a
        l1 = np.median(pd[own & (f["dist_lv"] == 1), j]); l2 = np.median(pd[own & (f["dist_lv"] == 2), j])
        thr[a] = 0.5 * (l1 + l2)
    strong = f["dist_lv"] >= 3
    acc = np.mean([names[k] == a for k, a in zip(pd[strong].argmax(1), dist_attr[strong])])
    t = np.array([thr[a] for a in names])
    flagged = (pc > t).any(1)
    flagged_abs = (pc > 0.3).any(1)
    print(f"{label:28s} name@3-5 {acc:.3f}  clean flagged(proxy thr) {flagged.sum()}/{len(pc)}  "
          f"clean max>0.3 {flagged_abs.sum()}  mean clean max {pc.max(1).mean():.3f}  "
          f"thr {np.round(t, 2).tolist()}")
    return pc

alpha = 1e3
for a in (1e2, 1e3, 1e4):
    h = fit_ridge(x_syn, y_syn, a, tuple(names)); evaluate(h, f"syn only a={a:g}")
for n in (300, 1000, 1500):
    for w in (1, 3):
        idx = f["biq_idx"][:n]
        xb = np.hstack([xb_all[idx], f["biq_meas"][:n]])
        X = np.vstack([x_syn] + [xb] * w); Y = np.vstack([y_syn] + [np.zeros((n, len(names)))] * w)
        for a in (1e3, 1e4):
            h = fit_ridge(X, Y, a, tuple(names)); evaluate(h, f"+biq top{n} x{w} a={a:g}")

h0 = fit_ridge(x_syn, y_syn, 1e3, tuple(names))
n = 1500; idx = f["biq_idx"][:n]; xb = np.hstack([xb_all[idx], f["biq_meas"][:n]])
h1 = fit_ridge(np.vstack([x_syn] + [xb] * 3), np.vstack([y_syn] + [np.zeros((n, 7))] * 3), 1e3, tuple(names))
p0 = np.clip(h0(f["clean_x"]), 0, 1); p1 = np.clip(h1(f["clean_x"]), 0, 1)
for k, nm in enumerate(f["clean_names"]):
    print(f"{nm:22s} {names[p0[k].argmax()]:13s} {p0[k].max():.2f}   {names[p1[k].argmax()]:13s} {p1[k].max():.2f}")
