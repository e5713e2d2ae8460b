"""Data the tests read from the shared folder beside the repository (``../shared/data``, or ``$VQUAL_SHARED_DATA``).

CI has that folder (it runs with ``CI=true``): there a missing file is a failure, so that a golden or data test cannot
pass by skipping. Elsewhere (a clone without the shared data) such tests are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VQUAL_SHARED_DATA", REPO.parent / "shared" / "data"))


def in_ci() -> bool:
    """True when the CI environment variable is set (to anything but "", "0" or "false")."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def skip_unless_ci(reason: str) -> None:
    """Skip the test, or fail it under CI, where everything it needs must be present."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: CI must provide it)", pytrace=False)
    pytest.skip(reason)


def shared_data(*parts: str) -> Path:
    """The path `parts` under the shared data folder; skips the test when it does not exist (fails under CI)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        skip_unless_ci(f"{path} not found (../shared/data beside the repository, or set VQUAL_SHARED_DATA)")
    return path
