"""The Prometheus metrics of `vqual serve` (`Metrics`), one service however many worker processes answer.

With one worker the metrics live in the process (prometheus-client's default). With ``--workers N`` each worker is a
process of its own, and a scrape is answered by whichever one the kernel handed the connection to, so the parent
(`vqual.cli.serve`) creates a private folder before the workers start (`shared_folder`) and sets
``PROMETHEUS_MULTIPROC_DIR`` to it: prometheus-client then keeps every worker's values in memory-mapped files there,
and `render` merges all of them (`MultiProcessCollector`). Counters and histograms add up over every worker that ever
ran, a worker that died included (what it counted did happen). Gauges say how they combine (`multiprocess_mode`):
the queue depth is the sum over live workers (``livesum``), the pending jobs the latest value any live worker read
from the shared job database (``livemostrecent``). A worker's live gauge files are removed when it stops
(`worker_stopped`) and, for a worker that was killed, by the next scrape (`_forget_dead`); the parent removes the
folder at exit.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from vqual.serve.jobs import process_alive

#: prometheus-client's switch to multiprocess mode: a folder shared by the worker processes.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()  # this process's own values (all of them with one worker)
        self.requests = Counter("vqual_http_requests_total", "HTTP requests answered", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("vqual_http_request_seconds", "Time to answer a request", ["route"],
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
                                 registry=self.registry)
        self.queue = Gauge("vqual_queue_depth", "Score requests waiting or running (all worker processes)",
                           registry=self.registry, multiprocess_mode="livesum")
        self.jobs = Gauge("vqual_jobs_pending", "Jobs pending or running (all processes)", registry=self.registry,
                          multiprocess_mode="livemostrecent")
        self.failures = Counter("vqual_failures_total", "Errors answered and inputs that failed, by reason",
                                ["reason"], registry=self.registry)
        self.scored = Counter("vqual_inputs_scored_total", "Inputs scored", ["kind"], registry=self.registry)
        self.stopped = Counter("vqual_stopped_total", "Scoring stopped before its end: job cancelled, request timed "
                               "out, server shutting down", ["why"], registry=self.registry)

    def render(self) -> bytes:
        """The Prometheus text of the whole service: every worker's values when they share a folder, else this
        process's."""
        folder = os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())
        if not folder:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        _forget_dead(folder)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)
        return generate_latest(registry)


def worker_stopped() -> None:
    """Called by a worker process as it stops: its live gauges (its queue depth) no longer count."""
    folder = os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())
    if folder:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(os.getpid(), folder)


def _forget_dead(folder: str) -> None:
    """Drop the live gauges of workers that are gone without saying so (killed): a crashed worker's queue depth would
    otherwise be added in for ever. Its counters stay: what it answered was answered."""
    from prometheus_client.multiprocess import mark_process_dead

    pids = {int(m.group(1)) for name in os.listdir(folder) if (m := _LIVE_FILE.fullmatch(name))}
    for pid in pids:
        if not process_alive(pid):
            mark_process_dead(pid, folder)


@contextmanager
def shared_folder(workers: int, parent: str | Path | None = None) -> Iterator[str | None]:
    """In the parent process, before the workers start: with more than one worker, a new private folder (mode 0700,
    under `parent` or the system's temporary folder) named in ``PROMETHEUS_MULTIPROC_DIR`` for the workers to
    inherit, removed with the variable on exit (and at the next start under the same `parent` if this process was
    killed). With one worker, nothing (None): the metrics stay in the process."""
    if workers <= 1:
        yield None
        return
    before = {k: os.environ.pop(k) for k in (MULTIPROC_ENV, MULTIPROC_ENV.lower()) if k in os.environ}
    if parent is not None:
        Path(parent).mkdir(parents=True, exist_ok=True)
        for old in Path(parent).glob("vqual-metrics-*-*"):  # left by a server that was killed (its pid is gone)
            pid = old.name.split("-")[2]
            if pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
    # mode 0700: only this user reads or writes it; named by this process so a later start can tell it is stale
    folder = tempfile.mkdtemp(prefix=f"vqual-metrics-{os.getpid()}-", dir=parent)
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(MULTIPROC_ENV, None)
        os.environ.update(before)
