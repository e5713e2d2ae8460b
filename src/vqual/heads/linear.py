"""Linear heads on standardised features: the light decoders of `vqual-lite` (score, attributes, uncertainty).

A head is data, not code: feature mean and scale, a weight matrix and a bias, saved in a `.npz` (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class LinearHead:
    """y = ((x - mean) / scale) @ weight + bias, one output column per name."""

    names: tuple[str, ...]  # output names
    mean: np.ndarray  # (d,) feature mean of the training set
    scale: np.ndarray  # (d,) feature standard deviation (1 where constant)
    weight: np.ndarray  # (d, k)
    bias: np.ndarray  # (k,)

    def __post_init__(self) -> None:
        d, k = self.weight.shape
        if self.mean.shape != (d,) or self.scale.shape != (d,) or self.bias.shape != (k,) or len(self.names) != k:
            raise ValueError(f"inconsistent head shapes: weight {self.weight.shape}, mean {self.mean.shape}, "
                             f"scale {self.scale.shape}, bias {self.bias.shape}, {len(self.names)} names")

    @property
    def dim(self) -> int:
        return self.weight.shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(d,) -> (k,) or (n, d) -> (n, k), float64."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return z @ self.weight + self.bias

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays to save, in float32 (half the size; predictions move by ~1e-6)."""
        f32 = {k: getattr(self, k).astype(np.float32) for k in ("mean", "scale", "weight", "bias")}
        return {**{f"{prefix}.{k}": v for k, v in f32.items()}, f"{prefix}.names": np.array(self.names)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> LinearHead:
        f64 = {k: arrays[f"{prefix}.{k}"].astype(np.float64) for k in ("mean", "scale", "weight", "bias")}
        return cls(names=tuple(str(n) for n in arrays[f"{prefix}.names"]), **f64)


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column mean and standard deviation of `x` (n, d); constant columns get scale 1."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-8] = 1.0
    return mean, scale


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float, names: tuple[str, ...]) -> LinearHead:
    """Ridge regression on standardised `x` (n, d) to `y` (n,) or (n, k); solved in the dual when d > n."""
    y2 = y.reshape(len(y), -1).astype(np.float64)
    mean, scale = standardiser(x.astype(np.float64))
    z = (x - mean) / scale
    y_mean = y2.mean(axis=0)
    yc = y2 - y_mean
    n, d = z.shape
    if d > n:  # w = Z^T (Z Z^T + a I)^-1 y
        w = z.T @ np.linalg.solve(z @ z.T + alpha * np.eye(n), yc)
    else:
        w = np.linalg.solve(z.T @ z + alpha * np.eye(d), z.T @ yc)
    return LinearHead(names=names, mean=mean, scale=scale, weight=w, bias=y_mean)


def save_heads(path: str | Path, heads: dict[str, LinearHead], extra: dict[str, np.ndarray] | None = None) -> None:
    arrays: dict[str, np.ndarray] = {}
    for prefix, head in heads.items():
        arrays.update(head.to_arrays(prefix))
    arrays.update(extra or {})
    np.savez(path, **arrays)


def load_heads(path: str | Path, prefixes: tuple[str, ...]) -> tuple[dict[str, LinearHead], dict[str, np.ndarray]]:
    """Heads saved by `save_heads`, plus the remaining arrays. Never unpickles."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    heads = {p: LinearHead.from_arrays(arrays, p) for p in prefixes}
    rest = {k: v for k, v in arrays.items() if k.split(".")[0] not in prefixes}
    return heads, rest
