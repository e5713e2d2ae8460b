"""Assemble design matrices from the cached per-view, per-tap pooled features."""
from __future__ import annotations

import numpy as np
from common import CACHE

_cache: dict[str, dict[str, np.ndarray]] = {}
STAGES6 = ("s2", "s3", "s4", "s5", "s6", "s7")


def _load(view):
    if view not in _cache:
        _cache[view] = dict(np.load(CACHE / f"feat_{view}.npz"))
    return _cache[view]


def design(parts, stat="ms"):
    """parts: list of (view, taps) or ("hand", None). stat: 'ms' mean+std, 'm' mean only, 's' std only.

    Returns X (200, d), blocks [(start, end)] (one per view/tap), ms_per_image (sum of the parts' medians)."""
    cols, blocks, ms, pos = [], [], 0.0, 0
    for view, taps in parts:
        d = _load(view)
        ms += float(np.median(d["ms"]))
        if view == "hand":
            cols.append(d["hand"]); blocks.append((pos, pos + d["hand"].shape[1])); pos += d["hand"].shape[1]
            continue
        for t in taps:
            v = d[t]; c = v.shape[1] // 2
            v = {"ms": v, "m": v[:, :c], "s": v[:, c:]}[stat]
            cols.append(v); blocks.append((pos, pos + v.shape[1])); pos += v.shape[1]
    return np.concatenate(cols, 1).astype(np.float64), blocks, ms
