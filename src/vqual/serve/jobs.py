"""`JobStore`: asynchronous scoring jobs in SQLite (standard library) under ``$VQUAL_HOME/serve``.

A job is one input (an uploaded file kept in its own folder, or a path below ``--allow-dir``) and its options. States:
``pending`` -> ``running`` -> ``done`` | ``failed``; ``cancelled`` from pending or running. Claiming a job is one
``UPDATE ... WHERE state='pending'`` inside an immediate transaction, so several worker processes never run the same
job. At start, jobs left ``running`` by a process that is gone go back to ``pending`` (a job that was already tried
twice is failed instead, so an input that kills the server cannot kill it for ever). Finished jobs are removed with
their files `ttl` seconds after they finished.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STATES = ("pending", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    filename TEXT NOT NULL,
    input TEXT NOT NULL,
    owned INTEGER NOT NULL,
    options TEXT NOT NULL,
    progress_done REAL NOT NULL DEFAULT 0,
    progress_total REAL,
    result TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created);
"""


def process_alive(pid: int | None) -> bool:
    """Whether a process with this id runs on this machine (None or 0: no process)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobStore:
    def __init__(self, home: str | Path, ttl: float = 24 * 3600.0):
        self.home = Path(home)
        self.files = self.home / "jobs"
        self.files.mkdir(parents=True, exist_ok=True)
        self.path = self.home / "jobs.sqlite3"
        self.ttl = ttl
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        finally:
            db.close()

    @contextmanager
    def _db(self, immediate: bool = False):
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def folder(self, job_id: str) -> Path:
        return self.files / job_id

    def new_id(self) -> str:
        return uuid.uuid4().hex

    def add(self, job_id: str, filename: str, input_path: str, owned: bool, options: dict[str, Any]) -> dict:
        """Record a pending job; `owned`: its input lives in the job's folder and goes with the job."""
        with self._db(immediate=True) as db:
            db.execute("INSERT INTO jobs (id, state, created, filename, input, owned, options) "
                       "VALUES (?, 'pending', ?, ?, ?, ?, ?)",
                       (job_id, time.time(), filename, input_path, int(owned), json.dumps(options)))
        return self.get(job_id)

    def pending_count(self) -> int:
        with self._db() as db:
            return db.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('pending', 'running')").fetchone()[0]

    def get(self, job_id: str) -> dict | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else dict(row)

    def claim(self, owner: int) -> dict | None:
        """The oldest pending job, now ``running`` for `owner` (a process id), or None."""
        with self._db(immediate=True) as db:
            row = db.execute("SELECT id FROM jobs WHERE state = 'pending' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', owner = ?, started = ?, attempts = attempts + 1 "
                       "WHERE id = ? AND state = 'pending'", (owner, time.time(), row["id"]))
            job = db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return dict(job)

    def progress(self, job_id: str, done: float, total: float | None) -> None:
        with self._db(immediate=True) as db:
            db.execute("UPDATE jobs SET progress_done = ?, progress_total = ? WHERE id = ?", (done, total, job_id))

    def finish(self, job_id: str, state: str, result: dict | None = None, error: dict | None = None) -> bool:
        """Store the outcome of a running job; False if it was cancelled meanwhile (the outcome is dropped)."""
        with self._db(immediate=True) as db:
            cur = db.execute("UPDATE jobs SET state = ?, finished = ?, result = ?, error = ?, "
                             "progress_done = COALESCE(progress_total, progress_done) WHERE id = ? AND "
                             "state = 'running'",
                             (state, time.time(), None if result is None else json.dumps(result, allow_nan=False),
                              None if error is None else json.dumps(error), job_id))
            ok = cur.rowcount == 1
        if ok or self.get(job_id)["state"] == "cancelled":
            self._drop_input(job_id)
        return ok

    def cancel(self, job_id: str) -> dict | None:
        """Cancel a pending or running job (a running one's outcome is dropped when it ends); finished jobs stay."""
        with self._db(immediate=True) as db:
            db.execute("UPDATE jobs SET state = 'cancelled', finished = ? WHERE id = ? AND state IN "
                       "('pending', 'running')", (time.time(), job_id))
        job = self.get(job_id)
        if job is not None and job["state"] == "cancelled":
            self._drop_input(job_id)
        return job

    def recover(self) -> int:
        """Put back to pending the jobs left running by a process that is gone; returns how many."""
        n = 0
        with self._db(immediate=True) as db:
            for row in db.execute("SELECT id, owner, attempts FROM jobs WHERE state = 'running'").fetchall():
                if process_alive(row["owner"]):
                    continue
                if row["attempts"] >= 2:
                    err = {"reason": "internal", "message": "the server stopped twice while running this job"}
                    db.execute("UPDATE jobs SET state = 'failed', finished = ?, error = ? WHERE id = ?",
                               (time.time(), json.dumps(err), row["id"]))
                else:
                    db.execute("UPDATE jobs SET state = 'pending', owner = NULL WHERE id = ?", (row["id"],))
                n += 1
        return n

    def sweep(self, now: float | None = None) -> int:
        """Remove the jobs that finished more than `ttl` seconds ago, with their folders; returns how many."""
        now = time.time() if now is None else now
        with self._db(immediate=True) as db:
            ids = [r["id"] for r in db.execute("SELECT id FROM jobs WHERE state IN ('done', 'failed', 'cancelled') "
                                               "AND finished < ?", (now - self.ttl,)).fetchall()]
            db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in ids])
        for i in ids:
            shutil.rmtree(self.folder(i), ignore_errors=True)
        return len(ids)

    def _drop_input(self, job_id: str) -> None:
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def public(self, job: dict, base: str = "/v1/jobs") -> dict:
        """The JSON form of a job a client sees (no server paths)."""
        out = {"id": job["id"], "state": job["state"], "filename": job["filename"], "created": job["created"],
               "started": job["started"], "finished": job["finished"], "attempts": job["attempts"],
               "progress": {"done": job["progress_done"], "total": job["progress_total"], "unit": "seconds"},
               "url": f"{base}/{job['id']}"}
        if job["finished"] is not None:
            out["expires"] = job["finished"] + self.ttl
        if job["result"] is not None:
            out["result"] = json.loads(job["result"])
        if job["error"] is not None:
            out["error"] = json.loads(job["error"])
        return out
