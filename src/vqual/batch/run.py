"""The driver of `vqual batch`: list the inputs into pages, run the chunks through Ray Data on an actor pool, keep
the output folder consistent, write ``summary.json``.

Ray Data pipeline: a dataset of chunks (a slice of a listing page; one chunk becomes one shard) -> `map_batches`
on a pool of `ChunkScorer` actors, each holding one loaded model (`--workers` actors, `cpus_per_worker` CPUs and
as many scoring threads each; one chunk in flight per actor) -> one small row per item back to the driver (path,
failure reason, time), for the counts and the progress. The actors write the shards themselves (the output folder
must be on a file system every node sees): a shard is written whole and atomically, so that a stop or a crash never
leaves half a shard, and Ray's own writers are not used for that reason. While Ray starts and the actors load their
models, a process of the driver scores chunks from the end of the listing (`vqual.batch.worker.DriverScorer`; not
with a cluster's address), so that the seconds of start-up are not idle.

Output folder: ``batch.json`` (model identity, format, timeline: a rerun must match it), the shards, ``summary.json``
and, while a run is going on, ``.work/`` (listing pages, journals, lock).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from vqual.batch.listing import KeySet, file_key, list_into_pages
from vqual.batch.rows import FORMATS, SHARD_RE, read_keys, shards, write_shard
from vqual.batch.worker import (
    STOP_FILE,
    ChunkScorer,
    FaultPlan,
    WorkerConfig,
    claims_dir,
    model_identity,
    read_journal,
    start_driver_scorer,
    work_dir,
)
from vqual.errors import OutputError, VqualError
from vqual.output import write_atomic
from vqual.version import __version__

OUT_META = "batch.json"
SUMMARY = "summary.json"
STOP_GRACE = 30.0  # seconds a stop waits for the items being scored to finish
OBJECT_STORE_BYTES = 256 * 1024 * 1024  # the embedded Ray's object store: only small rows pass through it
CHUNKS_PER_WORKER = 8  # a listing is cut into at least this many chunks per worker (balance at the end)


class BatchUsageError(VqualError):
    """A batch that cannot start as asked (exit code 2): an output folder that belongs to another model or format,
    is not a batch output, or is being written by another run."""


@dataclass
class BatchOptions:
    """A `vqual batch` run (the command line's options)."""

    inputs: list[str]
    out: str
    model: str | None = None
    calibration: str | None = None
    workers: int | None = None  # actors (default: the CPUs Ray has / cpus_per_worker)
    cpus_per_worker: int = 1
    address: str | None = None  # a running Ray cluster ("auto", "host:6379"); None: an embedded one
    fmt: str = "parquet"
    timeline: bool = False
    restart: bool = False
    max_pixels: int | None = None
    max_retries: int = 2  # times an item is retried after its worker died on it
    shard_size: int = 1000  # most items in one shard
    progress: bool | str | None = None  # vqual.progress setting: None auto, True Ray's bars, "log", False off
    command_line: str = ""
    driver_scores: bool = True  # the driver scores chunks while Ray and the actors start (not with `address`)
    fault: FaultPlan | None = None  # tests and benchmarks only


@dataclass
class RunCounts:
    """What one run did."""

    listed: int = 0  # inputs listed (after removing duplicates)
    skipped: int = 0  # already in the output (same path, size, mtime and model): not scored again
    recovered: int = 0  # rows a stopped or killed run had done, written into shards from its journals
    scored: int = 0  # items given a row by this run (results and failures)
    by_driver: int = 0  # of those, scored by the driver while the actors started
    by_node: dict[str, int] = field(default_factory=dict)  # the others by the Ray node (id) of the actor writing them
    failed: int = 0  # of those, failures
    reasons: dict[str, int] = field(default_factory=dict)  # failures by reason


def ray_temp_dir() -> str:
    """Ray's session folder: ``$VQUAL_RAY_TMPDIR``, else ``vqual-ray-UID`` in the temporary folder, or in /tmp when
    that path is long (Ray's unix sockets live below it, and a socket path is limited to 107 bytes)."""
    if os.environ.get("VQUAL_RAY_TMPDIR"):
        return os.environ["VQUAL_RAY_TMPDIR"]
    base = tempfile.gettempdir()
    if len(base) > 20:
        base = "/tmp"
    return os.path.join(base, f"vqual-ray-{os.getuid()}")


def start_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to the Ray cluster at `address`, or start an embedded single-node one with `num_cpus` CPUs (default:
    all): no usage statistics, no dashboard, a small object store, session files in `ray_temp_dir`, and workers at
    the command's own priority (Ray would make them 15 nicer: `vqual batch` then lost CPU to any other process on a
    shared machine, where `vqual score` did not). A Ctrl-C or SIGTERM while Ray starts is raised once it is up
    (`KeyboardInterrupt`, `vqual.interrupts.Terminated`); `BatchUsageError` when a cluster cannot be reached."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # also inherited by the processes Ray starts
    import ray
    import ray._private.utils as ray_utils

    from vqual.interrupts import Terminated, deferred, rearm

    # A stop while ray.init runs is held back until Ray is up (`deferred`): cut short, ray.init left Ray's dashboard
    # and runtime-env agents running after ray.shutdown (measured), and its own SIGTERM handler (kept out here when
    # Ray still installs it this way) exits on the spot, without a summary.
    set_handler = getattr(ray_utils, "set_sigterm_handler", None)
    if set_handler is not None:
        ray_utils.set_sigterm_handler = lambda handler: None
    try:
        with deferred():
            if address:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            else:
                with _without_unused_head_processes():
                    ray.init(num_cpus=num_cpus, include_dashboard=False, _temp_dir=ray_temp_dir(),
                             log_to_driver=False, object_store_memory=OBJECT_STORE_BYTES, configure_logging=False,
                             _system_config={"worker_niceness": 0})  # Ray's default, 15, ranks actors below the rest
    except ConnectionError as e:
        if not address:
            raise
        raise BatchUsageError(_connect_problem(address, e)) from None
    except SystemExit as e:  # ray.init's own SIGTERM handler, in place while it runs, exits at once
        if e.code == signal.SIGTERM:
            raise Terminated() from None
        raise
    finally:
        if set_handler is not None:
            ray_utils.set_sigterm_handler = set_handler
        rearm()  # vqual's SIGTERM handler again (ray.init replaced it), when `vqual.interrupts.handle_signals` is on


