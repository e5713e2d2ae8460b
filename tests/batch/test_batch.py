"""`vqual batch` on a local Ray with 2 CPUs (started once for this module): 40 generated images, 4 short videos and
5 bad files. Outputs equal `vqual score`'s, whatever the worker count; counts; a rerun skips everything; a deleted
shard's items, and only those, are scored again; a worker killed mid-run and a file that kills its worker every time
leave every item exactly once; SIGTERM leaves complete shards only and a rerun completes them."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")
pytest.importorskip("pyarrow")

from mediagen import moving_pattern, truncate_file, write_empty_video, write_image, write_video  # noqa: E402

from vqual.batch.rows import read_results, read_shard, shards  # noqa: E402
from vqual.batch.run import BatchOptions, run_batch, start_ray  # noqa: E402
from vqual.batch.worker import CRASHED, FaultPlan  # noqa: E402
from vqual.registry import default_model_name

N_IMAGES, N_VIDEOS, N_BAD = 40, 4, 5
SRC = Path(__file__).resolve().parents[2] / "src"


def _make_library(root: Path) -> None:
    for d in ("images/sub0", "images/sub1", "images/sub2", "videos", "bad"):
        (root / d).mkdir(parents=True)
    rng = np.random.default_rng(19)
    for i in range(N_IMAGES):  # smooth gradients with noise of varied strength: scores that differ
        y, x = np.mgrid[0:48, 0:64]
        base = np.stack([x * 4, y * 5, (x + y) * 2], -1).astype(np.float32)
        img = np.clip(base + rng.normal(0, 3 + i, base.shape), 0, 255).astype(np.uint8)
        write_image(root / "images" / f"sub{i % 3}" / f"im{i:02d}.{'png' if i % 2 else 'jpg'}", img)
    for i in range(N_VIDEOS):
        write_video(root / "videos" / f"clip{i}.mp4", moving_pattern(12 + 4 * i, 64, 64, seed=i), fps=10)
    bad = root / "bad"
    (bad / "empty.jpg").write_bytes(b"")
    (bad / "text.png").write_bytes(b"this is not an image\n" * 8)
    truncate_file(root / "images" / "sub0" / "im00.jpg", 0.3, bad / "cut.jpg")
    write_image(bad / "tiny.png", np.zeros((8, 8, 3), np.uint8))
    write_empty_video(bad / "noframes.avi")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("library")
    _make_library(root)
    return root


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    if not ray.is_initialized():
        start_ray(num_cpus=2)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(library) -> dict[str, dict]:
    """`vqual score --format jsonl --timeline` of the library, in this process, by path."""
    from vqual.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(["score", str(library), "--format", "jsonl", "--timeline", "--progress", "off"])
    assert code == 1  # the bad files
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert len(rows) == N_IMAGES + N_VIDEOS + N_BAD
    return {r["path"]: r for r in rows}


def _same_as_score(row: dict, ref: dict, path: str) -> None:
    st = os.stat(path) if os.path.exists(path) else None
    assert (row["size"], row["mtime_ns"]) == ((st.st_size, st.st_mtime_ns) if st else (None, None))
    a = {k: v for k, v in row.items() if k not in ("size", "mtime_ns")}
    b = dict(ref)
    for d in (a, b):
        if "provenance" in d:
            d["provenance"] = dict(d["provenance"], elapsed_ms=None)
    assert a == b, path


def _by_path(out: Path) -> dict[str, dict]:
    rows = list(read_results(str(out)))
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths)), "an item is in the output twice"
    return {r["path"]: r for r in rows}


@pytest.fixture(scope="module")
def first_run(library, ray_cluster, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "parquet"
    summary = run_batch(BatchOptions(inputs=[str(library)], out=str(out), workers=2, timeline=True, progress=False,
                                     command_line="test", driver_scores=False))  # every item scored by an actor
    return out, summary


def test_outputs_equal_vqual_score_and_counts(first_run, reference):
    out, summary = first_run
    got = _by_path(out)
    assert set(got) == set(reference)
    for path, row in got.items():
        _same_as_score(row, reference[path], path)
    n = N_IMAGES + N_VIDEOS + N_BAD
    reasons: dict[str, int] = {}
    for r in reference.values():
        if "error" in r:
            reasons[r["error"]["reason"]] = reasons.get(r["error"]["reason"], 0) + 1
    assert summary["status"] == "complete"
    import ray

    node = ray.get_runtime_context().get_node_id()  # the one node of this Ray: every row written by its actors
    assert summary["run"] == {"listed": n, "skipped": 0, "recovered": 0, "scored": n, "by_driver": 0,
                              "by_node": {node: n}, "failed": N_BAD, "reasons": reasons}
    assert summary["output"] == {"shards": len(shards(str(out))), "rows": n, "scored": n - N_BAD, "failed": N_BAD,
                                 "reasons": reasons, "duplicates": 0}
    assert summary["model"]["model"] == default_model_name() and len(summary["model"]["weights_sha256"]) == 64
    assert summary["command_line"] == "test" and summary["ended"] >= summary["started"]
    assert not (out / ".work").exists()
    assert json.loads((out / "summary.json").read_text()) == summary


def test_rerun_skips_everything_then_a_deleted_shard_is_scored_again(first_run, library):
    out, _ = first_run
    n = N_IMAGES + N_VIDEOS + N_BAD
    before = sorted(p.name for p in out.glob("part-*"))
    again = run_batch(BatchOptions(inputs=[str(library)], out=str(out), workers=2, timeline=True, progress=False))
    assert again["run"]["scored"] == 0 and again["run"]["skipped"] == n
    assert sorted(p.name for p in out.glob("part-*")) == before
    assert [r["status"] for r in again["previous_runs"]] == ["complete"]
    victim = Path(shards(str(out))[3])
    lost = {r["path"] for r in read_shard(str(victim))}
    victim.unlink()
    third = run_batch(BatchOptions(inputs=[str(library)], out=str(out), workers=2, timeline=True, progress=False))
    assert third["run"]["scored"] == len(lost) > 0 and third["run"]["skipped"] == n - len(lost)
    new = [p for p in shards(str(out)) if Path(p).name not in before]
    assert {r["path"] for p in new for r in read_shard(p)} == lost
    assert len(_by_path(out)) == n


def test_one_worker_jsonl_gives_the_same_rows(first_run, library, tmp_path):
    """With the driver scoring while the actor starts (the default): the same rows as the actors' alone."""
    out, _ = first_run
    summary = run_batch(BatchOptions(inputs=[str(library)], out=str(tmp_path / "j"), workers=1, fmt="jsonl",
                                     timeline=True, progress=False,
                                     fault=FaultPlan(actor_waits_for_driver=True)))  # not a race with Ray's start
    assert summary["run"]["scored"] == N_IMAGES + N_VIDEOS + N_BAD and summary["output"]["duplicates"] == 0
    assert 0 < summary["run"]["by_driver"] <= summary["run"]["scored"]
    by_node = sum(summary["run"]["by_node"].values())  # a chunk the driver left part done counts whole there
    assert by_node < summary["run"]["scored"] <= by_node + summary["run"]["by_driver"]
    assert all(p.endswith(".jsonl") for p in shards(str(tmp_path / "j")))
    a, b = _by_path(out), _by_path(tmp_path / "j")
    assert set(a) == set(b)
    for path in a:
        _same_as_score(b[path], {k: v for k, v in a[path].items() if k not in ("size", "mtime_ns")}, path)


