import time
import warnings

import numpy as np
import pytest
from mediagen import moving_pattern, write_image, write_png_raw, write_video
from PIL import Image

from vqual.errors import MediaError
from vqual.media import DEFAULT_MAX_PIXELS, load_image


def _err(src, **kw):
    with pytest.raises(MediaError) as ei:
        load_image(src, **kw)
    msg = str(ei.value)
    assert "\n" not in msg
    if not isinstance(src, (np.ndarray, Image.Image)):
        assert msg.startswith(f"{src}: ")
    return ei.value


def _ok(rgb, h, w):
    assert rgb.shape == (h, w, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous


@pytest.fixture
def pattern():
    return moving_pattern(1, 48, 64)[0]


@pytest.mark.parametrize("ext,kw", [(".png", {}), (".bmp", {}), (".tif", {}), (".webp", {"lossless": True}),
                                    (".gif", {})])
def test_lossless_roundtrip(tmp_path, pattern, ext, kw):
    src = pattern if ext != ".gif" else (pattern // 64 * 64)  # few colours: GIF is paletted
    rgb = load_image(write_image(tmp_path / f"a{ext}", src, **kw))
    _ok(rgb, 48, 64)
    assert np.array_equal(rgb, src)


def test_jpeg_roundtrip(tmp_path, pattern):
    rgb = load_image(write_image(tmp_path / "a.jpg", pattern, quality=95))
    _ok(rgb, 48, 64)
    assert np.abs(rgb.astype(int) - pattern).mean() < 4


@pytest.mark.parametrize("orientation,corner", [(1, "tl"), (3, "br"), (6, "tr"), (8, "bl")])
def test_exif_orientation(tmp_path, orientation, corner):
    a = np.full((20, 40, 3), 60, np.uint8)  # stored 40 wide, 20 high, white block top-left
    a[:8, :8] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    rgb = load_image(write_image(tmp_path / "o.jpg", a, quality=95, exif=exif))
    h, w = (40, 20) if orientation in (6, 8) else (20, 40)
    _ok(rgb, h, w)
    blocks = {"tl": rgb[:6, :6], "tr": rgb[:6, -6:], "bl": rgb[-6:, :6], "br": rgb[-6:, -6:]}
    for name, block in blocks.items():
        assert (block.mean() > 200) == (name == corner), (name, block.mean())


def test_grayscale_and_1bit(tmp_path):
    g = np.arange(48 * 64, dtype=np.uint32).reshape(48, 64).astype(np.uint8)
    rgb = load_image(write_image(tmp_path / "g.png", g))
    _ok(rgb, 48, 64)
    assert np.array_equal(rgb[..., 0], g) and np.array_equal(rgb[..., 1], g) and np.array_equal(rgb[..., 2], g)
    b = Image.fromarray(g > 100).convert("1")
    rgb = load_image(write_image(tmp_path / "b.png", b))
    assert set(np.unique(rgb)) == {0, 255}


def test_rgba_composited_on_white(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[0, 0] = (10, 20, 30, 255)  # opaque: unchanged
    a[0, 1] = (0, 0, 0, 0)  # transparent: white
    a[0, 2] = (0, 0, 0, 128)  # half black over white
    for src in (write_image(tmp_path / "a.png", a), a, Image.fromarray(a)):
        rgb = load_image(src)
        _ok(rgb, 4, 4)
        assert tuple(rgb[0, 0]) == (10, 20, 30)
        assert tuple(rgb[0, 1]) == (255, 255, 255)
        assert tuple(rgb[0, 2]) == (127, 127, 127)
    la = Image.fromarray(a[..., [0, 3]], mode="LA")
    assert tuple(load_image(write_image(tmp_path / "la.png", la))[0, 1]) == (255, 255, 255)


def test_palette_with_transparency(tmp_path):
    p = Image.new("P", (4, 4), 0)
    p.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    p.putpixel((1, 0), 1)
    p.info["transparency"] = 0
    path = tmp_path / "p.png"
    p.save(path, transparency=0)
    rgb = load_image(path)
    _ok(rgb, 4, 4)
    assert tuple(rgb[0, 0]) == (255, 255, 255)  # transparent index -> white
    assert tuple(rgb[0, 1]) == (0, 0, 255)
    p2 = Image.new("P", (2, 2), 1)
    p2.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    assert tuple(load_image(write_image(tmp_path / "p2.gif", p2))[0, 0]) == (0, 0, 255)


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    rgb = load_image(write_image(tmp_path / "c.jpg", cmyk, quality=95))
    _ok(rgb, 16, 16)
    assert np.abs(rgb.astype(int) - (255, 0, 0)).max() < 12


def test_16bit_grey_png_scaled_not_clipped(tmp_path):
    vals = np.array([[0, 257, 1000, 32768, 65535, 65279]], np.uint16)
    path = write_image(tmp_path / "g16.png", vals)
    with Image.open(path) as im:
        assert im.mode.startswith("I")
    rgb = load_image(path)
    assert rgb[0, :, 0].tolist() == [0, 1, 4, 128, 255, 254]
    assert load_image(vals)[0, :, 1].tolist() == [0, 1, 4, 128, 255, 254]
    assert load_image(vals.astype(">u2"))[0, :, 2].tolist() == [0, 1, 4, 128, 255, 254]


def test_16bit_rgb_png(tmp_path):
    px = np.array([[[65535, 32768, 1000], [0, 514, 40000]]], ">u2")
    path = write_png_raw(tmp_path / "rgb16.png", 2, 1, 16, 2, rows=[px[0].tobytes()])
    rgb = load_image(path).astype(int)
    assert np.abs(rgb - np.round(px.astype(float) / 257)).max() <= 1  # scaled (PIL keeps the high byte), not clipped


def test_float_mode_and_int_mode(tmp_path):
    f = np.array([[0.0, 0.5, 1.0, 2.0]], np.float32)
    rgb = load_image(write_image(tmp_path / "f.tif", Image.fromarray(f, mode="F")))
    assert rgb[0, :, 0].tolist() == [0, 128, 255, 255]
    i = Image.fromarray(np.array([[0, 65535, 70000]], np.int32), mode="I")
    assert load_image(i)[0, :, 0].tolist() == [0, 255, 255]


def test_numpy_inputs():
    assert load_image(np.zeros((3, 5), np.uint8)).shape == (3, 5, 3)
    assert load_image(np.zeros((3, 5, 1), np.uint8)).shape == (3, 5, 3)
    f = load_image(np.array([[[0.0, 0.5, 1.0]], [[np.nan, -1, 7]]]))
    assert f[:, 0].tolist() == [[0, 128, 255], [0, 0, 255]]
    assert load_image(np.array([[True, False]]))[0, :, 0].tolist() == [255, 0]
    src = np.asfortranarray(np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
    out = load_image(src)
    assert out.flags.c_contiguous and np.array_equal(out, src)
    assert _err(np.zeros((2, 2), np.int64)).reason == "not_media"
    assert _err(np.zeros((2, 2, 5), np.uint8)).reason == "not_media"
    assert _err(np.zeros((0, 4, 3), np.uint8)).reason == "empty"
    assert "<in-memory input>: " in str(_err(np.zeros((2, 2, 5), np.uint8)))


def test_max_pixels_applies_to_paths_arrays_and_pil(tmp_path, pattern):
    path = write_image(tmp_path / "a.png", pattern)
    e = _err(path, max_pixels=1000)
    assert e.reason == "too_large" and "64x48" in str(e) and "1,000" in str(e)
    assert _err(pattern, max_pixels=1000).reason == "too_large"
    with Image.open(path) as im:
        assert _err(im, max_pixels=1000).reason == "too_large"
    assert load_image(path, max_pixels=64 * 48).shape == (48, 64, 3)


def test_huge_png_rejected_from_header_without_decoding(tmp_path):
    # 30000 x 30000 1-bit PNG (112 MB of raw scanlines, ~100 kB on disk): PIL alone would raise DecompressionBombError.
    path = write_png_raw(tmp_path / "huge.png", 30000, 30000, 1, 0, row=bytes(3750))
    assert DEFAULT_MAX_PIXELS < 30000 * 30000
    t = time.perf_counter()
    e = _err(path)
    assert time.perf_counter() - t < 0.5
    assert e.reason == "too_large" and "30000x30000" in str(e) and f"{DEFAULT_MAX_PIXELS:,}" in str(e)


def test_pil_bomb_warning_does_not_escape(tmp_path):
    path = write_png_raw(tmp_path / "big.png", 9800, 9800, 1, 0, row=bytes(1225))  # 96 Mpx: PIL warns, we refuse
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _err(path, max_pixels=50_000_000).reason == "too_large"


def test_empty_missing_text(tmp_path):
    assert _err(tmp_path / "nope.png").reason == "missing"
    (tmp_path / "e.png").write_bytes(b"")
    assert _err(tmp_path / "e.png").reason == "empty"
    (tmp_path / "t.jpg").write_text("just some text\n")
    e = _err(tmp_path / "t.jpg")
    assert e.reason == "not_media" and "text" in str(e)


def test_video_is_not_an_image(tmp_path):
    p = write_video(tmp_path / "v.mp4", moving_pattern(2))
    e = _err(p)
    assert e.reason == "not_media" and "video" in str(e)


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_truncated(tmp_path, ext):
    noise = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    p = write_image(tmp_path / f"n{ext}", noise, **({"quality": 90} if ext == ".jpg" else {}))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    e = _err(p)
    assert e.reason == "truncated", str(e)


def test_corrupt_header(tmp_path):
    (tmp_path / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert _err(tmp_path / "c.png").reason in ("corrupt", "truncated")
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8\xff" + bytes(200))
    assert _err(tmp_path / "c.jpg").reason in ("corrupt", "truncated")


def test_max_pixels_alone_decides_not_pils_bomb_limit(tmp_path, pattern, monkeypatch):
    path = write_image(tmp_path / "a.png", pattern)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL would now refuse 64x48 as a "bomb"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgb = load_image(path)
    assert np.array_equal(rgb, pattern)
    assert _err(path, max_pixels=3000).reason == "too_large"


# --- found by the fuzzed corpus (tests/test_fuzz.py, benchmarks/fuzz.py) --------------------------------------------

def _webp_with_size(path, pattern, width, height):
    """A lossy WebP whose VP8 frame header declares `width` x `height` (14 bits each)."""
    import struct

    write_image(path, pattern, quality=80)
    data = bytearray(path.read_bytes())
    o = data.find(b"VP8 ") + 8 + 6  # after the chunk header, the frame tag and the start code
    data[o: o + 4] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    path.write_bytes(bytes(data))
    return path


def test_a_webp_declaring_a_huge_size_is_too_large_not_an_internal_error(tmp_path, pattern):
    # The WebP plugin runs PIL's bomb check itself while reading the header (DecompressionBombError escaped).
    path = _webp_with_size(tmp_path / "huge.webp", pattern, 16383, 16383)
    e = _err(path)
    assert e.reason == "too_large" and "16383x16383" in str(e)
    assert _err(path, max_pixels=300_000_000).reason == "corrupt"  # allowed size: then the data does not decode


@pytest.mark.parametrize("where", ["before", "after", "many"])
def test_png_text_bombs_do_not_make_a_good_picture_unreadable(tmp_path, pattern, where):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    data = write_image(tmp_path / "a.png", pattern).read_bytes()
    if where == "many":  # 75 chunks of 0.9 MB each: over PIL's MAX_TEXT_MEMORY
        text = b"".join(chunk(b"zTXt", f"k{i}".encode() + b"\0\0" + zlib.compress(b"q" * (900 << 10)))
                        for i in range(75))
    else:  # one zTXt chunk that inflates to 64 MB: over MAX_TEXT_CHUNK
        text = chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"z" * (64 << 20), 9))
    at = 33 if where != "after" else data.find(b"IEND") - 4
    (tmp_path / "b.png").write_bytes(data[:at] + text + data[at:])
    assert np.array_equal(load_image(tmp_path / "b.png"), pattern)


@pytest.mark.parametrize("ext,kw", [(".jpg", {"quality": 90}), (".jpg", {"progressive": True}), (".png", {}),
                                    (".gif", {}), (".tif", {}), (".tif", {"compression": "tiff_adobe_deflate"}),
                                    (".bmp", {}), (".webp", {"quality": 80})])
def test_a_file_cut_anywhere_in_its_header_is_truncated_not_damaged(tmp_path, pattern, ext, kw):
    # Was "corrupt: header is damaged" (JPEG, PNG, GIF and TIFF headers cut; a deflate TIFF, whose directory PIL
    # writes at the end, cut anywhere), "not an image (looks like text)" (the first bytes of a TIFF or WebP). The
    # first 4 bytes of a BMP ("BM" and part of a size) still read as text: they are not enough to tell.
    data = write_image(tmp_path / f"a{ext}", pattern, **kw).read_bytes()
    cut = tmp_path / f"cut{ext}"
    first = 5 if ext == ".bmp" else 1
    offsets = sorted({*range(first, 300, 7), *range(300, len(data) - 16, max(1, len(data) // 40))})
    for n in offsets:
        cut.write_bytes(data[:n])
        with pytest.raises(MediaError) as ei:
            load_image(cut)
        assert ei.value.reason == "truncated", (n, str(ei.value))


def test_pil_warnings_about_damaged_metadata_stay_quiet(tmp_path, pattern):
    exif = Image.Exif()
    exif[0x010E] = "x" * 100
    data = bytearray(write_image(tmp_path / "a.jpg", pattern, exif=exif.tobytes()).read_bytes())
    i = data.find(b"Exif\0\0") + 6 + 8
    data[i: i + 2] = b"\x00\xff"  # 255 directory entries where there is one: "Corrupt EXIF data" warnings
    (tmp_path / "b.jpg").write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _ok(load_image(tmp_path / "b.jpg"), 48, 64)
