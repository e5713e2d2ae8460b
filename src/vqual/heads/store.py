"""The one head file format: a ``.npz`` (read with ``allow_pickle=False``) holding, for each head under a prefix,
``<prefix>.names`` and its arrays (``<prefix>.mean``, ``.scale``, ``.weight``, ``.bias`` for a `LinearHead`;
``.mean``, ``.scale``, ``.w1``, ``.b1``, ``.w2``, ``.b2`` for an `MLPHead`), plus any other arrays.

vqual-lite's ``heads.npz`` and user model folders' ``weights.npz`` (one head, prefix ``score``) use it. User model
folders written before it (card schema ``vqual.model/1``) hold one head's bare arrays (``mean``, ``scale``, ``w``,
``b`` or ``w1``, ``b1``, ``w2``, ``b2`` with one output); `from_flat_arrays` reads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vqual.heads.linear import LinearHead
from vqual.heads.mlp import MLPHead

Head = LinearHead | MLPHead
#: Head classes by the name user model cards give them (``head.type``).
KINDS: dict[str, type] = {"linear": LinearHead, "mlp": MLPHead}


def kind_of(head: Head) -> str:
    """The card name of a head's class ("linear" or "mlp")."""
    return next(k for k, cls in KINDS.items() if isinstance(head, cls))


def head_from_arrays(arrays: dict[str, np.ndarray], prefix: str) -> Head:
    """The head saved under `prefix` (its class told by its arrays); KeyError when arrays are missing, ValueError
    when their shapes disagree."""
    cls = MLPHead if f"{prefix}.w1" in arrays else LinearHead
    return cls.from_arrays(arrays, prefix)


def save_heads(path: str | Path, heads: dict[str, Head], extra: dict[str, np.ndarray] | None = None,
               dtype: type | None = np.float32) -> None:
    """Write `heads` by prefix and the `extra` arrays to `path` (arrays cast to `dtype` unless None)."""
    np.savez(path, **heads_to_arrays(heads, dtype), **(extra or {}))


def heads_to_arrays(heads: dict[str, Head], dtype: type | None = np.float32) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for prefix, head in heads.items():
        arrays.update(head.to_arrays(prefix, dtype))
    return arrays


def load_heads(path: str | Path, prefixes: tuple[str, ...]) -> tuple[dict[str, Head], dict[str, np.ndarray]]:
    """Heads saved by `save_heads`, plus the remaining arrays. Never unpickles."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    heads = {p: head_from_arrays(arrays, p) for p in prefixes}
    rest = {k: v for k, v in arrays.items() if k.split(".")[0] not in prefixes}
    return heads, rest


def from_flat_arrays(kind: str, arrays: dict[str, np.ndarray], name: str = "score") -> Head:
    """A one-output head from the bare arrays of a ``vqual.model/1`` user model folder; ValueError when the kind is
    unknown or arrays are missing or inconsistent."""
    if kind not in KINDS:
        raise ValueError(f"unknown head type {kind!r} (known: {', '.join(KINDS)})")
    need = ("mean", "scale", "w", "b") if kind == "linear" else ("mean", "scale", "w1", "b1", "w2", "b2")
    missing = [k for k in need if k not in arrays]
    if missing:
        raise ValueError(f"{kind} head lacks arrays {', '.join(missing)}")
    a = {k: np.asarray(arrays[k], dtype=np.float64) for k in need}
    if kind == "linear":
        return LinearHead(names=(name,), mean=a["mean"], scale=a["scale"], weight=a["w"].reshape(-1, 1),
                          bias=a["b"].reshape(1))
    return MLPHead(names=(name,), mean=a["mean"], scale=a["scale"], w1=a["w1"], b1=a["b1"],
                   w2=a["w2"].reshape(-1, 1), b2=a["b2"].reshape(1))
