"""Readers for the label-file formats the benchmarks ship: CSV/TSV, text tables, `.xlsx` and MATLAB `.mat`.

No pandas and no openpyxl: `.xlsx` is read from the XML inside the zip with the standard library, and `.mat` with
`scipy.io.loadmat` (MATLAB v5/v7 files; v7.3 files are HDF5 and get a clear error, since h5py is not a dependency).
Every error is a `DatasetError` that names the file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np

from vqual.data.base import DatasetError

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "pr": "http://schemas.openxmlformats.org/package/2006/relationships"}


def norm_key(s: Any) -> str:
    """Column-name key: lower case, letters and digits only ("MOS full" == "mos_full" == "MOSFull")."""
    return re.sub(r"[^0-9a-z]", "", str(s).lower())


def find_label_file(root: Path, names: Iterable[str], dataset: str, *, required: bool = True,
                    max_depth: int = 4) -> Path | None:
    """The first of `names` found directly at ``root/name`` or, failing that, up to `max_depth` folders below root
    (file name compared without case).

    Raises `DatasetError` naming what was looked for when `required` and nothing is found.
    """
    root = Path(root)
    names = list(names)
    if not root.is_dir():
        raise DatasetError(f"{dataset}: dataset folder {root} does not exist or is not a folder")
    for n in names:
        p = root / n
        if p.is_file():
            return p
    wanted = {Path(n).name.lower(): i for i, n in enumerate(names)}
    found: list[tuple[int, int, str]] = []
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):  # unreadable or vanishing folders are skipped
        depth = len(Path(dirpath).parts) - base_depth
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < max_depth else []
        for fn in filenames:
            i = wanted.get(fn.lower())
            if i is not None:
                found.append((i, depth, os.path.join(dirpath, fn)))
    if found:
        return Path(min(found)[2])
    if required:
        raise DatasetError(f"{dataset}: label file {' or '.join(repr(n) for n in names)} not found under {root}")
    return None


def find_all_files(root: Path, name: str, *, max_depth: int = 4) -> list[Path]:
    """Every file called `name` (any case) up to `max_depth` folders below root, shallowest first."""
    root = Path(root)
    out: list[tuple[int, str]] = []
    base_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).parts) - base_depth
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if depth < max_depth else []
        out += [(depth, os.path.join(dirpath, fn)) for fn in filenames if fn.lower() == name.lower()]
    return [Path(p) for _, p in sorted(out)]


def sniff_delimiter(sample: str) -> str:
    first = sample.splitlines()[0] if sample else ""
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def read_csv_rows(path: Path, dataset: str, *, delimiter: str | None = None) -> list[list[str]]:
    """All rows of a CSV/TSV file (delimiter sniffed among , ; tab), BOM stripped, blank rows dropped."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = Path(path).read_text(encoding="latin-1")
    except OSError as e:
        raise DatasetError(f"{dataset}: cannot read {path}: {e.strerror or e}") from None
    delim = delimiter or sniff_delimiter(text)
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delim) if any(c.strip() for c in r)]
    return rows


