"""The table of built-in benchmark datasets and `load_dataset`, which turns a loader's labels into a `Dataset`."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vqual.data.base import Dataset, DatasetError, DatasetInfo, Item, MediaIndex, RawLabel, Skipped, parse_float


@dataclass
class LoadContext:
    """What a loader gets: the root folder, a place to record notes and skipped labels, and media lookup."""

    info: DatasetInfo
    root: Path
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    _indexes: dict[frozenset[str] | None, MediaIndex] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.name

    def note(self, msg: str) -> None:
        self.notes.append(msg)

    def skip(self, name: str, reason: str, detail: str = "") -> None:
        self.skipped.append(Skipped(str(name), reason, detail))

    def index(self, exts: frozenset[str] | None = None) -> MediaIndex:
        """A (cached) case-insensitive file index of the root, limited to `exts` if given."""
        if exts not in self._indexes:
            self._indexes[exts] = MediaIndex(self.root, exts)
        return self._indexes[exts]


def labels_from_table(ctx: LoadContext, path: Path, rows: list[dict], name_col: str, mos_col: str,
                      resolve, *, split=None, content=None, extra_cols: tuple[str, ...] = ()) -> Iterator[RawLabel]:
    """The row loop of the loaders that read a table: for each row, the name in `name_col` and the MOS in `mos_col`
    (a bad one is recorded in `ctx` as skipped), the media path from ``resolve(name)``, and optionally the content id
    (``content(name, row)``), the split (``split(name, row)``) and the `extra_cols` present."""
    for i, row in enumerate(rows):
        name = str(row.get(name_col, "") or "").strip()
        if name.endswith(".0") and name[:-2].isdigit():  # numeric ids read from xlsx as floats
            name = name[:-2]
        if not name:
            ctx.skip(f"{path.name} row {i + 2}", "bad_label", "empty name")
            continue
        try:
            mos = parse_float(row.get(mos_col), f"{mos_col} of {name!r}")
        except ValueError as e:
            ctx.skip(name, "bad_label", f"{path.name}: {e}")
            continue
        extra = {c: row[c] for c in extra_cols if c in row}
        yield RawLabel(name=name, mos=mos, path=resolve(name),
                       content_id=content(name, row) if content else None,
                       split=split(name, row) if split else None, extra=extra)


Loader = Callable[..., Iterable[RawLabel]]


@dataclass(frozen=True)
class DatasetSpec:
    info: DatasetInfo
    loader: Loader
    aliases: tuple[str, ...] = ()


_REGISTRY: dict[str, DatasetSpec] = {}
_ALIASES: dict[str, str] = {}
_LOADER_MODULES = ("vqual.data.video", "vqual.data.image", "vqual.data.manifest")


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def register(info: DatasetInfo, aliases: Iterable[str] = ()) -> Callable[[Loader], Loader]:
    """Decorator: register `loader(ctx, **options)` under ``info.name`` and `aliases` (compared without case,
    dashes or underscores)."""

    def deco(fn: Loader) -> Loader:
        spec = DatasetSpec(info, fn, tuple(aliases))
        _REGISTRY[info.name] = spec
        for a in (info.name, *aliases):
            _ALIASES[_key(a)] = info.name
        return fn

    return deco


def _ensure_loaded() -> None:
    for mod in _LOADER_MODULES:
        importlib.import_module(mod)


def list_datasets() -> list[DatasetInfo]:
    """Every built-in dataset's declaration, videos first, then images, each in name order."""
    _ensure_loaded()
    return sorted((s.info for s in _REGISTRY.values()), key=lambda i: (i.kind != "video", i.name))


def get_spec(name: str) -> DatasetSpec:
    _ensure_loaded()
    canon = _ALIASES.get(_key(name))
    if canon is None:
        import difflib

        close = difflib.get_close_matches(_key(name), list(_ALIASES), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(dict.fromkeys(_ALIASES[c] for c in close))}?" if close else ""
        raise DatasetError(f"unknown dataset {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[canon]


def dataset_info(name: str) -> DatasetInfo:
    """The declaration of a built-in dataset (accepts aliases such as ``koniq`` or ``livec``)."""
    return get_spec(name).info


def build_dataset(info: DatasetInfo, root: Path, labels: Iterable[RawLabel], ctx: LoadContext) -> Dataset:
    """Check each label's media file, drop (and record) the missing ones and duplicates, and build the `Dataset`."""
    items: list[Item] = []
    seen: set[str] = set()
    for lab in labels:
        if lab.path is None or not Path(lab.path).is_file():
            where = f" (expected {lab.path})" if lab.path is not None else ""
            ctx.skip(lab.name, "missing_media", f"no media file for {lab.name!r} under {root}{where}")
            continue
        p = Path(lab.path).resolve()
        if str(p) in seen:
            ctx.skip(lab.name, "duplicate", f"{p} is listed more than once; the first label is kept")
            continue
        seen.add(str(p))
        items.append(Item(path=p, mos=float(lab.mos), content_id=str(lab.content_id or lab.name), split=lab.split,
                          name=lab.name, extra=dict(lab.extra)))
    notes = list(ctx.notes)
    if ctx.skipped:
        by_reason: dict[str, int] = {}
        for s in ctx.skipped:
            by_reason[s.reason] = by_reason.get(s.reason, 0) + 1
        notes.append("skipped " + ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in sorted(by_reason.items())))
    if not items:
        first = f"; first skipped: {ctx.skipped[0].detail}" if ctx.skipped else ""
        raise DatasetError(f"{info.name}: no usable items under {root}{first}")
    return Dataset(info=info, root=Path(root).resolve(), items=items, skipped=list(ctx.skipped), notes=notes)


def load_dataset(name: str, root: str | Path, **options: Any) -> Dataset:
    """Load a built-in benchmark from the folder the user downloaded it to.

    Labels whose media file is missing are skipped and listed in ``Dataset.skipped`` (the load goes on); a missing
    or malformed label file raises `DatasetError` naming the file. `options` are loader specific (see each
    loader's docstring, e.g. ``include_practice`` for CLIVE or ``target`` for AGIQA-3K).
    """
    spec = get_spec(name)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{spec.info.name}: dataset folder {root} does not exist or is not a folder")
    accepted = loader_options(spec)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DatasetError(f"{spec.info.name}: unknown option {', '.join(unknown)} "
                           f"(accepted: {', '.join(accepted) or 'none'})")
    ctx = LoadContext(info=spec.info, root=root, options=dict(options))
    labels = list(spec.loader(ctx, **options))
    return build_dataset(spec.info, root, labels, ctx)


def loader_options(spec: DatasetSpec) -> list[str]:
    """The keyword options a dataset's loader accepts."""
    sig = inspect.signature(spec.loader)
    return [p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
