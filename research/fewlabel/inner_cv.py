"""Inner-CV choice of the ridge strength (pair weight fixed, argv[1]; criterion argv[2]: mse or srcc; argv[3]: per-label ridge grid, default 0.1,0.5,2.0) for the joint
labels + rank-128 synthetic pairs head: what `vqual train` now does (vqual.adapt.pairs). Run from the repo root."""
import sys
import time
import numpy as np
import torch
sys.path.insert(0, "scripts"); sys.path.insert(0, "benchmarks")
torch.set_num_threads(2)
import train_lite as T
import fit_lite as F
from scipy import stats
from vqual.heads.linear import standardiser
feats = T.extract_all(); torch.set_num_threads(2)
xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
xc = np.hstack([feats["clive_spatial"], feats["clive_measures"]]).astype(np.float64)
y = 1.0 + 4.0 * feats["mos"] / 100.0
pairs = F.ranking_pairs(feats["meta"])
_, scale_syn = standardiser(xs)
Ds = (xs[pairs[:, 0]] - xs[pairs[:, 1]]) / scale_syn
U, S, Vt = np.linalg.svd(Ds, full_matrices=False)
K = 128
coef, basis = (U[:, :K] * S[:K]), Vt[:K]

def fit(xl, yl, alpha, mu, margin=0.1):
    """w in span(labelled rows, pair basis): exact for the rank-K pair set."""
    mean, scale = standardiser(xl)
    scale = scale_syn  # one scale for labels and pairs
    zl = (xl - mean) / scale
    Q, _ = np.linalg.qr(np.vstack([zl, basis]).T)  # (d, r) orthonormal
    A = torch.from_numpy(zl @ Q)  # (n, r)
    P = torch.from_numpy(coef @ (basis @ Q))  # (pairs, r)
    yt = torch.from_numpy(yl)
    v = torch.zeros(Q.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([float(yl.mean())], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([v, b], lr=1.0, max_iter=500, line_search_fn="strong_wolfe", tolerance_grad=1e-8)
    def closure():
        opt.zero_grad(); r = A @ v + b - yt
        loss = (r * r).sum() + alpha * (v * v).sum()
        if mu > 0:
            loss = loss + mu * len(yl) * (margin * torch.nn.functional.softplus(-(P @ v) / margin)).mean()
        loss.backward(); return loss
    opt.step(closure)
    w = Q @ v.detach().numpy()
    return lambda x: ((x - mean) / scale) @ w + float(b)

t0 = time.perf_counter(); f = fit(xc[:50], y[:50], 25, 0.3); print("fit s", time.perf_counter() - t0)
CRIT = sys.argv[2]
ALPHAS = tuple(float(a) for a in (sys.argv[3] if len(sys.argv) > 3 else "0.1,0.5,2.0").split(","))  # per label
GRID = [(a, m) for a in ALPHAS for m in (float(sys.argv[1]),)]
def select(xl, yl, seed):
    folds = np.array_split(np.random.default_rng(seed).permutation(len(yl)), 5)
    best = None
    for a, m in GRID:
        pred = np.empty(len(yl))
        for te in folds:
            tr = np.setdiff1d(np.arange(len(yl)), te)
            pred[te] = fit(xl[tr], yl[tr], a * len(tr), m)(xl[te])
        s = -np.mean((pred - yl) ** 2) if CRIT == 'mse' else stats.spearmanr(pred, yl).statistic
        if best is None or s > best[0] + 1e-9: best = (s, a, m)
    return best
out = {}
for n in (50, 150):
    fixed, cv, chosen = [], [], []
    for d in range(10):
        perm = np.random.default_rng(d).permutation(200); te, lab = perm[:50], perm[50:50 + n]
        fixed.append(stats.spearmanr(fit(xc[lab], y[lab], 0.5 * n, 0.3)(xc[te]), y[te]).statistic)
        s, a, m = select(xc[lab], y[lab], d)
        chosen.append((a, m))
        cv.append(stats.spearmanr(fit(xc[lab], y[lab], a * n, m)(xc[te]), y[te]).statistic)
    out[n] = (np.mean(fixed), np.mean(cv), np.std(cv))
    print(f"n {n}: fixed(lite.json) {np.mean(fixed):.3f}  inner-CV {np.mean(cv):.3f} ± {np.std(cv):.3f} chosen {chosen}", flush=True)
print("ratio inner-CV", out[50][1] / out[150][1], "fixed", out[50][0] / out[150][0])
