"""Telling images from videos: file checks, magic-byte sniffing, extensions and the pixel-count limit."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from vqual.errors import MediaError

#: Largest frame or image (width * height) decoded unless a call says otherwise: a decompression-bomb guard.
DEFAULT_MAX_PIXELS: int = 100_000_000

IMAGE_EXTS: frozenset[str] = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".bmp", ".dib", ".webp", ".tif", ".tiff", ".gif", ".ppm",
    ".pgm", ".pbm", ".pnm", ".tga", ".ico", ".jp2", ".j2k", ".jpx", ".avif", ".qoi", ".dds", ".psd", ".mpo",
})
VIDEO_EXTS: frozenset[str] = frozenset({
    ".mp4", ".m4v", ".mov", ".qt", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".m2v", ".ts", ".mts", ".m2ts", ".flv",
    ".wmv", ".asf", ".3gp", ".3g2", ".ogv", ".y4m", ".ivf", ".h264", ".264", ".h265", ".265", ".hevc", ".mxf",
    ".vob", ".divx", ".f4v", ".obu", ".nut",
})

Kind = Literal["image", "video"]

# ISO-BMFF major/compatible brands that mean a still image (HEIF / AVIF), not a movie.
_IMAGE_BRANDS = {b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"mif2"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def resolve_max_pixels(max_pixels: int | None) -> int:
    """The limit to use: `max_pixels`, or `DEFAULT_MAX_PIXELS` when it is None."""
    if max_pixels is None:
        return DEFAULT_MAX_PIXELS
    if int(max_pixels) <= 0:
        raise ValueError(f"max_pixels must be a positive int or None, got {max_pixels!r}")
    return int(max_pixels)


def check_pixels(path: str | Path | None, what: str, width: int, height: int, max_pixels: int | None) -> None:
    """Raise MediaError ``too_large`` if ``width * height`` exceeds the limit."""
    limit = resolve_max_pixels(max_pixels)
    if width * height > limit:
        raise MediaError(path, "too_large", f"{what} too large: {width}x{height} = {width * height:,} pixels exceeds "
                                            f"the limit of {limit:,} pixels (max_pixels)")


def check_file(path: str | Path) -> int:
    """Raise MediaError ``missing`` / ``empty`` unless `path` is a non-empty regular file; return its size."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MediaError(path, "missing", "no such file") from None
    except OSError as e:
        raise MediaError(path, "missing", f"cannot access file ({e.strerror or e})") from None
    if os.path.isdir(path):
        raise MediaError(path, "missing", "is a directory, not a file")
    if st.st_size == 0:
        raise MediaError(path, "empty", "empty file (0 bytes)")
    return st.st_size


def read_head(path: str | Path, n: int = 1024) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as e:
        raise MediaError(path, "missing", f"cannot read file ({e.strerror or e})") from None


#: Signatures a file must hold whole to be recognised: (bytes, format). A file shorter than its format's signature
#: that starts like one is reported as that format, truncated (`check_signature`), rather than as unrecognised.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"\x1a\x45\xdf\xa3", "Matroska/WebM"), (b"DKIF", "IVF"),
)


def check_signature(path: str | Path, head: bytes, size: int) -> None:
    """Raise MediaError ``truncated`` for a file that ends inside a known format's signature (or, for RIFF and
    ISO-BMFF files, inside the first 12 bytes that say what they hold): e.g. the first 2 bytes of a JPEG."""
    if size != len(head) or size >= 12:
        return
    for magic, label in _SIGNATURES:
        if len(head) < len(magic) and magic.startswith(head):
            raise MediaError(path, "truncated", f"truncated {label}: the file ends inside its {len(magic)}-byte "
                                                f"signature ({size} bytes)")
    if b"RIFF".startswith(head[:4]) or (size >= 4 and head[:3] == b"\0\0\0" and head[3] >= 8
                                        and b"ftyp".startswith(head[4:8])):
        label = "RIFF (WebP/AVI)" if b"RIFF".startswith(head[:4]) else "MP4/MOV"
        raise MediaError(path, "truncated", f"truncated {label}: the file ends inside its 12-byte header "
                                            f"({size} bytes)")


def identify(path: str | Path, n: int = 1024) -> tuple[bytes, int, Kind | None, str | None]:
    """Check that `path` is a non-empty readable file that does not end inside a known signature, and identify it from
    its first `n` bytes: ``(head, size, kind, label)`` (`sniff`). Raises MediaError ``missing`` / ``empty`` /
    ``truncated``."""
    size = check_file(path)
    head = read_head(path, n)
    check_signature(path, head, size)
    return (head, size, *sniff(head))


