"""The Ray actor of `vqual batch`: one loaded model, scoring one chunk of a listing page at a time into one shard.

Each chunk keeps a journal (``.work/journal/part-RRRRR-CCCCCC.jsonl``) of the items started and of the rows done,
flushed line by line. The journal makes three things possible without scoring anything twice:

- a worker that dies (killed, out of memory) and is restarted by Ray reruns the chunk, reusing the rows done; an
  item that was started `max_attempts` times without finishing is recorded as a failure (``worker_crashed``);
- a stop (Ctrl-C or SIGTERM at the driver: the ``.work/STOP`` file) ends the chunk at the next item, its done rows
  kept in the journal, which the driver then turns into a shard (`vqual.batch.run.recover_journals`);
- a driver killed outright (SIGKILL) leaves journals that the next run turns into shards before listing.

The chunk's shard is written whole (atomically) once every item has a row, then its journal is removed. A worker
holds its chunk's journal locked (flock) while it works on it, so that a stop waits for live workers only.

While Ray starts and its actors load their models (seconds that would otherwise be idle), the driver scores chunks
itself (`DriverScorer`, a process the driver starts at the lowest priority), from the end of the listing while the
actors begin at the front. Each chunk is claimed once in ``.work/claim/``: a claim file made atomically (a link)
holding its owner. The driver keeps its claim locked (flock) while it scores and stops at the next item once an
actor has started (the ``.work/claim/READY`` file); a chunk it finished says ``done`` and the actors skip it, one it
left part done says ``released`` and the actor that receives it waits for the lock, then continues from the
journal's rows.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vqual.batch.rows import shard_name, write_shard

CRASHED = "worker_crashed"  # failure reason of an item whose worker died on it every attempt
STOP_FILE = "STOP"
CLAIMS = "claim"  # .work/claim/: who scores each chunk of this run (see the module's docstring)
READY = "READY"  # .work/claim/READY: an actor has started scoring; the driver stops scoring at its next item


@dataclass(frozen=True)
class FaultPlan:
    """Faults to inject (tests and benchmarks): `kill_after`: the first worker to finish that many items kills
    itself with SIGKILL, once per run (a marker file in the work folder says it happened); `crash_on`: a worker
    kills itself whenever it starts an item whose path contains this text (a file that always crashes it);
    `actor_waits_for_driver`: an actor starts scoring only once the driver's scoring process has finished a chunk
    (at most 120 s; a hand-over that otherwise depends on how fast Ray starts)."""

    kill_after: int | None = None
    crash_on: str | None = None
    actor_waits_for_driver: bool = False


@dataclass(frozen=True)
class WorkerConfig:
    """What every worker is given by the driver."""

    model: str | None  # registered model name (None: the calibration's model or the default)
    calibration: Any  # a vqual.calibration.Calibration or None
    max_pixels: int | None
    threads: int  # scoring threads (vqual.runtime.set_threads): the CPUs the worker holds
    identity: dict[str, Any]  # the driver's model identity; a worker that loads another one refuses to work
    out: str  # output folder (on a file system every node sees)
    fmt: str  # "parquet" or "jsonl"
    timeline: bool
    run: int  # this run's number (in shard names)
    max_attempts: int  # starts of one item before it is recorded as CRASHED
    fault: FaultPlan | None = None


def work_dir(out: str) -> str:
    return os.path.join(out, ".work")


def journal_path(out: str, name: str) -> str:
    return os.path.join(work_dir(out), "journal", name.rsplit(".", 1)[0] + ".jsonl")


def claims_dir(out: str) -> str:
    return os.path.join(work_dir(out), CLAIMS)


def _link_claim(out: str, name: str, owner: str, lock: bool):
    """Make chunk `name`'s claim file hold `owner`, atomically (written aside, then linked: it never exists empty);
    returns the open file (locked when `lock`), or None when the chunk was claimed before."""
    folder = claims_dir(out)
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    f = open(tmp, "w+", encoding="utf-8")
    try:
        if lock:
            fcntl.flock(f, fcntl.LOCK_EX)
        f.write(owner)
        f.flush()
        os.link(tmp, os.path.join(folder, name.rsplit(".", 1)[0]))
    except FileExistsError:
        f.close()
        return None
    finally:
        os.remove(tmp)
    return f


def claim_for_driver(out: str, name: str):
    """Claim chunk `name` for the driver: the claim file, open and locked (settle it with `settle_claim`), or None
    when an actor has it."""
    return _link_claim(out, name, "driver", lock=True)


def settle_claim(f, state: str) -> None:
    """End the driver's claim: ``done`` (its shard is written) or ``released`` (part done, rows in the journal);
    closing the file releases the lock an actor may be waiting for."""
    f.seek(0)
    f.truncate()
    f.write(state)
    f.flush()
    f.close()


def claim_for_actor(out: str, name: str) -> bool:
    """Whether an actor scores chunk `name`: yes unless the driver scored it whole. Waits while the driver is
    scoring it (at most one item: the driver stops once an actor has started)."""
    f = _link_claim(out, name, "ray", lock=False)
    if f is not None:
        f.close()
        return True
    with open(os.path.join(claims_dir(out), name.rsplit(".", 1)[0]), encoding="utf-8") as g:
        fcntl.flock(g, fcntl.LOCK_SH)
        return g.read() != "done"


def read_journal(path: str) -> tuple[dict[int, dict], dict[int, int]]:
    """(rows done by item index, starts without a row by item index) from a journal; a last line cut short by a
    crash is ignored."""
    done: dict[int, dict] = {}
    starts: dict[int, int] = {}
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    e = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "done" in e:
                    done[e["done"]] = e["row"]
                elif "start" in e:
                    starts[e["start"]] = starts.get(e["start"], 0) + 1
    except FileNotFoundError:
        pass
    return done, {i: n for i, n in starts.items() if i not in done}


def _ray_node_id() -> str | None:
    """The id of the Ray node this process runs on (hex, as `ray status` lists it), or None outside Ray; never
    imports Ray (an actor has it loaded, the driver's scoring process does not need it)."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    return ray.get_runtime_context().get_node_id()


def model_identity(model) -> dict[str, Any]:
    """What makes two runs' results comparable: model name, version, weights sha256 and calibration id."""
    cal = model.calibration
    return {"model": model.name, "model_version": model.version, "weights_sha256": model.weights_sha256,
            "calibration_id": None if cal is None else cal.id}


class ChunkScorer:
    """Ray Data's callable class: built once per actor (loads the model), called with one chunk at a time."""

    def __init__(self, config: WorkerConfig):
        from vqual.api import load_model
        from vqual.errors import VqualError
        from vqual.runtime import set_threads, tune_allocator

        set_threads(config.threads)  # before the model's sessions are made: ONNX Runtime, decoding, BLAS
        tune_allocator()
        self.c = config
        self.model = load_model(config.model, max_pixels=config.max_pixels, calibration=config.calibration)
        if model_identity(self.model) != config.identity:
            import socket

            raise VqualError(f"the worker on {socket.gethostname()} loaded {model_identity(self.model)}, not the "
                             f"driver's {config.identity}: install the same vqual and models on every node")
        self.scored = 0  # items this process scored (fault injection)
        self.started = False  # this actor has received a chunk
        self.node = _ray_node_id()  # the Ray node this actor runs on (None in the driver's scoring process)
        self.parent_pid = os.getppid()  # the raylet (an actor) or the driver (its scoring process)

    def __call__(self, batch: pa.Table) -> pa.Table:
        stats: dict[str, list] = {"path": [], "reason": [], "elapsed_ms": [], "node": []}
        for chunk, page, start, stop in zip(*(batch.column(k).to_pylist() for k in ("chunk", "page", "start",
                                                                                      "stop"))):
            for row in self.score_chunk(chunk, page, start, stop):
                stats["path"].append(row["path"])
                stats["reason"].append((row.get("error") or {}).get("reason"))
                stats["elapsed_ms"].append((row.get("provenance") or {}).get("elapsed_ms", 0.0))
                stats["node"].append(self.node)
        return pa.table(stats, schema=pa.schema([("path", pa.string()), ("reason", pa.string()),
                                                 ("elapsed_ms", pa.float64()), ("node", pa.string())]))

    def _stopping(self) -> bool:
        """Stop at the next item: a stop was asked (the STOP file), or this process lost its parent (an embedded
        Ray's actor whose driver was killed outright outlives it by seconds, and would otherwise write shards while
        the next run recovers its journal and scores the same items)."""
        return os.getppid() != self.parent_pid or os.path.exists(os.path.join(work_dir(self.c.out), STOP_FILE))

    def _claim(self, name: str) -> bool:
        if not self.started:  # the driver stops scoring at its next item
            if self.c.fault is not None and self.c.fault.actor_waits_for_driver:
                _wait_for_a_driver_chunk(self.c.out)
            self.started = True
            os.makedirs(claims_dir(self.c.out), exist_ok=True)
            open(os.path.join(claims_dir(self.c.out), READY), "a").close()
        return claim_for_actor(self.c.out, name)

    def score_chunk(self, chunk: int, page: str, start: int, stop: int) -> list[dict]:
        """Score rows [start, stop) of a listing page into shard `chunk` of this run; the rows written (none when
        stopped before the end: the journal keeps what was done)."""
        from vqual.api import score_one
        from vqual.inputs import unmatched_failure
        from vqual.output import json_row
        from vqual.result import Failure

        name = shard_name(self.c.run, chunk, self.c.fmt)
        if not self._claim(name):
            return []  # the driver scored it (and counted its rows)
        items = pq.read_table(page).slice(start, stop - start).to_pylist()
        jpath = journal_path(self.c.out, name)
        done, starts = read_journal(jpath)
        os.makedirs(os.path.dirname(jpath), exist_ok=True)
        rows: list[dict] = []
        with open(jpath, "a", encoding="utf-8") as journal:
            fcntl.flock(journal, fcntl.LOCK_EX)  # held while this process is on the chunk (`run._in_progress`)
            for i, it in enumerate(items):
                if i in done:
                    rows.append(done[i])
                    continue
                if self._stopping():
                    return []
                path = it["path"]
                if starts.get(i, 0) >= self.c.max_attempts:
                    item = Failure(path=path, reason=CRASHED,
                                   message=f"{path}: the worker scoring it died {starts[i]} times (killed, or out of "
                                           "memory); not retried")
                else:
                    journal.write(json.dumps({"start": i}) + "\n")
                    journal.flush()
                    self._fault_before(path)
                    item = unmatched_failure(path) or score_one(self.model, path)
                row = dict(json_row(item, self.c.timeline), size=it["size"], mtime_ns=it["mtime_ns"])
                journal.write(json.dumps({"done": i, "row": row}, allow_nan=False) + "\n")
                journal.flush()
                rows.append(row)
                self.scored += 1
                self._fault_after()
            write_shard(os.path.join(self.c.out, name), rows, self.c.fmt)  # the journal still locked: a stop waits
            os.remove(jpath)
        return rows

    def _fault_before(self, path: str) -> None:
        f = self.c.fault
        if f is not None and f.crash_on is not None and f.crash_on in path:
            os.kill(os.getpid(), signal.SIGKILL)

    def _fault_after(self) -> None:
        f = self.c.fault
        if f is None or f.kill_after is None or self.scored < f.kill_after:
            return
        try:
            os.close(os.open(os.path.join(work_dir(self.c.out), "fault-killed"), os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)


def _wait_for_a_driver_chunk(out: str, timeout: float = 120.0) -> None:
    """`FaultPlan.actor_waits_for_driver`: wait until a claim says ``done`` (a chunk the driver scored whole)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for n in os.listdir(claims_dir(out)) if os.path.isdir(claims_dir(out)) else []:
            try:
                with open(os.path.join(claims_dir(out), n), encoding="utf-8") as f:
                    if f.read() == "done":
                        return
            except OSError:
                pass
        time.sleep(0.05)


class DriverScorer(ChunkScorer):
    """The driver's own scoring while the actors start, in a process of its own (`start_driver_scorer`): chunks from
    the end of the listing, each claimed for the driver, until an actor has started, the run stops or the driver is
    gone. A file that crashes it (killed, out of memory) costs the run nothing: its claim is left neither ``done``
    nor locked, and the actor that receives the chunk continues from the journal, the crash counted as an attempt."""

    def __init__(self, config: WorkerConfig, chunks: list[dict[str, Any]], parent: int):
        super().__init__(config)
        self.chunks = chunks
        self.parent_pid = parent  # the driver

    def _stopping(self) -> bool:
        return os.path.exists(os.path.join(claims_dir(self.c.out), READY)) or super()._stopping()

    def _claim(self, name: str) -> bool:
        return True  # claimed by run(), which holds the claim's lock

    def run(self, results) -> None:
        """Score until stopped; put each finished chunk's (failure reason, elapsed ms) per row on `results`, and the
        number of items scored in a chunk left part done (its rows reach the driver from the actor that ends it)."""
        for c in reversed(self.chunks):
            if self._stopping():
                return
            name = shard_name(self.c.run, c["chunk"], self.c.fmt)
            claim = claim_for_driver(self.c.out, name)
            if claim is None:
                return  # the actors have reached the chunks the driver did
            state, before = "released", self.scored
            try:
                rows = self.score_chunk(c["chunk"], c["page"], c["start"], c["stop"])
                if rows:
                    state = "done"
                    results.put([((r.get("error") or {}).get("reason"),
                                  (r.get("provenance") or {}).get("elapsed_ms")) for r in rows])
                elif self.scored > before:  # rows left in the journal, which the actor's rows will bring
                    results.put(self.scored - before)
            finally:
                settle_claim(claim, state)


def _driver_scorer_main(config: WorkerConfig, chunks: list[dict[str, Any]], parent: int, results) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the driver, which stops this with the STOP file
    os.nice(19)  # the lowest priority (Linux caps it there): CPU that Ray's start-up and the actors leave idle only
    DriverScorer(config, chunks, parent).run(results)


def start_driver_scorer(config: WorkerConfig, chunks: list[dict[str, Any]]):
    """Start the driver's scoring process; returns (process, queue of its finished chunks' rows)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # not fork: the driver has threads (Arrow's, Ray's)
    results = ctx.SimpleQueue()
    proc = ctx.Process(target=_driver_scorer_main, args=(config, chunks, os.getpid(), results), daemon=True,
                       name="vqual-batch-driver-scorer")
    proc.start()
    return proc, results
