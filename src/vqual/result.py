"""`QualityResult`: the one typed result every entry point returns, and its stable JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: The five ACR quality levels, best first, and the score (1-5) at the centre of each.
LEVELS: tuple[str, ...] = ("excellent", "good", "fair", "poor", "bad")
LEVEL_CENTRES: dict[str, float] = {"excellent": 5.0, "good": 4.0, "fair": 3.0, "poor": 2.0, "bad": 1.0}

#: Version of the JSON form; bump when a field changes meaning or is removed.
SCHEMA_VERSION = 1


def score_to_100(score: float) -> float:
    """Map a 1-5 score linearly to 0-100 (1 -> 0, 5 -> 100)."""
    return (score - 1.0) * 25.0


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


def level_of(probs: dict[str, float]) -> str:
    """The most probable level; ties go to the better level (deterministic)."""
    return max(LEVELS, key=lambda name: (probs.get(name, 0.0), -LEVELS.index(name)))


@dataclass
class Provenance:
    """Where a result came from, so that it can be cached, compared and reproduced."""

    model: str  # registered model name
    model_version: str  # version of that model
    weights_sha256: str | None  # sha256 of the weights file the model used (None: no learned weights)
    calibration_id: str | None = None  # id of the score calibration applied, if any
    decoder: str | None = None  # decoder / head name that produced the score
    decoder_version: str | None = None  # its version
    frame_indices: list[int] = field(default_factory=list)  # decoded frame indices used as key frames
    elapsed_ms: float = 0.0  # wall time of decode + inference
    vqual_version: str = ""  # package version


@dataclass
class Moment:
    """One second of a video: its score and level (a `timeline` entry or a worst moment)."""

    second: int  # chunk index (0 = first second)
    start: float  # chunk start time in seconds
    end: float  # chunk end time in seconds
    score: float  # 1-5
    level: str  # one of LEVELS
    attributes: dict[str, float] = field(default_factory=dict)  # per-second distortion severities


@dataclass
class QualityResult:
    """The predicted quality of one image or video."""

    path: str  # the input as given (or "<array>" / "<PIL image>" for in-memory input)
    kind: Literal["image", "video"]
    score: float  # predicted MOS on 1-5 (higher is better)
    score_100: float  # the same on 0-100
    level: str  # most probable of LEVELS
    level_probs: dict[str, float]  # probability of each level, sums to 1
    uncertainty: float  # model-specific spread of the score, on the 1-5 scale (0 = certain)
    attributes: dict[str, float]  # named distortion severities in [0, 1] (0 = absent)
    provenance: Provenance
    raw_score: float | None = None  # the model's native, unmapped value (e.g. NIQE distance; lower may be better)
    timeline: list[Moment] | None = None  # videos: one entry per second
    worst: list[Moment] | None = None  # videos: the lowest-scoring seconds, worst first
    explanation: str | None = None  # filled by explaining models
    width: int | None = None  # displayed width in pixels (after rotation / orientation)
    height: int | None = None  # displayed height
    duration: float | None = None  # videos: seconds
    fps: float | None = None  # videos: average frame rate

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON-ready form (keys in declaration order, plus ``schema``)."""
        d = asdict(self)
        d["schema"] = SCHEMA_VERSION
        return d

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QualityResult:
        """Rebuild a result from `to_dict` output; raises ValueError on an unknown schema version."""
        d = dict(d)
        schema = d.pop("schema", SCHEMA_VERSION)
        if schema != SCHEMA_VERSION:
            raise ValueError(f"QualityResult schema {schema} is not supported (this vqual reads {SCHEMA_VERSION})")
        d["provenance"] = Provenance(**d["provenance"])
        for key in ("timeline", "worst"):
            if d.get(key) is not None:
                d[key] = [Moment(**m) for m in d[key]]
        return cls(**d)


@dataclass
class Failure:
    """An input that could not be scored: the batch goes on and reports it."""

    path: str  # the input as given
    reason: str  # machine-readable code (see vqual.errors.MediaError.REASONS, or "error" for anything else)
    message: str  # one line: "<path>: <problem>"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "error": {"reason": self.reason, "message": self.message}}
