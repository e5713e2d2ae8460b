"""Synthetic distortions of clean content with known type and severity, for images and videos.

Used by the sample media of `vqual demo`, by tests, by the calibration of the temporal encoder's severities and by
the training stages of learned models. Every function is deterministic for a given `seed`.

Images are HxWx3 uint8 RGB arrays. Videos are *iterables* of such frames, processed one frame at a time (nothing
holds a whole clip in memory), so a generator such as `pan_frames` can be distorted and written to a file lazily.
Distortions that change the timing of a video (`frame_drops`) yield ``(frame, timestamp)`` pairs instead;
`write_video(..., timestamps=...)` writes those timestamps as the container's presentation times (a real VFR file
with gaps), and `split_timed` turns pairs back into a frame iterator and a timestamp iterator.

Randomised video distortions draw one fixed random sequence per `seed` and scale it by the severity, so for the same
content and seed a stronger level is never milder at any frame (the dropped frames of a lower ratio are a subset of
those of a higher one, shake offsets and flicker gains grow in proportion). This makes the graded ladders of
`DISTORTIONS` monotone frame by frame, not only on average.

`DISTORTIONS` lists every distortion with five graded severity parameters (mildest first) and a description of its
scale; `apply_image` and `apply_video` apply one by name with a uniform signature.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image
from scipy import ndimage

# --- image distortions -------------------------------------------------------------------------------------------


def gaussian_blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    """Blur each channel with a Gaussian of `sigma` pixels."""
    if sigma <= 0:
        return rgb.copy()
    out = ndimage.gaussian_filter(rgb.astype(np.float32), sigma=(sigma, sigma, 0), mode="reflect")
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def gaussian_noise(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Add white Gaussian noise of standard deviation `sigma` (0-255 units)."""
    rng = np.random.default_rng(seed)
    out = rgb.astype(np.float32) + rng.normal(0.0, sigma, size=rgb.shape).astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through JPEG at `quality` (1-95) with 4:2:0 chroma subsampling."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=int(quality), subsampling=2)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB")).copy()


def exposure(rgb: np.ndarray, gain: float, gamma: float = 1.0) -> np.ndarray:
    """Scale linear-ish intensity by `gain` (<1 under-, >1 over-exposure) with clipping, then apply `gamma`."""
    x = np.clip(rgb.astype(np.float32) / 255.0 * gain, 0.0, 1.0) ** gamma
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


#: Direction of the `colour_shift` cast in the (Cb, Cr) plane, degrees: 127 is orange/warm (more red, less blue).
COLOUR_CAST_ANGLE = 127.0
#: Chroma offset, in 8-bit Cb/Cr units, of `colour_shift` at ``amount=1``.
COLOUR_CAST_MAX = 40.0


def colour_shift(rgb: np.ndarray, amount: float, angle: float = COLOUR_CAST_ANGLE) -> np.ndarray:
    """A global colour cast: add ``amount * 40`` (8-bit units) to the chroma of every pixel in direction `angle`.

    The image is converted to full-range BT.601 YCbCr (as in JPEG), the offset ``amount * COLOUR_CAST_MAX *
    (cos angle, sin angle)`` is added to (Cb, Cr), luma is kept and the result converted back with clipping.
    ``amount`` 0 is the identity; 0.25 is a visible tint; 1 a strong cast (the default angle gives orange).
    """
    if amount <= 0:
        return rgb.copy()
    x = rgb.astype(np.float32)
    a = math.radians(angle)
    dcb = amount * COLOUR_CAST_MAX * math.cos(a)
    dcr = amount * COLOUR_CAST_MAX * math.sin(a)
    # The inverse BT.601 transform applied to a pure chroma offset: the RGB change is the same for every pixel.
    d = np.array([1.402 * dcr, -0.344136 * dcb - 0.714136 * dcr, 1.772 * dcb], dtype=np.float32)
    return np.clip(x + d + 0.5, 0, 255).astype(np.uint8)


