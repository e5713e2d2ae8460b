"""Loading any still image (path, PIL image or numpy array) as an HxWx3 uint8 RGB array.

Conversions (documented policy):

* EXIF orientation is applied (`PIL.ImageOps.exif_transpose`); a malformed EXIF block is ignored, not fatal.
* Alpha (RGBA, LA, PA, palette with transparency, HxWx4 / HxWx2 arrays) is composited over white:
  ``out = (c * a + 255 * (255 - a)) / 255``, rounded. Fully transparent pixels become white.
* Greyscale and 1-bit images are replicated to three channels; CMYK / YCbCr / HSV use PIL's conversion.
* 16-bit data (I;16 / I;16B / 16-bit grey PNG and TIFF, uint16 arrays) is scaled, not clipped:
  ``round(v / 257)``, so 65535 -> 255 and 32768 -> 128. PIL itself decodes 16-bit *colour* PNG / TIFF to 8-bit by
  keeping the high byte (``v >> 8``), at most one level below ``round(v / 257)``; that path is left to PIL.
* Mode ``I`` (32-bit int) is read as 16-bit data (clipped to 0..65535); mode ``F`` and float arrays as [0, 1]
  (clipped, NaN -> 0).
* Multi-frame files (GIF, APNG, animated WebP, multi-page TIFF, MPO) give their first frame.
* Embedded ICC profiles are not applied: pixel values are taken as sRGB.

The size is checked against ``max_pixels`` from the header, before any pixel is decoded. PIL's own
decompression-bomb check is bypassed (the header is re-read without it) so that ``max_pixels`` alone decides.
Metadata is not needed to judge a picture: a PNG whose text chunks exceed PIL's safety limits (a zTXt "zip bomb",
megabytes of iTXt) is read again without its text chunks rather than refused.
"""

from __future__ import annotations

import contextlib
import io
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from vqual.errors import MediaError
from vqual.media.imagescan import truncation
from vqual.media.kind import check_pixels, identify


def load_image(src: Any, max_pixels: int | None = None) -> np.ndarray:
    """Load `src` (a path, a `PIL.Image.Image` or a numpy array) as an HxWx3 uint8 C-contiguous RGB array.

    Numpy input: HxW grey, HxWx1, HxWx2 (grey + alpha), HxWx3 RGB or HxWx4 RGBA; dtype uint8, uint16 or float in
    [0, 1] (bool is accepted as 0/255). Raises `MediaError` (``missing``, ``empty``, ``not_media``, ``too_large``,
    ``truncated``, ``corrupt``).
    """
    if isinstance(src, np.ndarray):
        return array_to_rgb(src, max_pixels=max_pixels)
    if isinstance(src, Image.Image):
        path = getattr(src, "filename", None) or None
        check_pixels(path, "image", src.width, src.height, max_pixels)
        return _pil_to_rgb(src, path)
    if isinstance(src, (str, Path)):
        return _load_path(src, max_pixels)
    raise TypeError(f"load_image expects a path, a PIL image or a numpy array, not {type(src).__name__}")


# --- paths ----------------------------------------------------------------------------------------------------------
def _load_path(path: str | Path, max_pixels: int | None) -> np.ndarray:
    head, size, kind, label = identify(path, 512)
    if kind == "video":
        raise MediaError(path, "not_media", f"not an image (looks like a {label} video)")
    if kind is None and label is not None:
        raise MediaError(path, "not_media", f"not an image (looks like {label})")
    declared = 8 + int.from_bytes(head[4:8], "little")
    if label == "WebP" and declared > size:  # libwebp only says "cannot decode"
        raise MediaError(path, "truncated", f"truncated WebP: the RIFF header declares {declared:,} bytes "
                                            f"but the file has {size:,}")
    try:
        return _decode(path, path, kind, label, max_pixels)
    except MediaError as e:
        if label != "PNG" or not any(m in e.detail for m in _PNG_TEXT_LIMITS):
            raise
    return _decode(path, io.BytesIO(_png_without_text(path)), kind, label, max_pixels)


#: What PIL says when a PNG's text chunks exceed its limits (MAX_TEXT_CHUNK, MAX_TEXT_MEMORY).
_PNG_TEXT_LIMITS = ("MAX_TEXT_CHUNK", "text chunks")


def _decode(path: str | Path, source: str | Path | io.BytesIO, kind: str | None, label: str | None,
            max_pixels: int | None) -> np.ndarray:
    im = _open(path, kind, label, source)
    try:
        check_pixels(path, "image", im.width, im.height, max_pixels)
        return _pil_to_rgb(im, path)
    finally:
        im.close()