#: Ray's head processes an embedded `vqual batch` node has no use for (`_without_unused_head_processes`).
UNUSED_HEAD_PROCESSES = ("start_api_server", "start_monitor", "start_log_monitor")


@contextmanager
def _without_unused_head_processes() -> Iterator[None]:
    """While `ray.init` starts the embedded node: leave out three Python processes of Ray's head that this private,
    fixed, single-node Ray has no use for, each costing start-up CPU and a stop at `ray.shutdown` (measured with
    benchmarks/batch_startup.py): the dashboard's API server (started even with ``include_dashboard=False``, then
    serving usage statistics only, which are off; ``ray.init`` waits for it), the autoscaler's monitor (one node of
    fixed size) and the log monitor (it sends the workers' output to the driver, and ``log_to_driver`` is off).
    These are methods of Ray's private ``Node`` class (ray 2.60, pinned by the batch extra); a Ray without them
    starts whole."""
    import ray._private.node as ray_node

    saved = {}
    for name in UNUSED_HEAD_PROCESSES:
        if callable(getattr(ray_node.Node, name, None)):
            saved[name] = getattr(ray_node.Node, name)
            setattr(ray_node.Node, name, lambda self, *args, **kwargs: None)
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(ray_node.Node, name, method)


def _connect_problem(address: str, e: BaseException) -> str:
    """One line on why `ray.init(address=...)` failed, with what to do when the cluster wants a token."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    causes, c = [], e.__cause__ or e.__context__
    while c is not None and len(causes) < 5:
        causes.append(f"{type(c).__name__} {c}")
        c = c.__cause__ or c.__context__
    if any("AuthToken" in x or "AuthenticationError" in x for x in causes):
        return (f"--address {address}: the Ray cluster refused the connection for want of its token ({text}); it "
                "uses token authentication: set RAY_AUTH_MODE=token, with the head's token in ~/.ray/auth_token or "
                "$RAY_AUTH_TOKEN (Ray sends it by itself only with --address auto)")
    return f"--address {address}: cannot connect to a Ray cluster ({text}); is it running (ray status)?"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _own_files(out: str) -> list[str]:
    """The files and folders of `out` a batch writes."""
    names = []
    for n in os.listdir(out):
        if SHARD_RE.match(n) or n in (OUT_META, SUMMARY, ".work") or (n.startswith(".vqual-")
                                                                      and n.endswith(".partial")):
            names.append(os.path.join(out, n))
    return names


def _prepare_out(out: str) -> None:
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputError(f"{out}: exists and is not a folder; --out names the folder of the shards")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{out}: cannot create it ({e.strerror or e})") from None
    if not os.access(out, os.W_OK):
        raise OutputError(f"{out}: not writable")
    others = sorted(set(os.listdir(out)) - {os.path.basename(p) for p in _own_files(out)})
    if others and not os.path.exists(os.path.join(out, OUT_META)):
        raise BatchUsageError(f"--out {out} is not empty ({others[0]}, ...) and is not a vqual batch output; "
                              "give a new or empty folder")


def _lock(out: str):
    import fcntl

    os.makedirs(work_dir(out), exist_ok=True)
    f = open(os.path.join(work_dir(out), "lock"), "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        raise BatchUsageError(f"--out {out} is being written by another vqual batch (it holds {f.name})") from None
    return f


def _check_meta(out: str, meta: dict[str, Any]) -> None:
    """Write ``batch.json`` in a new output; in an existing one, refuse another model identity, format or timeline."""
    path = os.path.join(out, OUT_META)
    if not os.path.exists(path):
        write_atomic(path, json.dumps(meta, indent=2) + "\n")
        return
    try:
        with open(path, encoding="utf-8") as f:
            old = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise BatchUsageError(f"{path}: unreadable ({e}); pass --restart to start over") from None
    for key, what in (("model", "model identity"), ("format", "format"), ("timeline", "--timeline setting")):
        if old.get(key) != meta[key]:
            raise BatchUsageError(f"--out {out} holds results with another {what} ({old.get(key)}, this run: "
                                  f"{meta[key]}); pass --restart to start over, or give another --out")


def recover_journals(out: str, fmt: str) -> int:
    """Turn the journals a stopped or killed run left into shards (the rows done; a chunk whose shard exists is
    complete and its journal stale) and remove them. Returns the rows recovered."""
    folder = os.path.join(work_dir(out), "journal")
    if not os.path.isdir(folder):
        return 0
    n = 0
    for j in sorted(os.listdir(folder)):
        jpath = os.path.join(folder, j)
        name = j.rsplit(".", 1)[0] + "." + fmt
        if not os.path.exists(os.path.join(out, name)) and SHARD_RE.match(name):
            done, _ = read_journal(jpath)
            if done:
                write_shard(os.path.join(out, name), [done[i] for i in sorted(done)], fmt)
                n += len(done)
        os.remove(jpath)
    return n


def _remove_partials(out: str) -> None:
    for n in os.listdir(out):
        if n.startswith(".vqual-") and n.endswith(".partial"):
            os.remove(os.path.join(out, n))


def scan_output(out: str) -> tuple[KeySet, dict[str, Any]]:
    """The keys of the rows in `out` (`file_key`) and its counts: shards, rows, scored, failed, failures by reason,
    duplicates (rows whose key another row has: never expected)."""
    done = KeySet()
    counts: dict[str, Any] = {"shards": 0, "rows": 0, "scored": 0, "failed": 0, "reasons": {}, "duplicates": 0}
    for p in shards(out):
        k = read_keys(p)
        counts["shards"] += 1
        for path, size, mtime, reason in zip(k.path, k.size, k.mtime_ns, k.reason):
            key = file_key(path, size, mtime)
            counts["duplicates"] += key in done
            done.add(key)
            counts["rows"] += 1
            if reason is None:
                counts["scored"] += 1
            else:
                counts["failed"] += 1
                counts["reasons"][reason] = counts["reasons"].get(reason, 0) + 1
    counts["reasons"] = dict(sorted(counts["reasons"].items()))
    return done, counts


def _next_run(out: str) -> int:
    runs = [int(m[1]) for n in os.listdir(out) if (m := SHARD_RE.match(n))]
    return max(runs, default=-1) + 1


def _chunks(listing, total_workers: int, shard_size: int) -> list[dict[str, Any]]:
    size = max(1, min(shard_size, math.ceil(listing.total / (total_workers * CHUNKS_PER_WORKER))))
    chunks = []
    for page, count in zip(listing.pages, listing.counts):
        for start in range(0, count, size):
            chunks.append({"chunk": len(chunks), "page": page, "start": start, "stop": min(count, start + size)})
    return chunks


def _in_progress(out: str) -> bool:
    """Whether a live worker is on a chunk: it holds the chunk's journal locked while it does (a journal with an item
    started and no row, but not locked, is a dead worker's: Ray retries its chunk, and a stop need not wait)."""
    import fcntl

    folder = os.path.join(work_dir(out), "journal")
    if not os.path.isdir(folder):
        return False
    for j in os.listdir(folder):
        try:
            f = open(os.path.join(folder, j), "rb")
        except FileNotFoundError:  # its shard was written meanwhile
            continue
        with f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
    return False


