"""The level head: P(level) of a 1-5 score from a cumulative logistic of width ``tau`` around it.

The bounds between the levels are `vqual.levels.LEVEL_BOUNDS` unless a model's card says otherwise; ``tau`` is a
model's own number, fitted by cross-validated likelihood and kept in its card (`DEFAULT_TAU` only for a card that
has none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vqual.levels import LEVEL_BOUNDS, LEVELS_ASCENDING

#: Width of the level head of a user model card that states none.
DEFAULT_TAU = 0.5


def level_prob_matrix(scores: np.ndarray, bounds: Sequence[float], tau: float) -> np.ndarray:
    """(n,) scores -> (n, 5) P(bad, poor, fair, good, excellent) from a cumulative logistic of width `tau`
    around each score (training fits `tau` with this same function, `fit_tau`)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    cdf = 1.0 / (1.0 + np.exp(-(np.asarray(bounds)[None, :] - s[:, None]) / tau))  # P(level below each bound)
    return np.diff(np.hstack([np.zeros((len(s), 1)), cdf, np.ones((len(s), 1))]), axis=1)


def level_probs(score: float, bounds: Sequence[float], tau: float) -> dict[str, float]:
    """P(level) for the five levels of one score, by name."""
    p = level_prob_matrix(np.array([score]), bounds, tau)[0]  # bad .. excellent
    return {name: float(v) for name, v in zip(LEVELS_ASCENDING, p)}


def fit_tau(scores: np.ndarray, y: np.ndarray, bounds: Sequence[float] | None = None) -> float:
    """The width maximising the likelihood of the labels' levels (`y` 1-5 binned at `bounds`) under the level
    head around `scores` (normally out-of-fold predictions), on a log grid of 60 values from 0.05 to 2."""
    b = list(LEVEL_BOUNDS if bounds is None else bounds)
    levels = np.digitize(np.asarray(y, dtype=np.float64), b)
    taus = np.exp(np.linspace(np.log(0.05), np.log(2.0), 60))
    nll = [-np.mean(np.log(level_prob_matrix(np.asarray(scores), b, t)[np.arange(len(levels)), levels] + 1e-12))
           for t in taus]
    return float(taus[int(np.argmin(nll))])
