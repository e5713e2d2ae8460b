"""What the language path sees of a picture: one backbone pass gives both the global quality features (the same
vector `vqual-lite`'s heads read: stage statistics + direct measures) and a grid of last-stage cells."""

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
    """RGB key frame -> FrameFeatures, with the frozen spatial encoder and the direct measures."""

    def __init__(self, spatial=None):
        from vqual.encoders.spatial import SpatialEncoder

        self.spatial = spatial or SpatialEncoder()
        taps = self.spatial.config.whole_taps
        if self.spatial.config.whole_max_side <= 0 or not taps:
            raise ValueError("the language path needs the spatial encoder's whole-image view")

    def __call__(self, rgb: np.ndarray) -> FrameFeatures:
        from vqual.encoders.measures import measures
        from vqual.encoders.spatial import pool_mean_std

        maps = self.spatial.feature_maps(rgb)
        with torch.inference_mode():
            stats = torch.cat([pool_mean_std(m) for view, _ in self.spatial._views for m in maps[view]])
            last = maps["whole"][-1]  # (1, C, h, w)
            grid = F.adaptive_avg_pool2d(last, GRID)[0].flatten(1).T  # (GRID*GRID, C)
        g = np.concatenate([stats.numpy().astype(np.float32), measures(rgb).astype(np.float32)])
        return FrameFeatures(global_feats=g, grid=grid.numpy().astype(np.float32, copy=True))
