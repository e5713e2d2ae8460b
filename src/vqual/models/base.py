"""The model interface: what every registered quality model implements, and the shared scoring driver.

A model only predicts from pixels (`predict_image`, `predict_chunk`, `pool`); decoding, sampling, timing and
assembling the `QualityResult` happen here, once, for every model.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from vqual.errors import MediaError
from vqual.heads.prediction import Prediction
from vqual.levels import LEVEL_BOUNDS, LEVELS, level_of_score, level_probs_from_score
from vqual.media import Chunk, iter_chunks, load_image, media_kind, probe_video
from vqual.result import FLAG_EXPLANATION_CONTRADICTS, Moment, Provenance, QualityResult, score_to_100
from vqual.version import __version__

if TYPE_CHECKING:
    from vqual.calibration import Calibration


@runtime_checkable
class Scorer(Protocol):
    """What the harnesses (evaluation, its cache, calibration, distillation, comparison) need of a model: its identity,
    what trained it, its calibration and `score`. Every `QualityModel` is one, and so is a test's fake that only
    scores (with ``trained_on = ()`` and ``calibration = None``)."""

    name: str  # registered model name
    version: str  # model version
    weights_sha256: str | None  # sha256 of its weights (None: no learned weights)
    trained_on: tuple[str, ...]  # datasets whose labels trained or calibrated it: evaluating on them is not a test
    calibration: Calibration | None  # applied to its results (None: its own 1-5)

    def score(self, src: Any, *, path_label: str | None = None) -> QualityResult: ...

    def with_calibration(self, calibration: Calibration | str | Path | None) -> Scorer: ...


class QualityModel:
    """Base class of registered models. Subclasses set the class attributes and implement the three predict hooks."""

    name: str = ""
    version: str = ""
    weights_sha256: str | None = None
    decoder: str | None = None
    decoder_version: str | None = None
    #: Chunk frames the model wants: longest side of the grey frames `iter_chunks` collects (None: key frames only).
    chunk_luma_size: int | None = 256
    #: How many of the worst seconds a video result lists.
    n_worst: int = 3
    #: Datasets whose labels trained or calibrated the model: evaluating on them is not a test.
    trained_on: tuple[str, ...] = ()
    #: Smallest width and height a model will judge: below it there is too little picture for a meaningful score.
    min_side: int = 32
    #: Calibration to the user's scale applied to every result (None: the model's own 1-5); see `with_calibration`.
    calibration: Calibration | None = None
    #: Bounds between its levels on its own 1-5 scale: a result's `level` is the bin of its score (`self.level_of`).
    bounds: tuple[float, ...] | list[float] = LEVEL_BOUNDS
    #: Whether the model can explain its results in words (`explaining`), and whether this copy does.
    can_explain: bool = False
    explain: bool = False

    def __init__(self, max_pixels: int | None = None):
        self.max_pixels = max_pixels

    def with_calibration(self, calibration: Calibration | str | Path | None) -> QualityModel:
        """A copy of this model (sharing its weights) whose results are on `calibration`'s scale.

        `calibration` is a `vqual.calibration.Calibration` or the path of its JSON; None gives an uncalibrated copy.
        Raises `vqual.errors.CalibrationError` if it was made for another model name, version or weights.
        """
        cal = None
        if calibration is not None:
            from vqual.calibration import as_calibration

            cal = as_calibration(calibration)
            cal.check_model(self)
        model = copy.copy(self)
        model.calibration = cal
        return model

    def explaining(self, explain: bool = True) -> QualityModel:
        """A copy of this model (sharing its weights) that adds an explanation to every result.

        Raises `vqual.errors.VqualError` if the model cannot explain."""
        if explain and not self.can_explain:
            from vqual.errors import VqualError

            raise VqualError(f"model {self.name} does not explain its results; use an explaining model such as "
                             "vqual-lmm (`vqual models` lists them)")
        model = copy.copy(self)
        model.explain = explain
        return model

    # --- hooks ---------------------------------------------------------------------------------------------------
    def predict_image(self, rgb: np.ndarray) -> Prediction:
        """Predict from one HxWx3 uint8 RGB image."""
        raise NotImplementedError

    def predict_chunk(self, chunk: Chunk) -> Prediction:
        """Predict one second of video from its key frame and chunk frames."""
        raise NotImplementedError

    def pool(self, seconds: list[Prediction]) -> Prediction:
        """Pool per-second predictions into the video's prediction."""
        raise NotImplementedError

    # --- driver --------------------------------------------------------------------------------------------------
    def score(self, src: Any, *, path_label: str | None = None,
              on_second: Callable[[int, int], None] | None = None) -> QualityResult:
        """Score a path (image or video), a PIL image or an HxWx3 uint8 array. `on_second(done, total)` is called
        after each second of a video is scored (total: the declared duration rounded up; progress display).

        Raises `vqual.errors.MediaError` for input that cannot be read.
        """
        t0 = time.perf_counter()
        if isinstance(src, (str, Path)):
            label = path_label if path_label is not None else str(src)
            kind = media_kind(src)
        else:
            default = "<array>" if isinstance(src, np.ndarray) else "<PIL image>"
            label = path_label if path_label is not None else default
            kind = "image"
        if kind == "image":
            rgb = load_image(src, max_pixels=self.max_pixels)
            self._check_size(label, rgb.shape[1], rgb.shape[0])
            pred = self.predict_image(rgb)
            return self._result(label, "image", pred, [0], t0, width=rgb.shape[1], height=rgb.shape[0])
        info = probe_video(src, max_pixels=self.max_pixels)
        self._check_size(label, info.width, info.height)
        seconds: list[Prediction] = []
        moments: list[Moment] = []
        key_indices: list[int] = []
        chunks = iter_chunks(src, luma_size=self.chunk_luma_size, max_pixels=self.max_pixels)
        from vqual.runtime import threads

        if threads() > 1:  # decode the next second while the model works on this one (same results, in order)
            from vqual.media.prefetch import prefetch

            chunks = prefetch(chunks, 1)
        for chunk in chunks:
            p = self.predict_chunk(chunk)
            seconds.append(p)
            key_indices.append(chunk.key_index)
            moments.append(Moment(second=chunk.index, start=round(chunk.t0, 6), end=round(chunk.t1, 6),
                                  score=float(p.score), level=self.level_of(p.score), attributes=dict(p.attributes),
                                  explanation=p.explanation))
            if on_second is not None:
                declared = math.ceil(info.duration) if math.isfinite(info.duration) else 0
                on_second(len(seconds), max(len(seconds), declared))
        pooled = self.pool(seconds)
        worst = sorted(moments, key=lambda m: (m.score, m.second))[: self.n_worst]
        return self._result(label, "video", pooled, key_indices, t0, width=info.width, height=info.height,
                            duration=info.duration, fps=info.fps, timeline=moments, worst=worst)

    def _check_size(self, label: str, width: int, height: int) -> None:
        if min(width, height) < self.min_side:
            raise MediaError(label, "too_small", f"{width}x{height} is too small to assess "
                                                 f"(at least {self.min_side} px per side)")

    def level_of(self, score: float) -> str:
        """The level a result states for `score` (on the model's own 1-5 scale): the bin of its levels that holds it.
        `level_probs` are the model's own probabilities; for vqual-lite they peak in this bin, for vqual-lmm (the
        level words' distribution) they need not, and a level that contradicted the score would mislead."""
        return level_of_score(min(5.0, max(1.0, float(score))), self.bounds)

    def _probs(self, p: Prediction) -> dict[str, float]:
        probs = p.level_probs if p.level_probs is not None else level_probs_from_score(p.score)
        return {name: float(probs.get(name, 0.0)) for name in LEVELS}

    def _result(self, label: str, kind: str, p: Prediction, frames: list[int], t0: float,
                **extra: Any) -> QualityResult:
        probs = self._probs(p)
        score = float(min(5.0, max(1.0, p.score)))
        prov = Provenance(model=self.name, model_version=self.version, weights_sha256=self.weights_sha256,
                          decoder=self.decoder, decoder_version=self.decoder_version, frame_indices=list(frames),
                          elapsed_ms=round((time.perf_counter() - t0) * 1000.0, 3), vqual_version=__version__)
        result = QualityResult(path=label, kind=kind, score=score, score_100=score_to_100(score),
                               level=self.level_of(score), level_probs=probs, uncertainty=float(p.uncertainty),
                               attributes={k: float(v) for k, v in p.attributes.items()}, provenance=prov,
                               raw_score=None if p.raw is None else float(p.raw), explanation=p.explanation,
                               explanation_check=p.explanation_check, **extra)
        if p.explanation_check is not None and not p.explanation_check.get("consistent", True):
            result.flags.append(FLAG_EXPLANATION_CONTRADICTS)
        return result if self.calibration is None else self.calibration.apply(result)
