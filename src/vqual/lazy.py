"""Modules imported on first use, so that importing the code that needs them stays cheap.

``stats = LazyModule("scipy.stats")`` at the top of a module behaves like ``from scipy import stats`` in every
function that uses it, but scipy.stats (about a second to import) is only imported when one of them runs: loading a
calibration to score with, for instance, needs the module that fits calibrations but none of its statistics.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for the module `name`, importing it at the first attribute access."""

    def __init__(self, name: str):
        self._lazy_name = name

    def _module(self) -> ModuleType:
        return importlib.import_module(self._lazy_name)

    def __getattr__(self, attr: str) -> Any:
        if attr == "_lazy_name":
            raise AttributeError(attr)
        return getattr(self._module(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._lazy_name!r}>"
