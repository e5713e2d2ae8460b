"""Listing a batch's inputs as a stream, into pages on disk, so that the driver never holds the list.

Inputs are what `vqual score` takes (files, folders, glob patterns: `vqual.inputs.iter_inputs`, here in the file
system's order) plus manifests, named by their extension: ``.csv`` / ``.tsv`` with a header that has a path column
(the names `vqual.data.manifest.PATH_COLUMNS` accepts: ``path``, ``file``, ``filename``, ...), ``.jsonl`` /
``.ndjson`` (one object per line with such a key) and ``.txt`` / ``.lst`` (one path per line; blank lines and lines
starting with ``#`` skipped). A manifest's relative paths are relative to its folder. Every one is read a line at a
time.

The files already given, and those already in the output, are remembered as 64-bit hashes (`KeySet`: about 8 bytes
a file once merged), not as strings.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vqual.data.base import DatasetError
from vqual.data.formats import pick_column, sniff_delimiter
from vqual.data.manifest import PATH_COLUMNS, iter_json_lines
from vqual.inputs import iter_inputs

MANIFEST_EXTS = (".csv", ".tsv", ".jsonl", ".ndjson", ".txt", ".lst")
PAGE_SCHEMA = pa.schema([("path", pa.string()), ("size", pa.int64()), ("mtime_ns", pa.int64())])


def key_hash(key: str) -> int:
    """A string's 64-bit hash (blake2b; the same in every process and on every machine)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little")


def file_key(path: str, size: int | None, mtime_ns: int | None) -> str:
    """What identifies an input for resuming: its path as given, size and modification time."""
    return f"{path}\0{size}\0{mtime_ns}"


class KeySet:
    """A set of strings kept as their 64-bit hashes: new ones in a small Python set, merged now and then into a
    sorted numpy array (8 bytes a key). Two different keys share a hash with probability ~n²/2⁶⁵ (1e-7 for a
    million keys)."""

    MERGE_EVERY = 65536

    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.uint64)
        self._recent: set[int] = set()

    def __len__(self) -> int:
        self._merge()
        return int(self._sorted.size)

    def _merge(self) -> None:
        if self._recent:
            new = np.fromiter(self._recent, dtype=np.uint64, count=len(self._recent))
            self._sorted = np.union1d(self._sorted, new)
            self._recent.clear()

    def _has(self, h: int) -> bool:
        if h in self._recent:
            return True
        i = int(np.searchsorted(self._sorted, np.uint64(h)))
        return i < self._sorted.size and int(self._sorted[i]) == h

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._has(key_hash(key))

    def add(self, key: str) -> None:
        h = key_hash(key)
        if not self._has(h):
            self._recent.add(h)
            if len(self._recent) >= self.MERGE_EVERY:
                self._merge()


def _manifest_paths(path: str) -> Iterator[str]:
    """The paths a manifest names, a line at a time; `DatasetError` (naming the file and line) when it cannot be
    read or has no path column."""
    base = os.path.dirname(path)
    ext = os.path.splitext(path)[1].lower()
    try:
        f = open(path, encoding="utf-8-sig", newline="")
    except OSError as e:
        raise DatasetError(f"{path}: cannot read the manifest ({e.strerror or e})") from None
    with f:
        try:
            if ext in (".txt", ".lst"):
                for line in f:
                    p = line.strip()
                    if p and not p.startswith("#"):
                        yield os.path.join(base, p)
            elif ext in (".jsonl", ".ndjson"):
                col = None
                for obj in iter_json_lines(f, path, "manifest"):
                    col = col or pick_column(obj, PATH_COLUMNS, path, "manifest")
                    if obj.get(col):
                        yield os.path.join(base, str(obj[col]))
            else:
                head = f.readline()
                reader = csv.reader(f, delimiter="\t" if ext == ".tsv" else sniff_delimiter(head))
                header = next(csv.reader([head], delimiter=reader.dialect.delimiter), [])
                col = header.index(pick_column([h.strip() for h in header], PATH_COLUMNS, path, "manifest"))
                for row in reader:
                    if len(row) > col and row[col].strip():
                        yield os.path.join(base, row[col].strip())
        except UnicodeDecodeError as e:
            raise DatasetError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def is_manifest(item: str) -> bool:
    return os.path.splitext(item)[1].lower() in MANIFEST_EXTS and os.path.isfile(item)


def iter_paths(items: Iterable[str], notes: list[str] | None, seen: KeySet) -> Iterator[str]:
    """Every input path of `items` (inputs and manifests) once, streamed (`iter_inputs` in file-system order)."""
    for item in items:
        if is_manifest(item):
            for p in _manifest_paths(item):
                yield from iter_inputs([p], None, sort=False, seen=seen)
        else:
            yield from iter_inputs([item], notes, sort=False, seen=seen)


def stat_key(path: str) -> tuple[int | None, int | None]:
    """(size, mtime_ns) of a file, (None, None) when it cannot be found."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None, None
    return st.st_size, st.st_mtime_ns


@dataclass
class Listing:
    """What `list_into_pages` found: the pages written (each ``page-NNNNNN.parquet`` of at most `page_size` rows),
    their row counts, and how many inputs were skipped because the output already has them."""

    pages: list[str]
    counts: list[int]
    skipped: int

    @property
    def total(self) -> int:
        return sum(self.counts)


def list_into_pages(items: list[str], folder: str, done: KeySet, *, page_size: int = 4096,
                    notes: list[str] | None = None) -> Listing:
    """Stream the inputs of `items` into Parquet pages (path, size, mtime_ns) in `folder`, leaving out those whose
    `file_key` is in `done`. Memory: one page of rows plus the `KeySet` of real paths given."""
    os.makedirs(folder, exist_ok=True)
    seen = KeySet()
    pages: list[str] = []
    counts: list[int] = []
    skipped = 0
    buf: dict[str, list] = {"path": [], "size": [], "mtime_ns": []}

    def flush() -> None:
        if not buf["path"]:
            return
        name = os.path.join(folder, f"page-{len(pages):06d}.parquet")
        pq.write_table(pa.table(buf, schema=PAGE_SCHEMA), name)
        pages.append(name)
        counts.append(len(buf["path"]))
        for v in buf.values():
            v.clear()

    for p in iter_paths(items, notes, seen):
        size, mtime = stat_key(p)
        if file_key(p, size, mtime) in done:
            skipped += 1
            continue
        buf["path"].append(p)
        buf["size"].append(size)
        buf["mtime_ns"].append(mtime)
        if len(buf["path"]) >= page_size:
            flush()
    flush()
    return Listing(pages, counts, skipped)