def table_from_rows(rows: list[list[Any]], path: Path, dataset: str, *,
                    header_hint: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Rows (first row, or the first row containing one of `header_hint`, is the header) -> list of dicts.

    Keys are the header cells as written; use `pick_column` to find one by any spelling.
    """
    if not rows:
        raise DatasetError(f"{dataset}: {path} is empty")
    hints = {norm_key(h) for h in header_hint}
    start = 0
    if hints:
        for i, r in enumerate(rows[:20]):
            if hints & {norm_key(c) for c in r if c is not None}:
                start = i
                break
    header = [("" if c is None else str(c)).strip() for c in rows[start]]
    out = []
    for r in rows[start + 1:]:
        d = {header[j]: r[j] for j in range(min(len(header), len(r))) if header[j]}
        if any(v not in (None, "") for v in d.values()):
            out.append(d)
    return out


def read_table(path: Path, dataset: str, *, header_hint: Iterable[str] = (),
               sheet: str | None = None) -> list[dict[str, Any]]:
    """A header + rows table from ``.csv``/``.tsv``/``.txt`` (delimited) or ``.xlsx``."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        rows = read_xlsx(path, dataset, sheet=sheet)
    elif path.suffix.lower() == ".xls":
        raise DatasetError(f"{dataset}: {path} is an old binary .xls file, which vqual cannot read; "
                           "save it as .xlsx or .csv")
    else:
        rows = read_csv_rows(path, dataset)
    return table_from_rows(rows, path, dataset, header_hint=header_hint)


def pick_column(row_or_header: Iterable[str], candidates: Iterable[str], path: Path, dataset: str,
                *, required: bool = True) -> str | None:
    """The header cell matching the first of `candidates` (compared with `norm_key`)."""
    header = list(row_or_header)
    keys = {norm_key(h): h for h in header}
    for c in candidates:
        if norm_key(c) in keys:
            return keys[norm_key(c)]
    if required:
        raise DatasetError(f"{dataset}: {path} has no column {' / '.join(repr(c) for c in candidates)} "
                           f"(columns: {', '.join(repr(h) for h in header)})")
    return None


# --- xlsx --------------------------------------------------------------------------------------------------------

def _col_index(ref: str) -> int:
    letters = re.match(r"[A-Z]+", ref.upper())
    if not letters:
        return 0
    n = 0
    for ch in letters.group(0):
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def xlsx_sheet_names(path: Path, dataset: str = "xlsx") -> list[str]:
    with _open_zip(path, dataset) as z:
        wb = ET.fromstring(z.read("xl/workbook.xml"))
        return [s.get("name", "") for s in wb.iterfind("m:sheets/m:sheet", _NS)]


def _open_zip(path: Path, dataset: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise DatasetError(f"{dataset}: {path} does not exist") from None
    except zipfile.BadZipFile:
        raise DatasetError(f"{dataset}: {path} is not an .xlsx file (not a zip archive); "
                           "save it as .xlsx or .csv") from None


def read_xlsx(path: Path, dataset: str = "xlsx", *, sheet: str | None = None) -> list[list[Any]]:
    """The cells of one worksheet as rows of Python values (str, float, bool or None).

    `sheet` is a sheet name (case-insensitive); default: the first sheet. Only cell values are read (shared strings,
    inline strings, numbers, booleans, cached formula results); styles and dates-as-numbers are not interpreted.
    """
    path = Path(path)
    with _open_zip(path, dataset) as z:
        try:
            wb = ET.fromstring(z.read("xl/workbook.xml"))
            rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        except KeyError as e:
            raise DatasetError(f"{dataset}: {path} is not a valid .xlsx workbook (no {e.args[0]})") from None
        sheets = [(s.get("name", ""), s.get(f"{{{_NS['r']}}}id")) for s in wb.iterfind("m:sheets/m:sheet", _NS)]
        if not sheets:
            raise DatasetError(f"{dataset}: {path} has no worksheets")
        if sheet is None:
            name, rid = sheets[0]
        else:
            match = [s for s in sheets if s[0].lower() == sheet.lower()]
            if not match:
                names = ", ".join(s[0] for s in sheets)
                raise DatasetError(f"{dataset}: {path} has no sheet {sheet!r} (sheets: {names})")
            name, rid = match[0]
        target = None
        for rel in rels.iterfind("pr:Relationship", _NS):
            if rel.get("Id") == rid:
                target = rel.get("Target", "")
        if target is None:
            raise DatasetError(f"{dataset}: {path}: sheet {name!r} has no part")
        target = target.lstrip("/")
        part = target if target.startswith("xl/") else "xl/" + target
        shared: list[str] = []
        if "xl/sharedStrings.xml" in z.namelist():
            sst = ET.fromstring(z.read("xl/sharedStrings.xml"))
            for si in sst.iterfind("m:si", _NS):
                shared.append("".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")))
        try:
            ws = ET.fromstring(z.read(part))
        except KeyError:
            raise DatasetError(f"{dataset}: {path}: worksheet part {part} is missing") from None
    rows: list[list[Any]] = []
    for row in ws.iterfind("m:sheetData/m:row", _NS):
        cells: dict[int, Any] = {}
        for j, c in enumerate(row.iterfind("m:c", _NS)):
            ref = c.get("r")
            col = _col_index(ref) if ref else j
            t = c.get("t", "n")
            v = c.find("m:v", _NS)
            if t == "inlineStr":
                val: Any = "".join(x.text or "" for x in c.iter(f"{{{_NS['m']}}}t"))
            elif v is None or v.text is None:
                val = None
            elif t == "s":
                val = shared[int(v.text)]
            elif t == "b":
                val = v.text.strip() == "1"
            elif t in ("str", "e"):
                val = v.text
            else:
                try:
                    val = float(v.text)
                except ValueError:
                    val = v.text
            cells[col] = val
        if cells:
            width = max(cells) + 1
            rows.append([cells.get(k) for k in range(width)])
        else:
            rows.append([])
    return [r for r in rows if any(x not in (None, "") for x in r)]


# --- mat ---------------------------------------------------------------------------------------------------------

def read_mat(path: Path, dataset: str) -> dict[str, Any]:
    """Variables of a MATLAB v5/v7 `.mat` file (``scipy.io.loadmat``); a v7.3 (HDF5) file gets a clear error."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(128)
    except OSError as e:
        raise DatasetError(f"{dataset}: cannot read {path}: {e.strerror or e}") from None
    if b"MATLAB 7.3" in head or head.startswith(b"\x89HDF"):
        raise DatasetError(f"{dataset}: {path} is a MATLAB v7.3 (HDF5) file, which needs h5py; "
                           "re-save it in MATLAB with save(..., '-v7') or export the table as CSV")
    try:
        return loadmat(str(path))
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError) as e:  # foreign or corrupt file
        raise DatasetError(f"{dataset}: {path} is not a readable .mat file ({e})") from None


def mat_var(mat: dict[str, Any], names: Iterable[str], path: Path, dataset: str) -> Any:
    """The first variable of `names` present in a loaded `.mat` dict (case-insensitive)."""
    keys = {k.lower(): k for k in mat if not k.startswith("__")}
    names = list(names)
    for n in names:
        if n.lower() in keys:
            return mat[keys[n.lower()]]
    raise DatasetError(f"{dataset}: {path} has no variable {' / '.join(repr(n) for n in names)} "
                       f"(variables: {', '.join(sorted(keys.values()))})")


def mat_strings(value: Any) -> list[str]:
    """A MATLAB cell array / char matrix of strings as a flat list of Python strings."""
    arr = np.asarray(value)
    out = []
    for x in arr.ravel(order="F"):
        while isinstance(x, np.ndarray):
            if x.size == 0:
                x = ""
                break
            x = x.ravel()[0] if x.dtype.kind == "O" or x.size == 1 else "".join(str(c) for c in x.ravel())
        out.append(str(x).strip())
    return out


def mat_numbers(value: Any) -> list[float]:
    """A MATLAB numeric vector (row or column) as a flat list of floats."""
    arr = np.asarray(value)
    if arr.dtype.kind == "O":
        return [float(np.asarray(x).ravel()[0]) for x in arr.ravel(order="F")]
    return [float(x) for x in arr.astype(float).ravel(order="F")]
