"""Smoke runs of the benchmark scripts' core functions (benchmarks/video_ladder.py, benchmarks/attributes.py) on one
tiny clip / image, so that they cannot rot. Figures are not checked, only that every stage runs and reports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import attributes  # noqa: E402
import common  # noqa: E402
import video_ladder  # noqa: E402

from vqual.api import load_model  # noqa: E402
from vqual.weights import asset_path  # noqa: E402


@pytest.fixture(scope="module")
def niqe():
    return load_model("niqe")


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A 200x160 crop of the bundled sample photograph."""
    p = tmp_path_factory.mktemp("content") / "sample.png"
    Image.open(asset_path("samples/kodim23.jpg")).convert("RGB").crop((100, 100, 300, 260)).save(p)
    return p


class _Result:
    def __init__(self, score, attributes):
        self.score, self.attributes = score, attributes


class _AttrModel:
    """A stand-in model with image attributes (a Laplacian-energy 'blur' and 'noise', and an unmapped one)."""

    name, version = "fake", "0"

    def score(self, rgb):
        g = np.asarray(rgb, dtype=float).mean(axis=2)
        lap = float(np.abs(np.diff(g, 2, axis=0)).mean())
        return _Result(3.0 - lap / 100, {"blur": max(0.0, 1 - lap / 20), "noise": min(1.0, lap / 40), "odd": 0.01})


def test_video_ladder_core(niqe, photo, tmp_path):
    clip = video_ladder.photo_clip(photo, "pan", size=(96, 128), seconds=1.0, fps=10)
    zoom = video_ladder.photo_clip(photo, "zoom", size=(96, 128), seconds=0.3, fps=10)
    assert [f.shape for f in zoom.frames()] == [(96, 128, 3)] * 3
    scorer = video_ladder.Scorer(niqe)
    lad = video_ladder.run_ladder(scorer, clip, tmp_path, crfs=(18, 35, 51))
    assert [r["crf"] for r in lad["rungs"]] == [18, 35, 51]
    assert all(1.0 <= r["score"] <= 5.0 for r in lad["rungs"])
    tem = video_ladder.run_temporal(scorer, clip, tmp_path, names=("stutter", "drops", "shake"),
                                    levels=(("mid", 2),))
    assert [c["distortion"] for c in tem["cases"]] == ["stutter", "drops", "shake"]
    assert tem["mapping"]["stutter"] == "stutter"  # niqe measures stutter on videos
    assert tem["mapping"]["shake"] is None
    report = {"model": "niqe", "model_version": niqe.version, "date": "d", "cpus": 2, "command": "c",
              "vmaf": {"available": False, "reason": "test"}, "ladders": [lad], "temporal": [tem], "elapsed_s": 0.0}
    report["summary"] = video_ladder.summarise(report)
    md = video_ladder.markdown(report)
    assert "SRCC(score, -CRF)" in md and "stutter 4" in md
    json.dumps(report, allow_nan=False)


def test_vmaf_runs():
    pytest.importorskip("vmaf_torch")
    rng = np.random.default_rng(0)
    ref = rng.integers(0, 256, size=(4, 64, 64)).astype(np.uint8)
    ref = np.stack([np.roll(ref[0], i, axis=1) for i in range(4)])
    noisy = np.clip(ref + rng.normal(0, 25, ref.shape), 0, 255).astype(np.uint8)
    v = video_ladder.Vmaf(subsample=2)
    same, worse = v(ref, ref), v(ref, noisy)
    assert 0.0 <= worse < same <= 100.0


def test_attributes_core_without_attributes(niqe, photo):
    rows = attributes.run_attributes(niqe, [photo], distortions=("blur", "jpeg"), levels=(1, 5))
    assert len(rows) == 1 + 2 * 2
    a = attributes.analyse(rows)
    assert not a["has_attributes"]
    report = {"model": "niqe", "model_version": niqe.version, "date": "d", "cpus": 2, "command": "c",
              "content_dir": "x", "n_scored": len(rows), "elapsed_s": 0.0, "analysis": a,
              "summary": attributes.summarise(a)}
    assert "model has no attributes" in attributes.markdown(report)


def test_attributes_core_with_attributes(photo):
    rows = attributes.run_attributes(_AttrModel(), [photo], distortions=("blur", "noise", "colour"))
    a = attributes.analyse(rows, common.parse_mapping(["colour=hue"]))
    assert a["mapping"] == {"blur": "blur", "noise": "noise", "colour": None}
    assert a["unmapped_attributes"] == ["odd"]
    assert a["confusion"]["levels_3_5"]["n"] == 9
    assert a["per_content"]["blur"]["sample"]["srcc_attribute_level"] == pytest.approx(1.0)
    report = {"model": "fake", "model_version": "0", "date": "d", "cpus": 2, "command": "c", "content_dir": "x",
              "n_scored": len(rows), "elapsed_s": 0.0, "analysis": a, "summary": attributes.summarise(a)}
    md = attributes.markdown(report)
    assert "matching no distortion: odd" in md and "colour (no attribute)" in md
    json.dumps(report, allow_nan=False)


def test_attributes_main(photo, tmp_path, capsys):
    out = tmp_path / "a.json"
    assert attributes.main(["--model", "niqe", "--content", str(photo.parent), "--distortions", "noise",
                            "--json", str(out)]) == 0
    assert "model has no attributes" in capsys.readouterr().out
    assert json.loads(out.read_text())["n_scored"] == 6


def test_common_helpers():
    assert common.srcc([1, 2, 3], [3, 3, 3]) is None
    assert common.srcc([1, 2, 3], [1, 3, 9]) == pytest.approx(1.0)
    assert common.strongest({}) == "none" and common.strongest({"a": 0.0}) == "none"
    assert common.strongest({"a": 0.2, "b": 0.5}) == "b"
    assert common.resolve_mapping(["jpeg", "drops"], {"compression", "frame_drops"}) == {
        "jpeg": "compression", "drops": "frame_drops"}
