"""A fuzzed bad-input corpus (issue 14) through `vqual score`, one batch, one process: nothing crashes or hangs, every
file is answered (scored, or failed with a reason) within the stated limit, the output is complete and valid.

The quick corpus here (~200 files, 64x48 pixels) runs in the normal suite; benchmarks/fuzz.py runs thousands of
mutations the same way. The corpus and the runner are in tests/fuzzcorpus.py."""

from __future__ import annotations

import json

import pytest
from fuzzcorpus import QUICK_DIMENSIONS, check_run, make_corpus, run_batch, summary

#: Each input must be answered within this many seconds (the one-off model load is not counted).
PER_FILE_LIMIT = 10.0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    cases = make_corpus(folder, n_random=40, seed=14, swaps=1, dims=QUICK_DIMENSIONS, meta_bytes=256 << 10)
    return folder, cases


def test_quick_corpus_in_one_json_batch(corpus):
    folder, cases = corpus
    assert 180 <= len(cases) <= 230
    run = run_batch([c.path for c in cases], folder / "out.json", per_file_limit=PER_FILE_LIMIT)
    assert check_run(run, cases) == []
    s = summary(run, cases)
    assert run.returncode == 1 and s["failed"] > 30 and s["scored"] > 60, s
    assert s["by_mutation"]["valid"] == {"scored": 17}  # every format's valid file is scored
    assert max(run.per_file.values()) < PER_FILE_LIMIT and len(run.per_file) == len(cases)
    doc = json.loads((folder / "out.json").read_text())
    assert doc["summary"] == f"{s['scored']} scored, {s['failed']} failed"


def test_quick_corpus_in_one_csv_batch(corpus):
    folder, cases = corpus
    some = cases[::4]  # the CSV form of a quarter of it: the same rows, one per input
    run = run_batch([c.path for c in some], folder / "out.csv", fmt="csv", per_file_limit=PER_FILE_LIMIT)
    assert check_run(run, some) == []


def test_the_watchdog_names_an_input_that_is_never_answered(corpus, tmp_path, monkeypatch):
    folder, cases = corpus
    stall = next(c for c in cases if c.mutation.startswith("truncate")).path
    monkeypatch.setenv("VQUAL_FUZZ_STALL", stall.name)
    run = run_batch([stall, cases[0].path], tmp_path / "out.json", per_file_limit=2.0)
    assert run.hung == str(stall) and run.returncode is None
    assert check_run(run) == [f"no answer for {stall} within 2 s: the batch was killed"]
