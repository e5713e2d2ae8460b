"""Feature encoders shared by quality models.

``vqual.encoders.nss``: natural-scene-statistics primitives (MSCN, GGD / AGGD fits, BRISQUE and NIQE features),
MATLAB-compatible. Its names are re-exported here lazily, so importing a sibling encoder does not load scipy.
"""

from __future__ import annotations

import importlib

_NSS = ("aggd_features", "brisque_features", "fit_aggd", "fit_ggd", "imresize", "mscn", "niqe_patch_features",
        "to_gray")

__all__ = list(_NSS)


def __getattr__(name: str):
    if name in _NSS:
        return getattr(importlib.import_module("vqual.encoders.nss"), name)
    raise AttributeError(f"module 'vqual.encoders' has no attribute {name!r}")
