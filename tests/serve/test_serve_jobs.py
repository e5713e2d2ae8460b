"""`vqual.serve.jobs.JobStore` without HTTP: expiry of finished jobs with their files, recovery of jobs whose process
is gone, and a job interrupted by a shutdown that runs again at the next start and is stored once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from mediagen import moving_pattern, write_video

pytest.importorskip("fastapi", reason="needs the vqual[serve] extra (make test installs it)")
from vqual.serve.jobs import JobStore  # noqa: E402


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _job(store: JobStore, name: str = "a.png") -> str:
    job_id = store.new_id()
    folder = store.folder(job_id)
    folder.mkdir(parents=True)
    (folder / "upload-0.png").write_bytes(b"x")
    store.add(job_id, name, str(folder / "upload-0.png"), owned=True, options={})
    return job_id


def test_finished_jobs_expire_with_their_files_after_the_ttl(tmp_path):
    store = JobStore(tmp_path, ttl=100.0)
    done, pending = _job(store), _job(store)
    claimed = store.claim(owner=1)
    assert claimed["id"] == done  # the oldest first
    assert store.finish(done, "done", result={"results": []})
    assert not store.folder(done).exists()  # its upload goes as soon as it is finished
    finished = store.get(done)["finished"]
    assert store.public(store.get(done))["expires"] == pytest.approx(finished + 100.0)
    assert store.sweep(now=finished + 99.0) == 0 and store.get(done) is not None  # still readable before the TTL
    assert store.sweep(now=finished + 101.0) == 1
    assert store.get(done) is None
    assert store.get(pending)["state"] == "pending" and store.folder(pending).exists()  # unfinished jobs never expire


def test_recover_requeues_jobs_of_dead_processes_and_fails_the_twice_interrupted(tmp_path):
    store = JobStore(tmp_path)
    a, b, c = _job(store, "a.png"), _job(store, "b.png"), _job(store, "c.png")
    dead = _dead_pid()
    assert store.claim(owner=dead)["id"] == a
    assert store.claim(owner=os.getpid())["id"] == b  # a live process keeps its job
    assert store.claim(owner=dead)["id"] == c
    with store._db(immediate=True) as db:  # c was already interrupted once before
        db.execute("UPDATE jobs SET attempts = 2 WHERE id = ?", (c,))
    assert store.recover() == 2
    assert store.get(a)["state"] == "pending" and store.get(a)["owner"] is None
    assert store.get(b)["state"] == "running"
    assert store.get(c)["state"] == "failed" and "stopped twice" in json.loads(store.get(c)["error"])["message"]


def test_job_stopped_by_a_shutdown_runs_again_at_the_next_start_once(tmp_path):
    """A video job running when the server shuts down stops after the current second, stays `running` for the dead
    process, goes back to pending at the next start (`recover`) and then completes, with one stored result."""
    from vqual.serve.app import Scorer, State
    from vqual.serve.settings import Settings

    video = write_video(tmp_path / "clip.mp4", moving_pattern(30, 96, 96), fps=10)
    settings = Settings(home=str(tmp_path / "serve")).check()
    first = State(settings)
    first.scorer = Scorer(settings)
    seen = []
    real = first.jobs.progress

    def progress(job_id, done, total):
        seen.append(done)
        real(job_id, done, total)
        if done == 1.0:
            first.stop.set()  # SIGTERM arrives while the first second has been scored

    first.jobs.progress = progress
    job_id = first.jobs.new_id()
    folder = first.jobs.folder(job_id)
    folder.mkdir(parents=True)
    (folder / "upload-0.mp4").write_bytes(video.read_bytes())
    first.jobs.add(job_id, "clip.mp4", str(folder / "upload-0.mp4"), owned=True, options={"timeline": True})
    job = first.jobs.claim(_dead_pid())  # claimed by a process that is gone by the next start
    first.run_job(job)
    assert seen == [0.0, 1.0]
    left = first.jobs.get(job_id)
    assert left["state"] == "running" and left["result"] is None and folder.exists()
    assert first.metrics.stopped.labels("shutdown")._value.get() == 1
    first.executor.shutdown()

    second = State(settings)  # the next start
    second.scorer = first.scorer
    assert second.jobs.recover() == 1
    again = second.jobs.claim(owner=_dead_pid())
    assert again["id"] == job_id and again["attempts"] == 2
    second.run_job(again)
    done = second.jobs.public(second.jobs.get(job_id))
    assert done["state"] == "done" and done["progress"] == {"done": 3.0, "total": 3.0, "unit": "seconds"}
    assert len(done["result"]["results"]) == 1 and len(done["result"]["results"][0]["timeline"]) == 3
    assert second.jobs.claim(owner=1) is None and second.jobs.recover() == 0  # nothing left to run again
    assert not folder.exists()
    second.executor.shutdown()
