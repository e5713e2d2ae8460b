from __future__ import annotations

import argparse
import json
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from evalfakes import BrightnessModel, make_image_set
from PIL import Image

from vqual.cli import eval as cli
from vqual.eval import report_html as page
from vqual.eval import runner
from vqual.output import write_atomic


@pytest.fixture
def model(monkeypatch):
    m = BrightnessModel()
    monkeypatch.setattr(runner, "load_model", lambda name=None: m)
    return m


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vqual")
    sub = parser.add_subparsers(dest="command")
    cli.add_eval_parser(sub)
    args = parser.parse_args(["eval", *argv])
    assert args.func is cli.run_eval
    return cli.run_eval(args)


def test_manifest_kfold_and_fewlabel_end_to_end(tmp_path, image_set, model, capsys):
    out = tmp_path / "out"
    code = run(["--manifest", str(image_set), "--mos-range", "0", "100", "--protocol", "kfold", "--protocol",
                "fewlabel", "--sizes", "5,10,30", "--repeats", "3", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "kfold (k=5)" in text and "fewlabel N=10" in text and "SRCC" in text
    rep = json.loads((out / "labels_fake-brightness.json").read_text())
    assert rep["schema"] == "vqual.eval/1" and rep["model"]["name"] == "fake-brightness"
    assert len(rep["items"]) == 40 and all(it["score"] is not None for it in rep["items"])
    labels = [(r["protocol"], r["calibration"]) for r in rep["results"]]
    assert labels == [("kfold", "model"), ("kfold", "fitted"), ("fewlabel", "model"), ("fewlabel", "fitted")]
    kf = rep["results"][1]
    assert kf["summary"]["srcc"]["mean"] > 0.8 and len(kf["predictions"]) == 40
    assert kf["folds"][0]["calibrator"]["method"] in ("logistic4", "linear")
    few = rep["results"][3]
    assert [p["n_labels"] for p in few["curve"]] == [5, 10]  # 30 leaves < 20 test items
    assert rep["command"].startswith("vqual eval --manifest")
    html = (out / "labels_fake-brightness.html").read_text()
    assert html.count("<svg") >= 5 and "Few-label curve" in html and "4-parameter logistic fit" in html
    for svg in html.split("<svg")[1:]:
        ET.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")  # well-formed

    # another protocol reuses the cached predictions
    fresh = BrightnessModel()
    cli_model = fresh
    code = cli.run_eval(_args(["--manifest", str(image_set), "--protocol", "kfold", "--calibration", "fitted",
                               "--no-report", "--quiet"]), model=cli_model)
    assert code == 0 and fresh.calls == 0


def _args(argv):
    parser = argparse.ArgumentParser(prog="vqual")
    sub = parser.add_subparsers(dest="command")
    cli.add_eval_parser(sub)
    return parser.parse_args(["eval", *argv])


def test_failed_and_missing_items_give_exit_1(tmp_path, model, capsys):
    labels = make_image_set(tmp_path / "s", n=30)
    (tmp_path / "s" / "img" / "003.png").write_bytes(b"garbage")
    (tmp_path / "s" / "img" / "004.png").unlink()
    code = run(["--manifest", str(labels), "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html"),
                "--folds", "3"])
    assert code == 1
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["dataset"]["n_skipped"] == 1 and rep["dataset"]["skipped"][0]["name"] == "img/004.png"
    assert [(f["name"], f["reason"]) for f in rep["failures"]] == [("img/003.png", "corrupt")]
    item = next(it for it in rep["items"] if it["name"] == "img/003.png")
    assert item["status"] == "failed" and item["score"] is None
    assert all(p["id"] != item["index"] for r in rep["results"] for p in r["predictions"])
    assert "skipped img/004.png" in capsys.readouterr().err
    assert "Failed items (1)" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("argv, msg", [
    ([], "exactly one of --dataset or --manifest"),
    (["--dataset", "clive"], "needs --root"),
    (["--dataset", "nosuch", "--root", "."], "unknown dataset"),
    (["--dataset", "clive", "--root", "/nonexistent-dir"], "does not exist"),
    (["--sizes", "a,b", "--manifest", "x.csv"], "--sizes expects"),
    (["--option", "novalue", "--dataset", "clive", "--root", "."], "KEY=VALUE"),
])
def test_usage_errors_exit_2(argv, msg, model, capsys):
    assert run(argv) == 2
    assert msg in capsys.readouterr().err


def test_split_protocol_without_split_is_a_usage_error(image_set, model, capsys):
    assert run(["--manifest", str(image_set), "--protocol", "split", "--no-report"]) == 2
    assert "has no 'test' split" in capsys.readouterr().err
    assert model.calls == 0  # checked before scoring anything


def test_cross_protocol_between_manifests(tmp_path, model):
    a = make_image_set(tmp_path / "a", n=30, seed=1)
    b = make_image_set(tmp_path / "b", n=25, seed=2)
    assert run(["--manifest", str(b), "--protocol", "cross", "--train-manifest", str(a), "--no-report",
                "--quiet"]) == 0
    assert run(["--manifest", str(b), "--protocol", "cross", "--no-report"]) == 2


def test_builtin_clive_fewlabel_name(tmp_path, model, capsys):
    root = tmp_path / "clive-fewlabel"
    make_image_set(root, n=30)
    (root / "labels.csv").write_text((root / "labels.csv").read_text().replace("path,mos", "image,mos"))
    assert run(["--dataset", "clive-fewlabel", "--root", str(root), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "clive-fewlabel_fake-brightness.html").is_file()


def test_list_datasets(capsys):
    assert run(["--list-datasets"]) == 0
    out = capsys.readouterr().out
    assert "koniq-10k" in out and "lower better" in out


def test_keyboard_interrupt_exit_130(tmp_path, image_set, monkeypatch, capsys):
    m = BrightnessModel(interrupt_after=5)
    assert cli.run_eval(_args(["--manifest", str(image_set), "--no-report"]), model=m) == 130
    assert "cache holds 5 predictions" in capsys.readouterr().err


def test_svg_helpers_and_ticks():
    assert page.nice_ticks(1, 5) == [1, 2, 3, 4, 5]
    assert page.nice_ticks(0, 0.83) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8])
    for svg in (page.svg_scatter([1, 2, 3], [1.5, 2.5, 4.0], title="t<&>", xlabel="x", curve=lambda x: x),
                page.svg_curve([{"label": "a", "x": [10, 20], "mean": [0.5, 0.7], "std": [0.1, None]}], title="c"),
                page.svg_confusion([[1, 2], [0, 3]], ["lo", "hi"], title="m")):
        ET.fromstring(svg)
    assert page.svg_scatter([], [], title="", xlabel="") == ""


