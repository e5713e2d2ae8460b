"""The levels, their bounds and words are written once (`vqual.levels`) and agree with every user of them."""

import numpy as np

from vqual.heads.levels import level_probs
from vqual.levels import LEVEL_BOUNDS, LEVEL_CENTRES, LEVELS, LEVELS_ASCENDING, level_index, level_of_score


def test_bounds_are_the_midpoints_of_the_centres():
    centres = [LEVEL_CENTRES[n] for n in LEVELS_ASCENDING]
    assert list(LEVEL_BOUNDS) == [(a + b) / 2 for a, b in zip(centres, centres[1:])]
    assert LEVELS_ASCENDING == tuple(reversed(LEVELS))


def test_level_of_score_bins():
    assert [level_of_score(s) for s in (1.0, 1.49, 1.5, 2.4, 3.5, 4.49, 4.5, 5.0)] == [
        "bad", "bad", "poor", "poor", "good", "good", "excellent", "excellent"]
    assert list(level_index(np.array([0.0, 2.5, 9.0]))) == [0, 2, 4]


def test_level_head_is_centred_on_the_score():
    for s in (1.0, 2.0, 3.0, 4.0, 5.0):
        p = level_probs(s, LEVEL_BOUNDS, 0.1)
        assert max(p, key=p.get) == level_of_score(s) and abs(sum(p.values()) - 1) < 1e-12


def test_users_import_the_same_objects():
    from vqual.eval import metrics
    from vqual.lmm import explain, prompts

    assert prompts.LEVEL_WORDS == LEVELS and metrics.LEVELS5 == LEVELS_ASCENDING
    assert metrics.THRESHOLDS5 == LEVEL_BOUNDS
    # explanations read a score on a bound as the level below it (4.5 is good), as they always have
    assert [explain.level_of_score(s) for s in (4.5, 4.51, 1.5, 1.0, 5.0)] == ["good", "excellent", "bad", "bad",
                                                                              "excellent"]
