"""Calibration of a model's score to the user's own MOS scale: monotone maps, chosen by cross-validation, saved as
versioned JSON and applied to results.

The maps (scikit-learn style: ``fit(x, y) -> self``, ``predict(x)``, learned attributes end in ``_``, and
``to_dict()`` / ``from_dict()`` for exact JSON round trips):

- `LinearMap`: least-squares line;
- `LogisticMap`: the VQEG 4-parameter logistic, least squares with bounded parameters (`fit_logistic` with
  ``constrained=True``); falls back to a line when the fit fails (too few or degenerate points). It is also the
  calibrator that ``vqual eval`` fits inside each fold (`vqual.eval.calibration.LogisticCalibrator` is this class);
- `IsotonicMap`: weighted isotonic regression by pool-adjacent-violators, linear interpolation between the fitted
  points and flat extrapolation beyond them.

What is mapped: the model's uncalibrated 1-5 ``score`` (not ``raw_score``): it exists for every model, it is
higher-is-better for every model (NIQE's raw value is a distance, lower is better), so one calibration format serves
all models.

`fit_calibration` cross-validates every method on the labels (k-fold, k = min(5, n // 5), folds seeded and grouped
by content id; at least `MIN_LABELS` labels), fits the chosen one on all labels, and returns a `Calibration`.
Selection rule (``--method auto``): among the methods, simplest first (linear, logistic, isotonic), take the first
whose out-of-fold mean squared error exceeds the lowest one by at most one standard error of the paired per-item
difference of squared errors. So a method with more freedom is chosen only when it predicts held-out labels
measurably better; on few labels that is usually the line or the logistic.

Applying (`Calibration.apply`): the model's score is clipped to the range seen in fitting (``x_min_``, ``x_max_``),
flagged ``clipped_to_calibrated_range`` when it was outside; the mapped value is clipped to the scale's declared
range (flag ``clipped_to_scale``). ``score`` becomes the calibrated value, ``score_100`` its position on the scale
(0-100, 100 = best), ``uncalibrated_score`` keeps the model's 1-5 value, ``scale`` names the scale, and
``provenance.calibration_id`` the calibration. Timeline seconds are mapped the same way. ``level``, ``level_probs``
and ``uncertainty`` stay the model's (the levels are the model's 1-5 ACR levels; the uncertainty is on 1-5).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from vqual import __version__
from vqual.errors import CalibrationError
from vqual.eval.metrics import LogisticFit, MetricError, as_pair, fit_logistic
from vqual.lazy import LazyModule
from vqual.result import (
    FLAG_CLIPPED_INPUT,
    FLAG_CLIPPED_SCALE,
    FLAG_CLIPPED_TIMELINE,
    Moment,
    QualityResult,
    Scale,
)

stats = LazyModule("scipy.stats")  # fitting needs it, applying a calibration does not

#: Schema of the saved JSON.
SCHEMA = "vqual.calibration/1"
#: Methods, simplest first: the order in which the selection rule prefers them.
METHODS = ("linear", "logistic", "isotonic")
#: Fewest labels a calibration is fitted on (below this, cross-validation says nothing).
MIN_LABELS = 10
#: Cross-validation: at most this many folds, and at least this many labels per fold: k = min(5, n // 5).
MAX_FOLDS = 5
MIN_PER_FOLD = 5
#: What the maps take as input: the model's uncalibrated 1-5 score.
INPUT = "score"


# --- estimators ---------------------------------------------------------------------------------------------------

class MonotoneMap(Protocol):
    """What a calibrator offers (the eval protocols need only fit / predict / to_dict)."""

    def fit(self, x, y) -> MonotoneMap: ...

    def predict(self, x) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


MapFactory = Callable[[], MonotoneMap]


def _not_fitted(obj: Any) -> RuntimeError:
    return RuntimeError(f"{type(obj).__name__}.predict called before fit")


def _increasing(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether y tends to rise with x (Spearman's rho >= 0; True when either is constant)."""
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return True
    rho = float(stats.spearmanr(x, y).statistic)
    return not (rho < 0)


