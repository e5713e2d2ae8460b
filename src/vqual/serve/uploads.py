"""Multipart uploads streamed to temporary files under size limits, and server-side paths below ``--allow-dir``.

The body is read chunk by chunk as it arrives and each file part written to its own file in a fresh folder; nothing
is held whole in memory. A request whose Content-Length is over the limit is refused before its body is read; a part
that grows past its limit stops the reading at once. Uploaded file names are labels only: files are saved as
``upload-N`` plus a known media extension.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

from vqual.media import IMAGE_EXTS, VIDEO_EXTS


class UploadError(Exception):
    """An upload refused: `status` (HTTP), `reason` (the error's reason code) and a one-line message."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@dataclass
class Upload:
    label: str  # the client's file name, cleaned (a label, never a path)
    path: str  # where it was saved
    size: int


def clean_label(name: str) -> str:
    """A client's file name as a one-line label: control characters dropped, at most 200 characters."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip() or "upload"
    return name[-200:]


def _suffix(label: str) -> str:
    ext = os.path.splitext(label)[1].lower()
    return ext if ext in IMAGE_EXTS or ext in VIDEO_EXTS else ""


def human(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


class MultipartSink:
    """Feed it the body's chunks (`write`), then `close`; `uploads` holds the files and `fields` the text fields."""

    def __init__(self, boundary: bytes, folder: str, max_image_bytes: int, max_video_bytes: int, max_files: int):
        self.folder = folder
        self.max_image, self.max_video, self.max_files = max_image_bytes, max_video_bytes, max_files
        self.uploads: list[Upload] = []
        self.fields: dict[str, str] = {}
        self._headers: dict[bytes, bytes] = {}
        self._field = self._value = b""
        self._file = None
        self._text: bytearray | None = None
        self._name = ""
        self._limit = 0
        self._size = 0
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
            "on_part_end": self._part_end})

    def write(self, chunk: bytes) -> None:
        self.parser.write(chunk)

    def close(self) -> None:
        if self._file is not None or self._text is not None:
            raise UploadError(400, "bad_request", "malformed multipart body: it ends inside a part")
        self.parser.finalize()

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- parser callbacks ------------------------------------------------------------------------------------------
    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if disposition != b"form-data" or b"name" not in params:
            raise UploadError(400, "bad_request", "malformed multipart body: a part has no form-data name")
        self._name = params[b"name"].decode("utf-8", "replace")
        self._size = 0
        if b"filename" not in params:  # a text field: small, kept in memory
            self._text, self._limit = bytearray(), 64 * 1024
            return
        if len(self.uploads) >= self.max_files:
            raise UploadError(413, "too_many_files", f"at most {self.max_files} files in one request")
        label = clean_label(params[b"filename"].decode("utf-8", "replace"))
        suffix = _suffix(label)
        ctype = self._headers.get(b"content-type", b"").decode("latin-1").lower()
        image = suffix in IMAGE_EXTS or (not suffix and ctype.startswith("image/"))
        self._limit = self.max_image if image else self.max_video
        path = os.path.join(self.folder, f"upload-{len(self.uploads)}{suffix}")
        self._file = open(path, "xb")  # noqa: SIM115 - closed in _part_end or abort
        self.uploads.append(Upload(label=label, path=path, size=0))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._size > self._limit:
            what = "text field" if self._text is not None else (
                "image" if self._limit == self.max_image else "file")
            name = self._name if self._text is not None else self.uploads[-1].label
            raise UploadError(413, "too_large", f"{name}: {what} larger than the limit of {human(self._limit)}")
        if self._text is not None:
            self._text += data[start:end]
        else:
            self._file.write(data[start:end])

    def _part_end(self) -> None:
        if self._text is not None:
            self.fields[self._name] = self._text.decode("utf-8", "replace")
            self._text = None
            return
        self._file.close()
        self._file = None
        self.uploads[-1].size = self._size


def boundary_of(content_type: str) -> bytes | None:
    ctype, params = parse_options_header(content_type)
    if ctype != b"multipart/form-data":
        return None
    return params.get(b"boundary") or b""


def new_folder(home: str) -> str:
    base = Path(home) / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix="req-", dir=base)


def resolve_allowed(root: str, rel: str) -> str:
    """The file `rel` names below the folder `root`; UploadError 403 for an absolute path, ``..``, or a symlink
    anywhere on the way (even one that points inside), 404 when there is no such file."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise UploadError(400, "bad_request", "a path must be a non-empty string")
    p = Path(rel)
    if p.is_absolute() or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        raise UploadError(403, "forbidden_path", f"{rel}: absolute paths are refused; give a path below --allow-dir")
    if any(part == ".." for part in re.split(r"[\\/]", rel)):
        raise UploadError(403, "forbidden_path", f"{rel}: '..' is refused")
    cur = Path(root)
    for part in p.parts:
        cur = cur / part
        if cur.is_symlink():
            raise UploadError(403, "forbidden_path", f"{rel}: symbolic links are refused")
    real = os.path.realpath(cur)
    if os.path.commonpath([real, root]) != root:
        raise UploadError(403, "forbidden_path", f"{rel}: outside --allow-dir")
    if not os.path.isfile(real):
        raise UploadError(404, "missing", f"{rel}: no such file below --allow-dir")
    return real
