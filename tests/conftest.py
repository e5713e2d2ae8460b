"""Shared test set-up: makes ``tests/`` importable so tests can ``import mediagen`` (synthetic media helpers)."""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def one_thread():
    """Tiny images: torch threads only add overhead (and contention on a busy machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture()
def isolated_home(tmp_path, monkeypatch):
    """User models and the prediction cache in the test's own folders."""
    monkeypatch.setenv("VQUAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VQUAL_CACHE_DIR", str(tmp_path / "cache"))