class LinearMap:
    """Least-squares line ``y = coef_ * x + intercept_``; the mean label (``method`` ``constant``) when x does not
    vary."""

    name: ClassVar[str] = "linear"

    def __init__(self) -> None:
        self.form_: str | None = None  # "linear" or "constant"
        self.coef_: float | None = None
        self.intercept_: float | None = None
        self.n_fit_ = 0

    @property
    def method(self) -> str | None:
        """The fitted form: ``linear`` or ``constant`` (None before fit)."""
        return self.form_

    def fit(self, x, y) -> LinearMap:
        xs, ys = as_pair(x, y, min_n=1, what="linear fit")
        self.n_fit_ = int(xs.size)
        if xs.size >= 2 and np.ptp(xs) > 0:
            slope, icpt = np.polyfit(xs, ys, 1)
            self.form_, self.coef_, self.intercept_ = "linear", float(slope), float(icpt)
        else:
            self.form_, self.coef_, self.intercept_ = "constant", 0.0, float(ys.mean())
        return self

    def predict(self, x) -> np.ndarray:
        if self.coef_ is None or self.intercept_ is None:
            raise _not_fitted(self)
        return self.coef_ * np.asarray(x, dtype=float) + self.intercept_

    def to_dict(self) -> dict[str, Any]:
        return {"estimator": type(self).__name__, "method": self.form_, "n_fit": self.n_fit_,
                "params": [self.coef_, self.intercept_]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearMap:
        m = cls()
        m.coef_, m.intercept_ = (float(v) for v in d["params"])
        m.form_ = str(d["method"])
        if m.form_ not in ("linear", "constant"):
            raise ValueError(f"LinearMap: bad method {m.form_!r}")
        m.n_fit_ = int(d["n_fit"])
        return m


class LogisticMap:
    """Monotone map by the VQEG 4-parameter logistic, ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``.

    Least squares with the constraints of `fit_logistic` (``constrained=True``: bounded asymptotes, a scale of at
    least `min_scale` standard deviations of x) so that a fit on a few noisy labels does not collapse into a step.
    If the fit fails (fewer than 5 points, constant values, no convergence) it falls back to a least-squares line
    (``method`` ``linear``, ``fallback_reason_`` says why), or to the mean label if x is constant (``constant``).
    Learned: ``params_`` (b1..b4, or slope and intercept), ``fit_`` (the `LogisticFit`), ``n_fit_``.
    """

    name: ClassVar[str] = "logistic"

    def __init__(self, fallback: bool = True, min_scale: float = 0.25):
        self.fallback = fallback
        self.min_scale = min_scale
        self.form_: str | None = None  # "logistic4", "linear" or "constant"
        self.params_: tuple[float, ...] | None = None
        self.fallback_reason_: str | None = None
        self.n_fit_ = 0

    @property
    def method(self) -> str | None:
        """The fitted form: ``logistic4``, or ``linear`` / ``constant`` after a fallback (None before fit)."""
        return self.form_

    @property
    def fit_(self) -> LogisticFit | None:
        return LogisticFit(4, self.params_) if self.form_ == "logistic4" and self.params_ is not None else None

    @property
    def coef_(self) -> tuple[float, float] | None:
        """The fallback line (slope, intercept), if the logistic was not fitted."""
        if self.form_ in ("linear", "constant") and self.params_ is not None:
            return (self.params_[0], self.params_[1])
        return None

    @property
    def reason(self) -> str | None:  # the name `vqual.eval` used
        return self.fallback_reason_

    def fit(self, x, y) -> LogisticMap:
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
        if xs.size >= 2 and np.ptp(xs) > 0:
            slope, icpt = np.polyfit(xs, ys, 1)
            self.form_, self.params_ = "linear", (float(slope), float(icpt))
        else:
            self.form_, self.params_ = "constant", (0.0, float(ys.mean()))
        return self

    def predict(self, x) -> np.ndarray:
        if self.form_ is None or self.params_ is None:
            raise _not_fitted(self)
        xs = np.asarray(x, dtype=float)
        if self.form_ == "logistic4":
            return LogisticFit(4, self.params_)(xs)
        return self.params_[0] * xs + self.params_[1]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"estimator": type(self).__name__, "method": self.form_, "n_fit": self.n_fit_,
                             "params": None if self.params_ is None else list(self.params_),
                             "min_scale": self.min_scale}
        if self.fallback_reason_:
            d["fallback_reason"] = self.fallback_reason_
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogisticMap:
        m = cls(min_scale=float(d.get("min_scale", 0.25)))
        m.form_ = str(d["method"])
        m.params_ = tuple(float(v) for v in d["params"])
        if m.form_ not in ("logistic4", "linear", "constant") or len(m.params_) != (4 if m.form_ == "logistic4"
                                                                                  else 2):
            raise ValueError(f"LogisticMap: bad method/params {m.form_!r} {list(m.params_)}")
        m.n_fit_ = int(d["n_fit"])
        m.fallback_reason_ = d.get("fallback_reason")
        return m


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