def test_a_killed_worker_and_a_file_that_always_kills_it_leave_every_item_once(library, ray_cluster, reference,
                                                                               tmp_path):
    poison = tmp_path / "poison"
    poison.mkdir()
    write_image(poison / "poison.png", np.full((48, 64, 3), 128, np.uint8))
    out = tmp_path / "out"
    summary = run_batch(BatchOptions(inputs=[str(library / "images"), str(library / "bad"), str(poison)],
                                     out=str(out), workers=2, max_retries=1, progress=False,
                                     fault=FaultPlan(kill_after=7, crash_on="poison")))
    got = _by_path(out)
    assert len(got) == N_IMAGES + N_BAD + 1
    crashed = got.pop(str(poison / "poison.png"))
    assert crashed["error"]["reason"] == CRASHED and "died 2 times" in crashed["error"]["message"]
    for path, row in got.items():
        ref = dict(reference[path], timeline=None) if "error" not in reference[path] else reference[path]
        _same_as_score(row, ref, path)
    assert summary["run"]["reasons"].get(CRASHED) == 1 and summary["output"]["duplicates"] == 0


def test_sigterm_leaves_complete_shards_only_and_a_rerun_completes(library, ray_cluster, reference, tmp_path):
    out = tmp_path / "out"
    inputs = [str(library / "images" / "sub0"), str(library / "bad")]
    reference = {p: r for p, r in reference.items() if p.startswith(tuple(inputs))}
    cmd = [sys.executable, "-m", "vqual", "batch", *inputs, "--out", str(out), "--workers", "1",
           "--timeline", "--address", ray_cluster, "--progress", "log", "--shard-size", "2"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # stop as soon as the first shard is written: with actors at normal priority on a quiet host the 19 small items
    # take well under a second, so waiting for more shards (or polling slowly) let the run finish before the signal
    while time.monotonic() < deadline and not shards(str(out)) and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert not [n for n in os.listdir(out) if n.endswith(".partial")]
    partial = _by_path(out)
    assert 0 < len(partial) < len(reference)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "terminated" and summary["output"]["rows"] == len(partial)
    rerun = subprocess.run(cmd[:-6] + ["--progress", "off"], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 1, rerun.stderr  # the bad files
    done = json.loads((out / "summary.json").read_text())
    assert done["run"]["skipped"] == len(partial) and done["run"]["scored"] == len(reference) - len(partial)
    got = _by_path(out)
    assert set(got) == set(reference)
    for path, row in got.items():
        _same_as_score(row, reference[path], path)


def test_another_model_or_format_is_refused_before_any_work(first_run, tmp_path):
    from vqual.batch.run import BatchUsageError

    out, _ = first_run
    with pytest.raises(BatchUsageError, match="another model identity .*--restart"):
        run_batch(BatchOptions(inputs=[str(tmp_path)], out=str(out), model="niqe", timeline=True, progress=False))
    with pytest.raises(BatchUsageError, match="another format"):
        run_batch(BatchOptions(inputs=[str(tmp_path)], out=str(out), fmt="jsonl", timeline=True, progress=False))
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(BatchUsageError, match="not empty .*not a vqual batch output"):
        run_batch(BatchOptions(inputs=[str(tmp_path)], out=str(tmp_path), progress=False))


def test_claims_between_the_driver_and_an_actor(tmp_path):
    import threading

    from vqual.batch.worker import claim_for_actor, claim_for_driver, settle_claim

    out = str(tmp_path)
    assert claim_for_actor(out, "part-00000-000000.parquet")  # an actor's chunk: the driver cannot take it
    assert claim_for_driver(out, "part-00000-000000.parquet") is None
    assert claim_for_actor(out, "part-00000-000000.parquet")  # the same actor retried by Ray: still its own
    for state, actor_scores in (("done", False), ("released", True)):
        name = f"part-00000-00000{1 + actor_scores}.parquet"
        held = claim_for_driver(out, name)
        got: list[bool] = []
        t = threading.Thread(target=lambda n=name, g=got: g.append(claim_for_actor(out, n)))
        t.start()
        t.join(0.5)
        assert t.is_alive() and not got  # the actor waits while the driver scores the chunk
        settle_claim(held, state)
        t.join(10)
        assert got == [actor_scores]


def test_driver_scoring_stops_when_an_actor_starts_and_the_actor_continues_its_chunk(library, reference, tmp_path):
    """In process, without Ray: the driver's scorer finishes the last chunk, is stopped (an actor starts) one item
    into the one before; the actor skips the first, continues the second from the journal, scores the rest: every
    item once, as `vqual score` gives it."""
    import queue

    from vqual.api import load_model
    from vqual.batch.listing import KeySet, list_into_pages
    from vqual.batch.run import _chunks
    from vqual.batch.worker import READY, ChunkScorer, DriverScorer, WorkerConfig, claims_dir, model_identity

    out = tmp_path / "out"
    listing = list_into_pages([str(library / "images" / "sub0")], str(out / ".work" / "list"), KeySet())
    chunks = _chunks(listing, 1, 3)  # 14 images: chunks of 2 (a listing is cut into at least 8 per worker)
    assert len(chunks) == 7 and all(c["stop"] - c["start"] == 2 for c in chunks)
    config = WorkerConfig(model=None, calibration=None, max_pixels=None, threads=1,
                          identity=model_identity(load_model()), out=str(out), fmt="parquet", timeline=True, run=0,
                          max_attempts=3)

    class Stopped(DriverScorer):
        def _fault_after(self) -> None:  # an actor starts once the driver has scored 3 items
            if self.scored == 3:
                open(os.path.join(claims_dir(self.c.out), READY), "w").close()

    results: queue.SimpleQueue = queue.SimpleQueue()
    os.makedirs(claims_dir(str(out)))
    Stopped(config, chunks, os.getppid()).run(results)
    by_driver = results.get_nowait()
    assert len(by_driver) == 2  # the last chunk's rows; the one before it was released with one item done
    assert results.get_nowait() == 1 and results.empty()
    assert {r["path"] for r in read_shard(str(out / "part-00000-000006.parquet"))} == {
        it["path"] for it in _page_items(chunks[-1])}
    actor = ChunkScorer(config)
    by_actor = [r for c in chunks for r in actor.score_chunk(c["chunk"], c["page"], c["start"], c["stop"])]
    assert actor.scored == 14 - 3  # the item the driver did in chunk 5 was not scored again
    assert len(by_actor) == 12 and not os.listdir(out / ".work" / "journal")
    got = _by_path(out)
    assert len(got) == 14 and {r["path"] for r in by_actor} | {it["path"] for it in _page_items(chunks[-1])} == set(got)
    for path, row in got.items():
        _same_as_score(row, reference[path], path)


def _page_items(chunk: dict) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(chunk["page"]).slice(chunk["start"], chunk["stop"] - chunk["start"]).to_pylist()


def test_an_actor_that_lost_its_parent_stops_at_the_next_item(library, tmp_path):
    """An actor whose raylet died (its driver killed outright) is reparented; it must stop at its next item, leaving
    its journal, instead of finishing the chunk while the next run recovers that journal."""
    from vqual.api import load_model
    from vqual.batch.listing import KeySet, list_into_pages
    from vqual.batch.run import _chunks
    from vqual.batch.worker import ChunkScorer, WorkerConfig, claims_dir, journal_path, model_identity, read_journal

    out = tmp_path / "out"
    listing = list_into_pages([str(library / "images" / "sub0")], str(out / ".work" / "list"), KeySet())
    chunk = _chunks(listing, 1, 1000)[0]
    config = WorkerConfig(model=None, calibration=None, max_pixels=None, threads=1,
                          identity=model_identity(load_model()), out=str(out), fmt="parquet", timeline=False, run=0,
                          max_attempts=3)
    os.makedirs(claims_dir(str(out)))

    class Orphaned(ChunkScorer):
        def _fault_after(self) -> None:  # after its first item, its parent is gone
            self.parent_pid = -1

    actor = Orphaned(config)
    assert actor.score_chunk(chunk["chunk"], chunk["page"], chunk["start"], chunk["stop"]) == []
    done, started = read_journal(journal_path(str(out), "part-00000-000000.parquet"))
    assert actor.scored == 1 and len(done) == 1 and not started and not shards(str(out))


def test_the_embedded_ray_starts_without_the_head_processes_it_has_no_use_for(ray_cluster):
    """No dashboard API server, autoscaler monitor or log monitor (`run._without_unused_head_processes`); Ray's
    `Node` methods are back in place afterwards (a `ray.init` elsewhere in the process starts whole)."""
    import ray
    import ray._private.node as ray_node
    from ray._private import ray_constants

    from vqual.batch.run import UNUSED_HEAD_PROCESSES

    started = ray._private.worker._global_node.all_processes
    assert ray_constants.PROCESS_TYPE_RAYLET in started and ray_constants.PROCESS_TYPE_GCS_SERVER in started
    assert not {ray_constants.PROCESS_TYPE_DASHBOARD, ray_constants.PROCESS_TYPE_MONITOR,
                ray_constants.PROCESS_TYPE_LOG_MONITOR} & set(started)
    assert all(getattr(ray_node.Node, name).__name__ == name for name in UNUSED_HEAD_PROCESSES)