def _png_without_text(path: str | Path) -> bytes:
    """The PNG at `path` minus its tEXt, zTXt and iTXt chunks (chunk by chunk; anything after a chunk that does
    not parse is kept as it is, for the decoder to judge)."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [data[:8]], 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos: pos + 4], "big")
        end = pos + 12 + length
        if end > len(data):
            break
        if data[pos + 4: pos + 8] not in (b"tEXt", b"zTXt", b"iTXt"):
            out.append(data[pos:end])
        pos = end
    out.append(data[pos:])
    return b"".join(out)


def _open(path: str | Path, kind: str | None, label: str | None,
          source: str | Path | io.BytesIO | None = None) -> ImageFile.ImageFile:
    """`Image.open` (header only) of `source` (default: `path`, which errors name) with PIL's decompression-bomb
    check replaced by ours; errors as MediaError."""
    source = path if source is None else source
    try:
        with warnings.catch_warnings():
            _quiet_pil()
            return Image.open(source)
    except Image.DecompressionBombError:
        im = _open_unchecked(source)
        if im is not None:
            return im
        raise MediaError(path, "too_large", f"image too large: exceeds PIL's limit of {2 * Image.MAX_IMAGE_PIXELS:,} "
                                            "pixels") from None
    except UnidentifiedImageError:
        _raise_if_truncated(path)
        if label == "HEIF/AVIF":
            raise MediaError(path, "unsupported_codec", "unsupported image format: this HEIF/AVIF variant (e.g. HEIC) "
                                                        "has no decoder in this Pillow build") from None
        if kind == "image":
            raise MediaError(path, "corrupt", f"cannot read {label} image: header is damaged or the format variant "
                                              "is not supported") from None
        raise MediaError(path, "not_media", "not an image (unrecognised image format)") from None
    except (EOFError, struct.error) as e:
        raise MediaError(path, "truncated",
                         f"truncated {label or 'image'}: file ends inside the header ({e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        if "truncated" in str(e).lower():
            raise MediaError(path, "truncated", f"truncated {label or 'image'}: {_one_line(e)}") from None
        _raise_if_truncated(path)
        raise MediaError(path, "corrupt", f"cannot read {label or 'image'}: {_one_line(e)}") from None


def _quiet_pil() -> None:
    """Inside ``warnings.catch_warnings()``: no bomb warning (max_pixels decides) and none of PIL's warnings about
    damaged metadata ("Corrupt EXIF data", "Truncated File Read"), which would only clutter a batch's stderr: what
    matters is whether the picture decodes."""
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")


def _raise_if_truncated(path: str | Path | None) -> None:
    """After PIL failed: MediaError ``truncated`` if the file's own structure says it was cut short
    (`vqual.media.imagescan`), so that a cut file is not reported as a damaged one."""
    why = truncation(path) if isinstance(path, (str, Path)) else None
    if why:
        raise MediaError(path, "truncated", why) from None


def _open_unchecked(path: str | Path | io.BytesIO) -> ImageFile.ImageFile | None:
    """Identify `path` as `Image.open` does, minus the decompression-bomb check (max_pixels is checked instead).

    Some plugins (WebP) run the check themselves while reading the header: it is switched off meanwhile."""
    Image.init()
    # on success the file is handed over to (and closed with) the image
    fp = path if isinstance(path, io.BytesIO) else open(path, "rb")  # noqa: SIM115
    name = "" if isinstance(path, io.BytesIO) else str(path)
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        fp.seek(0)
        prefix = fp.read(16)
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            try:
                ok = accept is None or accept(prefix)
                if ok and not isinstance(ok, str):
                    fp.seek(0)
                    im = factory(fp, name)
                    im._exclusive_fp = True  # close fp with the image
                    return im
            except (SyntaxError, IndexError, TypeError, struct.error, OSError, ValueError):
                continue
    except BaseException:
        fp.close()
        raise
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    fp.close()
    return None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


# --- PIL image -> array ---------------------------------------------------------------------------------------------
def _pil_to_rgb(im: Image.Image, path: str | Path | None) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            _quiet_pil()
            im.load()
    except (OSError, EOFError, SyntaxError, ValueError, struct.error, IndexError) as e:
        msg = _one_line(e)
        fmt = im.format or "image"
        if isinstance(e, EOFError) or "truncated" in msg.lower():
            raise MediaError(path, "truncated", f"truncated {fmt}: {msg}") from None
        _raise_if_truncated(path)
        raise MediaError(path, "corrupt", f"cannot decode {fmt}: {msg}") from None
    with contextlib.suppress(Exception), warnings.catch_warnings():  # a malformed EXIF block is not fatal either
        _quiet_pil()
        if im.getexif().get(0x0112, 1) in (2, 3, 4, 5, 6, 7, 8):  # else exif_transpose would only copy
            im = ImageOps.exif_transpose(im) or im
    return _to_rgb8(im, path)


def _to_rgb8(im: Image.Image, path: str | Path | None) -> np.ndarray:
    mode = im.mode
    if mode == "RGB":
        return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
    if mode == "L":
        return _grey_to_rgb(np.asarray(im, dtype=np.uint8))
    if mode == "1":
        return _grey_to_rgb(np.asarray(im.convert("L"), dtype=np.uint8))
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return _grey_to_rgb(_scale16(np.asarray(im)))
    if mode == "I":
        return _grey_to_rgb(_scale16(np.clip(np.asarray(im), 0, 65535)))
    if mode == "F":
        return _grey_to_rgb(_scale_float(np.asarray(im)))
    if mode == "LA" or mode == "La":
        a = np.asarray(im.convert("LA") if mode == "La" else im, dtype=np.uint8)
        return _composite_white(_grey_to_rgb(a[..., 0]), a[..., 1])
    if mode == "P" and "transparency" not in im.info:
        return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
    if mode in ("RGBA", "RGBa", "P", "PA"):
        a = np.asarray(im if mode == "RGBA" else im.convert("RGBA"), dtype=np.uint8)
        return _composite_white(a[..., :3], a[..., 3])
    try:
        return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
    except (ValueError, OSError) as e:
        raise MediaError(path, "corrupt", f"unsupported image mode {mode!r}: {_one_line(e)}") from None


# --- numpy ----------------------------------------------------------------------------------------------------------
def array_to_rgb(a: np.ndarray, max_pixels: int | None = None, path: str | Path | None = None) -> np.ndarray:
    """Convert a numpy image (see `load_image`) to HxWx3 uint8 C-contiguous RGB."""
    if a.ndim == 3 and a.shape[2] in (1, 2, 3, 4):
        channels = a.shape[2]
    elif a.ndim == 2:
        channels = 0
    else:
        raise MediaError(path, "not_media", f"not an image array: shape {a.shape} (expected HxW, HxWx1, HxWx2, "
                                            "HxWx3 or HxWx4)")
    h, w = a.shape[:2]
    if h == 0 or w == 0:
        raise MediaError(path, "empty", f"empty image array: shape {a.shape}")
    check_pixels(path, "image", w, h, max_pixels)
    if a.dtype == np.uint8:
        u8 = a
    elif a.dtype.kind == "u" and a.dtype.itemsize == 2:  # uint16, either byte order
        u8 = _scale16(a)
    elif a.dtype == np.bool_:
        u8 = a.astype(np.uint8) * np.uint8(255)
    elif a.dtype.kind == "f":
        u8 = _scale_float(a)
    else:
        raise MediaError(path, "not_media", f"unsupported image array dtype {a.dtype} (use uint8, uint16 or float "
                                            "in [0, 1])")
    if channels == 0 or channels == 1:
        return _grey_to_rgb(u8.reshape(h, w))
    if channels == 2:
        return _composite_white(_grey_to_rgb(u8[..., 0]), u8[..., 1])
    if channels == 4:
        return _composite_white(u8[..., :3], u8[..., 3])
    return np.ascontiguousarray(u8)


def _scale16(a: np.ndarray) -> np.ndarray:
    """uint16 (any byte order) -> uint8 by round(v / 257) = round(v * 255 / 65535)."""
    v = a.astype(np.uint32)
    return ((v * 255 + 32767) // 65535).astype(np.uint8)


def _scale_float(a: np.ndarray) -> np.ndarray:
    v = np.nan_to_num(a.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    return np.floor(np.clip(v, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _grey_to_rgb(g: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(g[..., None], 3, axis=2), dtype=np.uint8)


def _composite_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite straight-alpha `rgb` over white, rounding to nearest."""
    a = alpha.astype(np.uint32)[..., None]
    out = (rgb.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    return np.ascontiguousarray(out, dtype=np.uint8)
