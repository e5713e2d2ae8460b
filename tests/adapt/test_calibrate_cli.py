"""``vqual calibrate`` end to end, and ``--calibration FILE`` on ``score``, ``demo`` and ``eval``."""

from __future__ import annotations

import csv
import io
import json

import pytest
from adaptfakes import SPEC, make_grey_set

from vqual import registry
from vqual.cli import main


@pytest.fixture(autouse=True)
def _setup(tmp_path, monkeypatch):
    monkeypatch.setenv("VQUAL_CACHE_DIR", str(tmp_path / "cache"))  # never the user's cache
    with registry.registered(SPEC):  # `fake-grey`, scored through the real driver
        yield


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def labels(tmp_path):
    return make_grey_set(tmp_path / "set", n=30)


@pytest.fixture
def cal_file(tmp_path, labels, capsys):
    out = tmp_path / "my-scale.json"
    code, stdout, err = run(capsys, "calibrate", "--model", "fake-grey", "--labels", labels, "--out", out)
    assert code == 0, err
    return out


def test_calibrate_end_to_end(tmp_path, labels, capsys):
    out = tmp_path / "cal" / "my-scale.json"
    code, stdout, err = run(capsys, "calibrate", "-m", "fake-grey", "--labels", labels, "--out", out)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert d["schema"] == "vqual.calibration/1" and d["id"].startswith("my-scale-")
    assert d["model"]["name"] == "fake-grey" and d["model"]["version"] == "1.0"
    assert d["scale"] == {"name": "my-scale", "min": 0.0, "max": 100.0, "higher_is_better": True}
    assert d["labels"] == {"file": "labels.csv", "n_labels": 30, "n_failed": 0, "n_skipped": 0,
                           "min": d["labels"]["min"], "max": d["labels"]["max"]}
    assert d["method"] == "logistic" and d["selected_by"] == "cross-validation"  # the labels follow a logistic
    assert d["cv"]["k"] == 5 and d["cv"]["methods"]["logistic"]["srcc"] > 0.9
    assert "<- chosen (cross-validation)" in stdout and f"wrote {out}" in stdout and d["id"] in stdout
    assert "0-100 inferred" in err

    # the second run reads every prediction from the cache and gives the same calibration
    code, _, _ = run(capsys, "calibrate", "-m", "fake-grey", "--labels", labels, "--out", tmp_path / "b.json",
                     "--name", "my-scale", "--method", "isotonic")
    assert code == 0 and json.loads((tmp_path / "b.json").read_text())["method"] == "isotonic"


def test_failed_files_are_skipped_and_counted(tmp_path, capsys):
    labels = make_grey_set(tmp_path / "s", n=14)
    (tmp_path / "s" / "img" / "003.png").write_bytes(b"garbage")
    (tmp_path / "s" / "img" / "004.png").unlink()
    code, _, err = run(capsys, "calibrate", "-m", "fake-grey", "--labels", labels, "--out", tmp_path / "c.json")
    assert code == 1  # written, but not every label was used
    d = json.loads((tmp_path / "c.json").read_text())
    assert d["labels"]["n_labels"] == 12 and d["labels"]["n_failed"] == 1 and d["labels"]["n_skipped"] == 1
    assert "failed: " in err and "003.png" in err and "skipped img/004.png" in err


def test_too_few_labels_is_a_usage_error(tmp_path, capsys):
    labels = make_grey_set(tmp_path / "s", n=6)
    code, _, err = run(capsys, "calibrate", "-m", "fake-grey", "--labels", labels, "--out", tmp_path / "c.json")
    assert code == 2 and "6 usable labels; a calibration needs at least 10" in err
    assert not (tmp_path / "c.json").exists()
    labels = make_grey_set(tmp_path / "t", n=11)
    for i in (1, 2):
        (tmp_path / "t" / "img" / f"00{i}.png").write_bytes(b"garbage")  # 9 left after scoring
    code, _, err = run(capsys, "calibrate", "-m", "fake-grey", "--labels", labels, "--out", tmp_path / "c.json")
    assert code == 2 and "at least 10 labelled files that the model scored, got 9" in err and "2 of 11" in err
    code, _, err = run(capsys, "calibrate", "--labels", tmp_path / "none.csv", "--out", tmp_path / "c.json")
    assert code == 2 and "none.csv does not exist" in err


def test_score_with_calibration_is_on_the_users_scale(tmp_path, cal_file, capsys):
    d = json.loads(cal_file.read_text())
    img = tmp_path / "set" / "img"
    code, out, err = run(capsys, "score", img / "000.png", img / "001.png", "--calibration", cal_file)
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("scores on my-scale (0-100, higher is better) by calibration " + d["id"])

    code, out, _ = run(capsys, "score", img, "--calibration", cal_file, "--format", "json")
    doc = json.loads(out)
    assert doc["calibration"]["id"] == d["id"] and doc["calibration"]["scale"]["max"] == 100.0
    plain = {r["path"]: r for r in json.loads(run(capsys, "score", img, "-m", "fake-grey", "-f", "json")[1])["results"]}
    for r in doc["results"]:
        assert r["schema"] == 3 and r["provenance"]["calibration_id"] == d["id"]
        assert r["scale"]["name"] == "my-scale" and 0 <= r["score"] <= 100
        assert r["uncalibrated_score"] == plain[r["path"]]["score"] and plain[r["path"]]["uncalibrated_score"] is None
    ranked = sorted(doc["results"], key=lambda r: r["uncalibrated_score"])
    assert [r["path"] for r in ranked] == [r["path"] for r in sorted(doc["results"], key=lambda r: r["score"])]

    code, out, _ = run(capsys, "score", img / "000.png", "-c", cal_file, "--format", "csv")
    row = next(csv.DictReader(io.StringIO(out)))
    assert row["calibration_id"] == d["id"] and row["uncalibrated_score"] != row["score"]


