"""Fragment sampling: native-resolution patches (no resizing), so models see real pixel-level artefacts.

`fragments` takes one ``size`` x ``size`` patch centred in each cell of a ``grid`` over the image:

* cell (i, j) of a gh x gw grid has centre ``((i + 0.5) * H / gh, (j + 0.5) * W / gw)``; the patch top-left is
  that centre minus ``size / 2``, rounded, then clamped into the image. When the image is smaller than
  ``grid * size`` the patches therefore overlap (clamping keeps them inside the image); nothing is resized.
* An image smaller than ``size`` in a dimension is first reflect-padded (numpy ``reflect``; ``edge`` for a 1-pixel
  dimension) symmetrically to ``size``; positions are then given in the padded image's coordinates.
* Deterministic: no randomness, the same image always gives the same patches in row-major order.

`tile` cuts the image into a regular grid of ``size`` x ``size`` tiles covering all of it (the last row / column
is aligned to the bottom / right edge, overlapping its neighbour when the size does not divide evenly).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Fragments(NamedTuple):
    patches: np.ndarray  # (N, size, size, 3) uint8, row-major over the grid
    positions: list[tuple[int, int]]  # (y, x) top-left of each patch (in the padded image if padding was needed)


def _check(rgb: np.ndarray, size: int) -> None:
    if not (isinstance(rgb, np.ndarray) and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8):
        raise ValueError(f"expected an HxWx3 uint8 array, got {getattr(rgb, 'shape', None)} "
                         f"{getattr(rgb, 'dtype', type(rgb).__name__)}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")


def pad_to(rgb: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad `rgb` symmetrically so that both sides are at least `size` (unchanged if already)."""
    h, w = rgb.shape[:2]
    ph, pw = max(0, size - h), max(0, size - w)
    if not ph and not pw:
        return rgb
    out = rgb
    for axis, p, n in ((0, ph, h), (1, pw, w)):
        if p:
            widths = [(0, 0)] * 3
            widths[axis] = (p // 2, p - p // 2)
            out = np.pad(out, widths, mode="reflect" if n > 1 else "edge")
    return out


def fragments(rgb: np.ndarray, grid: tuple[int, int] = (4, 4), size: int = 32) -> Fragments:
    """One native-resolution ``size`` x ``size`` patch centred in each cell of `grid` (rows, cols)."""
    _check(rgb, size)
    gh, gw = int(grid[0]), int(grid[1])
    if gh < 1 or gw < 1:
        raise ValueError(f"grid must be at least (1, 1), got {grid}")
    img = pad_to(rgb, size)
    h, w = img.shape[:2]
    ys = [min(max(int(np.floor((i + 0.5) * h / gh - size / 2 + 0.5)), 0), h - size) for i in range(gh)]
    xs = [min(max(int(np.floor((j + 0.5) * w / gw - size / 2 + 0.5)), 0), w - size) for j in range(gw)]
    positions = [(y, x) for y in ys for x in xs]
    patches = np.empty((len(positions), size, size, 3), dtype=np.uint8)
    for k, (y, x) in enumerate(positions):
        patches[k] = img[y:y + size, x:x + size]
    return Fragments(patches, positions)


def tile(rgb: np.ndarray, size: int) -> Fragments:
    """Cover the image with ``size`` x ``size`` tiles (last row / column aligned to the edge), row-major."""
    _check(rgb, size)
    img = pad_to(rgb, size)
    h, w = img.shape[:2]

    def starts(n: int) -> list[int]:
        s = list(range(0, n - size + 1, size))
        if s[-1] != n - size:
            s.append(n - size)
        return s

    positions = [(y, x) for y in starts(h) for x in starts(w)]
    patches = np.empty((len(positions), size, size, 3), dtype=np.uint8)
    for k, (y, x) in enumerate(positions):
        patches[k] = img[y:y + size, x:x + size]
    return Fragments(patches, positions)
