"""A generic manifest for anyone's own labelled media, and the bundled `clive-fewlabel` development set.

Manifest formats:

- CSV / TSV with a header: a path column (``path``, ``file``, ``filename``, ``image``, ``video`` or ``name``), a
  ``mos`` column (or ``score`` / ``label``), and optionally ``split``, ``content_id`` (or ``content`` / ``group`` /
  ``reference`` / ``ref``: items of one content are never split across training and test), ``mos_std``, and
  ``reference_path`` (or ``ref_path``): the pristine source of the item, for full-reference metrics
  (``vqual eval --metric``);
- JSON Lines (``.jsonl``): one object per line with the same keys (or a ``.json`` file holding a list of them).

Relative paths (of the media and of the references) are relative to the manifest's folder (or to `root` when
given). Another column can be named as the reference path (`load_manifest`'s `reference_column`, ``vqual eval
--reference COLUMN``; e.g. a ``reference`` column that holds paths). A reference path is kept in the item's
``extra["reference"]`` (absolute); when the manifest has no content column, items sharing a reference are one
content.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from vqual.data.base import Dataset, DatasetError, DatasetInfo, RawLabel, parse_float
from vqual.data.formats import pick_column, read_table
from vqual.data.registry import LoadContext, build_dataset, register
from vqual.media.kind import IMAGE_EXTS, VIDEO_EXTS

PATH_COLUMNS = ("path", "file", "filename", "file_name", "image", "video", "media", "name")
MOS_COLUMNS = ("mos", "score", "label", "mos_score")
SPLIT_COLUMNS = ("split", "set")
CONTENT_COLUMNS = ("content_id", "content", "group", "reference", "ref")
STD_COLUMNS = ("mos_std", "std", "sd")
REFERENCE_COLUMNS = ("reference_path", "ref_path")


def read_manifest_rows(path: Path, dataset: str) -> list[dict[str, Any]]:
    """The rows of a CSV/TSV/JSONL/JSON manifest as dicts."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{dataset}: manifest {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        text = path.read_text(encoding="utf-8-sig")
        if suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{dataset}: {path} is not valid JSON ({e})") from None
            if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
                raise DatasetError(f"{dataset}: {path} must hold a JSON list of objects")
            return data
        return list(iter_json_lines(text.splitlines(), path, dataset))
    return read_table(path, dataset, header_hint=PATH_COLUMNS)


