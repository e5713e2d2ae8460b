"""`vqual instruct`: Q&A records from a labelled manifest, reproducible by seed."""

from __future__ import annotations

import json

import pytest

from vqual.cli import main
from vqual.lmm.prompts import LEVEL_WORDS, SYSTEM_PROMPT


@pytest.fixture()
def manifest(tmp_path):
    rows = ["path,mos"] + [f"img{i}.png,{v}" for i, v in enumerate([10, 30, 45, 60, 80, 95])]
    for i in range(6):
        (tmp_path / f"img{i}.png").write_bytes(b"")  # the loader only needs the files to exist
    p = tmp_path / "labels.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def run(*args) -> int:
    return main(["instruct", *map(str, args)])


def test_records_two_tasks_per_item_reproducible(manifest, tmp_path):
    out1, out2, out3 = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    assert run("--manifest", manifest, "--mos-range", 0, 100, "--out", out1, "--seed", 1) == 0
    assert run("--manifest", manifest, "--mos-range", 0, 100, "--out", out2, "--seed", 1) == 0
    assert run("--manifest", manifest, "--mos-range", 0, 100, "--out", out3, "--seed", 2) == 0
    assert out1.read_text() == out2.read_text() != out3.read_text()
    recs = [json.loads(line) for line in out1.read_text().splitlines()]
    assert len(recs) == 12 and {r["task"] for r in recs} == {"score", "coarse"}
    for r in recs:
        assert r["system"] == SYSTEM_PROMPT and r["conversations"][0]["value"].startswith("<image>\n")
        if r["task"] == "score":
            word = r["conversations"][1]["value"].rsplit(" ", 1)[1].rstrip(".")
            assert word in LEVEL_WORDS and abs(sum(r["target"]) - 1) < 1e-5
            assert abs(sum(p * w for p, w in zip(r["target"], [5, 4, 3, 2, 1])) - r["mos"]) < 1e-3
    coarse = [r["conversations"][1]["value"].split()[-1] for r in recs if r["task"] == "coarse"]
    assert coarse.count("good.") == coarse.count("fair.") == coarse.count("poor.") == 2  # tertiles


def test_bad_arguments_are_usage_errors(manifest, tmp_path, capsys):
    assert run("--manifest", manifest, "--tasks", "score,dance", "--out", tmp_path / "x.jsonl") == 2
    assert "dance" in capsys.readouterr().err
    assert run("--out", tmp_path / "x.jsonl") == 2
    assert run("--manifest", tmp_path / "missing.csv", "--out", tmp_path / "x.jsonl") == 2
    assert not (tmp_path / "x.jsonl").exists()


def test_out_folder_is_refused_before_any_work(manifest, tmp_path, capsys):
    (tmp_path / "qa").mkdir()
    assert run("--manifest", manifest, "--mos-range", 0, 100, "--out", tmp_path / "qa") == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and str(tmp_path / "qa") in err
