"""The one place model files are resolved and checked: explicit path, then package data; sha256 verified.

Building a model never touches the network. A missing or altered file raises `WeightsError` saying how to fix it.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from vqual.errors import WeightsError


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def asset_path(relpath: str) -> Path:
    """Path of a file shipped in the package's ``assets`` folder (e.g. ``"niqe/pristine.npz"``)."""
    return Path(str(resources.files("vqual") / "assets" / relpath))


@cache
def _asset_text(relpath: str) -> str:
    return asset_path(relpath).read_text(encoding="utf-8")


def read_asset_json(relpath: str) -> dict[str, Any]:
    """A JSON file shipped in the assets folder (a model's card), read from disk once per process; a fresh copy."""
    return json.loads(_asset_text(relpath))


def resolve(relpath: str, sha256: str | None, explicit: str | Path | None = None) -> Path:
    """Find a model file: `explicit` path if given, else the packaged asset; check its sha256 when one is expected.

    Raises WeightsError when the file is missing or its digest differs.
    """
    path = Path(explicit) if explicit is not None else asset_path(relpath)
    if not path.is_file():
        raise WeightsError(f"{path}: model file not found; reinstall vqual or pass the file's local path explicitly")
    if sha256 is not None:
        got = sha256_file(path)
        if got != sha256:
            raise WeightsError(f"{path}: sha256 {got[:12]}... does not match the expected {sha256[:12]}...; "
                               "the file is corrupt or from another release")
    return path
