"""PSNR and SSIM against scikit-image, MS-SSIM against pytorch_msssim (VainF, v1.0.0), on seeded random luma."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from vqual.compare import classic as c

skm = pytest.importorskip("skimage.metrics")
pytorch_msssim = pytest.importorskip("pytorch_msssim")


def _pair(shape, noise, seed):
    rng = np.random.default_rng(seed)
    a = np.clip(ndimage.gaussian_filter(rng.uniform(0, 255, shape), 2.0) * 4 - 384, 0, 255)
    b = np.clip(a + rng.normal(0, noise, shape), 0, 255)
    return np.round(a), np.round(b)


CASES = [((64, 80), 5.0, 0), ((161, 200), 20.0, 1), ((240, 320), 2.0, 2), ((256, 176), 40.0, 3)]


@pytest.mark.parametrize(("shape", "noise", "seed"), CASES)
def test_psnr_matches_skimage(shape, noise, seed):
    a, b = _pair(shape, noise, seed)
    assert c.psnr(a, b) == pytest.approx(skm.peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)
    assert c.psnr(a, b, data_range=1023) == pytest.approx(
        skm.peak_signal_noise_ratio(a, b, data_range=1023), abs=1e-10)


@pytest.mark.parametrize(("shape", "noise", "seed"), CASES)
def test_ssim_matches_skimage(shape, noise, seed):
    a, b = _pair(shape, noise, seed)
    ref = skm.structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False)
    assert c.ssim(a, b) == pytest.approx(ref, abs=1e-9)


@pytest.mark.parametrize(("shape", "noise", "seed"), [x for x in CASES if min(x[0]) >= 176])
def test_ms_ssim_matches_pytorch_msssim(shape, noise, seed):
    # Sizes whose halvings are all even: there pytorch_msssim's zero-padded pooling and msssim.m's symmetric one agree.
    import torch

    a, b = _pair(shape, noise, seed)
    ref = pytorch_msssim.ms_ssim(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None], data_range=255)
    assert c.ms_ssim(a, b) == pytest.approx(float(ref), abs=1e-5)  # theirs keeps its window in float32


def test_identical_inputs():
    a, _ = _pair((180, 200), 1.0, 4)
    assert math.isinf(c.psnr(a, a)) and c.psnr(a, a) > 0
    assert c.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert c.ms_ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def test_odd_sizes_and_order():
    a, b = _pair((181, 203), 10.0, 5)
    worse = np.clip(b + np.random.default_rng(6).normal(0, 20, b.shape), 0, 255)
    assert 0 < c.ms_ssim(a, worse) < c.ms_ssim(a, b) < 1
    assert c.ssim(a, worse) < c.ssim(a, b)


def test_bad_inputs():
    a, b = _pair((100, 120), 5.0, 7)
    with pytest.raises(c.MetricInputError, match="too small for MS-SSIM"):
        c.ms_ssim(a, b)
    with pytest.raises(c.MetricInputError, match="one shape"):
        c.psnr(a, b[:, :-1])
    with pytest.raises(c.MetricInputError, match="smaller than SSIM"):
        c.ssim(a[:8, :8], b[:8, :8])


def test_rgb_to_y_bt601():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], np.uint8)
    assert c.rgb_to_y(rgb) == pytest.approx(np.array([[16.0, 235.0, 16 + 65.481]]))
