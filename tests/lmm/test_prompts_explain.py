"""Prompts, answer targets, explanation sentences and the contradiction check."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vqual.lmm import prompts as P
from vqual.lmm.explain import ANSWERS, CLEAN_SENTENCE, PHRASES, SeverityBands, check, compose, display, mentioned


def test_at_least_twenty_instruction_templates_with_image_and_video_wording():
    assert len(set(P.SCORE_INSTRUCTIONS)) >= 20
    for t in P.SCORE_INSTRUCTIONS + P.EXPLAIN_INSTRUCTIONS:
        assert "{media}" in t and "<image>" not in t
    assert "video" in P.instruction("score", "video", index=0) and "image" in P.instruction("score", "image", index=0)
    assert P.instruction("score", "image").endswith(P.SCORE_RESTRICTION)
    rng1, rng2 = random.Random(5), random.Random(5)
    assert [P.instruction("score", "image", rng1) for _ in range(10)] == \
           [P.instruction("score", "image", rng2) for _ in range(10)]


@pytest.mark.parametrize("score", [1.0, 1.3, 2.0, 2.75, 3.5, 4.99, 5.0])
def test_soft_levels_expectation_is_the_score(score):
    p = P.soft_levels(score)
    assert abs(sum(p) - 1) < 1e-12 and min(p) >= 0
    assert abs(np.dot(p, [5, 4, 3, 2, 1]) - score) < 1e-9
    assert sum(v > 0 for v in p) <= 2


def test_coarse_levels_by_tertiles():
    assert P.coarse_levels(4.0, (2.5, 3.5)) == [1.0, 0.0, 0.0]
    assert P.coarse_levels(3.0, (2.5, 3.5)) == [0.0, 1.0, 0.0]
    assert P.coarse_levels(2.0, (2.5, 3.5)) == [0.0, 0.0, 1.0]
    assert P.answer_text("coarse", "video", [0, 0, 1]) == "The quality of this video is poor."
    assert P.answer_text("score", "image", P.soft_levels(4.2)) == "The quality of this image is good."


def test_compose_names_the_strongest_attributes_and_reads_back():
    text = compose({"blur": 0.9, "noise": 0.5, "colour": 0.1})
    assert text == "The main problem is severe blur, along with noticeable noise."
    assert mentioned(text) == ["blur", "noise"]
    assert compose({"blur": 0.2}) == CLEAN_SENTENCE
    for name in PHRASES:  # every attribute's own phrase is read back as that attribute
        assert name in mentioned(compose({name: 0.7})), name


def test_the_constrained_answer_sets_hold_every_composed_sentence_once():
    video, image = ANSWERS["video"], ANSWERS["image"]
    assert len(video) == len(set(video)) == 1 + 33 + 33 * 30  # 11 attributes x 3 severity words
    assert len(image) == len(set(image)) == 1 + 21 + 21 * 18  # 7 image attributes
    rng = np.random.default_rng(0)
    names = list(PHRASES)
    temporal = ("stutter", "frame_drops", "shake", "flicker")
    for _ in range(300):
        attrs = {n: float(v) for n, v in zip(names, rng.uniform(0, 1, len(names)) ** 3)}
        assert compose(attrs) in video
        assert compose({k: v for k, v in attrs.items() if k not in temporal}) in image
    for text in video[1:]:  # each names one or two different attributes, read back as such
        assert len(mentioned(text)) == text.count(" along with ") + 1, text
    assert not any(set(mentioned(t)) & set(temporal) for t in image)  # a still picture has no stutter


def test_display_puts_the_article_before_the_severity_and_keeps_the_meaning():
    assert display("The main problem is noticeable a colour cast.") == "The main problem is a noticeable colour cast."
    assert (display("The main problem is severe blur, along with strong a colour cast.")
            == "The main problem is severe blur, along with a strong colour cast.")
    for media, answers in ANSWERS.items():
        for sentence in answers:
            shown = display(sentence)
            assert not any(f"{w} a " in shown or f"{w} an " in shown for w in ("noticeable", "strong", "severe"))
            assert mentioned(shown) == mentioned(sentence), (media, sentence)
            assert sorted(shown.split()) == sorted(sentence.split())  # word order only
    assert display(CLEAN_SENTENCE) == CLEAN_SENTENCE


def test_table_shows_the_explanation_and_any_contradiction():
    import io

    from vqual.output import TableWriter
    from vqual.result import Provenance, QualityResult

    def result(consistent: bool) -> QualityResult:
        bands = SeverityBands({"blur": (0.1, 0.3, 0.5, 0.9), "noise": (0.1, 0.3, 0.5, 0.9)})
        c = check("The main problem is strong noise." if not consistent else "The main problem is strong blur.",
                  2.0, {"blur": 0.8, "noise": 0.0}, bands=bands)
        return QualityResult(path="a.png", kind="image", score=2.0, score_100=25.0, level="poor",
                             level_probs={"excellent": 0, "good": 0, "fair": 0, "poor": 1, "bad": 0}, uncertainty=0.1,
                             attributes={"blur": 0.8}, provenance=Provenance("m", "1", None),
                             explanation="x", explanation_check=c.as_dict())

    buf = io.StringIO()
    w = TableWriter(buf, timeline=False)
    w.write(result(True))
    w.write(result(False))
    lines = buf.getvalue().splitlines()
    assert lines[2] == "  x" and lines[4].startswith("  x  [contradicts the result: named_but_absent: names noise")
