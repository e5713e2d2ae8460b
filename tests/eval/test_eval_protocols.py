from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from vqual.adapt.folds import ProtocolError, kfold_indices
from vqual.adapt.maps import LogisticEstimator
from vqual.eval.protocols import (
    EvalSet,
    run_cross,
    run_fewlabel,
    run_kfold,
    run_protocol,
    run_split,
)


def synthetic(n=120, seed=0, groups=None, split=None) -> EvalSet:
    """Raw scores on an arbitrary scale (a distance: lower is better); the model's own score is a poor map of it."""
    rng = np.random.default_rng(seed)
    mos = rng.uniform(1, 5, n)
    raw = 50 - 8 * mos + rng.normal(0, 2.5, n)  # unique values (continuous)
    score = np.clip(5 - raw / 20, 1, 5)
    content = [f"c{i % groups}" if groups else f"i{i}" for i in range(n)]
    return EvalSet.from_arrays(mos, score, raw=raw, content=content, split=split, ids=range(100, 100 + n))


class SpyCalibrator(LogisticEstimator):
    seen: ClassVar[list[np.ndarray]] = []

    def fit(self, x, y):
        SpyCalibrator.seen.append(np.asarray(x, dtype=float).copy())
        return super().fit(x, y)


def test_evalset_uses_raw_only_when_every_item_has_one():
    d = EvalSet.from_arrays([1, 2, 3], [1.5, 2.5, 3.5], raw=[10.0, None, 30.0])
    assert d.feature_name == "score" and list(d.feature) == [1.5, 2.5, 3.5]
    d = EvalSet.from_arrays([1, 2, 3], [1.5, 2.5, 3.5], raw=[10.0, 20.0, 30.0])
    assert d.feature_name == "raw_score"


def test_kfold_indices_partition_grouped_and_seeded():
    content = [f"c{i % 23}" for i in range(200)]
    folds = kfold_indices(content, 5, seed=7)
    allidx = np.concatenate(folds)
    assert sorted(allidx.tolist()) == list(range(200))
    for f in folds:
        others = set(np.concatenate([g for g in folds if g is not f]).tolist())
        assert not ({content[i] for i in f} & {content[i] for i in others})
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 9  # one content holds at most 9 items here
    again = kfold_indices(content, 5, seed=7)
    assert all(np.array_equal(a, b) for a, b in zip(folds, again))
    other = kfold_indices(content, 5, seed=8)
    assert not all(np.array_equal(a, b) for a, b in zip(folds, other))


def test_kfold_indices_errors():
    with pytest.raises(ProtocolError, match="at least 5 distinct contents, got 3"):
        kfold_indices(["a", "b", "c", "a"], 5)
    with pytest.raises(ProtocolError, match="at least 2 folds"):
        kfold_indices(["a", "b"], 1)


def test_kfold_fitted_calibration_never_sees_the_test_fold():
    data = synthetic(groups=30)
    SpyCalibrator.seen = []
    res = run_kfold(data, "fitted", k=5, seed=0, calibrator=SpyCalibrator)
    assert len(SpyCalibrator.seen) == 5 and len(res.folds) == 5
    by_fold: dict[str, set] = {}
    for p in res.predictions:
        by_fold.setdefault(p["fold"], set()).add(p["id"])
    raw_by_id = dict(zip(data.ids.tolist(), data.feature.tolist()))
    for seen, fold in zip(SpyCalibrator.seen, res.folds):
        test_raw = {raw_by_id[i] for i in by_fold[fold["name"]]}
        assert not (set(seen.tolist()) & test_raw)
        assert fold["n_train"] + fold["n_test"] == len(data)
        assert fold["calibrator"]["method"] == "logistic4"
    assert sorted(p["id"] for p in res.predictions) == sorted(data.ids.tolist())
    # the fitted logistic maps a decreasing raw score onto the MOS: strong positive PLCC on held-out folds
    assert res.summary["plcc"]["mean"] > 0.9 and res.summary["plcc"]["n"] == 5
    assert res.pooled["n"] == len(data)


def test_kfold_model_mode_uses_the_model_score():
    data = synthetic()
    res = run_kfold(data, "model", k=4, seed=1)
    pred = {p["id"]: p["prediction"] for p in res.predictions}
    assert all(pred[i] == pytest.approx(s) for i, s in zip(data.ids, data.score))
    assert "calibrator" not in res.folds[0]


def test_fewlabel_curve_is_reproducible_and_content_safe():
    data = synthetic(n=150, groups=50)
    res = run_fewlabel(data, "fitted", sizes=[10, 25, 140], repeats=4, seed=3)
    assert [p["n_labels"] for p in res.curve] == [10, 25]
    assert any("N=140 skipped" in n for n in res.notes)
    for p in res.curve:
        assert p["repeats"] == 4 and len(p["runs"]) == 4
        assert p["metrics"]["srcc"]["n"] == 4 and p["metrics"]["srcc"]["std"] >= 0
        for run in p["runs"]:
            # test items share no content with the labelled ones: 3 items per content here
            assert run["n_test"] <= 150 - p["n_labels"] and run["n_test"] % 3 == 0
    again = run_fewlabel(data, "fitted", sizes=[10, 25], repeats=4, seed=3)
    assert again.curve[1]["metrics"]["plcc"] == res.curve[1]["metrics"]["plcc"]
    # more labels, better calibrated RMSE on average
    assert res.curve[1]["metrics"]["rmse"]["mean"] <= res.curve[0]["metrics"]["rmse"]["mean"] + 0.05
    base = run_fewlabel(data, "model", sizes=[10, 25], repeats=4, seed=3)
    assert [r["n_test"] for r in base.curve[0]["runs"]] == [r["n_test"] for r in res.curve[0]["runs"]]


