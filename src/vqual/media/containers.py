"""Cheap structural checks of video containers, read from box / element headers without decoding anything.

FFmpeg does not say *why* a file failed to open (a cut MP4 just gives "Invalid data found"), and a cut Matroska or
AVI file decodes "successfully" up to where it stops. The container headers do know: an MP4 box, a Matroska
Segment or a RIFF chunk declares its size, and a file that ends before that size is truncated. `scan_container`
is advisory: it never raises, and anything it cannot parse is simply not reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass
class ContainerScan:
    problem: str | None = None  # why the file is truncated / incomplete, or None
    video_fourcc: str | None = None  # codec tag of the first video track ("avc1", "V_MPEG4/ISO/AVC", "H264", ...)
    empty_video_track: bool = False  # MP4/MOV: a video track exists but holds no samples
    has_media: bool | None = None  # whether the file holds any media payload (None: unknown)


def scan_container(path: str | Path, head: bytes, file_size: int) -> ContainerScan:
    try:
        with open(path, "rb") as f:
            if len(head) >= 8 and (head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free")):
                return _scan_mp4(f, file_size)
            if head[:4] == b"\x1a\x45\xdf\xa3":
                return _scan_matroska(f, file_size)
            if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
                return _scan_avi(f, head, file_size)
    except (OSError, ValueError, IndexError):
        pass
    return ContainerScan()


# --- MP4 / MOV (ISO-BMFF) -------------------------------------------------------------------------------------------
_CONTAINER_BOXES = {b"trak", b"mdia", b"minf", b"stbl"}


def _boxes(f: BinaryIO, start: int, end: int):
    """Yield (type, offset, header_len, size) of the boxes in [start, end); size may run past `end`."""
    off = start
    while off + 8 <= end:
        f.seek(off)
        hdr = f.read(16)
        if len(hdr) < 8:
            return
        size = int.from_bytes(hdr[:4], "big")
        typ = hdr[4:8]
        hl = 8
        if size == 1:
            if len(hdr) < 16:
                return
            size = int.from_bytes(hdr[8:16], "big")
            hl = 16
        elif size == 0:  # "extends to the end of the file"
            size = end - off
        if size < hl or not all(32 <= c < 127 for c in typ):
            return  # not a box: trailing garbage / padding
        yield typ, off, hl, size
        off += size


def _scan_mp4(f: BinaryIO, file_size: int) -> ContainerScan:
    scan = ContainerScan()
    top: list[bytes] = []
    moov: tuple[int, int] | None = None
    cut = None  # where the file ends early: "the file ends inside the 'mdat' box (x of y bytes present)"
    for typ, off, hl, size in _boxes(f, 0, file_size):
        top.append(typ)
        if typ == b"moof" or (typ == b"mdat" and size > hl):
            scan.has_media = True
        if off + size > file_size:
            cut = f"the file ends inside the '{typ.decode()}' box ({file_size - off:,} of {size:,} bytes present)"
        if typ == b"moov":
            moov = (off + hl, min(off + size, file_size))
        if cut:
            break
    kind = "MOV" if top and top[0] != b"ftyp" else "MP4"
    if moov is None:
        scan.problem = f"truncated or incomplete {kind}: moov atom not found" + (f" ({cut})" if cut else "")
        return scan
    if cut:
        scan.problem = f"truncated or incomplete {kind}: {cut}"
    if scan.has_media is None:
        scan.has_media = False
    fragmented = b"moof" in top
    if any(typ == b"mvex" for typ, *_ in _boxes(f, *moov)):
        fragmented = True
    for typ, off, hl, size in _boxes(f, *moov):
        if typ != b"trak":
            continue
        handler, fourcc, samples = _trak_info(f, off + hl, min(off + size, moov[1]))
        if handler == b"vide":
            scan.video_fourcc = fourcc
            scan.empty_video_track = samples == 0 and not fragmented
            break
    return scan


def _trak_info(f: BinaryIO, start: int, end: int) -> tuple[bytes | None, str | None, int | None]:
    handler = fourcc = samples = None
    stack = [(start, end)]
    while stack:
        s, e = stack.pop()
        for typ, off, hl, size in _boxes(f, s, e):
            body = off + hl
            if typ in _CONTAINER_BOXES:
                stack.append((body, min(off + size, e)))
            elif typ == b"hdlr":
                f.seek(body + 8)
                handler = f.read(4)
            elif typ == b"stsd":
                f.seek(body + 8)
                entry = f.read(8)
                if len(entry) == 8:
                    fourcc = entry[4:8].decode("latin-1").strip()
            elif typ in (b"stsz", b"stz2"):
                f.seek(body + 8)
                samples = int.from_bytes(f.read(4), "big")
    return handler, fourcc, samples


# --- Matroska / WebM (EBML) -----------------------------------------------------------------------------------------
def _vint(b: bytes, i: int, strip: bool) -> tuple[int, int, bool]:
    first = b[i]
    if first == 0:
        raise ValueError("bad EBML vint")
    n = 9 - first.bit_length()
    val = (first & (0xFF >> n)) if strip else first
    for k in range(1, n):
        val = (val << 8) | b[i + k]
    return val, n, strip and val == (1 << (7 * n)) - 1


_CODEC_ID = re.compile(rb"\x86[\x81-\xbf]V_")


def _scan_matroska(f: BinaryIO, file_size: int) -> ContainerScan:
    scan = ContainerScan()
    f.seek(0)
    data = f.read(1 << 20)
    cut = "truncated or incomplete Matroska/WebM: the file ends inside"
    try:
        _, n_id, _ = _vint(data, 0, strip=False)
        size, n_size, _ = _vint(data, n_id, strip=True)
    except IndexError:
        scan.problem = f"{cut} the EBML header ({file_size:,} bytes)"
        return scan
    pos = n_id + n_size + size  # end of the EBML header
    if pos > file_size:
        scan.problem = f"{cut} the EBML header ({file_size:,} of {pos:,} bytes present)"
        return scan
    try:
        seg_id, n_id, _ = _vint(data, pos, strip=False)
        if seg_id == 0x18538067:
            seg_size, n_size, unknown = _vint(data, pos + n_id, strip=True)
    except IndexError:
        if file_size <= len(data):  # the whole file was read: it ends here
            scan.problem = f"{cut} the header of the Segment element, after {file_size:,} bytes"
        return scan
    if seg_id == 0x18538067:
        seg_end = pos + n_id + n_size + seg_size
        if not unknown and seg_end > file_size:
            scan.problem = (f"truncated or incomplete Matroska/WebM: the segment declares {seg_end:,} bytes but the "
                            f"file has {file_size:,}")
    if b"\x1f\x43\xb6\x75" in data:  # a Cluster element
        scan.has_media = True
    elif file_size <= len(data):
        scan.has_media = False
    m = _CODEC_ID.search(data)
    if m:
        n = data[m.start() + 1] & 0x7F
        scan.video_fourcc = data[m.start() + 2: m.start() + 2 + n].decode("latin-1")
    return scan


# --- AVI (RIFF) -----------------------------------------------------------------------------------------------------
def _scan_avi(f: BinaryIO, head: bytes, file_size: int) -> ContainerScan:
    scan = ContainerScan()
    riff_end = 8 + int.from_bytes(head[4:8], "little")
    if riff_end > file_size:
        scan.problem = f"truncated or incomplete AVI: the RIFF header declares {riff_end:,} bytes but the file has " \
                       f"{file_size:,}"
    f.seek(0)
    data = f.read(1 << 16)
    i = data.find(b"strf", data.find(b"vids"))
    if i >= 0 and len(data) >= i + 28:
        tag = data[i + 24: i + 28]
        if any(tag) and all(32 <= c < 127 for c in tag):
            scan.video_fourcc = tag.decode("latin-1").strip()
    return scan
