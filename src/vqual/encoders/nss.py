"""Natural-scene-statistics (NSS) primitives: MSCN coefficients, GGD / AGGD fits, BRISQUE and NIQE features.

Everything here is plain vectorised numpy/scipy in float64 and follows the LIVE reference MATLAB code
(Mittal, Moorthy & Bovik 2012, "No-reference image quality assessment in the spatial domain" (BRISQUE) and
Mittal, Soundararajan & Bovik 2012, "Making a completely blind image quality analyzer" (NIQE)) closely enough to
reproduce its numbers; each function names the MATLAB routine it mirrors. They are meant to be reused by learned
models (as hand-made features), so none of them knows about `QualityModel`.

Conventions:

* A *grey image* is a 2-D float array. The reference code works on 0-255 values; the MSCN transform is
  scale-invariant if its stabilising constant ``C`` is scaled with the data, so `mscn` takes ``C`` explicitly:
  ``C=1`` for 0-255 data (the reference), ``C=1/255`` for data in [0, 1] (the default here).
* `to_gray` reproduces MATLAB ``rgb2gray`` (ITU-R BT.601 luma with MATLAB's exact coefficients, rounded to integers
  for uint8 input), which is what the NIQE and BRISQUE reference scripts apply to colour images. pyiqa uses the Y of
  YIQ (0.299, 0.587, 0.114) with the same rounding, which differs by at most one grey level on a few pixels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage, sparse
from scipy.special import gamma as _gamma
from scipy.special import gammaln as _gammaln

__all__ = [
    "RGB2GRAY_COEFFS",
    "PatchFeatures",
    "aggd_features",
    "brisque_features",
    "brisque_scale_features",
    "fit_aggd",
    "fit_ggd",
    "gaussian_window",
    "imresize",
    "mscn",
    "niqe_block_features",
    "niqe_patch_features",
    "pair_products",
    "to_gray",
]

#: MATLAB ``rgb2gray`` weights (first row of the inverse of the NTSC YIQ->RGB matrix).
RGB2GRAY_COEFFS = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])

#: The shape-parameter grid of the reference moment-matching fits: ``gam = 0.2:0.001:10``.
GAMMA_GRID = np.linspace(0.2, 10.0, 9801)

#: Shifts (row, col) of the four neighbour products, as MATLAB ``circshift`` shifts: H, V, D1, D2.
NIQE_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # computefeature.m
BRISQUE_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))  # brisque_feature.m


# ----------------------------------------------------------------------------------------------------------------
# grey conversion and local normalisation
# ----------------------------------------------------------------------------------------------------------------
def to_gray(img: np.ndarray, *, round_uint8: bool = True) -> np.ndarray:
    """Grey image as float64, like MATLAB ``double(rgb2gray(img))``.

    * uint8 / integer HxWx3 RGB: weighted sum with `RGB2GRAY_COEFFS`, rounded to integers (MATLAB rounds when the
      input is uint8) unless ``round_uint8=False``; result in 0-255.
    * integer HxW: returned as float64 unchanged (0-255).
    * float input (HxW or HxWx3) is converted without rounding and keeps its scale.
    """
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        return a.astype(np.float64, copy=False)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW grey or HxWx3 RGB image, got shape {a.shape}")
    rgb = a[:, :, :3]
    g = rgb.astype(np.float64) @ RGB2GRAY_COEFFS
    if np.issubdtype(a.dtype, np.integer) and round_uint8:
        g = np.round(g)  # MATLAB rounds half away from zero; values are >= 0 so np.round differs only on exact .5
    return g


@lru_cache(maxsize=8)
def gaussian_window(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """1-D normalised Gaussian taps whose outer product is MATLAB ``fspecial('gaussian', size, sigma)``."""
    r = (size - 1) / 2.0
    x = np.arange(-r, r + 1.0)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    g = g / g.sum()
    g.setflags(write=False)
    return g


def _filter(img: np.ndarray, taps: np.ndarray, mode: str) -> np.ndarray:
    nd_mode = {"replicate": "nearest", "zero": "constant", "symmetric": "reflect"}[mode]
    out = ndimage.correlate1d(img, taps, axis=0, mode=nd_mode, cval=0.0)
    return ndimage.correlate1d(out, taps, axis=1, mode=nd_mode, cval=0.0)


def mscn(
    gray: np.ndarray,
    sigma: float = 7.0 / 6.0,
    C: float = 1.0 / 255.0,
    *,
    size: int = 7,
    padding: str = "replicate",
    return_sigma: bool = False,
    zero_tol: float = 1e-8,
):
    """Mean-subtracted contrast-normalised coefficients ``(I - mu) / (sigma_local + C)``.

    ``mu`` and ``sigma_local`` are Gaussian-weighted local mean and standard deviation (7x7 window,
    sigma 7/6, as ``fspecial('gaussian', 7, 7/6)``). ``padding``: ``"replicate"`` as NIQE's ``imfilter(...,
    'replicate')``, ``"zero"`` as BRISQUE's ``filter2(..., 'same')``, or ``"symmetric"``. ``C`` must be on the scale
    of ``gray``: 1 for 0-255 data (the reference), 1/255 for [0, 1] data. With ``return_sigma`` also returns the
    local standard deviation map (NIQE's "sharpness").

    Coefficients with magnitude below ``zero_tol`` are set to exactly 0. In flat regions ``I - mu`` is zero up to
    floating-point rounding (~1e-14), and the *sign* of that rounding noise would otherwise decide which side of
    the AGGD fits those samples join (the fits count exact zeros on neither side), making the features depend on
    the filter implementation: without this, perturbing an image by 1e-9 moves its NIQE by up to 0.15, and MATLAB,
    pyiqa and this code disagree by that much on images with flat areas. Genuine coefficients of 8-bit images are
    larger than 1e-4. Pass ``zero_tol=0`` for the raw values.
    """
    im = np.asarray(gray, dtype=np.float64)
    if im.ndim != 2:
        raise ValueError(f"mscn expects a 2-D grey image, got shape {im.shape}")
    taps = gaussian_window(size, sigma)
    mu = _filter(im, taps, padding)
    var = _filter(im * im, taps, padding) - mu * mu
    sig = np.sqrt(np.abs(var))
    out = (im - mu) / (sig + C)
    if zero_tol > 0:
        out[np.abs(out) < zero_tol] = 0.0
    return (out, sig) if return_sigma else out


# ----------------------------------------------------------------------------------------------------------------
# distribution fits (moment matching against a lookup table, as the reference)
# ----------------------------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _ggd_table() -> np.ndarray:
    # estimateggdparam.m: r_gam = gamma(1/g) gamma(3/g) / gamma(2/g)^2  (decreasing in g)
    g = GAMMA_GRID
    return np.exp(_gammaln(1.0 / g) + _gammaln(3.0 / g) - 2.0 * _gammaln(2.0 / g))


@lru_cache(maxsize=1)
def _aggd_table() -> np.ndarray:
    # estimateaggdparam.m: r_gam = gamma(2/g)^2 / (gamma(1/g) gamma(3/g))  (increasing in g)
    g = GAMMA_GRID
    return np.exp(2.0 * _gammaln(2.0 / g) - _gammaln(1.0 / g) - _gammaln(3.0 / g))


def _nearest_in_table(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the table entry nearest to each value (MATLAB ``min(abs(table - v))``).

    A NaN or infinite value gives index 0, as MATLAB's ``min`` returns the first element when all are NaN / inf.

    The tables are monotone, so this is a binary search plus a neighbour comparison instead of a 9801-wide scan.
    """
    v = np.asarray(values, dtype=np.float64)
    increasing = table[-1] > table[0]
    t = table if increasing else table[::-1]
    nan = ~np.isfinite(v)
    vv = np.where(nan, t[0], v)
    hi = np.clip(np.searchsorted(t, vv), 1, len(t) - 1)
    lo = hi - 1
    # ties go to the smaller index of the *original* table, as MATLAB's min returns the first minimum
    d_lo, d_hi = np.abs(vv - t[lo]), np.abs(t[hi] - vv)
    if increasing:
        idx = np.where(d_hi < d_lo, hi, lo)
    else:
        idx = np.where(d_lo < d_hi, lo, hi)
        idx = len(t) - 1 - idx
    return np.where(nan, 0, idx)


def _rows(x: np.ndarray, axis) -> tuple[np.ndarray, tuple[int, ...]]:
    """View ``x`` as 2-D (samples, values) with the reduced ``axis`` (None: all) last; and the samples' shape."""
    x = np.asarray(x, dtype=np.float64)
    if axis is None:
        return x.reshape(1, -1), ()
    axes = tuple(a % x.ndim for a in ((axis,) if np.isscalar(axis) else axis))
    keep = [a for a in range(x.ndim) if a not in axes]
    shape = tuple(x.shape[a] for a in keep)
    return np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim))).reshape(int(np.prod(shape)), -1), shape


