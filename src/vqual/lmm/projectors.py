"""Projectors from the frozen encoders into a language decoder's embedding space (LMM-VQA design).

- Spatial projector, per key frame: one transformer layer over the frame's tokens (a global token made of the
  spatial encoder's stage statistics and the direct measures, and a grid of last-stage feature cells), then an MLP to
  the decoder's hidden size.
- Temporal projector, per 1-second chunk: an MLP from the temporal encoder's features to one token.

Inputs are standardised with statistics stored in the module (fitted on the training items), so the projectors
are self-contained: one safetensors file holds everything they need.
"""

from __future__ import annotations

import torch
from torch import nn


class _Standardise(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, x: torch.Tensor) -> None:
        x = x.reshape(-1, x.shape[-1]).double()
        self.mean.copy_(x.mean(0).float())
        self.std.copy_(x.std(0).clamp_min(1e-6).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).clamp(-8.0, 8.0)


class SpatialProjector(nn.Module):
    """(B, G) global features + (B, N, C) grid features -> (B, 1 + N, hidden) visual tokens."""

    def __init__(self, global_dim: int, grid_dim: int, n_grid: int, hidden: int, width: int = 256, heads: int = 4,
                 dropout: float = 0.1, input_dropout: float = 0.2, out_scale: float = 1.0):
        super().__init__()
        self.norm_global = _Standardise(global_dim)
        self.norm_grid = _Standardise(grid_dim)
        self.drop_in = nn.Dropout(input_dropout)
        self.global_in = nn.Linear(global_dim, width)
        self.grid_in = nn.Linear(grid_dim, width)
        self.pos = nn.Parameter(torch.zeros(1 + n_grid, width))
        self.layer = nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=dropout, batch_first=True,
                                                norm_first=True, activation="gelu")
        self.mlp = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.scale = nn.Parameter(torch.tensor(float(out_scale)))
        self.n_tokens = 1 + n_grid

    def forward(self, global_feats: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        g = self.global_in(self.drop_in(self.norm_global(global_feats)))[:, None, :]
        c = self.grid_in(self.drop_in(self.norm_grid(grid)))
        x = torch.cat([g, c], dim=1) + self.pos
        x = self.layer(x)
        y = self.mlp(x)
        return self.scale * y / y.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()  # RMS-normalised, learned scale


class TemporalProjector(nn.Module):
    """(B, F) temporal features of a chunk -> (B, 1, hidden)."""

    def __init__(self, dim: int, hidden: int, width: int = 256, input_dropout: float = 0.1, out_scale: float = 1.0):
        super().__init__()
        self.norm = _Standardise(dim)
        self.mlp = nn.Sequential(nn.Dropout(input_dropout), nn.Linear(dim, width), nn.GELU(), nn.Linear(width, hidden),
                                 nn.GELU(), nn.Linear(hidden, hidden))
        self.scale = nn.Parameter(torch.tensor(float(out_scale)))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(feats))[:, None, :]
        return self.scale * y / y.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()


class Projectors(nn.Module):
    """Both projectors, with the dimensions they were built for (saved beside the weights)."""

    def __init__(self, global_dim: int, grid_dim: int, n_grid: int, temporal_dim: int, hidden: int,
                 width: int = 256, heads: int = 4, out_scale: float = 1.0):
        super().__init__()
        self.dims = {"global_dim": global_dim, "grid_dim": grid_dim, "n_grid": n_grid, "temporal_dim": temporal_dim,
                     "hidden": hidden, "width": width, "heads": heads}
        self.spatial = SpatialProjector(global_dim, grid_dim, n_grid, hidden, width, heads, out_scale=out_scale)
        self.temporal = TemporalProjector(temporal_dim, hidden, width, out_scale=out_scale)

    def fit_standardisation(self, global_feats: torch.Tensor, grid: torch.Tensor, temporal: torch.Tensor) -> None:
        self.spatial.norm_global.fit(global_feats)
        self.spatial.norm_grid.fit(grid)
        if len(temporal):
            self.temporal.norm.fit(temporal)
