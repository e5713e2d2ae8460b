"""A result's `level` is the bin of its own score, whatever the model's level probabilities: a result never says
"excellent" beside a score of 3.5 (issue #21; vqual-lmm's level-word probabilities can peak away from their
expectation, and a logistic level head over unequal bins can too)."""

from __future__ import annotations

import numpy as np
import pytest
from mediagen import write_video

from vqual.heads.prediction import Prediction
from vqual.levels import LEVELS, level_of_score
from vqual.models.base import QualityModel

#: Probabilities that peak at the two ends while their expectation (3.0 + ...) sits in the middle.
SPLIT = {"excellent": 0.45, "good": 0.0, "fair": 0.1, "poor": 0.0, "bad": 0.45}


class SplitModel(QualityModel):
    """Scores by brightness; level probabilities always SPLIT (their argmax, "excellent", disagrees with most
    scores)."""

    name = "fake-split"
    version = "1.0"
    chunk_luma_size = None

    def predict_image(self, rgb: np.ndarray) -> Prediction:
        return Prediction(score=1.0 + 4.0 * float(rgb.mean()) / 255.0, level_probs=dict(SPLIT))

    def predict_chunk(self, chunk) -> Prediction:
        return self.predict_image(chunk.key_frame)

    def pool(self, seconds: list[Prediction]) -> Prediction:
        return Prediction(score=float(np.mean([p.score for p in seconds])), level_probs=dict(SPLIT))


@pytest.mark.parametrize("grey,level", [(64, "poor"), (128, "fair"), (170, "good"), (250, "excellent"), (0, "bad")])
def test_level_is_the_bin_of_the_score_not_the_most_probable_word(grey, level):
    r = SplitModel().score(np.full((48, 48, 3), grey, dtype=np.uint8))
    assert max(SPLIT, key=SPLIT.get) == "excellent"  # what the old rule (argmax of level_probs) said for every picture
    assert r.level == level == level_of_score(r.score)
    assert r.level_probs == SPLIT  # the model's own probabilities are kept as they are


def test_a_models_own_bounds_decide_its_levels():
    m = SplitModel()
    m.bounds = (1.5, 2.5, 3.9, 4.5)  # a user model's card may move the bounds
    assert m.score(np.full((48, 48, 3), 180, dtype=np.uint8)).level == "fair"  # 3.82: good by default
    assert m.level_of(3.95) == "good" and m.level_of(3.85) == "fair" and m.level_of(9.0) == "excellent"


def test_video_seconds_and_the_whole_video_follow_their_scores(tmp_path):
    frames = [np.full((48, 64, 3), g, dtype=np.uint8) for g in np.repeat([60, 120, 230], 8)]  # poor, fair, exc.
    path = write_video(tmp_path / "v.mp4", frames, fps=8)
    r = SplitModel().score(str(path))
    assert r.level == level_of_score(r.score) and r.level in LEVELS
    assert len(r.timeline) == 3 and all(m.level == level_of_score(m.score) for m in r.timeline)
    assert {m.level for m in r.timeline} == {"poor", "fair", "excellent"}
    assert all(m.level == level_of_score(m.score) for m in r.worst)
