"""User model folders written before the one head format (card schema ``vqual.model/1``, bare head arrays) still
load and score exactly as they did. The two folders in legacy_user/ were written by `write_model_dir` of the code
before the change (a linear and an mlp head on lite-small, random float32 arrays, seed 15); the expected values
were computed by that code on the bundled sample photograph, whose spatial encoder was the PyTorch one, on one host: the
torch engine and the ONNX Runtime engine that scoring uses must give them within `TOL` on any host (the same host: torch
exactly, ONNX ~5e-7; a host with other vector units (AVX-512) computes PyTorch's float32 convolutions in another order:
6e-6), and an old folder rewritten in the one format must score exactly as the old folder on the same host."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import vqual
from vqual.errors import WeightsError
from vqual.heads.store import load_heads
from vqual.models.user import SCHEMA, ModelCard, UserModel, read_card, write_model_dir

HERE = Path(__file__).parent / "legacy_user"

EXPECTED = {
    "legacy-linear": {"score": 2.886619334361759, "level_probs": {
        "bad": 0.030279166261717002, "poor": 0.24528986014353688, "fair": 0.5469417462714354,
        "good": 0.16008443518364568, "excellent": 0.01740479213966495}},
    "legacy-mlp": {"score": 2.652854384065223, "level_probs": {
        "bad": 0.053043744409305565, "poor": 0.3525680885082615, "fair": 0.48701554980710315,
        "good": 0.09759529350499807, "excellent": 0.009777323770331692}},
}

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_home")
TOL = 5e-5  # across hosts (float32 arithmetic order); 1-5 score units


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_old_folder_scores_as_before(name, sample):
    assert read_card(HERE / name).schema == "vqual.model/1"
    p = UserModel(HERE / name, engine="torch").predict_image(sample)
    assert p.score == pytest.approx(EXPECTED[name]["score"], abs=TOL) and p.raw == p.score
    assert p.level_probs == pytest.approx(EXPECTED[name]["level_probs"], abs=TOL)
    model = vqual.load_model(str(HERE / name))
    assert model.decoder_version == "vqual.model/1"
    p = model.predict_image(sample)
    assert p.score == pytest.approx(EXPECTED[name]["score"], abs=TOL)
    assert p.level_probs == pytest.approx(EXPECTED[name]["level_probs"], abs=TOL)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_old_folder_rewritten_in_the_one_format_scores_the_same(name, sample, tmp_path):
    old = UserModel(HERE / name)
    card = ModelCard.from_dict({**json.loads((HERE / name / "model.json").read_text()), "schema": SCHEMA}, "test")
    new_dir = write_model_dir(tmp_path / name, card, old.head.to_arrays("score", dtype=None))
    heads, rest = load_heads(new_dir / "weights.npz", ("score",))
    assert not rest and type(heads["score"]) is type(old.head)
    new = UserModel(new_dir, engine="torch")
    assert new.decoder_version == SCHEMA
    p, q = new.predict_image(sample), UserModel(HERE / name, engine="torch").predict_image(sample)
    assert p.score == q.score and p.level_probs == q.level_probs  # the same bits as the old folder on this host
    assert p.score == pytest.approx(EXPECTED[name]["score"], abs=TOL)


def test_card_head_type_must_match_the_file(tmp_path):
    old = UserModel(HERE / "legacy-mlp")
    d = json.loads((HERE / "legacy-linear" / "model.json").read_text())
    card = ModelCard.from_dict({**d, "schema": SCHEMA, "name": "mismatch"}, "test")  # says linear
    out = write_model_dir(tmp_path / "m", card, old.head.to_arrays("score", dtype=None))  # holds an mlp
    with pytest.raises(WeightsError, match="mlp head"):
        UserModel(out)
    assert np.isfinite(old.head.w1).all()