def test_training_data_is_flagged_not_reported_as_a_test(tmp_path, model, capsys):
    root = tmp_path / "clive-fewlabel"
    make_image_set(root, n=30)
    (root / "labels.csv").write_text((root / "labels.csv").read_text().replace("path,mos", "image,mos"))
    model.trained_on = ("clive-fewlabel",)
    assert run(["--dataset", "clive-fewlabel", "--root", str(root), "--out", str(tmp_path / "o")]) == 0
    assert "WARNING: fake-brightness was trained on clive-fewlabel" in capsys.readouterr().out
    rep = json.loads((tmp_path / "o" / "clive-fewlabel_fake-brightness.json").read_text())
    assert rep["in_sample"] is True and "not a test" in rep["warning"]


def test_reports_get_the_mode_of_a_normal_file(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "r.json", "{}\n")
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644


# --- issue 14: the whole set by default ----------------------------------------------------------------------------

def _printed(text: str, label: str) -> tuple[float, float, float]:
    """Value and interval of `label` in the printed whole-set block, e.g. ``  SRCC  0.9123  [0.8712, 0.9431]``."""
    import re

    m = re.search(rf"^  {re.escape(label)}\s+(-?\d\.\d{{4}})\s+\[(-?\d\.\d{{4}}), (-?\d\.\d{{4}})\]", text, re.M)
    assert m, text
    return float(m[1]), float(m[2]), float(m[3])


