"""Core types of the benchmark datasets: what a loader yields, what it declares, and how it reports problems.

Convention (stated once, used everywhere in `vqual.eval`): every dataset declares the range of its labels
(``mos_range``) and their direction (``higher_is_better``; DMOS sets are lower-is-better). `DatasetInfo.to_1_5`
maps a label linearly from that range onto vqual's 1-5 scale with higher = better, so that a dataset's labels,
a model's score and every RMSE are on the same scale. Rank and linear correlations do not change under this map.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vqual.errors import VqualError
from vqual.media.kind import IMAGE_EXTS, VIDEO_EXTS


class DatasetError(VqualError, ValueError):
    """A dataset cannot be loaded: unknown name, missing or malformed label file. The message names the file."""


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset declares about itself."""

    name: str  # canonical name, e.g. "koniq-10k"
    kind: str  # "image" or "video"
    mos_range: tuple[float, float]  # nominal (low, high) of the label scale
    higher_is_better: bool = True  # False for DMOS labels
    label: str = "MOS"  # what the label is ("MOS", "DMOS", "mean aesthetic score", ...)
    title: str = ""  # human name, e.g. "KonIQ-10k"
    label_files: tuple[str, ...] = ()  # the official label file(s) the loader reads
    splits: tuple[str, ...] = ()  # official splits the dataset defines (empty: none)
    url: str = ""  # where to download it
    notes: str = ""  # assumptions worth knowing

    def to_1_5(self, mos: float) -> float:
        """Map a label of this dataset linearly to 1-5 with higher = better (not clipped)."""
        lo, hi = self.mos_range
        t = (float(mos) - lo) / (hi - lo)
        if not self.higher_is_better:
            t = 1.0 - t
        return 1.0 + 4.0 * t

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "kind": self.kind, "mos_range": list(self.mos_range),
                "higher_is_better": self.higher_is_better, "label": self.label, "label_files": list(self.label_files),
                "splits": list(self.splits), "url": self.url, "notes": self.notes}


@dataclass
class Item:
    """One labelled image or video. Iterating gives ``(path, mos, content_id, split)``."""

    path: Path  # absolute media path
    mos: float  # label as the dataset gives it (see the dataset's `DatasetInfo` for range and direction)
    content_id: str  # items with the same content id are never split across train and test
    split: str | None = None  # official split, if the dataset defines one
    name: str = ""  # the identifier used in the label file
    extra: dict[str, Any] = field(default_factory=dict)  # other columns worth keeping (std, distortion type, ...)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.path, self.mos, self.content_id, self.split))


@dataclass
class Skipped:
    """A label that could not be used, with the reason (``missing_media``, ``bad_label``, ``missing_file``)."""

    name: str
    reason: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason, "detail": self.detail}


@dataclass
class Dataset:
    """A loaded dataset: its declaration, its usable items, and what was skipped and why."""

    info: DatasetInfo
    root: Path
    items: list[Item]
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def splits(self) -> dict[str, int]:
        """Item count per split (``None`` splits are counted under ``""``)."""
        out: dict[str, int] = {}
        for it in self.items:
            out[it.split or ""] = out.get(it.split or "", 0) + 1
        return out

    def subset(self, split: str) -> Dataset:
        """The items of one split (the declaration, skipped list and notes are shared)."""
        return Dataset(self.info, self.root, [it for it in self.items if it.split == split], self.skipped, self.notes)

    def summary(self) -> str:
        """One line: name, counts and what was skipped."""
        s = f"{self.info.name}: {len(self.items)} items"
        sp = {k: v for k, v in self.splits().items() if k}
        if sp:
            s += " (" + ", ".join(f"{k} {v}" for k, v in sorted(sp.items())) + ")"
        if self.skipped:
            s += f", {len(self.skipped)} skipped"
        return s


@dataclass
class RawLabel:
    """What a format parser produces before the media file is resolved and checked."""

    name: str  # identifier in the label file (reported when skipped)
    mos: float
    path: Path | None  # resolved media path, or None when it could not be found
    content_id: str | None = None  # None: the item itself
    split: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class MediaIndex:
    """Case-insensitive lookup of files below a root, built lazily by one walk of the tree."""

    def __init__(self, root: Path, exts: Iterable[str] | None = None):
        self.root = Path(root)
        self.exts = tuple(sorted(e.lower() for e in exts)) if exts else None
        self._by_name: dict[str, list[Path]] | None = None
        self._by_stem: dict[str, list[Path]] | None = None

    def _build(self) -> None:
        by_name: dict[str, list[Path]] = {}
        by_stem: dict[str, list[Path]] = {}
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for fn in sorted(filenames):
                low = fn.lower()
                if self.exts is not None and not low.endswith(self.exts):
                    continue
                p = Path(dirpath) / fn
                by_name.setdefault(low, []).append(p)
                by_stem.setdefault(os.path.splitext(low)[0], []).append(p)
        self._by_name, self._by_stem = by_name, by_stem

    def by_name(self, name: str, *, whole: bool = False) -> Path | None:
        """A file called `name` (case-insensitive) anywhere below the root; the shallowest if several.

        If `name` has folders, a hit ending with the whole relative name is preferred; with `whole` it is required.
        """
        if self._by_name is None:
            self._build()
        assert self._by_name is not None
        hits = self._by_name.get(Path(name).name.lower())
        return _best(hits, name, whole=whole)

    def by_stem(self, stem: str) -> Path | None:
        """A media file whose name without extension is `stem` (case-insensitive)."""
        if self._by_stem is None:
            self._build()
        assert self._by_stem is not None
        return _best(self._by_stem.get(stem.lower()), stem)

    def resolve(self, rel: str, *, prefixes: tuple[str, ...] = ("",), by_stem: bool = False) -> Path | None:
        """Try ``root/prefix/rel`` for each prefix, then a search by file name (or by stem when `by_stem`)."""
        rel = rel.replace("\\", "/").strip()
        for pre in prefixes:
            p = self.root / pre / rel if pre else self.root / rel
            if p.is_file():
                return p
        hit = self.by_name(rel)
        if hit is None and by_stem:
            p = Path(rel)
            hit = self.by_stem(p.stem if p.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS else p.name)
        return hit


def _best(hits: list[Path] | None, name: str, *, whole: bool = False) -> Path | None:
    if not hits:
        return None
    want = name.replace("\\", "/").lower()
    # Prefer a hit whose tail matches the whole relative name, then the shallowest.
    tail = [h for h in hits if h.as_posix().lower().endswith("/" + want)]
    if whole and "/" in want and not tail:
        return None
    pool = tail or hits
    return min(pool, key=lambda p: (len(p.parts), str(p)))


def parse_float(value: Any, what: str) -> float:
    """A finite float from a cell (accepts a decimal comma); raises ValueError naming `what`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = float(value)
    else:
        s = str(value).strip()
        if "," in s and "." not in s:
            s = s.replace(",", ".")
        try:
            v = float(s)
        except ValueError:
            raise ValueError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{what} is {v}")
    return v
