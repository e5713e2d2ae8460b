"""NIQE: the "completely blind" Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik, IEEE SPL 2012).

`niqe` follows the LIVE reference MATLAB code (``computequality.m`` with 96x96 blocks and no overlap) and its
pristine multivariate-Gaussian model (``assets/niqe/pristine.npz``, converted losslessly from the LIVE release's
``modelparameters.mat``; see ``assets/niqe/NOTICE.txt``):

1. colour input -> MATLAB ``rgb2gray`` (rounded for uint8), on the 0-255 scale;
2. crop (top-left) to whole 96x96 patches;
3. per scale (full, then MATLAB ``imresize(., 0.5)``): MSCN with replicate padding, 18 AGGD features per patch
   (96x96 at scale 1, 48x48 at scale 2) -> 36 features per patch. All patches are used: the sharpness-based
   selection of the paper applies only when *fitting* the pristine model, and computequality.m computes the
   sharpness but never uses it;
4. fit a Gaussian (nan-mean, covariance of the NaN-free rows) to the image's patch features and return
   ``sqrt((mu_p - mu_t)^T pinv((cov_p + cov_t) / 2) (mu_p - mu_t))``. Lower is more natural (pristine ~3-4).

One deliberate difference: MSCN coefficients that are zero up to rounding are made exactly zero
(`vqual.encoders.nss.mscn`), which makes the value stable on images with flat areas. On the five calibration images
pyiqa publishes with the official MATLAB results, this code is within 0.035 of MATLAB (pyiqa's own port: 0.44).

`NIQEModel` maps NIQE to the 1-5 scale with the documented logistic in ``assets/niqe/mapping.json`` (anchored on
synthetic data only, see ``scripts/niqe_mapping.py``), reports no distortion attributes for images (NIQE measures
an overall distance from natural statistics and cannot name a distortion) and adds a frame-duplication ("stutter")
measurement for video seconds.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from vqual.encoders.nss import niqe_patch_features, to_gray
from vqual.heads.pooling import pool_worst
from vqual.heads.prediction import Prediction
from vqual.models.base import QualityModel
from vqual.models.cards import card_of
from vqual.weights import resolve

__all__ = ["NIQEModel", "NiqeMapping", "load_mapping", "load_pristine", "niqe", "niqe_distance"]

#: sha256 of ``assets/niqe/pristine.npz``, from its card (mapping.json); arrays ``mu`` (36,) and ``cov`` (36, 36),
#: float64. The LIVE file it was converted from (``niqe_pristine_params.mat``, keys pop_mu / pop_cov) has sha256
#: c0f359a92d32de06002b81d1446e8a060a31de46ae9cce2c4d781405626727eb; its arrays are bit-identical to BasicSR's
#: ``niqe_pris_params.npz`` (a conversion of the same LIVE modelparameters.mat).
PRISTINE_SHA256 = card_of("niqe").sha256("pristine.npz")
PRISTINE_ASSET = "niqe/pristine.npz"
MAPPING_ASSET = "niqe/mapping.json"
PATCH_SIZE = 96


# ----------------------------------------------------------------------------------------------------------------
# the metric
# ----------------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def load_pristine(path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pristine model ``(mu (36,), cov (36, 36))``: the packaged asset (sha256-checked) or an explicit .npz."""
    p = resolve(PRISTINE_ASSET, PRISTINE_SHA256 if path is None else None, path)
    with np.load(p, allow_pickle=False) as d:
        mu = np.asarray(d["mu"], dtype=np.float64).ravel()
        cov = np.asarray(d["cov"], dtype=np.float64)
    mu.setflags(write=False)
    cov.setflags(write=False)
    return mu, cov


def _gray255(img: np.ndarray) -> np.ndarray:
    """Grey image on the 0-255 scale from uint8 RGB/grey (MATLAB rgb2gray, rounded) or float RGB/grey in [0, 1]."""
    a = np.asarray(img)
    if a.dtype == np.uint8:
        return to_gray(a)
    if np.issubdtype(a.dtype, np.floating):
        g = to_gray(a)
        if g.size and float(np.nanmax(g)) > 1.5:
            raise ValueError("float images must be in [0, 1]; pass uint8 for 0-255 data")
        return g * 255.0
    raise ValueError(f"unsupported image dtype {a.dtype}: pass uint8 (0-255) or float (0-1)")


