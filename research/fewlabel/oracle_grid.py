import sys
import time
import numpy as np
sys.path.insert(0, "scripts"); sys.path.insert(0, "benchmarks")
import torch
torch.set_num_threads(2)
import fit_lite as F
import train_lite as T
from scipy import stats
feats = T.extract_all()
torch.set_num_threads(2)
xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
xc = np.hstack([feats["clive_spatial"], feats["clive_measures"]]).astype(np.float64)
y = 1.0 + 4.0 * feats["mos"] / 100.0
pairs = F.ranking_pairs(feats["meta"])
t0 = time.perf_counter()
h = F.fit_joint(xc[:50], y[:50], xs, pairs, 25.0, 0.3)
print("fit s", time.perf_counter() - t0, xc.shape, xs.shape, pairs.shape)
# labels.csv order check happens in clive_set; adapt protocol: perm(200) seeded d, first 50 test, pool rest, first N labelled
res = {}
grid = [(a, m) for a in (10.0, 100.0, 1000.0) for m in (0.0, 0.3, 1.0, 3.0, 10.0)]
for n in (50, 150):
    for a, m in grid:
        s = []
        for d in range(10):
            perm = np.random.default_rng(d).permutation(200)
            test, lab = perm[:50], perm[50:50 + n]
            h = F.fit_joint(xc[lab], y[lab], xs, pairs, a * n / 200, m)
            s.append(stats.spearmanr(h(xc[test])[:, 0], y[test]).statistic)
        res[(n, a, m)] = (float(np.mean(s)), float(np.std(s)))
        print(n, a, m, f"{np.mean(s):.3f} ± {np.std(s):.3f}", flush=True)
