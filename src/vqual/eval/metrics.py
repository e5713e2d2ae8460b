"""Agreement between predictions and human scores: SRCC, KRCC, PLCC, RMSE, the VQEG logistic maps, level accuracy.

Conventions:

- SRCC = Spearman's rho, KRCC = Kendall's tau-b, PLCC = Pearson's r (``scipy.stats``); RMSE on the scale given.
- "mapped" metrics (suffix ``_l4`` / ``_l5``) first fit the VQEG logistic from the predictions to the MOS *on the
  evaluated set itself* (``scipy.optimize.curve_fit``) and score the mapped predictions, as VQEG and the LIVE
  papers do; the fitted parameters are returned with them.

  * 4 parameters (VQEG): ``f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``
  * 5 parameters (Sheikh et al. 2006): ``f(x) = b1 * (0.5 - 1 / (1 + exp(b2 * (x - b3)))) + b4 * x + b5``

- level accuracy: 3 levels (poor / fair / good) split at the tertiles of the MOS of the evaluated set, as in
  LMM-VQA; 5 levels (bad / poor / fair / good / excellent) split at 1.5, 2.5, 3.5, 4.5 on the 1-5 scale. The same
  thresholds classify the MOS and the predictions, so predictions must be on the MOS scale (calibrated).
- confidence intervals (`bootstrap_ci`): percentile bootstrap over items (or over contents when a content has
  several items), seeded.

Bad input raises `MetricError` (a `ValueError`) with a message that says what is wrong: mismatched lengths, fewer
items than the metric needs, NaN / inf values, or constant predictions (a correlation is undefined).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vqual.calibration import logistic4
from vqual.errors import VqualError
from vqual.lazy import LazyModule
from vqual.levels import LEVEL_BOUNDS, LEVELS_ASCENDING

# Imported on first use: `vqual.adapt` builds on this module and needs scipy only when it fits.
optimize = LazyModule("scipy.optimize")
stats = LazyModule("scipy.stats")

LEVELS3 = ("poor", "fair", "good")
LEVELS5 = LEVELS_ASCENDING  # the five levels, worst first, split at LEVEL_BOUNDS
THRESHOLDS5 = LEVEL_BOUNDS


class MetricError(VqualError, ValueError):
    """A metric cannot be computed on this input; the message says why."""


class LogisticFitError(MetricError):
    """`curve_fit` did not converge (or gave a non-finite map) for the logistic mapping."""


def as_pair(pred: Sequence[float] | np.ndarray, mos: Sequence[float] | np.ndarray, *, min_n: int = 2,
            what: str = "metric") -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert predictions and MOS to float arrays of equal length >= `min_n`, all finite."""
    p = np.asarray(pred, dtype=float).ravel()
    m = np.asarray(mos, dtype=float).ravel()
    if p.shape != m.shape:
        raise MetricError(f"{what}: predictions and MOS differ in length ({p.size} vs {m.size})")
    if p.size < min_n:
        raise MetricError(f"{what}: needs at least {min_n} items, got {p.size}")
    for arr, name in ((p, "predictions"), (m, "MOS")):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = int(np.argmax(bad))
            raise MetricError(f"{what}: {int(bad.sum())} of the {name} are NaN or infinite (first at index {first})")
    return p, m


def _check_varies(p: np.ndarray, m: np.ndarray, what: str) -> None:
    if np.ptp(p) == 0:
        raise MetricError(f"{what}: the predictions are constant ({p[0]:g} for all {p.size} items), "
                          "so a correlation is undefined")
    if np.ptp(m) == 0:
        raise MetricError(f"{what}: the MOS are constant ({m[0]:g} for all {m.size} items), "
                          "so a correlation is undefined")


def srcc(pred, mos) -> float:
    """Spearman rank-order correlation (``scipy.stats.spearmanr``)."""
    p, m = as_pair(pred, mos, what="SRCC")
    _check_varies(p, m, "SRCC")
    return float(stats.spearmanr(p, m).statistic)


def krcc(pred, mos) -> float:
    """Kendall rank-order correlation, tau-b (``scipy.stats.kendalltau``)."""
    p, m = as_pair(pred, mos, what="KRCC")
    _check_varies(p, m, "KRCC")
    return float(stats.kendalltau(p, m).statistic)


