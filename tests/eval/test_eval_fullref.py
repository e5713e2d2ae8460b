"""`vqual eval --metric NAME`: a full-reference metric judged against labels like a model, on a tiny generated
manifest of references and their distorted versions (reference_path column)."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage, stats

from vqual.cli import eval as cli
from vqual.compare import compare
from vqual.data import load_manifest


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="vqual")
    sub = parser.add_subparsers(dest="command")
    cli.add_eval_parser(sub)
    args = parser.parse_args(["eval", *argv])
    return cli.run_eval(args)


def _picture(seed: int, shape=(48, 64)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.uniform(0, 255, (*shape, 3)), (2, 2, 0)) * 4 - 384
    return np.clip(a, 0, 255).astype(np.uint8)


@pytest.fixture
def encodes(tmp_path):
    """3 references x 4 noise levels; the label falls with the noise (with a content offset), so the metrics rank
    them well but not perfectly across contents."""
    rng = np.random.default_rng(0)
    (tmp_path / "ref").mkdir()
    (tmp_path / "dist").mkdir()
    rows = []
    for c in range(3):
        ref = _picture(c)
        Image.fromarray(ref).save(tmp_path / "ref" / f"src{c}.png")
        for k, sigma in enumerate((3, 8, 16, 30)):
            d = np.clip(ref + rng.normal(0, sigma, ref.shape), 0, 255).astype(np.uint8)
            name = f"dist/c{c}_n{sigma}.png"
            Image.fromarray(d).save(tmp_path / name)
            rows.append({"path": name, "mos": 90 - 20 * k + 4 * c, "reference_path": f"ref/src{c}.png"})
    m = tmp_path / "encodes.csv"
    with open(m, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "mos", "reference_path"])
        w.writeheader()
        w.writerows(rows)
    return m, rows


def _write(path, rows, fields):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


def test_manifest_reference_column_paths_and_content_groups(encodes, tmp_path):
    m, rows = encodes
    ds = load_manifest(m, mos_range=(0, 100))
    assert [it.extra["reference"] for it in ds.items] == [str((tmp_path / r["reference_path"]).resolve())
                                                           for r in rows]
    assert len({it.content_id for it in ds.items}) == 3  # items of one source are one content
    # a column named `reference` stays a content group unless named as the reference column
    alt = _write(tmp_path / "alt.csv", [{"path": r["path"], "mos": r["mos"], "reference": r["reference_path"]}
                                        for r in rows], ["path", "mos", "reference"])
    ds2 = load_manifest(alt, mos_range=(0, 100))
    assert "reference" not in ds2.items[0].extra and ds2.items[0].content_id == "ref/src0.png"
    ds3 = load_manifest(alt, mos_range=(0, 100), reference_column="reference")
    assert ds3.items[0].extra["reference"] == ds.items[0].extra["reference"]


def test_eval_metric_reports_the_metric_like_a_model(encodes, tmp_path, capsys):
    m, rows = encodes
    out = tmp_path / "rep.json"
    assert run(["--manifest", str(m), "--mos-range", "0", "100", "--metric", "ssim", "--json", str(out),
                "--html", str(tmp_path / "rep.html"), "--bootstrap", "50"]) == 0
    text = capsys.readouterr().out
    assert "scored by fr:ssim" in text and "SRCC" in text
    rep = json.loads(out.read_text())
    assert rep["model"]["name"] == "fr:ssim" and rep["model"]["full_reference"]["metric"] == "ssim"
    ssim = [compare(tmp_path / r["reference_path"], tmp_path / r["path"], metrics="ssim",
                    no_reference=False).metrics["ssim"].value for r in rows]
    assert [it["raw_score"] for it in rep["items"]] == pytest.approx(ssim)
    whole = rep["results"][0]
    assert whole["protocol"] == "whole"
    srcc = stats.spearmanr(ssim, [r["mos"] for r in rows]).statistic
    assert whole["summary"]["srcc"]["mean"] == pytest.approx(srcc) and 0.5 < srcc < 1.0
    assert "rmse" not in whole["summary"] and "acc3" not in whole["summary"] and "plcc_l4" in whole["summary"]
    assert "rmse" not in whole["ci"]["intervals"] and any("RMSE and level accuracy" in n for n in whole["notes"])


def test_eval_metric_lower_is_better_is_negated_and_fitted_rows_keep_rmse(encodes, tmp_path, monkeypatch):
    from vqual.compare import classic
    from vqual.compare.metrics import METRICS, MetricSpec

    # a lower-is-better metric without weights to fetch: the MSE on Y, registered for this test
    mse = MetricSpec("mse_test", "1", "y", False, (0.0, None), "", "mean", "test", lambda a, b, L: classic.mse(a, b))
    monkeypatch.setitem(METRICS, "mse_test", mse)
    m, rows = encodes
    out = tmp_path / "rep.json"
    assert run(["--manifest", str(m), "--mos-range", "0", "100", "--metric", "mse_test", "--protocol", "kfold",
                "--folds", "3", "--json", str(out), "--no-report"]) == 0
    assert not out.exists()  # --no-report
    assert run(["--manifest", str(m), "--mos-range", "0", "100", "--metric", "mse_test", "--protocol", "kfold",
                "--folds", "3", "--json", str(out), "--html", str(tmp_path / "r.html")]) == 0
    rep = json.loads(out.read_text())
    assert all(it["score"] == -it["raw_score"] for it in rep["items"])
    by = {r["calibration"]: r for r in rep["results"]}
    assert "rmse" not in by["model"]["summary"] and "rmse" in by["fitted"]["summary"]
    assert by["fitted"]["summary"]["srcc"]["mean"] > 0.5


def test_eval_metric_failures_are_items_with_reasons(encodes, tmp_path):
    m, rows = encodes
    rows = [dict(r) for r in rows]
    rows[0]["reference_path"] = "ref/missing.png"
    rows[1]["reference_path"] = ""
    Image.fromarray(_picture(9, (40, 64))).save(tmp_path / "ref" / "small.png")
    rows[2]["reference_path"] = "ref/small.png"
    rows[3]["reference_path"] = rows[3]["path"]  # itself: PSNR infinite
    bad = _write(tmp_path / "bad.csv", rows, ["path", "mos", "reference_path"])
    out = tmp_path / "rep.json"
    assert run(["--manifest", str(bad), "--mos-range", "0", "100", "--metric", "psnr", "--json", str(out),
                "--html", str(tmp_path / "r.html")]) == 1
    rep = json.loads(out.read_text())
    fails = {f["name"]: f for f in rep["failures"]}
    assert fails[rows[0]["path"]]["reason"] == "bad_reference" and "missing.png" in fails[rows[0]["path"]]["detail"]
    assert fails[rows[1]["path"]]["reason"] == "no_reference"
    assert fails[rows[2]["path"]]["reason"] == "misaligned" and "64x48" in fails[rows[2]["path"]]["detail"]
    assert fails[rows[3]["path"]]["reason"] == "infinite"
    assert rep["dataset"]["n_scored"] == len(rows) - 4


@pytest.mark.parametrize(("argv", "message"), [
    (["--metric", "ssim", "--model", "vqual-lite"], "--model or --metric, not both"),
    (["--metric", "nosuch"], "unknown metric nosuch"),
    (["--metric", "ssim", "--reference", "nosuch"], "has no column 'nosuch'"),
    (["--metric", "ssim", "--calibration", "my.json"], "a calibration belongs to a model"),
])
def test_eval_metric_usage_errors(encodes, argv, message, capsys):
    m, _ = encodes
    assert run(["--manifest", str(m), "--mos-range", "0", "100", "--no-report", *argv]) == 2
    assert message in capsys.readouterr().err


def test_eval_metric_needs_references(tmp_path, capsys):
    Image.fromarray(_picture(0)).save(tmp_path / "a.png")
    Image.fromarray(_picture(1)).save(tmp_path / "b.png")
    Image.fromarray(_picture(2)).save(tmp_path / "c.png")
    m = _write(tmp_path / "m.csv", [{"path": f"{n}.png", "mos": v} for n, v in zip("abc", (1, 2, 3))],
               ["path", "mos"])
    assert run(["--manifest", str(m), "--metric", "psnr", "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "gives no reference for any item" in err and "reference_path" in err and err.count("\n") == 1
