import numpy as np
import pytest
from mediagen import moving_pattern, write_image, write_video

from vqual.errors import MediaError
from vqual.media import IMAGE_EXTS, VIDEO_EXTS, media_kind


def _reason(fn, *args, **kw):
    with pytest.raises(MediaError) as ei:
        fn(*args, **kw)
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(str(args[0]) + ": ")
    return ei.value


def test_ext_sets():
    assert {".jpg", ".png", ".webp", ".tiff", ".bmp"} <= IMAGE_EXTS
    assert {".mp4", ".mkv", ".webm", ".avi", ".mov"} <= VIDEO_EXTS
    assert not IMAGE_EXTS & VIDEO_EXTS


@pytest.mark.parametrize("fmt,ext", [("JPEG", ".jpg"), ("PNG", ".png"), ("BMP", ".bmp"), ("WEBP", ".webp"),
                                     ("TIFF", ".tif"), ("GIF", ".gif")])
def test_images_by_magic_whatever_the_extension(tmp_path, fmt, ext):
    a = np.zeros((8, 8, 3), np.uint8)
    assert media_kind(write_image(tmp_path / f"a{ext}", a, format=fmt)) == "image"
    assert media_kind(write_image(tmp_path / "b.mp4", a, format=fmt)) == "image"  # magic beats extension
    assert media_kind(write_image(tmp_path / "c", a, format=fmt)) == "image"


@pytest.mark.parametrize("ext,codec", [(".mp4", "libx264"), (".mov", "libx264"), (".mkv", "libx264"),
                                       (".webm", "libvpx-vp9"), (".avi", "mpeg4")])
def test_videos_by_magic(tmp_path, ext, codec):
    p = write_video(tmp_path / f"v{ext}", moving_pattern(2), codec=codec)
    assert media_kind(p) == "video"
    q = tmp_path / "renamed.jpg"
    q.write_bytes(p.read_bytes())
    assert media_kind(q) == "video"


def test_missing_directory_empty(tmp_path):
    assert _reason(media_kind, tmp_path / "nope.mp4").reason == "missing"
    assert _reason(media_kind, tmp_path).reason == "missing"
    (tmp_path / "e.jpg").write_bytes(b"")
    assert _reason(media_kind, tmp_path / "e.jpg").reason == "empty"


@pytest.mark.parametrize("name", ["notes.mp4", "notes.jpg", "notes"])
def test_text_is_not_media(tmp_path, name):
    p = tmp_path / name
    p.write_text("hello, this is not a video\nreally not\n")
    e = _reason(media_kind, p)
    assert e.reason == "not_media" and "looks like text" in str(e)


def test_other_known_non_media(tmp_path):
    (tmp_path / "d.mp4").write_bytes(b"%PDF-1.7\n" + bytes(range(256)))
    assert "PDF" in str(_reason(media_kind, tmp_path / "d.mp4"))
    (tmp_path / "s.png").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    assert "SVG" in str(_reason(media_kind, tmp_path / "s.png"))


def test_unknown_binary_falls_back_to_extension(tmp_path):
    blob = bytes([0, 1, 2, 3, 250, 251, 252, 0]) * 64
    (tmp_path / "x.ts").write_bytes(blob)
    (tmp_path / "x.tga").write_bytes(blob)
    (tmp_path / "x.bin").write_bytes(blob)
    assert media_kind(tmp_path / "x.ts") == "video"
    assert media_kind(tmp_path / "x.tga") == "image"
    assert _reason(media_kind, tmp_path / "x.bin").reason == "not_media"


@pytest.mark.parametrize("head,fmt", [(b"\xff", "JPEG"), (b"\xff\xd8", "JPEG"), (b"\x89PNG\r", "PNG"),
                                      (b"GIF8", "GIF"), (b"II*", "TIFF"), (b"RIF", "RIFF"),
                                      (b"RIFF\x10\0\0\0WE", "RIFF"), (b"\x1a\x45\xdf", "Matroska"),
                                      (b"\0\0\0\x18ft", "MP4")])
def test_a_file_that_ends_inside_its_signature_is_truncated(tmp_path, head, fmt):
    p = tmp_path / "cut.bin"
    p.write_bytes(head)
    e = _reason(media_kind, p)
    assert e.reason == "truncated" and fmt in str(e)
    (tmp_path / "r.txt").write_bytes(b"Rxyz")  # text that merely starts like one is still text
    assert _reason(media_kind, tmp_path / "r.txt").reason == "not_media"


def test_identify_is_the_one_first_look_of_every_reader(tmp_path):
    """media_kind, load_image and probe_video all check a file through `identify`: its first n bytes, the size, the
    sniffed kind; a file cut inside its signature is truncated for each of them."""
    from vqual.media import load_image, probe_video
    from vqual.media.kind import identify

    png = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    head, size, kind, label = identify(png, 16)
    assert head == png.read_bytes()[:16] and size == png.stat().st_size and (kind, label) == ("image", "PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(b"\x89PNG\r")
    for read in (media_kind, load_image, probe_video):
        assert _reason(read, cut).reason == "truncated"
