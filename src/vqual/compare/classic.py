"""PSNR, SSIM and MS-SSIM on luma, in plain numpy/scipy.

Each function takes two 2-D arrays of the same shape (luma, any real dtype) and the data range ``L`` (255 for
8-bit, ``2**b - 1`` for b-bit). Definitions follow the metrics' references:

* **PSNR** ``10 log10(L^2 / MSE)``; identical inputs give ``inf`` (the caller reports it, it is not an error).
* **SSIM** Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to structural
  similarity", IEEE TIP 2004: an 11x11 Gaussian window (sigma 1.5, separable, normalised), K1 = 0.01, K2 = 0.03,
  population (not sample) statistics, the mean of the SSIM map over the "valid" region (windows wholly inside
  the picture). This is scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=L)``; the automatic 1/round(min(H, W)/256) downsampling of the
  authors' later MATLAB script is not applied (nor by scikit-image, FFmpeg or libvmaf).
* **MS-SSIM** Wang, Simoncelli, Bovik, "Multi-scale structural similarity for image quality assessment",
  Asilomar 2003: five scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); the contrast-structure term
  at scales 1-4 and the full SSIM at scale 5; between scales a 2x2 mean and decimation by 2 (the authors'
  ``msssim.m``: odd sizes keep the last row / column, symmetric padding). Negative terms are clamped to 0 as in
  ``pytorch_msssim`` (VainF), the implementation the tests check against.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # radius int(3.5 * 1.5 + 0.5) = 5: the 11x11 window of the reference
SSIM_WIN = 11
K1, K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: The smallest side MS-SSIM accepts: after four halvings the picture must still hold one 11x11 window.
MS_SSIM_MIN_SIDE = (SSIM_WIN - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1


class MetricInputError(ValueError):
    """Inputs a metric cannot be computed on (different shapes, too small); the message is one line."""


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """Luma of HxWx3 uint8 RGB as ITU-R BT.601 limited-range Y on the 0-255 scale (MATLAB's ``rgb2ycbcr``: 16 for
    black, 235 for white), float64: what a video encoder's Y plane holds, so images and videos are judged alike."""
    a = np.asarray(rgb, dtype=np.float64)
    return 16.0 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255.0


def check_rgb_pair(ref: np.ndarray, dist: np.ndarray, metric: str, min_side: int) -> None:
    """The input rule of the deep metrics (LPIPS, DISTS): two HxWx3 pictures of one size, the shorter side at least
    `min_side` pixels; raises MetricInputError naming `metric` otherwise."""
    if ref.shape != dist.shape or ref.ndim != 3 or ref.shape[2] != 3:
        raise MetricInputError(f"expected two HxWx3 RGB pictures of one size, got {ref.shape} and {dist.shape}")
    if min(ref.shape[:2]) < min_side:
        raise MetricInputError(f"picture {ref.shape[1]}x{ref.shape[0]} is too small for {metric} "
                               f"(needs at least {min_side} px on the shorter side)")


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise MetricInputError(f"expected two 2-D luma arrays of one shape, got {a.shape} and {b.shape}")
    return a, b


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error."""
    a, b = _pair(a, b)
    return float(np.mean((a - b) ** 2))


def psnr_from_mse(m: float, data_range: float) -> float:
    """PSNR in dB from a mean squared error; ``inf`` when it is 0."""
    return float("inf") if m == 0 else float(10.0 * np.log10(data_range**2 / m))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB; ``inf`` for identical inputs."""
    return psnr_from_mse(mse(a, b), data_range)


def _filt(x: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_filter(x, sigma=SSIM_SIGMA, truncate=SSIM_TRUNCATE, mode="reflect")


def _ssim_maps(a: np.ndarray, b: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """The luminance and contrast-structure maps over the valid region."""
    if min(a.shape) < SSIM_WIN:
        raise MetricInputError(f"picture {a.shape[1]}x{a.shape[0]} is smaller than SSIM's {SSIM_WIN}x{SSIM_WIN} window")
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    mu_a, mu_b = _filt(a), _filt(b)
    var_a = _filt(a * a) - mu_a * mu_a
    var_b = _filt(b * b) - mu_b * mu_b
    cov = _filt(a * b) - mu_a * mu_b
    p = (SSIM_WIN - 1) // 2
    crop = (slice(p, -p), slice(p, -p))
    lum = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    return lum[crop], cs[crop]


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM (1 for identical inputs). Raises MetricInputError for shapes that differ or sides under 11."""
    a, b = _pair(a, b)
    lum, cs = _ssim_maps(a, b, data_range)
    return float(np.mean(lum * cs))


def _halve(x: np.ndarray) -> np.ndarray:
    """2x2 mean then keep every second sample (symmetric padding of an odd last row / column)."""
    if x.shape[0] % 2:
        x = np.concatenate([x, x[-1:]], axis=0)
    if x.shape[1] % 2:
        x = np.concatenate([x, x[:, -1:]], axis=1)
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def ms_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Multi-scale SSIM (five scales). Raises MetricInputError when the shorter side is under 161 pixels."""
    a, b = _pair(a, b)
    if min(a.shape) < MS_SSIM_MIN_SIDE:
        raise MetricInputError(f"picture {a.shape[1]}x{a.shape[0]} is too small for MS-SSIM "
                               f"(needs at least {MS_SSIM_MIN_SIDE} px on the shorter side)")
    terms = []
    n = len(MS_SSIM_WEIGHTS)
    for level in range(n):
        lum, cs = _ssim_maps(a, b, data_range)
        terms.append(max(0.0, float(np.mean(lum * cs if level == n - 1 else cs))))
        if level < n - 1:
            a, b = _halve(a), _halve(b)
    return float(np.prod(np.power(terms, MS_SSIM_WEIGHTS)))
