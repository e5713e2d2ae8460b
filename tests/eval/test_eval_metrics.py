from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from vqual.eval import metrics
from vqual.eval.metrics import LogisticFitError, MetricError, evaluate, fit_logistic, level_accuracy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlations_match_scipy(seed):
    rng = np.random.default_rng(seed)
    mos = rng.uniform(1, 5, 80)
    pred = mos + rng.normal(0, 0.7, 80)
    assert metrics.srcc(pred, mos) == pytest.approx(stats.spearmanr(pred, mos).statistic, abs=1e-12)
    assert metrics.krcc(pred, mos) == pytest.approx(stats.kendalltau(pred, mos).statistic, abs=1e-12)
    assert metrics.plcc(pred, mos) == pytest.approx(stats.pearsonr(pred, mos).statistic, abs=1e-12)
    assert metrics.rmse(pred, mos) == pytest.approx(float(np.sqrt(np.mean((pred - mos) ** 2))))
    m = evaluate(pred, mos)
    assert m["n"] == 80 and m["srcc"] == pytest.approx(metrics.srcc(pred, mos))


def test_ties_use_tau_b():
    pred = [1, 1, 2, 3, 3, 4]
    mos = [1, 2, 2, 3, 4, 4]
    assert metrics.krcc(pred, mos) == pytest.approx(stats.kendalltau(pred, mos, variant="b").statistic)


@pytest.mark.parametrize("fn", [metrics.srcc, metrics.krcc, metrics.plcc])
def test_degenerate_input_errors(fn):
    with pytest.raises(MetricError, match="predictions are constant"):
        fn([3.0] * 5, [1, 2, 3, 4, 5])
    with pytest.raises(MetricError, match="MOS are constant"):
        fn([1, 2, 3, 4, 5], [2.0] * 5)
    with pytest.raises(MetricError, match="2 of the predictions are NaN"):
        fn([1, np.nan, 3, np.nan], [1, 2, 3, 4])
    with pytest.raises(MetricError, match="MOS are NaN or infinite"):
        fn([1, 2, 3], [1, np.inf, 3])
    with pytest.raises(MetricError, match="at least 2 items, got 0"):
        fn([], [])
    with pytest.raises(MetricError, match="at least 2 items, got 1"):
        fn([1.0], [2.0])
    with pytest.raises(MetricError, match=r"differ in length \(3 vs 2\)"):
        fn([1, 2, 3], [1, 2])


def test_rmse_edge_cases():
    assert metrics.rmse([3.0, 3.0], [2.0, 4.0]) == pytest.approx(1.0)  # constant predictions are fine
    assert metrics.rmse([2.0], [4.0]) == pytest.approx(2.0)
    with pytest.raises(MetricError, match="at least 1"):
        metrics.rmse([], [])
    with pytest.raises(MetricError, match="NaN"):
        evaluate([1, 2, np.nan], [1, 2, 3])


def test_logistic4_recovers_a_known_map():
    x = np.linspace(-3, 12, 60)
    true = (4.6, 1.2, 4.0, 1.5)
    y = metrics.logistic4(x, *true)
    fit = fit_logistic(x, y, 4)
    assert np.allclose(fit(x), y, atol=1e-3)
    b1, b2, b3, b4 = fit.params
    assert (b1, b2, b3, b4) == pytest.approx(true, rel=1e-2, abs=1e-2)
    assert fit.to_dict()["kind"] == "logistic4" and len(fit.to_dict()["params"]) == 4


def test_logistic_handles_decreasing_raw_scores():
    rng = np.random.default_rng(3)
    mos = rng.uniform(1, 5, 100)
    raw = 20 - 3 * mos + rng.normal(0, 0.4, 100)  # e.g. a distance: lower is better
    m = evaluate(raw, mos)
    assert m["plcc"] < -0.9
    assert m["plcc_l4"] > 0.9 and m["plcc_l5"] > 0.9
    assert m["srcc_l4"] == pytest.approx(-m["srcc"], abs=1e-9)  # a monotone map only flips the sign
    assert m["rmse_l4"] < m["rmse"]


