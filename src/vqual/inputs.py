"""Turning command-line style inputs (files, folders, globs) into media paths: a list for `vqual score`
(`expand_inputs`), a stream for `vqual batch` (`iter_inputs` with ``sort=False``)."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from vqual.media import IMAGE_EXTS, VIDEO_EXTS
from vqual.result import Failure

MEDIA_EXTS = frozenset(e.lower() for e in (*IMAGE_EXTS, *VIDEO_EXTS))


class SeenSet(Protocol):
    """What `iter_inputs` needs to remember the files it gave: a set of strings (`set`, or a compact one)."""

    def __contains__(self, key: object) -> bool: ...

    def add(self, key: str) -> None: ...


def _is_media_name(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in MEDIA_EXTS


def is_unmatched_pattern(path: str) -> bool:
    """A glob pattern that `expand_inputs` kept because it matched nothing (to be reported as such)."""
    return glob.has_magic(path) and not os.path.exists(path)


def unmatched_failure(path: str) -> Failure | None:
    """The `Failure` reported for a pattern that matched nothing (`is_unmatched_pattern`), else None."""
    if is_unmatched_pattern(path):
        return Failure(path=path, reason="missing", message=f"{path}: pattern matched nothing")
    return None


def _walk(folder: str, sort: bool) -> Iterator[tuple[str, str]]:
    """(path, real path) of the media files below `folder`, hidden entries and folder symlinks skipped.

    `sort`: in the order of the sorted full paths (each folder's entries are held and sorted); otherwise in the file
    system's order, one entry at a time (a folder of a million files is never held in memory). The real path of a
    file that is not a symlink is its folder's real path joined with its name (one `realpath` per folder)."""
    try:
        it = os.scandir(folder)
    except OSError:  # unreadable or vanishing folders are skipped, as os.walk does
        return
    real_folder = os.path.realpath(folder)
    with it:
        entries = sorted(it, key=lambda e: e.name + "/" if e.is_dir(follow_symlinks=False) else e.name) if sort \
            else it
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                yield from _walk(e.path, sort)
            elif _is_media_name(e.name) and not e.is_dir():  # a symlink to a folder is not descended (os.walk)
                real = os.path.realpath(e.path) if e.is_symlink() else os.path.join(real_folder, e.name)
                yield e.path, real


def _spelled(p: str) -> str:
    return p if p.startswith("./") else str(Path(p))


def iter_inputs(items: list[str], notes: list[str] | None = None, *, sort: bool = True,
                seen: SeenSet | None = None) -> Iterator[str]:
    """Files, folders (recursively, media extensions only) and glob patterns, one path at a time, in order.

    A file named explicitly is kept whatever its extension (so that a bad file is reported, not skipped); a path
    that exists nowhere, or a pattern that matches nothing (`is_unmatched_pattern`), is kept too, and scoring
    reports it. The same file reached twice (``./a.jpg`` and ``a.jpg``, a folder and a file in it, a symlink) is
    given once, as first spelled; `seen` holds the real paths given so far (a new set unless passed). A folder
    holding no media files adds a line to `notes` (when given). `sort`: folder contents and pattern matches in
    sorted order (else in the file system's order, streamed: see `_walk`).
    """
    seen = set() if seen is None else seen

    def fresh(key: str) -> bool:
        if key in seen:
            return False
        seen.add(key)
        return True

    for item in items:
        if os.path.isdir(item):
            found = False
            for p, real in _walk(item, sort):
                found = True
                if fresh(real):
                    yield _spelled(p)
            if not found and notes is not None:
                notes.append(f"{item}: no image or video files in this folder; skipped")
        elif os.path.exists(item) or not glob.has_magic(item):
            if fresh(os.path.realpath(item)):
                yield _spelled(item)
        else:
            matches = glob.iglob(item, recursive=True)
            empty = True
            for p in sorted(matches) if sort else matches:
                empty = False
                if not os.path.isdir(p) and fresh(os.path.realpath(p)):
                    yield _spelled(p)
            if empty and fresh(os.path.realpath(item)):
                yield _spelled(item)  # reported as matching nothing


def expand_inputs(items: list[str], notes: list[str] | None = None) -> list[str]:
    """`iter_inputs` as a list, in sorted order (`vqual score`)."""
    return list(iter_inputs(items, notes))
