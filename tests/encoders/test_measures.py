"""Hand-crafted quality measures (vqual.encoders.measures): each measure moves monotonically with the distortion it
targets over the five graded levels of `vqual.data.synthetic.DISTORTIONS`, on natural photographs; block-grid
alignment; finite output on degenerate images; determinism; cost.

Content: four Kodak photographs from ../shared/data/pristine/kodak24 (500x500; skipped when absent, failed under
CI) and the bundled sample kodim23.jpg (always there). ``h264`` is applied to a single frame (an intra-coded
picture) with `syn.h264`.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest
from PIL import Image
from scipy import stats
from shareddata import shared_data

from vqual.data import synthetic as syn
from vqual.encoders.measures import MEASURE_INDEX, MEASURE_NAMES, MEASURES, measures
from vqual.weights import asset_path

KODAK_CONTENT = ("kodim01.png", "kodim03.png", "kodim13.png", "kodim20.png")
SAMPLE = "samples/kodim23.jpg"
CONTENTS = (SAMPLE,) + KODAK_CONTENT

#: (distortion, measure, direction, minimum Spearman correlation with the level index over the five levels).
#: 1.0 means strictly monotone on every content. None: only weakly monotone (never moves the wrong way, and the
#: strongest level differs from the mildest) -- clip_low stays 0 under mild underexposure of images without dark
#: pixels, so its ladder has ties.
EXPECTED = (
    ("blur", "sharp_log_lapvar", -1, 1.0),
    ("blur", "sharp_grad_ratio", -1, 1.0),
    ("blur", "edge_width", +1, 1.0),
    ("blur", "spectral_f50", -1, 1.0),
    ("noise", "noise_sigma", +1, 1.0),
    ("noise", "noise_sigma_global", +1, 1.0),
    ("noise", "sharp_log_lapvar", +1, 1.0),
    ("jpeg", "blockiness", +1, 1.0),
    ("jpeg", "flat_block_fraction", +1, 1.0),
    ("h264", "blockiness", +1, 0.9),
    ("h264", "flat_block_fraction", +1, 1.0),
    ("underexposure", "luma_mean", -1, 1.0),
    ("underexposure", "luma_p5", -1, 1.0),
    ("underexposure", "luma_p50", -1, 1.0),
    ("underexposure", "luma_p95", -1, 1.0),
    ("underexposure", "clip_low", +1, None),
    ("underexposure", "contrast_rms", -1, 1.0),
    ("underexposure", "dynamic_range", -1, 1.0),
    ("overexposure", "luma_mean", +1, 1.0),
    ("overexposure", "luma_p50", +1, 1.0),
    ("overexposure", "clip_high", +1, 1.0),
    ("colour", "cast_magnitude", +1, 1.0),
    ("colour", "cast_cr", +1, 1.0),
    ("colour", "cast_cb", -1, 1.0),
    ("colour", "colourfulness", +1, 1.0),
    ("scaling", "scale_grad_ratio", -1, 1.0),
    ("scaling", "spectral_f50", -1, 1.0),
    ("scaling", "spectral_f90", -1, 1.0),
    ("scaling", "edge_width", +1, 1.0),
)


def _load(name: str) -> np.ndarray:
    if name == SAMPLE:
        return np.asarray(Image.open(asset_path(SAMPLE)).convert("RGB"))
    path = shared_data("pristine", "kodak24", name)
    return np.asarray(Image.open(path).convert("RGB"))


def _distort(name: str, rgb: np.ndarray, level) -> np.ndarray:
    if name == "h264":
        return next(syn.h264([rgb], level))
    return syn.apply_image(name, rgb, level, seed=0)


@functools.cache
def _ladder(content: str, distortion: str) -> np.ndarray:
    """(5, n_measures): the measures of the five levels of `distortion` applied to `content`."""
    rgb = _load(content)
    return np.stack([measures(_distort(distortion, rgb, lv)) for lv in syn.DISTORTIONS[distortion].levels])


@pytest.mark.parametrize("content", CONTENTS)
@pytest.mark.parametrize("distortion", sorted({d for d, *_ in EXPECTED}))
def test_measures_are_monotone_in_their_distortion(distortion, content):
    ladder = _ladder(content, distortion)
    failures = []
    for dist, name, sign, min_rho in EXPECTED:
        if dist != distortion:
            continue
        v = ladder[:, MEASURE_INDEX[name]].astype(np.float64)
        if min_rho is None:
            if not (np.all(sign * np.diff(v) >= 0) and sign * (v[-1] - v[0]) > 0):
                failures.append(f"{name}: not weakly monotone ({'+' if sign > 0 else '-'}) values={v.round(4)}")
            continue
        rho = 0.0 if np.ptp(v) == 0 else float(stats.spearmanr(np.arange(5), v).statistic)
        if sign * rho < min_rho - 1e-9:
            failures.append(f"{name}: rho={rho:+.2f} (want {'+' if sign > 0 else '-'}{min_rho}) values={v.round(4)}")
    assert not failures, f"{distortion} on {content}:\n" + "\n".join(failures)


@pytest.mark.parametrize("content", CONTENTS)
def test_macroblock_edges_show_under_heavy_h264(content):
    """blockiness_mb16 stays ~1 up to CRF 35 (x264's deblocking hides macroblock edges) and rises at CRF 42 / 51;
    JPEG, whose blocks are all 8x8, leaves it ~1."""
    mb = MEASURE_INDEX["blockiness_mb16"]
    h = _ladder(content, "h264")[:, mb]
    assert h[4] > h[0] + 0.15 and h[4] > h[3] >= h[0] - 0.05
    j = _ladder(content, "jpeg")[:, mb]
    assert np.abs(j - j[0]).max() < 0.15


def test_names_and_length():
    assert len(MEASURE_NAMES) == len(set(MEASURE_NAMES)) == len(MEASURES) == 59
    assert all(isinstance(d, str) and d for _, d in MEASURES)
    assert MEASURE_NAMES[MEASURE_INDEX["blockiness"]] == "blockiness"
    v = measures(_load(SAMPLE))
    assert v.dtype == np.float32 and v.shape == (len(MEASURE_NAMES),)
    assert np.isfinite(v).all()


def test_deterministic():
    rgb = _load(SAMPLE)
    big = np.asarray(Image.fromarray(rgb).resize((1280, 720), Image.BICUBIC))
    for im in (rgb, big):
        a, b = measures(im), measures(im.copy())
        assert np.array_equal(a, b)


def test_clean_values_are_plausible():
    v = dict(zip(MEASURE_NAMES, measures(_load(SAMPLE)).tolist()))
    assert 0.0 < v["noise_sigma"] < 3.0
    assert 0.3 < v["luma_mean"] < 0.7 and v["luma_p5"] < v["luma_p50"] < v["luma_p95"]
    assert 0.0 <= v["clip_low"] < 0.05 and 0.0 <= v["clip_high"] < 0.05
    assert 0.0 < v["spectral_f50"] < v["spectral_f90"] <= 0.5
    assert v["colourfulness"] > 15.0


def test_noise_sigma_estimates_luma_noise():
    """On a flat mid-grey image the estimate is the luma noise: 0.668 x the per-channel sigma."""
    grey = np.full((300, 300, 3), 128, np.uint8)
    for sigma in (2.0, 5.0, 10.0, 20.0):
        est = measures(syn.gaussian_noise(grey, sigma, seed=1))[MEASURE_INDEX["noise_sigma"]]
        assert est == pytest.approx(0.668 * sigma, rel=0.15)


def test_edge_width_tracks_gaussian_blur_sigma():
    """A blurred vertical step: width ~ sqrt(2 pi) sigma for sigma 2-3 px; the central difference overestimates it
    below, the 12-px window saturates it above; monotone throughout."""
    step = np.zeros((200, 200, 3), np.uint8)
    step[:, 100:] = 200
    sigmas = (0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
    w = np.array([measures(syn.gaussian_blur(step, s))[MEASURE_INDEX["edge_width"]] for s in sigmas])
    assert np.all(np.diff(w) > 0)
    ratio = w / (np.sqrt(2 * np.pi) * np.array(sigmas))
    assert np.all(np.abs(ratio[2:4] - 1) < 0.15) and np.all(np.abs(ratio[1:5] - 1) < 0.3)


def _blocky(h: int, w: int) -> np.ndarray:
    """Smooth content JPEG-compressed at quality 10: 8x8 blocks aligned to the top-left corner."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 128 + 40 * (np.sin(xx / 9.0) + 0.5 * np.sin(xx / 3.1)) * (np.cos(yy / 11.0) + 0.5 * np.cos(yy / 2.9))
    rgb = np.repeat(np.clip(base, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=10)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


@pytest.mark.parametrize("size", [(200, 240), (720, 1280)])  # whole image / grid of crops
def test_block_grid_alignment_on_both_axes(size):
    """Block edges are found between columns / rows 7 and 8 mod 8 of the image: moving the grid by 4 px along one
    axis (cropping 4 columns, or 4 rows) removes that axis' half of the measure, along both axes all of it (the
    'block centres' then hold the edges, so the ratio drops below 1)."""
    blk = MEASURE_INDEX["blockiness"]
    img = _blocky(*size)
    aligned = measures(img)[blk]
    cols = measures(np.ascontiguousarray(img[:, 4:]))[blk]
    rows = measures(np.ascontiguousarray(img[4:, :]))[blk]
    both = measures(np.ascontiguousarray(img[4:, 4:]))[blk]
    assert aligned > 2.0
    assert 1.0 < cols < aligned - 0.5 and 1.0 < rows < aligned - 0.5
    assert both < 0.6


def test_blockiness_ignores_2x_and_4x_upscaling_patterns():
    rgb = _load(SAMPLE)
    base = measures(rgb)[MEASURE_INDEX["blockiness"]]
    for factor in (2.0, 4.0):
        v = measures(syn.downup_scale(rgb, factor))[MEASURE_INDEX["blockiness"]]
        assert abs(v - base) < 0.1


@pytest.mark.parametrize(
    "shape,value",
    [((16, 16, 3), 0), ((16, 16, 3), 255), ((500, 500, 3), 0), ((300, 200, 3), 128), ((1, 1, 3), 7),
     ((5, 300, 3), None), ((15, 17, 3), None), ((3000, 20, 3), None), ((16, 16, 3), None), ((40, 50), None),
     ((40, 50, 4), None)],
)
def test_degenerate_images_give_finite_output(shape, value):
    if value is None:
        im = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    else:
        im = np.full(shape, value, np.uint8)
    v = measures(im)
    assert v.shape == (len(MEASURE_NAMES),) and v.dtype == np.float32
    assert np.isfinite(v).all()
    if value is not None:  # flat: no detail, no noise, no blocks
        d = dict(zip(MEASURE_NAMES, v.tolist()))
        assert d["noise_sigma"] == 0.0 and d["sharp_log_lapvar"] == 0.0 and d["blockiness"] == 1.0
        assert d["contrast_rms"] == 0.0 and d["flat_block_fraction"] in (0.0, 1.0)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        measures(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError):
        measures(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError):
        measures(np.zeros((0, 10, 3), np.uint8))
