"""Per-item prediction cache, so that re-running an evaluation with another protocol does not re-score media.

Key: (model name, model version, weights sha256, absolute media path, file size). Value: the `QualityResult`
JSON. Storage: one sqlite3 file, ``predictions.sqlite`` in `default_cache_dir` (``vqual.paths.cache_dir("eval")``,
default ``~/.cache/vqual/eval``). Each `put` is its own transaction, so an
interrupted run (Ctrl-C, kill) leaves every committed prediction readable and nothing half-written. Failed items
are not cached: they are retried on the next run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

from vqual.paths import cache_dir
from vqual.result import QualityResult

if TYPE_CHECKING:
    from vqual.models.base import Scorer

CACHE_FILE = "predictions.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    model TEXT NOT NULL,
    version TEXT NOT NULL,
    weights TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (model, version, weights, path, size)
)
"""


def default_cache_dir() -> Path:
    """`vqual.paths.cache_dir` ``("eval")``: ``$VQUAL_CACHE_DIR/eval``, else ``$VQUAL_HOME/eval``, else
    ``$XDG_CACHE_HOME/vqual/eval``, else ``~/.cache/vqual/eval``."""
    return cache_dir("eval")


def model_key(model: Scorer) -> tuple[str, str, str]:
    """(name, version, weights sha256 or "") of a model."""
    return (str(model.name or type(model).__name__), str(model.version or ""), str(model.weights_sha256 or ""))


class PredictionCache:
    """sqlite3-backed store of `QualityResult`s keyed by model identity and media path + size."""

    def __init__(self, directory: str | Path | None = None):
        self.dir = Path(directory).expanduser() if directory is not None else default_cache_dir()
        self.path = self.dir / CACHE_FILE
        self.dir.mkdir(parents=True, exist_ok=True)
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=30.0)
            conn.execute(_SCHEMA)
            conn.commit()
            return conn
        except sqlite3.DatabaseError as e:
            # A file that is not a database (or is damaged beyond sqlite's own recovery): move it aside, start anew.
            aside = self.path.with_name(f"{CACHE_FILE}.broken-{int(time.time())}")
            try:
                os.replace(self.path, aside)
            except OSError:
                raise e from None
            print(f"vqual eval: prediction cache {self.path} was unreadable ({e}); moved to {aside}", file=sys.stderr)
            conn = sqlite3.connect(self.path, timeout=30.0)
            conn.execute(_SCHEMA)
            conn.commit()
            return conn

    @staticmethod
    def media_key(path: str | Path) -> tuple[str, int]:
        p = Path(path).resolve()
        return str(p), p.stat().st_size

    def get(self, model: Scorer, path: str | Path) -> QualityResult | None:
        """The cached result of `model` on `path`, or None (also None when the file changed size or vanished)."""
        try:
            mpath, size = self.media_key(path)
        except OSError:
            return None
        row = self._conn.execute(
            "SELECT result FROM predictions WHERE model=? AND version=? AND weights=? AND path=? AND size=?",
            (*model_key(model), mpath, size)).fetchone()
        if row is None:
            return None
        try:
            return QualityResult.from_dict(json.loads(row[0]))
        except (ValueError, TypeError, KeyError):
            return None  # written by another schema version: treat as a miss, it will be overwritten

    def put(self, model: Scorer, path: str | Path, result: QualityResult) -> None:
        """Store one result (one transaction). Calibrated results are refused (ValueError): the cache holds the
        model's own predictions, a calibration is applied after reading them."""
        if result.provenance.calibration_id is not None:
            raise ValueError(f"calibrated result ({result.provenance.calibration_id}) not cached")
        mpath, size = self.media_key(path)
        with self._conn:
            self._conn.execute("INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?)",
                               (*model_key(model), mpath, size, result.to_json(), time.time()))

    def count(self, model: Scorer | None = None) -> int:
        if model is None:
            return int(self._conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0])
        return int(self._conn.execute("SELECT COUNT(*) FROM predictions WHERE model=? AND version=? AND weights=?",
                                      model_key(model)).fetchone()[0])

    def clear(self, model: Scorer | None = None) -> int:
        """Delete every entry (or those of one model); returns how many."""
        with self._conn:
            if model is None:
                cur = self._conn.execute("DELETE FROM predictions")
            else:
                cur = self._conn.execute("DELETE FROM predictions WHERE model=? AND version=? AND weights=?",
                                         model_key(model))
        return int(cur.rowcount)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
