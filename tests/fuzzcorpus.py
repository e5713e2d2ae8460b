"""A fuzzed bad-input corpus for `vqual score`, made on the fly (seeded, nothing downloaded), and a runner that puts a
whole corpus through one `vqual score` process with a per-file wall-clock guard.

Used by tests/test_fuzz.py (a quick corpus, ~200 files) and benchmarks/fuzz.py (thousands of mutations)::

    cases = make_corpus(folder, n_random=150, seed=0)      # valid files, structured cases, random mutations
    run = run_batch([c.path for c in cases], folder / "out.json", per_file_limit=10)
    problems = check_run(run, cases)                        # [] when every invariant holds

The corpus:

* **valid files** (`make_seeds`, small: 64x48 by default): JPEG (baseline and progressive), PNG (RGB, palette with
  transparency), WebP (lossy, lossless), GIF (animated), TIFF (raw, deflate), BMP; H.264 in MP4, MOV, MKV, AVI and
  MPEG-TS, VP9 in WebM, and one video with a video, an audio and a subtitle stream;
* **structured cases** (`structured_cases`): absurd dimensions written into the headers (0, 1, 65535, 2^31 - 1 ...)
  of every image format and of MP4 / Matroska tracks; huge metadata (JPEG COM / XMP segments, PNG tEXt / zTXt / iTXt
  / eXIf chunks, a GIF comment, WebP EXIF, a TIFF description, MP4 / MKV tags); zero, negative, NaN and infinite
  durations (MP4 mvhd / tkhd / mdhd / stts, Matroska Duration, TimecodeScale, block timecodes, a negative start
  time); files holding one stream of each kind alone (audio, subtitles, an attachment); every seed saved under every
  other extension, and seeds concatenated (a JPEG with a video after it, two videos end to end);
* **random mutations** (`mutate`) of the seeds: truncations at fixed and random offsets, random bytes written over
  the header (the first 1/4 of the file, at most 1 KB) or the payload, zeroed ranges, deleted ranges and inserted
  junk.

`run_batch` starts ``vqual score <every path> --format json|csv --out FILE`` in one child process whose writer and
model loader are wrapped to log, per input, when it was answered; a watchdog in the parent kills the child if one
input takes longer than `per_file_limit` seconds (not counting the one-off model load) and names it. `check_run`
then checks: exit code 1 (some failed) or 0, no traceback or internal error on stderr, a complete and valid JSON or
CSV file with one entry per input, each either a result or a failure with a known reason, every score finite and in
range.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

#: Failure reasons a file may be reported with (`vqual.errors.MediaError.REASONS`); "internal" / "error" never.
REASONS = ("missing", "empty", "truncated", "not_media", "too_large", "too_small", "unsupported_codec", "no_frames",
           "corrupt")
LEVELS = ("excellent", "good", "fair", "poor", "bad")


@dataclass
class Case:
    path: Path
    base: str  # the seed it comes from ("jpeg", "mp4", ...)
    mutation: str  # "valid", "truncate@1234", "dims:png=65535x1", ...
    expect: tuple[str, ...] | None = None  # allowed outcomes ("scored" or failure reasons); None: any


# --- valid seeds ------------------------------------------------------------------------------------------------------

def _picture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1), np.full_like(x, 120)], -1)
    return np.clip(base + rng.integers(-20, 21, (h, w, 1)), 0, 255).astype(np.uint8)


def _frames(n: int, h: int, w: int, seed: int = 0):
    pic = _picture(h, w, seed)
    for i in range(n):
        f = pic.copy()
        f[h // 4: h // 4 + h // 4, (3 * i) % (w // 2): (3 * i) % (w // 2) + w // 4] = 250
        yield f


def _write_av(path: Path, *, n: int = 12, size: tuple[int, int] = (48, 64), codec: str = "libx264",
              fmt: str | None = None, audio: str | None = None, subtitles: bool = False, video: bool = True,
              metadata: dict[str, str] | None = None, attachment: bytes | None = None, fps: int = 10,
              start_pts: int = 0) -> Path:
    """A small file written with PyAV: optional video (`codec`), audio (`audio` encoder), a subtitle stream,
    container metadata and a Matroska attachment."""
    import av

    h, w = size
    opts = {"libx264": {"preset": "ultrafast", "x264-params": "threads=1"},
            "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "crf": "40", "b": "0"},
            "mpeg4": {}}.get(codec, {})
    with av.open(str(path), "w", format=fmt) as out:
        for k, v in (metadata or {}).items():
            out.metadata[k] = v
        vs = aus = ss = None
        if video:
            vs = out.add_stream(codec, rate=fps, options=opts)
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        if audio:
            aus = out.add_stream(audio, rate=16000)
            aus.layout = "mono"
        if subtitles:
            ss = out.add_mux_stream("subrip" if (fmt or path.suffix.lstrip(".")) in ("mkv", "matroska") else
                                    "mov_text")
            ss.time_base = Fraction(1, 1000)
        if attachment is not None:
            out.add_attachment("notes.txt", "text/plain", attachment)
        if vs is not None:
            for i, f in enumerate(_frames(n, h, w)):
                vf = av.VideoFrame.from_ndarray(f, format="rgb24")
                vf.pts, vf.time_base = start_pts + i, Fraction(1, fps)
                for p in vs.encode(vf):
                    out.mux(p)
            for p in vs.encode():
                out.mux(p)
        if aus is not None:
            spf = aus.codec_context.frame_size or 1024
            t = np.arange(spf * (n * 16000 // fps // spf + 1)) / 16000
            wave = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            for i in range(wave.shape[1] // spf):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, i * spf:(i + 1) * spf]),
                                                format="fltp", layout="mono")
                af.sample_rate, af.pts = 16000, i * spf
                for p in aus.encode(af):
                    out.mux(p)
            for p in aus.encode():
                out.mux(p)
        if ss is not None:
            mov_text = ss.codec_context is None and path.suffix != ".mkv" and fmt != "matroska"
            for i in range(3):
                payload = (struct.pack(">H", 4) if mov_text else b"") + b"line"  # mov_text: a 16-bit length first
                pk = av.Packet(payload)
                pk.stream, pk.pts, pk.dts, pk.duration, pk.time_base = ss, i * 400, i * 400, 300, Fraction(1, 1000)
                out.mux(pk)
    return path


def _remux(src: Path, dst: Path, fmt: str | None = None) -> Path:
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        for pk in inp.demux(s_in):
            if pk.dts is None:
                continue
            pk.stream = s_out
            out.mux(pk)
    return dst


def make_seeds(folder: Path, size: tuple[int, int] = (48, 64), seed: int = 0) -> dict[str, Path]:
    """Valid files of every format, `size` (h, w) pixels; name -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    h, w = size
    pic = _picture(h, w, seed)
    im = Image.fromarray(pic)
    s: dict[str, Path] = {}

    def save(name: str, img: Image.Image, **kw) -> None:
        s[name] = folder / name
        img.save(s[name], **kw)

    save("base.jpg", im, quality=85)
    save("progressive.jpg", im, quality=85, progressive=True)
    save("rgb.png", im)
    pal = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    pal.info["transparency"] = 0
    save("palette.png", pal)
    save("lossy.webp", im, quality=80)
    save("lossless.webp", im, lossless=True)
    frames = [Image.fromarray(f) for f in _frames(3, h, w)]
    s["anim.gif"] = folder / "anim.gif"
    frames[0].save(s["anim.gif"], save_all=True, append_images=frames[1:], duration=100, loop=0)
    save("raw.tif", im)
    save("deflate.tif", im, compression="tiff_adobe_deflate")
    save("plain.bmp", im)
    s["h264.mp4"] = _write_av(folder / "h264.mp4", size=(h, w))
    s["h264.mkv"] = _write_av(folder / "h264.mkv", size=(h, w))
    s["vp9.webm"] = _write_av(folder / "vp9.webm", size=(h, w), codec="libvpx-vp9")
    s["h264.mov"] = _remux(s["h264.mp4"], folder / "h264.mov")
    s["h264.ts"] = _remux(s["h264.mp4"], folder / "h264.ts", "mpegts")
    s["mpeg4.avi"] = _write_av(folder / "mpeg4.avi", size=(h, w), codec="mpeg4")
    s["av-sub.mkv"] = _write_av(folder / "av-sub.mkv", size=(h, w), audio="aac", subtitles=True)
    return s


