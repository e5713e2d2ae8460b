"""Turning command-line style inputs (files, folders, globs) into an ordered list of media paths."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from vqual.media import IMAGE_EXTS, VIDEO_EXTS

MEDIA_EXTS = frozenset(e.lower() for e in (*IMAGE_EXTS, *VIDEO_EXTS))


def _is_media_name(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in MEDIA_EXTS


def expand_inputs(items: list[str]) -> list[str]:
    """Expand files, folders (recursively, media extensions only, sorted) and glob patterns, keeping order.

    A file named explicitly is kept whatever its extension (so that a bad file is reported, not skipped); a path
    that exists nowhere is kept too, and scoring reports it as missing. Duplicates are dropped.
    """
    out: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        if p not in seen:
            seen.add(p)
            out.append(p)

    for item in items:
        if os.path.isdir(item):
            found = []
            for root, dirs, files in os.walk(item):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(os.path.join(root, f) for f in files if not f.startswith(".") and _is_media_name(f))
            for p in sorted(found):
                add(p)
        elif os.path.exists(item) or not glob.has_magic(item):
            add(item)
        else:
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                add(item)  # reported as missing
            for p in matches:
                if os.path.isdir(p):
                    continue
                add(p)
    return [str(Path(p)) if not p.startswith("./") else p for p in out]
