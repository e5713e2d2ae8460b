"""Can vqual-lite 2.2.0's score head also keep the synthetic ranking pairs (a stronger distortion of the same picture
scores lower), as a lead for the one figure where 2.x trails 1.0 ("score falls with the level" on the attributes set:
33 of 42 against 35)? The pairs enter scripts/human_head.py's objective as a squared hinge,
mu * mean_p max(0, margin - (z_a - z_b) w)^2, solved by an active set: the violated pairs become extra rows of the
same Woodbury solve as clive-fewlabel's (target: the margin), repeated until the set is stable. The whole procedure,
(alpha, cw) choice included, is scored by the same nested 5-fold CV on clive-fewlabel, for each fixed mu.

Features: the heads stage's cache (WORK), and research/lite2/head_refit.py's `features` output (OUT: the attributes
benchmark's held-out rows through the scoring path) for the "score falls" count.
Usage: python research/lite2/human_head_pairs.py BIQ_ROOT WORK OUT [MARGIN [MU,MU,...]] (~4 min per mu)."""
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts"), str(Path(__file__).resolve().parent)]
import human_head as H  # noqa: E402
import train_lite2 as T2  # noqa: E402
from head_refit import falls  # noqa: E402
from human_head_variants import load  # noqa: E402

MARGIN = float(sys.argv[4]) if len(sys.argv) > 4 else 0.1  # the hinge's margin (1-5 units)
MUS = tuple(float(v) for v in sys.argv[5].split(",")) if len(sys.argv) > 5 else (0.0, 1.0, 3.0)
ALPHAS = (1e6, 3e6)


class PairedRidge(H.AnchoredRidge):
    """AnchoredRidge whose extra rows are clive-fewlabel's (first `n_clive`) and then every synthetic pair's
    difference; `weights` takes a weight per row."""

    def __init__(self, zb, yb, zc, yc, zd, w0, alphas):
        super().__init__(zb, yb, np.vstack([zc, zd]), np.concatenate([yc, np.full(len(zd), MARGIN)]), w0, alphas)
        self.n_clive = len(yc)

    def weighted(self, alpha: float, idx: np.ndarray, s: np.ndarray) -> np.ndarray:
        wa, m, k = self.pre[alpha]
        if len(idx) == 0:
            return wa
        yi, kii = self.ye[idx], k[np.ix_(idx, idx)]
        t = np.linalg.solve(np.diag(1.0 / s) + kii, self.ze[idx] @ wa + kii @ (s * yi))
        return wa + m[:, idx] @ (s * yi) - m[:, idx] @ t

    def weights(self, alpha: float, cw: float, idx: np.ndarray, mu: float = 0.0) -> np.ndarray:
        clive = np.asarray(idx)
        s_clive = np.full(len(clive), cw / max(len(clive), 1)) if cw > 0 else np.zeros(0)
        clive = clive if cw > 0 else clive[:0]
        n_pairs = len(self.ye) - self.n_clive
        active = np.zeros(0, dtype=int)
        for _ in range(20):
            rows = np.concatenate([clive, self.n_clive + active]).astype(int)
            w = self.weighted(alpha, rows, np.concatenate([s_clive, np.full(len(active), mu / n_pairs)]))
            if mu == 0:
                return w
            now = np.flatnonzero(self.ze[self.n_clive:] @ w < MARGIN)
            if np.array_equal(now, active):
                break
            active = now
        return w


def main(biq_root: Path, work: Path, out: Path) -> None:
    d = load(biq_root, work)
    y, va, yt, z, x, xc, yc, xt = d.y, d.va, d.yt, d.z, d.x, d.xc, d.yc, d.xt
    meta, _ = T2.synthetic_items()
    xs = np.load(work / "feat-syn.npy").astype(np.float64)
    pairs = np.array(T2.syn_pairs(meta))
    x_at, rows = np.load(out / "x-attr.npy")[:, :4096], json.loads((out / "attr-rows.json").read_text())

    zd = z(xs)[pairs[:, 0]] - z(xs)[pairs[:, 1]]
    zd[:, -1] = 0.0
    fit = PairedRidge(z(x[~va]), y[~va], z(xc), yc, zd, np.append(d.w0, d.b0), ALPHAS)

    zv = z(x[va])
    print("| pairs weight mu | nested 5-fold CV SRCC (clive-fewlabel) | choice on all 200 | BIQ2021 val SRCC | "
          "BIQ2021 test SRCC | synthetic pairs in order | score falls with level |\n"
          "| ---: | --- | --- | ---: | ---: | ---: | ---: |")
    grid = [(a, c) for a in ALPHAS for c in H.WEIGHTS]
    print(f"(margin {MARGIN:g})")
    for mu in MUS:
        real = fit.weights
        fit.weights = lambda a, c, idx, mu=mu, real=real: real(a, c, idx, mu)
        try:
            outer = H.folds([str(i) for i in range(len(yc))], 5, seed=100)
            pred = np.zeros(len(yc))
            for te in outer:
                tr = np.setdiff1d(np.arange(len(yc)), te)
                (a, c), _ = H.select(fit, tr, zv, y[va], grid=grid)
                pred[te] = fit.ze[te] @ fit.weights(a, c, tr)
            nested = H.cv_report(pred, yc, outer)
            (a, c), _ = H.select(fit, np.arange(len(yc)), zv, y[va], grid=grid)
            w = fit.weights(a, c, np.arange(len(yc)))
        finally:
            fit.weights = real
        q = zd @ w
        print(f"| {mu:g} | {nested['srcc']['mean']:.3f} ± {nested['srcc']['std']:.3f} | alpha {a:g}, cw {c:g} | "
              f"{spearmanr(zv @ w, y[va])[0]:.3f} | {spearmanr(z(xt) @ w, yt)[0]:.3f} | {np.mean(q > 0):.3f} | "
              f"{falls(rows, z(x_at) @ w)} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