# --- byte-level helpers -----------------------------------------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_insert(data: bytes, chunk: bytes) -> bytes:
    """Insert a chunk right after IHDR."""
    end = 8 + 8 + 13 + 4
    return data[:end] + chunk + data[end:]


def _find_box(data: bytes, kind: bytes, start: int = 0) -> int:
    """Offset of the first ISO-BMFF box of type `kind` (its size field), or -1."""
    i = data.find(kind, start + 4)
    return -1 if i < 4 else i - 4


def _ebml_find(data: bytes, ident: bytes) -> list[tuple[int, int, int]]:
    """(offset of the id, offset of the value, value length) of every element with id `ident` (a naive byte search
    that checks the size vint is plausible)."""
    out = []
    i = data.find(ident)
    while i >= 0:
        j = i + len(ident)
        if j < len(data) and data[j] & 0x80:  # a one-byte size vint: 0x81 .. 0xFF
            n = data[j] & 0x7F
            if 0 < n <= 8 and j + 1 + n <= len(data):
                out.append((i, j + 1, n))
        i = data.find(ident, i + 1)
    return out


def _tiff_patch_tags(data: bytes, values: dict[int, int]) -> bytes:
    """Overwrite the values of SHORT / LONG tags of IFD0 (width 256, height 257, ...)."""
    b = bytearray(data)
    le = b[:2] == b"II"
    e = "<" if le else ">"
    ifd = struct.unpack(e + "I", b[4:8])[0]
    n = struct.unpack(e + "H", b[ifd: ifd + 2])[0]
    for k in range(n):
        o = ifd + 2 + 12 * k
        tag, typ = struct.unpack(e + "HH", b[o: o + 4])
        if tag in values:
            v = values[tag]
            if typ == 3:
                b[o + 8: o + 10] = struct.pack(e + "H", v & 0xFFFF)
            elif typ == 4:
                b[o + 8: o + 12] = struct.pack(e + "I", v & 0xFFFFFFFF)
    return bytes(b)


