"""User models: folders written by ``vqual train`` / ``vqual distill``, found by path or by name in the models home,
usable by the API and every command, and refused with one clear line when broken."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from mediagen import moving_pattern, write_image

import vqual
from vqual import registry
from vqual.cli import main
from vqual.encoders.features import encoder_config
from vqual.errors import ModelNotFoundError, WeightsError
from vqual.heads.linear import LinearHead
from vqual.models import user
from vqual.models.user import ModelCard, write_model_dir

DIM = 1536 + 59  # lite-small features: spatial + measures


pytestmark = pytest.mark.usefixtures("one_thread", "isolated_home")


def make_model(out, name="mine", bias=3.0, **card_kw):
    """A linear head on lite-small whose score is `bias` plus a small term of the first feature."""
    w = np.zeros((DIM, 1))
    w[0] = 0.01
    arrays = LinearHead(("score",), np.zeros(DIM), np.ones(DIM), w, np.array([bias])).to_arrays("score")
    card = ModelCard(name=name, version="2.1.0", encoder=encoder_config("lite-small"), head="linear",
                     weights_sha256="", trained_on=["somewhere"],
                     provenance=user.provenance("test", "pytest"), **card_kw)
    return write_model_dir(out, card, arrays)


@pytest.fixture
def image(tmp_path):
    return write_image(tmp_path / "a.png", moving_pattern(1, 64, 64)[0])


def test_load_by_path_and_provenance(tmp_path, image):
    d = make_model(tmp_path / "m")
    card = json.loads((d / "model.json").read_text())
    assert card["schema"] == user.SCHEMA and len(card["weights"]["sha256"]) == 64
    model = vqual.load_model(str(d))
    r = model.score(image)
    assert 2.9 < r.score < 3.1 and r.raw_score is not None
    assert (r.provenance.model, r.provenance.model_version) == ("mine", "2.1.0")
    assert r.provenance.weights_sha256 == card["weights"]["sha256"]
    assert model.trained_on == ("somewhere",)
    assert abs(sum(r.level_probs.values()) - 1.0) < 1e-9 and r.level == "fair"


def test_video_scored_per_second(tmp_path):
    from mediagen import write_video

    d = make_model(tmp_path / "m")
    video = write_video(tmp_path / "v.mp4", moving_pattern(25, 64, 64), fps=10)
    r = vqual.load_model(str(d)).score(video)
    assert r.kind == "video" and len(r.timeline) == 3 and r.provenance.model == "mine"
    assert r.attributes == {} and 2.9 < r.score < 3.1


def test_name_in_models_home_listed_and_scored(tmp_path, image, capsys):
    make_model(user.models_home() / "mine")
    assert registry.get_spec("mine").path == str((user.models_home() / "mine").resolve())
    assert "mine" in [s.name for s in vqual.list_models()]
    assert main(["models"]) == 0
    assert "mine" in capsys.readouterr().out
    assert main(["score", "--model", "mine", str(image), "-f", "json", "--no-progress"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "mine" and out["results"][0]["provenance"]["model_version"] == "2.1.0"


def test_builtin_names_cannot_be_shadowed(tmp_path, capsys):
    with pytest.raises(ValueError, match="built-in"):
        make_model(tmp_path / "x", name="niqe")
    d = make_model(user.models_home() / "niqe-like", name="niqe-like")  # a folder named like a built-in:
    shutil.move(d, user.models_home() / "niqe")
    card = json.loads((user.models_home() / "niqe" / "model.json").read_text())
    card["name"] = "niqe"
    (user.models_home() / "niqe" / "model.json").write_text(json.dumps(card))
    assert registry.get_spec("niqe").path is None  # the built-in wins
    assert [s.path for s in registry.list_models("niqe")] == [None]
    assert "skipped user model niqe" in capsys.readouterr().err


def test_tampered_weights_one_line_error(tmp_path, image, capsys):
    d = make_model(tmp_path / "m")
    (d / "weights.npz").write_bytes((d / "weights.npz").read_bytes() + b"x")
    with pytest.raises(WeightsError, match="does not match"):
        vqual.load_model(str(d))
    assert main(["score", "--model", str(d), str(image)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "weights.npz" in err and "sha256" in err


@pytest.mark.parametrize("damage, match", [
    (lambda d: (d / "model.json").unlink(), "not a vqual model folder"),
    (lambda d: (d / "model.json").write_text("{not json"), "unreadable model card"),
    (lambda d: (d / "model.json").write_text('{"schema": "vqual.model/1", "name": "m"}'), "malformed model card"),
    (lambda d: (d / "weights.npz").unlink(), "model file not found"),
])
def test_broken_folders(tmp_path, damage, match):
    d = make_model(tmp_path / "m")
    damage(d)
    with pytest.raises(WeightsError, match=match):
        vqual.load_model(str(d))


def test_missing_path_and_unknown_name(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such model folder"):
        registry.get_spec(str(tmp_path / "nothing"))
    with pytest.raises(ModelNotFoundError, match="unknown model"):
        registry.get_spec("not-a-model-anywhere")


def test_card_name_must_match_home_folder():
    d = make_model(user.models_home() / "a", name="a")
    shutil.move(d, user.models_home() / "b")
    with pytest.raises(WeightsError, match="names 'a' but its folder is 'b'"):
        registry.get_spec("b")


def test_atomic_write_keeps_old_model_on_failure(tmp_path, monkeypatch):
    d = make_model(tmp_path / "m", bias=2.0)
    before = (d / "model.json").read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(user.np, "savez", boom)
    card = ModelCard(name="mine", version="9", encoder=encoder_config("lite-small"), head="linear",
                     weights_sha256="")
    with pytest.raises(OSError, match="disk full"):
        write_model_dir(tmp_path / "m", card, {}, overwrite=True)
    assert (d / "model.json").read_text() == before  # the old model is untouched
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".m.")]  # no temporary left behind
    with pytest.raises(ValueError, match="already exists"):
        make_model(tmp_path / "m")


def test_calibrate_a_user_model(tmp_path, capsys):
    d = make_model(tmp_path / "m")
    rows = ["path,mos"]
    for i in range(12):
        write_image(tmp_path / f"{i}.png", moving_pattern(1, 48, 48, seed=i)[0] // (1 + i % 3))
        rows.append(f"{i}.png,{10 + 7 * i}")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    out = tmp_path / "cal.json"
    code = main(["calibrate", "--model", str(d), "--labels", str(labels), "--out", str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().err
    cal = json.loads(out.read_text())
    assert cal["model"]["name"] == "mine" and cal["model"]["weights_sha256"] == json.loads(
        (d / "model.json").read_text())["weights"]["sha256"]
    model = vqual.load_model(str(d), calibration=out)
    assert model.calibration is not None
