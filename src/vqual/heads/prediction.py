"""`Prediction`: a model's output for one image, one video second or a pooled video, before the scoring driver
(`vqual.models.base.QualityModel.score`) turns it into a `QualityResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Prediction:
    """A model's output for one image, one video second, or a pooled video."""

    score: float  # 1-5, higher is better
    uncertainty: float = 0.0  # spread of the score on the 1-5 scale
    level_probs: dict[str, float] | None = None  # None: derived from the score
    attributes: dict[str, float] = field(default_factory=dict)  # distortion severities in [0, 1]
    raw: float | None = None  # the model's native value before mapping to 1-5
    explanation: str | None = None  # explaining models, when asked (`QualityModel.explaining`)
    explanation_check: dict[str, Any] | None = None  # see `vqual.lmm.explain.check`
    #: What the model saw of this second, for its own `pool` (e.g. vqual-lmm's visual tokens); never in a result.
    inputs: Any = None
