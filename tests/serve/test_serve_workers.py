"""`vqual serve --workers 2`: `/metrics` speaks for the whole service, not for whichever worker answered the scrape
(prometheus-client's multiprocess mode in a private folder; `vqual.serve.metrics`)."""

from __future__ import annotations

import os
import signal
import stat
import time

import pytest
from serverproc import Server

pytest.importorskip("fastapi", reason="needs the vqual[serve] extra (make test installs it)")
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

ROUTE = "/v1/models"


def _requests_in(families, route: str = ROUTE) -> float:
    return sum(s.value for f in families if f.name == "vqual_http_requests" for s in f.samples
               if s.name == "vqual_http_requests_total" and s.labels.get("route") == route)


def _scrape(server: Server) -> tuple[float, float]:
    """(requests answered on ROUTE, queue depth) as the service reports them."""
    status, _, text = server.request("GET", "/metrics")
    assert status == 200
    families = list(text_string_to_metric_families(text.decode()))
    depth = [s.value for f in families if f.name == "vqual_queue_depth" for s in f.samples]
    assert len(depth) == 1, depth  # one figure for the service, not one per process
    return _requests_in(families), depth[0]


def _per_worker(folder) -> dict[int, float]:
    """Requests on ROUTE counted by each worker process, read from its own file in the metrics folder."""
    out = {}
    for f in sorted(folder.glob("counter_*.db")):
        out[int(f.stem.split("_")[1])] = _requests_in(MultiProcessCollector.merge([str(f)], accumulate=True))
    return out


def test_metrics_add_up_over_workers(tmp_path):
    server = Server(tmp_path / "home", ["--workers", "2"]).start()
    try:
        folders = list((server.home / "serve").glob("vqual-metrics-*"))
        assert len(folders) == 1, folders
        folder = folders[0]
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # private to the user running the server
        sent = 0
        while sent < 400:  # new connections until both workers have answered some (the kernel picks the worker)
            for _ in range(20):
                assert server.request("GET", ROUTE)[0] == 200
                sent += 1
            counts = _per_worker(folder)
            if sum(1 for n in counts.values() if n > 0) >= 2:
                break
        counts = _per_worker(folder)
        assert sum(1 for n in counts.values() if n > 0) == 2, counts
        assert all(n < sent for n in counts.values())  # so a single worker's registry could not have said `sent`
        assert sum(counts.values()) == sent
        requests, depth = _scrape(server)
        assert requests == sent and depth == 0
        for _ in range(10):  # whichever worker answers the scrape, the figure is the same
            assert _scrape(server)[0] == sent

        # a worker killed without warning: uvicorn starts another; what the dead one answered still counts, and its
        # live gauge (its queue depth) is dropped by the next scrape instead of being added in for ever
        dead = next(pid for pid, n in counts.items() if n > 0)
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while len(list(folder.glob("counter_*.db"))) < 3:  # the replacement worker has started and counted
            assert time.monotonic() < deadline, "no replacement worker"
            assert server.request("GET", "/healthz")[0] == 200
            time.sleep(0.2)
        assert (folder / f"gauge_livesum_{dead}.db").exists()
        requests, depth = _scrape(server)
        assert requests == sent and depth == 0
        assert not (folder / f"gauge_livesum_{dead}.db").exists()
    finally:
        server.stop()
    assert not folder.exists()  # removed by the parent at exit


def test_one_worker_keeps_its_metrics_in_the_process(tmp_path):
    server = Server(tmp_path / "home").start()
    try:
        for _ in range(5):
            assert server.request("GET", ROUTE)[0] == 200
        assert _scrape(server) == (5, 0)
        assert list((server.home / "serve").glob("vqual-metrics-*")) == []
    finally:
        server.stop()
