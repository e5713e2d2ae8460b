"""`CompareResult`: one distorted input judged against its reference, and its JSON form."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from vqual.result import JsonForm

#: Version of the JSON form; bump when a field changes meaning or is removed.
SCHEMA_VERSION = 1

FLAG_PSNR_INFINITE = "psnr_infinite"  # identical inputs: PSNR is +inf, written as null with "infinite": true
FLAG_METRIC_NOT_COMPUTED = "metric_not_computed"  # a metric could not be computed here (its "error" says why)
FLAG_SCALED = "scaled"  # one input was resized to the other's size (see CompareResult.scaled)


def finite_or_none(v: float | None) -> float | None:
    """JSON has no infinity: +-inf and NaN are written as null (the metric's ``infinite`` field says which)."""
    return None if v is None or not math.isfinite(v) else float(v)


@dataclass
class MetricResult:
    """One metric's values for one distorted input."""

    name: str
    version: str
    value: float | None  # pooled over the whole input; None when infinite (PSNR of identical inputs) or not computed
    infinite: bool  # the pooled value is +inf (PSNR of identical inputs)
    higher_is_better: bool
    range: list[float | None]  # [min, max] of the metric's values; None: unbounded
    unit: str  # "dB" or "" (unitless)
    pooling: str  # how frames and seconds were pooled
    per_second: list[float | None] | None = None  # videos: one value per second (`CompareResult.seconds`)
    per_frame: list[float | None] | None = None  # videos with timeline: one value per frame (null: infinite)
    error: str | None = None  # why the metric could not be computed (value is then None)


@dataclass
class NoReferenceScores:
    """The no-reference model's scores of both inputs, beside the full-reference metrics."""

    model: str
    model_version: str
    weights_sha256: str | None
    reference: float | None  # 1-5 MOS of the reference (None if it could not be scored: see error)
    distorted: float | None
    reference_level: str | None = None
    distorted_level: str | None = None
    reference_per_second: list[float | None] | None = None  # videos with timeline, aligned with `seconds`
    distorted_per_second: list[float | None] | None = None
    error: str | None = None


@dataclass
class CompareResult(JsonForm):
    """A distorted image or video compared with its reference; `to_dict` / `to_json` write infinite values as null
    (see `MetricResult.infinite`)."""

    SCHEMA_VERSION: ClassVar[int] = SCHEMA_VERSION

    reference: str  # the reference as given
    distorted: str  # the distorted input as given
    kind: str  # "image" or "video"
    width: int  # size the metrics were computed at
    height: int
    metrics: dict[str, MetricResult]
    frames: int | None = None  # videos: frames compared (one to one)
    fps: float | None = None  # videos: the reference's average frame rate
    seconds: list[list[float]] | None = None  # videos: [start, end] of each second the per-second values cover
    scaled: dict[str, Any] | None = None  # {"input": "reference"|"distorted", "filter", "from": [w, h], "to": [w, h]}
    no_reference: NoReferenceScores | None = None
    flags: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)  # vqual, numpy, scipy versions; metric versions; time