def _workers_idle(out: str) -> bool:
    """Wait, at most STOP_GRACE s, until no live worker is on a chunk of `out` (`_in_progress`); whether none is."""
    deadline = time.monotonic() + STOP_GRACE
    while _in_progress(out):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _wait_for_earlier_workers(out: str) -> None:
    """Before recovering a killed run's journals: wait for a worker of it that is still on a chunk (its journal
    locked; an actor outlives a driver killed outright by seconds, stopping at its next item); `BatchUsageError` if
    one still is after STOP_GRACE s."""
    if not _workers_idle(out):
        raise BatchUsageError(f"--out {out}: a worker of an earlier run is still writing it (a journal in "
                              f"{os.path.join(work_dir(out), 'journal')} is locked); stop that run first")


def _request_stop(out: str) -> None:
    """Ask every worker of this run (actors and the driver's scoring process) to stop after its current item."""
    open(os.path.join(work_dir(out), STOP_FILE), "w").close()


def _stop_workers(out: str) -> None:
    """Ask the workers to stop after their current item and wait for that, at most STOP_GRACE s."""
    _request_stop(out)
    _workers_idle(out)


def run_batch(opts: BatchOptions) -> dict[str, Any]:
    """Run a batch; returns the summary written to ``OUT/summary.json`` (``status``: complete, interrupted,
    terminated). Raises `BatchUsageError` / `OutputError` / `vqual.errors.CalibrationError` before any work."""
    from vqual.api import load_model

    if opts.fmt not in FORMATS:
        raise BatchUsageError(f"--format {opts.fmt}: choose one of {', '.join(FORMATS)}")
    if opts.max_retries < 0 or opts.shard_size < 1 or opts.cpus_per_worker < 1 or (opts.workers or 1) < 1:
        raise BatchUsageError("--max-retries must be >= 0; --shard-size, --workers and --cpus-per-worker >= 1")
    if opts.address and opts.address.startswith("ray://"):
        raise BatchUsageError(f"--address {opts.address}: Ray Data does not run through Ray Client (ray://); run "
                              "vqual batch on a node of the cluster with --address auto or --address HEAD_IP:6379")
    started, t0 = _now(), time.monotonic()
    _prepare_out(opts.out)
    lock = _lock(opts.out)
    try:
        if opts.restart:
            for p in _own_files(opts.out):
                if p != work_dir(opts.out):
                    shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
            for sub in ("journal", "list"):
                shutil.rmtree(os.path.join(work_dir(opts.out), sub), ignore_errors=True)
        model = load_model(opts.model, max_pixels=opts.max_pixels, calibration=opts.calibration)
        identity = model_identity(model)
        calibration = model.calibration
        del model
        meta = {"model": identity, "format": opts.fmt, "timeline": opts.timeline, "created": started,
                "vqual_version": __version__}
        _check_meta(opts.out, meta)
        _remove_partials(opts.out)
        run = RunCounts()
        _wait_for_earlier_workers(opts.out)
        run.recovered = recover_journals(opts.out, opts.fmt)
        done, _ = scan_output(opts.out)
        notes: list[str] = []
        listing = list_into_pages(opts.inputs, os.path.join(work_dir(opts.out), "list"), done, notes=notes)
        del done
        for n in notes:
            print(f"vqual batch: {n}", file=sys.stderr)
        run.listed, run.skipped = listing.total + listing.skipped, listing.skipped
        if not run.listed:
            raise BatchUsageError(f"no media files found in {', '.join(opts.inputs)}")
        status = "complete"
        address = None
        if listing.total:
            status, address = _score(opts, listing, identity, calibration, run)
        run.recovered += recover_journals(opts.out, opts.fmt)
        _, output = scan_output(opts.out)
        summary = _summary(opts, identity, started, t0, status, address, run, output)
        write_atomic(os.path.join(opts.out, SUMMARY), json.dumps(summary, indent=2, allow_nan=False) + "\n")
        return summary
    finally:
        lock.close()
        journals = os.path.join(work_dir(opts.out), "journal")
        if not (os.path.isdir(journals) and os.listdir(journals)):  # nothing to recover: only shards remain
            shutil.rmtree(work_dir(opts.out), ignore_errors=True)