def fit_ggd(x: np.ndarray, axis=None):
    """Fit a zero-mean generalised Gaussian by moment matching (BRISQUE ``estimateggdparam.m``).

    Returns ``(alpha, std)``: the shape on the grid 0.2:0.001:10 and the standard deviation ``sqrt(mean(x^2))``.
    With ``axis`` set, fits independently along that axis (or tuple of axes) and returns arrays.
    """
    f, shape = _rows(x, axis)
    sigma_sq = (f * f).mean(axis=1).reshape(shape)
    e = np.abs(f).mean(axis=1).reshape(shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = sigma_sq / (e * e)
    alpha = GAMMA_GRID[_nearest_in_table(_ggd_table(), rho)]
    std = np.sqrt(sigma_sq)
    if np.ndim(alpha) == 0:
        return float(alpha), float(std)
    return alpha, std


def fit_aggd(x: np.ndarray, axis=None):
    """Fit an asymmetric generalised Gaussian by moment matching (``estimateaggdparam.m`` of NIQE / BRISQUE).

    Returns ``(alpha, left_std, right_std)``: the shape on the grid 0.2:0.001:10 and the root mean square of the
    negative and of the positive values (zeros count in neither side but in the overall moments). A side with no
    values gives NaN there, and the shape then falls back to 0.2 as MATLAB's ``min`` over NaN does.
    The AGGD *scales* used by NIQE are ``std * sqrt(gamma(1/alpha) / gamma(3/alpha))`` (see `aggd_features`).
    With ``axis`` set, fits independently along that axis (or tuple of axes) and returns arrays.
    """
    f, shape = _rows(x, axis)
    x2 = f * f
    neg = f < 0
    pos = f > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        left_std = np.sqrt(np.einsum("ij,ij->i", x2, neg) / np.count_nonzero(neg, axis=1)).reshape(shape)
        right_std = np.sqrt(np.einsum("ij,ij->i", x2, pos) / np.count_nonzero(pos, axis=1)).reshape(shape)
        gammahat = left_std / right_std
        m_abs = np.abs(f).mean(axis=1).reshape(shape)
        rhat = m_abs * m_abs / x2.mean(axis=1).reshape(shape)
        rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    alpha = GAMMA_GRID[_nearest_in_table(_aggd_table(), rhatnorm)]
    if np.ndim(alpha) == 0:
        return float(alpha), float(left_std), float(right_std)
    return alpha, left_std, right_std


def aggd_features(x: np.ndarray, axis=None, *, kind: str = "niqe") -> np.ndarray:
    """Four AGGD features ``(shape, mean, left, right)`` of each sample along ``axis`` (last dimension of result).

    ``kind="niqe"`` (computefeature.m): left/right are the AGGD scales ``beta = std * sqrt(G(1/a)/G(3/a))`` and
    ``mean = (beta_r - beta_l) * G(2/a) / G(1/a)``.
    ``kind="brisque"`` (brisque_feature.m): left/right are the *variances* ``std^2`` and
    ``mean = (std_r - std_l) * G(2/a) / G(1/a) * sqrt(G(1/a) / G(3/a))`` (the same mean, written with stds).
    """
    alpha, lstd, rstd = fit_aggd(x, axis=axis)
    alpha = np.asarray(alpha, dtype=np.float64)
    g1, g2, g3 = _gamma(1.0 / alpha), _gamma(2.0 / alpha), _gamma(3.0 / alpha)
    if kind == "niqe":
        k = np.sqrt(g1 / g3)
        bl, br = lstd * k, rstd * k
        mean = (br - bl) * (g2 / g1)
        return np.stack([alpha, mean, bl, br], axis=-1)
    if kind == "brisque":
        const = np.sqrt(g1) / np.sqrt(g3)
        mean = (rstd - lstd) * (g2 / g1) * const
        return np.stack([alpha, mean, lstd * lstd, rstd * rstd], axis=-1)
    raise ValueError(f"unknown kind {kind!r}")


def pair_products(coeffs: np.ndarray, shifts=NIQE_SHIFTS, axes=(-2, -1)) -> list[np.ndarray]:
    """Products of MSCN coefficients with their circularly shifted neighbours (MATLAB ``circshift``), one per shift.

    The shift wraps around inside the array given (for NIQE: inside each patch), exactly like the reference.
    """
    return [coeffs * np.roll(coeffs, s, axis=axes) for s in shifts]


# ----------------------------------------------------------------------------------------------------------------
# BRISQUE
# ----------------------------------------------------------------------------------------------------------------
def brisque_scale_features(coeffs: np.ndarray) -> np.ndarray:
    """The 18 BRISQUE features of one scale from its MSCN map.

    ``[ggd_shape, ggd_variance]`` of the coefficients, then for each neighbour product H, V, D1, D2 (shifts
    ``[0 1; 1 0; 1 1; -1 1]``) ``[aggd_shape, aggd_mean, left_variance, right_variance]``.
    """
    alpha, std = fit_ggd(coeffs)
    feats = [np.array([alpha, std * std])]
    for pair in pair_products(coeffs, BRISQUE_SHIFTS):
        feats.append(aggd_features(pair, kind="brisque"))
    return np.concatenate(feats)


def brisque_features(gray: np.ndarray, scales: int = 2, *, C: float | None = None) -> np.ndarray:
    """BRISQUE features (18 per scale; 36 for the reference two scales), as ``brisque_feature.m``.

    ``gray``: 2-D grey image (0-255 or [0, 1]; ``C`` defaults to 1 for data whose maximum exceeds 1.5, else 1/255).
    MSCN with zero padding (``filter2 'same'``); each next scale is MATLAB ``imresize(., 0.5)`` (bicubic,
    antialiased). The SVR that maps these features to a score is not part of this module.
    """
    im = np.asarray(gray, dtype=np.float64)
    if C is None:
        C = 1.0 if im.size and float(np.max(im)) > 1.5 else 1.0 / 255.0
    out = []
    for s in range(scales):
        out.append(brisque_scale_features(mscn(im, C=C, padding="zero")))
        if s + 1 < scales:
            im = imresize(im, 0.5)
    return np.concatenate(out)


# ----------------------------------------------------------------------------------------------------------------
# MATLAB imresize (bicubic, antialiased)
# ----------------------------------------------------------------------------------------------------------------
def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


@lru_cache(maxsize=64)
def _resize_matrix(in_len: int, out_len: int, scale: float, antialiasing: bool = True) -> sparse.csr_matrix:
    """Sparse (out_len x in_len) matrix of MATLAB imresize's ``contributions`` (bicubic, symmetric borders)."""
    kernel_width = 4.0
    if scale < 1 and antialiasing:
        def h(x):
            return scale * _cubic(scale * x)
        kernel_width = kernel_width / scale
    else:
        h = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    p = int(np.ceil(kernel_width)) + 2
    ind = left[:, None] + np.arange(p)[None, :]
    w = h(u[:, None] - ind)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    idx = aux[np.mod(ind.astype(np.int64) - 1, len(aux))]
    rows = np.repeat(np.arange(out_len), p)
    m = sparse.coo_matrix((w.ravel(), (rows, idx.ravel())), shape=(out_len, in_len)).tocsr()
    m.sum_duplicates()
    return m


def imresize(img: np.ndarray, scale: float, *, antialiasing: bool = True) -> np.ndarray:
    """MATLAB ``imresize(img, scale)`` for a 2-D float image: bicubic (a = -0.5), antialiased when shrinking,
    symmetric border handling, output size ``ceil(scale * size)``; no rounding or clipping (as for double input)."""
    im = np.asarray(img, dtype=np.float64)
    if im.ndim != 2:
        raise ValueError(f"imresize expects a 2-D image, got shape {im.shape}")
    h, w = im.shape
    oh, ow = int(np.ceil(h * scale)), int(np.ceil(w * scale))
    rh = _resize_matrix(h, oh, float(scale), antialiasing)
    rw = _resize_matrix(w, ow, float(scale), antialiasing)
    out = rh @ im  # (oh, w)
    return np.asarray((rw @ out.T).T)


# ----------------------------------------------------------------------------------------------------------------
# NIQE patch features
# ----------------------------------------------------------------------------------------------------------------
def _blocks(a: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """(H, W) with H, W multiples of the block -> (nbh * nbw, bh, bw), blocks in row-major grid order."""
    h, w = a.shape
    nbh, nbw = h // bh, w // bw
    return a.reshape(nbh, bh, nbw, bw).transpose(0, 2, 1, 3).reshape(nbh * nbw, bh, bw)


def niqe_block_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 NIQE features of each MSCN block (computefeature.m); ``blocks`` is (N, bh, bw) -> (N, 18).

    ``[aggd_shape, (beta_l + beta_r) / 2]`` of the coefficients, then for each neighbour product H, V, D1, D2
    (circular shifts ``[0 1; 1 0; 1 1; 1 -1]`` inside the block) ``[aggd_shape, aggd_mean, beta_l, beta_r]``.
    """
    b = np.asarray(blocks, dtype=np.float64)
    n = b.shape[0]
    flat_axes = (1, 2)
    alpha, lstd, rstd = fit_aggd(b, axis=flat_axes)
    k = np.sqrt(_gamma(1.0 / alpha) / _gamma(3.0 / alpha))
    out = np.empty((n, 18))
    out[:, 0] = alpha
    out[:, 1] = (lstd * k + rstd * k) / 2.0
    for i, pair in enumerate(pair_products(b, NIQE_SHIFTS, axes=flat_axes)):
        out[:, 2 + 4 * i: 6 + 4 * i] = aggd_features(pair, axis=flat_axes, kind="niqe")
    return out


class PatchFeatures:
    """NIQE features of an image's patches: ``features`` (n, 36) in row-major patch-grid order, ``grid`` (rows,
    cols), ``sharpness`` (n,) mean local standard deviation of each patch at scale 1 (on the scale of the input,
    used only to select patches when *fitting* a pristine model)."""

    __slots__ = ("features", "grid", "sharpness")

    def __init__(self, features: np.ndarray, grid: tuple[int, int], sharpness: np.ndarray):
        self.features = features
        self.grid = grid
        self.sharpness = sharpness


def niqe_patch_features(gray255: np.ndarray, patch_size: int = 96) -> PatchFeatures:
    """NIQE patch features as computequality.m computes them, for a 2-D grey image on the 0-255 scale.

    The image is cropped (top-left) to whole patches; per scale: MSCN with replicate padding and C = 1, features of
    each patch (``patch_size`` at scale 1, ``patch_size / 2`` at scale 2), then MATLAB ``imresize(im, 0.5)``.
    Raises ValueError if the image holds no whole patch.
    """
    im = np.asarray(gray255, dtype=np.float64)
    if im.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, got shape {im.shape}")
    if patch_size < 2 or patch_size % 2:
        raise ValueError("patch_size must be an even number >= 2")
    nbh, nbw = im.shape[0] // patch_size, im.shape[1] // patch_size
    if nbh == 0 or nbw == 0:
        raise ValueError(f"image {im.shape[1]}x{im.shape[0]} is smaller than one {patch_size}x{patch_size} patch")
    im = im[: nbh * patch_size, : nbw * patch_size]
    feats = []
    sharp = None
    for scale in (1, 2):
        coeffs, sig = mscn(im, C=1.0, padding="replicate", return_sigma=True)
        ps = patch_size // scale
        feats.append(niqe_block_features(_blocks(coeffs, ps, ps)))
        if scale == 1:
            sharp = _blocks(sig, ps, ps).mean(axis=(1, 2))
            im = imresize(im, 0.5)
    return PatchFeatures(np.concatenate(feats, axis=1), (nbh, nbw), sharp)