def iter_json_lines(lines: Iterable[str], path: str | Path, dataset: str) -> Iterator[dict[str, Any]]:
    """The objects of JSON Lines, one line at a time (blank lines skipped); `DatasetError` naming the file and line for
    a line that is not a JSON object."""
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DatasetError(f"{dataset}: {path} line {ln} is not valid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise DatasetError(f"{dataset}: {path} line {ln} is not a JSON object")
        yield obj


def infer_mos_range(values: list[float]) -> tuple[float, float]:
    """The usual label scale that holds all `values`: 1-5, 0-1, 0-5, 0-10 or 0-100, else (min, max)."""
    lo, hi = min(values), max(values)
    for a, b in ((1.0, 5.0), (0.0, 1.0), (0.0, 5.0), (0.0, 10.0), (0.0, 100.0)):
        if a <= lo and hi <= b:
            return (a, b)
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def infer_kind(paths: list[Path]) -> str:
    n_video = sum(1 for p in paths if p.suffix.lower() in VIDEO_EXTS)
    n_image = sum(1 for p in paths if p.suffix.lower() in IMAGE_EXTS)
    if n_video and n_image:
        return "mixed"
    return "video" if n_video else "image"


def _resolve(rel: str, base: Path) -> Path:
    p = Path(rel).expanduser()
    return p if p.is_absolute() else base / p


def _manifest_labels(ctx: LoadContext, path: Path, rows: list[dict[str, Any]], base: Path,
                     reference_column: str | None = None) -> Iterator[RawLabel]:
    if not rows:
        raise DatasetError(f"{ctx.name}: manifest {path} has no rows")
    head = list({k: None for r in rows for k in r})
    pcol = pick_column(head, PATH_COLUMNS, path, ctx.name)
    mcol = pick_column(head, MOS_COLUMNS, path, ctx.name)
    scol = pick_column(head, SPLIT_COLUMNS, path, ctx.name, required=False)
    ccol = pick_column(head, CONTENT_COLUMNS, path, ctx.name, required=False)
    dcol = pick_column(head, STD_COLUMNS, path, ctx.name, required=False)
    rcol = pick_column(head, (reference_column,) if reference_column else REFERENCE_COLUMNS, path, ctx.name,
                       required=bool(reference_column))
    if rcol is not None and rcol in (pcol, mcol):
        raise DatasetError(f"{ctx.name}: {path}: column {rcol!r} cannot be both the reference and the "
                           f"{'media path' if rcol == pcol else 'label'}")
    for i, row in enumerate(rows):
        rel = str(row.get(pcol) or "").strip()
        if not rel:
            ctx.skip(f"{path.name} row {i + 1}", "bad_label", f"empty {pcol}")
            continue
        try:
            mos = parse_float(row.get(mcol), f"{mcol} of {rel!r}")
        except ValueError as e:
            ctx.skip(rel, "bad_label", f"{path.name}: {e}")
            continue
        p = _resolve(rel, base)
        extra: dict[str, Any] = {}
        if dcol and row.get(dcol) not in (None, ""):
            try:
                extra["mos_std"] = parse_float(row[dcol], dcol)
            except ValueError:
                pass
        ref = str(row.get(rcol) or "").strip() if rcol else ""
        if ref:
            extra["reference"] = str(_resolve(ref, base).resolve())
        split = str(row[scol]).strip() if scol and row.get(scol) not in (None, "") else None
        content = str(row[ccol]).strip() if ccol and row.get(ccol) not in (None, "") else None
        if content is None and ref:  # items made from one source are one content
            content = extra["reference"]
        yield RawLabel(name=rel, mos=mos, path=p, content_id=content, split=split, extra=extra)


def load_manifest(path: str | Path, *, root: str | Path | None = None, mos_range: tuple[float, float] | None = None,
                  higher_is_better: bool = True, name: str | None = None, kind: str | None = None,
                  reference_column: str | None = None) -> Dataset:
    """Load your own labelled set from a CSV/TSV/JSONL manifest (see the module docstring for the columns).

    `mos_range` declares the label scale; when omitted it is inferred (1-5, 0-1, 0-5, 0-10 or 0-100, whichever
    holds every label, else min-max) and a note says so. Set `higher_is_better=False` for DMOS-like labels.
    `reference_column` names the column of reference paths (default: ``reference_path`` or ``ref_path`` if there is
    one); a named column the manifest lacks raises `DatasetError`.
    """
    path = Path(path).expanduser()
    ds_name = name or path.stem
    rows = read_manifest_rows(path, ds_name)
    base = Path(root).expanduser() if root is not None else path.parent
    provisional = DatasetInfo(name=ds_name, kind=kind or "image", mos_range=mos_range or (0.0, 1.0),
                              higher_is_better=higher_is_better, label="MOS", label_files=(path.name,))
    ctx = LoadContext(info=provisional, root=base)
    labels = list(_manifest_labels(ctx, path, rows, base, reference_column))
    if mos_range is None:
        if not labels:
            raise DatasetError(f"{ds_name}: manifest {path} has no usable labels")
        mos_range = infer_mos_range([lab.mos for lab in labels])
        ctx.note(f"label range not given: {mos_range[0]:g}-{mos_range[1]:g} inferred from the labels")
    elif not mos_range[1] > mos_range[0]:
        raise DatasetError(f"{ds_name}: MOS range must have low < high, got {mos_range[0]:g}-{mos_range[1]:g}")
    info = DatasetInfo(name=ds_name, title=ds_name, kind=kind or infer_kind([lab.path for lab in labels if lab.path]),
                       mos_range=(float(mos_range[0]), float(mos_range[1])), higher_is_better=higher_is_better,
                       label="MOS" if higher_is_better else "DMOS", label_files=(path.name,),
                       splits=tuple(sorted({lab.split for lab in labels if lab.split})),
                       notes=f"manifest {path}")
    ctx.info = info
    return build_dataset(info, base, labels, ctx)


# --- clive-fewlabel -----------------------------------------------------------------------------------------------

CLIVE_FEWLABEL = DatasetInfo(
    name="clive-fewlabel", title="CLIVE few-label development subset", kind="image", mos_range=(0.0, 100.0),
    label="MOS", label_files=("labels.csv",),
    notes="200 CLIVE images with MOS (0-100) and mos_std in labels.csv (image,mos,mos_std; paths relative to the "
          "folder). A development set, not a benchmark.")


@register(CLIVE_FEWLABEL, aliases=("clivefewlabel", "fewlabel"))
def load_clive_fewlabel(ctx: LoadContext) -> Iterator[RawLabel]:
    """``labels.csv`` (``image,mos,mos_std``) in the folder, image paths relative to it."""
    path = ctx.root / "labels.csv"
    if not path.is_file():
        raise DatasetError(f"{ctx.name}: label file 'labels.csv' not found in {ctx.root}")
    rows = read_manifest_rows(path, ctx.name)
    yield from _manifest_labels(ctx, path, rows, ctx.root)
