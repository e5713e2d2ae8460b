"""The five quality levels: their words, the score at the centre of each and the bounds between them.

Every part of vqual that names a level or splits a 1-5 score into levels imports them from here: results
(`vqual.result`), the level heads (`vqual.heads.levels`), vqual-lmm's answer words and explanations (`vqual.lmm`),
level accuracy (`vqual.eval.metrics`) and the scripts that fit heads.
"""

from __future__ import annotations

import numpy as np

#: The five ACR quality levels, best first (they are also vqual-lmm's answer words).
LEVELS: tuple[str, ...] = ("excellent", "good", "fair", "poor", "bad")
#: The same, worst first: the order of the bins that `LEVEL_BOUNDS` splits.
LEVELS_ASCENDING: tuple[str, ...] = LEVELS[::-1]
#: The score (1-5) at the centre of each level.
LEVEL_CENTRES: dict[str, float] = {name: float(5 - i) for i, name in enumerate(LEVELS)}
#: Bounds between bad | poor | fair | good | excellent on the 1-5 scale (the centres' midpoints).
LEVEL_BOUNDS: tuple[float, ...] = (1.5, 2.5, 3.5, 4.5)
#: The levels at or above "good", and at or below "poor".
GOOD_LEVELS: tuple[str, ...] = LEVELS[:2]
POOR_LEVELS: tuple[str, ...] = LEVELS[3:]


def level_index(score: float | np.ndarray, bounds=LEVEL_BOUNDS) -> np.ndarray:
    """Bin of each score, 0 = bad .. 4 = excellent: a score on a bound belongs to the level above it
    (``np.digitize(score, bounds)``)."""
    return np.digitize(score, bounds)


def level_of_score(score: float, bounds=LEVEL_BOUNDS) -> str:
    """The level whose bin holds `score` (a score on a bound belongs to the level above it): a result's `level`,
    for every model, so that the level a result states always agrees with its score."""
    return LEVELS_ASCENDING[int(level_index(float(score), bounds))]


def level_probs_from_score(score: float) -> dict[str, float]:
    """Split a 1-5 score between its two neighbouring levels so that the expected level centre equals the score.

    Used by models that have no level head of their own (for example NIQE): 3.25 gives fair 0.75 and good 0.25.
    """
    s = min(5.0, max(1.0, float(score)))
    probs = {name: 0.0 for name in LEVELS}
    lower = int(s // 1)  # centre value of the lower level
    frac = s - lower
    by_centre = {int(c): name for name, c in LEVEL_CENTRES.items()}
    if lower >= 5:
        probs["excellent"] = 1.0
    else:
        probs[by_centre[lower]] = 1.0 - frac
        probs[by_centre[lower + 1]] += frac
    return probs
