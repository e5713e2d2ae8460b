"""The built-in models: each entry names its factory and points at its asset card, the JSON file shipped with its
weights that says what the model is (name, version, the weights' sha256, levels, training figures, provenance).
A card is read once per process (`read_card`); the version of a built-in model is its card's ``version`` and is
written nowhere else. (Like timm's pretrained configs or open_clip's model configs: the entry is data.)

`ModelSpec` is also what a user model folder (`vqual.models.user`) or a test's fake model is registered as.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vqual.weights import read_asset_json


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


def read_card(asset: str) -> dict[str, Any]:
    """The asset card at `asset` (a path under vqual/assets), read from disk once per process; a fresh dict."""
    return read_asset_json(asset)


def _builtin(name: str, factory: str, card: str, description: str) -> ModelSpec:
    return ModelSpec(name=name, version=str(read_card(card)["version"]), factory=factory, description=description,
                     card=card)


#: The built-in models; the first is the default.
BUILTIN: tuple[ModelSpec, ...] = (
    _builtin("vqual-lite", "vqual.models.lite:VqualLite", "lite/lite.json",
             "EfficientNet-Lite0 + NSS measures + temporal encoder, linear heads (trained here)"),
    _builtin("vqual-lite@2.0", "vqual.models.lite:VqualLite2", "lite2/lite2.json",
             "vqual-lite with its encoder's upper half fine-tuned on 9,000 BIQ2021 photographs; large stills also "
             "judged at native resolution (candidate: see BENCHMARKS.md)"),
    _builtin("niqe", "vqual.models.niqe:NIQEModel", "niqe/mapping.json",
             "NIQE (Mittal et al. 2012), opinion-unaware naturalness with the LIVE pristine model"),
    _builtin("vqual-lmm", "vqual.models.lmm:VqualLMM", "lmm/lmm.json",
             "vqual-lite encoders -> projectors -> SmolLM2-135M: level-word score, explanations (needs the lmm "
             "extra)"),
)
_BY_NAME = {s.name: s for s in BUILTIN}
BUILTIN_NAMES = frozenset(_BY_NAME)


def card_of(name: str) -> dict[str, Any]:
    """The asset card of a built-in model, by name (KeyError for any other name)."""
    return read_card(str(_BY_NAME[name].card))
