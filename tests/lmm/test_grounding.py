"""Severity bands, the grounding rule and the strict explanation check (hand-made thresholds, so the tests do not
depend on the fitted ones), plus sanity checks of the shipped bands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vqual.lmm.explain import (
    ANSWERS,
    BANDS,
    CLEAN_SENTENCE,
    KINDS,
    LOW_SENTENCE,
    PHRASES,
    Second,
    SeverityBands,
    check,
    describe,
    display,
    grounded,
    level_ceiling,
    read,
    with_worst_moments,
    worst_moments,
)

#: slight from 0.1, noticeable from 0.3, strong from 0.5, severe from 0.7, for every attribute
B = SeverityBands({k: (0.1, 0.3, 0.5, 0.7) for k in PHRASES})
#: measured: strong blur (0.55), noticeable noise (0.35), slight compression (0.2), the rest none
ATTRS = {"blur": 0.55, "noise": 0.35, "compression": 0.2, "underexposure": 0.0, "overexposure": 0.05,
         "colour": 0.02, "scaling": 0.08}


def kinds(text, score=3.0, attrs=ATTRS, **kw):
    return check(text, score, attrs, bands=B, **kw).kinds


# --- bands ---------------------------------------------------------------------------------------------------------
def test_bands_and_calibrated_severity_are_monotone():
    assert [BANDS[B.band("blur", v)] for v in (0.0, 0.1, 0.29, 0.3, 0.5, 0.69, 0.7, 1.0)] == [
        "none", "slight", "slight", "noticeable", "strong", "strong", "severe", "severe"]
    xs = np.linspace(0, 1, 101)
    sev = [B.severity("noise", x) for x in xs]
    assert np.all(np.diff(sev) >= 0) and sev[0] == 0.0 and sev[-1] == 1.0
    assert B.severity("noise", 0.3) == pytest.approx(0.4) and B.severity("noise", 0.7) == pytest.approx(0.8)
    with pytest.raises(ValueError):
        SeverityBands({"blur": (0.3, 0.2, 0.5, 0.7)})


def test_shipped_bands_cover_every_attribute_and_keep_their_fitting_constraints():
    from vqual.weights import asset_path

    card = json.loads(asset_path("lmm/severity_bands.json").read_text())
    shipped = SeverityBands.shipped()
    from vqual.models.cards import card_of

    lite = card_of(card_of("vqual-lmm").config["lite"])  # the vqual-lite model vqual-lmm reads
    assert card["for"]["heads_sha256"] == lite.sha256("heads.npz") and card["for"]["model"] == lite.name
    assert set(card["attributes"]) == set(PHRASES) and "fit_severity_bands.py" in card["fitted"]["command"]
    for name, info in card["attributes"].items():
        # clean training pictures measure "none": every one for temporal attributes, up to their 95th percentile for
        # image ones (236 pictures, whose single largest value is an outlier; fit_severity_bands.py CLEAN_QUANTILE)
        share = 0.95 if "clean_q95" in info else 1.0
        assert shipped.band(name, info["clean_q95"] if share < 1 else info["clean_max"]) == 0, name
        assert shipped.band(name, info["level1_q90"]) <= 1, name  # the mildest level is at most "slight" (90%)
        counts = info["bands_by_level"]
        assert counts["0"][0] >= np.floor(share * sum(counts["0"])), name  # the 95th percentile: 224 of 236
        assert sum(counts["1"][2:]) <= 0.1 * sum(counts["1"]), name
        mean_band = [np.dot(counts[str(lv)], range(5)) / sum(counts[str(lv)]) for lv in range(6)]
        assert mean_band[4] > mean_band[2] > mean_band[1], name  # higher levels rise (stutter at level 5, a picture
        # held 8 frames, measures 0 in the temporal encoder: its blind spot, not the bands')


# --- the grounding rule --------------------------------------------------------------------------------------------
def test_grounded_answers_name_the_strongest_first_with_its_band_word():
    ok = grounded("image", 3.0, ATTRS, bands=B)
    assert ok == ("The main problem is strong blur.", "The main problem is strong blur, along with noticeable noise.")
    assert all(check(a, 3.0, ATTRS, bands=B).consistent for a in ok)
    assert describe(ATTRS, bands=B) == ok[1]


def test_nothing_noticeable_is_clean_or_low_and_decided_without_a_decoder():
    quiet = {k: 0.25 for k in ATTRS}  # everything slight
    assert grounded("image", 3.6, quiet, bands=B) == (CLEAN_SENTENCE,)
    assert grounded("image", 2.0, quiet, bands=B) == (LOW_SENTENCE,)  # poor: not clean, and nothing invented
    assert check(LOW_SENTENCE, 2.0, quiet, bands=B).consistent and check(CLEAN_SENTENCE, 3.6, quiet, bands=B).consistent


def test_images_never_name_temporal_distortions_and_videos_do():
    attrs = {**ATTRS, "stutter": 0.8}
    assert not any("stutter" in a for a in grounded("image", 2.0, attrs, bands=B))
    assert grounded("video", 2.0, attrs, bands=B)[0] == "The main problem is severe stutter."


def test_a_severe_distortion_caps_the_level_at_fair():
    assert level_ceiling({"blur": 0.75}, B) == "fair" and level_ceiling({"blur": 0.65}, B) is None


def test_random_measurements_always_have_a_consistent_answer():
    rng = np.random.default_rng(0)
    for _ in range(300):
        media = "video" if rng.random() < 0.5 else "image"
        attrs = {k: float(v) for k, v in zip(PHRASES, rng.uniform(0, 1, len(PHRASES)) ** 2)}
        score = float(rng.uniform(1, 5))
        if level_ceiling(attrs, B) == "fair":
            score = min(score, 3.4)
        for a in grounded(media, score, attrs, bands=B):
            assert check(display(a), score, attrs, bands=B, media=media).consistent, (a, attrs, score)
            assert a == LOW_SENTENCE or a in ANSWERS[media]


# --- the strict check: one hand-written contradiction per kind ------------------------------------------------------
def test_consistent_explanations_pass():
    assert kinds("The main problem is strong blur.") == []
    assert kinds("The main problem is strong blur, along with noticeable noise.") == []
    assert kinds("Strong blur is the main problem; there is also noticeable noise.") == []
    assert kinds(CLEAN_SENTENCE, 4.2, {k: 0.2 for k in ATTRS}) == []
    assert kinds("The main problem is a noticeable colour cast.", 3.0, {"colour": 0.4, "blur": 0.1}) == []


def test_named_but_absent():
    assert kinds("The main problem is strong blur, along with noticeable underexposure.") == ["named_but_absent"]
    assert kinds("The main problem is strong blur, along with slight compression artefacts.") == ["named_but_absent"]
    c = check("The main problem is strong blur, along with strong stutter.", 3.0, ATTRS, bands=B, media="image")
    assert c.kinds == ["named_but_absent"] and c.contradictions[0].attribute == "stutter"


def test_wrong_severity_word():
    assert kinds("The main problem is severe blur.", 3.0) == ["wrong_severity_word"]
    assert kinds("The main problem is strong blur, along with strong noise.") == ["wrong_severity_word"]
    assert kinds("The main problem is blur.") == ["wrong_severity_word"]  # no word at all is not the band's word


def test_strongest_not_named():
    assert kinds("The main problem is noticeable noise.") == ["strongest_not_named"]
    assert kinds("The main problem is noticeable noise, along with strong blur.") == ["strongest_not_named"]
    assert kinds("Hard to say.") == ["strongest_not_named"]


def test_clean_but_distorted():
    assert kinds(CLEAN_SENTENCE) == ["clean_but_distorted"]
    c = check("It looks clean: no distortion stands out.", 3.0, {"underexposure": 0.31, "overexposure": 0.05},
              bands=B)
    assert c.kinds == ["clean_but_distorted"] and c.contradictions[0].attribute == "underexposure"


def test_level_disagrees():
    quiet = {k: 0.05 for k in ATTRS}
    assert kinds(CLEAN_SENTENCE, 2.1, quiet) == ["level_disagrees"]  # clean, but poor
    assert kinds(CLEAN_SENTENCE, 3.0, quiet, level="bad") == ["level_disagrees"]  # the result's level wins
    assert kinds("The main problem is severe blur.", 4.0, {"blur": 0.8}) == ["level_disagrees"]  # severe, but good
    assert kinds(LOW_SENTENCE, 3.8, quiet) == ["level_disagrees"]  # low, but good
    assert kinds("Hmm.", 1.2, quiet) == ["level_disagrees"]  # a bad picture left unexplained


def test_every_kind_is_reported_and_the_dict_form_lists_them():
    c = check("The main problem is strong noise, along with severe underexposure.", 4.0, ATTRS, bands=B)
    assert set(c.kinds) == {"named_but_absent", "wrong_severity_word", "strongest_not_named", "level_disagrees"}
    d = c.as_dict()
    assert d["consistent"] is False and len(d["problems"]) == len(d["contradictions"]) == len(c.kinds)
    assert {x["kind"] for x in d["contradictions"]} <= set(KINDS)
    assert d["bands"]["blur"] == "strong" and d["bands"]["compression"] == "slight"


def test_reading_is_independent_of_the_answer_form():
    r = read("Heavy grain, and the picture is slightly too dark.")
    assert [(m.attribute, m.band) for m in r.mentions] == [("noise", 3), ("underexposure", 1)]
    assert [(m.attribute, m.band) for m in read("A noticeable colour cast.").mentions] == [("colour", 2)]
    assert [m.attribute for m in read("Frames were dropped; some frame drops.").mentions] == ["frame_drops"] * 2


# --- videos --------------------------------------------------------------------------------------------------------
def _timeline(stutter_at=(4, 5), value=0.6):
    return [Second(i, float(i), float(i + 1), 2.0 if i in stutter_at else 4.0,
                   {"stutter": value if i in stutter_at else 0.0, "blur": 0.05}) for i in range(10)]


def test_worst_moments_name_the_worst_seconds_in_runs():
    secs = _timeline()
    assert worst_moments(secs, 3, bands=B) == "Worst moments: strong stutter at 4-6 s."
    two = _timeline(stutter_at=(1, 7), value=0.75)
    assert worst_moments(two, 3, bands=B) == "Worst moments: severe stutter at 1-2 s; severe stutter at 7-8 s."
    quiet = [Second(i, float(i), float(i + 1), 3.0, {"blur": 0.05}) for i in range(4)]
    assert worst_moments(quiet, 3, bands=B) is None


def test_a_video_clean_as_a_whole_does_not_say_no_distortion_stands_out_beside_a_named_one():
    secs = _timeline()
    where = worst_moments(secs, 3, bands=B)
    text = with_worst_moments(CLEAN_SENTENCE, where)
    assert text == "It looks clean as a whole; only some seconds stand out. Worst moments: strong stutter at 4-6 s."
    assert "no distortion" not in text
    pooled = {"stutter": 0.12, "blur": 0.05}
    assert check(text, 3.8, pooled, timeline=secs, bands=B).consistent  # still read as clean, still grounded
    assert check(text, 3.8, {"stutter": 0.6, "blur": 0.05}, timeline=secs, bands=B).kinds == ["clean_but_distorted"]
    named = "The main problem is strong stutter."
    assert with_worst_moments(named, where) == f"{named} {where}"
    assert with_worst_moments(CLEAN_SENTENCE, None) == CLEAN_SENTENCE


def test_time_placed_mentions_are_checked_against_those_seconds():
    secs = _timeline()
    pooled = {"stutter": 0.12, "blur": 0.05}  # diluted over ten seconds: slight
    text = f"{CLEAN_SENTENCE} Worst moments: strong stutter at 4-6 s."
    assert check(text, 3.8, pooled, timeline=secs, bands=B).consistent
    assert check(f"{CLEAN_SENTENCE} Worst moments: severe stutter at 4-6 s.", 3.8, pooled, timeline=secs,
                 bands=B).kinds == ["wrong_severity_word"]
    assert check(f"{CLEAN_SENTENCE} Worst moments: strong stutter at 1-2 s.", 3.8, pooled, timeline=secs,
                 bands=B).kinds == ["named_but_absent"]
    assert check(f"{CLEAN_SENTENCE} Worst moments: strong stutter at 40-41 s.", 3.8, pooled, timeline=secs,
                 bands=B).kinds == ["named_but_absent"]
