"""Loading and scoring a labelled set with a model: one record per item, cached predictions, failures recorded
with their reason."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from vqual.data.base import Dataset, DatasetInfo, Item
from vqual.errors import MediaError
from vqual.eval.cache import PredictionCache
from vqual.progress import Progress

if TYPE_CHECKING:
    from vqual.models.base import QualityModel, Scorer


@dataclass
class ItemRecord:
    """One item of an evaluation run and the model's prediction for it (or why there is none)."""

    index: int  # position in the run
    name: str  # identifier in the label file
    path: str  # absolute media path
    mos: float  # label as the dataset gives it
    mos_1_5: float  # the label on 1-5, higher is better
    content_id: str
    split: str | None
    status: str = "ok"  # "ok" or "failed"
    score: float | None = None  # the model's 1-5 score (with ``vqual eval --calibration FILE``: the calibrated score
    #                             mapped linearly from the calibration's scale to 1-5, higher is better)
    raw_score: float | None = None  # the model's native value
    level: str | None = None
    uncertainty: float | None = None
    kind: str | None = None  # "image" / "video"
    reason: str | None = None  # failed: MediaError reason ("corrupt", "missing", ...) or "invalid_score"
    detail: str | None = None  # failed: the error message
    cached: bool = False  # the prediction came from the cache
    elapsed_ms: float | None = None  # scoring time (as recorded when it was scored)
    uncalibrated_score: float | None = None  # with a calibration: the model's own 1-5 score
    calibrated_score: float | None = None  # with a calibration: the score on the calibration's scale

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_labelled_set(dataset: str | None = None, root: str | None = None, manifest: str | None = None, *,
                      mos_range: tuple[float, float] | None = None, higher_is_better: bool = True,
                      options: dict[str, Any] | None = None, reference_column: str | None = None) -> Dataset:
    """The labelled set to score: the built-in `dataset` from the folder `root` it was downloaded to (`options` go
    to its loader, see `vqual.data.load_dataset`), or else your own `manifest` file on the label scale `mos_range`
    (inferred if None) and direction `higher_is_better`, its reference paths in `reference_column` (see
    `vqual.data.load_manifest`). Raises `DatasetError`."""
    from vqual.data import DatasetError, load_dataset, load_manifest

    if dataset:
        if not root:
            raise DatasetError(f"dataset {dataset}: no folder given")
        return load_dataset(dataset, root, **(options or {}))
    if not manifest:
        raise DatasetError("no dataset or manifest given")
    return load_manifest(manifest, mos_range=mos_range, higher_is_better=higher_is_better,
                         reference_column=reference_column)


def load_model(name: str | None = None) -> QualityModel:
    """`vqual.api.load_model(name)`; None gives the default model. (The one place the evaluation commands load a
    model, so that tests can put a fake one there.)"""
    from vqual.api import load_model as load

    return load(name)


def _record(i: int, item: Item, info: DatasetInfo) -> ItemRecord:
    return ItemRecord(index=i, name=item.name or item.path.name, path=str(item.path), mos=float(item.mos),
                      mos_1_5=float(info.to_1_5(item.mos)), content_id=item.content_id, split=item.split)


def score_items(model: Scorer, items: Iterable[Item], info: DatasetInfo, *, cache: PredictionCache | None = None,
                progress: Progress | None = None) -> list[ItemRecord]:
    """Score every item with `model` (``model.score(path) -> QualityResult``), using and filling `cache`.

    A `MediaError` marks the item failed with its reason; it is not scored as a default value and not cached.
    Any other exception propagates. On KeyboardInterrupt every prediction made so far is already in the cache.
    """
    records: list[ItemRecord] = []
    try:
        for i, item in enumerate(items):
            rec = _record(i, item, info)
            records.append(rec)
            result = cache.get(model, item.path) if cache is not None else None
            t0 = time.perf_counter()
            if result is not None:
                rec.cached = True
            else:
                try:
                    result = model.score(str(item.path))
                except MediaError as e:
                    rec.status, rec.reason, rec.detail = "failed", e.reason, str(e)
            seconds = time.perf_counter() - t0
            if result is not None:
                if result.score is None or not math.isfinite(float(result.score)):
                    rec.status, rec.reason = "failed", "invalid_score"
                    rec.detail = f"{item.path}: the model returned a non-finite score ({result.score})"
                else:
                    rec.score = float(result.score)
                    raw = result.raw_score
                    rec.raw_score = float(raw) if raw is not None and math.isfinite(float(raw)) else None
                    rec.level, rec.uncertainty, rec.kind = result.level, float(result.uncertainty), result.kind
                    rec.elapsed_ms = float(result.provenance.elapsed_ms)
                    if cache is not None and not rec.cached:
                        try:
                            cache.put(model, item.path, result)
                        except (ValueError, OSError) as e:  # NaN somewhere in the result, or the file vanished
                            print(f"vqual eval: not cached: {item.path}: {e}", file=sys.stderr)
            if progress is not None:
                progress.update(cached=rec.cached, failed=rec.status != "ok", seconds=seconds)
    finally:
        if progress is not None:
            progress.close()
    return records


def score_dataset(model: Scorer, dataset: Dataset, *, cache: PredictionCache | None = None,
                  progress: bool | None = None, limit: int | None = None, label: str = "") -> list[ItemRecord]:
    """Score the items of a loaded dataset (the first `limit` only, if given). `progress` None: bar on a TTY."""
    items = dataset.items[:limit] if limit is not None else dataset.items
    bar = Progress(len(items), label=label or dataset.info.name, enabled=progress)
    return score_items(model, items, dataset.info, cache=cache, progress=bar)