def test_whole_set_is_the_default_and_its_srcc_is_scipys(tmp_path, image_set, model, capsys):
    import csv

    from scipy import stats

    code = run(["--manifest", str(image_set), "--mos-range", "0", "100", "--bootstrap", "200",
                "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html")])
    out = capsys.readouterr().out
    assert code == 0
    # the same items scored independently of vqual eval, the labels read with the csv module
    rows = list(csv.DictReader(open(image_set)))
    scores = [BrightnessModel().score(image_set.parent / r["path"]).score for r in rows]
    want = stats.spearmanr(scores, [float(r["mos"]) for r in rows]).statistic
    srcc, lo, hi = _printed(out, "SRCC")
    assert srcc == round(want, 4) and lo < srcc < hi
    assert f"on all {len(rows)} scored items" in out and "200 resamples of items" in out
    plcc_l4, _, _ = _printed(out, "PLCC-l4")
    rep = json.loads((tmp_path / "r.json").read_text())
    assert [(r["protocol"], r["calibration"]) for r in rep["results"]] == [("whole", "model")]
    whole = rep["results"][0]
    assert whole["summary"]["srcc"]["mean"] == want  # exactly scipy's, not a fold mean
    assert whole["summary"]["plcc_l4"]["mean"] == pytest.approx(plcc_l4, abs=5e-5)
    assert whole["ci"]["intervals"]["krcc"]["low"] < whole["summary"]["krcc"]["mean"]
    assert "--protocol whole --calibration both --seed 0 --bootstrap 200" in rep["command"]
    assert "Whole set (nothing fitted)" in (tmp_path / "r.html").read_text()


def test_training_makes_kfold_the_default_and_whole_refuses_fitting(tmp_path, image_set, model, capsys):
    assert run(["--manifest", str(image_set), "--calibration", "fitted", "--json", str(tmp_path / "r.json"),
                "--html", str(tmp_path / "r.html"), "--quiet"]) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert [(r["protocol"], r["calibration"]) for r in rep["results"]] == [("kfold", "fitted")]
    assert run(["--manifest", str(image_set), "--protocol", "whole", "--calibration", "fitted", "--no-report"]) == 2
    assert "fits nothing" in capsys.readouterr().err
    assert run(["--manifest", str(image_set), "--protocol", "all", "--sizes", "10", "--repeats", "2",
                "--bootstrap", "20", "--no-report", "--quiet"]) == 0


def test_whole_set_works_where_kfold_cannot(tmp_path, model, capsys):
    labels = make_image_set(tmp_path / "s", n=8, groups=3)  # 3 contents: too few for 5 folds
    assert run(["--manifest", str(labels), "--bootstrap", "50", "--no-report"]) == 0
    out = capsys.readouterr().out
    assert "whole set" in out and "resamples of contents" in out


def test_whole_set_with_the_real_model_agrees_with_scipy(tmp_path, capsys, one_thread):
    """vqual-lite itself: the printed SRCC is scipy's on the model's own scores of the same files."""
    from scipy import stats

    import vqual
    from vqual.data import synthetic as syn

    rng = np.random.default_rng(0)
    base = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    rows = ["path,mos"]
    (tmp_path / "img").mkdir()
    for i in range(10):
        img = syn.gaussian_blur(base, 0.5 * (1 + i % 5)) if i % 2 else syn.gaussian_noise(base, 6.0 * (1 + i % 5))
        Image.fromarray(img).save(tmp_path / "img" / f"{i}.png")
        rows.append(f"img/{i}.png,{5 - (i % 5) * 0.8 + rng.normal(0, 0.3):.3f}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    code = cli.run_eval(_args(["--manifest", str(tmp_path / "labels.csv"), "--mos-range", "1", "5", "--bootstrap",
                               "100", "--no-report", "--no-cache"]))
    out = capsys.readouterr().out
    assert code == 0
    model = vqual.load_model()
    scores = [model.score(str(tmp_path / "img" / f"{i}.png")).score for i in range(10)]
    mos = [float(r.split(",")[1]) for r in rows[1:]]
    assert _printed(out, "SRCC")[0] == round(stats.spearmanr(scores, mos).statistic, 4)
