import sys
import json
import numpy as np
sys.path.insert(0, "scripts"); sys.path.insert(0, "benchmarks")
import torch; torch.set_num_threads(2)
import train_lite as T
import fit_lite as F
from scipy import stats
feats = T.extract_all(); torch.set_num_threads(2)
xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
xc = np.hstack([feats["clive_spatial"], feats["clive_measures"]]).astype(np.float64)
y = 1.0 + 4.0 * feats["mos"] / 100.0
pairs_p = F.ranking_pairs(feats["meta"])
cs = np.load(".cache/research_fewlabel/clive_syn.npy").astype(np.float64)
cm = json.load(open(".cache/research_fewlabel/clive_syn_meta.json"))
by_img = {}
for r, (i, name, li) in enumerate(cm):
    by_img.setdefault(i, {})[(name, li)] = r
def dom(imgs):
    rows, pairs = [], []
    for i in imgs:
        base = len(rows); rows.append(xc[i])
        for name in sorted({k[0] for k in by_img[i]}):
            a = len(rows); rows.append(cs[by_img[i][(name, 2)]])
            b = len(rows); rows.append(cs[by_img[i][(name, 4)]])
            pairs += [(base, a), (a, b)]
    return np.stack(rows), np.array(pairs)
variants = sys.argv[1].split(",")
mus = [float(m) for m in sys.argv[2].split(",")]
for v in variants:
    for mu in mus:
        out = []
        for n in (50, 150):
            s = []
            for d in range(10):
                perm = np.random.default_rng(d).permutation(200); te, pool = perm[:50], perm[50:]; lab = pool[:n]
                if v == "pristine": X, P = xs, pairs_p
                else:
                    X, P = dom(lab if v == "labelled" else pool)
                    if v == "both":
                        P = np.vstack([P, pairs_p + len(X)]); X = np.vstack([X, xs])
                h = F.fit_joint(xc[lab], y[lab], X, P, 100.0 * n / 200, mu)
                s.append(stats.spearmanr(h(xc[te])[:, 0], y[te]).statistic)
            out.append(np.mean(s))
        print(f"{v} mu {mu}: n50 {out[0]:.3f} n150 {out[1]:.3f} ratio {out[0]/out[1]:.3f}", flush=True)
