"""Natural-scene-statistics primitives (vqual.encoders.nss): MATLAB-compatible building blocks of NIQE / BRISQUE."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from vqual.encoders import nss

SAMPLE = Path(__file__).resolve().parents[2] / "src" / "vqual" / "assets" / "samples" / "kodim23.jpg"
SAMPLE_SHA256 = "fe756fec238e047a1f907e13f2e6c72df0064e380d188498739bb0c6078d1d06"


def _sample_gray() -> np.ndarray:
    if not SAMPLE.is_file() or hashlib.sha256(SAMPLE.read_bytes()).hexdigest() != SAMPLE_SHA256:
        pytest.skip("the packaged sample image kodim23.jpg changed; the pinned values refer to the original")
    return np.asarray(Image.open(SAMPLE).convert("L")).astype(np.float64)


def test_to_gray_matches_matlab_rgb2gray():
    # MATLAB: rgb2gray(uint8([255 0 0; 0 255 0; 0 0 255; 10 200 30])) -> 76, 150, 29, 124 (rounded)
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 200, 30]]], dtype=np.uint8)
    assert nss.to_gray(rgb).tolist() == [[76.0, 150.0, 29.0, 124.0]]
    assert nss.to_gray(rgb.astype(np.float64) / 255.0)[0, 0] == pytest.approx(0.298936021293775)
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(nss.to_gray(g), g.astype(np.float64))
    with pytest.raises(ValueError):
        nss.to_gray(np.zeros((4, 4, 2)))


def test_gaussian_window_is_fspecial():
    g = nss.gaussian_window(7, 7 / 6)
    w = np.outer(g, g)
    assert w.sum() == pytest.approx(1.0)
    assert np.allclose(w, w.T) and np.allclose(g, g[::-1])
    # fspecial('gaussian', 7, 7/6): centre 0.117396..., corner 1.5776e-4
    assert w[3, 3] == pytest.approx(0.1173964, abs=1e-6)
    assert w[0, 0] == pytest.approx(1.5776e-4, rel=1e-3)


def test_mscn_scale_invariance_and_flat_regions():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, size=(40, 50)).astype(np.float64)
    a = nss.mscn(g, C=1.0)
    b = nss.mscn(g / 255.0, C=1.0 / 255.0)
    assert np.allclose(a, b, atol=1e-9)
    flat = nss.mscn(np.full((30, 30), 117.0), C=1.0)
    assert np.all(flat == 0.0)  # exactly zero, not rounding noise
    c, sig = nss.mscn(g, C=1.0, padding="zero", return_sigma=True)
    assert c.shape == sig.shape == g.shape and np.all(sig >= 0)
    with pytest.raises(ValueError):
        nss.mscn(np.zeros((3, 4, 3)))


@pytest.mark.parametrize("alpha", [0.8, 1.0, 2.0, 3.0])
def test_fit_ggd_recovers_shape(alpha):
    x = stats.gennorm.rvs(alpha, scale=0.7, size=200_000, random_state=np.random.default_rng(1))
    a, std = nss.fit_ggd(x)
    assert a == pytest.approx(alpha, rel=0.05)
    assert std == pytest.approx(np.sqrt(np.mean(x * x)))


@pytest.mark.parametrize("alpha,sl,sr", [(1.0, 0.5, 1.0), (2.0, 1.0, 1.0), (0.7, 1.5, 0.6)])
def test_fit_aggd_recovers_shape_and_sides(alpha, sl, sr):
    rng = np.random.default_rng(2)
    mag = np.abs(stats.gennorm.rvs(alpha, size=200_000, random_state=rng))
    left = rng.random(mag.size) < sl / (sl + sr)  # an AGGD puts mass sl / (sl + sr) on the left
    x = np.where(left, -mag * sl, mag * sr)
    a, lstd, rstd = nss.fit_aggd(x)
    assert a == pytest.approx(alpha, rel=0.06)
    assert lstd == pytest.approx(np.sqrt(np.mean(x[x < 0] ** 2)))
    assert rstd == pytest.approx(np.sqrt(np.mean(x[x > 0] ** 2)))
    assert lstd / rstd == pytest.approx(sl / sr, rel=0.03)


def test_fit_aggd_one_sided_falls_back_like_matlab():
    a, lstd, rstd = nss.fit_aggd(np.array([0.0, 1.0, 2.0, 3.0]))
    assert a == pytest.approx(0.2) and np.isnan(lstd) and rstd > 0


def test_fits_vectorised_match_scalar_calls():
    rng = np.random.default_rng(3)
    blocks = rng.standard_normal((5, 12, 12)) * np.array([0.5, 1, 2, 3, 4])[:, None, None]
    blocks[2] = np.abs(blocks[2]) ** 1.5 - 0.3
    av, lv, rv = nss.fit_aggd(blocks, axis=(1, 2))
    gv, sv = nss.fit_ggd(blocks, axis=(1, 2))
    for i in range(5):
        a, lstd, rstd = nss.fit_aggd(blocks[i])
        g, s = nss.fit_ggd(blocks[i])
        assert (av[i], gv[i]) == (a, g)
        assert np.allclose([lv[i], rv[i], sv[i]], [lstd, rstd, s], rtol=1e-12)


def test_imresize_matches_matlab():
    # MATLAB imresize(reshape(0:15, 4, 4)', 0.75) (bicubic, antialiased); values from pyiqa's MATLAB-verified port
    a = np.arange(16.0).reshape(4, 4)
    want = [[0.75055, 2.10044, 3.45033], [6.15011, 7.5, 8.84989], [11.54967, 12.89956, 14.24945]]
    assert np.allclose(nss.imresize(a, 0.75), want, atol=1e-5)
    assert nss.imresize(np.ones((7, 9)), 0.5).shape == (4, 5)
    assert np.allclose(nss.imresize(np.full((10, 12), 3.0), 0.5), 3.0)


def test_brisque_features_match_pyiqa():
    g = _sample_gray()
    f = nss.brisque_features(g)
    assert f.shape == (36,)
    # pyiqa 0.1.16, pyiqa.archs.brisque_arch.natural_scene_statistics on two scales (imresize 0.5 between), on the
    # 0-255 grey (PIL "L") of vqual's sample kodim23.jpg. Shapes may differ by one 0.001 grid step (pyiqa resizes
    # in float32).
    want = [2.053, 0.23574, 0.686, 0.04589, 0.04596, 0.08251, 0.691, 0.05321, 0.0441, 0.0866, 0.682, -0.00109,
            0.06392, 0.06305, 0.686, -0.01375, 0.06767, 0.05679, 1.524, 0.18798, 0.527, 0.04226, 0.03629, 0.07056,
            0.52, 0.03867, 0.04093, 0.07373, 0.517, 0.0004, 0.05455, 0.05489, 0.519, -0.02429, 0.06654, 0.04598]
    assert np.max(np.abs(f - np.array(want))) < 0.0025
    # the same from [0, 1] data (C scales with the data)
    assert np.allclose(nss.brisque_features(g / 255.0), f, atol=2e-3)


def test_niqe_patch_features_layout():
    rng = np.random.default_rng(4)
    g = rng.integers(0, 256, size=(200, 300)).astype(np.float64)
    pf = nss.niqe_patch_features(g, 96)
    assert pf.grid == (2, 3) and pf.features.shape == (6, 36) and pf.sharpness.shape == (6,)
    # patches in row-major grid order: patch 1 is the top-middle block of the (cropped) image's MSCN map
    coeffs = nss.mscn(g[:192, :288], C=1.0)
    assert np.allclose(nss.niqe_block_features(coeffs[None, :96, 96:192])[0], pf.features[1, :18])
    with pytest.raises(ValueError):
        nss.niqe_patch_features(g[:90], 96)
    with pytest.raises(ValueError):
        nss.niqe_patch_features(g, 95)
