"""scripts/fit_severity_bands.py's out-of-fold head learns what the shipped head learnt (issue #21): the extra rows
of vqual-lite 2's heads stage join every fold (the distorted photographs only the folds that do not test their
content), and a card that records them cannot be fitted without them."""
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
    with pytest.raises(SystemExit, match="--stage features first"):
        B.extra_rows(lite, tmp_path, tmp_path)


def test_grouped_extra_rows_are_held_out_with_their_content():
    """The distorted photographs (scripts/train_lite2.py, 2.2.1) and their clean copies are measured out of fold: a
    fold that tests a content never learns that content's extra rows, while ungrouped extra rows train every fold."""
    from vqual.heads.linear import fit_ridge

    x, y, fs = _data()
    groups = [f"c{i % 6}" for i in range(60)]
    rng = np.random.default_rng(1)
    x_photo = rng.normal(size=(12, 5))  # two "photographs" per content c0..c5, targets far off the data's
    y_photo = np.full((12, 2), 5.0)
    photo_groups = [f"c{i % 6}" for i in range(12)]
    x_clean = rng.normal(size=(4, 5))  # ungrouped rows (e.g. mosaics): every fold
    y_clean = np.zeros((4, 2))
    x_extra, y_extra = np.vstack([x_photo, x_clean]), np.vstack([y_photo, y_clean])
    extra_groups = photo_groups + [None] * 4
    # the photographs are measured too: appended to (x, y), trained only through their rows among the extra ones
    x_all, y_all = np.vstack([x, x_photo]), np.vstack([y, y_photo])
    groups_all = groups + photo_groups
    folds = fit_lite.folds(groups_all, 6, seed=0)
    got = B.oof_grouped(x_all, y_all, folds, groups_all, 10.0, x_extra, y_extra, extra_groups,
                        skip=list(range(12)))
    for te in folds:
        held = {groups_all[i] for i in te}
        tr = np.setdiff1d(np.arange(60), te)
        keep = [i for i, g in enumerate(extra_groups) if g is None or g not in held]
        want = fit_ridge(np.vstack([x[tr], x_extra[keep]]), np.vstack([y[tr], y_extra[keep]]), 10.0,
                         ("a", "b"))(x_all[te])
        np.testing.assert_allclose(got[te], want, atol=1e-10)
        assert len(keep) == 4 + 12 - sum(g in held for g in photo_groups)  # its own photographs left out
    # with every extra row ungrouped it is the every-fold variant
    np.testing.assert_allclose(B.oof_grouped(x, y, fs, groups, 10.0, x_clean, y_clean, [None] * 4, skip=[]),
                               B.oof_with_extra(x, y, fs, 10.0, x_clean, y_clean), atol=1e-12)


def test_image_bands_keep_a_share_of_clean_pictures_at_none_not_all():
    """With hundreds of clean pictures, one outlier (a warm picture's colour reading) must not set the "none" bound
    for all: the image bands put it above CLEAN_QUANTILE of them; the temporal ones above every clean chunk."""
    rng = np.random.default_rng(0)
    meta = [{"content": f"c{i}", "distortion": "clean", "level": 0} for i in range(100)]
    vals = list(rng.uniform(0.0, 0.1, 99)) + [0.8]  # one outlier
    for lv in range(1, 6):
        meta += [{"content": f"c{i}", "distortion": "colour", "level": lv} for i in range(100)]
        vals += list(rng.uniform(0.15 * lv, 0.15 * lv + 0.1, 100))
    vals = np.array(vals)[:, None]
    strict = B.fit_group(meta, vals, ["colour"], {"colour": ["colour"]})["colour"]
    share = B.fit_group(meta, vals, ["colour"], {"colour": ["colour"]}, clean_quantile=0.95)["colour"]
    assert strict["thresholds"][0] > 0.8 and strict["clean_at_none"] == 1.0
    assert share["thresholds"][0] < 0.15 and share["clean_at_none"] >= 0.95
    assert share["thresholds"][1] < 0.45  # level 3 (0.45-0.55) is named once the outlier no longer sets the floor
    assert B.TARGET == {0: 0, 1: 1, 2: 1, 3: 2, 4: 3, 5: 4}  # image levels 3 / 4 / 5: one word each
    assert B.TEMPORAL_TARGET == {0: 0, 1: 1, 2: 2, 3: 3, 4: 3, 5: 4}