def test_fewlabel_errors():
    with pytest.raises(ProtocolError, match="no size"):
        run_fewlabel(synthetic(n=30), "fitted", sizes=[25], repeats=2)
    with pytest.raises(ProtocolError, match="repeats"):
        run_fewlabel(synthetic(n=30), "fitted", sizes=[5], repeats=0)


def test_split_protocol():
    split = ["train"] * 80 + ["test"] * 40
    data = synthetic(split=split)
    res = run_split(data, "fitted")
    assert res.folds[0]["n_train"] == 80 and res.folds[0]["n_test"] == 40
    assert {p["id"] for p in res.predictions} == set(data.ids[80:].tolist())
    with pytest.raises(ProtocolError, match="no scored items in split 'test-1080p'"):
        run_split(data, "model", test_split="test-1080p")
    with pytest.raises(ProtocolError, match="use --protocol kfold"):
        run_split(synthetic(), "model")


def test_cross_protocol_and_dispatch():
    train, test = synthetic(seed=1), synthetic(seed=2, n=60)
    res = run_protocol("cross", test, "fitted", train=train, train_name="a", test_name="b")
    assert res.folds[0]["name"] == "a->b" and res.folds[0]["n_train"] == 120 and res.folds[0]["n_test"] == 60
    assert res.summary["srcc"]["mean"] > 0.9
    with pytest.raises(ProtocolError, match="needs a training dataset"):
        run_protocol("cross", test, "fitted")
    with pytest.raises(ProtocolError, match="unknown protocol"):
        run_protocol("loo", test, "model")
    with pytest.raises(ProtocolError, match="calibration must be"):
        run_cross(train, test, "isotonic")


def test_fold_with_constant_predictions_records_the_error():
    data = EvalSet.from_arrays(np.linspace(1, 5, 20), [3.0] * 20)
    res = run_kfold(data, "model", k=2)
    assert all("constant" in f["error"] for f in res.folds)
    assert res.summary["srcc"]["n"] == 0


def test_logistic_calibrator_falls_back_to_a_line():
    cal = LogisticEstimator().fit([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert cal.method == "linear" and "at least 5" in cal.to_dict()["fallback_reason"]
    assert cal.predict([4.0]) == pytest.approx([5.0])
    const = LogisticEstimator().fit([2.0, 2.0], [1.0, 3.0])
    assert const.method == "constant" and const.predict([9.0]) == pytest.approx([2.0])
    with pytest.raises(RuntimeError):
        LogisticEstimator().predict([1.0])


# --- the whole-set protocol (issue 14) ------------------------------------------------------------------------------

def test_whole_set_is_the_model_score_on_every_item_with_intervals():
    from scipy import stats

    from vqual.eval.protocols import run_whole

    d = synthetic(80, seed=3)
    res = run_whole(d, n_boot=100, seed=1)
    assert (res.protocol, res.calibration) == ("whole", "model")
    assert res.summary["srcc"]["mean"] == stats.spearmanr(d.score, d.mos).statistic  # nothing fitted, nothing left out
    assert res.summary["krcc"]["mean"] == stats.kendalltau(d.score, d.mos).statistic
    assert res.summary["plcc"]["mean"] == stats.pearsonr(d.score, d.mos).statistic
    assert res.summary["plcc_l4"]["mean"] is not None and len(res.predictions) == 80
    assert res.ci["unit"] == "item" and res.ci["n_boot"] == 100
    for k in ("srcc", "krcc", "plcc", "plcc_l4", "rmse"):
        s = res.summary[k]
        assert s["ci_low"] < s["mean"] < s["ci_high"], k
        assert res.ci["intervals"][k]["n_valid"] == 100
    again = run_whole(d, n_boot=100, seed=1)
    assert again.ci == res.ci  # seeded
    assert run_whole(d, n_boot=100, seed=2).ci != res.ci
    assert run_protocol("whole", d, "model", n_boot=0).ci is None


def test_whole_set_resamples_contents_when_they_repeat_and_refuses_fitting():
    from vqual.eval.protocols import run_whole

    d = synthetic(60, groups=15)
    res = run_whole(d, n_boot=50)
    assert res.ci["unit"] == "content" and any("contents" in n for n in res.notes)
    with pytest.raises(ProtocolError, match="nothing is fitted"):
        run_whole(d, "fitted")
    with pytest.raises(ProtocolError, match="at least 3"):
        run_whole(d.take(np.arange(2)))
