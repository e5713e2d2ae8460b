"""Is an image file cut short? Read from its own structure (segment, chunk, block and directory sizes), without
decoding anything.

PIL says "cannot identify image file" or "broken data stream" whether a header is damaged or simply missing because
the file was cut (an interrupted download or copy): the two need different fixes, so `truncation` tells them apart
for JPEG, PNG, GIF, TIFF and BMP, the way `vqual.media.containers` does for video containers. It is consulted only
after PIL has failed, never raises, and reports nothing it cannot establish from sizes the file itself declares.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

_JPEG_NAMES = {0xC0: "SOF0", 0xC1: "SOF1", 0xC2: "SOF2", 0xC4: "DHT", 0xDB: "DQT", 0xDD: "DRI", 0xDA: "SOS",
               0xFE: "COM", **{0xE0 + k: f"APP{k}" for k in range(16)}}


def truncation(path: str | Path) -> str | None:
    """Why the image at `path` is cut short, as one phrase naming the format (e.g. "truncated PNG: the file ends
    inside the 'IHDR' chunk (20 of 25 bytes present)"), or None when it is not, as far as its structure tells."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(0)
            head = f.read(16)
            for magic, fmt, scan in ((b"\xff\xd8", "JPEG", _jpeg), (b"\x89PNG\r\n\x1a\n", "PNG", _png),
                                     (b"GIF87a", "GIF", _gif), (b"GIF89a", "GIF", _gif),
                                     (b"II*\x00", "TIFF", _tiff), (b"MM\x00*", "TIFF", _tiff), (b"BM", "BMP", _bmp)):
                if head.startswith(magic):
                    why = scan(f, size, head)
                    return f"truncated {fmt}: {why}" if why else None
    except (OSError, ValueError, IndexError, struct.error):
        pass
    return None


def _read(f: BinaryIO, pos: int, n: int) -> bytes:
    f.seek(pos)
    return f.read(n)


def _jpeg(f: BinaryIO, size: int, head: bytes) -> str | None:
    pos = 2
    while True:
        b = _read(f, pos, 2)
        if len(b) < 2:
            return f"the file ends after {size:,} bytes, before the image data (no start-of-scan segment)"
        if b[0] != 0xFF:
            return None  # not a marker: damaged, not cut
        m = b[1]
        if m == 0xFF:  # fill byte
            pos += 1
            continue
        if m in (0x01, 0xD8) or 0xD0 <= m <= 0xD7:
            pos += 2
            continue
        if m == 0xD9:
            return None
        ln = _read(f, pos + 2, 2)
        name = _JPEG_NAMES.get(m, f"0x{m:02X}")
        if len(ln) < 2:
            return f"the file ends inside the {name} segment's header ({size - pos} bytes present)"
        end = pos + 2 + int.from_bytes(ln, "big")
        if end > size:
            return f"the file ends inside the {name} segment ({size - pos:,} of {end - pos:,} bytes present)"
        if m == 0xDA:
            return None  # entropy-coded data follows: a cut there is reported by the decoder itself
        pos = end


def _png(f: BinaryIO, size: int, head: bytes) -> str | None:
    pos = 8
    seen_data = False
    while True:
        hdr = _read(f, pos, 8)
        if len(hdr) < 8:
            if seen_data:
                return None  # complete image data, only the end marker missing: decoders accept that
            return f"the file ends after {size:,} bytes, before its image data" + (
                f" (inside a chunk header at byte {pos:,})" if hdr else "")
        length = int.from_bytes(hdr[:4], "big")
        kind = hdr[4:8]
        if not all(65 <= c <= 122 for c in kind):
            return None  # not a chunk: damaged, not cut
        end = pos + 12 + length
        if end > size:
            return f"the file ends inside the '{kind.decode()}' chunk ({size - pos:,} of {end - pos:,} bytes present)"
        if kind == b"IDAT":
            seen_data = True
        if kind == b"IEND":
            return None
        pos = end


def _sub_blocks(f: BinaryIO, pos: int, size: int) -> int | None:
    """Offset after a chain of GIF data sub-blocks starting at `pos`, or None if the file ends inside it."""
    while True:
        n = _read(f, pos, 1)
        if not n:
            return None
        pos += 1 + n[0]
        if pos > size:
            return None
        if n[0] == 0:
            return pos


def _gif(f: BinaryIO, size: int, head: bytes) -> str | None:
    if size < 13:
        return f"the file ends inside the 13-byte header ({size} bytes)"
    flags = _read(f, 10, 1)[0]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    if pos > size:
        return f"the file ends inside the global colour table ({size:,} of {pos:,} bytes present)"
    while True:
        b = _read(f, pos, 1)
        if not b:
            return f"the file ends after {size:,} bytes, before the first image"
        if b[0] == 0x21:  # extension: label, then sub-blocks
            end = _sub_blocks(f, pos + 2, size)
            if end is None:
                return "the file ends inside an extension block, before the first image"
            pos = end
        elif b[0] == 0x2C:  # image descriptor, local colour table, LZW code size, data sub-blocks
            d = _read(f, pos, 10)
            if len(d) < 10:
                return "the file ends inside the first image's descriptor"
            lct = 3 * (2 << (d[9] & 7)) if d[9] & 0x80 else 0
            pos += 10 + lct + 1
            if pos > size:
                return "the file ends inside the first image's colour table"
            if _sub_blocks(f, pos, size) is None:
                return "the file ends inside the first image's data"
            return None
        else:
            return None  # the trailer, or garbage: not a cut


_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}


