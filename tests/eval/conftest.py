"""Fixtures of the evaluation tests (the fake model and data helpers live in evalfakes.py)."""

from __future__ import annotations

import pytest
from evalfakes import BrightnessModel, make_image_set


@pytest.fixture
def fake_model():
    return BrightnessModel()


@pytest.fixture
def image_set(tmp_path):
    return make_image_set(tmp_path / "set")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Never touch the user's cache."""
    monkeypatch.setenv("VQUAL_CACHE_DIR", str(tmp_path / "cache"))