class IsotonicMap:
    """Isotonic regression: the monotone step function closest to the labels in least squares (PAV), with linear
    interpolation between the fitted points and flat extrapolation beyond the first and last.

    Ties in x are pooled first (their labels averaged, weighted by count). `increasing` ``"auto"`` follows the sign
    of Spearman's rho between x and y. Learned: ``x_`` / ``y_`` (the fitted points; interior points of flat runs
    are dropped, which leaves the interpolant unchanged), ``increasing_``, ``n_fit_``.
    """

    name: ClassVar[str] = "isotonic"

    def __init__(self, increasing: bool | str = "auto"):
        if increasing not in (True, False, "auto"):
            raise ValueError(f"increasing must be True, False or 'auto', not {increasing!r}")
        self.increasing = increasing
        self.x_: np.ndarray | None = None
        self.y_: np.ndarray | None = None
        self.increasing_: bool | None = None
        self.n_fit_ = 0

    @property
    def method(self) -> str | None:
        return None if self.x_ is None else "isotonic"

    def fit(self, x, y, sample_weight=None) -> IsotonicMap:
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

    def predict(self, x) -> np.ndarray:
        if self.x_ is None or self.y_ is None:
            raise _not_fitted(self)
        return np.interp(np.asarray(x, dtype=float), self.x_, self.y_)

    def to_dict(self) -> dict[str, Any]:
        return {"estimator": type(self).__name__, "method": self.method, "n_fit": self.n_fit_,
                "increasing": self.increasing_,
                "x": None if self.x_ is None else [float(v) for v in self.x_],
                "y": None if self.y_ is None else [float(v) for v in self.y_]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IsotonicMap:
        m = cls(increasing=bool(d["increasing"]))
        m.x_ = np.asarray([float(v) for v in d["x"]], dtype=float)
        m.y_ = np.asarray([float(v) for v in d["y"]], dtype=float)
        if m.x_.size == 0 or m.x_.shape != m.y_.shape or np.any(np.diff(m.x_) <= 0):
            raise ValueError("IsotonicMap: x must be strictly increasing and as long as y")
        m.increasing_, m.n_fit_ = bool(d["increasing"]), int(d["n_fit"])
        return m


ESTIMATORS: dict[str, type] = {"linear": LinearMap, "logistic": LogisticMap, "isotonic": IsotonicMap}


def make_map(method: str) -> Any:
    """A new, unfitted map of one of `METHODS`."""
    if method not in ESTIMATORS:
        raise CalibrationError(f"unknown calibration method {method!r} (known: {', '.join(METHODS)}, auto)")
    return ESTIMATORS[method]()


def map_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild a fitted map from its ``to_dict()`` (dispatching on ``estimator``)."""
    by_class = {cls.__name__: cls for cls in ESTIMATORS.values()}
    cls = by_class.get(str(d.get("estimator")))
    if cls is None:
        raise ValueError(f"unknown estimator {d.get('estimator')!r}")
    return cls.from_dict(d)


# --- cross-validation and selection -------------------------------------------------------------------------------

def n_folds(n: int, n_groups: int | None = None) -> int:
    """k = min(5, n // 5) (and at most the number of distinct contents)."""
    k = min(MAX_FOLDS, n // MIN_PER_FOLD)
    return min(k, n_groups) if n_groups is not None else k


def _corr(fn: Callable, a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    v = float(fn(a, b).statistic)
    return v if math.isfinite(v) else None


def check_labels(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> int:
    """Raise `CalibrationError` unless the labels can be cross-validated; returns k."""
    n = int(x.size)
    if n < MIN_LABELS:
        raise CalibrationError(f"a calibration needs at least {MIN_LABELS} labelled files that the model scored, "
                               f"got {n}")
    if np.ptp(y) == 0:
        raise CalibrationError(f"all {n} labels are equal ({y[0]:g}): there is no scale to map to")
    if np.ptp(x) == 0:
        raise CalibrationError(f"the model gives every one of the {n} labelled files the same score ({x[0]:g}): "
                               "no map can be fitted")
    n_groups = int(np.unique(groups.astype(str)).size)
    k = n_folds(n, n_groups)
    if k < 2:
        raise CalibrationError(f"cross-validation needs at least 2 distinct contents, got {n_groups}")
    return k


def cross_validate(x, y, *, groups: Sequence[str] | None = None, seed: int = 0,
                   methods: Sequence[str] = METHODS) -> dict[str, Any]:
    """Out-of-fold figures of each method: ``k``, ``seed``, and per method ``srcc`` / ``plcc`` / ``rmse`` of the
    pooled out-of-fold predictions, ``rmse_folds`` (per fold), and ``sq_err`` (per item, for `select_method`).

    Folds: `vqual.eval.protocols.kfold_indices` (seeded, every content id in one fold), k = min(5, n // 5).
    """
    from vqual.eval.protocols import kfold_indices  # here: vqual.eval.protocols imports this module

    xs, ys = as_pair(x, y, min_n=1, what="calibration")
    g = np.asarray(groups if groups is not None else [str(i) for i in range(xs.size)], dtype=object)
    if g.size != xs.size:
        raise CalibrationError(f"{g.size} content ids for {xs.size} labels")
    k = check_labels(xs, ys, g)
    folds = kfold_indices(g, k, seed)
    every = np.arange(xs.size)
    out: dict[str, Any] = {"k": k, "seed": seed, "grouping": "content_id", "methods": {}}
    for name in methods:
        pred = np.empty_like(ys)
        fold_rmse = []
        for test in folds:
            train = np.setdiff1d(every, test)
            m = make_map(name).fit(xs[train], ys[train])
            pred[test] = m.predict(xs[test])
            fold_rmse.append(float(np.sqrt(np.mean((pred[test] - ys[test]) ** 2))))
        sq = (pred - ys) ** 2
        out["methods"][name] = {"srcc": _corr(stats.spearmanr, pred, ys), "plcc": _corr(stats.pearsonr, pred, ys),
                                "rmse": float(np.sqrt(sq.mean())), "rmse_folds": fold_rmse, "sq_err": sq}
    out["uncalibrated"] = {"srcc": _corr(stats.spearmanr, xs, ys), "plcc": _corr(stats.pearsonr, xs, ys)}
    return out


SELECTION_RULE = ("the simplest of linear, logistic, isotonic whose out-of-fold mean squared error is within one "
                  "standard error (of the paired per-item difference) of the lowest")


def select_method(cv: dict[str, Any]) -> str:
    """Apply `SELECTION_RULE` to the output of `cross_validate`."""
    errs = {m: np.asarray(v["sq_err"], dtype=float) for m, v in cv["methods"].items()}
    best = min(errs, key=lambda m: (float(errs[m].mean()), METHODS.index(m)))
    for m in METHODS:
        if m not in errs:
            continue
        d = errs[m] - errs[best]
        se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
        if float(d.mean()) <= se:
            return m
    return best


# --- the calibration ----------------------------------------------------------------------------------------------

def _slug(s: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "-", s).strip("-.") or "calibration"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _describe(name: str, version: str, sha: str | None) -> str:
    return f"{name} {version} (weights sha256 {sha[:12] if sha else 'none'})"


@dataclass
class Calibration:
    """A fitted map from one model's uncalibrated 1-5 score to a user's scale, with its provenance.

    ``id`` = ``<name>-<first 12 hex of the sha256 of the canonical JSON of what defines the map>`` (model, input
    range, scale, method, fitted parameters); dates, label counts and CV figures do not change it.
    """

    name: str  # the calibration's (and by default the scale's) name, e.g. the output file's stem
    model: str  # the model it was made for
    model_version: str
    weights_sha256: str | None
    method: str  # one of METHODS
    map: Any  # the fitted LinearMap / LogisticMap / IsotonicMap
    x_min_: float  # range of the model's score seen in fitting; inputs are clipped to it
    x_max_: float
    scale: Scale  # the user's scale: name, declared range, direction
    n_labels: int  # labels the map was fitted on
    label_min: float  # lowest and highest label seen
    label_max: float
    selected_by: str = "cross-validation"  # or "user" (--method named)
    cv: dict[str, Any] = field(default_factory=dict)  # k, seed, rule, per-method srcc / plcc / rmse / rmse_folds
    labels_file: str | None = None  # name of the label file (no folders)
    n_failed: int = 0  # labelled files the model could not score
    n_skipped: int = 0  # labels skipped when loading (missing media, duplicates, bad values)
    warnings: list[str] = field(default_factory=list)
    created: str = ""  # ISO 8601 UTC
    vqual_version: str = __version__
    path: str | None = field(default=None, compare=False)  # where it was loaded from / saved to (not saved)

    # --- identity ---------------------------------------------------------------------------------------------
    def _defining(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "model": self._model_block(), "input": self._input_block(),
                "scale": self._scale_block(), "method": self.method, "map": self.map.to_dict()}

    @property
    def id(self) -> str:
        digest = hashlib.sha256(_canonical(self._defining()).encode("utf-8")).hexdigest()
        return f"{_slug(self.name)}-{digest[:12]}"

    def _model_block(self) -> dict[str, Any]:
        return {"name": self.model, "version": self.model_version, "weights_sha256": self.weights_sha256}

    def _input_block(self) -> dict[str, Any]:
        return {"quantity": INPUT, "scale": "mos-1-5", "x_min": self.x_min_, "x_max": self.x_max_}

    def _scale_block(self) -> dict[str, Any]:
        return {"name": self.scale.name, "min": float(self.scale.min), "max": float(self.scale.max),  # as loaded
                "higher_is_better": self.scale.higher_is_better}

    @property
    def where(self) -> str:
        return self.path if self.path else f"calibration {self.id}"

    def describe(self) -> str:
        """One line: id, scale and model."""
        s = self.scale
        direction = "higher is better" if s.higher_is_better else "lower is better"
        return (f"{self.id}: {self.method} map to {s.name} ({s.min:g}-{s.max:g}, {direction}) for "
                f"{self.model} {self.model_version}, {self.n_labels} labels")

    # --- JSON ---------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        cv = {k: v for k, v in self.cv.items() if k != "methods"}
        cv["methods"] = {m: {k: v for k, v in fig.items() if k != "sq_err"}
                         for m, fig in self.cv.get("methods", {}).items()}
        return {"schema": SCHEMA, "id": self.id, "name": self.name, "model": self._model_block(),
                "input": self._input_block(), "scale": self._scale_block(), "method": self.method,
                "selected_by": self.selected_by, "map": self.map.to_dict(),
                "labels": {"file": self.labels_file, "n_labels": self.n_labels, "n_failed": self.n_failed,
                           "n_skipped": self.n_skipped, "min": self.label_min, "max": self.label_max},
                "cv": cv, "warnings": list(self.warnings), "created": self.created,
                "vqual_version": self.vqual_version}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, path: str | None = None) -> Calibration:
        """Rebuild from `to_dict` output; raises `CalibrationError` (naming `path`) if it is not one."""
        where = path or "calibration"
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            got = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise CalibrationError(f"{where}: not a vqual calibration (schema {got!r}, expected {SCHEMA!r})")
        try:
            mdl, inp, sc, lab = d["model"], d["input"], d["scale"], d["labels"]
            if inp.get("quantity", INPUT) != INPUT:
                raise ValueError(f"input {inp.get('quantity')!r} is not {INPUT!r}")
            cal = cls(name=str(d["name"]), model=str(mdl["name"]), model_version=str(mdl["version"]),
                      weights_sha256=mdl.get("weights_sha256"), method=str(d["method"]), map=map_from_dict(d["map"]),
                      x_min_=float(inp["x_min"]), x_max_=float(inp["x_max"]),
                      scale=Scale(name=str(sc["name"]), min=float(sc["min"]), max=float(sc["max"]),
                                  higher_is_better=bool(sc["higher_is_better"])),
                      n_labels=int(lab["n_labels"]), label_min=float(lab["min"]), label_max=float(lab["max"]),
                      selected_by=str(d.get("selected_by", "")), cv=dict(d.get("cv") or {}),
                      labels_file=lab.get("file"), n_failed=int(lab.get("n_failed", 0)),
                      n_skipped=int(lab.get("n_skipped", 0)), warnings=list(d.get("warnings") or []),
                      created=str(d.get("created", "")), vqual_version=str(d.get("vqual_version", "")), path=path)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            detail = f"missing {e}" if isinstance(e, KeyError) else str(e)
            raise CalibrationError(f"{where}: malformed calibration ({detail})") from None
        if cal.method not in METHODS:
            raise CalibrationError(f"{where}: unknown calibration method {cal.method!r}")
        if not (cal.scale.max > cal.scale.min) or not (cal.x_max_ >= cal.x_min_):
            raise CalibrationError(f"{where}: malformed calibration (empty scale or input range)")
        if d.get("id") != cal.id:
            raise CalibrationError(f"{where}: its id {d.get('id')!r} does not match its content ({cal.id}); "
                                   "was it edited by hand? Fit it again with `vqual calibrate`")
        return cal

    def save(self, path: str | Path) -> Path:
        """Write the JSON atomically (a temporary file renamed into place)."""
        from vqual.output import AtomicOutput

        sink = AtomicOutput(str(path))
        try:
            sink.stream.write(self.to_json())
            sink.commit()
        except BaseException:
            sink.abort()
            raise
        self.path = str(path)
        return Path(path)

    # --- applying -----------------------------------------------------------------------------------------------
    def check_model(self, model: Any) -> None:
        """Raise `CalibrationError` unless `model` (name, version, weights sha256) is the one this was made for."""
        self._check_identity(str(getattr(model, "name", "")), str(getattr(model, "version", "")),
                             getattr(model, "weights_sha256", None))

    def _check_identity(self, name: str, version: str, sha: str | None) -> None:
        if (name, version, sha) != (self.model, self.model_version, self.weights_sha256):
            raise CalibrationError(
                f"{self.where}: this calibration was made for "
                f"{_describe(self.model, self.model_version, self.weights_sha256)}, not "
                f"{_describe(name, version, sha)}; fit one for this model with `vqual calibrate --model {name}`")

    def map_scores(self, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated values of model scores `x`, and masks of the inputs clipped to the fitted range and of the
        outputs clipped to the scale."""
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        xc = np.clip(xs, self.x_min_, self.x_max_)
        y = np.asarray(self.map.predict(xc), dtype=float)
        yc = np.clip(y, self.scale.min, self.scale.max)
        return yc, (xs < self.x_min_) | (xs > self.x_max_), y != yc

    def transform(self, x) -> np.ndarray:
        """Calibrated values of model scores `x` (clipped as `map_scores` says)."""
        return self.map_scores(x)[0]

    def __call__(self, score: float) -> float:
        return float(self.transform([score])[0])

    def apply(self, result: QualityResult) -> QualityResult:
        """A copy of `result` (the model's own, uncalibrated) on this calibration's scale; see the module doc."""
        prov = result.provenance
        if prov.calibration_id is not None:
            raise CalibrationError(f"{result.path}: already calibrated ({prov.calibration_id}); "
                                   f"cannot apply {self.id} on top")
        self._check_identity(prov.model, prov.model_version, prov.weights_sha256)
        y, cin, cout = self.map_scores([result.score])
        flags = list(result.flags)
        if cin[0]:
            flags.append(FLAG_CLIPPED_INPUT)
        if cout[0]:
            flags.append(FLAG_CLIPPED_SCALE)
        timeline, worst = result.timeline, result.worst
        if timeline or worst:
            seconds = list(timeline or []) + list(worst or [])
            ys, tin, tout = self.map_scores([m.score for m in seconds])

            def moved(m: Moment, v: float) -> Moment:
                return replace(m, score=float(v), uncalibrated_score=float(m.score))

            mapped = [moved(m, v) for m, v in zip(seconds, ys)]
            nt = len(timeline or [])
            timeline = mapped[:nt] if timeline is not None else None
            worst = mapped[nt:] if worst is not None else None
            if tin[:nt].any():
                flags.append(FLAG_CLIPPED_TIMELINE)
        score = float(y[0])
        return replace(result, score=score, score_100=self.scale.to_100(score), uncalibrated_score=float(result.score),
                       scale=replace(self.scale), flags=list(dict.fromkeys(flags)),
                       provenance=replace(prov, calibration_id=self.id), timeline=timeline, worst=worst)


def load_calibration(path: str | Path) -> Calibration:
    """Read a saved calibration; `CalibrationError` (naming the file) if it is missing, unreadable or not one."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"{path}: calibration file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CalibrationError(f"{path}: cannot read the calibration ({e})") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise CalibrationError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    return Calibration.from_dict(d, path=str(path))


def as_calibration(obj: Calibration | str | Path) -> Calibration:
    """A `Calibration` as given, or loaded from a path."""
    return obj if isinstance(obj, Calibration) else load_calibration(obj)


def fit_calibration(x, y, *, model: Any, scale: Scale, method: str = "auto", groups: Sequence[str] | None = None,
                    seed: int = 0, name: str | None = None, labels_file: str | None = None, n_failed: int = 0,
                    n_skipped: int = 0) -> Calibration:
    """Fit a `Calibration` of `model` (anything with ``name``, ``version``, ``weights_sha256``) from its
    uncalibrated 1-5 scores `x` to labels `y` on `scale`.

    Every method is cross-validated (figures saved); `method` ``"auto"`` picks one by `SELECTION_RULE`, otherwise
    the named one is used. The chosen map is then fitted on all labels. `groups` are content ids (items of one
    content never straddle folds). Raises `CalibrationError` for too few (< `MIN_LABELS`) or degenerate labels.
    """
    if method != "auto" and method not in METHODS:
        raise CalibrationError(f"unknown calibration method {method!r} (known: {', '.join(METHODS)}, auto)")
    if not scale.max > scale.min:
        raise CalibrationError(f"scale {scale.name!r}: the range must have min < max, got {scale.min:g}-{scale.max:g}")
    try:
        xs, ys = as_pair(x, y, min_n=1, what="calibration")
    except MetricError as e:
        raise CalibrationError(str(e)) from None
    cv = cross_validate(xs, ys, groups=groups, seed=seed)
    cv["rule"] = SELECTION_RULE
    cv["best_rmse"] = min(cv["methods"], key=lambda m: cv["methods"][m]["rmse"])
    chosen = select_method(cv) if method == "auto" else method
    fitted = make_map(chosen).fit(xs, ys)
    warnings: list[str] = []
    rho = cv["uncalibrated"]["srcc"]
    if rho is not None and (rho < 0) == scale.higher_is_better:
        hint = "--lower-better" if scale.higher_is_better else "no --lower-better"
        way = "fall" if rho < 0 else "rise"
        warnings.append(f"the labels {way} as the model's score rises (SRCC {rho:.2f}) although the scale says "
                        f"{'higher' if scale.higher_is_better else 'lower'} is better: check the direction ({hint}?)")
    if chosen == "logistic" and fitted.fallback_reason_:
        warnings.append(f"the logistic fit fell back to a {fitted.method} map: {fitted.fallback_reason_}")
    lo, hi = float(ys.min()), float(ys.max())
    if lo < scale.min or hi > scale.max:
        warnings.append(f"labels {lo:g}-{hi:g} lie outside the declared scale {scale.min:g}-{scale.max:g}; "
                        "calibrated scores are clipped to the scale")
    return Calibration(name=name or scale.name, model=str(model.name), model_version=str(model.version),
                       weights_sha256=getattr(model, "weights_sha256", None), method=chosen, map=fitted,
                       x_min_=float(xs.min()), x_max_=float(xs.max()), scale=replace(scale), n_labels=int(xs.size),
                       label_min=lo, label_max=hi, selected_by="cross-validation" if method == "auto" else "user",
                       cv=cv, labels_file=labels_file, n_failed=n_failed, n_skipped=n_skipped, warnings=warnings,
                       created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
