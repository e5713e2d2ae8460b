"""Fitting a calibration of a model's score to the user's own MOS scale: every map cross-validated, one chosen,
fitted on all labels (`fit_calibration`); the result is a `vqual.calibration.Calibration`, the file that scoring
loads and applies.

`fit_calibration` cross-validates every method (`vqual.adapt.maps`: linear, logistic, isotonic) on the labels
(k-fold, k = min(5, n // 5), folds seeded and grouped by content id, `vqual.adapt.folds`; at least `MIN_LABELS`
labels), fits the chosen one on all labels, and returns a `Calibration`. Selection rule (``--method auto``): among
the methods, simplest first (linear, logistic, isotonic), take the first whose out-of-fold mean squared error exceeds
the lowest one by at most one standard error of the paired per-item difference of squared errors. So a method with
more freedom is chosen only when it predicts held-out labels measurably better; on few labels that is usually the
line or the logistic.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from vqual.adapt.folds import content_ids, kfold_indices, n_folds
from vqual.adapt.maps import make_map
from vqual.calibration import METHODS, Calibration
from vqual.errors import CalibrationError
from vqual.eval.metrics import MetricError, as_pair
from vqual.lazy import LazyModule
from vqual.result import Scale

if TYPE_CHECKING:
    from vqual.models.base import Scorer

stats = LazyModule("scipy.stats")

#: Fewest labels a calibration is fitted on (below this, cross-validation says nothing).
MIN_LABELS = 10


# --- cross-validation and selection -------------------------------------------------------------------------------

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

    Folds: `vqual.adapt.folds.kfold_indices` (seeded, every content id in one fold), k = min(5, n // 5).
    """
    xs, ys = as_pair(x, y, min_n=1, what="calibration")
    g = np.asarray(content_ids(groups, xs.size), dtype=object)
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


# --- fitting ----------------------------------------------------------------------------------------------------

def fit_calibration(x, y, *, model: Scorer, scale: Scale, method: str = "auto", groups: Sequence[str] | None = None,
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
                       weights_sha256=model.weights_sha256, method=chosen, map=fitted,
                       x_min_=float(xs.min()), x_max_=float(xs.max()), scale=replace(scale), n_labels=int(xs.size),
                       label_min=lo, label_max=hi, selected_by="cross-validation" if method == "auto" else "user",
                       cv=cv, labels_file=labels_file, n_failed=n_failed, n_skipped=n_skipped, warnings=warnings,
                       created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
