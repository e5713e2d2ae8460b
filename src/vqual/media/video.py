"""Video probing and streaming, second-by-second decoding with PyAV.

Design (see also the package docstring):

* **Streaming.** `iter_chunks` is a generator over `container.demux()`; it holds only the chunk being built
  (its key frame in RGB and its small luma frames), so memory does not grow with duration.
* **Chunks by presentation time.** A frame at ``t = (pts - pts_first) * time_base`` belongs to chunk
  ``floor(t / chunk_seconds)`` (exact rational arithmetic, so 1.0 s lands in chunk 1). Variable frame rate works;
  seconds without any frame are absent. A frame whose pts goes backwards joins the current chunk (chunks never go
  back). Frames without pts (e.g. some raw elementary streams) are placed at ``index / fps``.
* **Rotation.** The display matrix is read from the decoded frames (`VideoFrame.rotation`, which FFmpeg fills from
  the container's display matrix: MP4/MOV ``tkhd`` matrix, Matroska projection, ...). `VideoInfo.rotation` is the
  *clockwise* angle a player applies, as in the legacy MP4 ``rotate`` tag (an upright phone video is 90). Key
  frames and luma are rotated to displayed orientation with ``np.rot90``. Flips in the matrix are ignored.
* **Colour.** Key frames use ``frame.to_ndarray(format="rgb24")`` (swscale, honouring the stream's colour matrix
  and range; 10/12-bit sources are converted to 8-bit correctly).
* **Luma.** Read straight from the Y plane (no RGB conversion; line padding stripped; 8 to 16-bit little-endian
  planar YUV / NV12 / grey), normalised to [0, 1] for the stream's range (limited: ``(Y - 16 * 2^(b-8)) / (219 *
  2^(b-8))``, full: ``Y / (2^b - 1)``), clipped. Other pixel formats go through swscale's grey conversion. The
  downscale is an exact box filter: integer factor ``f = ceil(max(H, W) / luma_size)``, the image is cropped to
  multiples of ``f`` (dropping at most ``f - 1`` bottom rows / right columns) and each ``f x f`` block averaged
  (strided integer sums, ~1 ms for a 1080p frame). A frame whose size differs from the chunk's key frame (a
  mid-stream resolution change) is nearest-neighbour resampled to the key frame's luma size.
* **Errors.** Every failure is a `MediaError`; nothing is skipped silently. A file whose container declares more
  bytes than it has (cut MP4 - e.g. "moov atom not found" -, MKV/WebM or AVI) is reported ``truncated`` when
  opened, before any chunk is produced (`vqual.media.containers`). A read or decode error in the middle of a
  stream raises ``corrupt`` where it happens: chunks already yielded stay yielded, the caller reports the file as
  failed. A stream that ends without an error but covers less than half of its declared duration (and more than
  1 s short: a demuxer that gave up on damaged data) raises ``corrupt`` before its last chunk. Decoding nothing
  at all raises ``no_frames``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vqual.errors import MediaError
from vqual.media.containers import scan_container
from vqual.media.kind import check_pixels, identify


@dataclass(frozen=True)
class VideoInfo:
    width: int  # displayed width (after rotation)
    height: int  # displayed height
    fps: float  # average frame rate (0.0 if the container gives none)
    duration: float  # seconds
    n_frames: int  # from the container, else estimated as round(duration * fps)
    codec: str  # FFmpeg codec name ("h264", "hevc", "vp9", "av1", ...)
    rotation: int  # clockwise display rotation in degrees: 0, 90, 180 or 270
    pix_fmt: str  # decoded pixel format ("yuv420p", "yuv420p10le", ...)
    bit_depth: int  # bits per luma sample


@dataclass
class Chunk:
    index: int  # chunk (second) index, 0-based: floor(t / chunk_seconds)
    t0: float  # chunk start, seconds (index * chunk_seconds)
    t1: float  # chunk end, seconds ((index + 1) * chunk_seconds; the last chunk ends with its last frame)
    key_frame: np.ndarray  # HxWx3 uint8 RGB of the chunk's first frame, displayed orientation
    key_index: int  # index of that frame in presentation order (0-based over the whole video)
    frame_indices: list[int] = field(default_factory=list)  # every frame in the chunk, presentation order
    timestamps: list[float] = field(default_factory=list)  # their times in seconds from the first frame
    luma: np.ndarray | None = None
    # (T, h, w) float32 grey in [0, 1], longest side <= luma_size, displayed orientation; None if luma_size is None


def _err_text(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return " ".join(str(text).split())


# --- opening --------------------------------------------------------------------------------------------------------
def _open_video(path: str | Path, max_pixels: int | None):
    """Open `path` and select its video stream, or raise a MediaError. Returns (container, stream)."""
    head, size, kind, label = identify(path, 1024)
    if kind == "image":
        raise MediaError(path, "not_media", f"not a video (looks like a {label} image)")
    if kind is None and label is not None:
        raise MediaError(path, "not_media", f"not an image or video (looks like {label})")
    scan = scan_container(path, head, size)
    if scan.problem:
        raise MediaError(path, "truncated", scan.problem)
    try:
        container = av.open(str(path), metadata_errors="replace")
    except av.error.EOFError:
        if scan.has_media is False:
            raise MediaError(path, "no_frames", "no video frames (the file holds no media data)") from None
        raise MediaError(path, "corrupt", f"cannot read {label or 'video'} file: the end of the file was reached while "
                                          "reading the stream headers (damaged data?)") from None
    except av.FFmpegError as e:
        if kind == "video":
            raise MediaError(path, "corrupt", f"cannot open {label} file: {_err_text(e)}") from None
        raise MediaError(path, "not_media", f"not an image or video (FFmpeg cannot read it: {_err_text(e)})") from None
    try:
        videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
        if not videos:
            if scan.empty_video_track:
                raise MediaError(path, "no_frames", "no video frames (the video track is empty)")
            if container.streams.video:
                raise MediaError(path, "not_media", "no video stream (only a cover picture)")
            if container.streams.audio:
                raise MediaError(path, "not_media", "no video stream (audio only)")
            raise MediaError(path, "not_media", "no video stream")
        stream = videos[0]
        if stream.codec_context is None:
            name = scan.video_fourcc or "unknown"
            raise MediaError(path, "unsupported_codec",
                             f"unsupported video codec {name!r}: no decoder for it in this PyAV/FFmpeg build")
        cc = stream.codec_context
        check_pixels(path, "video frame", cc.width, cc.height, max_pixels)
        stream.thread_type = "AUTO"
        from vqual.runtime import threads

        stream.thread_count = threads()  # the one knob (--threads, VQUAL_THREADS); FFmpeg's default is every CPU
    except BaseException:
        container.close()
        raise
    return container, stream


def _decoded_frames(container, stream, path: str | Path) -> Iterator[av.VideoFrame]:
    """Decoded frames in presentation order; read / decode errors become MediaError ``corrupt``."""
    n = 0
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.FFmpegError as e:
            raise MediaError(path, "corrupt", f"read error after {n} decoded frames: {_err_text(e)}") from None
        try:
            frames = packet.decode()
        except av.FFmpegError as e:
            if n == 0 and isinstance(e, (av.error.PatchWelcomeError, av.error.DecoderNotFoundError)):
                raise MediaError(path, "unsupported_codec",
                                 f"unsupported video codec {stream.codec_context.name!r}: {_err_text(e)}") from None
            raise MediaError(path, "corrupt", f"decode error after {n} decoded frames: {_err_text(e)}") from None
        for frame in frames:
            n += 1
            yield frame


def _rot_k(frame: av.VideoFrame) -> int:
    """np.rot90 count (counter-clockwise quarter turns) that brings `frame` to displayed orientation."""
    return round(frame.rotation / 90.0) % 4


def _declared_duration(container, stream) -> float | None:
    """The video stream's duration in seconds as the container declares it, or None."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")  # Matroska per-track tag
    if tag:
        m = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", tag.strip())
        if m:
            return int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3])
    if len(container.streams) == 1 and container.duration:
        return container.duration / av.time_base
    return None


