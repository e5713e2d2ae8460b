"""Linear heads on standardised features: the light decoders of `vqual-lite` (score, attributes, uncertainty) and of
user models (`vqual train --head linear`), and the ridge fit of the shipped ones.

A head is data, not code: feature mean and scale, a weight matrix and a bias, saved by `vqual.heads.store` in a
`.npz` (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass

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

    ARRAYS = ("mean", "scale", "weight", "bias")

    def to_arrays(self, prefix: str, dtype: type | None = np.float32) -> dict[str, np.ndarray]:
        """Arrays to save, in `dtype` (float32 by default: half the size, predictions move by ~1e-6; None keeps
        the arrays' own type)."""
        return to_arrays(self, prefix, dtype)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> LinearHead:
        return from_arrays(cls, arrays, prefix)


def to_arrays(head, prefix: str, dtype: type | None) -> dict[str, np.ndarray]:
    """``<prefix>.<name>`` for each of ``head.ARRAYS`` (cast to `dtype` unless None) and ``<prefix>.names``."""
    out = {f"{prefix}.{k}": (np.asarray(getattr(head, k)) if dtype is None else getattr(head, k).astype(dtype))
           for k in head.ARRAYS}
    return {**out, f"{prefix}.names": np.array(head.names)}


def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str):
    """The head of class `cls` saved by `to_arrays` under `prefix`, its arrays in float64."""
    f64 = {k: np.asarray(arrays[f"{prefix}.{k}"]).astype(np.float64) for k in cls.ARRAYS}
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
