import sys
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
D = xs[pairs[:, 0]] - xs[pairs[:, 1]]  # raw differences (better - worse)
def fit_diff(xl, yl, Dm, scale, alpha, mu, margin=0.1):
    mean = xl.mean(0)
    zc = torch.from_numpy((xl - mean) / scale).float(); yt = torch.from_numpy(yl).float()
    dz = torch.from_numpy(Dm / scale).float()
    w = torch.zeros(zc.shape[1], requires_grad=True); b = torch.tensor([float(yl.mean())], requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=300, line_search_fn="strong_wolfe", tolerance_grad=1e-6)
    def closure():
        opt.zero_grad(); r = zc @ w + b - yt
        loss = (r * r).sum() + alpha * (w * w).sum() + mu * len(yl) * (margin * torch.nn.functional.softplus(-(dz @ w) / margin)).mean()
        loss.backward(); return loss
    opt.step(closure)
    return lambda x: ((x - mean) / scale) @ w.detach().double().numpy() + float(b)
_, scale_all = standardiser(np.vstack([xc, xs]))
_, scale_syn = standardiser(xs)
Ds = D / scale_syn
U, S, Vt = np.linalg.svd(Ds, full_matrices=False)
print("energy", [round(float((S[:k]**2).sum() / (S**2).sum()), 3) for k in (32, 64, 128, 256, 512)])
for label, k, scale in (("full, joint scale", None, "all"), ("full, syn scale", None, "syn"), ("rank64", 64, "syn"), ("rank128", 128, "syn"), ("rank256", 256, "syn")):
    Dm = D if k is None else (U[:, :k] * S[:k]) @ Vt[:k] * scale_syn
    out = []
    for n in (50, 150):
        s = []
        for d in range(10):
            perm = np.random.default_rng(d).permutation(200); te, lab = perm[:50], perm[50:50 + n]
            sc = scale_all if scale == "all" else scale_syn
            f = fit_diff(xc[lab], y[lab], Dm, sc, 100.0 * n / 200, 0.3)
            s.append(stats.spearmanr(f(xc[te]), y[te]).statistic)
        out.append(np.mean(s))
    print(f"{label}: n50 {out[0]:.3f} n150 {out[1]:.3f}", flush=True)