def _jpeg_sof(data: bytes) -> int:
    """Offset of the first SOF0..SOF2 marker."""
    for m in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        i = data.find(m, 2)
        if i > 0:
            return i
    return -1


# --- structured cases -------------------------------------------------------------------------------------------------

DIMENSIONS = ((0, 48), (64, 0), (1, 1), (65535, 65535), (65535, 1), (1, 65535), (30000, 30000), (9000, 9000),
              (0x7FFFFFFF, 48), (0xFFFFFFFF, 0xFFFFFFFF))


def _dims_image(name: str, data: bytes, w: int, h: int) -> bytes | None:
    b = bytearray(data)
    if name.endswith(".png"):
        ihdr = bytes(b[16:29])
        ihdr = struct.pack(">II", w & 0xFFFFFFFF, h & 0xFFFFFFFF) + ihdr[8:]
        b[16:29] = ihdr
        b[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)  # a valid CRC: PIL reads it
    elif name.endswith(".jpg"):
        i = _jpeg_sof(data)
        b[i + 5: i + 9] = struct.pack(">HH", h & 0xFFFF, w & 0xFFFF)
    elif name.endswith(".gif"):
        b[6:10] = struct.pack("<HH", w & 0xFFFF, h & 0xFFFF)
        i = data.find(b"\x2c", 13)
        if i > 0:
            b[i + 5: i + 9] = struct.pack("<HH", w & 0xFFFF, h & 0xFFFF)
    elif name.endswith(".webp"):
        i = data.find(b"VP8 ")
        if i > 0:
            o = i + 8 + 6  # after the frame tag and the start code
            b[o: o + 4] = struct.pack("<HH", w & 0x3FFF, h & 0x3FFF)
        i = data.find(b"VP8L")
        if i > 0:
            o = i + 8 + 1
            bits = ((w - 1) & 0x3FFF) | (((h - 1) & 0x3FFF) << 14) | (int.from_bytes(b[o: o + 4], "little")
                                                                       & ~0xFFFFFFF)
            b[o: o + 4] = (bits & 0xFFFFFFFF).to_bytes(4, "little")
    elif name.endswith(".tif"):
        return _tiff_patch_tags(data, {256: w, 257: h})
    elif name.endswith(".bmp"):
        b[18:26] = struct.pack("<ii", _i32(w), _i32(h))
    else:
        return None
    return bytes(b)


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _dims_video(name: str, data: bytes, w: int, h: int) -> bytes | None:
    b = bytearray(data)
    if name.endswith((".mp4", ".mov")):
        t = _find_box(data, b"tkhd")
        if t < 0:
            return None
        size = int.from_bytes(data[t: t + 4], "big")
        b[t + size - 8: t + size] = struct.pack(">II", (w & 0xFFFF) << 16, (h & 0xFFFF) << 16)
        a = data.find(b"avc1")
        if a > 0:  # sample entry: 6 reserved + 2 index + 16 pre-defined, then width, height (16 bits each)
            b[a + 4 + 24: a + 4 + 28] = struct.pack(">HH", w & 0xFFFF, h & 0xFFFF)
        return bytes(b)
    if name.endswith((".mkv", ".webm")):
        hits = _ebml_find(data, b"\xb0") + _ebml_find(data, b"\xba")
        if not hits:
            return None
        for i, (_, vo, n) in enumerate(sorted(hits)):
            v = (w if i % 2 == 0 else h) & ((1 << (8 * n)) - 1)
            b[vo: vo + n] = v.to_bytes(n, "big")
        return bytes(b)
    return None


