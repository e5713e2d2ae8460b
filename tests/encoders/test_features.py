"""One feature preset object (`vqual.encoders.features`) builds the features of vqual-lite, of user heads and of
vqual-lmm's global token."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("efficientnet_lite_pytorch")

from vqual.encoders.features import PRESETS, FeatureEncoder, encoder_config, get_encoder  # noqa: E402
from vqual.weights import asset_path  # noqa: E402


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return np.asarray(Image.open(asset_path("samples/kodim23.jpg")).convert("RGB"))


def test_presets_and_their_blocks():
    assert get_encoder(encoder_config("lite")).dim == 4096 + 59
    assert get_encoder(encoder_config("lite-small")).dim == 1536 + 59
    block = encoder_config("lite2")
    assert block["tuned"]["asset"] == "lite2/encoder.npz" and len(block["tuned"]["sha256"]) == 64
    assert FeatureEncoder.from_block(block).dim == 4096 + 59
    with pytest.raises(ValueError, match="unknown encoder"):
        encoder_config("nope")
    assert set(PRESETS) >= {"lite", "lite-small", "lite2"}


def test_lite_user_head_and_lmm_read_the_same_features(sample):
    from vqual.lmm.visual import FrameEncoder
    from vqual.models.lite import VqualLite

    lite = VqualLite()
    x = lite.features(sample)
    assert lite.encoder is get_encoder(encoder_config("lite"))  # one backbone per process
    np.testing.assert_array_equal(get_encoder(encoder_config("lite"))(sample), x)
    # the language path reads stage maps, so it runs the torch engine: the same features to float rounding
    torch_features = get_encoder(encoder_config("lite"), engine="torch")
    f = FrameEncoder(torch_features)(sample)
    np.testing.assert_array_equal(f.global_feats, torch_features(sample).astype(np.float32))
    assert np.all(np.abs(f.global_feats - x) <= 1e-4 * (1 + np.abs(x)))
    assert f.grid.shape == (9, 1280)
    with pytest.raises(TypeError, match="stage maps need the torch engine"):
        FrameEncoder(lite.encoder)(sample)


def test_fragments_view_is_the_sampler_s_patches():
    from vqual.encoders.spatial import fragment_mosaic
    from vqual.media.sampling import fragments

    rgb = np.random.default_rng(0).integers(0, 256, (100, 130, 3), dtype=np.uint8)
    mosaic = fragment_mosaic(rgb, 3, 16)
    patches = fragments(rgb, (3, 3), 16).patches
    for k, p in enumerate(patches):
        i, j = divmod(k, 3)
        np.testing.assert_array_equal(mosaic[i * 16:(i + 1) * 16, j * 16:(j + 1) * 16], p)
