import numpy as np
import pytest

from vqual.media import Fragments, fragments, tile


def _img(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_grid_centred_native_patches():
    a = _img(128, 256)
    f = fragments(a, grid=(4, 4), size=32)
    assert isinstance(f, Fragments)
    assert f.patches.shape == (16, 32, 32, 3) and f.patches.dtype == np.uint8
    # cell centres at 16 + 32 i (rows) and 32 + 64 j (cols): patches start at 0, 32, ... and 16, 80, ...
    assert f.positions[:4] == [(0, 16), (0, 80), (0, 144), (0, 208)]
    assert f.positions[-1] == (96, 208)
    for (y, x), p in zip(f.positions, f.patches):
        assert np.array_equal(p, a[y:y + 32, x:x + 32])  # native pixels, no resizing


def test_small_image_overlapping_cells_are_clamped():
    a = _img(50, 70)
    f = fragments(a, grid=(4, 4), size=32)
    assert f.patches.shape == (16, 32, 32, 3)
    for (y, x), p in zip(f.positions, f.patches):
        assert 0 <= y <= 50 - 32 and 0 <= x <= 70 - 32
        assert np.array_equal(p, a[y:y + 32, x:x + 32])
    ys = sorted({y for y, _ in f.positions})
    assert ys[0] == 0 and ys[-1] == 18  # first and last rows touch the borders


def test_tiny_image_is_reflect_padded():
    a = _img(10, 20)
    f = fragments(a, grid=(2, 2), size=32)
    assert f.patches.shape == (4, 32, 32, 3)
    assert all(p == (0, 0) for p in f.positions)
    # the original sits in the middle of the padded patch: rows 11..20, columns 6..25
    assert np.array_equal(f.patches[0][11:21, 6:26], a)
    assert np.array_equal(f.patches[0][10, 6:26], a[1])  # reflect (not edge) padding
    one = fragments(_img(1, 1), grid=(1, 1), size=8)
    assert one.patches.shape == (1, 8, 8, 3) and len(np.unique(one.patches.reshape(-1, 3), axis=0)) == 1


def test_deterministic_and_validates():
    a = _img(100, 90)
    f1, f2 = fragments(a, (3, 5), 16), fragments(a.copy(), (3, 5), 16)
    assert f1.positions == f2.positions and np.array_equal(f1.patches, f2.patches)
    with pytest.raises(ValueError):
        fragments(a.astype(np.float32))
    with pytest.raises(ValueError):
        fragments(a, grid=(0, 2))


def test_tile_covers_image():
    a = _img(70, 100)
    t = tile(a, 32)
    ys = sorted({y for y, _ in t.positions})
    xs = sorted({x for _, x in t.positions})
    assert ys == [0, 32, 38] and xs == [0, 32, 64, 68]
    assert t.patches.shape == (12, 32, 32, 3)
    covered = np.zeros((70, 100), bool)
    for y, x in t.positions:
        covered[y:y + 32, x:x + 32] = True
    assert covered.all()
