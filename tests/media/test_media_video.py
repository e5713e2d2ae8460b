import inspect
import tracemalloc

import av
import numpy as np
import pytest
from mediagen import (
    marker_frame,
    moving_pattern,
    moving_pattern_iter,
    set_mp4_matrix,
    truncate_file,
    write_empty_video,
    write_video,
)

from vqual.errors import MediaError
from vqual.media import Chunk, VideoInfo, iter_chunks, media_kind, probe_video

CODECS = set(av.codecs_available)


def _err(fn, path, **kw):
    with pytest.raises(MediaError) as ei:
        r = fn(path, **kw)
        if inspect.isgenerator(r):
            list(r)
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(f"{path}: ")
    return ei.value


def _need(*codecs):
    missing = [c for c in codecs if c not in CODECS]
    if missing:
        pytest.skip(f"codec(s) not in this PyAV build: {missing}")


# --- codecs and containers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext,codec,pix_fmt,name", [
    (".mp4", "libx264", "yuv420p", "h264"),
    (".mov", "libx264", "yuv420p", "h264"),
    (".mkv", "libx265", "yuv420p", "hevc"),
    (".mp4", "libx265", "yuv420p", "hevc"),
    (".webm", "libvpx-vp9", "yuv420p", "vp9"),
    (".mp4", "libsvtav1", "yuv420p", "av1"),
    (".webm", "libsvtav1", "yuv420p", "av1"),
    (".avi", "mpeg4", "yuv420p", "mpeg4"),
    (".avi", "mjpeg", "yuvj420p", "mjpeg"),
])
def test_codecs_and_containers(tmp_path, ext, codec, pix_fmt, name):
    _need(codec)
    src = moving_pattern(12)
    p = write_video(tmp_path / f"v{ext}", src, fps=10, codec=codec, pix_fmt=pix_fmt)
    assert media_kind(p) == "video"
    info = probe_video(p)
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height, info.codec, info.rotation, info.bit_depth) == (64, 64, name, 0, 8)
    assert info.fps == pytest.approx(10.0)
    assert info.n_frames == 12 and info.duration == pytest.approx(1.2, abs=0.05)
    chunks = list(iter_chunks(p))
    assert [c.index for c in chunks] == [0, 1]
    assert [c.frame_indices for c in chunks] == [list(range(10)), [10, 11]]
    assert [c.key_index for c in chunks] == [0, 10]
    assert chunks[0].timestamps == pytest.approx([i / 10 for i in range(10)])
    assert (chunks[0].t0, chunks[0].t1, chunks[1].t0) == (0.0, 1.0, 1.0) and chunks[1].t1 == pytest.approx(1.2)
    for c in chunks:
        assert isinstance(c, Chunk)
        assert c.key_frame.shape == (64, 64, 3) and c.key_frame.dtype == np.uint8 and c.key_frame.flags.c_contiguous
        assert c.luma.shape == (len(c.frame_indices), 64, 64) and c.luma.dtype == np.float32
        assert c.luma.min() >= 0.0 and c.luma.max() <= 1.0
    dists = [np.abs(chunks[1].key_frame.astype(int) - s).mean() for s in src]
    assert int(np.argmin(dists)) == 10 and dists[10] < 16


@pytest.mark.parametrize("ext,codec", [(".mp4", "libx265"), (".mp4", "libx264"), (".mkv", "libsvtav1")])
def test_10bit_to_8bit_rgb(tmp_path, ext, codec):
    _need(codec)
    colours = [(200, 60, 30), (20, 120, 220), (128, 128, 128)]
    frames = [np.full((64, 64, 3), c, np.uint8) for c in colours for _ in range(4)]
    p = write_video(tmp_path / f"ten{ext}", frames, fps=4, codec=codec, pix_fmt="yuv420p10le")
    info = probe_video(p)
    assert (info.pix_fmt, info.bit_depth) == ("yuv420p10le", 10)
    chunks = list(iter_chunks(p))
    assert len(chunks) == 3
    for c, colour in zip(chunks, colours):
        assert np.abs(c.key_frame.reshape(-1, 3).mean(0) - colour).max() < 6, (c.key_frame[0, 0], colour)
        y601 = (0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]) / 255
        assert c.luma.mean() == pytest.approx(y601, abs=0.02)


