"""Score calibrators fitted inside the training part of a fold: a small estimator interface with fit / predict.

A protocol only needs an object with ``fit(x, y) -> self``, ``predict(x) -> ndarray`` and ``to_dict()``; pass a
factory (any zero-argument callable, e.g. the class) to the protocol functions to swap in another estimator
(a future ``vqual.adapt.calibrate`` one, for instance).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from vqual.eval.metrics import LogisticFit, MetricError, as_pair, fit_logistic


class Calibrator(Protocol):
    def fit(self, x, y) -> Calibrator: ...

    def predict(self, x) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


CalibratorFactory = Callable[[], Calibrator]


class LogisticCalibrator:
    """Monotone map from a model's raw score to MOS: the 4-parameter logistic, least squares, constrained.

    The constraints (see `fit_logistic` with ``constrained=True``: bounded asymptotes, a scale of at least
    `min_scale` standard deviations of the scores) keep a fit on a few noisy labels from collapsing into a step.
    If the fit fails (too few or degenerate points, no convergence) the calibrator falls back to a least-squares
    line, and ``method`` / ``to_dict()`` say so with the reason; if the scores are constant it predicts the mean
    MOS. It is never fitted on anything but what `fit` is given.
    """

    id = "logistic4"

    def __init__(self, fallback: bool = True, min_scale: float = 0.25):
        self.fallback = fallback
        self.min_scale = min_scale
        self.method: str | None = None
        self.fit_: LogisticFit | None = None
        self.coef_: tuple[float, float] | None = None  # linear fallback (slope, intercept)
        self.reason: str | None = None
        self.n_fit = 0

    def fit(self, x, y) -> LogisticCalibrator:
        xs, ys = as_pair(x, y, min_n=1, what="calibration")
        self.n_fit = int(xs.size)
        self.fit_, self.coef_, self.reason = None, None, None
        try:
            self.fit_ = fit_logistic(xs, ys, 4, constrained=True, min_scale=self.min_scale)
            self.method = "logistic4"
            return self
        except MetricError as e:
            if not self.fallback:
                raise
            self.reason = str(e)
        if xs.size >= 2 and np.ptp(xs) > 0:
            slope, icpt = np.polyfit(xs, ys, 1)
            self.coef_ = (float(slope), float(icpt))
            self.method = "linear"
        else:
            self.coef_ = (0.0, float(ys.mean()))
            self.method = "constant"
        return self

    def predict(self, x) -> np.ndarray:
        if self.method is None:
            raise RuntimeError("LogisticCalibrator.predict called before fit")
        xs = np.asarray(x, dtype=float)
        if self.fit_ is not None:
            return self.fit_(xs)
        assert self.coef_ is not None
        return self.coef_[0] * xs + self.coef_[1]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"estimator": type(self).__name__, "method": self.method, "n_fit": self.n_fit}
        if self.fit_ is not None:
            d["params"] = list(self.fit_.params)
        if self.coef_ is not None:
            d["params"] = list(self.coef_)
        if self.reason:
            d["fallback_reason"] = self.reason
        return d
