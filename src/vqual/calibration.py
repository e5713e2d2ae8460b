"""A calibration of a model's score to the user's own MOS scale: the fitted monotone maps and the content-hashed,
versioned JSON file that holds one, loaded and applied while scoring.

Nothing here fits anything (fitting, cross-validation and the selection rule are `vqual.adapt`): loading a
calibration and applying it needs numpy only, never the training package, the evaluation harness or scipy.

The fitted maps (learned attributes end in ``_``; ``predict(x)``; ``to_dict()`` / ``from_dict()`` for exact JSON
round trips; `vqual.adapt.maps` has the estimators that fit them):

- `LinearMap`: a line ``coef_ * x + intercept_`` (``method`` ``linear``, or ``constant``: the mean label);
- `LogisticMap`: the VQEG 4-parameter logistic `logistic4` (``method`` ``logistic4``), or the line it fell back to
  (``linear`` / ``constant``, ``fallback_reason_`` says why);
- `IsotonicMap`: a monotone piecewise-linear map through the fitted points ``x_``, ``y_``, flat beyond them.

What is mapped: the model's uncalibrated 1-5 ``score`` (not ``raw_score``): it exists for every model, it is
higher-is-better for every model (NIQE's raw value is a distance, lower is better), so one calibration format serves
all models.

Applying (`Calibration.apply`): the model's score is clipped to the range seen in fitting (``x_min_``, ``x_max_``),
flagged ``clipped_to_calibrated_range`` when it was outside; the mapped value is clipped to the scale's declared
range (flag ``clipped_to_scale``). ``score`` becomes the calibrated value, ``score_100`` its position on the scale
(0-100, 100 = best), ``uncalibrated_score`` keeps the model's 1-5 value, ``scale`` names the scale, and
``provenance.calibration_id`` the calibration. Timeline seconds are mapped the same way. ``level``, ``level_probs``
and ``uncertainty`` stay the model's (the levels are the model's 1-5 ACR levels; the uncertainty is on 1-5).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from vqual.errors import CalibrationError
from vqual.output import write_atomic
from vqual.result import (
    FLAG_CLIPPED_INPUT,
    FLAG_CLIPPED_SCALE,
    FLAG_CLIPPED_TIMELINE,
    Moment,
    QualityResult,
    Scale,
)
from vqual.version import __version__

if TYPE_CHECKING:
    from vqual.models.base import Scorer

#: Schema of the saved JSON.
SCHEMA = "vqual.calibration/1"
#: Methods, simplest first: the order in which the selection rule (`vqual.adapt.calibrate`) prefers them.
METHODS = ("linear", "logistic", "isotonic")
#: What the maps take as input: the model's uncalibrated 1-5 score.
INPUT = "score"


# --- fitted maps --------------------------------------------------------------------------------------------------

def logistic4(x, b1: float, b2: float, b3: float, b4: float):
    """VQEG 4-parameter logistic: ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``."""
    z = np.clip(-(np.asarray(x, dtype=float) - b3) / (abs(b4) + 1e-12), -500.0, 500.0)
    return (b1 - b2) / (1.0 + np.exp(z)) + b2


def _not_fitted(obj: Any) -> RuntimeError:
    return RuntimeError(f"{type(obj).__name__}.predict called before fit")


class LinearMap:
    """A line ``y = coef_ * x + intercept_``; ``method`` ``constant`` (slope 0, the mean label) when x did not vary
    in fitting."""

    name: ClassVar[str] = "linear"

    def __init__(self) -> None:
        self.form_: str | None = None  # "linear" or "constant"
        self.coef_: float | None = None
        self.intercept_: float | None = None
        self.n_fit_ = 0

    @property
    def method(self) -> str | None:
        """The fitted form: ``linear`` or ``constant`` (None before fit)."""
        return self.form_

    def predict(self, x) -> np.ndarray:
        if self.coef_ is None or self.intercept_ is None:
            raise _not_fitted(self)
        return self.coef_ * np.asarray(x, dtype=float) + self.intercept_

    def to_dict(self) -> dict[str, Any]:
        return {"estimator": "LinearMap", "method": self.form_, "n_fit": self.n_fit_,
                "params": [self.coef_, self.intercept_]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearMap:
        m = cls()
        m.coef_, m.intercept_ = (float(v) for v in d["params"])
        m.form_ = str(d["method"])
        if m.form_ not in ("linear", "constant"):
            raise ValueError(f"LinearMap: bad method {m.form_!r}")
        m.n_fit_ = int(d["n_fit"])
        return m


class LogisticMap:
    """The VQEG 4-parameter logistic `logistic4` of ``params_`` (b1..b4), or, after a fallback in fitting, the line
    ``params_[0] * x + params_[1]`` (``method`` ``linear`` or ``constant``; ``fallback_reason_`` says why).
    `min_scale` is the fit's constraint (the least scale, in standard deviations of x), kept for the record."""

    name: ClassVar[str] = "logistic"

    def __init__(self, fallback: bool = True, min_scale: float = 0.25):
        self.fallback = fallback
        self.min_scale = min_scale
        self.form_: str | None = None  # "logistic4", "linear" or "constant"
        self.params_: tuple[float, ...] | None = None
        self.fallback_reason_: str | None = None
        self.n_fit_ = 0

    @property
    def method(self) -> str | None:
        """The fitted form: ``logistic4``, or ``linear`` / ``constant`` after a fallback (None before fit)."""
        return self.form_

    @property
    def coef_(self) -> tuple[float, float] | None:
        """The fallback line (slope, intercept), if the logistic was not fitted."""
        if self.form_ in ("linear", "constant") and self.params_ is not None:
            return (self.params_[0], self.params_[1])
        return None

    def predict(self, x) -> np.ndarray:
        if self.form_ is None or self.params_ is None:
            raise _not_fitted(self)
        xs = np.asarray(x, dtype=float)
        if self.form_ == "logistic4":
            return np.asarray(logistic4(xs, *self.params_), dtype=float)
        return self.params_[0] * xs + self.params_[1]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"estimator": "LogisticMap", "method": self.form_, "n_fit": self.n_fit_,
                             "params": None if self.params_ is None else list(self.params_),
                             "min_scale": self.min_scale}
        if self.fallback_reason_:
            d["fallback_reason"] = self.fallback_reason_
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogisticMap:
        m = cls(min_scale=float(d.get("min_scale", 0.25)))
        m.form_ = str(d["method"])
        m.params_ = tuple(float(v) for v in d["params"])
        if m.form_ not in ("logistic4", "linear", "constant") or len(m.params_) != (4 if m.form_ == "logistic4"
                                                                                  else 2):
            raise ValueError(f"LogisticMap: bad method/params {m.form_!r} {list(m.params_)}")
        m.n_fit_ = int(d["n_fit"])
        m.fallback_reason_ = d.get("fallback_reason")
        return m


