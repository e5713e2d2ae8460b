"""Temporal pooling of per-second predictions into a video prediction, shared by every model.

People remember the worst moments of a video, so the video score is the mean of its worst seconds (a fraction of
them, rounded up) rather than the mean of all seconds.
"""

from __future__ import annotations

import math

import numpy as np

from vqual.heads.prediction import Prediction

#: Share of the worst seconds a video's score is the mean of, for a model whose card states none (the worst half).
WORST_FRACTION = 0.5


def pool_worst(seconds: list[Prediction], worst_fraction: float) -> Prediction:
    """Pool per-second predictions.

    - ``score``: mean score of the worst ``ceil(n * worst_fraction)`` seconds;
    - ``uncertainty``: ``hypot(spread, u)``, with ``spread`` the standard deviation of all seconds' scores and ``u``
      the mean uncertainty of the selected seconds;
    - ``attributes``: each attribute's mean over all seconds;
    - ``raw``: mean raw value of the selected seconds (None when they have none);
    - ``level_probs``: mean of the selected seconds' level probabilities when every one has them, else None
      (derived from the score).

    Raises ValueError when `seconds` is empty or the fraction is outside (0, 1].
    """
    if not seconds:
        raise ValueError("no seconds to pool")
    if not 0.0 < worst_fraction <= 1.0:
        raise ValueError(f"worst_fraction must be in (0, 1], got {worst_fraction}")
    scores = np.array([s.score for s in seconds], dtype=np.float64)
    k = max(1, math.ceil(len(seconds) * worst_fraction))
    order = np.argsort(scores, kind="stable")[:k]
    sel = [seconds[i] for i in order]
    names = sorted({a for s in seconds for a in s.attributes})
    attrs = {a: float(np.mean([s.attributes.get(a, 0.0) for s in seconds])) for a in names}
    raws = [s.raw for s in sel if s.raw is not None and math.isfinite(s.raw)]
    probs = None
    if all(s.level_probs is not None for s in sel):
        probs = {lv: float(np.mean([s.level_probs[lv] for s in sel])) for lv in sel[0].level_probs}
    return Prediction(score=float(scores[order].mean()),
                      uncertainty=math.hypot(float(np.std(scores)), float(np.mean([s.uncertainty for s in sel]))),
                      level_probs=probs, attributes=attrs, raw=float(np.mean(raws)) if raws else None)
