"""vqual-lite 2's score head from two human-rated sets: the fitting half of scripts/train_lite2.py's heads stage.

The head trained end to end with the encoder learnt BIQ2021 alone; on LIVE In the Wild pictures it never saw it
agrees with people at SRCC ~0.73, where a head that also sees clive-fewlabel's 200 labels reaches ~0.81 by nested
cross-validation (vqual-lite 1.0, whose head learnt those 200 labels alone: 0.746 by the same protocol). A linear head
cannot serve both sets fully (research/lite2/README.md, "refitting the score head"): the more weight the 200 rows get,
the lower BIQ2021's own figures. So the head here is

    min over (w, b)   mean_BIQ2021 (z w + b - y)^2  +  cw * mean_clive (z w + b - y)^2  +  alpha / n * |w - w_0|^2

(z = features standardised as the end-to-end head's, w_0 = its weights, n = BIQ2021 rows; the bias is free), with
(alpha, cw) chosen to serve both sets at once: the mean of clive-fewlabel's 5-fold CV SRCC and the SRCC on BIQ2021's
held-back validation part. The whole procedure, that choice included, is scored by nested 5-fold CV on clive-fewlabel
(outer folds as scripts/fit_lite.py's for vqual-lite 1.0: seed 100; inner seed 7), the figure the card records.

One Cholesky factor per alpha serves every subset of the clive rows (Woodbury identity), so the whole nested search is
seconds after the factors (~1 min for 9,000 x 4,096 features on one core).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sl
from fit_lite import cv_report, folds
from scipy.stats import spearmanr

ALPHAS = (1e4, 1e5, 3e5, 1e6, 3e6)  # anchor strength (alpha / n per weight; the end-to-end head at infinity)
WEIGHTS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)  # weight of clive-fewlabel's mean squared error beside BIQ2021's


def _srcc(a: np.ndarray, b: np.ndarray) -> float:
    return float(spearmanr(a, b)[0])


class AnchoredRidge:
    """The head above for any (alpha, cw) and any subset of the extra (clive) rows. Inputs are standardised features
    with a trailing column of ones (the unpenalised bias)."""

    def __init__(self, zb: np.ndarray, yb: np.ndarray, ze: np.ndarray, ye: np.ndarray, w0: np.ndarray,
                 alphas: tuple[float, ...] = ALPHAS):
        self.ze, self.ye, self.n = ze, ye, len(yb)
        gram, rhs = zb.T @ zb / self.n, zb.T @ yb / self.n
        pen = np.ones(zb.shape[1])
        pen[-1] = 0.0
        self.pre = {}
        for a in alphas:
            a_mat = gram + np.diag((a / self.n) * pen)
            cf = sl.cho_factor(a_mat)
            m = sl.cho_solve(cf, ze.T)  # A^-1 Ze'
            self.pre[a] = (sl.cho_solve(cf, rhs + (a / self.n) * pen * w0), m, ze @ m)

    def weights(self, alpha: float, cw: float, idx: np.ndarray) -> np.ndarray:
        """(d + 1,) weights with the extra rows `idx` at weight `cw` (Woodbury on them)."""
        wa, m, k = self.pre[alpha]
        if cw == 0 or len(idx) == 0:
            return wa
        s, yi, kii = cw / len(idx), self.ye[idx], k[np.ix_(idx, idx)]
        t = np.linalg.solve(np.eye(len(idx)) / s + kii, self.ze[idx] @ wa + s * kii @ yi)
        return wa + s * m[:, idx] @ yi - m[:, idx] @ t


def select(fit: AnchoredRidge, idx: np.ndarray, zv: np.ndarray, yv: np.ndarray, seed: int = 7,
           grid: list[tuple[float, float]] | None = None) -> tuple[tuple[float, float], dict[str, dict]]:
    """(alpha, cw) maximising the mean of the 5-fold CV SRCC on the extra rows `idx` and the validation SRCC (`zv`,
    `yv`) of the head fitted on all of `idx`; ties (within 0.001) go to the stronger anchor."""
    grid = grid or [(a, c) for a in fit.pre for c in WEIGHTS]
    inner = folds([str(i) for i in idx], 5, seed)
    table = {}
    for a, c in grid:
        p = np.zeros(len(idx))
        for te in inner:
            p[te] = fit.ze[idx[te]] @ fit.weights(a, c, idx[np.setdiff1d(np.arange(len(idx)), te)])
        cv, val = _srcc(p, fit.ye[idx]), _srcc(zv @ fit.weights(a, c, idx), yv)
        table[f"alpha={a:g},cw={c:g}"] = {"clive_cv_srcc": cv, "val_srcc": val, "criterion": (cv + val) / 2}
    best = max(v["criterion"] for v in table.values())
    choice = max(((a, c) for a, c in grid if table[f"alpha={a:g},cw={c:g}"]["criterion"] >= best - 1e-3),
                 key=lambda k: (k[0], -k[1]))
    return choice, table


def nested_cv(fit: AnchoredRidge, zv: np.ndarray, yv: np.ndarray) -> tuple[dict, list[dict]]:
    """Nested 5-fold CV of the whole procedure on the extra rows (outer seed 100, as vqual-lite 1.0's): per-fold
    figures as `fit_lite.cv_report`, and each outer fold's choice."""
    n = len(fit.ye)
    outer = folds([str(i) for i in range(n)], 5, seed=100)
    pred, chosen = np.zeros(n), []
    for te in outer:
        tr = np.setdiff1d(np.arange(n), te)
        (a, c), _ = select(fit, tr, zv, yv)
        pred[te] = fit.ze[te] @ fit.weights(a, c, tr)
        chosen.append({"alpha": a, "cw": c})
    return cv_report(pred, fit.ye, outer), chosen


def human_head(mean: np.ndarray, scale: np.ndarray, w0: np.ndarray, b0: float, x_biq: np.ndarray, y_biq: np.ndarray,
               x_val: np.ndarray, y_val: np.ndarray, x_extra: np.ndarray, y_extra: np.ndarray,
               ) -> tuple[np.ndarray, float, dict]:
    """Weights and bias of the head on (`mean`, `scale`)-standardised features, and what the card records."""
    def z(x: np.ndarray) -> np.ndarray:
        return np.hstack([(x - mean) / scale, np.ones((len(x), 1))])

    fit = AnchoredRidge(z(x_biq), y_biq, z(x_extra), y_extra, np.append(w0, b0))
    zv = z(x_val)
    nested, chosen = nested_cv(fit, zv, y_val)
    (a, c), table = select(fit, np.arange(len(y_extra)), zv, y_val)
    w = fit.weights(a, c, np.arange(len(y_extra)))
    anchor = np.append(w0, b0)
    info = {"alpha": a, "clive_weight": c, "selection": table,
            "nested_5fold_seed100": nested, "nested_choices": chosen,
            "val_srcc": _srcc(zv @ w, y_val), "val_srcc_end_to_end": _srcc(zv @ anchor, y_val),
            "clive_srcc_end_to_end_zero_shot": _srcc(fit.ze @ anchor, y_extra)}
    return w[:-1], float(w[-1]), info
