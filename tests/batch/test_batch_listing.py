"""`vqual batch`'s listing, rows and journals, without Ray: streamed inputs and manifests, duplicates and finished
items left out, the Parquet schema against `QualityResult`, a journal recovered into a shard."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

pytest.importorskip("pyarrow")

from vqual.batch.listing import KeySet, file_key, list_into_pages, stat_key  # noqa: E402
from vqual.batch.rows import SCHEMA, read_shard  # noqa: E402
from vqual.batch.run import recover_journals  # noqa: E402
from vqual.batch.worker import journal_path  # noqa: E402
from vqual.data.base import DatasetError  # noqa: E402
from vqual.result import QualityResult  # noqa: E402


def _touch(p) -> str:
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(b"x")
    return str(p)


def _listed(tmp_path, items, done=None):
    import pyarrow.parquet as pq

    lst = list_into_pages(items, str(tmp_path / "pages"), done or KeySet(), page_size=3)
    rows = [r for p in lst.pages for r in pq.read_table(p).to_pylist()]
    assert [len(pq.read_table(p)) for p in lst.pages] == lst.counts and all(c <= 3 for c in lst.counts)
    return lst, rows


def test_folders_globs_and_manifests_stream_each_file_once(tmp_path, monkeypatch):
    a = [_touch(tmp_path / "lib" / d / f"{i}.jpg") for d in ("x", "y") for i in range(3)]
    _touch(tmp_path / "lib" / "notes.txt")
    m = tmp_path / "lists"
    m.mkdir()
    (m / "m.csv").write_text("id,File Name\n1,../lib/x/0.jpg\n2,../lib/extra.png\n")
    (m / "m.jsonl").write_text(json.dumps({"path": "../lib/y/2.jpg"}) + "\n\n" + json.dumps({"path": "gone.jpg"}))
    (m / "m.txt").write_text("# a list\n../lib/x/1.jpg\n\n")
    items = [str(tmp_path / "lib"), str(m / "m.csv"), str(m / "m.jsonl"), str(m / "m.txt"), str(tmp_path / "*.gif")]
    lst, rows = _listed(tmp_path, items)
    paths = [r["path"] for r in rows]
    assert sorted(paths[:6]) == sorted(a)  # the folder, in the file system's order
    assert paths[6:] == [str(m / "../lib/extra.png"), str(m / "gone.jpg"), str(tmp_path / "*.gif")]
    assert lst.total == 9 and lst.skipped == 0
    assert rows[0]["size"] == 1 and rows[0]["mtime_ns"] == os.stat(paths[0]).st_mtime_ns
    assert rows[-1]["size"] is None and rows[-1]["mtime_ns"] is None


def test_items_already_done_are_left_out_by_path_size_and_mtime(tmp_path):
    a, b = _touch(tmp_path / "lib" / "a.jpg"), _touch(tmp_path / "lib" / "b.jpg")
    done = KeySet()
    done.add(file_key(a, *stat_key(a)))
    done.add(file_key(b, 999, stat_key(b)[1]))  # b changed size since: scored again
    lst, rows = _listed(tmp_path, [str(tmp_path / "lib")], done)
    assert [r["path"] for r in rows] == [b] and lst.skipped == 1


def test_manifest_without_a_path_column_names_the_file(tmp_path):
    (tmp_path / "m.csv").write_text("id,mos\n1,3.0\n")
    with pytest.raises(DatasetError, match=r"m\.csv has no column 'path'"):
        list_into_pages([str(tmp_path / "m.csv")], str(tmp_path / "p"), KeySet())
    (tmp_path / "m.jsonl").write_text('{"path": "a.jpg"}\n[1]\n')
    with pytest.raises(DatasetError, match=r"m\.jsonl line 2 is not a JSON object"):
        list_into_pages([str(tmp_path / "m.jsonl")], str(tmp_path / "p"), KeySet())


def test_keyset_remembers_across_merges():
    s = KeySet()
    s.MERGE_EVERY = 10
    for i in range(95):
        s.add(f"k{i}")
    s.add("k3")
    assert len(s) == 95 and all(f"k{i}" in s for i in range(95)) and "k95" not in s and 3 not in s


def test_schema_names_every_result_field_then_error_and_file_columns():
    fields = [f.name for f in dataclasses.fields(QualityResult)] + ["schema", "error", "size", "mtime_ns"]
    assert SCHEMA.names == fields


def test_journal_recovered_into_a_shard_of_the_rows_done(tmp_path):
    out = str(tmp_path)
    j = journal_path(out, "part-00003-000007.parquet")
    os.makedirs(os.path.dirname(j))
    rows = [{"path": f"p{i}", "error": {"reason": "empty", "message": f"p{i}: empty"}, "size": 0, "mtime_ns": i}
            for i in range(2)]
    with open(j, "w") as f:
        for i, r in enumerate(rows):
            f.write(json.dumps({"start": i}) + "\n" + json.dumps({"done": i, "row": r}) + "\n")
        f.write(json.dumps({"start": 2}) + "\n" + '{"done": 2, "ro')  # died while writing
    assert recover_journals(out, "parquet") == 2
    assert read_shard(str(tmp_path / "part-00003-000007.parquet")) == rows
    assert not os.path.exists(j)


def test_cli_refuses_inputs_without_media_and_a_bad_manifest(tmp_path, capsys):
    from vqual.cli import main

    (tmp_path / "empty").mkdir()
    assert main(["batch", str(tmp_path / "empty"), "--out", str(tmp_path / "o1"), "--progress", "off"]) == 2
    assert f"error: no media files found in {tmp_path / 'empty'}" in capsys.readouterr().err
    (tmp_path / "m.tsv").write_text("id\tmos\n1\t3\n")
    assert main(["batch", str(tmp_path / "m.tsv"), "--out", str(tmp_path / "o2")]) == 2
    assert "m.tsv has no column 'path'" in capsys.readouterr().err


def test_a_cluster_that_cannot_be_reached_or_wants_a_token_is_named_in_one_line():
    from vqual.batch.run import _connect_problem

    try:
        try:
            raise RuntimeError("Failed to connect to GCS. ... RPC error: InvalidAuthToken: token is missing")
        except RuntimeError as inner:
            raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379") from inner
    except ConnectionError as e:
        msg = _connect_problem("10.0.0.1:6379", e)
    assert msg.startswith("--address 10.0.0.1:6379: the Ray cluster refused") and "RAY_AUTH_MODE=token" in msg
    assert "\n" not in msg
    msg = _connect_problem("auto", ConnectionError("Could not find any running Ray instance.\nMore text"))
    assert msg == ("--address auto: cannot connect to a Ray cluster (Could not find any running Ray instance.); is "
                   "it running (ray status)?")


def test_ray_client_addresses_are_refused_before_any_work(tmp_path):
    from vqual.batch.run import BatchOptions, BatchUsageError, run_batch

    out = tmp_path / "out"
    with pytest.raises(BatchUsageError, match=r"--address ray://h:10001: Ray Data does not run through Ray Client"):
        run_batch(BatchOptions(inputs=[str(tmp_path)], out=str(out), address="ray://h:10001", progress=False))
    assert not out.exists()


def test_a_stop_waits_only_for_a_journal_a_live_worker_holds(tmp_path):
    """A journal with an item started and no row is a dead worker's unless it is locked (a live worker holds its
    chunk's journal locked): a stop after a worker crash does not wait out the grace period."""
    import fcntl

    from vqual.batch.run import _in_progress

    jpath = journal_path(str(tmp_path), "part-00000-000000.parquet")
    os.makedirs(os.path.dirname(jpath))
    with open(jpath, "w") as f:
        f.write(json.dumps({"start": 0}) + "\n")
    assert not _in_progress(str(tmp_path))
    with open(jpath, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert _in_progress(str(tmp_path))
    assert not _in_progress(str(tmp_path))


@pytest.mark.parametrize("signal_during_start", ["SIGTERM", "SIGINT"])
def test_a_stop_while_ray_starts_is_held_until_it_is_up_then_ends_with_a_summary(signal_during_start, tmp_path,
                                                                                  monkeypatch):
    """A Ctrl-C or SIGTERM while ray.init runs is raised once Ray is up (cut short, ray.init left Ray's agents
    running; Ray's own SIGTERM handler exits on the spot), then the run ends like any stop: status terminated /
    interrupted, summary.json written."""
    import signal
    import time

    ray = pytest.importorskip("ray")
    from PIL import Image

    from vqual.batch.run import BatchOptions, run_batch
    from vqual.interrupts import handle_signals

    up = []

    def init(*args, **kwargs):  # a slow start, stopped halfway by the signal
        os.kill(os.getpid(), getattr(signal, signal_during_start))
        time.sleep(0.3)
        up.append(True)

    monkeypatch.setattr(ray, "init", init)
    lib = tmp_path / "lib"
    lib.mkdir()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(lib / "a.png")
    out = tmp_path / "out"
    with handle_signals():
        summary = run_batch(BatchOptions(inputs=[str(lib)], out=str(out), workers=1, progress=False,
                                         driver_scores=False))
    assert up == [True]  # ray.init ran to its end
    assert summary["status"] == ("terminated" if signal_during_start == "SIGTERM" else "interrupted")
    assert json.loads((out / "summary.json").read_text())["status"] == summary["status"]
    assert summary["run"]["scored"] == 0 and summary["output"]["rows"] == 0 and not (out / ".work").exists()


def test_a_new_run_waits_for_a_worker_of_a_killed_run_still_on_a_chunk(tmp_path, monkeypatch):
    """An embedded Ray's actor outlives a driver killed outright by seconds; the next run must not recover the
    journal it still writes (the items would then be scored twice): it waits, or stops with a usage error."""
    import fcntl
    import threading

    from vqual.batch import run as batch_run

    jpath = journal_path(str(tmp_path), "part-00000-000000.parquet")
    os.makedirs(os.path.dirname(jpath))
    held = open(jpath, "a")
    fcntl.flock(held, fcntl.LOCK_EX)
    threading.Timer(0.4, held.close).start()  # the orphan finishes its item and lets go
    batch_run._wait_for_earlier_workers(str(tmp_path))
    assert held.closed
    with open(jpath, "a") as again:
        fcntl.flock(again, fcntl.LOCK_EX)
        monkeypatch.setattr(batch_run, "STOP_GRACE", 0.3)
        with pytest.raises(batch_run.BatchUsageError, match="a worker of an earlier run is still writing it"):
            batch_run._wait_for_earlier_workers(str(tmp_path))