def _ray_workers(opts: BatchOptions) -> int:
    """Actors for a running Ray: ``--workers``, or as many as its CPUs hold at `cpus_per_worker` each."""
    import ray

    return opts.workers or max(1, int(ray.cluster_resources().get("CPU", 1)) // opts.cpus_per_worker)


def _score(opts: BatchOptions, listing, identity: dict, calibration, run: RunCounts) -> tuple[str, str | None]:
    """Score the listed pages on Ray (and in the driver while the actors start); returns (status, Ray address)."""
    import logging

    import pyarrow as pa  # noqa: F401 - the batch format below
    import ray  # noqa: I001 - after the environment above

    from vqual.interrupts import Terminated
    from vqual.progress import Progress

    own_ray = not ray.is_initialized()
    config = WorkerConfig(model=opts.model, calibration=calibration, max_pixels=opts.max_pixels,
                          threads=opts.cpus_per_worker, identity=identity, out=os.path.abspath(opts.out),
                          fmt=opts.fmt, timeline=opts.timeline, run=_next_run(opts.out),
                          max_attempts=opts.max_retries + 1, fault=opts.fault)
    shutil.rmtree(claims_dir(opts.out), ignore_errors=True)  # a stopped run's claims (its shards are recovered)
    if os.path.exists(os.path.join(work_dir(opts.out), STOP_FILE)):
        os.remove(os.path.join(work_dir(opts.out), STOP_FILE))
    helper = chunks = None  # the driver's scoring process while the actors start, and the queue of its rows
    if not opts.address:  # the Ray this command starts (workers x cpus_per_worker CPUs), or one already running here
        workers = (opts.workers or os.cpu_count() or 1) if own_ray else _ray_workers(opts)
        chunks = _chunks(listing, workers, opts.shard_size)
        if opts.driver_scores:
            helper = start_driver_scorer(config, chunks)
    tty = opts.progress is None and sys.stderr.isatty()
    bar = Progress(listing.total, enabled="log" if opts.progress == "log" or (opts.progress is None and not tty)
                   else False)
    status = "complete"

    def count(reason: str | None, elapsed_ms: float | None, node: str | None = None) -> None:
        run.scored += 1
        if node is not None:
            run.by_node[node] = run.by_node.get(node, 0) + 1
        if reason is not None:
            run.failed += 1
            run.reasons[reason] = run.reasons.get(reason, 0) + 1
        bar.update(failed=reason is not None, seconds=(elapsed_ms or 0.0) / 1000.0)

    def count_driver() -> None:
        while helper and not helper[1].empty():
            got = helper[1].get()
            if isinstance(got, int):  # items of a chunk the driver left part done: counted with the actor's rows
                run.by_driver += got
                continue
            for reason, elapsed_ms in got:
                count(reason, elapsed_ms)
                run.by_driver += 1

    try:
        try:
            if own_ray:
                start_ray(opts.address, None if opts.address else workers * opts.cpus_per_worker)
            import ray.data

            logging.getLogger("ray.data").setLevel(logging.ERROR)  # its start lines and notes would drown ours
            if chunks is None:  # a cluster's CPUs are known once connected
                workers = _ray_workers(opts)
                chunks = _chunks(listing, workers, opts.shard_size)
            count_driver()
            if run.scored == listing.total:  # the driver scored everything while Ray started: no actor needed
                helper[0].join(STOP_GRACE)
                return status, opts.address or "embedded"
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = opts.progress is True or tty
            if hasattr(ctx, "print_on_execution_start"):
                ctx.print_on_execution_start = False
            ds = ray.data.from_items(chunks, override_num_blocks=len(chunks)).map_batches(
                ChunkScorer, fn_constructor_kwargs={"config": config}, batch_size=1, batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=1),
                num_cpus=opts.cpus_per_worker)  # Ray Data's actors: restarted, and their tasks retried, without limit
            for row in ds.iter_rows():
                count(row["reason"], row["elapsed_ms"], row["node"])
                count_driver()
            if helper:
                helper[0].join(STOP_GRACE)
                count_driver()
        except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM, also while Ray starts: complete shards, a summary
            status = "terminated" if isinstance(e, Terminated) else "interrupted"
            _stop_workers(opts.out)
        return status, opts.address or "embedded"
    finally:
        if helper:
            if helper[0].is_alive():  # an error or a stop before the end: its journals are recovered
                _request_stop(opts.out)
                helper[0].join(STOP_GRACE)
            if helper[0].is_alive():
                helper[0].kill()
            else:
                count_driver()  # the chunks it finished since the last look (a stop: the counts in the summary)
        bar.close()
        if own_ray:
            ray.shutdown()


def _summary(opts: BatchOptions, identity: dict, started: str, t0: float, status: str, address: str | None,
             run: RunCounts, output: dict[str, Any]) -> dict[str, Any]:
    previous = []
    try:
        with open(os.path.join(opts.out, SUMMARY), encoding="utf-8") as f:
            old = json.load(f)
        previous = old.get("previous_runs", []) + [{k: old.get(k) for k in ("started", "ended", "status", "run")}]
    except (OSError, json.JSONDecodeError, AttributeError):
        pass
    this = asdict(run)
    this["reasons"] = dict(sorted(run.reasons.items()))
    this["by_node"] = dict(sorted(run.by_node.items()))
    return {"status": status, "started": started, "ended": _now(), "elapsed_s": round(time.monotonic() - t0, 3),
            "command_line": opts.command_line, "vqual_version": __version__, "model": identity,
            "format": opts.fmt, "timeline": opts.timeline, "ray_address": address, "run": this, "output": output,
            "previous_runs": previous}
