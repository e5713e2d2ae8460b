import sys
import numpy as np
sys.path.insert(0, "scripts"); sys.path.insert(0, "benchmarks"); sys.path.insert(0, "benchmarks")
import torch; torch.set_num_threads(2)
import train_lite as T
import fit_lite as F
from fewlabel_adapt import fit_pairs_only
from scipy import stats
from vqual.heads.linear import standardiser
feats = T.extract_all(); torch.set_num_threads(2)
xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
xc = np.hstack([feats["clive_spatial"], feats["clive_measures"]]).astype(np.float64)
y = 1.0 + 4.0 * feats["mos"] / 100.0
pairs = F.ranking_pairs(feats["meta"])
h = fit_pairs_only(xs, pairs)
print({k: getattr(v, "shape", v) for k, v in h.items()} if isinstance(h, dict) else type(h))
s0 = ((xc - h["mean"]) / h["scale"]) @ h["w"]
print("s0 srcc all", stats.spearmanr(s0, y).statistic)
mean, scale = standardiser(np.vstack([xc, xs])); Z = np.nan_to_num((xc - mean) / scale)
def ridge_pred(Ztr, ytr, Zte, lam):
    m = Ztr.mean(0); Zc = Ztr - m; K = Zc @ Zc.T
    a = np.linalg.solve(K + lam * np.eye(len(Ztr)), ytr - ytr.mean())
    return (Zte - m) @ (Zc.T @ a) + ytr.mean()
for boost in (0, 10, 30, 100, 300):
    A = np.hstack([Z, boost * (s0 - s0.mean())[:, None] / s0.std()])
    for lam in (10, 100, 1000):
        out = []
        for n in (50, 150):
            s = []
            for d in range(10):
                perm = np.random.default_rng(d).permutation(200); te, lab = perm[:50], perm[50:50 + n]
                s.append(stats.spearmanr(ridge_pred(A[lab], y[lab], A[te], lam * n / 200), y[te]).statistic)
            out.append(np.mean(s))
        print(f"boost {boost} lam {lam}: n50 {out[0]:.3f} n150 {out[1]:.3f} ratio {out[0]/out[1]:.3f}", flush=True)
