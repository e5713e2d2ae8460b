import numpy as np
import pytest

from vqual.heads.linear import LinearHead, fit_ridge
from vqual.heads.store import load_heads, save_heads


@pytest.mark.parametrize("n,d", [(200, 5), (20, 50)])  # primal and dual solves
def test_ridge_recovers_a_linear_map(n, d):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d)
    w = rng.normal(size=d)
    y = x @ w + 2.0
    head = fit_ridge(x, y, alpha=1e-6, names=("y",))
    if n > d:
        np.testing.assert_allclose(head(x)[:, 0], y, atol=1e-4)
    else:  # under-determined: interpolates the training data
        np.testing.assert_allclose(head(x)[:, 0], y, atol=1e-3)


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 2))
    h = fit_ridge(x, y, 1.0, ("a", "b"))
    save_heads(tmp_path / "h.npz", {"h": h}, extra={"other": np.arange(3)})
    heads, rest = load_heads(tmp_path / "h.npz", ("h",))
    np.testing.assert_allclose(heads["h"](x), h(x), atol=1e-5)  # saved in float32
    assert heads["h"].names == ("a", "b") and list(rest) == ["other"]


def test_inconsistent_shapes_refused():
    with pytest.raises(ValueError, match="inconsistent head shapes"):
        LinearHead(("a",), np.zeros(3), np.ones(3), np.zeros((4, 1)), np.zeros(1))