def _fps(stream) -> Fraction | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            return Fraction(rate)
    return None


# --- probing --------------------------------------------------------------------------------------------------------
def probe_video(path: str | Path, max_pixels: int | None = None) -> VideoInfo:
    """Read a video's properties (decoding only its first frame, for the displayed orientation).

    Raises MediaError: ``missing``, ``empty``, ``not_media``, ``unsupported_codec``, ``too_large``, ``truncated``,
    ``corrupt``, ``no_frames``.
    """
    container, stream = _open_video(path, max_pixels)
    with container:
        first = next(_decoded_frames(container, stream, path), None)
        if first is None:
            raise MediaError(path, "no_frames", "no decodable video frames")
        check_pixels(path, "video frame", first.width, first.height, max_pixels)
        k = _rot_k(first)
        w, h = (first.height, first.width) if k % 2 else (first.width, first.height)
        rate = _fps(stream)
        fps = float(rate) if rate else 0.0
        duration = _declared_duration(container, stream) or 0.0
        if not duration and container.duration:
            duration = container.duration / av.time_base
        n_frames = int(stream.frames or 0)
        if n_frames <= 0:
            n_frames = max(1, round(duration * fps)) if fps and duration else 1
        if duration <= 0 and fps:
            duration = n_frames / fps
        fmt = first.format
        return VideoInfo(width=w, height=h, fps=fps, duration=duration, n_frames=n_frames,
                         codec=stream.codec_context.codec.canonical_name, rotation=(-90 * k) % 360,
                         pix_fmt=fmt.name, bit_depth=int(fmt.components[0].bits))


