"""What the language path sees of a picture: one backbone pass gives both the global quality features (the same
vector `vqual-lite`'s heads read: `vqual.encoders.features`, stage statistics + direct measures) and a grid of
last-stage cells."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

GRID = 3  # grid cells per side of the last-stage map


@dataclass
class FrameFeatures:
    global_feats: np.ndarray  # (G,) float32: spatial encoder statistics then direct measures
    grid: np.ndarray  # (GRID*GRID, C) float32: mean of the last tapped stage in each grid cell, row-major


class FrameEncoder:
    """RGB key frame -> FrameFeatures, with vqual-lite's feature encoder (`vqual.encoders.features.FeatureEncoder` on
    the torch engine, which gives the stage maps; default: the ``lite`` preset)."""

    def __init__(self, features=None):
        from vqual.encoders.features import encoder_config, get_encoder

        self.features = features if features is not None else get_encoder(encoder_config("lite"), engine="torch")
        config = self.features.spatial.config
        if config.whole_max_side <= 0 or not config.whole_taps:
            raise ValueError("the language path needs the spatial encoder's whole-image view")

    def __call__(self, rgb: np.ndarray) -> FrameFeatures:
        x, maps = self.features.with_maps(rgb)
        with torch.inference_mode():
            last = maps["whole"][-1]  # (1, C, h, w)
            grid = F.adaptive_avg_pool2d(last, GRID)[0].flatten(1).T  # (GRID*GRID, C)
        return FrameFeatures(global_feats=x.astype(np.float32), grid=grid.numpy().astype(np.float32, copy=True))