def sniff(head: bytes) -> tuple[Kind | None, str | None]:
    """Identify content from its first bytes.

    Returns ``(kind, label)``: kind is "image"/"video" for recognised media (label names the format, e.g. "JPEG"),
    ``(None, label)`` for recognised non-media (e.g. "text", "a PDF document"), ``(None, None)`` if unknown.
    """
    h = head
    if h[:3] == b"\xff\xd8\xff":
        return "image", "JPEG"
    if h[:8] == b"\x89PNG\r\n\x1a\n":
        return "image", "PNG"
    if h[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "GIF"
    if h[:4] == b"RIFF" and len(h) >= 12:
        sub = h[8:12]
        if sub == b"WEBP":
            return "image", "WebP"
        if sub in (b"AVI ", b"AVIX"):
            return "video", "AVI"
        if sub == b"WAVE":
            return None, "audio (WAV)"
        return None, None
    if h[:2] == b"BM" and len(h) >= 18 and int.from_bytes(h[14:18], "little") in (12, 16, 40, 52, 56, 64, 108, 124):
        return "image", "BMP"
    if h[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image", "TIFF"
    if h[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n" or h[:4] == b"\xff\x4f\xff\x51":
        return "image", "JPEG 2000"
    if h[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n" or h[:2] == b"\xff\x0a":
        return "image", "JPEG XL"
    if h[:4] in (b"qoif",):
        return "image", "QOI"
    if h[:4] == b"8BPS":
        return "image", "PSD"
    if h[:4] == b"DDS ":
        return "image", "DDS"
    if h[:4] == b"\x00\x00\x01\x00" and len(h) >= 6 and h[4:6] != b"\x00\x00":
        return "image", "ICO"
    if len(h) >= 3 and h[0:1] == b"P" and h[1:2] in b"1234567" and h[2:3] in b" \t\r\n":
        return "image", "PNM"
    if len(h) >= 12 and h[4:8] == b"ftyp":
        end = min(len(h), max(16, int.from_bytes(h[:4], "big")))  # the ftyp box only
        brands = {h[i:i + 4] for i in range(8, end - 3, 4) if i != 12}
        major = h[8:12]
        if major in _IMAGE_BRANDS or (not brands & {b"isom", b"mp41", b"mp42", b"qt  ", b"avc1", b"iso2"}
                                      and brands & _IMAGE_BRANDS):
            return "image", "HEIF/AVIF"
        if major in _AUDIO_BRANDS:
            return None, "audio (M4A)"
        return "video", "QuickTime MOV" if major == b"qt  " else "MP4"
    if len(h) >= 8 and h[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "video", "QuickTime MOV"
    if h[:4] == b"\x1a\x45\xdf\xa3":
        return "video", "WebM" if b"webm" in h[:64] else "Matroska"
    if len(h) > 188 and h[0] == 0x47 and h[188] == 0x47:
        return "video", "MPEG-TS"
    if len(h) > 196 and h[4] == 0x47 and h[196] == 0x47:
        return "video", "MPEG-TS"
    if h[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):
        return "video", "MPEG"
    if h[:3] == b"FLV":
        return "video", "FLV"
    if h[:8] == b"\x30\x26\xb2\x75\x8e\x66\xcf\x11":
        return "video", "ASF/WMV"
    if h[:4] == b"OggS":
        return "video", "Ogg"
    if h[:24] == b"nut/multimedia container":
        return "video", "NUT"
    if h[:4] == b"DKIF":
        return "video", "IVF"
    if h[:9] == b"YUV4MPEG2":
        return "video", "Y4M"
    if h[:4] == b"\x00\x00\x00\x01" and len(h) > 4 and ((h[4] & 0x1F) in (7, 9) or ((h[4] >> 1) & 0x3F) in (32, 35)):
        return "video", "H.264/HEVC elementary stream"
    if h[:3] == b"ID3" or (len(h) >= 2 and h[0] == 0xFF and (h[1] & 0xE0) == 0xE0):
        return None, "audio (MP3/AAC)"
    if h[:4] == b"fLaC":
        return None, "audio (FLAC)"
    for magic, label in ((b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"), (b"\x1f\x8b", "gzip data"),
                         (b"\x7fELF", "an executable"), (b"MZ", "an executable"), (b"Rar!", "a RAR archive"),
                         (b"7z\xbc\xaf", "a 7z archive"), (b"SQLite format 3", "an SQLite database")):
        if h.startswith(magic):
            return None, label
    text = _text_label(h)
    if text:
        return None, text
    return None, None


def _text_label(h: bytes) -> str | None:
    if not h or b"\x00" in h:
        return None
    try:
        s = h.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(h) - 4:  # not just a multi-byte character cut at the end of the sample
            return None
        s = h[: e.start].decode("utf-8")
    if not s:
        return None
    printable = sum(ch.isprintable() or ch in "\r\n\t\f" for ch in s)
    if printable < 0.95 * len(s):
        return None
    low = s.lstrip("\ufeff \t\r\n").lower()
    if low.startswith("<svg") or (low.startswith("<?xml") and "<svg" in low):
        return "an SVG drawing (vector images are not supported)"
    if low.startswith(("<!doctype html", "<html")):
        return "HTML"
    return "text"


def media_kind(path: str | Path) -> Kind:
    """``"image"`` or ``"video"``: by magic bytes first, extension second.

    Raises MediaError ``missing`` (no such file / a directory), ``empty`` (0 bytes), ``truncated`` (the file ends
    inside a known signature) or ``not_media``.
    """
    _, _, kind, label = identify(path)
    if kind is not None:
        return kind
    if label is not None:
        raise MediaError(path, "not_media", f"not an image or video (looks like {label})")
    ext = Path(path).suffix.lower()
    if ext in IMAGE_EXTS:
        return "image"
    if ext in VIDEO_EXTS:
        return "video"
    raise MediaError(path, "not_media", "not an image or video (unrecognised content"
                                        + (f" and extension {ext!r})" if ext else ")"))
