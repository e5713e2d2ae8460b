"""vqual-lite: the shipped heads load, predictions are consistent, distortions lower the score, videos work."""

import json

import numpy as np
import pytest
from mediagen import write_video

from vqual.data import synthetic as syn
from vqual.errors import WeightsError
from vqual.heads.levels import level_probs
from vqual.levels import LEVELS
from vqual.models.lite import VqualLite
from vqual.weights import asset_path


@pytest.fixture(scope="module")
def model():
    return VqualLite()


def test_image_result_is_consistent(model, sample):
    r = model.score(sample)
    assert 1.0 <= r.score <= 5.0
    assert sum(r.level_probs.values()) == pytest.approx(1.0)
    bounds = model.bounds  # the most probable level is the bin that holds the score
    assert r.level == LEVELS[::-1][int(np.digitize(r.score, bounds))]
    assert set(r.attributes) == {"blur", "noise", "compression", "underexposure", "overexposure", "colour", "scaling"}
    assert all(0.0 <= v <= 1.0 for v in r.attributes.values())
    assert 0.0 <= r.uncertainty < 1.0
    assert r.provenance.model == "vqual-lite" and r.provenance.weights_sha256 == model.config["weights"]["heads.npz"]


def test_golden_score_of_the_bundled_sample(model, sample):
    # pinned after training (scripts/train_lite.py); a change here means the shipped model changed
    r = model.score(sample)
    assert r.score == pytest.approx(GOLDEN_SAMPLE_SCORE, abs=0.02)


@pytest.mark.parametrize("name,attribute", [("blur", "blur"), ("noise", "noise"), ("jpeg", "compression"),
                                            ("underexposure", "underexposure")])
def test_distortion_lowers_score_and_names_itself(model, sample, name, attribute):
    levels = syn.DISTORTIONS[name][1]
    scores, sev = [model.score(sample).score], [model.score(sample).attributes[attribute]]
    for lv in (levels[1], levels[3], levels[4]):
        r = model.score(syn.apply_image(name, sample, lv))
        scores.append(r.score)
        sev.append(r.attributes[attribute])
        assert max(r.attributes, key=r.attributes.get) == attribute or lv == levels[1]
    assert scores == sorted(scores, reverse=True), scores
    assert sev == sorted(sev), sev


def test_video_timeline_and_stutter(model, sample, tmp_path):
    clean = write_video(tmp_path / "clean.mp4", syn.pan_frames(sample, 60, (192, 256), speed=3), fps=30, crf=20)
    stut = write_video(tmp_path / "stutter.mp4", syn.stutter(syn.pan_frames(sample, 60, (192, 256), speed=3), 6),
                       fps=30, crf=20)
    a, b = model.score(str(clean)), model.score(str(stut))
    assert a.kind == "video" and len(a.timeline) == 2 and a.provenance.frame_indices == [0, 30]
    assert {"stutter", "frame_drops", "shake", "flicker"} <= set(a.attributes)
    assert b.attributes["stutter"] > 0.3 > a.attributes["stutter"]
    assert b.score < a.score


def test_deterministic(model, sample):
    assert model.score(sample).to_dict() | {"provenance": None} == model.score(sample).to_dict() | {"provenance": None}


def test_level_probs_shape():
    p = level_probs(3.0, [1.5, 2.5, 3.5, 4.5], 0.3)
    assert max(p, key=p.get) == "fair" and sum(p.values()) == pytest.approx(1.0)


def test_altered_heads_are_refused(monkeypatch, tmp_path):
    cfg = json.loads(asset_path("lite/lite.json").read_text())
    cfg["weights"]["heads.npz"] = "0" * 64  # the card names other heads than the shipped file
    import vqual.models.cards as cards

    real = cards.read_asset_json
    monkeypatch.setattr(cards, "read_asset_json", lambda rel: cfg if rel == "lite/lite.json" else real(rel))
    with pytest.raises(WeightsError, match="sha256"):
        VqualLite()


GOLDEN_SAMPLE_SCORE = 4.0503  # vqual-lite 1.0.0 heads sha256 in lite.json, 2026-11-22
