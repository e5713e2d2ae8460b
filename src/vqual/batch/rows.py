"""The rows `vqual batch` writes and the shards that hold them.

A row is the JSON form `vqual score --format json` gives one input (`vqual.output.json_row`: a result's fields, or
a failure's ``path`` and ``error``), plus the input's ``size`` (bytes) and ``mtime_ns`` (modification time, integer
nanoseconds since the epoch; both null when the file could not be found). In Parquet every row has every column:
a failure's result fields are null, a result's ``error`` is null; ``level_probs`` and ``attributes`` (also a
second's) are maps from name to value, ``provenance`` and ``scale`` structs, ``timeline`` and ``worst`` lists of
structs, and ``explanation_check`` (a free-form mapping) its JSON text. `from_arrow` gives back the JSON form.

A shard (``part-RRRRR-CCCCCC.parquet`` or ``.jsonl``: run RRRRR, chunk CCCCCC) appears only when complete
(`vqual.output.AtomicOutput`: written to a temporary file, then renamed).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vqual.output import AtomicOutput

FORMATS = ("parquet", "jsonl")
SHARD_RE = re.compile(r"^part-(\d{5})-(\d{6})\.(parquet|jsonl)$")
#: Columns a row has beside a `vqual score` JSON row.
FILE_COLUMNS = ("size", "mtime_ns")

_MAP = pa.map_(pa.string(), pa.float64())
_MOMENT = pa.struct([("second", pa.int64()), ("start", pa.float64()), ("end", pa.float64()),
                     ("score", pa.float64()), ("level", pa.string()), ("attributes", _MAP),
                     ("uncalibrated_score", pa.float64()), ("explanation", pa.string())])
#: The Parquet schema, in the order of `QualityResult.to_dict` (tests check that it names every field).
SCHEMA = pa.schema([
    ("path", pa.string()),
    ("kind", pa.string()),
    ("score", pa.float64()),
    ("score_100", pa.float64()),
    ("level", pa.string()),
    ("level_probs", _MAP),
    ("uncertainty", pa.float64()),
    ("attributes", _MAP),
    ("provenance", pa.struct([("model", pa.string()), ("model_version", pa.string()),
                              ("weights_sha256", pa.string()), ("calibration_id", pa.string()),
                              ("decoder", pa.string()), ("decoder_version", pa.string()),
                              ("frame_indices", pa.list_(pa.int64())), ("elapsed_ms", pa.float64()),
                              ("vqual_version", pa.string())])),
    ("raw_score", pa.float64()),
    ("uncalibrated_score", pa.float64()),
    ("scale", pa.struct([("name", pa.string()), ("min", pa.float64()), ("max", pa.float64()),
                         ("higher_is_better", pa.bool_())])),
    ("flags", pa.list_(pa.string())),
    ("timeline", pa.list_(_MOMENT)),
    ("worst", pa.list_(_MOMENT)),
    ("explanation", pa.string()),
    ("explanation_check", pa.string()),  # JSON text
    ("width", pa.int64()),
    ("height", pa.int64()),
    ("duration", pa.float64()),
    ("fps", pa.float64()),
    ("schema", pa.int64()),
    ("error", pa.struct([("reason", pa.string()), ("message", pa.string())])),
    ("size", pa.int64()),
    ("mtime_ns", pa.int64()),
])


def shard_name(run: int, chunk: int, fmt: str) -> str:
    return f"part-{run:05d}-{chunk:06d}.{fmt}"


def to_arrow(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (JSON form + size, mtime_ns) as a table of `SCHEMA`."""
    cooked = []
    for r in rows:
        if r.get("explanation_check") is not None:
            r = dict(r, explanation_check=json.dumps(r["explanation_check"], sort_keys=True, allow_nan=False))
        cooked.append(r)
    return pa.Table.from_pylist(cooked, schema=SCHEMA)


def from_arrow(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of a shard table in their JSON form: a result's fields (maps as dicts, ``explanation_check`` parsed)
    or a failure's ``path`` and ``error``, each with ``size`` and ``mtime_ns``."""
    out = []
    for r in table.to_pylist(maps_as_pydicts="strict"):
        if r.get("error") is not None:
            out.append({"path": r["path"], "error": r["error"], "size": r["size"], "mtime_ns": r["mtime_ns"]})
            continue
        r.pop("error", None)
        if r.get("explanation_check") is not None:
            r["explanation_check"] = json.loads(r["explanation_check"])
        out.append(r)
    return out


def write_shard(path: str, rows: list[dict[str, Any]], fmt: str) -> None:
    """Write `rows` as one shard at `path`, atomically (`OutputError` if it cannot be written)."""
    sink = AtomicOutput(path)
    try:
        if fmt == "parquet":
            sink.stream.flush()
            pq.write_table(to_arrow(rows), sink.stream.buffer, compression="zstd")
        else:
            for r in rows:
                sink.stream.write(json.dumps(r, allow_nan=False) + "\n")
        sink.commit()
    finally:
        sink.abort()


def read_shard(path: str) -> list[dict[str, Any]]:
    """The rows of one shard in their JSON form (`from_arrow`)."""
    if path.endswith(".parquet"):
        return from_arrow(pq.read_table(path, schema=SCHEMA))
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@dataclass
class ShardKeys:
    """What resuming and the summary need of a shard: each row's path, size, mtime_ns and failure reason (None when
    scored)."""

    path: list[str]
    size: list[int | None]
    mtime_ns: list[int | None]
    reason: list[str | None]


def read_keys(path: str) -> ShardKeys:
    """The `ShardKeys` of one shard (only those columns are read from a Parquet shard)."""
    if path.endswith(".parquet"):
        t = pq.read_table(path, columns=["path", "size", "mtime_ns", "error"], schema=SCHEMA)
        reason = t.column("error").combine_chunks().field("reason") if t.num_rows else pa.array([], pa.string())
        return ShardKeys(t.column("path").to_pylist(), t.column("size").to_pylist(), t.column("mtime_ns").to_pylist(),
                         reason.to_pylist())
    rows = read_shard(path)
    return ShardKeys([r["path"] for r in rows], [r.get("size") for r in rows], [r.get("mtime_ns") for r in rows],
                     [(r.get("error") or {}).get("reason") for r in rows])


def shards(out: str) -> list[str]:
    """The complete shards in `out` (sorted by name)."""
    try:
        names = os.listdir(out)
    except FileNotFoundError:
        return []
    return [os.path.join(out, n) for n in sorted(names) if SHARD_RE.match(n)]


def read_results(out: str) -> Iterator[dict[str, Any]]:
    """Every row of a `vqual batch` output folder in its JSON form, shard by shard."""
    for p in shards(out):
        yield from read_shard(p)
