"""Synthetic media for tests: small videos and images written on the fly (offline, deterministic, fast).

Import from any test (``tests/`` is on ``sys.path`` via ``tests/conftest.py``)::

    from mediagen import moving_pattern, write_video, write_image

Videos are tiny by default (64x64, a few frames) so that every codec encodes in well under a second.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vqual.data import synthetic


def moving_pattern_iter(n: int, h: int = 64, w: int = 64, seed: int = 0) -> Iterator[np.ndarray]:
    """Yield `n` textured HxWx3 uint8 frames: smooth colour ramps, fine noise texture and a bright square that moves
    one step right per frame (so consecutive frames differ and the image has no symmetry)."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(-24, 25, size=(h, w, 1), dtype=np.int16)
    y, x = np.mgrid[0:h, 0:w]
    side = max(2, min(h, w) // 6)
    for i in range(n):
        base = np.stack([(x * 255) // max(1, w - 1), (y * 255) // max(1, h - 1),
                         np.full_like(x, (i * 17) % 200 + 28)], axis=-1).astype(np.int16)
        frame = base + texture
        x0 = (i * max(1, w // 16)) % max(1, w - side)
        frame[h // 4: h // 4 + side, x0: x0 + side] = 250
        yield np.clip(frame, 0, 255).astype(np.uint8)


def moving_pattern(n: int, h: int = 64, w: int = 64, seed: int = 0) -> list[np.ndarray]:
    """`moving_pattern_iter` as a list."""
    return list(moving_pattern_iter(n, h, w, seed))


def marker_frame(h: int = 48, w: int = 64, value: int = 128) -> np.ndarray:
    """A flat grey frame with a white block in its top-left corner (quarter height and width): shows orientation."""
    a = np.full((h, w, 3), value, np.uint8)
    a[: h // 4, : w // 4] = 255
    return a


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 10, codec: str = "libx264",
                pix_fmt: str = "yuv420p", crf: int | None = None, rotation: int | None = None,
                vfr_timestamps: list[float] | None = None, options: dict[str, str] | None = None,
                container_options: dict[str, str] | None = None) -> Path:
    """`vqual.data.synthetic.write_video` with test defaults (10 fps, the codec's default quality);
    `vfr_timestamps` gives each frame's presentation time in seconds instead of a constant `fps`."""
    return synthetic.write_video(path, frames, fps=fps, codec=codec, crf=crf, pix_fmt=pix_fmt, options=options,
                                 timestamps=vfr_timestamps, time_base=Fraction(1, 1000), rotation=rotation,
                                 container_options=container_options)


def write_empty_video(path: str | Path, codec: str = "libx264", size: tuple[int, int] = (64, 64)) -> Path:
    """A container with a video stream header but no frames (use .avi: FFmpeg's MP4 muxer drops empty tracks and an
    empty .mkv has no packets at all)."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=10)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        out.start_encoding()
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_image(path: str | Path, array: np.ndarray | Image.Image, format: str | None = None, **save_kwargs) -> Path:
    """Save `array` (uint8 HxW / HxWx3 / HxWx4, uint16 HxW, or a PIL image) with PIL; format from the extension
    unless given. Extra keyword arguments go to `Image.save` (e.g. ``exif=``, ``quality=``)."""
    path = Path(path)
    im = array if isinstance(array, Image.Image) else Image.fromarray(np.ascontiguousarray(array))
    im.save(path, format=format, **save_kwargs)
    return path


def write_png_raw(path: str | Path, width: int, height: int, bit_depth: int, color_type: int,
                  rows: Iterable[bytes] | None = None, row: bytes | None = None) -> Path:
    """Write a PNG from raw (unfiltered) scanlines: either `rows`, or `row` repeated `height` times, streamed through
    zlib so that huge, highly compressible images (e.g. 30000x30000 1-bit) cost little time and memory.
    color_type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(1)
    parts = []
    if rows is not None:
        for r in rows:
            parts.append(comp.compress(b"\x00" + r))
    else:
        block = (b"\x00" + row) * 256
        for start in range(0, height, 256):
            parts.append(comp.compress(block if height - start >= 256 else block[: (height - start) * (len(row) + 1)]))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")
    Path(path).write_bytes(data)
    return Path(path)


def truncate_file(path: str | Path, fraction: float = 0.5, dst: str | Path | None = None) -> Path:
    """Keep the first `fraction` of the bytes (in place, or written to `dst`)."""
    data = Path(path).read_bytes()
    out = Path(dst) if dst is not None else Path(path)
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def set_mp4_matrix(path: str | Path, rotation_cw: int) -> Path:
    """Rewrite the first video ``tkhd`` matrix of an MP4/MOV in place, byte by byte (independently of FFmpeg), to the
    QuickTime matrix of a clockwise display rotation (90: a = 0, b = 1, c = -1, d = 0, as iPhones write)."""
    data = bytearray(Path(path).read_bytes())
    i = data.find(b"tkhd") - 4
    assert i >= 0, "no tkhd box"
    off = i + (48 if data[i + 8] == 0 else 60)
    one = 0x10000
    a, b, c, d = {0: (one, 0, 0, one), 90: (0, one, -one, 0), 180: (-one, 0, 0, -one),
                  270: (0, -one, one, 0)}[rotation_cw % 360]
    data[off: off + 36] = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 0x40000000)
    Path(path).write_bytes(bytes(data))
    return Path(path)
