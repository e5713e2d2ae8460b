"""Fitting the monotone maps of a calibration (scikit-learn style: ``fit(x, y) -> self``, then ``predict(x)``,
``to_dict()``): each estimator here is the fitted map of `vqual.calibration` plus its ``fit``.

- `LinearEstimator`: least-squares line (the mean label when x does not vary);
- `LogisticEstimator`: the VQEG 4-parameter logistic, least squares with bounded parameters
  (`vqual.eval.metrics.fit_logistic` with ``constrained=True``); falls back to a line when the fit fails (too few
  or degenerate points). It is also the calibrator that ``vqual eval`` fits inside each fold;
- `IsotonicEstimator`: weighted isotonic regression by pool-adjacent-violators.

A fitted estimator saves (``to_dict``) exactly as its map, so `vqual.calibration.map_from_dict` reads it back as
the plain map, which is all that applying a calibration needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from vqual.calibration import METHODS, IsotonicMap, LinearMap, LogisticMap
from vqual.errors import CalibrationError
from vqual.eval.metrics import MetricError, as_pair, fit_logistic
from vqual.lazy import LazyModule

stats = LazyModule("scipy.stats")


class MonotoneMap(Protocol):
    """What a calibrator offers (the eval protocols need only fit / predict / to_dict)."""

    def fit(self, x, y) -> MonotoneMap: ...

    def predict(self, x) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


MapFactory = Callable[[], MonotoneMap]


def _increasing(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether y tends to rise with x (Spearman's rho >= 0; True when either is constant)."""
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return True
    rho = float(stats.spearmanr(x, y).statistic)
    return not (rho < 0)


def _line(xs: np.ndarray, ys: np.ndarray) -> tuple[str, float, float]:
    """Least-squares line (form, slope, intercept); the mean label (``constant``) when x does not vary."""
    if xs.size >= 2 and np.ptp(xs) > 0:
        slope, icpt = np.polyfit(xs, ys, 1)
        return "linear", float(slope), float(icpt)
    return "constant", 0.0, float(ys.mean())


class LinearEstimator(LinearMap):
    """`LinearMap` fitted by least squares."""

    def fit(self, x, y) -> LinearEstimator:
        xs, ys = as_pair(x, y, min_n=1, what="linear fit")
        self.n_fit_ = int(xs.size)
        self.form_, self.coef_, self.intercept_ = _line(xs, ys)
        return self


class LogisticEstimator(LogisticMap):
    """`LogisticMap` fitted by least squares with the constraints of `fit_logistic` (``constrained=True``: bounded
    asymptotes, a scale of at least `min_scale` standard deviations of x) so that a fit on a few noisy labels does
    not collapse into a step. If the fit fails (fewer than 5 points, constant values, no convergence) it falls back
    to a least-squares line (``method`` ``linear``, ``fallback_reason_`` says why), or to the mean label if x is
    constant (``constant``); with ``fallback=False`` the failure is raised."""

    def fit(self, x, y) -> LogisticEstimator:
        xs, ys = as_pair(x, y, min_n=1, what="calibration")
        self.n_fit_ = int(xs.size)
        self.fallback_reason_ = None
        try:
            f = fit_logistic(xs, ys, 4, constrained=True, min_scale=self.min_scale)
            self.form_, self.params_ = "logistic4", tuple(float(v) for v in f.params)
            return self
        except MetricError as e:
            if not self.fallback:
                raise
            self.fallback_reason_ = str(e)
        form, slope, icpt = _line(xs, ys)
        self.form_, self.params_ = form, (slope, icpt)
        return self


def pav(y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Weighted least-squares non-decreasing fit of the sequence `y` (pool adjacent violators)."""
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if w is None else np.asarray(w, dtype=float)
    vals: list[float] = []
    wts: list[float] = []
    counts: list[int] = []
    for yi, wi in zip(y.tolist(), w.tolist()):
        vals.append(yi)
        wts.append(wi)
        counts.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v2, w2, c2 = vals.pop(), wts.pop(), counts.pop()
            v1, w1, c1 = vals.pop(), wts.pop(), counts.pop()
            ww = w1 + w2
            vals.append((v1 * w1 + v2 * w2) / ww)
            wts.append(ww)
            counts.append(c1 + c2)
    return np.repeat(np.asarray(vals, dtype=float), counts)


class IsotonicEstimator(IsotonicMap):
    """`IsotonicMap` fitted by isotonic regression: the monotone step function closest to the labels in least
    squares (PAV).

    Ties in x are pooled first (their labels averaged, weighted by count). `increasing` ``"auto"`` follows the sign
    of Spearman's rho between x and y. Interior points of flat runs are dropped from ``x_`` / ``y_``, which leaves
    the interpolant unchanged.
    """

    def fit(self, x, y, sample_weight=None) -> IsotonicEstimator:
        xs, ys = as_pair(x, y, min_n=1, what="isotonic fit")
        w = np.ones_like(xs) if sample_weight is None else np.asarray(sample_weight, dtype=float).ravel()
        if w.shape != xs.shape or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError("isotonic fit: sample_weight must be positive, finite, one per item")
        inc = _increasing(xs, ys) if self.increasing == "auto" else bool(self.increasing)
        ux, inv = np.unique(xs, return_inverse=True)
        wsum = np.bincount(inv, weights=w)
        ymean = np.bincount(inv, weights=w * ys) / wsum
        fitted = pav(ymean, wsum) if inc else -pav(-ymean, wsum)
        n = fitted.size
        keep = np.ones(n, dtype=bool)
        if n > 2:
            same_prev = np.r_[False, fitted[1:] == fitted[:-1]]
            same_next = np.r_[fitted[:-1] == fitted[1:], False]
            keep = ~(same_prev & same_next)
        self.x_, self.y_ = ux[keep].astype(float), fitted[keep].astype(float)
        self.increasing_, self.n_fit_ = inc, int(xs.size)
        return self


#: The estimator of each method in `METHODS`.
ESTIMATORS: dict[str, type] = {"linear": LinearEstimator, "logistic": LogisticEstimator,
                               "isotonic": IsotonicEstimator}


def make_map(method: str) -> Any:
    """A new, unfitted estimator of one of `METHODS`."""
    if method not in ESTIMATORS:
        raise CalibrationError(f"unknown calibration method {method!r} (known: {', '.join(METHODS)}, auto)")
    return ESTIMATORS[method]()