def test_logistic5_parameters_apply_to_raw_units():
    rng = np.random.default_rng(4)
    x = rng.uniform(100, 900, 120)  # raw units far from 1-5
    y = metrics.logistic5(x, 3.0, 0.01, 500.0, 0.001, 2.5) + rng.normal(0, 0.05, 120)
    fit = fit_logistic(x, y, 5)
    assert np.sqrt(np.mean((fit(x) - y) ** 2)) < 0.08
    assert np.allclose(fit(x), metrics.logistic5(x, *fit.params))


def test_fit_failure_is_reported(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("Optimal parameters not found: Number of calls to function has reached maxfev = 1.")

    monkeypatch.setattr(optimize, "curve_fit", boom)
    with pytest.raises(LogisticFitError, match="logistic4 fit did not converge on 10 items"):
        fit_logistic(np.arange(10.0), np.arange(10.0) / 2, 4)
    m = evaluate(np.arange(10.0), np.arange(10.0) / 2)
    assert m["plcc_l4"] is None and "did not converge" in m["logistic4"]["error"]
    assert m["plcc"] == pytest.approx(1.0)  # the unmapped metrics are still there


def test_too_few_points_for_the_logistic():
    m = evaluate([1.0, 2.0, 3.0], [1.5, 2.5, 2.0])
    assert m["plcc_l4"] is None and "at least 5" in m["logistic4"]["error"]
    assert m["plcc_l5"] is None and "at least 6" in m["logistic5"]["error"]


def test_level_accuracy_three_levels_by_tertiles():
    mos = np.array([1.0, 1.5, 2.0, 3.0, 3.2, 3.4, 4.0, 4.5, 5.0])  # tertiles: 2.33.., 3.6..
    pred = np.array([1.2, 3.3, 1.9, 3.1, 3.3, 4.4, 4.1, 4.9, 2.0])
    r = level_accuracy(pred, mos, 3)
    assert r["labels"] == ["poor", "fair", "good"]
    assert r["thresholds"] == pytest.approx([np.quantile(mos, 1 / 3), np.quantile(mos, 2 / 3)])
    assert r["confusion"] == [[2, 1, 0], [0, 2, 1], [1, 0, 2]]
    assert r["accuracy"] == pytest.approx(6 / 9)
    assert r["per_class"] == pytest.approx({"poor": 2 / 3, "fair": 2 / 3, "good": 2 / 3})
    assert r["counts"] == {"poor": 3, "fair": 3, "good": 3}


def test_level_accuracy_five_levels():
    mos = [1.0, 2.0, 3.0, 4.0, 5.0, 4.6]
    pred = [1.4, 2.6, 3.0, 4.4, 4.4, 4.5]  # 4.5 is "excellent" (boundaries belong to the upper level)
    r = level_accuracy(pred, mos, 5)
    assert r["labels"] == ["bad", "poor", "fair", "good", "excellent"]
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["per_class"]["poor"] == 0.0 and r["per_class"]["excellent"] == 0.5
    assert sum(map(sum, r["confusion"])) == 6
    empty = level_accuracy([3.0], [3.0], 5)
    assert empty["per_class"]["bad"] is None and empty["accuracy"] == 1.0


def test_mean_std():
    assert metrics.mean_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0, "n": 3}
    assert metrics.mean_std([0.5, None, float("nan")]) == {"mean": 0.5, "std": 0.0, "n": 1}
    assert metrics.mean_std([]) == {"mean": None, "std": None, "n": 0}


def test_bootstrap_intervals_cover_the_value_and_narrow_with_more_items():
    rng = np.random.default_rng(0)
    widths = []
    for n in (30, 300):
        mos = rng.uniform(1, 5, n)
        pred = mos + rng.normal(0, 0.8, n)
        ci = metrics.bootstrap_ci(pred, mos, n_boot=150, seed=0)
        iv = ci["intervals"]["srcc"]
        assert iv["low"] < metrics.srcc(pred, mos) < iv["high"]
        widths.append(iv["high"] - iv["low"])
        assert ci["unit"] == "item" and ci["level"] == 0.95
    assert widths[1] < widths[0] / 2
    with pytest.raises(MetricError, match="predictions are constant"):
        metrics.bootstrap_ci([2.0] * 5, [1, 2, 3, 4, 5])