def _durations(name: str, data: bytes) -> list[tuple[str, bytes]]:
    out = []
    if name.endswith((".mp4", ".mov")):
        for box, label in ((b"mvhd", "mvhd"), (b"tkhd", "tkhd"), (b"mdhd", "mdhd")):
            o = _find_box(data, box)
            if o < 0:
                continue
            ver = data[o + 8]
            # duration: after version/flags, created, modified, (timescale for mvhd/mdhd; track id + reserved tkhd)
            off = o + 12 + (16 if ver == 1 else 8) + (8 if box == b"tkhd" else 4)
            n = 8 if ver == 1 else 4
            for v, tag in ((0, "zero"), ((1 << (8 * n)) - 1, "minus1")):
                b = bytearray(data)
                b[off: off + n] = v.to_bytes(n, "big")
                out.append((f"duration:{label}={tag}", bytes(b)))
        o = _find_box(data, b"stts")
        if o >= 0:
            count = int.from_bytes(data[o + 12: o + 16], "big")
            for v, tag in ((0, "zero"), (0xFFFFFFFF, "minus1"), (0x80000000, "intmin")):
                b = bytearray(data)
                for k in range(count):
                    e = o + 16 + 8 * k
                    b[e + 4: e + 8] = v.to_bytes(4, "big")
                out.append((f"duration:stts-delta={tag}", bytes(b)))
        o = _find_box(data, b"mdhd")
        if o >= 0:  # timescale 0
            ver = data[o + 8]
            off = o + 12 + (16 if ver == 1 else 8)
            b = bytearray(data)
            b[off: off + 4] = bytes(4)
            out.append(("duration:mdhd-timescale=0", bytes(b)))
    if name.endswith((".mkv", ".webm")):
        for _, vo, n in _ebml_find(data, b"\x44\x89")[:1]:  # Duration (float)
            for v, tag in ((0.0, "zero"), (-1.0, "minus1"), (math.nan, "nan"), (math.inf, "inf"), (1e300, "huge")):
                b = bytearray(data)
                b[vo: vo + n] = struct.pack(">d", v) if n == 8 else struct.pack(">f", min(v, 3e38))
                out.append((f"duration:mkv={tag}", bytes(b)))
        for _, vo, n in _ebml_find(data, b"\x2a\xd7\xb1")[:1]:  # TimecodeScale
            for v, tag in ((0, "zero"), ((1 << (8 * n)) - 1, "max")):
                b = bytearray(data)
                b[vo: vo + n] = v.to_bytes(n, "big")
                out.append((f"duration:timecodescale={tag}", bytes(b)))
        blocks = [i for i in range(len(data) - 4) if data[i] == 0xA3 and data[i + 1] & 0x80]  # SimpleBlock
        if blocks:
            b = bytearray(data)
            for i in blocks:
                n = 9 - (data[i + 1]).bit_length()  # size vint length
                t = i + 1 + n + 1  # after the size and a one-byte track number vint
                if t + 2 <= len(b):
                    b[t: t + 2] = struct.pack(">h", -32768)
            out.append(("duration:block-timecodes=-32768", bytes(b)))
    return out


