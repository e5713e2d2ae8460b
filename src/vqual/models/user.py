"""User models: heads trained by ``vqual train`` or ``vqual distill`` on a frozen shared encoder, saved as a folder
and usable everywhere a registered model is (``vqual score --model``, `vqual.load_model`, ``vqual eval``,
``vqual calibrate``).

A model folder holds two files:

- ``model.json``: schema, name, version, description, the encoder (a named preset of `vqual.encoders.features`
  written out in full, `FeaturePreset.block`, so that the features are rebuilt exactly), the head type, the weights
  file and its sha256, the score map (a fitted calibration map from the head's raw output to 1-5, or none), the
  level map (cumulative logistic of width ``tau`` around the score, as in vqual-lite), the datasets whose labels
  trained it (``trained_on``) and how it was made (``provenance``: command, date, data, teacher, figures);
- ``weights.npz``: the head (`vqual.heads.store` format, prefix ``score``; numpy, read with ``allow_pickle=False``).
  Folders of card schema ``vqual.model/1`` (written before that format) hold the head's bare arrays and are read
  as well.

Names: a model is found by the path of its folder, or by its name when its folder is ``<models home>/<name>``, the
models home being ``$VQUAL_HOME/models`` (default ``~/.cache/vqual/models``). Built-in names always win: a user
model may not take one (refused when written, skipped with a note when listed). A folder that is not a valid model
(no or unreadable ``model.json``, missing weights, sha256 mismatch) raises `WeightsError` with one line naming the
file and the problem.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vqual.encoders.features import get_encoder
from vqual.errors import ModelNotFoundError, WeightsError
from vqual.heads.levels import DEFAULT_TAU, level_probs
from vqual.heads.pooling import WORST_FRACTION, pool_worst
from vqual.heads.prediction import Prediction
from vqual.heads.store import from_flat_arrays, head_from_arrays, kind_of
from vqual.levels import LEVEL_BOUNDS
from vqual.media import Chunk
from vqual.models.base import QualityModel
from vqual.models.cards import BUILTIN_NAMES
from vqual.paths import vqual_home
from vqual.version import __version__

#: The card schema written; 2: the head in `vqual.heads.store`'s format (1: bare arrays, still read).
SCHEMA = "vqual.model/2"
READABLE_SCHEMAS = ("vqual.model/1", SCHEMA)
MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
HEAD_PREFIX = "score"  # the head's prefix in weights.npz
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


# --- the model card -------------------------------------------------------------------------------------------------

@dataclass
class ModelCard:
    """What model.json says (see the module docstring)."""

    name: str
    version: str
    encoder: dict[str, Any]
    head: str  # "linear" or "mlp"
    weights_sha256: str
    description: str = ""
    score_map: dict[str, Any] | None = None  # a `vqual.calibration` map (to_dict form) from raw to 1-5
    levels: dict[str, Any] = field(default_factory=lambda: default_levels())
    trained_on: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    weights_file: str = WEIGHTS_FILE
    schema: str = SCHEMA  # the card schema (a folder read from disk keeps its own)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "name": self.name, "version": self.version, "description": self.description,
                "encoder": self.encoder, "head": {"type": self.head},
                "weights": {"file": self.weights_file, "sha256": self.weights_sha256},
                "score_map": self.score_map, "levels": self.levels, "trained_on": list(self.trained_on),
                "provenance": self.provenance}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str) -> ModelCard:
        """Raises WeightsError naming `where` when a field is missing or malformed."""
        if not isinstance(d, dict) or d.get("schema") not in READABLE_SCHEMAS:
            got = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise WeightsError(f"{where}: not a vqual model card (schema {got!r}, expected {SCHEMA!r})")
        try:
            card = cls(name=str(d["name"]), version=str(d["version"]), encoder=dict(d["encoder"]),
                       head=str(d["head"]["type"]), weights_sha256=str(d["weights"]["sha256"]),
                       weights_file=str(d["weights"].get("file", WEIGHTS_FILE)),
                       description=str(d.get("description", "")), score_map=d.get("score_map"),
                       levels=dict(d.get("levels") or default_levels()),
                       trained_on=[str(t) for t in d.get("trained_on", [])],
                       provenance=dict(d.get("provenance", {})), schema=str(d["schema"]))
            _ = card.encoder["spatial"], card.encoder["measures"], float(card.levels["tau"])
        except (KeyError, TypeError, ValueError) as e:
            raise WeightsError(f"{where}: malformed model card ({type(e).__name__}: {e})") from None
        if Path(card.weights_file).name != card.weights_file:
            raise WeightsError(f"{where}: weights file {card.weights_file!r} must be a file name in the model folder")
        return card


def default_levels(tau: float = DEFAULT_TAU) -> dict[str, Any]:
    """The ``levels`` block of a card: the standard bounds (`vqual.levels.LEVEL_BOUNDS`) and the level head's
    width `tau` (`vqual.heads.levels`)."""
    return {"bounds": list(LEVEL_BOUNDS), "tau": float(tau)}


def models_home() -> Path:
    """Where named user models live: `vqual.paths.vqual_home` ``/ "models"`` (default ``~/.cache/vqual/models``)."""
    return vqual_home() / "models"


def check_name(name: str) -> None:
    """Raise ValueError unless `name` is a valid user model name that no built-in model has."""
    if not NAME_RE.match(name):
        raise ValueError(f"model name {name!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'")
    if name in BUILTIN_NAMES:
        raise ValueError(f"model name {name!r} is a built-in model's; choose another")


def read_card(directory: str | Path) -> ModelCard:
    """The card of a model folder; raises WeightsError naming the file when it is missing or unreadable."""
    path = Path(directory) / MODEL_FILE
    if not path.is_file():
        raise WeightsError(f"{directory}: not a vqual model folder (no {MODEL_FILE})")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path}: unreadable model card ({e})") from None
    return ModelCard.from_dict(d, str(path))


def _looks_like_path(name: str) -> bool:
    return "/" in name or os.sep in name or name.startswith((".", "~")) or name.endswith(MODEL_FILE)


def _checked(directory: Path, card: ModelCard) -> tuple[Path, ModelCard]:
    try:
        check_name(card.name)
    except ValueError as e:
        raise WeightsError(f"{directory / MODEL_FILE}: {e}") from None
    return directory, card


def find_user_model(name: str) -> tuple[Path, ModelCard] | None:
    """The folder and card of a user model given by folder path or by name in `models_home()`; None when `name` is
    neither. Raises WeightsError for a folder whose card is broken, ModelNotFoundError for a missing path."""
    p = Path(name).expanduser()
    if p.name == MODEL_FILE:
        p = p.parent
    if _looks_like_path(name) or p.is_dir():
        if not p.is_dir():
            raise ModelNotFoundError(f"{name}: no such model folder")
        return _checked(p, read_card(p))
    if not NAME_RE.match(name):
        return None
    d = models_home() / name
    if not (d / MODEL_FILE).is_file():
        return None
    card = read_card(d)
    if card.name != name:
        raise WeightsError(f"{d / MODEL_FILE}: the card names {card.name!r} but its folder is {name!r}")
    return _checked(d, card)


def list_user_models() -> list[tuple[Path, ModelCard]]:
    """Folders and cards of the valid models in `models_home()`, by name; broken or shadowing folders are skipped
    with a note."""
    home = models_home()
    if not home.is_dir():
        return []
    out = []
    for d in sorted(home.iterdir()):
        if not (d / MODEL_FILE).is_file():
            continue
        try:
            found = find_user_model(d.name)
        except WeightsError as e:
            print(f"vqual: skipped user model {d.name}: {e}", file=sys.stderr)
            continue
        if found is not None:
            out.append(found)
    return out


# --- writing --------------------------------------------------------------------------------------------------------

def write_model_dir(out: str | Path, card: ModelCard, arrays: dict[str, np.ndarray], *,
                    overwrite: bool = False) -> Path:
    """Write a model folder atomically: everything goes to a temporary sibling folder renamed into place, so a
    crash never leaves a half-written model. The weights' sha256 goes into the card. Refuses (ValueError) a
    built-in or malformed name, and an existing `out` unless `overwrite` and it is a model folder.
    Returns the folder."""
    from vqual.weights import sha256_file

    check_name(card.name)
    out = Path(out).expanduser()
    if out.exists():
        if not overwrite:
            raise ValueError(f"{out} already exists (pass --overwrite to replace a model folder)")
        if not (out / MODEL_FILE).is_file():
            raise ValueError(f"{out} exists and is not a vqual model folder; not replaced")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        np.savez(tmp / card.weights_file, **{k: np.asarray(v) for k, v in arrays.items()})
        card.weights_sha256 = sha256_file(tmp / card.weights_file)
        (tmp / MODEL_FILE).write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")
        if out.exists():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def provenance(made_by: str, command: str, **extra: Any) -> dict[str, Any]:
    """The ``provenance`` block: what made the model, the command line, the date and vqual version, and more."""
    return {"made_by": made_by, "command": command, "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
            "vqual_version": __version__, **extra}


# --- the model ------------------------------------------------------------------------------------------------------

class UserModel(QualityModel):
    """A user model folder as a `QualityModel`: encoder features -> head -> score map -> 1-5 score and levels.

    Videos: each second is scored from its key frame; seconds are pooled by `pool_worst` (the mean of the worst
    half), as vqual-lite does. There are no attribute or uncertainty heads: ``attributes`` is empty and
    ``uncertainty`` 0.
    """

    chunk_luma_size = None  # key frames only: no temporal encoder
    worst_fraction = WORST_FRACTION

    def __init__(self, path: str | Path, max_pixels: int | None = None, engine: str = "onnxruntime"):
        """``engine``: the spatial encoder's (`vqual.encoders.features.ENGINES`; "torch" is the reference)."""
        super().__init__(max_pixels=max_pixels)
        from vqual.weights import resolve

        self.path = Path(path)
        card = read_card(self.path)
        self.card = card
        self.name, self.version = card.name, card.version
        self.decoder = f"user-{card.head}-head"
        self.decoder_version = card.schema
        self.trained_on = tuple(card.trained_on)
        wpath = resolve("", card.weights_sha256, explicit=self.path / card.weights_file)  # WeightsError if bad
        self.weights_sha256 = card.weights_sha256
        try:
            with np.load(wpath, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            if card.schema == "vqual.model/1":
                self.head = from_flat_arrays(card.head, arrays, HEAD_PREFIX)
            else:
                self.head = head_from_arrays(arrays, HEAD_PREFIX)
            if kind_of(self.head) != card.head or len(self.head.names) != 1:
                raise ValueError(f"the card says a {card.head} head with one output, the file holds a "
                                 f"{kind_of(self.head)} head with {len(self.head.names)}")
        except (OSError, ValueError, KeyError) as e:
            raise WeightsError(f"{wpath}: unreadable weights ({e})") from None
        self.score_map = None
        if card.score_map is not None:
            from vqual.calibration import map_from_dict
            from vqual.errors import CalibrationError

            try:
                self.score_map = map_from_dict(card.score_map)
            except (CalibrationError, KeyError, TypeError, ValueError) as e:
                raise WeightsError(f"{self.path / MODEL_FILE}: malformed score map ({e})") from None
        self.bounds = [float(b) for b in card.levels.get("bounds", LEVEL_BOUNDS)]
        self.tau = float(card.levels["tau"])
        self.encoder = get_encoder(card.encoder, engine)
        if self.encoder.dim != self.head.dim:
            raise WeightsError(f"{wpath}: head expects {self.head.dim} features, encoder "
                               f"{card.encoder.get('name')} gives {self.encoder.dim}")

    def features(self, rgb: np.ndarray) -> np.ndarray:
        """The head's input for one RGB image."""
        return self.encoder(rgb)

    def score_features(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, d) features -> (raw head outputs, 1-5 scores), both (n,)."""
        raw = self.head(np.atleast_2d(x))[:, 0]
        mapped = self.score_map.predict(raw) if self.score_map is not None else raw
        return raw, np.clip(np.asarray(mapped, dtype=np.float64), 1.0, 5.0)

    def _prediction(self, raw: float, score: float) -> Prediction:
        return Prediction(score=score, level_probs=level_probs(score, self.bounds, self.tau), raw=raw)

    def predict_image(self, rgb: np.ndarray) -> Prediction:
        raw, score = self.score_features(self.features(rgb))
        return self._prediction(float(raw[0]), float(score[0]))

    def predict_chunk(self, chunk: Chunk) -> Prediction:
        return self.predict_image(chunk.key_frame)

    def pool(self, seconds: list[Prediction]) -> Prediction:
        pooled = pool_worst(seconds, self.worst_fraction)
        pooled.level_probs = level_probs(pooled.score, self.bounds, self.tau)
        return pooled
