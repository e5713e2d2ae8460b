"""A full-reference metric evaluated against human scores like a model (``vqual eval --manifest m.csv --metric
ssim``): each item is compared with its reference (the manifest's ``reference_path`` column) by `vqual.compare`, and
the records go through the same protocols and report as a model's.

The metric's value, oriented so that higher is better (LPIPS and DISTS negated), is the item's ``score``, and the
value itself its ``raw_score`` (what a fitted calibration maps). Rank and linear agreement (SRCC, KRCC, PLCC, and
after the fitted logistic PLCC-l4, RMSE-l4) are the metric's; RMSE and level accuracy of the unfitted score need a
score on 1-5, which a metric does not give, so they are left out of the rows that fit nothing
(`drop_unscaled`). Items fail (with a reason, the run goes on) when they have no reference, their reference cannot
be read, the two cannot be aligned (sizes, frame rates, lengths: `vqual compare`'s rules) or the metric is not
defined on them (too small; PSNR of an item identical to its reference is infinite). Values are not cached.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

from vqual.compare import METRICS, CompareError, compare, parse_metrics
from vqual.data.base import Dataset
from vqual.errors import MediaError
from vqual.eval.runner import ItemRecord
from vqual.progress import Progress

PREFIX = "fr:"
#: Metrics of a score that a metric does not have on 1-5 (see the module docstring).
UNSCALED = ("rmse", "acc3", "acc5", "level3", "level5")
UNSCALED_NOTE = ("RMSE and level accuracy of a full-reference metric's own value are not defined (it is not on "
                 "1-5); --calibration fitted gives them after a fitted logistic")


@dataclass(frozen=True)
class MetricAsModel:
    """The identity a report needs of what was evaluated, for a full-reference metric (name ``fr:<metric>``)."""

    metric: str
    name: str
    version: str
    weights_sha256: str | None  # the metric's weights (sha256 of their sorted hashes when it has several)
    higher_is_better: bool
    weights: dict[str, str] = field(default_factory=dict)  # each weight file's sha256, as compare's provenance
    trained_on: tuple[str, ...] = ()
    calibration: None = None


def metric_model(name: str) -> MetricAsModel:
    """The metric `name` (``ssim`` or ``fr:ssim``) as an evaluated 'model'; `CompareError` for an unknown metric or
    one whose weights / extra are missing here (one line, saying how to get them)."""
    metric = parse_metrics([name.removeprefix(PREFIX)])[0]
    spec = METRICS[metric]
    prov = spec.provenance() if spec.provenance else {}
    hashes = {k: v for k, v in prov.items() if k.endswith("sha256")}
    digest = None
    if len(hashes) == 1:
        digest = next(iter(hashes.values()))
    elif hashes:
        digest = hashlib.sha256(",".join(f"{k}={v}" for k, v in sorted(hashes.items())).encode()).hexdigest()
    return MetricAsModel(metric=metric, name=PREFIX + metric, version=spec.version, weights_sha256=digest,
                         higher_is_better=spec.higher_is_better, weights=hashes)


def references_of(dataset: Dataset) -> int:
    """How many items have a reference path."""
    return sum(1 for it in dataset.items if it.extra.get("reference"))


def score_references(model: MetricAsModel, dataset: Dataset, *, progress: bool | None = None,
                     limit: int | None = None, scale: str = "none") -> list[ItemRecord]:
    """One record per item (the first `limit`): the metric of the item against its reference, or why not."""
    items = dataset.items[:limit] if limit is not None else dataset.items
    info = dataset.info
    bar = Progress(len(items), label=f"{info.name} ({model.name})", enabled=progress)
    records: list[ItemRecord] = []
    try:
        for i, item in enumerate(items):
            rec = ItemRecord(index=i, name=item.name or item.path.name, path=str(item.path), mos=float(item.mos),
                             mos_1_5=float(info.to_1_5(item.mos)), content_id=item.content_id, split=item.split)
            records.append(rec)
            t0 = time.perf_counter()
            _measure(model, rec, item.extra.get("reference"), scale)
            seconds = time.perf_counter() - t0
            rec.elapsed_ms = round(seconds * 1000.0, 1)
            bar.update(failed=rec.status != "ok", seconds=seconds)
    finally:
        bar.close()
    return records


def _measure(model: MetricAsModel, rec: ItemRecord, ref: str | None, scale: str) -> None:
    def fail(reason: str, detail: str) -> None:
        rec.status, rec.reason, rec.detail = "failed", reason, detail

    if not ref:
        return fail("no_reference", f"{rec.path}: no reference path given for it (a reference_path column)")
    try:
        r = compare(ref, rec.path, metrics=[model.metric], scale=scale, no_reference=False)
    except MediaError as e:  # the item itself
        return fail(e.reason, str(e))
    except CompareError as e:  # its reference unreadable, or the two not aligned
        return fail("bad_reference" if str(e).startswith("reference ") else "misaligned", str(e))
    m = r.metrics[model.metric]
    if m.infinite:
        return fail("infinite", f"{rec.path}: {model.metric} is infinite (identical to its reference {ref})")
    if m.value is None or not math.isfinite(m.value):
        return fail("not_computed", f"{rec.path}: {m.error or model.metric + ' not computed'}")
    rec.raw_score = float(m.value)
    rec.score = rec.raw_score if model.higher_is_better else -rec.raw_score
    rec.kind = r.kind


def drop_unscaled(result: Any) -> None:
    """Remove RMSE and level accuracy from a `ProtocolResult` whose calibration is 'model' (the metric's own value),
    everywhere they appear (summary, pooled, folds, few-label curve, intervals), and say why in its notes."""
    if result.calibration != "model":
        return

    def strip(d: dict[str, Any] | None) -> None:
        for k in UNSCALED:
            if d is not None:
                d.pop(k, None)

    strip(result.summary)
    strip(result.pooled)
    for f in result.folds:
        strip(f.get("metrics"))
    for pt in result.curve:
        strip(pt.get("metrics"))
    if result.ci:
        strip(result.ci.get("intervals"))
    result.notes.append(UNSCALED_NOTE)


def scale_note(model: MetricAsModel) -> str:
    """What the 'score' of the report's items is."""
    how = "its value" if model.higher_is_better else "its value negated (lower is better)"
    return (f"{model.name}: the full-reference metric {model.metric} of each item against its reference; 'score' is "
            f"{how}, 'raw_score' the value")

