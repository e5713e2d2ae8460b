"""The synthetic pair prior of `vqual train`: vqual-lite's synthetic ranking pairs, usable by any linear head on the
encoder they were computed with (one prior per encoder preset: ``lite``, ``lite2``), so that a head learnt from a
few labels also respects "same picture, stronger distortion = worse", as vqual-lite's own score head does.

The asset (`scripts/make_pair_prior.py`) holds each pair's feature difference (better minus worse), whitened by
the synthetic set's feature scale and reduced to its top singular directions: D ~= coef @ basis, (P, d).
`fit_with_pairs` fits w, b (on features standardised with the user's mean and the prior's scale) minimising

    sum_i (z_i w + b - y_i)^2 + alpha |w|^2 + weight * n * mean_p(margin * softplus(-(D_p w) / margin))

the loss of vqual-lite's score head (scripts/fit_lite.py `fit_joint`); both minimise it with `fit_pair_ridge`. The
minimiser lies in the span of the labelled rows and the basis rows, so it is found exactly in that
(n + rank)-dimensional space (L-BFGS, float64, deterministic).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from vqual.errors import VqualError
from vqual.heads.linear import LinearHead


@dataclass(frozen=True)
class PairPrior:
    """Synthetic pair differences in a low-rank form, and how `vqual train` weighs them."""

    coef: np.ndarray  # (P, k) float64: U S
    basis: np.ndarray  # (k, d) float64: V^T (whitened feature space)
    scale: np.ndarray  # (d,) the synthetic set's feature scale: features are divided by it
    weight: float  # pair weight (mu) relative to the labels
    margin: float  # smooth-hinge margin in score units (1-5)
    alphas_per_label: tuple[float, ...]  # ridge strengths (x number of labels) chosen from on validation folds
    sha256: str
    encoder: str  # the encoder preset whose features the differences are in

    @property
    def dim(self) -> int:
        return int(self.basis.shape[1])

    def info(self) -> dict:
        return {"sha256": self.sha256, "n_pairs": int(self.coef.shape[0]), "rank": int(self.coef.shape[1]),
                "weight": self.weight, "margin": self.margin}


#: Encoder presets with a synthetic pair prior, each in the asset folder of its name (`scripts/make_pair_prior.py
#: --encoder NAME`).
PRIOR_ENCODERS = ("lite", "lite2")


def has_pair_prior(encoder: str) -> bool:
    """Whether a pair prior ships for the encoder preset `encoder`."""
    from vqual.weights import asset_path

    return encoder in PRIOR_ENCODERS and asset_path(f"{encoder}/pairs.json").is_file()


def load_pair_prior(encoder: str = "lite") -> PairPrior:
    """The packaged prior of the encoder preset `encoder` (sha256 checked). Raises `vqual.errors.WeightsError` if the
    file is missing or altered, VqualError if no prior ships for that encoder."""
    from vqual.weights import asset_path, resolve

    if not has_pair_prior(encoder):
        have = ", ".join(e for e in PRIOR_ENCODERS if has_pair_prior(e))
        raise VqualError(f"no synthetic pair prior ships for the {encoder!r} encoder (it does for: {have})")
    meta = json.loads(asset_path(f"{encoder}/pairs.json").read_text())
    if meta["encoder"] != encoder:
        raise VqualError(f"{encoder}/pairs.json is for the {meta['encoder']!r} encoder, not {encoder!r}")
    path = resolve(f"{encoder}/pairs.npz", meta["sha256"])
    with np.load(path) as z:
        coef, basis, scale = (z[k].astype(np.float64) for k in ("coef", "basis", "scale"))
    return PairPrior(coef=coef, basis=basis, scale=scale, weight=float(meta["pair_weight"]),
                     margin=float(meta["margin"]), alphas_per_label=tuple(float(a) for a in meta["alphas_per_label"]),
                     sha256=meta["sha256"], encoder=meta["encoder"])


def fit_with_pairs(x: np.ndarray, y: np.ndarray, prior: PairPrior, alpha: float,
                   weight: float | None = None) -> LinearHead:
    """A linear score head (one output, "score") fitted to features `x` (n, d) and labels `y` (n,) jointly with the
    prior's pairs. Raises VqualError if `x` is not in the prior's feature space."""
    import torch

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != prior.dim:
        raise VqualError(f"the synthetic pair prior is for the {prior.encoder!r} encoder's {prior.dim} features; "
                         f"got {x.shape[-1]}")
    mu = prior.weight if weight is None else float(weight)
    mean = x.mean(axis=0)
    z = (x - mean) / prior.scale
    q, _ = np.linalg.qr(np.vstack([z, prior.basis]).T)  # (d, r): orthonormal basis of the solution's span
    p = torch.from_numpy(prior.coef @ (prior.basis @ q))  # (P, r)
    v, b = fit_pair_ridge(torch.from_numpy(z @ q), torch.from_numpy(y), float(y.mean()), lambda v: p @ v, alpha, mu,
                          prior.margin, max_iter=500, tolerance_grad=1e-9, tolerance_change=1e-12)
    w = q @ v.numpy()
    return LinearHead(names=("score",), mean=mean, scale=prior.scale.copy(), weight=w[:, None], bias=b.numpy().copy())


def fit_pair_ridge(a, y, b0: float, pair_margins, alpha: float, mu: float, margin: float, *, max_iter: int,
                   tolerance_grad: float, tolerance_change: float = 1e-9):
    """The joint loss of vqual-lite's score head (scripts/fit_lite.py) and of `fit_with_pairs`, minimised by L-BFGS
    (strong Wolfe line search) from w = 0, b = `b0` (the labels' mean, computed by the caller):

        sum_i (a_i w + b - y_i)^2 + alpha |w|^2 + mu * n * mean_p(margin * softplus(-pair_margins(w)_p / margin))

    `a` (n, r) and `y` (n,) are torch tensors of one dtype (the precision of the fit); `pair_margins(w)` gives each
    pair's score difference (better minus worse) for weights w. Returns (w, b), detached."""
    import torch

    w = torch.zeros(a.shape[1], dtype=a.dtype, requires_grad=True)
    b = torch.tensor([b0], dtype=a.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=tolerance_grad, tolerance_change=tolerance_change)

    def closure():
        opt.zero_grad()
        r = a @ w + b - y
        loss = (r * r).sum() + alpha * (w * w).sum()
        if mu > 0:
            loss = loss + mu * len(y) * (margin * torch.nn.functional.softplus(-pair_margins(w) / margin)).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()