def test_out_of_range_image_is_flagged_in_the_output(tmp_path, cal_file, capsys):
    from PIL import Image

    Image.new("L", (32, 32), 250).save(tmp_path / "bright.png")  # brighter than every labelled image
    code, out, _ = run(capsys, "score", tmp_path / "bright.png", "-c", cal_file, "-f", "jsonl")
    r = json.loads(out)
    assert code == 0 and r["flags"] == ["clipped_to_calibrated_range"]
    code, out, _ = run(capsys, "score", tmp_path / "bright.png", "-c", cal_file)
    assert out.splitlines()[2].endswith(" *")


def test_calibration_for_another_model_is_refused(tmp_path, cal_file, capsys):
    code, _, err = run(capsys, "score", tmp_path / "set" / "img" / "000.png", "--model", "niqe", "-c", cal_file)
    assert code == 2
    assert err.startswith(f"vqual: error: {cal_file}: this calibration was made for fake-grey 1.0")
    assert "not niqe 1.0.0" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "score", tmp_path / "set" / "img" / "000.png", "-c", tmp_path / "missing.json")
    assert code == 2 and "missing.json: calibration file not found" in err


def test_lower_is_better_labels(tmp_path, capsys):
    labels = make_grey_set(tmp_path / "d", n=30, lower_better=True, name="dmos.csv")
    out = tmp_path / "dmos.json"
    code, _, err = run(capsys, "calibrate", "-m", "fake-grey", "--labels", labels, "--out", out, "--lower-better",
                       "--mos-range", 0, 100)
    assert code == 0 and "warning" not in err
    d = json.loads(out.read_text())
    assert d["scale"]["higher_is_better"] is False and d["warnings"] == []
    _, o, _ = run(capsys, "score", tmp_path / "d" / "img", "-c", out, "-f", "json")
    rs = sorted(json.loads(o)["results"], key=lambda r: r["uncalibrated_score"])
    assert rs[0]["score"] > rs[-1]["score"] and rs[0]["score_100"] < rs[-1]["score_100"]
    # the same labels declared higher-is-better: the direction warning
    code, _, err = run(capsys, "calibrate", "-m", "fake-grey", "--labels", labels, "--out", tmp_path / "w.json")
    assert code == 0 and "check the direction (--lower-better?)" in err


def test_eval_with_a_calibration_file(tmp_path, cal_file, capsys):
    held_out = make_grey_set(tmp_path / "held", n=25, seed=5)
    rep_path = tmp_path / "rep.json"
    code, out, err = run(capsys, "eval", "--manifest", held_out, "--calibration", cal_file, "--calibration", "model",
                         "--protocol", "kfold", "--json", rep_path, "--html", tmp_path / "rep.html", "--quiet")
    assert code == 0, err
    rep = json.loads(rep_path.read_text())
    cal_id = json.loads(cal_file.read_text())["id"]
    assert rep["model"]["calibration"]["id"] == cal_id and "--calibration" in rep["command"]
    assert [(r["protocol"], r["calibration"]) for r in rep["results"]] == [("kfold", "model")]
    for it in rep["items"]:
        assert 0 <= it["calibrated_score"] <= 100 and it["uncalibrated_score"] is not None
        assert it["score"] == pytest.approx(1 + 4 * it["calibrated_score"] / 100)
    assert rep["results"][0]["summary"]["rmse"]["mean"] < 0.5  # on 1-5: the calibration fits these labels
    assert cal_id in (tmp_path / "rep.html").read_text()

    # the cache holds the model's own predictions: an uncalibrated run reads them unchanged
    code, _, _ = run(capsys, "eval", "--manifest", held_out, "--model", "fake-grey",
                     "--protocol", "kfold", "--json", tmp_path / "plain.json", "--html", tmp_path / "p.html",
                     "--quiet")
    plain = json.loads((tmp_path / "plain.json").read_text())
    assert code == 0 and all(it["cached"] and it["calibrated_score"] is None for it in plain["items"])
    assert [it["score"] for it in plain["items"]] == [it["uncalibrated_score"] for it in rep["items"]]

    code, _, err = run(capsys, "eval", "--manifest", held_out, "--model", "niqe", "--calibration", cal_file,
                       "--no-report")
    assert code == 2 and "made for fake-grey 1.0" in err
    code, _, err = run(capsys, "eval", "--manifest", held_out, "--calibration", "model", "--calibration", "fitted")
    assert code == 2 and "give one mode" in err
