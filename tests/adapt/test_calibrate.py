"""Calibration to a user's scale: the maps, cross-validated selection, the JSON form, applying it to results."""

from __future__ import annotations

import json

import numpy as np
import pytest
from adaptfakes import GreyModel

from vqual.adapt.calibrate import cross_validate, fit_calibration, select_method
from vqual.adapt.folds import n_folds
from vqual.adapt.maps import IsotonicEstimator, LinearEstimator, LogisticEstimator, pav
from vqual.calibration import (
    SCHEMA,
    Calibration,
    IsotonicMap,
    LinearMap,
    LogisticMap,
    load_calibration,
    logistic4,
    map_from_dict,
)
from vqual.errors import CalibrationError
from vqual.levels import level_probs_from_score
from vqual.result import (
    FLAG_CLIPPED_INPUT,
    FLAG_CLIPPED_SCALE,
    FLAG_CLIPPED_TIMELINE,
    Moment,
    Provenance,
    QualityResult,
    Scale,
)

SCALE = Scale(name="my-scale", min=0.0, max=100.0, higher_is_better=True)
TRUE_LOGISTIC = (90.0, 10.0, 3.0, 0.3)  # b1 (top), b2 (bottom), b3 (midpoint), b4 (scale)


def logistic_data(n=60, seed=0, noise=3.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(1, 5, n)
    return x, logistic4(x, *TRUE_LOGISTIC) + rng.normal(0, noise, n)


def linear_data(n=60, seed=0, noise=4.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(1, 5, n)
    return x, 20 * x - 10 + rng.normal(0, noise, n)


def calibration(x=None, y=None, **kw) -> Calibration:
    if x is None:
        x, y = logistic_data()
    kw.setdefault("scale", SCALE)
    return fit_calibration(x, y, model=GreyModel, **kw)


def result(score=3.0, model=GreyModel, timeline=None) -> QualityResult:
    prov = Provenance(model=model.name, model_version=model.version, weights_sha256=model.weights_sha256)
    return QualityResult(path="a.png", kind="video" if timeline else "image", score=score,
                         score_100=(score - 1) * 25, level="fair", level_probs=level_probs_from_score(score),
                         uncertainty=0.1, attributes={}, provenance=prov, raw_score=score * 10,
                         timeline=timeline, worst=sorted(timeline, key=lambda m: m.score)[:2] if timeline else None)


# --- the maps -----------------------------------------------------------------------------------------------------

def _monotone(f, lo=-1.0, hi=7.0, increasing=True):
    grid = np.linspace(lo, hi, 801)
    d = np.diff(np.asarray(f(grid)))
    return bool(np.all(d >= -1e-12)) if increasing else bool(np.all(d <= 1e-12))


def test_linear_map_recovers_the_line():
    x = np.linspace(1, 5, 20)
    m = LinearEstimator().fit(x, 20 * x - 10)
    assert m.method == "linear" and m.coef_ == pytest.approx(20) and m.intercept_ == pytest.approx(-10)
    assert _monotone(m.predict)
    assert LinearEstimator().fit([2.0, 2.0], [1.0, 3.0]).method == "constant"


def test_logistic_map_recovers_the_logistic():
    x, y = logistic_data(n=200, noise=0.5)
    m = LogisticEstimator().fit(x, y)
    assert m.method == "logistic4" and m.fallback_reason_ is None
    assert np.allclose(m.params_, TRUE_LOGISTIC, rtol=0.05, atol=0.05)
    assert _monotone(m.predict)
    grid = np.linspace(1, 5, 50)
    assert np.max(np.abs(m.predict(grid) - logistic4(grid, *TRUE_LOGISTIC))) < 1.0
    dec = LogisticEstimator().fit(x, 100 - y)  # decreasing labels: a decreasing logistic
    assert _monotone(dec.predict, increasing=False)


def test_logistic_map_falls_back_to_a_line_on_too_few_points():
    m = LogisticEstimator().fit([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert m.method == "linear" and "at least 5" in m.to_dict()["fallback_reason"]
    assert m.predict([4.0]) == pytest.approx([5.0])
    with pytest.raises(RuntimeError, match="before fit"):
        LogisticEstimator().predict([1.0])


def test_isotonic_map_recovers_a_monotone_curve():
    x = np.linspace(1, 5, 41)
    y = (x - 1) ** 3
    m = IsotonicEstimator().fit(x[::-1], y[::-1])  # order does not matter
    assert m.increasing_ is True
    assert m.predict(x) == pytest.approx(y)
    mid = (x[:-1] + x[1:]) / 2
    assert np.max(np.abs(m.predict(mid) - (mid - 1) ** 3)) < 0.2  # linear interpolation between points
    assert m.predict([0.0, 9.0]) == pytest.approx([0.0, 64.0])  # flat beyond the ends
    assert _monotone(m.predict)


def test_pav_pools_violators_with_weights():
    assert pav([1, 3, 2, 4]) == pytest.approx([1, 2.5, 2.5, 4])
    assert pav([1, 3, 2, 4], [1, 3, 1, 1]) == pytest.approx([1, 2.75, 2.75, 4])
    assert pav([5, 4, 3]) == pytest.approx([4, 4, 4])
    assert pav([1, 2, 3]) == pytest.approx([1, 2, 3])


def test_isotonic_ties_and_direction():
    m = IsotonicEstimator().fit([1, 1, 2, 3], [1, 3, 2, 5])  # the two labels at x=1 are pooled to 2
    assert list(m.x_) == [1, 2, 3] and m.predict([1, 1.5, 2, 2.5, 3]) == pytest.approx([2, 2, 2, 3.5, 5])
    flat = IsotonicEstimator().fit([1, 2, 3, 4, 5], [1, 2, 2, 2, 3])
    assert list(flat.x_) == [1, 2, 4, 5]  # the interior point of the flat run is dropped, the interpolant is not
    assert flat.predict([3.0]) == pytest.approx([2.0])

    rng = np.random.default_rng(1)
    x = rng.uniform(1, 5, 50)
    y = 100 - 20 * x + rng.normal(0, 5, 50)  # lower is better labels (DMOS-like)
    dec = IsotonicEstimator().fit(x, y)
    assert dec.increasing_ is False and _monotone(dec.predict, increasing=False)
    forced = IsotonicEstimator(increasing=True).fit(x, y)
    assert _monotone(forced.predict)


@pytest.mark.parametrize(("est", "fitted"), [(LinearEstimator, LinearMap), (LogisticEstimator, LogisticMap),
                                             (IsotonicEstimator, IsotonicMap)])
def test_map_dict_roundtrip(est, fitted):
    x, y = logistic_data(n=30, seed=3)
    m = est().fit(x, y)
    d = json.loads(json.dumps(m.to_dict()))
    back = map_from_dict(d)  # the plain map: what scoring loads
    assert type(back) is fitted and isinstance(m, fitted) and back.to_dict() == m.to_dict()
    assert np.array_equal(back.predict(np.linspace(0, 6, 13)), m.predict(np.linspace(0, 6, 13)))


def test_eval_uses_the_same_logistic():
    from vqual.eval import protocols

    assert protocols.run_kfold.__kwdefaults__["calibrator"] is LogisticEstimator


# --- cross-validation and selection -------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_selection_picks_logistic_on_logistic_data_and_linear_on_linear_data(seed):
    assert calibration(*logistic_data(seed=seed)).method == "logistic"
    assert calibration(*linear_data(seed=seed)).method == "linear"


def test_selection_picks_isotonic_on_a_staircase():
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 5, 80)
    y = 20 + 20 * np.floor(x) + rng.normal(0, 1, 80)
    cal = calibration(x, y)
    assert cal.method == "isotonic" and cal.selected_by == "cross-validation"


def test_cv_figures_and_folds():
    x, y = logistic_data()
    cv = cross_validate(x, y, seed=0)
    assert cv["k"] == 5 and set(cv["methods"]) == {"linear", "logistic", "isotonic"}
    for fig in cv["methods"].values():
        assert len(fig["rmse_folds"]) == 5 and fig["srcc"] > 0.8 and fig["rmse"] > 0
    assert cv["methods"]["logistic"]["rmse"] < cv["methods"]["linear"]["rmse"]
    assert select_method(cv) == "logistic"
    again = cross_validate(x, y, seed=0)
    assert again["methods"]["isotonic"]["rmse"] == cv["methods"]["isotonic"]["rmse"]  # seeded
    assert [n_folds(n) for n in (10, 14, 15, 24, 25, 1000)] == [2, 2, 3, 4, 5, 5]
    named = calibration(x, y, method="isotonic")
    assert named.method == "isotonic" and named.selected_by == "user"


def test_small_label_sets_work_and_too_few_are_refused():
    x, y = linear_data(n=10)
    cal = calibration(x, y)
    assert cal.cv["k"] == 2 and cal.n_labels == 10
    with pytest.raises(CalibrationError, match="at least 10 labelled files"):
        calibration(x[:9], y[:9])
    with pytest.raises(CalibrationError, match="labels are equal"):
        calibration(x, np.full(10, 50.0))
    with pytest.raises(CalibrationError, match="same score"):
        calibration(np.full(10, 3.0), y)
    with pytest.raises(CalibrationError, match="unknown calibration method"):
        calibration(x, y, method="spline")


def test_direction_warning():
    x, y = linear_data()
    assert calibration(x, y).warnings == []
    cal = calibration(x, 100 - y)  # DMOS-like labels declared higher-is-better
    assert any("--lower-better" in w for w in cal.warnings)
    ok = calibration(x, 100 - y, scale=Scale("dmos", 0, 100, higher_is_better=False))
    assert ok.warnings == [] and ok(4.5) < ok(1.5)


# --- JSON ---------------------------------------------------------------------------------------------------------

def test_json_roundtrip_is_exact(tmp_path):
    for method in ("logistic", "isotonic", "linear"):
        cal = calibration(method=method)
        path = cal.save(tmp_path / f"{method}.json")
        text = path.read_text()
        d = json.loads(text)
        assert d["schema"] == SCHEMA and d["id"] == cal.id and d["id"].startswith("my-scale-")
        assert d["model"] == {"name": "fake-grey", "version": "1.0", "weights_sha256": "f" * 64}
        assert d["scale"] == {"name": "my-scale", "min": 0.0, "max": 100.0, "higher_is_better": True}
        assert d["labels"]["n_labels"] == 60 and d["method"] == method and set(d["cv"]["methods"]) == {
            "linear", "logistic", "isotonic"}
        back = load_calibration(path)
        assert back.to_dict() == cal.to_dict() and back.id == cal.id
        back.save(tmp_path / "again.json")
        assert (tmp_path / "again.json").read_text() == text
        grid = np.linspace(0, 6, 25)
        assert np.array_equal(back.transform(grid), cal.transform(grid))
    assert not list(tmp_path.glob("*.partial"))


def test_a_scale_given_in_integers_loads_back(tmp_path):
    from vqual.result import Scale

    x = np.linspace(1, 5, 20)
    cal = fit_calibration(x, 20 * x, model=GreyModel(), method="linear", scale=Scale(name="ints", min=0, max=100))
    back = load_calibration(cal.save(tmp_path / "ints.json"))  # the id once hashed 0 and 100, the file 0.0 and 100.0
    assert back.id == cal.id


def test_id_depends_on_the_map_only(tmp_path):
    a, b = calibration(), calibration()
    assert a.id == b.id  # created date and CV figures are not part of it
    assert calibration(method="linear").id != a.id
    d = a.to_dict()
    d["map"]["params"][0] += 1.0
    (tmp_path / "edited.json").write_text(json.dumps(d))
    with pytest.raises(CalibrationError, match="edited.json: its id .* edited by hand"):
        load_calibration(tmp_path / "edited.json")


def test_bad_files_are_refused_with_the_file_name(tmp_path):
    with pytest.raises(CalibrationError, match="nope.json: calibration file not found"):
        load_calibration(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CalibrationError, match="bad.json: not valid JSON"):
        load_calibration(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"schema": "vqual.eval/1"}))
    with pytest.raises(CalibrationError, match="other.json: not a vqual calibration"):
        load_calibration(tmp_path / "other.json")
    d = calibration().to_dict()
    del d["scale"]
    (tmp_path / "short.json").write_text(json.dumps(d))
    with pytest.raises(CalibrationError, match="short.json: malformed calibration"):
        load_calibration(tmp_path / "short.json")


# --- applying -----------------------------------------------------------------------------------------------------

class OtherVersion(GreyModel):
    version = "2.0"


class OtherWeights(GreyModel):
    weights_sha256 = "e" * 64


class OtherName(GreyModel):
    name = "niqe"


@pytest.mark.parametrize("other", [OtherVersion, OtherWeights, OtherName])
def test_another_model_version_or_weights_is_refused(tmp_path, other):
    cal = calibration()
    cal.save(tmp_path / "mine.json")
    with pytest.raises(CalibrationError) as e:
        other().with_calibration(tmp_path / "mine.json")
    msg = str(e.value)
    assert "\n" not in msg and "mine.json" in msg and "made for fake-grey 1.0 (weights sha256 ffffffffffff)" in msg
    assert f"not {other.name} {other.version} (weights sha256 {other.weights_sha256[:12]})" in msg
    with pytest.raises(CalibrationError, match="made for fake-grey 1.0"):
        cal.apply(result(model=other))


def test_apply_maps_score_and_keeps_the_model_value():
    cal = calibration()
    r = cal.apply(result(3.2))
    assert r.score == pytest.approx(cal(3.2)) and r.uncalibrated_score == 3.2 and r.calibrated
    assert r.scale == SCALE and r.score_100 == pytest.approx(r.score) and r.flags == []
    assert r.provenance.calibration_id == cal.id and r.level == "fair" and r.raw_score == 32.0
    assert QualityResult.from_dict(json.loads(r.to_json())) == r
    with pytest.raises(CalibrationError, match="already calibrated"):
        cal.apply(r)
    dmos = calibration(*(lambda x, y: (x, 100 - y))(*logistic_data()),
                       scale=Scale("dmos", 0, 100, higher_is_better=False)).apply(result(4.5))
    assert dmos.score < 20 and dmos.score_100 == pytest.approx(100 - dmos.score)  # 100 = best on every scale


def test_out_of_range_scores_are_clipped_and_flagged():
    x, y = logistic_data()
    keep = (x > 2) & (x < 4)
    cal = calibration(x[keep], y[keep])
    assert 2 < cal.x_min_ < cal.x_max_ < 4
    high, low, inside = cal.apply(result(4.8)), cal.apply(result(1.2)), cal.apply(result(3.0))
    assert high.flags == [FLAG_CLIPPED_INPUT] and high.score == pytest.approx(cal(cal.x_max_))
    assert low.flags == [FLAG_CLIPPED_INPUT] and low.score == pytest.approx(cal(cal.x_min_))
    assert inside.flags == []
    narrow = calibration(x, y, scale=Scale("narrow", 20, 80), method="linear")  # labels beyond the scale
    assert any("outside the declared scale" in w for w in narrow.warnings)
    top = narrow.apply(result(narrow.x_max_))
    assert top.score == 80.0 and top.flags == [FLAG_CLIPPED_SCALE]


def test_video_timeline_is_mapped():
    cal = calibration()
    tl = [Moment(second=i, start=float(i), end=i + 1.0, score=s, level="fair") for i, s in enumerate([2.5, 3.5, 4.99])]
    r = cal.apply(result(3.0, timeline=tl))
    assert [m.score for m in r.timeline] == pytest.approx([cal(2.5), cal(3.5), cal(4.99)])
    assert [m.uncalibrated_score for m in r.timeline] == [2.5, 3.5, 4.99]
    assert [m.second for m in r.worst] == [0, 1] and r.worst[0].score == pytest.approx(cal(2.5))
    assert FLAG_CLIPPED_TIMELINE in r.flags and FLAG_CLIPPED_INPUT not in r.flags  # 4.99 > x_max_
    assert tl[0].score == 2.5  # the input result is not changed


def test_model_with_calibration_scores_on_the_users_scale(tmp_path):
    cal = calibration()
    cal.save(tmp_path / "c.json")
    model = GreyModel()
    img = np.full((40, 40, 3), 128, np.uint8)
    plain = model.score(img)
    calibrated = model.with_calibration(tmp_path / "c.json")
    r = calibrated.score(img)
    assert model.calibration is None and calibrated.calibration.id == cal.id  # a copy; the model is unchanged
    assert r.uncalibrated_score == plain.score and r.score == pytest.approx(cal(plain.score))
    assert r.provenance.calibration_id == cal.id and plain.provenance.calibration_id is None
    assert calibrated.with_calibration(None).score(img).score == plain.score


def test_api_load_model_and_score_take_a_calibration(tmp_path):
    from adaptfakes import SPEC

    import vqual
    from vqual import registry

    with registry.registered(SPEC):
        _api_takes_a_calibration(tmp_path, vqual)


def _api_takes_a_calibration(tmp_path, vqual):
    cal = calibration()
    cal.save(tmp_path / "c.json")
    img = np.full((40, 40, 3), 200, np.uint8)
    m = vqual.load_model(calibration=tmp_path / "c.json")  # the calibration's model is the default
    assert m.name == "fake-grey" and m.score(img).provenance.calibration_id == cal.id
    r = vqual.score([img], model=GreyModel(), calibration=cal)[0]
    assert r.scale.name == "my-scale"
    with pytest.raises(CalibrationError, match="not niqe"):
        vqual.load_model("niqe", calibration=cal)


def test_the_eval_cache_never_holds_calibrated_results(tmp_path):
    from vqual.eval.cache import PredictionCache

    f = tmp_path / "a.png"
    f.write_bytes(b"x")
    with PredictionCache(tmp_path / "cache") as cache:
        with pytest.raises(ValueError, match="not cached"):
            cache.put(GreyModel(), f, calibration().apply(result()))
        cache.put(GreyModel(), f, result())
        assert cache.get(GreyModel(), f) == result()