def niqe_distance(features: np.ndarray, mu_p: np.ndarray, cov_p: np.ndarray) -> float:
    """NIQE of a set of patch features (n, 36) against a pristine Gaussian: Eq. 10 of the paper.

    Mean with NaNs ignored per feature (MATLAB ``nanmean``); covariance of the rows without NaN (``nancov``; zero
    when fewer than two such rows); pseudo-inverse with MATLAB's ``pinv`` tolerance. NaN when a feature is NaN in
    every patch (e.g. a perfectly flat image).
    """
    f = np.asarray(features, dtype=np.float64)
    if np.isnan(f).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice" for all-NaN columns
            mu_t = np.nanmean(f, axis=0)
    else:
        mu_t = f.mean(axis=0)
    if not np.all(np.isfinite(mu_t)):
        return float("nan")
    ok = f[~np.isnan(f).any(axis=1)]
    cov_t = np.cov(ok, rowvar=False) if len(ok) >= 2 else np.zeros_like(cov_p)
    m = (cov_p + cov_t) / 2.0
    inv = np.linalg.pinv(m, rcond=max(m.shape) * np.finfo(np.float64).eps)
    d = mu_p - mu_t
    return float(np.sqrt(max(float(d @ inv @ d), 0.0)))


def niqe(img: np.ndarray, patch_size: int = PATCH_SIZE, *,
         params: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """NIQE of one image, as the LIVE reference ``computequality(im, 96, 96, 0, 0, mu, cov)``; lower is better.

    ``img``: HxWx3 RGB or HxW grey, uint8 (0-255) or float (0-1). ``params``: ``(mu, cov)`` of a pristine model
    (default: the packaged LIVE model). Raises ValueError if the image has no whole ``patch_size`` patch.
    Returns NaN when no patch has usable statistics (a perfectly flat image).
    """
    mu_p, cov_p = load_pristine() if params is None else params
    pf = niqe_patch_features(_gray255(img), patch_size)
    return niqe_distance(pf.features, mu_p, cov_p)


# ----------------------------------------------------------------------------------------------------------------
# score mapping and temporal statistics
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NiqeMapping:
    """Parameters of ``assets/niqe/mapping.json`` (see that file's ``source`` and ``notes``)."""

    mid: float  # NIQE mapped to 3.0
    scale: float  # logistic scale (NIQE units)
    uncertainty_fallback: float  # uncertainty when the spatial spread cannot be measured (a single patch group)
    stutter_penalty: float  # 1-5 points subtracted per unit of the temporal encoder's stutter severity (heuristic)
    pool_worst_fraction: float  # fraction of the worst seconds averaged by `pool`
    id: str  # identifier of this mapping

    def score(self, q: float) -> float:
        """1 + 4 / (1 + exp((q - mid) / scale)): monotone decreasing in NIQE, 5 at NIQE -> -inf, 1 at +inf."""
        z = (q - self.mid) / self.scale
        if z > 700:
            return 1.0
        return 1.0 + 4.0 / (1.0 + math.exp(z))


@lru_cache(maxsize=4)
def load_mapping(path: str | None = None) -> NiqeMapping:
    """Read ``assets/niqe/mapping.json`` (or an explicit JSON with the same keys)."""
    p = resolve(MAPPING_ASSET, None, path)
    d = json.loads(Path(p).read_text())
    return NiqeMapping(mid=float(d["logistic"]["mid"]), scale=float(d["logistic"]["scale"]),
                       uncertainty_fallback=float(d["uncertainty_fallback"]),
                       stutter_penalty=float(d["video"]["stutter_penalty"]),
                       pool_worst_fraction=float(d["video"]["pool_worst_fraction"]), id=str(d["id"]))


# ----------------------------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------------------------
class NIQEModel(QualityModel):
    """NIQE with the LIVE pristine model, mapped to 1-5.

    Images: ``raw`` is NIQE; ``score`` its logistic mapping (mapping.json); ``uncertainty`` is the spread of the
    mapped score over the image's four quadrants: the patch grid is split in two along each axis that has at least
    two patches, NIQE is computed from each part's patches alone, and the uncertainty is the population standard
    deviation of the parts' mapped scores (reusing the patch features, so it is nearly free). It measures how much
    the verdict depends on where one looks, not a calibrated error bar; with a single patch it is
    ``uncertainty_fallback``. No attributes: NIQE cannot tell which distortion moved the statistics.
    Images smaller than a patch are mirror-padded to one patch. A flat image (no usable statistics) scores 1.0
    with ``raw=None``.

    Video seconds: the key frame's image prediction, minus ``stutter_penalty * stutter`` where ``stutter`` is the
    temporal encoder's severity of repeated frames in a moving second (`vqual.encoders.temporal`), reported as
    attribute ``stutter`` (a heuristic, not part of NIQE). `pool`: mean of the worst ``pool_worst_fraction`` of
    seconds (bad moments weigh more).
    """

    name = "niqe"
    weights_sha256 = PRISTINE_SHA256
    chunk_luma_size = 128  # only frame differences are needed from the chunk frames
    patch_size = PATCH_SIZE

    def __init__(self, max_pixels: int | None = None):
        super().__init__(max_pixels=max_pixels)
        self.mu_p, self.cov_p = load_pristine()
        self.mapping = load_mapping()
        self.version = card_of(self.name).version
        from vqual.encoders.temporal import TemporalEncoder

        self.temporal = TemporalEncoder()

    # -- images ---------------------------------------------------------------------------------------------------
    def _pad(self, g: np.ndarray) -> np.ndarray:
        """Mirror-pad (bottom/right) an image smaller than one patch up to one patch."""
        while g.shape[0] < self.patch_size or g.shape[1] < self.patch_size:
            ph = min(max(0, self.patch_size - g.shape[0]), g.shape[0])
            pw = min(max(0, self.patch_size - g.shape[1]), g.shape[1])
            g = np.pad(g, ((0, ph), (0, pw)), mode="symmetric")
        return g

    def _quadrant_scores(self, features: np.ndarray, grid: tuple[int, int]) -> list[float]:
        rows, cols = grid
        idx = np.arange(rows * cols).reshape(rows, cols)
        rsplit = [idx[: (rows + 1) // 2], idx[(rows + 1) // 2:]] if rows >= 2 else [idx]
        parts = []
        for r in rsplit:
            parts.extend([r[:, : (cols + 1) // 2], r[:, (cols + 1) // 2:]] if cols >= 2 else [r])
        out = []
        for part in parts:
            q = niqe_distance(features[part.ravel()], self.mu_p, self.cov_p)
            if math.isfinite(q):
                out.append(self.mapping.score(q))
        return out

    def predict_image(self, rgb: np.ndarray) -> Prediction:
        g = self._pad(_gray255(rgb))
        pf = niqe_patch_features(g, self.patch_size)
        q = niqe_distance(pf.features, self.mu_p, self.cov_p)
        if not math.isfinite(q):
            return Prediction(score=1.0, uncertainty=self.mapping.uncertainty_fallback, raw=None)
        parts = self._quadrant_scores(pf.features, pf.grid)
        unc = float(np.std(parts)) if len(parts) >= 2 else self.mapping.uncertainty_fallback
        return Prediction(score=self.mapping.score(q), uncertainty=unc, raw=q)

    # -- video ----------------------------------------------------------------------------------------------------
    def predict_chunk(self, chunk) -> Prediction:
        p = self.predict_image(chunk.key_frame)
        luma = getattr(chunk, "luma", None)
        if luma is None or len(luma) < 3:
            return p
        stutter = self.temporal.encode(chunk).severities["stutter"]
        score = max(1.0, p.score - self.mapping.stutter_penalty * stutter)
        return Prediction(score=score, uncertainty=p.uncertainty, attributes={"stutter": stutter}, raw=p.raw)

    def pool(self, seconds: list[Prediction]) -> Prediction:
        """Mean score of the worst ``pool_worst_fraction`` of the seconds (see `vqual.heads.pooling.pool_worst`);
        ``raw`` is the mean NIQE of those seconds; ``stutter`` is the mean over seconds."""
        return pool_worst(seconds, self.mapping.pool_worst_fraction)
