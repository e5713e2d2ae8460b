import json

import pytest

from vqual.levels import LEVELS, level_of_score, level_probs_from_score
from vqual.result import (
    SCHEMA_VERSION,
    Failure,
    Moment,
    Provenance,
    QualityResult,
    Scale,
    score_to_100,
)


@pytest.mark.parametrize("score", [1.0, 1.3, 2.0, 2.5, 3.25, 4.99, 5.0])
def test_level_probs_expectation_equals_score(score):
    probs = level_probs_from_score(score)
    assert set(probs) == set(LEVELS)
    assert sum(probs.values()) == pytest.approx(1.0)
    centres = {"excellent": 5, "good": 4, "fair": 3, "poor": 2, "bad": 1}
    assert sum(p * centres[k] for k, p in probs.items()) == pytest.approx(score)


def test_level_probs_clamps_and_levels():
    assert level_probs_from_score(7.0)["excellent"] == 1.0
    assert level_probs_from_score(-1.0)["bad"] == 1.0
    p = level_probs_from_score(3.2)
    assert max(p, key=p.get) == "fair" == level_of_score(3.2)  # the probabilities peak in the score's bin
    p = level_probs_from_score(3.5)
    assert p["fair"] == p["good"] == 0.5 and level_of_score(3.5) == "good"  # a score on a bound: the level above
    assert score_to_100(1.0) == 0.0 and score_to_100(5.0) == 100.0


def _result():
    prov = Provenance(model="m", model_version="1", weights_sha256="ab", frame_indices=[0, 24], elapsed_ms=3.5)
    moments = [Moment(second=0, start=0.0, end=1.0, score=3.0, level="fair", attributes={"stutter": 0.5})]
    return QualityResult(path="a.mp4", kind="video", score=3.0, score_100=50.0, level="fair",
                         level_probs=level_probs_from_score(3.0), uncertainty=0.1, attributes={"blur": 0.2},
                         provenance=prov, raw_score=5.5, timeline=moments, worst=moments, duration=2.0, fps=24.0)


def test_json_roundtrip_is_stable():
    r = _result()
    d = json.loads(r.to_json())
    assert d["schema"] == SCHEMA_VERSION == 3
    assert list(d)[:4] == ["path", "kind", "score", "score_100"]
    back = QualityResult.from_dict(d)
    assert back == r
    assert back.to_json() == r.to_json()


def test_schema_1_is_read_with_defaults():
    d = _result().to_dict()
    for key in ("uncalibrated_score", "scale", "flags"):
        del d[key]
    for m in d["timeline"] + d["worst"]:
        del m["uncalibrated_score"]
    d["schema"] = 1
    back = QualityResult.from_dict(d)
    assert back == _result() and back.scale == Scale() and back.flags == [] and not back.calibrated
    assert back.scale.to_100(3.0) == 50.0 and back.scale.to_1_5(3.0) == 3.0


def test_unknown_schema_refused():
    d = _result().to_dict()
    d["schema"] = 99
    with pytest.raises(ValueError, match="schema 99"):
        QualityResult.from_dict(d)


def test_failure_form():
    f = Failure(path="x.mp4", reason="empty", message="x.mp4: empty file")
    assert f.to_dict() == {"path": "x.mp4", "error": {"reason": "empty", "message": "x.mp4: empty file"}}


def test_one_json_form_serves_both_result_types():
    """`JsonForm`: each class writes its own schema version, keys in declaration order, and no NaN / infinity."""
    from dataclasses import dataclass, fields

    from vqual.compare.result import SCHEMA_VERSION as COMPARE_SCHEMA
    from vqual.compare.result import CompareResult
    from vqual.result import JsonForm

    cmp = CompareResult(reference="r.png", distorted="d.png", kind="image", width=4, height=3, metrics={})
    d = json.loads(cmp.to_json())
    assert d["schema"] == COMPARE_SCHEMA == 1 and list(d)[:-1] == [f.name for f in fields(CompareResult)]
    assert "SCHEMA_VERSION" not in d  # a class constant, not a field

    @dataclass
    class Odd(JsonForm):
        SCHEMA_VERSION = 7
        x: float

    assert Odd(1.5).to_dict() == {"x": 1.5, "schema": 7} and json.loads(Odd(2.0).to_json(indent=1))["x"] == 2.0
    with pytest.raises(ValueError):
        Odd(float("nan")).to_json()
