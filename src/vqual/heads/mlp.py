"""A one-hidden-layer MLP head on standardised features (`vqual train --head mlp`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vqual.heads.linear import from_arrays, to_arrays


@dataclass
class MLPHead:
    """y = relu(((x - mean) / scale) @ w1 + b1) @ w2 + b2, one output column per name."""

    names: tuple[str, ...]  # output names
    mean: np.ndarray  # (d,) feature mean of the training set
    scale: np.ndarray  # (d,) feature standard deviation (1 where constant)
    w1: np.ndarray  # (d, h)
    b1: np.ndarray  # (h,)
    w2: np.ndarray  # (h, k)
    b2: np.ndarray  # (k,)

    ARRAYS = ("mean", "scale", "w1", "b1", "w2", "b2")

    def __post_init__(self) -> None:
        d, h = self.w1.shape
        k = self.w2.shape[1] if self.w2.ndim == 2 else -1
        if (self.mean.shape != (d,) or self.scale.shape != (d,) or self.b1.shape != (h,) or self.w2.shape != (h, k)
                or self.b2.shape != (k,) or len(self.names) != k):
            raise ValueError(f"inconsistent head shapes: w1 {self.w1.shape}, w2 {self.w2.shape}, mean "
                             f"{self.mean.shape}, scale {self.scale.shape}, b1 {self.b1.shape}, b2 {self.b2.shape}, "
                             f"{len(self.names)} names")

    @property
    def dim(self) -> int:
        return self.w1.shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(d,) -> (k,) or (n, d) -> (n, k), float64."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return np.maximum(z @ self.w1 + self.b1, 0.0) @ self.w2 + self.b2

    def to_arrays(self, prefix: str, dtype: type | None = np.float32) -> dict[str, np.ndarray]:
        """Arrays to save (see `LinearHead.to_arrays`)."""
        return to_arrays(self, prefix, dtype)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> MLPHead:
        return from_arrays(cls, arrays, prefix)
