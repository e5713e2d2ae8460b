"""Turning command-line style inputs (files, folders, globs) into an ordered list of media paths."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from vqual.media import IMAGE_EXTS, VIDEO_EXTS

MEDIA_EXTS = frozenset(e.lower() for e in (*IMAGE_EXTS, *VIDEO_EXTS))


def _is_media_name(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in MEDIA_EXTS


def is_unmatched_pattern(path: str) -> bool:
    """A glob pattern that `expand_inputs` kept because it matched nothing (to be reported as such)."""
    return glob.has_magic(path) and not os.path.exists(path)


def expand_inputs(items: list[str], notes: list[str] | None = None) -> list[str]:
    """Expand files, folders (recursively, media extensions only, sorted) and glob patterns, keeping order.

    A file named explicitly is kept whatever its extension (so that a bad file is reported, not skipped); a path
    that exists nowhere, or a pattern that matches nothing (`is_unmatched_pattern`), is kept too, and scoring
    reports it. The same file reached twice (``./a.jpg`` and ``a.jpg``, a folder and a file in it, a symlink) is
    kept once, as first spelled. A folder holding no media files adds a line to `notes` (when given).
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in items:
        if os.path.isdir(item):
            found = []
            for root, dirs, files in os.walk(item):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(os.path.join(root, f) for f in files if not f.startswith(".") and _is_media_name(f))
            if not found and notes is not None:
                notes.append(f"{item}: no image or video files in this folder; skipped")
            for p in sorted(found):
                add(p)
        elif os.path.exists(item) or not glob.has_magic(item):
            add(item)
        else:
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                add(item)  # reported as matching nothing
            for p in matches:
                if os.path.isdir(p):
                    continue
                add(p)
    return [str(Path(p)) if not p.startswith("./") else p for p in out]
