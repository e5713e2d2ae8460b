"""Writing results as a table, JSON, JSON lines or CSV, to a terminal or atomically to a file."""

from __future__ import annotations

import csv
import json
import os
import stat
import tempfile
import unicodedata
from pathlib import Path
from typing import IO

from vqual.errors import OutputError
from vqual.result import FLAG_CLIPPED_INPUT, Failure, QualityResult

FORMATS = ("table", "json", "jsonl", "csv")
EXTENSION_FORMATS = {".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
CSV_FIELDS = ("path", "kind", "second", "start", "end", "score", "score_100", "level", "uncertainty", "raw_score",
              "uncalibrated_score", "attributes", "model", "model_version", "calibration_id", "flags", "elapsed_ms",
              "error_reason", "error_message")


def _top_attributes(attrs: dict[str, float], n: int = 2, floor: float = 0.05) -> str:
    top = sorted(((v, k) for k, v in attrs.items() if v >= floor), reverse=True)[:n]
    return ", ".join(f"{k} {v:.2f}" for v, k in top) or "-"


def _char_width(c: str) -> int:
    if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def display_width(s: str) -> int:
    """Columns `s` takes on a terminal: wide (CJK) characters 2, combining marks 0, others 1."""
    return sum(_char_width(c) for c in s)


def _short(path: str, width: int) -> str:
    """`path` padded to `width` terminal columns, or its end after "..." if longer."""
    if display_width(path) > width:
        tail, used = [], 3
        for c in reversed(path):
            if used + _char_width(c) > width:
                break
            tail.append(c)
            used += _char_width(c)
        path = "..." + "".join(reversed(tail))
    return path + " " * (width - display_width(path))


def scale_note(calibration: dict | None) -> str | None:
    """One line saying which scale calibrated scores are on (None without a calibration)."""
    if not calibration:
        return None
    sc = calibration["scale"]
    direction = "higher is better" if sc["higher_is_better"] else "lower is better"
    return (f"scores on {sc['name']} ({sc['min']:g}-{sc['max']:g}, {direction}) by calibration {calibration['id']}; "
            "* = outside the calibrated range, clipped")


class TableWriter:
    """Rows printed as they arrive, in fixed-width columns; failures get one line each.

    With a calibration (``meta["calibration"]``) a first line names the scale, and a score whose input was outside
    the calibrated range ends with ``*``.
    """

    def __init__(self, stream: IO[str], timeline: bool, path_width: int = 40, meta: dict | None = None):
        self.stream, self.timeline, self.w = stream, timeline, path_width
        note = scale_note((meta or {}).get("calibration"))
        if note:
            self.stream.write(note + "\n")
        self.stream.write(f"{'path':<{self.w}}  {'kind':<5}  {'score':>5}  {'0-100':>5}  {'level':<9}  {'+-':>4}  "
                          f"{'main distortions':<34}  {'ms':>7}\n")

    def write(self, item: QualityResult | Failure) -> None:
        if isinstance(item, Failure):
            message = item.message.removeprefix(f"{item.path}: ")  # the row already starts with the path
            self.stream.write(f"{_short(item.path, self.w)}  FAILED ({item.reason}): {message}\n")
            return
        r = item
        self.stream.write(f"{_short(r.path, self.w)}  {r.kind:<5}  {r.score:5.2f}  {r.score_100:5.1f}  "
                          f"{r.level:<9}  {r.uncertainty:4.2f}  {_top_attributes(r.attributes):<34}  "
                          f"{r.provenance.elapsed_ms:7.0f}{' *' if FLAG_CLIPPED_INPUT in r.flags else ''}\n")
        if r.explanation:
            check = r.explanation_check or {}
            problems = "; ".join(check.get("problems", []))
            note = "" if check.get("consistent", True) else f"  [contradicts the result: {problems}]"
            self.stream.write(f"  {r.explanation}{note}\n")
        if self.timeline and r.timeline:
            for m in r.timeline:
                label = f"  {m.start:6.1f}-{m.end:.1f}s"
                self.stream.write(f"{label:<{self.w}}  {'sec':<5}  {m.score:5.2f}  {r.scale.to_100(m.score):5.1f}  "
                                  f"{m.level:<9}  {'':>4}  {_top_attributes(m.attributes):<34}\n")
                if m.explanation:
                    self.stream.write(f"    {m.explanation}\n")

    def close(self, summary: str) -> None:
        self.stream.write(summary + "\n")


def json_row(item: QualityResult | Failure, timeline: bool) -> dict:
    """The JSON form of one result as every JSON output writes it: `QualityResult.to_dict` (its ``timeline`` None
    unless `timeline`), or a failure's ``{"path", "error": {"reason", "message"}}``."""
    d = item.to_dict()
    if isinstance(item, QualityResult) and not timeline:
        d["timeline"] = None
    return d


class JsonLinesWriter:
    def __init__(self, stream: IO[str], timeline: bool):
        self.stream, self.timeline = stream, timeline

    def write(self, item: QualityResult | Failure) -> None:
        self.stream.write(json.dumps(json_row(item, self.timeline), allow_nan=False) + "\n")

    def close(self, summary: str) -> None:
        pass


class JsonWriter:
    """One JSON document: {"results": [...], "failures": [...], ...}; written whole at the end."""

    def __init__(self, stream: IO[str], timeline: bool, meta: dict):
        self.stream, self.timeline, self.meta = stream, timeline, meta
        self.results: list[dict] = []
        self.failures: list[dict] = []

    def write(self, item: QualityResult | Failure) -> None:
        (self.failures if isinstance(item, Failure) else self.results).append(json_row(item, self.timeline))

    def close(self, summary: str) -> None:
        doc = dict(self.meta, summary=summary, results=self.results, failures=self.failures)
        json.dump(doc, self.stream, indent=2, allow_nan=False)
        self.stream.write("\n")


class CsvWriter:
    def __init__(self, stream: IO[str], timeline: bool):
        self.timeline = timeline
        self.w = csv.DictWriter(stream, fieldnames=CSV_FIELDS, lineterminator="\n")
        self.w.writeheader()

    def write(self, item: QualityResult | Failure) -> None:
        if isinstance(item, Failure):
            self.w.writerow({"path": item.path, "error_reason": item.reason, "error_message": item.message})
            return
        r = item
        self.w.writerow({"path": r.path, "kind": r.kind, "score": f"{r.score:.4f}", "score_100": f"{r.score_100:.2f}",
                         "level": r.level, "uncertainty": f"{r.uncertainty:.4f}",
                         "raw_score": "" if r.raw_score is None else f"{r.raw_score:.6g}",
                         "uncalibrated_score": "" if r.uncalibrated_score is None else f"{r.uncalibrated_score:.4f}",
                         "attributes": json.dumps(r.attributes, sort_keys=True), "model": r.provenance.model,
                         "model_version": r.provenance.model_version,
                         "calibration_id": r.provenance.calibration_id or "", "flags": ";".join(r.flags),
                         "elapsed_ms": f"{r.provenance.elapsed_ms:.1f}"})
        if self.timeline and r.timeline:
            for m in r.timeline:
                unc = "" if m.uncalibrated_score is None else f"{m.uncalibrated_score:.4f}"
                self.w.writerow({"path": r.path, "kind": "second", "second": m.second, "start": m.start, "end": m.end,
                                 "score": f"{m.score:.4f}", "score_100": f"{r.scale.to_100(m.score):.2f}",
                                 "level": m.level, "uncalibrated_score": unc,
                                 "attributes": json.dumps(m.attributes, sort_keys=True)})

    def close(self, summary: str) -> None:
        pass


def output_format(fmt: str | None, out: str | None) -> str:
    """The format to write: `fmt` if given, else the one `out`'s extension names (.json, .jsonl, .csv), else table.

    Raises ValueError (one line naming the file) when `fmt` and the extension of `out` disagree.
    """
    implied = EXTENSION_FORMATS.get(os.path.splitext(out)[1].lower()) if out else None
    if fmt is None:
        return implied or "table"
    if implied is not None and implied != fmt:
        raise ValueError(f"--out {out} names a {implied} file but --format is {fmt}; drop --format or make them "
                         "agree")
    return fmt


def make_writer(fmt: str, stream: IO[str], timeline: bool, meta: dict):
    if fmt == "table":
        return TableWriter(stream, timeline, meta=meta)
    if fmt == "jsonl":
        return JsonLinesWriter(stream, timeline)
    if fmt == "json":
        return JsonWriter(stream, timeline, meta)
    if fmt == "csv":
        return CsvWriter(stream, timeline)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode(path: str) -> int:
    """The mode `open(path, "w")` would leave: an existing file's own, else 0666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def check_output_path(path: str) -> str:
    """Make sure a file can be written at `path` (creating its folder if needed) and return that folder.

    Raises `OutputError`, one line naming `path`, when it is a folder, its folder cannot be created, or nothing can
    be written there; so that a command can refuse before any work rather than fail after it.
    """
    if not path:
        raise OutputError("--out: empty file name")
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise OutputError(f"{path}: is a folder; give a file name, e.g. {os.path.join(path, 'scores.json')}")
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{path}: cannot create its folder {directory} ({e.strerror or e})") from None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise OutputError(f"{path}: the file exists and is read-only")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".vqual-", suffix=".partial", dir=directory)
    except OSError as e:
        raise OutputError(f"{path}: cannot write in {directory} ({e.strerror or e})") from None
    os.close(fd)
    os.remove(tmp)
    return directory


class AtomicOutput:
    """A text file that appears under its final name only when complete (written to a temp file, then renamed).

    The destination is checked when this is made (`check_output_path`: `OutputError` if unusable). The file gets
    the mode a plain ``open(path, "w")`` would give it (the umask's, or that of the file it replaces).
    """

    def __init__(self, path: str):
        self.path = path
        directory = check_output_path(path)
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=".vqual-", suffix=".partial", dir=directory)
        except OSError as e:
            raise OutputError(f"{path}: cannot write in {directory} ({e.strerror or e})") from None
        os.fchmod(fd, new_file_mode(path))
        self.stream = open(fd, "w", encoding="utf-8", newline="")
        self.done = False

    def commit(self) -> None:
        """Rename the complete file into place. If that fails the data is kept: `OutputError` names where."""
        self.stream.flush()
        os.fsync(self.stream.fileno())
        self.stream.close()
        try:
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.done = True  # never delete the only copy of the results
            raise OutputError(f"{self.path}: cannot write it ({e.strerror or e}); the results are kept in "
                              f"{self.tmp}") from None
        self.done = True

    def abort(self) -> None:
        """Drop the temporary file (nothing if already committed)."""
        if self.done:
            return
        self.done = True
        self.stream.close()
        if os.path.exists(self.tmp):
            os.remove(self.tmp)


def write_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through an `AtomicOutput` (never a half-written file; folder created; `OutputError`
    if it cannot be written). Returns the path."""
    sink = AtomicOutput(str(path))
    try:
        sink.stream.write(text)
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    return Path(path)