def _tiff(f: BinaryIO, size: int, head: bytes) -> str | None:
    e = "<" if head[:2] == b"II" else ">"
    if size < 8:
        return f"the file ends inside the 8-byte header ({size} bytes)"
    ifd = struct.unpack(e + "I", _read(f, 4, 4))[0]
    if ifd + 2 > size:
        return f"the file ends before its first directory (at byte {ifd:,}; the file has {size:,})"
    n = struct.unpack(e + "H", _read(f, ifd, 2))[0]
    if ifd + 2 + 12 * n + 4 > size:
        return f"the file ends inside its first directory ({n} entries at byte {ifd:,}; the file has {size:,})"
    entries = {}
    for k in range(n):
        tag, typ, count, value = struct.unpack(e + "HHII", _read(f, ifd + 2 + 12 * k, 12))
        nbytes = _TYPE_SIZES.get(typ, 1) * count
        if nbytes > 4 and value + nbytes > size:
            return f"the file ends inside the values of tag {tag} (bytes {value:,}-{value + nbytes:,}; the file " \
                   f"has {size:,})"
        entries[tag] = (typ, count, value)
    for off_tag, len_tag, what in ((273, 279, "strips"), (324, 325, "tiles")):
        if off_tag in entries and len_tag in entries:
            offs, lens = _tiff_values(f, e, *entries[off_tag]), _tiff_values(f, e, *entries[len_tag])
            if offs and lens:
                end = max(o + ln for o, ln in zip(offs, lens))
                if end > size:
                    return f"the image data runs past the end of the file ({what} end at byte {end:,}; the file " \
                           f"has {size:,})"
    return None


def _tiff_values(f: BinaryIO, e: str, typ: int, count: int, value: int) -> list[int]:
    if typ not in (3, 4) or count > 1 << 20:
        return []
    code, width = ("H", 2) if typ == 3 else ("I", 4)
    if count * width <= 4:
        raw = struct.pack(e + "I", value)[: count * width]
    else:
        raw = _read(f, value, count * width)
        if len(raw) < count * width:
            return []
    return list(struct.unpack(e + code * count, raw))


def _bmp(f: BinaryIO, size: int, head: bytes) -> str | None:
    if size < 18:
        return f"the file ends inside the header ({size} bytes)"
    declared = int.from_bytes(head[2:6], "little")
    offset = int.from_bytes(head[10:14], "little")
    if offset > size:
        return f"the file ends before its pixel data (at byte {offset:,}; the file has {size:,})"
    if declared > size:
        return f"the header declares {declared:,} bytes but the file has {size:,}"
    return None