def plcc(pred, mos) -> float:
    """Pearson linear correlation (``scipy.stats.pearsonr``)."""
    p, m = as_pair(pred, mos, what="PLCC")
    _check_varies(p, m, "PLCC")
    return float(stats.pearsonr(p, m).statistic)


def rmse(pred, mos) -> float:
    """Root mean squared error (defined for constant predictions; needs at least 1 item)."""
    p, m = as_pair(pred, mos, min_n=1, what="RMSE")
    return float(np.sqrt(np.mean((p - m) ** 2)))


# --- logistic mappings --------------------------------------------------------------------------------------------

def logistic5(x, b1: float, b2: float, b3: float, b4: float, b5: float):
    """5-parameter logistic with a linear term: ``b1 * (0.5 - 1 / (1 + exp(b2 * (x - b3)))) + b4 * x + b5``."""
    x = np.asarray(x, dtype=float)
    z = np.clip(b2 * (x - b3), -500.0, 500.0)
    return b1 * (0.5 - 1.0 / (1.0 + np.exp(z))) + b4 * x + b5


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic map; ``params`` apply to the predictions in their own units."""

    kind: int  # 4 or 5
    params: tuple[float, ...]

    def __call__(self, x) -> np.ndarray:
        f = logistic4 if self.kind == 4 else logistic5
        return np.asarray(f(np.asarray(x, dtype=float), *self.params), dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": f"logistic{self.kind}", "params": [float(v) for v in self.params]}


def _jac4(x, b1, b2, b3, b4):
    """Jacobian of `logistic4` for b4 > 0 (used by the bounded fit)."""
    s = 1.0 / (1.0 + np.exp(np.clip(-(x - b3) / b4, -500.0, 500.0)))
    ds = (b1 - b2) * s * (1.0 - s)
    return np.stack([s, 1.0 - s, -ds / b4, -ds * (x - b3) / b4 ** 2], axis=1)


def _jac5(x, b1, b2, b3, b4, b5):
    """Jacobian of `logistic5`."""
    e = np.exp(np.clip(b2 * (x - b3), -500.0, 500.0))
    q = 1.0 / (1.0 + e)
    dq = e * q * q  # d(-q)/d(argument)
    return np.stack([0.5 - q, b1 * dq * (x - b3), -b1 * dq * b2, x, np.ones_like(x)], axis=1)


_JAC = {4: _jac4, 5: _jac5}


def fit_logistic(pred, mos, kind: int = 4, *, maxfev: int = 1500, max_nfev_bounded: int = 300,
                 constrained: bool = False, min_scale: float = 0.25, start: LogisticFit | None = None) -> LogisticFit:
    """Fit the 4- or 5-parameter logistic from predictions to MOS with ``scipy.optimize.curve_fit``.

    The fit runs on standardised predictions (for conditioning) and the parameters are converted back, so they
    apply to the raw predictions. Raises `MetricError` on bad input and `LogisticFitError` if the fit fails.

    `constrained` (4 parameters only; used for calibration on few labels, not for the VQEG metrics): the
    asymptotes stay within half the MOS range beyond the observed MOS, the midpoint within 3 standard deviations
    of the mean prediction, and the scale is at least `min_scale` standard deviations of the predictions, so a
    handful of noisy labels cannot turn the map into a step (which would create ties and lose rank order).

    `start` (a fit of the same kind, e.g. on the full set when refitting bootstrap resamples): begin the bounded
    fit from its parameters instead of the default start, skipping Levenberg-Marquardt (far fewer evaluations).
    """
    if kind not in (4, 5):
        raise ValueError("kind must be 4 or 5")
    p, m = as_pair(pred, mos, min_n=kind + 1, what=f"logistic{kind} fit")
    _check_varies(p, m, f"logistic{kind} fit")
    mu, sd = float(p.mean()), float(p.std())
    z = (p - mu) / sd
    sign = 1.0 if np.corrcoef(z, m)[0, 1] >= 0 else -1.0
    lo, hi = float(m.min()), float(m.max())
    r = hi - lo
    if kind == 4:
        f, p0 = logistic4, [hi if sign > 0 else lo, lo if sign > 0 else hi, 0.0, 1.0]
        bounds = ([lo - 2 * r, lo - 2 * r, -10.0, 1e-3], [hi + 2 * r, hi + 2 * r, 10.0, 20.0])
    else:
        f, p0 = logistic5, [sign * r, 1.0, 0.0, 0.0, float(m.mean())]
        bounds = ([-10 * r, 1e-3, -10.0, -10 * r, lo - 10 * r], [10 * r, 50.0, 10.0, 10 * r, hi + 10 * r])
    if constrained:
        if kind != 4:
            raise ValueError("constrained fits are 4-parameter only")
        bounds = ([lo - r / 2, lo - r / 2, -3.0, min_scale], [hi + r / 2, hi + r / 2, 3.0, 20.0])
    if start is not None:
        if start.kind != kind:
            raise ValueError(f"start is a logistic{start.kind} fit, not logistic{kind}")
        q = start.params
        if kind == 4:
            z0 = [q[0], q[1], (q[2] - mu) / sd, q[3] / sd]
        else:
            z0 = [q[0], q[1] * sd, (q[2] - mu) / sd, q[3] * sd, q[4] + q[3] * mu]
        lo_b, hi_b = np.asarray(bounds[0], dtype=float), np.asarray(bounds[1], dtype=float)
        span = hi_b - lo_b
        p0 = list(np.clip(np.nan_to_num(np.asarray(z0, dtype=float)), lo_b + 1e-6 * span, hi_b - 1e-6 * span))
    # Levenberg-Marquardt first (fast when the data are clearly sigmoid); on nearly linear data the logistic
    # drifts towards degenerate parameters, so fall back to a bounded trust-region fit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if constrained or start is not None:
                raise RuntimeError("bounded fit only")
            popt, _ = optimize.curve_fit(f, z, m, p0=p0, maxfev=maxfev)
        except (RuntimeError, ValueError, optimize.OptimizeWarning):
            try:
                popt, _ = optimize.curve_fit(f, z, m, p0=p0, bounds=bounds, jac=_JAC[kind], max_nfev=max_nfev_bounded)
            except (RuntimeError, ValueError, optimize.OptimizeWarning) as e:
                raise LogisticFitError(f"logistic{kind} fit did not converge on {p.size} items ({e})") from None
    if not np.all(np.isfinite(popt)):
        raise LogisticFitError(f"logistic{kind} fit gave non-finite parameters on {p.size} items")
    if kind == 4:
        b1, b2, b3, b4 = popt
        params = (b1, b2, mu + sd * b3, sd * abs(b4))
    else:
        b1, b2, b3, b4, b5 = popt
        params = (b1, b2 / sd, mu + sd * b3, b4 / sd, b5 - b4 * mu / sd)
    fit = LogisticFit(kind, tuple(float(v) for v in params))
    if not np.all(np.isfinite(fit(p))):
        raise LogisticFitError(f"logistic{kind} fit gives non-finite values on {p.size} items")
    return fit


# --- level accuracy -----------------------------------------------------------------------------------------------

def tertile_thresholds(mos) -> tuple[float, float]:
    """The 1/3 and 2/3 quantiles of the MOS (the 3-level boundaries)."""
    m = np.asarray(mos, dtype=float)
    return float(np.quantile(m, 1 / 3)), float(np.quantile(m, 2 / 3))


def level_accuracy(pred, mos, n_levels: int = 3, thresholds: Sequence[float] | None = None) -> dict[str, Any]:
    """Classify MOS and predictions into levels with the same thresholds and compare.

    `n_levels` 3: tertiles of `mos` (poor < t1 <= fair < t2 <= good); 5: 1.5 / 2.5 / 3.5 / 4.5 on the 1-5 scale.
    Returns ``accuracy`` (total), ``per_class`` (recall of each true class; None for a class with no items),
    ``counts`` (true items per class), ``confusion`` (rows true, columns predicted), ``labels`` and ``thresholds``.
    """
    if n_levels not in (3, 5):
        raise ValueError("n_levels must be 3 or 5")
    p, m = as_pair(pred, mos, min_n=1, what=f"{n_levels}-level accuracy")
    if thresholds is None:
        thresholds = tertile_thresholds(m) if n_levels == 3 else THRESHOLDS5
    th = np.asarray(thresholds, dtype=float)
    if th.size != n_levels - 1:
        raise ValueError(f"{n_levels} levels need {n_levels - 1} thresholds, got {th.size}")
    labels = LEVELS3 if n_levels == 3 else LEVELS5
    t = np.searchsorted(th, m, side="right")
    q = np.searchsorted(th, p, side="right")
    conf = np.zeros((n_levels, n_levels), dtype=int)
    np.add.at(conf, (t, q), 1)
    counts = conf.sum(axis=1)
    per_class = {labels[k]: (float(conf[k, k] / counts[k]) if counts[k] else None) for k in range(n_levels)}
    return {"accuracy": float(np.trace(conf) / p.size), "per_class": per_class,
            "counts": {labels[k]: int(counts[k]) for k in range(n_levels)}, "confusion": conf.tolist(),
            "labels": list(labels), "thresholds": [float(x) for x in th]}


# --- all at once --------------------------------------------------------------------------------------------------

#: The flat metric names `evaluate` produces (besides ``n``), in table order.
METRIC_KEYS = ("srcc", "krcc", "plcc", "rmse", "srcc_l4", "krcc_l4", "plcc_l4", "rmse_l4",
               "srcc_l5", "krcc_l5", "plcc_l5", "rmse_l5", "acc3", "acc5")


def _basic(p: np.ndarray, m: np.ndarray) -> dict[str, float]:
    return {"srcc": float(stats.spearmanr(p, m).statistic), "krcc": float(stats.kendalltau(p, m).statistic),
            "plcc": float(stats.pearsonr(p, m).statistic), "rmse": float(np.sqrt(np.mean((p - m) ** 2)))}


def evaluate(pred, mos, *, mapped: bool | tuple[int, ...] = True, levels: bool = True) -> dict[str, Any]:
    """Every metric of predictions against MOS (both on the same scale, normally 1-5).

    Returns ``n``, ``srcc``, ``krcc``, ``plcc``, ``rmse`` on the predictions as given; with `mapped`, the same four
    after each logistic map (``srcc_l4`` ... ``rmse_l5``) and the maps under ``logistic4`` / ``logistic5``
    (``{"kind", "params"}``, or ``{"error": message}`` when a fit fails, with the mapped metrics then None);
    `mapped` may also name the maps to fit, e.g. ``(4,)``;
    with `levels`, ``acc3`` / ``acc5`` and the details under ``level3`` / ``level5``.
    Raises `MetricError` for invalid input (see the module docstring).
    """
    p, m = as_pair(pred, mos, min_n=2, what="evaluate")
    _check_varies(p, m, "evaluate")
    out: dict[str, Any] = {"n": int(p.size), **_basic(p, m)}
    kinds = (4, 5) if mapped is True else tuple(mapped or ())
    if kinds:
        for kind in kinds:
            sfx = f"_l{kind}"
            try:
                fit = fit_logistic(p, m, kind)
                mp = fit(p)
                if np.ptp(mp) == 0:
                    raise LogisticFitError(f"logistic{kind} fit is flat on {p.size} items")
                out.update({k + sfx: v for k, v in _basic(mp, m).items()})
                out[f"logistic{kind}"] = fit.to_dict()
            except MetricError as e:
                out.update({k + sfx: None for k in ("srcc", "krcc", "plcc", "rmse")})
                out[f"logistic{kind}"] = {"kind": f"logistic{kind}", "error": str(e)}
    if levels:
        l3 = level_accuracy(p, m, 3)
        l5 = level_accuracy(p, m, 5)
        out.update({"acc3": l3["accuracy"], "acc5": l5["accuracy"], "level3": l3, "level5": l5})
    return out


#: The metrics `bootstrap_ci` gives intervals for.
CI_KEYS = ("srcc", "krcc", "plcc", "rmse", "plcc_l4")


def _resample_metrics(p: np.ndarray, m: np.ndarray, start: LogisticFit | None) -> dict[str, float]:
    """`CI_KEYS` of one resample; NaN where undefined (a constant resample, a logistic fit that fails)."""
    if np.ptp(p) == 0 or np.ptp(m) == 0:
        return {k: math.nan for k in CI_KEYS} | {"rmse": float(np.sqrt(np.mean((p - m) ** 2)))}
    out: dict[str, float] = _basic(p, m)
    out["plcc_l4"] = _refit_plcc_l4(p, m, start)
    return out


def _refit_plcc_l4(p: np.ndarray, m: np.ndarray, start: LogisticFit | None, max_nfev: int = 300) -> float:
    """PLCC after refitting the 4-parameter logistic to one resample: a bounded least-squares fit (the bounds of
    `fit_logistic`) from `start`, stopped after `max_nfev` evaluations whether or not it has converged (on nearly
    linear data the fit wanders along a flat valley where PLCC no longer changes). NaN if the map is flat."""
    if start is None:
        return math.nan
    mu, sd = float(p.mean()), float(p.std())
    z = (p - mu) / sd
    lo, hi = float(m.min()), float(m.max())
    r = hi - lo
    lo_b = np.array([lo - 2 * r, lo - 2 * r, -10.0, 1e-3])
    hi_b = np.array([hi + 2 * r, hi + 2 * r, 10.0, 20.0])
    q = start.params
    z0 = np.nan_to_num(np.array([q[0], q[1], (q[2] - mu) / sd, q[3] / sd], dtype=float))
    z0 = np.clip(z0, lo_b + 1e-6 * (hi_b - lo_b), hi_b - 1e-6 * (hi_b - lo_b))
    res = optimize.least_squares(lambda b: logistic4(z, *b) - m, z0, jac=lambda b: _jac4(z, *b),
                                 bounds=(lo_b, hi_b), max_nfev=max_nfev, ftol=1e-6, xtol=1e-6)
    mp = logistic4(z, *res.x)
    if not np.all(np.isfinite(mp)) or np.ptp(mp) == 0:
        return math.nan
    return float(stats.pearsonr(mp, m).statistic)


def bootstrap_ci(pred, mos, *, groups: Sequence[Any] | None = None, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95) -> dict[str, Any]:
    """Percentile bootstrap confidence intervals of SRCC, KRCC, PLCC, RMSE and PLCC after the 4-parameter logistic
    (refitted on every resample, starting from the fit on the whole set) over the whole set.

    Each of the `n_boot` resamples draws, with replacement, as many items as there are (``default_rng(seed)``).
    With `groups` (content ids) in which some content has several items, whole contents are drawn instead (a
    cluster bootstrap: items of one content are not independent). The interval of a metric is the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of its resampled values, ignoring resamples where it is
    undefined (counted in ``n_valid``). Returns ``{"method", "unit", "n_boot", "level", "seed", "intervals":
    {metric: {"low", "high", "n_valid"}}}``; raises `MetricError` as `evaluate` does.
    """
    p, m = as_pair(pred, mos, min_n=3, what="bootstrap")
    _check_varies(p, m, "bootstrap")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    members: list[np.ndarray] | None = None
    if groups is not None:
        g = np.asarray([str(x) for x in groups], dtype=object)
        if g.size != p.size:
            raise MetricError(f"bootstrap: {g.size} content ids for {p.size} items")
        uniq, inverse = np.unique(g.astype(str), return_inverse=True)
        if uniq.size < p.size:
            members = [np.flatnonzero(inverse == k) for k in range(uniq.size)]
    try:
        start: LogisticFit | None = fit_logistic(p, m, 4)
    except MetricError:
        start = None
    values: dict[str, list[float]] = {k: [] for k in CI_KEYS}
    for _ in range(n_boot):
        if members is None:
            idx = rng.integers(0, p.size, p.size)
        else:
            idx = np.concatenate([members[k] for k in rng.integers(0, len(members), len(members))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant or tied resamples: handled as NaN
            for k, v in _resample_metrics(p[idx], m[idx], start).items():
                values[k].append(v)
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    intervals: dict[str, dict[str, Any]] = {}
    for k, vals in values.items():
        v = np.asarray(vals, dtype=float)
        v = v[np.isfinite(v)]
        if v.size == 0:
            intervals[k] = {"low": None, "high": None, "n_valid": 0}
        else:
            intervals[k] = {"low": float(np.quantile(v, lo_q)), "high": float(np.quantile(v, hi_q)),
                            "n_valid": int(v.size)}
    return {"method": "percentile", "unit": "item" if members is None else "content", "n_boot": int(n_boot),
            "level": float(level), "seed": int(seed), "intervals": intervals}


def flat(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Only the scalar metrics of an `evaluate` result (``METRIC_KEYS`` present in it)."""
    return {k: metrics[k] for k in METRIC_KEYS if k in metrics}


def mean_std(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """Mean and sample standard deviation (ddof=1; 0 for one value) of the finite values, and their count."""
    v = np.array([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}
