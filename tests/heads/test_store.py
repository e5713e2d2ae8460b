"""The one head file format: linear and MLP heads by prefix, and the bare arrays of old user model folders."""

import numpy as np
import pytest

from vqual.heads.linear import LinearHead
from vqual.heads.mlp import MLPHead
from vqual.heads.store import from_flat_arrays, head_from_arrays, kind_of, load_heads, save_heads


def mlp(d=5, h=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    return MLPHead(names=tuple("ab"[:k]), mean=rng.normal(size=d), scale=rng.uniform(0.5, 2, d),
                   w1=rng.normal(size=(d, h)), b1=rng.normal(size=h), w2=rng.normal(size=(h, k)), b2=rng.normal(size=k))


def test_mlp_matches_its_formula_and_roundtrips(tmp_path):
    h = mlp()
    x = np.random.default_rng(1).normal(size=(7, 5))
    z = (x - h.mean) / h.scale
    np.testing.assert_allclose(h(x), np.maximum(z @ h.w1 + h.b1, 0) @ h.w2 + h.b2, rtol=1e-12)
    lin = LinearHead(("y",), h.mean, h.scale, np.ones((5, 1)), np.zeros(1))
    save_heads(tmp_path / "h.npz", {"m": h, "l": lin}, dtype=None)
    heads, rest = load_heads(tmp_path / "h.npz", ("m", "l"))
    assert not rest and kind_of(heads["m"]) == "mlp" and kind_of(heads["l"]) == "linear"
    assert np.array_equal(heads["m"](x), h(x)) and heads["m"].names == ("a", "b")  # float64 kept: exact


def test_flat_arrays_of_old_user_folders_give_the_old_outputs():
    h = mlp(k=1)
    x = np.random.default_rng(2).normal(size=(4, 5))
    flat = {"mean": h.mean, "scale": h.scale, "w1": h.w1, "b1": h.b1, "w2": h.w2[:, 0], "b2": h.b2}
    old = np.maximum((x - h.mean) / h.scale @ h.w1 + h.b1, 0.0) @ flat["w2"] + flat["b2"][0]  # the old Head
    assert np.array_equal(from_flat_arrays("mlp", flat)(x)[:, 0], old)
    w = np.random.default_rng(3).normal(size=5)
    lin = from_flat_arrays("linear", {"mean": h.mean, "scale": h.scale, "w": w, "b": np.array([0.5])})
    assert np.array_equal(lin(x)[:, 0], (x - h.mean) / h.scale @ w + 0.5)
    with pytest.raises(ValueError, match="lacks arrays w"):
        from_flat_arrays("linear", {"mean": h.mean, "scale": h.scale})
    with pytest.raises(ValueError, match="unknown head type"):
        from_flat_arrays("tree", {})


def test_inconsistent_mlp_refused():
    h = mlp()
    with pytest.raises(ValueError, match="inconsistent"):
        MLPHead(h.names, h.mean, h.scale, h.w1, h.b1, h.w2[:2], h.b2)
    arrays = h.to_arrays("s")
    del arrays["s.b2"]
    with pytest.raises(KeyError):
        head_from_arrays(arrays, "s")