# --- luma -----------------------------------------------------------------------------------------------------------
_PLANAR_Y = re.compile(r"^(yuvj?(420|422|444|440|411|410)p|yuva(420|422|444)p|nv12|nv21|nv16|nv24|gray)"
                       r"(9|10|12|14|16)?(le)?$")


class _Luma:
    """Box-downscaled [0, 1] luma of frames of one size and format (see the module docstring)."""

    def __init__(self, frame: av.VideoFrame, luma_size: int):
        self.key = (frame.width, frame.height, frame.format.name, frame.color_range)
        h, w = frame.height, frame.width
        fac = max(1, math.ceil(max(h, w) / luma_size))
        self.fy, self.fx = min(fac, h), min(fac, w)
        self.h, self.w = h // self.fy, w // self.fx
        name = frame.format.name
        self.direct = bool(_PLANAR_Y.match(name))
        bits = int(frame.format.components[0].bits) if self.direct else 8
        self.dtype = np.dtype(np.uint8) if bits <= 8 else np.dtype("<u2")
        full = (not self.direct or name.startswith(("yuvj", "gray")) or frame.color_range == 2)
        if self.direct and name.startswith("gray") and frame.color_range == 1:
            full = False
        scale = float(1 << (bits - 8))
        offset, den = (0.0, float((1 << bits) - 1)) if full else (16.0 * scale, 219.0 * scale)
        n = self.fy * self.fx
        self.acc = np.uint16 if ((1 << bits) - 1) * n <= 0xFFFF else np.uint32
        self.a = np.float32(1.0 / (n * den))
        self.b = np.float32(-offset / den)

    def plane(self, frame: av.VideoFrame) -> np.ndarray:
        if self.direct:
            p = frame.planes[0]
            item = self.dtype.itemsize
            buf = np.frombuffer(p, dtype=self.dtype)
            return buf.reshape(-1, p.line_size // item)[: p.height, : p.width]
        return frame.to_ndarray(format="gray")

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        y = self.plane(frame)
        fy, fx, h, w = self.fy, self.fx, self.h, self.w
        if fy == 1 and fx == 1:
            s = y[:h, :w].astype(np.float32)
        else:
            y = y[: h * fy, : w * fx]
            rows = y[0::fy].astype(self.acc)
            for i in range(1, fy):
                rows += y[i::fy]
            s = rows[:, 0::fx].copy()
            for j in range(1, fx):
                s += rows[:, j::fx]
            s = s.astype(np.float32)
        s *= self.a
        s += self.b
        np.clip(s, 0.0, 1.0, out=s)
        return s


def _resample_nearest(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    ys = (np.arange(shape[0]) * a.shape[0]) // shape[0]
    xs = (np.arange(shape[1]) * a.shape[1]) // shape[1]
    return a[np.ix_(ys, xs)]


# --- chunks ---------------------------------------------------------------------------------------------------------
def iter_chunks(path: str | Path, chunk_seconds: float = 1.0, luma_size: int | None = 256,
                max_pixels: int | None = None) -> Iterator[Chunk]:
    """Stream the video at `path` as consecutive `Chunk`s of ``chunk_seconds`` of presentation time.

    Only the chunk being built is held in memory. Raises MediaError (as `probe_video`, plus ``corrupt`` for a
    decode error mid-stream and ``no_frames`` when nothing decodes). A one-frame video yields one chunk.
    """
    if not chunk_seconds > 0:
        raise ValueError(f"chunk_seconds must be > 0, got {chunk_seconds!r}")
    if luma_size is not None and int(luma_size) < 1:
        raise ValueError(f"luma_size must be >= 1 or None, got {luma_size!r}")
    span = Fraction(repr(float(chunk_seconds)))  # 0.1 -> exactly 1/10
    container, stream = _open_video(path, max_pixels)
    with container:
        tb = Fraction(stream.time_base) if stream.time_base else None
        rate = _fps(stream) or Fraction(25)
        pts0: int | None = None
        use_pts = True
        rot = 0
        luma_fn: _Luma | None = None
        cur: Chunk | None = None
        lumas: list[np.ndarray] = []
        last_t = Fraction(0)
        last_dur = 1 / rate
        dims = (0, 0)

        def finish(chunk: Chunk, final: bool) -> Chunk:
            end = span * (chunk.index + 1)
            if final:
                end = min(end, last_t + last_dur)
            chunk.t1 = float(end)
            if luma_size is not None:
                chunk.luma = np.stack(lumas)
            return chunk

        for n, frame in enumerate(_decoded_frames(container, stream, path)):
            if n == 0:
                rot = _rot_k(frame)
                use_pts = frame.pts is not None and tb is not None
                pts0 = frame.pts
            if use_pts and frame.pts is not None:
                t = (frame.pts - pts0) * tb
            else:
                t = Fraction(n) / rate
            k = math.floor(t / span)
            if cur is not None and k <= cur.index:
                k = cur.index
            if cur is not None and k != cur.index:
                yield finish(cur, final=False)
                cur, lumas = None, []
            if (frame.width, frame.height) != dims:
                dims = (frame.width, frame.height)
                check_pixels(path, "video frame", frame.width, frame.height, max_pixels)
            if cur is None:
                rgb = np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), rot))
                cur = Chunk(index=k, t0=float(span * k), t1=float(span * (k + 1)), key_frame=rgb, key_index=n)
            cur.frame_indices.append(n)
            cur.timestamps.append(float(t))
            if luma_size is not None:
                key = (frame.width, frame.height, frame.format.name, frame.color_range)
                if luma_fn is None or luma_fn.key != key:
                    luma_fn = _Luma(frame, int(luma_size))
                y = np.rot90(luma_fn(frame), rot)
                if lumas and y.shape != lumas[0].shape:
                    y = _resample_nearest(y, lumas[0].shape)
                lumas.append(y)
            last_t = t
            last_dur = frame.duration * tb if (frame.duration and tb) else 1 / rate
        if cur is None:
            raise MediaError(path, "no_frames", "no decodable video frames")
        declared = _declared_duration(container, stream)
        decoded = float(last_t + last_dur)
        if declared and decoded < 0.5 * declared and declared - decoded > 1.0:
            # The demuxer gave up early without an error (damaged Matroska clusters, lost packets, ...).
            raise MediaError(path, "corrupt", f"only {decoded:.2f} s of the declared {declared:.2f} s could be "
                                              "decoded (damaged or incomplete data)")
        yield finish(cur, final=True)


