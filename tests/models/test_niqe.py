"""NIQE (vqual.models.niqe): agreement with the reference implementations, behaviour of the 1-5 model and video."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from shareddata import shared_data

from vqual.heads.prediction import Prediction
from vqual.media import Chunk
from vqual.models.niqe import NIQEModel, load_mapping, load_pristine, niqe, niqe_distance
from vqual.weights import asset_path, sha256_file

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "src" / "vqual" / "assets" / "samples" / "kodim23.jpg"
SAMPLE_SHA256 = "fe756fec238e047a1f907e13f2e6c72df0064e380d188498739bb0c6078d1d06"
SHARED = Path(os.environ.get("VQUAL_SHARED_DATA", REPO.parent / "shared" / "data"))
TOL = 0.02  # |ours - pyiqa| on natural images; the largest difference seen was 0.009 (rgb2gray vs YIQ rounding)


@pytest.fixture(scope="module")
def model() -> NIQEModel:
    return NIQEModel()


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    if not SAMPLE.is_file() or hashlib.sha256(SAMPLE.read_bytes()).hexdigest() != SAMPLE_SHA256:
        pytest.skip("the packaged sample image kodim23.jpg changed; the pinned values refer to the original")
    return np.asarray(Image.open(SAMPLE).convert("RGB"))


def _blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    out = ndimage.gaussian_filter(rgb.astype(np.float64), sigma=(sigma, sigma, 0))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _noise(rgb: np.ndarray, sigma: float) -> np.ndarray:
    out = rgb + np.random.default_rng(0).normal(0.0, sigma, rgb.shape)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


# --- the pristine model -------------------------------------------------------------------------------------------
def test_pristine_params_are_the_live_model():
    mu, cov = load_pristine()
    assert mu.shape == (36,) and cov.shape == (36, 36) and np.allclose(cov, cov.T)
    assert sha256_file(asset_path("niqe/pristine.npz")) == NIQEModel.weights_sha256
    # first entries of mu_prisparam of the LIVE modelparameters.mat (identical in BasicSR's niqe_pris_params.npz)
    assert np.allclose(mu[:4], [2.60131368, 0.90570272, 0.81204778, 0.09042671])
    assert np.all(np.linalg.eigvalsh(cov) > 0)


# --- agreement with peers -----------------------------------------------------------------------------------------
# Reference numbers from pyiqa 0.1.16 (PyPI wheel, run locally on CPU): pyiqa.archs.niqe_arch.calculate_niqe(x,
# crop_border=0, test_y_channel=True, color_space="yiq") with the same LIVE pristine parameters, x = the uint8 RGB
# image / 255 as a float64 (1, 3, H, W) tensor. Inputs are vqual's sample kodim23.jpg decoded by Pillow and the
# distorted versions built by _blur / _noise above. pyiqa converts to the Y of YIQ (0.299, 0.587, 0.114) where the
# reference uses MATLAB rgb2gray; on a grey input (no conversion) the two agree to 1e-4.
PYIQA_SAMPLE = {
    "original": 3.8793,
    "blur2": 7.6288,
    "noise25": 10.4997,
    "crop_300x200": 10.0781,
    "gray": 3.8791,
}


def test_matches_pyiqa_on_sample(sample):
    cases = {
        "original": sample,
        "blur2": _blur(sample, 2.0),
        "noise25": _noise(sample, 25.0),
        "crop_300x200": sample[:200, :300],
        "gray": np.asarray(Image.open(SAMPLE).convert("L")),
    }
    for name, img in cases.items():
        assert niqe(img) == pytest.approx(PYIQA_SAMPLE[name], abs=TOL), name


# pyiqa 0.1.16 as above, on the pristine photographs of shared/data/pristine (500x500 PNG crops).
PYIQA_PRISTINE = {
    "kodak24/kodim01.png": 3.4984, "kodak24/kodim02.png": 3.6040, "kodak24/kodim03.png": 4.8898,
    "kodak24/kodim04.png": 3.1606, "kodak24/kodim05.png": 3.7775, "kodak24/kodim06.png": 2.7850,
    "kodak24/kodim07.png": 3.4710, "kodak24/kodim08.png": 3.4301, "mcmaster/1.png": 2.1603,
    "mcmaster/10.png": 3.2933, "mcmaster/11.png": 2.7466, "mcmaster/12.png": 4.8709,
}


def test_matches_pyiqa_on_pristine_photos():
    root = shared_data("pristine")
    for rel, want in PYIQA_PRISTINE.items():
        rgb = np.asarray(Image.open(root / rel).convert("RGB"))
        assert niqe(rgb) == pytest.approx(want, abs=TOL), rel


# Official LIVE MATLAB results (computequality.m on rgb2gray of the image) for the five TID2013 calibration images
# that pyiqa publishes: IQA-PyTorch ResultsCalibra/ResultsCalibra.md row "NIQE (org)" (also calibration_summary.csv
# row "niqe"). The images ship in the pyiqa 0.1.16 wheel (ResultsCalibra/dist_dir/*.bmp): `pip download pyiqa==0.1.16
# --no-deps`, unzip, and point VQUAL_NIQE_CALIBRA at dist_dir to run this test. Measured: |ours - MATLAB| <= 0.032
# (I19); pyiqa's own port is off by up to 0.44 on the same images (15.6826, 3.6549, 3.2348, 3.1917, 9.0727).
MATLAB_CALIBRA = {"I03.bmp": 15.7536, "I04.bmp": 3.6549, "I06.bmp": 3.2355, "I08.bmp": 3.1840, "I19.bmp": 8.6352}


def test_matches_official_matlab_on_calibration_images():
    d = os.environ.get("VQUAL_NIQE_CALIBRA")
    if not d or not Path(d).is_dir():
        pytest.skip("set VQUAL_NIQE_CALIBRA to pyiqa's ResultsCalibra/dist_dir to compare with the MATLAB values")
    for name, want in MATLAB_CALIBRA.items():
        got = niqe(np.asarray(Image.open(Path(d) / name).convert("RGB")))
        assert got == pytest.approx(want, abs=0.05), name


# --- the metric's behaviour ---------------------------------------------------------------------------------------
def test_distortions_raise_niqe_and_lower_the_score(model, sample):
    clean = model.predict_image(sample)
    for bad in (_blur(sample, 2.0), _blur(sample, 4.0), _noise(sample, 15.0), _noise(sample, 40.0)):
        p = model.predict_image(bad)
        assert p.raw > clean.raw + 1.0
        assert p.score < clean.score
    assert model.predict_image(_blur(sample, 4.0)).score < model.predict_image(_blur(sample, 1.5)).score


def test_deterministic_and_input_forms(model, sample):
    a, b = model.predict_image(sample), model.predict_image(sample.copy())
    assert (a.score, a.raw, a.uncertainty) == (b.score, b.raw, b.uncertainty)
    g = np.asarray(Image.open(SAMPLE).convert("L"))
    assert niqe(g.astype(np.float32) / 255.0) == pytest.approx(niqe(g), abs=1e-4)
    with pytest.raises(ValueError):
        niqe(g.astype(np.float64))  # 0-255 floats are rejected, not silently misread
    with pytest.raises(ValueError):
        niqe(g[:50])


def test_mapping_is_monotone_and_anchored():
    m = load_mapping()
    q = np.linspace(-5, 60, 400)
    s = np.array([m.score(v) for v in q])
    assert np.all(np.diff(s) < 0) and np.all((s > 1) & (s < 5))
    assert m.score(1e6) == 1.0
    anchors = json.loads(asset_path("niqe/mapping.json").read_text())["anchors"]
    assert m.score(anchors["pristine_median"]) == pytest.approx(4.5, abs=0.01)
    assert m.score(anchors["degraded_median"]) == pytest.approx(1.5, abs=0.01)


def test_uncertainty_is_quadrant_spread(model, sample):
    p = model.predict_image(sample)
    assert math.isfinite(p.uncertainty) and 0.0 <= p.uncertainty < 2.0
    assert p.attributes == {}  # NIQE names no distortion
    # half sharp, half blurred: the quadrants disagree much more
    mixed = sample.copy()
    mixed[:, 250:] = _blur(sample, 4.0)[:, 250:]
    assert model.predict_image(mixed).uncertainty > p.uncertainty


def test_small_and_flat_images(model, sample):
    tiny = model.predict_image(sample[:40, :70])  # smaller than a patch: mirror-padded
    assert 1.0 <= tiny.score <= 5.0 and math.isfinite(tiny.raw)
    assert tiny.uncertainty == load_mapping().uncertainty_fallback
    flat = model.predict_image(np.full((200, 200, 3), 128, np.uint8))
    assert flat.score == 1.0 and flat.raw is None
    assert math.isnan(niqe(np.full((200, 200), 128, np.uint8)))
    mu, cov = load_pristine()
    assert niqe_distance(np.tile(mu, (3, 1)), mu, cov) == pytest.approx(0.0, abs=1e-9)


# Speed is measured by benchmarks/speed.py --model niqe (BENCHMARKS.md), not asserted here: wall-clock limits fail
# on a shared CPU.


# --- video ----------------------------------------------------------------------------------------------------------
def _luma(rgb: np.ndarray, n: int, step: int = 3) -> np.ndarray:
    """n grey frames of a camera pan over `rgb`, downscaled to 128 px, float32 in [0, 1]."""
    g = np.asarray(Image.fromarray(rgb).convert("L"))
    frames = [np.asarray(Image.fromarray(g[:300, i * step: i * step + 300]).resize((128, 128), Image.BILINEAR))
              for i in range(n)]
    return np.stack(frames).astype(np.float32) / 255.0


def _chunk(key: np.ndarray, luma: np.ndarray, index: int = 0) -> Chunk:
    n = luma.shape[0]
    return Chunk(index=index, t0=float(index), t1=float(index + 1), key_frame=key, key_index=index * n,
                 frame_indices=list(range(index * n, index * n + n)), timestamps=[index + i / n for i in range(n)],
                 luma=luma)


def test_duplicated_frames_lower_a_moving_second(model, sample):
    luma = _luma(sample, 30)
    dup = luma.copy()
    dup[1::2] = dup[0::2]  # every other frame repeated (15 fps shown at 30)
    smooth, stutter = model.predict_chunk(_chunk(sample, luma)), model.predict_chunk(_chunk(sample, dup))
    assert smooth.attributes["stutter"] == 0.0
    assert stutter.attributes["stutter"] > 0.1  # the temporal encoder rates frames shown twice as mild (~0.16)
    assert stutter.score < smooth.score
    assert smooth.score == pytest.approx(model.predict_image(sample).score)
    assert smooth.raw == stutter.raw  # NIQE of the key frame


def test_static_scene_is_not_stutter(model, sample):
    still = np.repeat(_luma(sample, 1), 30, axis=0)
    p = model.predict_chunk(_chunk(sample, still))
    assert p.attributes["stutter"] == 0.0
    assert p.score == pytest.approx(model.predict_image(sample).score)
    assert model.predict_chunk(_chunk(sample, np.zeros((0, 0, 0), np.float32))).attributes == {}


def test_pool_weights_the_worst_seconds(model):
    secs = [Prediction(score=s, uncertainty=0.2, raw=r, attributes={"stutter": st})
            for s, r, st in [(4.5, 3.0, 0.0), (4.4, 3.2, 0.0), (2.0, 9.0, 0.5), (4.6, 2.9, 0.0)]]
    p = model.pool(secs)
    assert p.score == pytest.approx((2.0 + 4.4) / 2)  # worst half of four seconds
    assert p.score < np.mean([s.score for s in secs])
    assert p.raw == pytest.approx((9.0 + 3.2) / 2)
    assert p.attributes["stutter"] == pytest.approx(0.125)
    spread = np.std([s.score for s in secs])
    assert p.uncertainty == pytest.approx(math.hypot(spread, 0.2))
    one = model.pool(secs[:1])
    assert one.score == 4.5 and one.uncertainty == pytest.approx(0.2)
    with pytest.raises(ValueError):
        model.pool([])


def test_scores_a_video_end_to_end(model, sample, tmp_path):
    mediagen = pytest.importorskip("mediagen")
    frames = [sample[:192, i * 4: i * 4 + 256] for i in range(20)]
    path = mediagen.write_video(tmp_path / "pan.mp4", frames, fps=10, crf=18)
    r = model.score(path)
    assert r.kind == "video" and len(r.timeline) == 2
    assert 1.0 <= r.score <= 5.0 and math.isfinite(r.uncertainty) and r.raw_score is not None
    assert all("stutter" in m.attributes for m in r.timeline)
    assert r.provenance.weights_sha256 == NIQEModel.weights_sha256
