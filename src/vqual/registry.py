"""Model registry: names, versions and how to build each model; suggestions for mistyped names."""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from dataclasses import dataclass

from vqual.errors import ModelNotFoundError


@dataclass(frozen=True)
class ModelSpec:
    """A registered model."""

    name: str  # the name users type
    version: str  # model version; part of every result's provenance
    factory: str  # "module:Class" building the model (imported lazily so listing models stays fast)
    description: str  # one line for `vqual models`
    kinds: tuple[str, ...] = ("image", "video")  # media it scores
    path: str | None = None  # a user model's folder (`vqual.models.user`); None for built-in models


_REGISTRY: dict[str, ModelSpec] = {}
_DEFAULT: list[str] = []


def register(spec: ModelSpec, default: bool = False) -> None:
    """Add a model; `default=True` makes it the model used when no name is given."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    if default:
        _DEFAULT[:] = [spec.name]


def default_model_name() -> str:
    return _DEFAULT[0]


def is_builtin(name: str) -> bool:
    """Whether `name` is a built-in model's (user models may not take it)."""
    return name in _REGISTRY


def list_models(pattern: str = "*") -> list[ModelSpec]:
    """Registered models whose name matches a shell-style pattern, default first, then by name; then the user models
    of the models home (`vqual.models.user`)."""
    from vqual.models.user import list_user_models

    specs = [s for s in _REGISTRY.values() if fnmatch.fnmatch(s.name, pattern)]
    specs += [s for s in list_user_models() if fnmatch.fnmatch(s.name, pattern)]
    return sorted(specs, key=lambda s: (s.name != default_model_name(), s.name))


def get_spec(name: str | None = None) -> ModelSpec:
    """The spec of `name` (the default model when None); raises ModelNotFoundError with suggestions."""
    name = default_model_name() if name is None else name
    if name in _REGISTRY:
        return _REGISTRY[name]
    from vqual.models.user import find_user_model

    user = find_user_model(name)  # a model folder's path, or a name in the models home; WeightsError if broken
    if user is not None:
        return user
    close = difflib.get_close_matches(name.lower(), list(_REGISTRY), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ModelNotFoundError(f"unknown model {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})")


def create_model(name: str | None = None, **kwargs):
    """Build a registered model by name (the default when None)."""
    spec = get_spec(name)
    module, cls = spec.factory.split(":")
    if spec.path is not None:
        kwargs = {**kwargs, "path": spec.path}
    model = getattr(importlib.import_module(module), cls)(**kwargs)
    if model.name != spec.name or model.version != spec.version:
        raise RuntimeError(f"registry entry {spec.name} {spec.version} builds {model.name} {model.version}")
    return model


register(ModelSpec(name="vqual-lite", version="1.0.0", factory="vqual.models.lite:VqualLite",
                   description="EfficientNet-Lite0 + NSS measures + temporal encoder, linear heads (trained here)"),
         default=True)
register(ModelSpec(name="vqual-lite@2.0", version="2.0.0", factory="vqual.models.lite:VqualLite2",
                   description="vqual-lite with its encoder's upper half fine-tuned on 9,000 BIQ2021 photographs; "
                               "large stills also judged at native resolution (candidate: see BENCHMARKS.md)"))
register(ModelSpec(name="niqe", version="1.0.0", factory="vqual.models.niqe:NIQEModel",
                   description="NIQE (Mittal et al. 2012), opinion-unaware naturalness with the LIVE pristine model"))
register(ModelSpec(name="vqual-lmm", version="1.2.0", factory="vqual.models.lmm:VqualLMM",
                   description="vqual-lite encoders -> projectors -> SmolLM2-135M: level-word score, explanations "
                               "(needs the lmm extra)"))
