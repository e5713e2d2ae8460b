"""scripts/fit_severity_bands.py's out-of-fold head learns what the shipped head learnt (issue #21): the extra rows
of vqual-lite 2's heads stage join every fold, and a card that records them cannot be fitted without them."""
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import fit_lite  # noqa: E402
import fit_severity_bands as B  # noqa: E402


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 5))
    y = np.c_[x[:, 0] * 0.3 + 0.5, x[:, 1] * 0.2 + 0.3]
    return x, y, fit_lite.folds([f"c{i % 6}" for i in range(60)], 6, seed=0)


def test_without_extra_rows_it_is_the_plain_out_of_fold_ridge():
    x, y, fs = _data()
    got = B.oof_with_extra(x, y, fs, 10.0, np.zeros((0, 5)), np.zeros((0, 2)))
    np.testing.assert_allclose(got, fit_lite.ridge_oof(x, y, 10.0, fs), atol=1e-12)


def test_extra_rows_train_every_fold():
    x, y, fs = _data()
    # rows far from the data with target 0: every fold's head learns them, so each fold predicts lower there
    x_extra = np.tile(np.r_[3.0, 3.0, 0, 0, 0], (40, 1))
    y_extra = np.zeros((40, 2))
    probe = np.r_[3.0, 3.0, 0, 0, 0][None]
    from vqual.heads.linear import fit_ridge

    for te in fs:
        tr = np.setdiff1d(np.arange(len(y)), te)
        plain = fit_ridge(x[tr], y[tr], 10.0, ("a", "b"))(probe)
        with_extra = fit_ridge(np.vstack([x[tr], x_extra]), np.vstack([y[tr], y_extra]), 10.0, ("a", "b"))(probe)
        assert np.all(np.abs(with_extra) < np.abs(plain))
    got = B.oof_with_extra(x, y, fs, 10.0, x_extra, y_extra)
    assert got.shape == y.shape
    assert not np.allclose(got, fit_lite.ridge_oof(x, y, 10.0, fs))


def _lite(attributes: dict):
    return SimpleNamespace(name="vqual-lite@2.0", config={"attributes": attributes, "training": {"args": {}}})


def test_a_head_without_extra_rows_needs_nothing_more():
    assert B.extra_rows(_lite({"alpha": 1000.0}), None, None) is None


def test_a_head_that_learnt_clean_photographs_cannot_be_banded_without_them(tmp_path):
    lite = _lite({"alpha": 1000.0, "clean_negatives": {"n": 1500, "weight": 3}, "large_mosaics": {"n": 48}})
    with pytest.raises(SystemExit, match=r"1500 clean BIQ2021 photographs and 48 large mosaics.*--heads-work"):
        B.extra_rows(lite, None, None)
    with pytest.raises(SystemExit, match=r"--heads-work .*: no BIQ2021 training features of the shipped encoder"):
        B.extra_rows(lite, tmp_path, tmp_path)
    (tmp_path / "feat-biq-train.sha256").write_text("0" * 64)  # features of another encoder
    with pytest.raises(SystemExit, match="--stage heads first"):
        B.extra_rows(lite, tmp_path, tmp_path)
