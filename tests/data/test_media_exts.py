"""One list of media extensions (`vqual.media.kind`) serves scoring, input expansion and the dataset loaders."""

import pytest

from vqual.data import base, manifest
from vqual.data.base import MediaIndex
from vqual.errors import MediaError
from vqual.media import kind
from vqual.media.kind import IMAGE_EXTS, VIDEO_EXTS, media_kind

#: The dataset loaders' own list before it became `vqual.media.kind`'s (minus ".yuv", see below).
DATASET_EXTS_BEFORE = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".jp2", ".mp4", ".mkv",
                       ".avi", ".mov", ".webm", ".m4v", ".3gp", ".mpg", ".mpeg", ".ts", ".flv"}


def test_the_loaders_use_the_media_lists():
    assert base.IMAGE_EXTS is manifest.IMAGE_EXTS is kind.IMAGE_EXTS
    assert base.VIDEO_EXTS is manifest.VIDEO_EXTS is kind.VIDEO_EXTS
    assert DATASET_EXTS_BEFORE <= IMAGE_EXTS | VIDEO_EXTS and not IMAGE_EXTS & VIDEO_EXTS
    assert all(e == e.lower() and e.startswith(".") for e in IMAGE_EXTS | VIDEO_EXTS)


def test_a_dataset_folder_is_searched_for_every_media_extension(tmp_path):
    for rel in ("a/one.AVIF", "b/two.y4m", "c/three.JP2", "notes.txt", "raw.yuv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    idx = MediaIndex(tmp_path, IMAGE_EXTS | VIDEO_EXTS)
    assert idx.by_stem("one") == tmp_path / "a/one.AVIF" and idx.by_stem("TWO") == tmp_path / "b/two.y4m"
    assert idx.by_name("three.jp2") == tmp_path / "c/three.JP2"
    assert idx.by_stem("notes") is None and idx.by_stem("raw") is None
    assert idx.resolve("elsewhere/one.jpg", by_stem=True) == tmp_path / "a/one.AVIF"  # a media name: by its stem


def test_raw_yuv_is_not_media(tmp_path):
    """The loaders once searched for ".yuv" too; a raw YUV file has no header (size and pixel format unknown), so
    vqual cannot decode it and it is in neither list."""
    path = tmp_path / "clip.yuv"
    path.write_bytes(bytes(range(256)) * 24)
    assert ".yuv" not in IMAGE_EXTS | VIDEO_EXTS
    with pytest.raises(MediaError) as e:
        media_kind(path)
    assert e.value.reason == "not_media"
