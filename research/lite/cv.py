"""Honest cross-validation for vqual-lite feature designs (numpy only).

* Outer: 5-fold CV, folds from np.random.default_rng(seed).permutation(200), repeated for seeds 0..R-1.
* Every hyperparameter (ridge alpha, RBF width) is chosen by an inner 5-fold CV on the outer training part only
  (criterion: SRCC of the pooled inner out-of-fold predictions); standardisation statistics come from the training
  part only.
* Reported per design: SRCC and PLCC (after a 4-parameter logistic fitted to the pooled out-of-fold predictions) of
  the pooled out-of-fold predictions, mean (and sd) over the repeats; plus the mean per-fold SRCC.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit
from scipy.stats import pearsonr, spearmanr

ALPHAS = np.logspace(-3, 4, 22)  # relative to the mean eigenvalue of the training kernel
GAMMAS = (0.25, 0.5, 1.0, 2.0)  # RBF: gamma = g / median squared distance


def folds(n: int, k: int, seed: int) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), k)


def srcc(a, b) -> float:
    return float(spearmanr(a, b).statistic)


def logistic4(x, b1, b2, b3, b4):
    return (b1 - b2) / (1 + np.exp(-(x - b3) / np.abs(b4))) + b2


def plcc_logistic(pred, y) -> float:
    p0 = [y.max(), y.min(), np.mean(pred), np.std(pred) + 1e-6]
    try:
        popt, _ = curve_fit(logistic4, pred, y, p0=p0, maxfev=20000)
        return float(pearsonr(logistic4(pred, *popt), y).statistic)
    except RuntimeError:
        return float(pearsonr(pred, y).statistic)


# --- kernels on standardised features ---------------------------------------------------------------------------------
def _standardise(Xtr, Xte, blocks):
    mu = Xtr.mean(0); sd = Xtr.std(0) + 1e-8
    A = (Xtr - mu) / sd; B = (Xte - mu) / sd
    if blocks is not None:  # each block gets unit total variance
        w = np.empty(Xtr.shape[1])
        for s, e in blocks:
            w[s:e] = 1.0 / np.sqrt(e - s)
        A *= w; B *= w
    return A, B


def _kernels(A, B, kind, g):
    if kind == "lin":
        return A @ A.T, B @ A.T
    aa = (A * A).sum(1); bb = (B * B).sum(1)
    D = np.maximum(aa[:, None] + aa[None] - 2 * A @ A.T, 0)
    Dt = np.maximum(bb[:, None] + aa[None] - 2 * B @ A.T, 0)
    med = np.median(D[np.triu_indices_from(D, 1)])
    gamma = g / med
    return np.exp(-gamma * D), np.exp(-gamma * Dt)


def _krr_all_alphas(K, Kt, y, alphas):
    """Predictions on the test rows for every alpha. K: (n,n), Kt: (m,n) -> (len(alphas), m)."""
    ym = y.mean()
    s, U = np.linalg.eigh(K)
    s = np.maximum(s, 0)
    scale = s.mean()
    Uy = U.T @ (y - ym)  # (n,)
    KtU = Kt @ U  # (m, n)
    return np.stack([KtU @ (Uy / (s + a * scale)) for a in alphas]) + ym


def fit_predict(X, y, tr, te, kind="lin", blocks=None, inner_k=5, inner_seed=0, grid=None):
    """Choose (gamma, alpha) by inner CV on `tr`, refit on `tr`, predict `te`."""
    gammas = (None,) if kind == "lin" else (grid or GAMMAS)
    Xtr, ytr = X[tr], y[tr]
    best = (-np.inf, None, None)
    inner = folds(len(tr), inner_k, inner_seed)
    for g in gammas:
        oof = np.zeros((len(ALPHAS), len(tr)))
        for f in inner:
            itr = np.setdiff1d(np.arange(len(tr)), f)
            A, B = _standardise(Xtr[itr], Xtr[f], blocks)
            K, Kt = _kernels(A, B, kind, g)
            oof[:, f] = _krr_all_alphas(K, Kt, ytr[itr], ALPHAS)
        scores = [srcc(o, ytr) for o in oof]
        i = int(np.argmax(scores))
        if scores[i] > best[0]:
            best = (scores[i], g, ALPHAS[i])
    sc, g, a = best
    A, B = _standardise(Xtr, X[te], blocks)
    K, Kt = _kernels(A, B, kind, g)
    return _krr_all_alphas(K, Kt, ytr, [a])[0], (g, a, sc)


def evaluate(X, y, kind="lin", blocks=None, seeds=(0, 1, 2), k=5):
    res = {"srcc": [], "plcc": [], "fold_srcc": [], "params": []}
    for seed in seeds:
        pred = np.zeros(len(y))
        for f in folds(len(y), k, seed):
            tr = np.setdiff1d(np.arange(len(y)), f)
            pred[f], p = fit_predict(X, y, tr, f, kind, blocks, inner_seed=seed + 100)
            res["fold_srcc"].append(srcc(pred[f], y[f])); res["params"].append(p)
        res["srcc"].append(srcc(pred, y)); res["plcc"].append(plcc_logistic(pred, y))
    return res
