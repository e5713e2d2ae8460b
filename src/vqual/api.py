"""The Python API: load a model, score media, list models."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vqual import registry
from vqual.errors import MediaError, VqualError
from vqual.models.base import QualityModel
from vqual.result import Failure, QualityResult

if TYPE_CHECKING:
    from vqual.calibration import Calibration

_LOADED: dict[tuple[str, int | None], QualityModel] = {}


def load_model(name: str | None = None, *, max_pixels: int | None = None,
               calibration: Calibration | str | Path | None = None, **options: Any) -> QualityModel:
    """Build a registered model (the default when `name` is None). Raises ModelNotFoundError with suggestions.

    `calibration` (a `vqual.calibration.Calibration` or the path of one saved by ``vqual calibrate``) puts every result
    on the user's scale; with no `name`, the calibration's own model is loaded. A calibration made for another
    model, version or weights raises `vqual.errors.CalibrationError`. Other `options` go to the model's constructor
    (vqual-lmm: ``decoder_path``, ``projectors_path``); a model that does not take one raises TypeError.
    """
    if calibration is None:
        return registry.create_model(name, max_pixels=max_pixels, **options)
    from vqual.calibration import as_calibration

    cal = as_calibration(calibration)
    model = registry.create_model(name if name is not None else cal.model, max_pixels=max_pixels, **options)
    return model.with_calibration(cal)


def _cached(name: str | None, max_pixels: int | None = None) -> QualityModel:
    spec = registry.get_spec(name)
    key = (spec.path or spec.name, max_pixels)  # a user model by its folder: two folders may share a name
    if key not in _LOADED:
        _LOADED[key] = load_model(key[0], max_pixels=max_pixels)
    return _LOADED[key]


def list_models(pattern: str = "*") -> list[registry.ModelSpec]:
    """Registered models matching a shell-style pattern, the default first."""
    return registry.list_models(pattern)


def score_one(model: QualityModel, src: Any, on_second: Callable[[int, int], None] | None = None,
              ) -> QualityResult | Failure:
    """Score one input, turning a bad file into a `Failure` instead of an exception; `on_second(done, total)`:
    called after each second of a video (`QualityModel.score`)."""
    label = str(src) if isinstance(src, (str, os.PathLike)) else None
    try:
        return model.score(src) if on_second is None else model.score(src, on_second=on_second)
    except MediaError as e:
        return Failure(path=label or (e.path or "<input>"), reason=e.reason, message=str(e))
    except VqualError as e:
        return Failure(path=label or "<input>", reason="error", message=f"{label or '<input>'}: {e}")
    except Exception as e:  # a decoder or model bug on one file must not end a batch; reported, never a score
        return Failure(path=label or "<input>", reason="internal",
                       message=f"{label or '<input>'}: internal error {type(e).__name__}: {e}")


def precheck(src: Any, max_pixels: int | None = None) -> Failure | None:
    """Read a path input as scoring will, without a model: sniffed, then an image decoded or a video probed
    (container, stream and first frame). Returns the `Failure` that scoring would report for input that cannot be
    read that far, else None (also for in-memory input: nothing to check). A command uses it to answer bad inputs
    before, or without ever, loading a model; what it finds is what `score_one` would find first, word for word."""
    if not isinstance(src, (str, os.PathLike)):
        return None
    from vqual.media import load_image, media_kind, probe_video

    label = str(src)
    try:
        if media_kind(src) == "image":
            load_image(src, max_pixels=max_pixels)
        else:
            probe_video(src, max_pixels=max_pixels)
    except MediaError as e:
        return Failure(path=label, reason=e.reason, message=str(e))
    except Exception:  # noqa: BLE001 - anything else is for scoring to report, as it would without this check
        return None
    return None


def _model(model: QualityModel | str | None, calibration: Calibration | str | Path | None) -> QualityModel:
    if calibration is None:
        return model if isinstance(model, QualityModel) else _cached(model)
    from vqual.calibration import as_calibration

    cal = as_calibration(calibration)
    base = model if isinstance(model, QualityModel) else _cached(model if model is not None else cal.model)
    return base.with_calibration(cal)


def iter_score(sources: Iterable[Any], model: QualityModel | str | None = None, *,
               calibration: Calibration | str | Path | None = None) -> Iterator[QualityResult | Failure]:
    """Score inputs one at a time, in order; bad files come out as `Failure` and the batch goes on.

    `calibration`: see `load_model` (it replaces any calibration the given model carries).
    """
    m = _model(model, calibration)
    for src in sources:
        yield score_one(m, src)


def score(sources: Any, model: QualityModel | str | None = None, *,
          calibration: Calibration | str | Path | None = None) -> QualityResult | list[QualityResult | Failure]:
    """Score one input (path, PIL image or array) or a list of them.

    A single input returns its `QualityResult` and raises `MediaError` if it cannot be read; a list returns one
    `QualityResult` or `Failure` per input, in order. `calibration`: see `load_model`.
    """
    m = _model(model, calibration)
    if isinstance(sources, (list, tuple)):
        return list(iter_score(sources, m))
    return m.score(sources)


def explain(sources: Any, model: QualityModel | str | None = "vqual-lmm", *,
            calibration: Calibration | str | Path | None = None) -> QualityResult | list[QualityResult | Failure]:
    """Like `score`, with an explanation in words in each result (`explanation`, read back against the score and
    the attributes in `explanation_check`). The model must be an explaining one (default ``vqual-lmm``); others
    raise `VqualError`."""
    m = _model(model, calibration).explaining()
    if isinstance(sources, (list, tuple)):
        return list(iter_score(sources, m))
    return m.score(sources)