class IsotonicMap:
    """A monotone map through the fitted points ``x_`` (strictly increasing) and ``y_``: linear interpolation
    between them, flat beyond the first and last. ``increasing_`` is the direction found in fitting; `increasing`
    (True, False or ``"auto"``) the one asked for."""

    name: ClassVar[str] = "isotonic"

    def __init__(self, increasing: bool | str = "auto"):
        if increasing not in (True, False, "auto"):
            raise ValueError(f"increasing must be True, False or 'auto', not {increasing!r}")
        self.increasing = increasing
        self.x_: np.ndarray | None = None
        self.y_: np.ndarray | None = None
        self.increasing_: bool | None = None
        self.n_fit_ = 0

    @property
    def method(self) -> str | None:
        return None if self.x_ is None else "isotonic"

    def predict(self, x) -> np.ndarray:
        if self.x_ is None or self.y_ is None:
            raise _not_fitted(self)
        return np.interp(np.asarray(x, dtype=float), self.x_, self.y_)

    def to_dict(self) -> dict[str, Any]:
        return {"estimator": "IsotonicMap", "method": self.method, "n_fit": self.n_fit_,
                "increasing": self.increasing_,
                "x": None if self.x_ is None else [float(v) for v in self.x_],
                "y": None if self.y_ is None else [float(v) for v in self.y_]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IsotonicMap:
        m = cls(increasing=bool(d["increasing"]))
        m.x_ = np.asarray([float(v) for v in d["x"]], dtype=float)
        m.y_ = np.asarray([float(v) for v in d["y"]], dtype=float)
        if m.x_.size == 0 or m.x_.shape != m.y_.shape or np.any(np.diff(m.x_) <= 0):
            raise ValueError("IsotonicMap: x must be strictly increasing and as long as y")
        m.increasing_, m.n_fit_ = bool(d["increasing"]), int(d["n_fit"])
        return m


#: The fitted map of each method.
MAPS: dict[str, type] = {"linear": LinearMap, "logistic": LogisticMap, "isotonic": IsotonicMap}


def map_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild a fitted map from its ``to_dict()`` (dispatching on ``estimator``)."""
    by_class = {cls.__name__: cls for cls in MAPS.values()}
    cls = by_class.get(str(d.get("estimator")))
    if cls is None:
        raise ValueError(f"unknown estimator {d.get('estimator')!r}")
    return cls.from_dict(d)


# --- the calibration ----------------------------------------------------------------------------------------------

def _slug(s: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "-", s).strip("-.") or "calibration"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _describe(name: str, version: str, sha: str | None) -> str:
    return f"{name} {version} (weights sha256 {sha[:12] if sha else 'none'})"


@dataclass
class Calibration:
    """A fitted map from one model's uncalibrated 1-5 score to a user's scale, with its provenance.

    ``id`` = ``<name>-<first 12 hex of the sha256 of the canonical JSON of what defines the map>`` (model, input
    range, scale, method, fitted parameters); dates, label counts and CV figures do not change it.
    """

    name: str  # the calibration's (and by default the scale's) name, e.g. the output file's stem
    model: str  # the model it was made for
    model_version: str
    weights_sha256: str | None
    method: str  # one of METHODS
    map: Any  # the fitted LinearMap / LogisticMap / IsotonicMap
    x_min_: float  # range of the model's score seen in fitting; inputs are clipped to it
    x_max_: float
    scale: Scale  # the user's scale: name, declared range, direction
    n_labels: int  # labels the map was fitted on
    label_min: float  # lowest and highest label seen
    label_max: float
    selected_by: str = "cross-validation"  # or "user" (--method named)
    cv: dict[str, Any] = field(default_factory=dict)  # k, seed, rule, per-method srcc / plcc / rmse / rmse_folds
    labels_file: str | None = None  # name of the label file (no folders)
    n_failed: int = 0  # labelled files the model could not score
    n_skipped: int = 0  # labels skipped when loading (missing media, duplicates, bad values)
    warnings: list[str] = field(default_factory=list)
    created: str = ""  # ISO 8601 UTC
    vqual_version: str = __version__
    path: str | None = field(default=None, compare=False)  # where it was loaded from / saved to (not saved)

    # --- identity ---------------------------------------------------------------------------------------------
    def _defining(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "model": self._model_block(), "input": self._input_block(),
                "scale": self._scale_block(), "method": self.method, "map": self.map.to_dict()}

    @property
    def id(self) -> str:
        digest = hashlib.sha256(_canonical(self._defining()).encode("utf-8")).hexdigest()
        return f"{_slug(self.name)}-{digest[:12]}"

    def _model_block(self) -> dict[str, Any]:
        return {"name": self.model, "version": self.model_version, "weights_sha256": self.weights_sha256}

    def _input_block(self) -> dict[str, Any]:
        return {"quantity": INPUT, "scale": "mos-1-5", "x_min": self.x_min_, "x_max": self.x_max_}

    def _scale_block(self) -> dict[str, Any]:
        return {"name": self.scale.name, "min": float(self.scale.min), "max": float(self.scale.max),  # as loaded
                "higher_is_better": self.scale.higher_is_better}

    @property
    def where(self) -> str:
        return self.path if self.path else f"calibration {self.id}"

    def describe(self) -> str:
        """One line: id, scale and model."""
        s = self.scale
        direction = "higher is better" if s.higher_is_better else "lower is better"
        return (f"{self.id}: {self.method} map to {s.name} ({s.min:g}-{s.max:g}, {direction}) for "
                f"{self.model} {self.model_version}, {self.n_labels} labels")

    # --- JSON ---------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        cv = {k: v for k, v in self.cv.items() if k != "methods"}
        cv["methods"] = {m: {k: v for k, v in fig.items() if k != "sq_err"}
                         for m, fig in self.cv.get("methods", {}).items()}
        return {"schema": SCHEMA, "id": self.id, "name": self.name, "model": self._model_block(),
                "input": self._input_block(), "scale": self._scale_block(), "method": self.method,
                "selected_by": self.selected_by, "map": self.map.to_dict(),
                "labels": {"file": self.labels_file, "n_labels": self.n_labels, "n_failed": self.n_failed,
                           "n_skipped": self.n_skipped, "min": self.label_min, "max": self.label_max},
                "cv": cv, "warnings": list(self.warnings), "created": self.created,
                "vqual_version": self.vqual_version}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, path: str | None = None) -> Calibration:
        """Rebuild from `to_dict` output; raises `CalibrationError` (naming `path`) if it is not one."""
        where = path or "calibration"
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            got = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise CalibrationError(f"{where}: not a vqual calibration (schema {got!r}, expected {SCHEMA!r})")
        try:
            mdl, inp, sc, lab = d["model"], d["input"], d["scale"], d["labels"]
            if inp.get("quantity", INPUT) != INPUT:
                raise ValueError(f"input {inp.get('quantity')!r} is not {INPUT!r}")
            cal = cls(name=str(d["name"]), model=str(mdl["name"]), model_version=str(mdl["version"]),
                      weights_sha256=mdl.get("weights_sha256"), method=str(d["method"]), map=map_from_dict(d["map"]),
                      x_min_=float(inp["x_min"]), x_max_=float(inp["x_max"]),
                      scale=Scale(name=str(sc["name"]), min=float(sc["min"]), max=float(sc["max"]),
                                  higher_is_better=bool(sc["higher_is_better"])),
                      n_labels=int(lab["n_labels"]), label_min=float(lab["min"]), label_max=float(lab["max"]),
                      selected_by=str(d.get("selected_by", "")), cv=dict(d.get("cv") or {}),
                      labels_file=lab.get("file"), n_failed=int(lab.get("n_failed", 0)),
                      n_skipped=int(lab.get("n_skipped", 0)), warnings=list(d.get("warnings") or []),
                      created=str(d.get("created", "")), vqual_version=str(d.get("vqual_version", "")), path=path)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            detail = f"missing {e}" if isinstance(e, KeyError) else str(e)
            raise CalibrationError(f"{where}: malformed calibration ({detail})") from None
        if cal.method not in METHODS:
            raise CalibrationError(f"{where}: unknown calibration method {cal.method!r}")
        if not (cal.scale.max > cal.scale.min) or not (cal.x_max_ >= cal.x_min_):
            raise CalibrationError(f"{where}: malformed calibration (empty scale or input range)")
        if d.get("id") != cal.id:
            raise CalibrationError(f"{where}: its id {d.get('id')!r} does not match its content ({cal.id}); "
                                   "was it edited by hand? Fit it again with `vqual calibrate`")
        return cal

    def save(self, path: str | Path) -> Path:
        """Write the JSON atomically (a temporary file renamed into place)."""
        write_atomic(path, self.to_json())
        self.path = str(path)
        return Path(path)

    # --- applying -----------------------------------------------------------------------------------------------
    def check_model(self, model: Scorer) -> None:
        """Raise `CalibrationError` unless `model` (name, version, weights sha256) is the one this was made for."""
        self._check_identity(str(model.name), str(model.version), model.weights_sha256)

    def _check_identity(self, name: str, version: str, sha: str | None) -> None:
        if (name, version, sha) != (self.model, self.model_version, self.weights_sha256):
            raise CalibrationError(
                f"{self.where}: this calibration was made for "
                f"{_describe(self.model, self.model_version, self.weights_sha256)}, not "
                f"{_describe(name, version, sha)}; fit one for this model with `vqual calibrate --model {name}`")

    def map_scores(self, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Calibrated values of model scores `x`, and masks of the inputs clipped to the fitted range and of the
        outputs clipped to the scale."""
        xs = np.atleast_1d(np.asarray(x, dtype=float))
        xc = np.clip(xs, self.x_min_, self.x_max_)
        y = np.asarray(self.map.predict(xc), dtype=float)
        yc = np.clip(y, self.scale.min, self.scale.max)
        return yc, (xs < self.x_min_) | (xs > self.x_max_), y != yc

    def transform(self, x) -> np.ndarray:
        """Calibrated values of model scores `x` (clipped as `map_scores` says)."""
        return self.map_scores(x)[0]

    def __call__(self, score: float) -> float:
        return float(self.transform([score])[0])

    def apply(self, result: QualityResult) -> QualityResult:
        """A copy of `result` (the model's own, uncalibrated) on this calibration's scale; see the module doc."""
        prov = result.provenance
        if prov.calibration_id is not None:
            raise CalibrationError(f"{result.path}: already calibrated ({prov.calibration_id}); "
                                   f"cannot apply {self.id} on top")
        self._check_identity(prov.model, prov.model_version, prov.weights_sha256)
        y, cin, cout = self.map_scores([result.score])
        flags = list(result.flags)
        if cin[0]:
            flags.append(FLAG_CLIPPED_INPUT)
        if cout[0]:
            flags.append(FLAG_CLIPPED_SCALE)
        timeline, worst = result.timeline, result.worst
        if timeline or worst:
            seconds = list(timeline or []) + list(worst or [])
            ys, tin, tout = self.map_scores([m.score for m in seconds])

            def moved(m: Moment, v: float) -> Moment:
                return replace(m, score=float(v), uncalibrated_score=float(m.score))

            mapped = [moved(m, v) for m, v in zip(seconds, ys)]
            nt = len(timeline or [])
            timeline = mapped[:nt] if timeline is not None else None
            worst = mapped[nt:] if worst is not None else None
            if tin[:nt].any():
                flags.append(FLAG_CLIPPED_TIMELINE)
        score = float(y[0])
        return replace(result, score=score, score_100=self.scale.to_100(score), uncalibrated_score=float(result.score),
                       scale=replace(self.scale), flags=list(dict.fromkeys(flags)),
                       provenance=replace(prov, calibration_id=self.id), timeline=timeline, worst=worst)


def load_calibration(path: str | Path) -> Calibration:
    """Read a saved calibration; `CalibrationError` (naming the file) if it is missing, unreadable or not one."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalibrationError(f"{path}: calibration file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CalibrationError(f"{path}: cannot read the calibration ({e})") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise CalibrationError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    return Calibration.from_dict(d, path=str(path))


def as_calibration(obj: Calibration | str | Path) -> Calibration:
    """A `Calibration` as given, or loaded from a path."""
    return obj if isinstance(obj, Calibration) else load_calibration(obj)

