"""Projectors from the frozen encoders into a language decoder's embedding space (LMM-VQA design).

- Spatial projector, per key frame: one transformer layer over the frame's tokens (a global token made of the
  spatial encoder's stage statistics and the direct measures, and a grid of last-stage feature cells), then an MLP to
  the decoder's hidden size.
- Attribute token, per key frame (optional, `attr_dim > 0`): a linear map from the frame's measured distortion
  severities (the `vqual-lite` attribute head on the same global features) straight into the embedding space, with
  no normalisation, so that an undistorted frame gives a near-zero token. The training script initialises each
  attribute's column with the decoder's embedding of the attribute's name, so the token starts out reading like the
  word for the strongest distortion; this grounds the explanations in the measured attributes.
- Temporal projector, per 1-second chunk: an MLP from the temporal encoder's features to one token; optionally
  (`temporal_attr_dim > 0`) a second, attribute token read the same way from the last `temporal_attr_dim` features,
  which are the temporal encoder's stutter / frame-drop / shake / flicker severities (`FEATURE_NAMES` ends with them).

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
    """(B, G) global features + (B, N, C) grid features [+ (B, A) attribute severities] -> (B, 1 + N [+ 1], hidden)
    visual tokens."""

    def __init__(self, global_dim: int, grid_dim: int, n_grid: int, hidden: int, width: int = 256, heads: int = 4,
                 dropout: float = 0.1, input_dropout: float = 0.2, out_scale: float = 1.0, attr_dim: int = 0):
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
        self.attr_in = nn.Linear(attr_dim, hidden, bias=False) if attr_dim else None
        self.attr_dim = attr_dim
        self.n_tokens = 1 + n_grid + (1 if attr_dim else 0)

    def forward(self, global_feats: torch.Tensor, grid: torch.Tensor,
                attributes: torch.Tensor | None = None) -> torch.Tensor:
        g = self.global_in(self.drop_in(self.norm_global(global_feats)))[:, None, :]
        c = self.grid_in(self.drop_in(self.norm_grid(grid)))
        x = torch.cat([g, c], dim=1) + self.pos
        x = self.layer(x)
        y = self.mlp(x)
        y = self.scale * y / y.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()  # RMS-normalised, learned scale
        if self.attr_in is None:
            if attributes is not None:
                raise ValueError("attribute severities were given to a projector built without an attribute token")
            return y
        if attributes is None or attributes.shape[-1] != self.attr_dim:
            got = "none" if attributes is None else str(attributes.shape[-1])
            raise ValueError(f"the spatial projector needs {self.attr_dim} attribute severities per frame, got {got}")
        return torch.cat([y, self.attr_in(attributes)[:, None, :]], dim=1)


class TemporalProjector(nn.Module):
    """(B, F) temporal features of a chunk -> (B, 1 [+ 1], hidden)."""

    def __init__(self, dim: int, hidden: int, width: int = 256, input_dropout: float = 0.1, out_scale: float = 1.0,
                 attr_dim: int = 0):
        super().__init__()
        if attr_dim > dim:
            raise ValueError(f"{attr_dim} temporal severities cannot be the tail of {dim} features")
        self.attr_in = nn.Linear(attr_dim, hidden, bias=False) if attr_dim else None
        self.attr_dim = attr_dim
        self.norm = _Standardise(dim)
        self.mlp = nn.Sequential(nn.Dropout(input_dropout), nn.Linear(dim, width), nn.GELU(), nn.Linear(width, hidden),
                                 nn.GELU(), nn.Linear(hidden, hidden))
        self.scale = nn.Parameter(torch.tensor(float(out_scale)))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(feats))[:, None, :]
        y = self.scale * y / y.pow(2).mean(-1, keepdim=True).add(1e-6).sqrt()
        if self.attr_in is None:
            return y
        return torch.cat([y, self.attr_in(feats[:, -self.attr_dim:])[:, None, :]], dim=1)


class Projectors(nn.Module):
    """Both projectors, with the dimensions they were built for (saved beside the weights)."""

    def __init__(self, global_dim: int, grid_dim: int, n_grid: int, temporal_dim: int, hidden: int,
                 width: int = 256, heads: int = 4, out_scale: float = 1.0, attr_dim: int = 0,
                 temporal_attr_dim: int = 0):
        super().__init__()
        self.dims = {"global_dim": global_dim, "grid_dim": grid_dim, "n_grid": n_grid, "temporal_dim": temporal_dim,
                     "hidden": hidden, "width": width, "heads": heads, "attr_dim": attr_dim,
                     "temporal_attr_dim": temporal_attr_dim}
        self.spatial = SpatialProjector(global_dim, grid_dim, n_grid, hidden, width, heads, out_scale=out_scale,
                                        attr_dim=attr_dim)
        self.temporal = TemporalProjector(temporal_dim, hidden, width, out_scale=out_scale, attr_dim=temporal_attr_dim)

    def fit_standardisation(self, global_feats: torch.Tensor, grid: torch.Tensor, temporal: torch.Tensor) -> None:
        self.spatial.norm_global.fit(global_feats)
        self.spatial.norm_grid.fit(grid)
        if len(temporal):
            self.temporal.norm.fit(temporal)
