"""Golden results of the shipped vqual-lite 1.0.0: any change to these numbers means the shipped model changed.

Pinned 2026-12-05 from the code of commit 3da0ba8 (before vqual-lite 2 was added beside it). Tolerance 1e-5: float
rounding differences between CPUs, far below any real change of the model.
"""

import pytest
from mediagen import write_video

from vqual.data import synthetic as syn
from vqual.models.lite import VqualLite

SAMPLE = {"score": 4.050307010141124, "uncertainty": 0.11267919507577184,
          "attributes": {"blur": 0.010101, "noise": 0.015804, "compression": 0.072968, "underexposure": 0.019425,
                         "overexposure": 0.048909, "colour": 0.12269, "scaling": 0.033156}}
BLURRED_SCORE = 2.99463215326365  # blur level 3 of vqual.data.synthetic, seed 0
VIDEO = {"score": 3.793346712205164, "timeline": [4.022811, 3.793347],
         "attributes": {"blur": 0.303457, "colour": 0.076115, "compression": 0.129506, "flicker": 0.0,
                        "frame_drops": 0.0, "noise": 0.11704, "overexposure": 0.206192, "scaling": 0.0, "shake": 0.0,
                        "stutter": 0.0, "underexposure": 0.034079}}
TOL = 1e-5


@pytest.fixture(scope="module")
def model():
    return VqualLite()


def test_golden_image(model, sample):
    r = model.score(sample)
    assert r.score == pytest.approx(SAMPLE["score"], abs=TOL)
    assert r.uncertainty == pytest.approx(SAMPLE["uncertainty"], abs=TOL)
    assert r.attributes == pytest.approx(SAMPLE["attributes"], abs=TOL)
    blurred = syn.apply_image("blur", sample, syn.DISTORTIONS["blur"][1][2], seed=0)
    assert model.score(blurred).score == pytest.approx(BLURRED_SCORE, abs=TOL)


def test_golden_video(model, sample, tmp_path):
    path = write_video(tmp_path / "pan.mp4", syn.pan_frames(sample, 60, (192, 256), speed=3), fps=30, crf=20)
    r = model.score(str(path))
    assert r.score == pytest.approx(VIDEO["score"], abs=TOL)
    assert [t.score for t in r.timeline] == pytest.approx(VIDEO["timeline"], abs=TOL)
    assert r.attributes == pytest.approx(VIDEO["attributes"], abs=TOL)