def _huge_metadata(name: str, data: bytes, n: int) -> list[tuple[str, bytes]]:
    out = []
    if name.endswith(".jpg"):
        seg = b"x" * 65000
        com = b"".join(b"\xff\xfe" + struct.pack(">H", len(seg) + 2) + seg for _ in range(max(1, n // 65000)))
        out.append((f"meta:jpeg-com={len(com)}", data[:2] + com + data[2:]))
        xmp = b"http://ns.adobe.com/xap/1.0/\x00" + b"<x:xmpmeta>" + b"y" * 64000
        app1 = b"".join(b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp for _ in range(max(1, n // 65000)))
        out.append((f"meta:jpeg-xmp={len(app1)}", data[:2] + app1 + data[2:]))
        exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08" + b"\xff" * 60000  # a bogus IFD: 65535 entries
        out.append(("meta:jpeg-exif-bogus", data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
                    + data[2:]))
    elif name.endswith(".png"):
        out.append((f"meta:png-text={n}", _png_insert(data, _png_chunk(b"tEXt", b"Comment\x00" + b"t" * n))))
        bomb = zlib.compress(b"z" * (64 * n), 9)  # decompresses to 64x its stored size
        out.append((f"meta:png-ztxt-bomb={64 * n}", _png_insert(data, _png_chunk(b"zTXt", b"Comment\x00\x00" + bomb))))
        out.append((f"meta:png-itxt={n}", _png_insert(data, _png_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00"
                                                                       + b"i" * n))))
        out.append((f"meta:png-exif={n}", _png_insert(data, _png_chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08"
                                                                       + b"\xff" * n))))
        out.append(("meta:png-1000-text-chunks", _png_insert(data, b"".join(
            _png_chunk(b"tEXt", f"k{i}".encode() + b"\x00" + b"v" * 1000) for i in range(1000)))))
    elif name.endswith(".gif"):
        blocks = b"".join(b"\xff" + b"c" * 255 for _ in range(n // 255)) + b"\x00"
        out.append((f"meta:gif-comment={n}", _gif_insert(data, b"\x21\xfe" + blocks)))
    elif name.endswith(".tif"):
        img = Image.open(io.BytesIO(data))
        buf = io.BytesIO()
        img.save(buf, format="TIFF", tiffinfo={270: "d" * n})
        out.append((f"meta:tiff-description={n}", buf.getvalue()))
    elif name.endswith(".webp"):
        img = Image.open(io.BytesIO(data))
        buf = io.BytesIO()
        img.save(buf, format="WEBP", exif=b"Exif\x00\x00" + b"MM\x00*\x00\x00\x00\x08" + b"\xee" * n)
        out.append((f"meta:webp-exif={n}", buf.getvalue()))
    return out


def _gif_insert(data: bytes, block: bytes) -> bytes:
    """Insert an extension block right after the header and global colour table."""
    flags = data[10]
    end = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    return data[:end] + block + data[end:]


#: The dimensions of the quick corpus (tests/test_fuzz.py).
QUICK_DIMENSIONS = ((0, 48), (65535, 65535), (0xFFFFFFFF, 0xFFFFFFFF))


def structured_cases(seeds: dict[str, Path], folder: Path, *, meta_bytes: int = 1 << 20,
                     dims: tuple[tuple[int, int], ...] = DIMENSIONS, swaps: int | None = None) -> list[Case]:
    """The hand-made bad inputs (see the module docstring); written to `folder`. `dims`: the (width, height) pairs
    written into headers; `swaps`: how many other extensions each seed is also saved under (None: every one, and
    none at all)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(base: str, mutation: str, data: bytes, ext: str, expect=None) -> None:
        p = folder / f"{len(cases):04d}-{base.replace('.', '_')}-{_slug(mutation)}{ext}"
        p.write_bytes(data)
        cases.append(Case(p, base, mutation, expect))

    exts = sorted({p.suffix for p in seeds.values()})
    for k, (name, path) in enumerate(seeds.items()):
        data = path.read_bytes()
        ext = path.suffix
        for w, h in dims:
            d = _dims_image(name, data, w, h) or _dims_video(name, data, w, h)
            if d is not None:
                add(name, f"dims={w}x{h}", d, ext)
        for label, d in _durations(name, data):
            add(name, label, d, ext)
        for label, d in _huge_metadata(name, data, meta_bytes):
            add(name, label, d, ext)
        others = [x for x in exts if x != ext]
        if swaps is not None:
            others = [others[(k + j) % len(others)] for j in range(swaps)]
        for other in others:
            add(name, f"named{other}", data, other, ("scored",))  # content decides, not the extension
        if swaps is None:
            add(name, "no-extension", data, "", ("scored",))
    # seeds concatenated: a still with a video after it (motion photos), two videos end to end
    add("base.jpg", "jpeg+mp4", seeds["base.jpg"].read_bytes() + seeds["h264.mp4"].read_bytes(), ".jpg")
    add("h264.mp4", "mp4+mp4", seeds["h264.mp4"].read_bytes() * 2, ".mp4")
    add("h264.mkv", "mkv+mkv", seeds["h264.mkv"].read_bytes() * 2, ".mkv")
    add("rgb.png", "png+jpeg", seeds["rgb.png"].read_bytes() + seeds["base.jpg"].read_bytes(), ".png")
    # one stream of each kind, alone; streams that are not video around a video
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-streams-"))
    try:
        for label, kw, ext in (("audio-only", {"video": False, "audio": "aac"}, ".mp4"),
                               ("audio-only", {"video": False, "audio": "libopus"}, ".webm"),
                               ("subtitles-only", {"video": False, "subtitles": True}, ".mkv"),
                               ("subtitles-only", {"video": False, "subtitles": True}, ".mp4"),
                               ("attachment-only", {"video": False, "attachment": b"hello" * 100}, ".mkv"),
                               ("audio+subtitles", {"video": False, "audio": "aac", "subtitles": True}, ".mkv")):
            p = _write_av(tmp / f"x{ext}", **kw)
            add(f"streams{ext}", label, p.read_bytes(), ext, ("not_media", "no_frames"))
        for label, kw, ext in (("video+audio", {"audio": "aac"}, ".mp4"),
                               ("video+attachment", {"attachment": b"a" * 1000}, ".mkv"),
                               ("video+audio+subtitles", {"audio": "aac", "subtitles": True}, ".mkv"),
                               ("negative-start", {"start_pts": -5}, ".mkv"),
                               ("negative-start", {"start_pts": -5}, ".mp4"),
                               ("huge-metadata", {"metadata": {"comment": "m" * meta_bytes}}, ".mp4"),
                               ("huge-metadata", {"metadata": {"comment": "m" * meta_bytes}}, ".mkv"),
                               ("one-frame", {"n": 1}, ".mp4"), ("one-frame", {"n": 1}, ".webm")):
            p = _write_av(tmp / f"x{ext}", codec="libvpx-vp9" if ext == ".webm" else "libx264", **kw)
            add(f"streams{ext}", label, p.read_bytes(), ext, ("scored",))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cases


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-=+x" else "_" for c in s)[:60]


# --- random mutations -------------------------------------------------------------------------------------------------

FIXED_CUTS = (1, 2, 3, 4, 6, 8, 11, 12, 16, 20, 24, 32, 48, 64, 100, 128, 200, 256, 400, 512, 1000, 2000, 4096)


def mutate(data: bytes, rng: np.random.Generator, kind: str | None = None) -> tuple[str, bytes]:
    """One random mutation of `data`: (label, bytes). `kind`: truncate, flip-header, flip-payload, zero, delete,
    insert (default: drawn)."""
    n = len(data)
    head = max(8, min(1024, n // 4))
    kind = kind or str(rng.choice(["truncate", "truncate", "flip-header", "flip-payload", "zero", "delete",
                                   "insert"]))
    if kind == "truncate":
        if rng.random() < 0.35:
            cut = int(rng.choice([c for c in FIXED_CUTS if c < n] or [1]))
        else:
            cut = int(rng.integers(1, n))
        return f"truncate@{cut}", data[:cut]
    b = bytearray(data)
    if kind in ("flip-header", "flip-payload"):
        lo, hi = (0, head) if kind == "flip-header" or n <= head + 1 else (head, n)
        k = int(rng.integers(1, 9))
        where = rng.integers(lo, hi, k)
        for i in where:
            b[int(i)] = int(rng.integers(0, 256))
        return f"{kind}x{k}@{int(where.min())}", bytes(b)
    if kind == "zero":
        start = int(rng.integers(0, n))
        length = int(min(n - start, rng.choice([1, 4, 16, 64, 256, 1024, 4096])))
        b[start: start + length] = bytes(length)
        return f"zero@{start}+{length}", bytes(b)
    if kind == "delete":
        start = int(rng.integers(0, n))
        length = int(min(n - start, rng.choice([1, 2, 7, 64, 512])))
        return f"delete@{start}+{length}", bytes(b[:start] + b[start + length:])
    if kind == "insert":
        start = int(rng.integers(0, n))
        junk = rng.integers(0, 256, int(rng.choice([1, 3, 16, 200]))).astype(np.uint8).tobytes()
        return f"insert@{start}+{len(junk)}", bytes(b[:start]) + junk + bytes(b[start:])
    raise ValueError(f"unknown mutation kind {kind!r}")


def make_corpus(folder: Path, n_random: int, *, seed: int = 0, size: tuple[int, int] = (48, 64),
                meta_bytes: int = 1 << 20, structured: bool = True, dims: tuple[tuple[int, int], ...] = DIMENSIONS,
                swaps: int | None = None) -> list[Case]:
    """Valid seeds (expected to score), the structured cases (`dims`, `swaps`: see `structured_cases`) and
    `n_random` random mutations spread evenly over the seeds, written under `folder` (seeds/, structured/,
    random/). Deterministic for a given `seed`."""
    folder = Path(folder)
    seeds = make_seeds(folder / "seeds", size=size, seed=seed)
    cases = [Case(p, name, "valid", ("scored",)) for name, p in seeds.items()]
    if structured:
        cases += structured_cases(seeds, folder / "structured", meta_bytes=meta_bytes, dims=dims, swaps=swaps)
    rng = np.random.default_rng(seed)
    (folder / "random").mkdir(parents=True, exist_ok=True)
    names = list(seeds)
    blobs = {k: p.read_bytes() for k, p in seeds.items()}
    for i in range(n_random):
        name = names[i % len(names)]
        label, data = mutate(blobs[name], rng)
        p = folder / "random" / f"{i:05d}-{name.replace('.', '_')}-{_slug(label)}{seeds[name].suffix}"
        p.write_bytes(data)
        cases.append(Case(p, name, label))
    return cases


# --- running a corpus through one `vqual score` -----------------------------------------------------------------------

_CHILD = r"""
import os, sys, time
trace = open(os.environ["VQUAL_FUZZ_TRACE"], "w", buffering=1)
import vqual.api as api
import vqual.output as output
real_make, real_load = output.make_writer, api.load_model
def make_writer(*a, **k):
    w = real_make(*a, **k)
    write = w.write
    def traced(item):
        trace.write("done\t%r\t%s\n" % (time.monotonic(), item.path))
        write(item)
    w.write = traced
    return w
def load_model(*a, **k):
    trace.write("load\t%r\n" % time.monotonic())
    try:
        return real_load(*a, **k)
    finally:
        trace.write("loaded\t%r\n" % time.monotonic())
output.make_writer, api.load_model = make_writer, load_model
stall = os.environ.get("VQUAL_FUZZ_STALL")  # tests of the watchdog: never answer the input of this name
if stall:
    real_precheck = api.precheck
    def precheck(src, *a, **k):
        while str(src).endswith(stall):
            time.sleep(1)
        return real_precheck(src, *a, **k)
    api.precheck = precheck
trace.write("start\t%r\n" % time.monotonic())
from vqual.cli import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class BatchRun:
    paths: list[str]
    fmt: str
    out: Path
    returncode: int | None
    stderr: str
    seconds: float  # the whole batch
    per_file: dict[str, float] = field(default_factory=dict)  # seconds to answer each input (model load excluded)
    model_load: float | None = None  # seconds
    hung: str | None = None  # the input that exceeded the per-file limit (the child was killed)
    limit: float = 0.0


def run_batch(paths: list[str | Path], out: Path, *, fmt: str = "json", per_file_limit: float = 10.0,
              load_limit: float = 120.0, extra: list[str] | None = None, env: dict[str, str] | None = None) -> BatchRun:
    """Run ``vqual score PATHS --format FMT --out OUT`` in one child process, watching each input's time."""
    paths = [str(p) for p in paths]
    out = Path(out)
    trace = out.with_suffix(out.suffix + ".trace")
    err_path = out.with_suffix(out.suffix + ".stderr")
    env = dict(os.environ if env is None else env, VQUAL_FUZZ_TRACE=str(trace))
    env.setdefault("OMP_NUM_THREADS", "1")
    argv = [sys.executable, "-c", _CHILD, "score", *paths, "--format", fmt, "--out", str(out), "--no-progress",
            "--timeline", *(extra or [])]
    t0 = time.monotonic()
    run = BatchRun(paths, fmt, out, None, "", 0.0, limit=per_file_limit)
    with open(err_path, "w") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            while proc.poll() is None:
                time.sleep(0.1)
                events = _read_trace(trace)
                now = time.monotonic()
                if not events:
                    if now - t0 > load_limit:
                        run.hung = "(start-up)"
                        break
                    continue
                last_kind, last_t = events[-1][0], events[-1][1]
                budget = load_limit if last_kind == "load" else per_file_limit
                if now - last_t > budget:  # the child's monotonic clock is ours (same host)
                    done = sum(e[0] == "done" for e in events)
                    run.hung = paths[done] if done < len(paths) else "(after the last input)"
                    break
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    run.returncode = proc.returncode if run.hung is None else None
    run.seconds = time.monotonic() - t0
    run.stderr = err_path.read_text(errors="replace")
    prev, loading, load_here = None, None, 0.0
    for ev in _read_trace(trace):
        if ev[0] == "start":
            prev = ev[1]
        elif ev[0] == "load":
            loading = ev[1]
        elif ev[0] == "loaded" and loading is not None:
            run.model_load = load_here = ev[1] - loading
        elif ev[0] == "done" and prev is not None:
            run.per_file[ev[2]] = max(0.0, ev[1] - prev - load_here)  # the model load is not the input's time
            prev, load_here = ev[1], 0.0
    return run


def _read_trace(path: Path) -> list[tuple]:
    try:
        text = path.read_text()
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue  # a line being written
        try:
            t = float(parts[1])
        except ValueError:
            continue
        events.append((parts[0], t, *parts[2:]))
    return events


# --- checking a run ---------------------------------------------------------------------------------------------------

def _finite(x, lo: float | None = None, hi: float | None = None) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
        return False
    return (lo is None or x >= lo - 1e-9) and (hi is None or x <= hi + 1e-9)


def check_result(r: dict) -> list[str]:
    """What is wrong with one scored result (JSON form), or []."""
    bad = []
    if not _finite(r.get("score"), 1, 5):
        bad.append(f"score {r.get('score')!r}")
    if not _finite(r.get("score_100"), 0, 100):
        bad.append(f"score_100 {r.get('score_100')!r}")
    if r.get("level") not in LEVELS:
        bad.append(f"level {r.get('level')!r}")
    probs = r.get("level_probs") or {}
    if set(probs) != set(LEVELS) or not all(_finite(v, 0, 1) for v in probs.values()) or \
            abs(sum(probs.values()) - 1) > 1e-6:
        bad.append(f"level_probs {probs!r}")
    if not _finite(r.get("uncertainty"), 0):
        bad.append(f"uncertainty {r.get('uncertainty')!r}")
    if r.get("raw_score") is not None and not _finite(r["raw_score"]):
        bad.append(f"raw_score {r['raw_score']!r}")
    for k, v in (r.get("attributes") or {}).items():
        if not _finite(v, 0, 1):
            bad.append(f"attribute {k} {v!r}")
    for m in r.get("timeline") or []:
        if not _finite(m.get("score"), 1, 5) or not all(_finite(v, 0, 1) for v in (m.get("attributes") or {}).values()):
            bad.append(f"timeline second {m.get('second')}: {m}")
        if not (_finite(m.get("start")) and _finite(m.get("end"))):
            bad.append(f"timeline second {m.get('second')}: start/end {m.get('start')!r}..{m.get('end')!r}")
    for k in ("width", "height"):
        if r.get(k) is not None and not (isinstance(r[k], int) and r[k] > 0):
            bad.append(f"{k} {r[k]!r}")
    for k in ("duration", "fps"):
        if r.get(k) is not None and not _finite(r[k], 0):
            bad.append(f"{k} {r[k]!r}")
    return bad


def outcomes(run: BatchRun) -> dict[str, tuple[str, str]]:
    """path -> ("scored", "") or (failure reason, message), read from the run's output file."""
    text = run.out.read_text()
    res: dict[str, tuple[str, str]] = {}
    if run.fmt == "json":
        doc = json.loads(text)
        for r in doc["results"]:
            res[r["path"]] = ("scored", "")
        for f in doc["failures"]:
            res[f["path"]] = (f["error"]["reason"], f["error"]["message"])
    else:
        for row in csv.DictReader(io.StringIO(text)):
            if row["kind"] == "second":
                continue
            res[row["path"]] = (row["error_reason"], row["error_message"]) if row["error_reason"] else ("scored", "")
    return res


def check_run(run: BatchRun, cases: list[Case] | None = None) -> list[str]:
    """Every broken invariant of a batch run, one line each ([] when all hold)."""
    problems = []
    if run.hung is not None:
        return [f"no answer for {run.hung} within {run.limit:g} s: the batch was killed"]
    for needle in ("Traceback", "internal error"):
        if needle in run.stderr:
            problems.append(f"stderr holds {needle!r}: {run.stderr[run.stderr.find(needle):][:500]}")
    if not run.out.exists():
        return problems + [f"{run.out} was not written (exit code {run.returncode})"]
    try:
        got = outcomes(run)
    except (ValueError, KeyError) as e:
        return problems + [f"{run.out} is not valid {run.fmt}: {e}"]
    if sorted(got) != sorted(run.paths):
        missing = sorted(set(run.paths) - set(got))
        extra = sorted(set(got) - set(run.paths))
        problems.append(f"{len(missing)} inputs missing from the output ({missing[:3]}), {len(extra)} unexpected")
    n_failed = sum(v[0] != "scored" for v in got.values())
    want_code = 1 if n_failed else 0
    if run.returncode != want_code:
        problems.append(f"exit code {run.returncode}, expected {want_code} ({n_failed} failed)")
    for path, (reason, message) in got.items():
        if reason != "scored" and (reason not in REASONS or not message.startswith(path)):
            problems.append(f"{path}: failed with reason {reason!r}: {message}")
    if run.fmt == "json":
        for r in json.loads(run.out.read_text())["results"]:
            for b in check_result(r):
                problems.append(f"{r['path']}: {b}")
    for case in cases or []:
        if case.expect is not None and str(case.path) in got and got[str(case.path)][0] not in case.expect:
            problems.append(f"{case.path.name} ({case.base}, {case.mutation}): {got[str(case.path)]}, expected one of "
                            f"{case.expect}")
    slow = {p: s for p, s in run.per_file.items() if s > run.limit}
    problems += [f"{p}: answered in {s:.1f} s, over the {run.limit:g} s limit" for p, s in slow.items()]
    return problems


def family(mutation: str) -> str:
    """The kind of a mutation label: "truncate@123" -> "truncate", "flip-headerx3@12" -> "flip-header",
    "dims=0x48" -> "dims", "named.mp4" -> "renamed", "duration:mvhd=zero" -> "duration"."""
    if mutation.startswith("named."):
        return "renamed"
    for sep in ("@", "=", ":"):
        mutation = mutation.split(sep)[0]
    return re.sub(r"x\d+$", "", mutation)


def summary(run: BatchRun, cases: list[Case] | None = None) -> dict:
    """Figures of a run: files tried, scored, failed by reason, slowest files, and per mutation family."""
    got = outcomes(run) if run.out.exists() else {}
    by_reason: dict[str, int] = {}
    for reason, _ in got.values():
        by_reason[reason] = by_reason.get(reason, 0) + 1
    slowest = sorted(run.per_file.items(), key=lambda kv: -kv[1])[:5]
    fam: dict[str, dict[str, int]] = {}
    for c in cases or []:
        f = family(c.mutation)
        o = got.get(str(c.path), ("missing-from-output", ""))[0]
        fam.setdefault(f, {})
        fam[f][o] = fam[f].get(o, 0) + 1
    return {"files": len(run.paths), "scored": by_reason.pop("scored", 0), "failed": sum(by_reason.values()),
            "failed_by_reason": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
            "exit_code": run.returncode, "batch_seconds": round(run.seconds, 2),
            "model_load_seconds": None if run.model_load is None else round(run.model_load, 2),
            "slowest": [{"path": f"{Path(p).parent.name}/{Path(p).name}", "seconds": round(s, 3)} for p, s in slowest],
            "median_file_seconds": round(float(np.median(list(run.per_file.values()))), 4) if run.per_file else None,
            "by_mutation": fam}
