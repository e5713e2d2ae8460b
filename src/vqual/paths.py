"""Where vqual keeps files on the user's machine: the one place ``VQUAL_HOME``, ``VQUAL_CACHE_DIR`` and
``XDG_CACHE_HOME`` are read.

- `vqual_home()`: ``$VQUAL_HOME``, else ``$XDG_CACHE_HOME/vqual``, else ``~/.cache/vqual``. Named user models live
  in its ``models`` folder (`vqual.models.user.models_home`).
- `cache_dir(name)`: ``$VQUAL_CACHE_DIR/<name>``, else ``vqual_home()/<name>``. Every cache (things vqual can make
  again: the evaluation's predictions ``eval``, the dequantised language decoder ``decoders``, DISTS' converted VGG16
  ``weights``) is one of these.

With none of the variables set everything is under ``~/.cache/vqual`` (``models``, ``eval``, ``decoders``, ``weights``).
"""

from __future__ import annotations

import os
from pathlib import Path


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def vqual_home() -> Path:
    """``$VQUAL_HOME``, else ``$XDG_CACHE_HOME/vqual``, else ``~/.cache/vqual``."""
    home = _env_path("VQUAL_HOME")
    if home is not None:
        return home
    xdg = _env_path("XDG_CACHE_HOME")
    return (xdg if xdg is not None else Path.home() / ".cache") / "vqual"


def cache_dir(name: str) -> Path:
    """The folder of one cache: ``$VQUAL_CACHE_DIR/<name>``, else ``vqual_home()/<name>``."""
    base = _env_path("VQUAL_CACHE_DIR")
    return (base if base is not None else vqual_home()) / name