# --- every frame (full-reference comparison) ------------------------------------------------------------------------
@dataclass
class Frame:
    """One decoded frame at full resolution, displayed orientation (what `iter_frames` yields)."""

    index: int  # presentation-order index, 0-based
    t: float  # presentation time in seconds from the first frame
    bit_depth: int  # bits per luma sample
    _frame: av.VideoFrame
    _rot: int

    def luma(self) -> np.ndarray:
        """The Y plane as decoded (uint8, or uint16 for more than 8 bits), not range-normalised (HxW)."""
        fmt = self._frame.format
        if _PLANAR_Y.match(fmt.name):
            p = self._frame.planes[0]
            dtype = np.dtype(np.uint8) if self.bit_depth <= 8 else np.dtype("<u2")
            y = np.frombuffer(p, dtype=dtype).reshape(-1, p.line_size // dtype.itemsize)[: p.height, : p.width]
        else:  # packed RGB and the like: swscale's grey conversion
            y = self._frame.to_ndarray(format="gray")
        return np.ascontiguousarray(np.rot90(y, self._rot))

    def rgb(self) -> np.ndarray:
        """HxWx3 uint8 RGB (swscale, honouring the stream's colour matrix and range)."""
        return np.ascontiguousarray(np.rot90(self._frame.to_ndarray(format="rgb24"), self._rot))


def iter_frames(path: str | Path, max_pixels: int | None = None) -> Iterator[Frame]:
    """Stream every frame of the video at `path`, in presentation order (times as `iter_chunks` computes them).

    Raises MediaError as `iter_chunks` does.
    """
    container, stream = _open_video(path, max_pixels)
    with container:
        tb = Fraction(stream.time_base) if stream.time_base else None
        rate = _fps(stream) or Fraction(25)
        pts0, use_pts, rot, dims = None, True, 0, (0, 0)
        for n, frame in enumerate(_decoded_frames(container, stream, path)):
            if n == 0:
                rot = _rot_k(frame)
                use_pts = frame.pts is not None and tb is not None
                pts0 = frame.pts
            t = (frame.pts - pts0) * tb if use_pts and frame.pts is not None else Fraction(n) / rate
            if (frame.width, frame.height) != dims:
                dims = (frame.width, frame.height)
                check_pixels(path, "video frame", frame.width, frame.height, max_pixels)
            yield Frame(index=n, t=float(t), bit_depth=int(frame.format.components[0].bits), _frame=frame, _rot=rot)
