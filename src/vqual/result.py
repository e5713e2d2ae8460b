"""`QualityResult`: the one typed result every entry point returns, and its stable JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

#: Version of the JSON form; bump when a field changes meaning or is removed.
#: 2: `scale`, `uncalibrated_score` and `flags` (calibration to a user's scale); `score` is on `scale`.
#: 3: `explanation_check` (an explanation read back against the score and attributes).
SCHEMA_VERSION = 3
#: Versions `QualityResult.from_dict` reads (fields added since are filled with their defaults).
READABLE_SCHEMAS = (1, 2, 3)

#: Flags a result may carry (`QualityResult.flags`).
FLAG_CLIPPED_INPUT = "clipped_to_calibrated_range"  # the model's score was outside the calibration's fitted range
FLAG_CLIPPED_TIMELINE = "timeline_clipped_to_calibrated_range"  # the same for at least one second of the timeline
FLAG_CLIPPED_SCALE = "clipped_to_scale"  # the calibrated value was outside the scale's range and was clipped
FLAG_EXPLANATION_CONTRADICTS = "explanation_contradicts_result"  # see explanation_check["problems"]


class JsonForm:
    """A dataclass's versioned JSON form: `to_dict` (`dataclasses.asdict`, keys in declaration order, plus
    ``schema``: the class's `SCHEMA_VERSION`) and `to_json` (no NaN or infinity: `allow_nan=False`)."""

    SCHEMA_VERSION: ClassVar[int]

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON-ready form (keys in declaration order, plus ``schema``)."""
        d = asdict(self)  # type: ignore[call-overload]
        d["schema"] = self.SCHEMA_VERSION
        return d

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def score_to_100(score: float) -> float:
    """Map a 1-5 score linearly to 0-100 (1 -> 0, 5 -> 100)."""
    return (score - 1.0) * 25.0


@dataclass
class Scale:
    """The scale a result's `score` is on: the model's own 1-5 (the default) or the user's calibrated scale."""

    name: str = "mos-1-5"
    min: float = 1.0  # lowest value of the scale
    max: float = 5.0  # highest value of the scale
    higher_is_better: bool = True  # False for DMOS-like scales

    def to_unit(self, value: float) -> float:
        """Position of `value` on the scale in [0, 1], 1 = best (not clipped)."""
        t = (float(value) - self.min) / (self.max - self.min)
        return t if self.higher_is_better else 1.0 - t

    def to_100(self, value: float) -> float:
        """`value` on 0-100 with 100 = best (for the 1-5 scale: 1 -> 0, 5 -> 100)."""
        return 100.0 * self.to_unit(value)

    def to_1_5(self, value: float) -> float:
        """`value` mapped linearly onto 1-5 with 5 = best (how `vqual eval` compares it with other labels)."""
        return 1.0 + 4.0 * self.to_unit(value)


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
    score: float  # on the result's scale (1-5 unless calibrated)
    level: str  # one of `vqual.levels.LEVELS`
    attributes: dict[str, float] = field(default_factory=dict)  # per-second distortion severities
    uncalibrated_score: float | None = None  # calibrated results: the model's own 1-5 score of this second
    explanation: str | None = None  # explaining models: this second's explanation (same rule as the whole video's)


@dataclass
class QualityResult(JsonForm):
    """The predicted quality of one image or video."""

    SCHEMA_VERSION: ClassVar[int] = SCHEMA_VERSION

    path: str  # the input as given (or "<array>" / "<PIL image>" for in-memory input)
    kind: Literal["image", "video"]
    score: float  # predicted MOS on `scale` (the model's 1-5, higher is better, unless a calibration was applied)
    score_100: float  # the same on 0-100, 100 = best (its position on `scale`)
    level: str  # of `vqual.levels.LEVELS`: the bin of the model's levels that holds `score` (before calibration)
    level_probs: dict[str, float]  # probability of each level, sums to 1
    uncertainty: float  # model-specific spread of the score, on the 1-5 scale (0 = certain)
    attributes: dict[str, float]  # named distortion severities in [0, 1] (0 = absent)
    provenance: Provenance
    raw_score: float | None = None  # the model's native, unmapped value (e.g. NIQE distance; lower may be better)
    uncalibrated_score: float | None = None  # calibrated results: the model's own 1-5 score (None: not calibrated)
    scale: Scale = field(default_factory=Scale)  # the scale of `score` (range, direction, name)
    flags: list[str] = field(default_factory=list)  # e.g. FLAG_CLIPPED_INPUT
    timeline: list[Moment] | None = None  # videos: one entry per second
    worst: list[Moment] | None = None  # videos: the lowest-scoring seconds, worst first
    explanation: str | None = None  # filled by explaining models (`vqual explain`)
    #: How the explanation was read back against the score and attributes: {"consistent": bool, "mentioned":
    #: [attributes it names], "problems": [contradictions found]} (None: no explanation).
    explanation_check: dict[str, Any] | None = None
    width: int | None = None  # displayed width in pixels (after rotation / orientation)
    height: int | None = None  # displayed height
    duration: float | None = None  # videos: seconds
    fps: float | None = None  # videos: average frame rate

    @property
    def calibrated(self) -> bool:
        """True when a calibration mapped `score` to a user's scale (its id is in ``provenance.calibration_id``)."""
        return self.provenance.calibration_id is not None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QualityResult:
        """Rebuild a result from `to_dict` output (schema 1, 2 or 3); raises ValueError on an unknown schema version.

        Older results get the defaults of the fields added since (the 1-5 scale, no flags, not calibrated, no
        explanation check).
        """
        d = dict(d)
        schema = d.pop("schema", SCHEMA_VERSION)
        if schema not in READABLE_SCHEMAS:
            readable = ", ".join(map(str, READABLE_SCHEMAS))
            raise ValueError(f"QualityResult schema {schema} is not supported (this vqual reads {readable})")
        d["provenance"] = Provenance(**d["provenance"])
        if isinstance(d.get("scale"), dict):
            d["scale"] = Scale(**d["scale"])
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
