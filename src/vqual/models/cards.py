"""The built-in models: each entry names its factory and points at its asset card, the JSON file shipped with its
weights that says what the model is. Every built-in card has the same identity fields, read once into a typed
`AssetCard`: ``name``, ``version``, ``description``, ``weights`` (file name -> sha256), ``score_range``, ``kinds``,
``preset`` (the feature encoder, `vqual.encoders.features.PRESETS`, or null) and ``training`` (provenance: command,
date, data, code version, args; null where the card records none); the model-specific blocks (levels, heads'
figures, dims, ...) stay beside them. The version and description of a built-in model are its card's and are
written nowhere else. (Like timm's pretrained configs or open_clip's model configs: the entry is data.)

`ModelSpec` is also what a user model folder (`vqual.models.user`) or a test's fake model is registered as.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vqual.weights import read_asset_json

#: The identity fields every built-in card has (scripts that rewrite a card carry them over: `identity`).
IDENTITY_KEYS = ("model", "version", "name", "description", "weights", "score_range", "kinds", "preset", "training")
#: Fields some cards have that a rewriting script carries over too: ``changes``, the card's version history (written
#: by hand per version; scripts/train_lmm.py once dropped it on a retrain)
CARRIED_KEYS = ("changes",)


@dataclass(frozen=True)
class ModelSpec:
    """A registered model."""

    name: str  # the name users type
    version: str  # model version; part of every result's provenance
    factory: str  # "module:Class" building the model (imported lazily so listing models stays fast)
    description: str  # one line for `vqual models`
    kinds: tuple[str, ...] = ("image", "video")  # media it scores
    path: str | None = None  # a user model's folder (`vqual.models.user`); None for built-in models
    card: str | None = None  # a built-in model's asset card (path under vqual/assets)


@dataclass(frozen=True)
class Training:
    """How a model's weights were made, as its card records it (None: not recorded)."""

    command: str | None
    date: str | None
    data: Any  # what it was trained on: a string or a mapping of part -> description
    code_version: str | None
    args: dict[str, Any] | None

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Training | None:
        if d is None:
            return None
        return cls(command=d.get("command"), date=d.get("date"), data=d.get("data"),
                   code_version=d.get("code_version"), args=d.get("args"))


@dataclass(frozen=True)
class AssetCard:
    """A built-in model's card (`read_card`)."""

    asset: str  # the card's path under vqual/assets
    name: str  # the registry name
    family: str  # the card's ``model``: the model family (vqual-lite 1.0 and 2.0 are both "vqual-lite")
    version: str
    description: str
    weights: tuple[tuple[str, str], ...]  # (file in the card's folder, sha256)
    score_range: tuple[float, float]
    kinds: tuple[str, ...]
    preset: str | None  # the feature encoder preset, None for a model without one (NIQE)
    training: Training | None
    config: dict[str, Any] = field(repr=False, compare=False)  # the whole card, model-specific blocks included

    @property
    def folder(self) -> str:
        """The asset folder holding the card and its weights."""
        return self.asset.rsplit("/", 1)[0]

    def sha256(self, file: str) -> str:
        """The sha256 of one of the card's weight files (KeyError for a file the card does not name)."""
        return dict(self.weights)[file]


def read_card(asset: str) -> AssetCard:
    """The asset card at `asset` (a path under vqual/assets), read from disk once per process (its ``config`` is a
    fresh dict each call)."""
    d = read_asset_json(asset)
    lo, hi = d["score_range"]
    weights = tuple((str(f), str(s)) for f, s in d["weights"].items())
    return AssetCard(asset=asset, name=str(d["name"]), family=str(d["model"]), version=str(d["version"]),
                     description=str(d["description"]), weights=weights,
                     score_range=(float(lo), float(hi)), kinds=tuple(d["kinds"]), preset=d["preset"],
                     training=Training.from_dict(d["training"]), config=d)


def identity(card: dict[str, Any]) -> dict[str, Any]:
    """The identity fields of a card dict and the `CARRIED_KEYS` it has, for a script that rewrites the card (new
    weights: update ``weights``)."""
    return {k: card[k] for k in IDENTITY_KEYS + CARRIED_KEYS if k in card}


def _builtin(factory: str, asset: str) -> ModelSpec:
    card = read_card(asset)
    return ModelSpec(name=card.name, version=card.version, factory=factory, description=card.description,
                     kinds=card.kinds, card=asset)


#: The built-in models; the first is the default.
BUILTIN: tuple[ModelSpec, ...] = (
    _builtin("vqual.models.lite:VqualLite2", "lite2/lite2.json"),
    _builtin("vqual.models.lite:VqualLite", "lite/lite.json"),
    _builtin("vqual.models.lite:VqualLite2Biq", "lite2/lite2-biq.json"),
    _builtin("vqual.models.niqe:NIQEModel", "niqe/mapping.json"),
    _builtin("vqual.models.lmm:VqualLMM", "lmm/lmm.json"),
)
_BY_NAME = {s.name: s for s in BUILTIN}
BUILTIN_NAMES = frozenset(_BY_NAME)


def card_of(name: str) -> AssetCard:
    """The asset card of a built-in model, by name (KeyError for any other name)."""
    return read_card(str(_BY_NAME[name].card))
