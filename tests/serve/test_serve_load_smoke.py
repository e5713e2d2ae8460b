"""benchmarks/serve_load.py on a tiny load (2 clients, 12 answers), so that it cannot rot. Figures are not checked,
only that every stage runs and reports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="needs the vqual[serve] extra (make test installs it)")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import serve_load  # noqa: E402


def test_serve_load_runs_and_reports(tmp_path):
    images = serve_load.make_images(tmp_path, n=3)
    assert len(images) == 3 and all(p.stat().st_size > 0 for p in images)
    base = serve_load.in_process(images, seconds=0.2)
    assert base["images"] >= 1
    load = serve_load.served(images, clients=2, duration=60, max_requests=12, home=tmp_path)
    assert load["statuses"] == {"200": load["answers"]} and load["answers"] >= 12
    assert load["latency_ms"]["p50"] > 0 and load["rss_mb"]["at_end"] > 0
