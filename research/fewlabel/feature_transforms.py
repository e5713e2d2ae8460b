import sys
import numpy as np
sys.path.insert(0, "scripts"); sys.path.insert(0, "benchmarks")
import torch; torch.set_num_threads(2)
import train_lite as T
from scipy import stats
from vqual.heads.linear import standardiser
from vqual.encoders.spatial import SpatialEncoder
feats = T.extract_all()
names = SpatialEncoder().feature_names()
blk = [n.split(".")[1] for n in names] + ["meas"] * feats["clive_measures"].shape[1]
xc = np.hstack([feats["clive_spatial"], feats["clive_measures"]]).astype(np.float64)
y = 1.0 + 4.0 * feats["mos"] / 100.0
blocks = sorted(set(blk), key=blk.index); bidx = {b: np.array([i for i, x in enumerate(blk) if x == b]) for b in blocks}
print({b: len(v) for b, v in bidx.items()})
def transform(x, kind):
    if kind == "signed_sqrt": return np.sign(x) * np.sqrt(np.abs(x))
    return x
def ridge_pred(Ztr, ytr, Zte, lam):
    m = Ztr.mean(0); Zc = Ztr - m; K = Zc @ Zc.T
    a = np.linalg.solve(K + lam * np.eye(len(Ztr)), ytr - ytr.mean())
    return (Zte - m) @ (Zc.T @ a) + ytr.mean()
def run(Z, lam, n):
    s = []
    for d in range(10):
        perm = np.random.default_rng(d).permutation(200); te, lab = perm[:50], perm[50:50 + n]
        s.append(stats.spearmanr(ridge_pred(Z[lab], y[lab], Z[te], lam), y[te]).statistic)
    return np.mean(s)
for kind in ("raw", "signed_sqrt"):
    x = transform(xc, kind); mean, scale = standardiser(x); Z = np.nan_to_num((x - mean) / scale)
    for bw in ("none", "equal"):
        Zw = Z.copy()
        if bw == "equal":
            for b, ix in bidx.items(): Zw[:, ix] /= np.sqrt(len(ix))
        for lam in ((10, 100, 1000, 10000) if bw == "none" else (0.01, 0.1, 1, 10)):
            print(kind, bw, lam, " ".join(f"n{n} {run(Zw, lam * n / 200, n):.3f}" for n in (50, 150)), flush=True)