def downup_scale(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Lose resolution: resize down by `factor` (>= 1) and back up to the original size, both bicubic (PIL)."""
    if factor <= 1:
        return rgb.copy()
    h, w = rgb.shape[:2]
    small = (max(1, round(w / factor)), max(1, round(h / factor)))
    img = Image.fromarray(rgb).resize(small, Image.BICUBIC).resize((w, h), Image.BICUBIC)
    return np.asarray(img).copy()


# --- clean video content -----------------------------------------------------------------------------------------


def pan_frames(rgb: np.ndarray, n: int, size: tuple[int, int], speed: float = 2.0) -> Iterator[np.ndarray]:
    """`n` frames of (height, width) = `size` panning smoothly over `rgb` (back and forth), `speed` px per frame."""
    h, w = size
    H, W = rgb.shape[:2]
    if h > H or w > W:
        raise ValueError(f"pan size {size} is larger than the {H}x{W} source")
    span_x, span_y = W - w, H - h
    for i in range(n):
        t = i * speed
        x = round(_bounce(t, span_x))
        y = round(_bounce(t * 0.5, span_y))
        yield np.ascontiguousarray(rgb[y:y + h, x:x + w])


def _bounce(t: float, span: int) -> float:
    if span <= 0:
        return 0.0
    p = t % (2 * span)
    return p if p <= span else 2 * span - p


def static_frames(rgb: np.ndarray, n: int, size: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """`n` copies of the centre crop of `rgb` of (height, width) = `size` (default: the whole image): a static scene."""
    H, W = rgb.shape[:2]
    h, w = size if size is not None else (H, W)
    y, x = (H - h) // 2, (W - w) // 2
    crop = np.ascontiguousarray(rgb[y:y + h, x:x + w])
    for _ in range(n):
        yield crop


def timed(frames: Iterable[np.ndarray], fps: float = 30.0, start: float = 0.0) -> Iterator[tuple[np.ndarray, float]]:
    """Pair each frame with its constant-frame-rate timestamp ``start + i / fps`` (seconds)."""
    for i, f in enumerate(frames):
        yield f, start + i / fps


def split_timed(pairs: Iterable[tuple[np.ndarray, float]]) -> tuple[Iterator[np.ndarray], Iterator[float]]:
    """Split ``(frame, timestamp)`` pairs into a frame iterator and a timestamp iterator (lazily, via `itertools.tee`;
    consuming both in step, as `write_video` does, buffers one pair)."""
    a, b = itertools.tee(iter(pairs), 2)
    return (f for f, _ in a), (t for _, t in b)


# --- video distortions -------------------------------------------------------------------------------------------


def stutter(frames: Iterable[np.ndarray], hold: int = 3) -> Iterator[np.ndarray]:
    """Repeat every `hold`-th frame in place of the next `hold - 1` ones (judder from dropped-and-repeated frames).

    The frame count and timing are kept: ``hold`` 1 is the identity, 2 shows each picture twice (half the motion
    sampling rate), 4 shows each picture four times. The fraction of frames that repeat their predecessor is
    ``(hold - 1) / hold``.
    """
    hold = max(1, int(hold))
    last = None
    for i, f in enumerate(frames):
        if i % hold == 0:
            last = f
        yield last


def frame_drops(frames: Iterable[np.ndarray], ratio: float, seed: int = 0, fps: float = 30.0,
                start: float = 0.0) -> Iterator[tuple[np.ndarray, float]]:
    """Remove about `ratio` of the frames at random, keeping the survivors' original timestamps (gaps appear).

    Yields ``(frame, timestamp)`` with timestamp ``start + i / fps`` of the frame's original index ``i``. The first
    frame is always kept. Frame ``i`` is dropped when ``u_i < ratio`` for one uniform sequence ``u`` per `seed`, so
    the drops of a smaller ratio are a subset of those of a larger one. Consecutive drops happen by chance (a gap of
    ``k`` missing frames has probability ``ratio**k``).
    """
    rng = np.random.default_rng(seed)
    for i, f in enumerate(frames):
        u = rng.random()
        if i == 0 or u >= ratio:
            yield f, start + i / fps


def _unit_offsets(rng: np.random.Generator, correlation: float, state: np.ndarray) -> np.ndarray:
    u = rng.uniform(-1.0, 1.0, size=2)
    if correlation <= 0:
        return u
    return correlation * state + math.sqrt(1.0 - correlation ** 2) * u


def shake(frames: Iterable[np.ndarray], amplitude: float, seed: int = 0, margin: int | None = None,
          correlation: float = 0.0) -> Iterator[np.ndarray]:
    """Camera shake: translate each frame by a random whole-pixel offset of up to `amplitude` px per axis.

    Offsets are ``round(amplitude * z)`` with ``z`` uniform in [-1, 1] per axis and frame (independent frames when
    `correlation` is 0; an AR(1) process with that lag-1 correlation otherwise, for smoother, handheld-like shake).
    Every output frame is the input cropped by `margin` px on each side (default ``ceil(amplitude)``) at the
    shifted position, so no border or padding ever shows; pass the same `margin` to compare amplitudes at one
    output size. Offsets beyond the margin are clipped.
    """
    rng = np.random.default_rng(seed)
    m = math.ceil(amplitude) if margin is None else int(margin)
    state = np.zeros(2)
    for f in frames:
        state = _unit_offsets(rng, correlation, state)
        oy, ox = (int(np.clip(round(amplitude * z), -m, m)) for z in state)
        h, w = f.shape[:2]
        if h <= 2 * m or w <= 2 * m:
            raise ValueError(f"shake margin {m} px is too large for a {h}x{w} frame")
        yield np.ascontiguousarray(f[m + oy:h - m + oy, m + ox:w - m + ox])


def flicker(frames: Iterable[np.ndarray], amplitude: float, seed: int = 0, mode: str = "random",
            period: float = 7.0) -> Iterator[np.ndarray]:
    """Luminance flicker: multiply frame ``i`` by the gain ``1 + amplitude * s_i`` (with clipping).

    ``mode="random"``: ``s_i`` uniform in [-1, 1], independent per frame (one sequence per `seed`);
    ``mode="sine"``: ``s_i = sin(2 pi i / period)`` (a beat of `period` frames, e.g. mains-light aliasing).
    ``amplitude`` 0.02 is a barely visible shimmer, 0.1 an obvious flicker, 0.3 a strobe.
    """
    if mode not in ("random", "sine"):
        raise ValueError(f"unknown flicker mode {mode!r}")
    rng = np.random.default_rng(seed)
    for i, f in enumerate(frames):
        s = rng.uniform(-1.0, 1.0) if mode == "random" else math.sin(2.0 * math.pi * i / period)
        gain = 1.0 + amplitude * s
        yield np.clip(f.astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)


#: libx264 parameters `h264` and `write_video` use by default: macroblock-tree rate control makes x264's output
#: differ from run to run (measured: ~5 % of identical encodes of a 12-frame clip differed, with or without threads);
#: without it the bitstream is repeatable.
X264_DETERMINISTIC = "mbtree=0"


def h264(frames: Iterable[np.ndarray], crf: int, fps: float = 30.0, preset: str = "veryfast") -> Iterator[np.ndarray]:
    """Round-trip frames through libx264 (4:2:0) at `crf` and decode them back, streaming (no file, no container).

    CRF 18 is visually near-lossless, 28 mild, 35 clearly blocky, 42 heavy, 51 the worst x264 allows. Odd frame
    sizes are padded by edge replication for 4:2:0 and cropped back after decoding. Output order and count equal the
    input's. Repeatable: x264 runs with `X264_DETERMINISTIC` parameters.
    """
    import av

    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        return
    h, w = first.shape[:2]
    ph, pw = h + (h % 2), w + (w % 2)
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = pw, ph, "yuv420p"
    rate = Fraction(fps).limit_denominator(1001)
    enc.time_base = 1 / rate
    enc.framerate = rate
    enc.options = {"crf": str(int(crf)), "preset": preset, "x264-params": X264_DETERMINISTIC}
    dec = av.CodecContext.create("h264", "r")

    def out(frames_):
        for d in frames_:
            yield d.to_ndarray(format="rgb24")[:h, :w].copy()

    for i, f in enumerate(itertools.chain([first], it)):
        if (ph, pw) != (h, w):
            f = np.pad(f, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
        vf.pts = i
        for packet in enc.encode(vf):
            yield from out(dec.decode(packet))
    for packet in enc.encode(None):
        yield from out(dec.decode(packet))
    yield from out(dec.decode(None))


# --- writing -----------------------------------------------------------------------------------------------------


#: Fast, quiet encoder settings per codec (a caller's `options` win).
FAST_ENCODER_OPTIONS = {
    "libx264": {"preset": "veryfast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8"},
    "libsvtav1": {"preset": "12", "svtav1-params": "lp=1"},
}


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 24, codec: str = "libx264",
                crf: int | None = 23, pix_fmt: str = "yuv420p", options: dict[str, str] | None = None,
                timestamps: Iterable[float] | None = None, time_base: Fraction = Fraction(1, 90000),
                rotation: int | None = None, container_options: dict[str, str] | None = None) -> Path:
    """Encode RGB uint8 frames to a video file with PyAV (the container follows the file extension).

    With `timestamps` (seconds, one per frame, increasing; consumed in step with `frames`), every frame gets
    ``pts = round(t / time_base)`` in `time_base` units, so the file is variable-frame-rate with real gaps where
    frames are missing; `fps` is then only the nominal rate declared to the encoder. Without them the frames are
    ``1 / fps`` apart. libx264 gets `X264_DETERMINISTIC` parameters unless `options` sets ``x264-params``, so the
    same frames give the same file. `crf` applies to x264, x265, VP9 (constant quality) and SVT-AV1. `rotation` is
    the clockwise display rotation a player applies (90 = an upright phone video), stored as the display matrix.
    """
    import av

    path = Path(path)
    opts = {**FAST_ENCODER_OPTIONS.get(codec, {}), **(options or {})}
    if crf is not None and codec in ("libx264", "libx265", "libvpx-vp9", "libsvtav1"):
        opts.setdefault("crf", str(crf))
        if codec == "libvpx-vp9":
            opts.setdefault("b", "0")
    if codec == "libx264":
        opts.setdefault("x264-params", X264_DETERMINISTIC)
    it = iter(frames)
    first = next(it)
    ts_it = iter(timestamps) if timestamps is not None else None
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=rate, options=opts)
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = pix_fmt
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes counter-clockwise degrees
        if ts_it is not None:
            stream.codec_context.time_base = time_base
        last_pts = None
        for frame in _chain(first, it):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            if ts_it is not None:
                try:
                    t = float(next(ts_it))
                except StopIteration:
                    raise ValueError("fewer timestamps than frames") from None
                pts = round(t / time_base)
                if last_pts is not None and pts <= last_pts:
                    raise ValueError(f"timestamps must increase (got {t} s after pts {last_pts})")
                vf.pts, vf.time_base, last_pts = pts, time_base, pts
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


# --- the distortion table ----------------------------------------------------------------------------------------


class Distortion(NamedTuple):
    """One entry of `DISTORTIONS`: ``(fn, levels, description)``.

    Image distortions: ``fn(rgb, level, seed=0) -> rgb``. Video-only distortions:
    ``fn(frames, level, seed=0, fps=30.0) -> Iterator[(frame, timestamp)]``. `levels` are the severity parameters
    of five grades, mildest first.
    """

    fn: Callable[..., Any]
    levels: list[Any]
    description: str


def _img_blur(rgb, sigma, seed=0):
    return gaussian_blur(rgb, sigma)


def _img_noise(rgb, sigma, seed=0):
    return gaussian_noise(rgb, sigma, seed=seed)


def _img_jpeg(rgb, quality, seed=0):
    return jpeg(rgb, quality)


def _img_exposure(rgb, gain, seed=0):
    return exposure(rgb, gain)


def _img_colour(rgb, amount, seed=0):
    return colour_shift(rgb, amount)


def _img_scaling(rgb, factor, seed=0):
    return downup_scale(rgb, factor)


#: Margin (px per side) the table's `shake` crops at every level, so that all levels have one output size.
SHAKE_MARGIN = 16


def _vid_h264(frames, crf, seed=0, fps=30.0):
    return timed(h264(frames, crf, fps=fps), fps)


def _vid_stutter(frames, hold, seed=0, fps=30.0):
    return timed(stutter(frames, hold), fps)


def _vid_drops(frames, ratio, seed=0, fps=30.0):
    return frame_drops(frames, ratio, seed=seed, fps=fps)


def _vid_shake(frames, amplitude, seed=0, fps=30.0):
    return timed(shake(frames, amplitude, seed=seed, margin=SHAKE_MARGIN), fps)


def _vid_flicker(frames, amplitude, seed=0, fps=30.0):
    return timed(flicker(frames, amplitude, seed=seed), fps)


#: Every synthetic distortion: name -> (function, five graded severity parameters, description of the scale).
DISTORTIONS: dict[str, Distortion] = {
    "blur": Distortion(_img_blur, [0.5, 1.0, 2.0, 3.0, 5.0],
                       "Gaussian blur; level = sigma in px (0.5 slight softness ... 5 heavy blur)"),
    "noise": Distortion(_img_noise, [4.0, 8.0, 15.0, 25.0, 40.0],
                        "additive white Gaussian noise; level = std in 8-bit units (4 faint grain ... 40 very noisy)"),
    "jpeg": Distortion(_img_jpeg, [70, 40, 20, 10, 4],
                       "JPEG round-trip, 4:2:0; level = PIL quality (70 mild ... 4 severe blocking); lower is worse"),
    "underexposure": Distortion(_img_exposure, [0.7, 0.5, 0.35, 0.25, 0.15],
                                "intensity gain < 1; level = gain (0.7 slightly dark ... 0.15 nearly black)"),
    "overexposure": Distortion(_img_exposure, [1.3, 1.6, 2.0, 2.6, 3.5],
                               "intensity gain > 1 with clipping; level = gain (1.3 bright ... 3.5 mostly blown out)"),
    "colour": Distortion(_img_colour, [0.1, 0.25, 0.45, 0.7, 1.0],
                         "global warm colour cast (colour_shift); level = amount, chroma offset amount*40 in 8-bit "
                         "Cb/Cr units (0.1 subtle tint ... 1 strong cast)"),
    "scaling": Distortion(_img_scaling, [1.5, 2.0, 3.0, 4.0, 6.0],
                          "bicubic down- then up-scaling; level = factor (1.5 slight softness ... 6 very blocky/soft)"),
    "h264": Distortion(_vid_h264, [18, 28, 35, 42, 51],
                       "libx264 round-trip; level = CRF (18 near-lossless, 28 mild, 35 blocky, 42 heavy, 51 worst)"),
    "stutter": Distortion(_vid_stutter, [2, 3, 4, 6, 8],
                          "each picture held for `hold` frames, timing kept; level = hold (2 = half the motion rate "
                          "... 8 = a new picture every 8 frames)"),
    "drops": Distortion(_vid_drops, [0.05, 0.1, 0.2, 0.3, 0.5],
                        "random frames removed, survivors keep their timestamps (VFR gaps); level = fraction removed"),
    "shake": Distortion(_vid_shake, [1, 2, 4, 8, 16],
                        "random per-frame whole-pixel translation, uniform in +-level px per axis, frames cropped by "
                        f"{SHAKE_MARGIN} px per side; level = amplitude in px of the input frames (the ladder is meant "
                        "for frames of about 256-400 px; scale it with the frame size)"),
    "flicker": Distortion(_vid_flicker, [0.02, 0.05, 0.1, 0.2, 0.3],
                          "per-frame random luminance gain 1 + level*U(-1, 1); level = amplitude (0.02 shimmer ... "
                          "0.3 strobe)"),
}

#: Names of the image distortions (they also apply to videos, frame by frame).
IMAGE_DISTORTIONS: tuple[str, ...] = ("blur", "noise", "jpeg", "underexposure", "overexposure", "colour", "scaling")
#: Names of the distortions that exist only for videos.
VIDEO_ONLY_DISTORTIONS: tuple[str, ...] = ("h264", "stutter", "drops", "shake", "flicker")
#: Names of every distortion that applies to a video.
VIDEO_DISTORTIONS: tuple[str, ...] = IMAGE_DISTORTIONS + VIDEO_ONLY_DISTORTIONS


def apply_image(name: str, rgb: np.ndarray, level: Any, seed: int = 0) -> np.ndarray:
    """Apply image distortion `name` of `DISTORTIONS` at severity parameter `level`."""
    if name not in IMAGE_DISTORTIONS:
        raise KeyError(f"{name!r} is not an image distortion (choose from {', '.join(IMAGE_DISTORTIONS)})")
    return DISTORTIONS[name].fn(rgb, level, seed=seed)


def apply_video(name: str, frames: Iterable[np.ndarray], level: Any, seed: int = 0,
                fps: float = 30.0) -> Iterator[tuple[np.ndarray, float]]:
    """Apply distortion `name` to a video; yields ``(frame, timestamp)`` pairs. Image distortions are applied frame
    by frame (frame ``i`` with seed ``seed + i``, so noise changes over time)."""
    if name in VIDEO_ONLY_DISTORTIONS:
        return DISTORTIONS[name].fn(frames, level, seed=seed, fps=fps)
    if name in IMAGE_DISTORTIONS:
        fn = DISTORTIONS[name].fn
        return timed((fn(f, level, seed=seed + i) for i, f in enumerate(frames)), fps)
    raise KeyError(f"unknown distortion {name!r} (choose from {', '.join(VIDEO_DISTORTIONS)})")
