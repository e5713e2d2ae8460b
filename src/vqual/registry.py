"""Model registry: the built-in models (`vqual.models.cards`), models registered at run time and user model folders
(`vqual.models.user`) by name; suggestions for mistyped names."""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from vqual.errors import ModelNotFoundError
from vqual.models.cards import BUILTIN, ModelSpec

__all__ = ["ModelSpec", "register", "registered", "default_model_name", "list_models", "get_spec", "create_model"]

_REGISTRY: dict[str, ModelSpec] = {}
_DEFAULT: list[str] = []


def register(spec: ModelSpec, default: bool = False) -> None:
    """Add a model; `default=True` makes it the model used when no name is given."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    if default:
        _DEFAULT[:] = [spec.name]


@contextmanager
def registered(spec: ModelSpec) -> Iterator[ModelSpec]:
    """Register `spec` for the duration of a ``with`` block (tests' fake models), then remove it."""
    register(spec)
    try:
        yield spec
    finally:
        _REGISTRY.pop(spec.name, None)


def default_model_name() -> str:
    return _DEFAULT[0]


def _user_spec(found) -> ModelSpec | None:
    if found is None:
        return None
    directory, card = found
    desc = card.description or f"user model ({card.head} head on {card.encoder.get('name', '?')})"
    return ModelSpec(name=card.name, version=card.version, factory="vqual.models.user:UserModel",
                     description=f"{desc} [user: {directory}]", path=str(directory.resolve()))


def list_models(pattern: str = "*") -> list[ModelSpec]:
    """Registered models whose name matches a shell-style pattern, default first, then by name; then the user models
    of the models home (`vqual.models.user`)."""
    from vqual.models.user import list_user_models

    specs = [s for s in _REGISTRY.values() if fnmatch.fnmatch(s.name, pattern)]
    specs += [s for s in map(_user_spec, list_user_models()) if s and fnmatch.fnmatch(s.name, pattern)]
    return sorted(specs, key=lambda s: (s.name != default_model_name(), s.name))


def get_spec(name: str | None = None) -> ModelSpec:
    """The spec of `name` (the default model when None); raises ModelNotFoundError with suggestions."""
    name = default_model_name() if name is None else name
    if name in _REGISTRY:
        return _REGISTRY[name]
    from vqual.models.user import find_user_model

    user = _user_spec(find_user_model(name))  # a folder's path, or a name in the models home; WeightsError if broken
    if user is not None:
        return user
    close = difflib.get_close_matches(name.lower(), list(_REGISTRY), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ModelNotFoundError(f"unknown model {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})")


def create_model(name: str | None = None, **options: Any):
    """Build a registered model by name (the default when None); `options` go to its constructor (every model takes
    ``max_pixels``; vqual-lmm also ``decoder_path`` and ``projectors_path``)."""
    spec = get_spec(name)
    module, cls = spec.factory.split(":")
    if spec.path is not None:
        options = {**options, "path": spec.path}
    model = getattr(importlib.import_module(module), cls)(**options)
    if model.name != spec.name or model.version != spec.version:
        raise RuntimeError(f"registry entry {spec.name} {spec.version} builds {model.name} {model.version}")
    return model


for _i, _spec in enumerate(BUILTIN):
    register(_spec, default=_i == 0)