def test_luma_matches_independent_block_mean(tmp_path):
    frames = moving_pattern(3, 48, 66)
    p = write_video(tmp_path / "l.mp4", frames, codec="libx264", crf=10)
    (c,) = list(iter_chunks(p, luma_size=16))  # factor ceil(66 / 16) = 5 -> 9 x 13, dropping 3 rows, 1 column
    assert c.luma.shape == (3, 9, 13)
    with av.open(str(p)) as con:
        for i, frame in enumerate(con.decode(video=0)):
            g = frame.to_ndarray(format="gray").astype(np.float64) / 255  # swscale: limited -> full range
            ref = g[:45, :65].reshape(9, 5, 13, 5).mean(axis=(1, 3))
            assert np.abs(c.luma[i] - ref).max() < 1.5 / 255
    (full,) = list(iter_chunks(p, luma_size=1000))
    assert full.luma.shape == (3, 48, 66)
    (none,) = list(iter_chunks(p, luma_size=None))
    assert none.luma is None and none.key_frame.shape == (48, 66, 3)


# --- orientation ----------------------------------------------------------------------------------------------------
def _corner(a):
    """Which corner of a displayed frame (or luma) holds the white marker."""
    h, w = a.shape[:2]
    blocks = {"tl": a[: h // 8, : w // 8], "tr": a[: h // 8, -w // 8:], "bl": a[-h // 8:, : w // 8],
              "br": a[-h // 8:, -w // 8:]}
    bright = [k for k, b in blocks.items() if b.mean() > (200 if a.dtype == np.uint8 else 0.8)]
    assert len(bright) == 1, {k: float(b.mean()) for k, b in blocks.items()}
    return bright[0]


@pytest.mark.parametrize("rotation,corner", [(0, "tl"), (90, "tr"), (180, "br"), (270, "bl")])
def test_rotation_metadata(tmp_path, rotation, corner):
    p = write_video(tmp_path / "r.mp4", [marker_frame(48, 64)] * 3, rotation=rotation)  # stored 64 wide, 48 high
    info = probe_video(p)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((48, 64) if rotation in (90, 270) else (64, 48))
    (c,) = list(iter_chunks(p))
    assert c.key_frame.shape == (info.height, info.width, 3) and c.key_frame.flags.c_contiguous
    assert c.luma.shape == (3, info.height, info.width)
    assert _corner(c.key_frame) == corner and _corner(c.luma[0]) == corner


@pytest.mark.parametrize("ext,codec", [(".mov", "libx264"), (".mkv", "libx264"), (".webm", "libvpx-vp9")])
def test_rotation_in_other_containers(tmp_path, ext, codec):
    p = write_video(tmp_path / f"r{ext}", [marker_frame(48, 64)] * 2, codec=codec, rotation=90)
    info = probe_video(p)
    assert (info.rotation, info.width, info.height) == (90, 48, 64)
    assert _corner(next(iter_chunks(p)).key_frame) == "tr"


def test_rotation_from_hand_written_quicktime_matrix(tmp_path):
    # Independent of FFmpeg's writer: the tkhd matrix (0, 1, -1, 0) is how iPhones mark an upright (portrait) video:
    # the stored landscape frame is turned 90 degrees clockwise for display, so its top-left goes top-right.
    p = write_video(tmp_path / "phone.mp4", [marker_frame(48, 64)] * 2)
    set_mp4_matrix(p, 90)
    info = probe_video(p)
    assert (info.rotation, info.width, info.height) == (90, 48, 64)
    (c,) = list(iter_chunks(p))
    assert _corner(c.key_frame) == "tr"


# --- timing ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_vfr_grouping_by_pts(tmp_path, ext):
    ts = [0.0, 0.1, 0.15, 1.2, 1.25, 3.05, 3.5]
    p = write_video(tmp_path / f"vfr{ext}", moving_pattern(len(ts)), vfr_timestamps=ts)
    chunks = list(iter_chunks(p))
    assert [c.index for c in chunks] == [0, 1, 3]  # second 2 has no frame: absent
    assert [c.frame_indices for c in chunks] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [c.key_index for c in chunks] == [0, 3, 5]
    assert [t for c in chunks for t in c.timestamps] == pytest.approx(ts, abs=1e-3)
    assert [(c.t0, c.t1) for c in chunks[:2]] == [(0.0, 1.0), (1.0, 2.0)]
    assert chunks[2].t0 == 3.0 and 3.5 < chunks[2].t1 <= 4.0


def test_chunk_seconds_and_boundaries(tmp_path):
    p = write_video(tmp_path / "c.mp4", moving_pattern(10), fps=10)
    chunks = list(iter_chunks(p, chunk_seconds=0.3))
    assert [c.frame_indices for c in chunks] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert chunks[1].t0 == pytest.approx(0.3) and chunks[1].t1 == pytest.approx(0.6)


def test_one_frame_video(tmp_path):
    p = write_video(tmp_path / "one.mp4", moving_pattern(1))
    info = probe_video(p)
    assert info.n_frames == 1
    chunks = list(iter_chunks(p))
    assert len(chunks) == 1
    c = chunks[0]
    assert (c.index, c.key_index, c.frame_indices, c.t0) == (0, 0, [0], 0.0) and 0 < c.t1 <= 1.0
    assert c.luma.shape == (1, 64, 64)


# --- streaming and determinism --------------------------------------------------------------------------------------
def test_streaming_holds_one_chunk(tmp_path):
    p = write_video(tmp_path / "long.mp4", moving_pattern_iter(400), fps=10, codec="libx264")  # 40 s
    gen = iter_chunks(p)
    assert inspect.isgenerator(gen)
    first = next(gen)
    assert first.index == 0
    per_chunk = first.luma.nbytes + first.key_frame.nbytes
    tracemalloc.start()
    try:
        n = 1
        for c in gen:
            n += 1
            del c
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 40
    assert peak < 6 * per_chunk, (peak, per_chunk)  # all 40 chunks would be 40 * per_chunk


def test_deterministic(tmp_path):
    p = write_video(tmp_path / "d.mkv", moving_pattern(25), fps=10, codec="libx264")
    a, b = list(iter_chunks(p)), list(iter_chunks(p))
    assert [c.key_index for c in a] == [c.key_index for c in b] == [0, 10, 20]
    for x, y in zip(a, b):
        assert np.array_equal(x.key_frame, y.key_frame) and np.array_equal(x.luma, y.luma)
        assert x.timestamps == y.timestamps and x.frame_indices == y.frame_indices


# --- failures -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext,options,words", [
    (".mp4", None, "moov atom not found"),
    (".mp4", {"movflags": "faststart"}, "mdat"),
    (".mkv", None, "Matroska"),
    (".webm", None, "Matroska"),
    (".avi", None, "AVI"),
])
def test_truncated_containers(tmp_path, ext, options, words):
    codec = {".webm": "libvpx-vp9", ".avi": "mpeg4"}.get(ext, "libx264")
    p = write_video(tmp_path / f"t{ext}", moving_pattern(30), codec=codec, container_options=options)
    probe_video(p)
    truncate_file(p, 0.5)
    for fn in (probe_video, iter_chunks):
        e = _err(fn, p)
        assert e.reason == "truncated" and words in str(e)


def test_zero_frame_video(tmp_path):
    p = write_empty_video(tmp_path / "z.avi")
    assert media_kind(p) == "video"
    assert _err(probe_video, p).reason == "no_frames"
    assert _err(iter_chunks, p).reason == "no_frames"
    q = tmp_path / "z.mkv"
    with av.open(str(q), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width = s.height = 64
        out.start_encoding()
    assert _err(probe_video, q).reason == "no_frames"


def test_not_media_and_missing(tmp_path):
    t = tmp_path / "fake.mp4"
    t.write_text("this is a text file pretending to be a video\n")
    for fn in (media_kind, probe_video, iter_chunks):
        e = _err(fn, t)
        assert e.reason == "not_media" and "looks like text" in str(e)
    assert _err(probe_video, tmp_path / "missing.mp4").reason == "missing"
    (tmp_path / "e.mp4").write_bytes(b"")
    assert _err(iter_chunks, tmp_path / "e.mp4").reason == "empty"
    from mediagen import write_image
    img = write_image(tmp_path / "i.png", np.zeros((4, 4, 3), np.uint8))
    assert _err(probe_video, img).reason == "not_media"


def test_too_large(tmp_path):
    p = write_video(tmp_path / "v.mp4", moving_pattern(2))
    for fn in (probe_video, iter_chunks):
        e = _err(fn, p, max_pixels=1000)
        assert e.reason == "too_large" and "64x64" in str(e)
    assert probe_video(p, max_pixels=64 * 64).width == 64


def test_unsupported_codec_is_named(tmp_path):
    # MPEG-5 EVC has no decoder in this FFmpeg build: relabel an H.264 sample entry as 'evc1'.
    p = write_video(tmp_path / "v.mp4", moving_pattern(2))
    data = bytearray(p.read_bytes())
    i = data.find(b"avc1", data.find(b"stsd"))
    data[i:i + 4] = b"evc1"
    p.write_bytes(bytes(data))
    for fn in (probe_video, iter_chunks):
        e = _err(fn, p)
        assert e.reason == "unsupported_codec" and "evc1" in str(e)


def test_garbage_after_video_magic_is_corrupt(tmp_path):
    p = tmp_path / "g.mkv"
    p.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8)
    assert _err(probe_video, p).reason in ("corrupt", "truncated", "no_frames")


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_damaged_payload_is_not_silently_accepted(tmp_path, ext):
    # mp4: the H.264 decoder rejects a packet (error raised where it happens); mkv: the demuxer silently stops
    # early, caught by comparing the decoded span with the declared duration.
    p = write_video(tmp_path / f"d{ext}", moving_pattern(30), codec="libx264")
    data = bytearray(p.read_bytes())
    rng = np.random.default_rng(1)
    for frac in (0.4, 0.5, 0.6, 0.7):
        s = int(len(data) * frac)
        data[s:s + 300] = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()
    p.write_bytes(bytes(data))
    assert _err(iter_chunks, p).reason == "corrupt"


def test_last_chunk_ends_with_last_frame(tmp_path):
    p = write_video(tmp_path / "e.mp4", moving_pattern(25), fps=10)
    chunks = list(iter_chunks(p))
    assert [(c.t0, c.t1) for c in chunks] == [(0.0, 1.0), (1.0, 2.0), (2.0, pytest.approx(2.5))]


@pytest.mark.parametrize("ext,codec", [(".mkv", "libx264"), (".webm", "libvpx-vp9")])
def test_matroska_cut_inside_its_header_is_truncated(tmp_path, ext, codec):
    # Was "corrupt: cannot open Matroska file: Invalid data" for a cut inside the EBML or Segment header.
    if codec not in CODECS:
        pytest.skip(f"{codec} not available")
    data = write_video(tmp_path / f"v{ext}", moving_pattern(3, 32, 32), codec=codec).read_bytes()
    for n in range(4, 60):
        (tmp_path / f"cut{ext}").write_bytes(data[:n])
        assert _err(probe_video, tmp_path / f"cut{ext}").reason == "truncated", n
