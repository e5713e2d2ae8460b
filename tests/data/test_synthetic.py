"""Synthetic distortions: graded, deterministic, streaming; VFR writing with real gaps."""

from __future__ import annotations

import inspect
import itertools
from fractions import Fraction

import av
import numpy as np
import pytest

from vqual.data import synthetic as syn

RNG = np.random.default_rng(7)
#: A small textured RGB image: smooth gradients plus detail, so every distortion has something to act on.
_yy, _xx = np.mgrid[0:96, 0:128]
IMG = np.clip(np.stack([_xx * 1.5 + 30, _yy * 2.0 + 20, 140 + 60 * np.sin(_xx / 6.0) * np.cos(_yy / 5.0)], axis=-1)
              + RNG.normal(0, 12, (96, 128, 3)), 0, 255).astype(np.uint8)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def clip(n: int = 12, size=(48, 64)):
    return syn.pan_frames(IMG, n, size, speed=2.0)


# --- the table -----------------------------------------------------------------------------------------------------

def test_table_covers_every_distortion():
    assert set(syn.IMAGE_DISTORTIONS) == {"blur", "noise", "jpeg", "underexposure", "overexposure", "colour", "scaling"}
    assert set(syn.VIDEO_ONLY_DISTORTIONS) == {"h264", "stutter", "drops", "shake", "flicker"}
    assert set(syn.DISTORTIONS) == set(syn.VIDEO_DISTORTIONS)
    for name, entry in syn.DISTORTIONS.items():
        fn, levels, description = entry  # a plain 3-tuple
        assert callable(fn) and len(levels) == 5 and len(description) > 20, name
    assert syn.DISTORTIONS["h264"].levels[0] == 18 and syn.DISTORTIONS["h264"].levels[-1] == 51


@pytest.mark.parametrize("name", ["blur", "noise", "jpeg", "underexposure", "overexposure", "colour", "scaling"])
def test_image_distortions_are_graded(name):
    outs = [syn.apply_image(name, IMG, lv, seed=0) for lv in syn.DISTORTIONS[name].levels]
    for out in outs:
        assert out.shape == IMG.shape and out.dtype == np.uint8
    errors = [mse(IMG, o) for o in outs]
    assert errors[0] > 0 and all(b > a for a, b in itertools.pairwise(errors)), errors
    again = syn.apply_image(name, IMG, syn.DISTORTIONS[name].levels[2], seed=0)
    assert np.array_equal(again, outs[2])  # deterministic


def test_unknown_names():
    with pytest.raises(KeyError):
        syn.apply_image("stutter", IMG, 2)
    with pytest.raises(KeyError):
        syn.apply_video("nope", clip(), 1)


@pytest.mark.parametrize("name", ["stutter", "drops", "shake", "flicker", "h264", "noise", "blur"])
def test_video_distortions_stream_and_are_deterministic(name):
    level = syn.DISTORTIONS[name].levels[2]
    a = list(syn.apply_video(name, clip(), level, seed=3, fps=25))
    b = list(syn.apply_video(name, clip(), level, seed=3, fps=25))
    assert len(a) == len(b) > 0
    for (fa, ta), (fb, tb) in zip(a, b, strict=True):
        assert ta == tb and np.array_equal(fa, fb) and fa.dtype == np.uint8 and fa.ndim == 3
    ts = [t for _, t in a]
    assert ts[0] == 0.0 and all(t2 > t1 for t1, t2 in itertools.pairwise(ts))
    if name != "drops":
        assert len(a) == 12 and ts[-1] == pytest.approx(11 / 25)


def test_video_distortions_are_lazy():
    def endless():
        while True:
            yield IMG[:48, :64]

    for name in syn.VIDEO_DISTORTIONS:
        if name == "shake":
            continue  # the table's shake crops a 16 px margin: needs bigger frames
        it = syn.apply_video(name, endless(), syn.DISTORTIONS[name].levels[0])
        frame, _ = next(it)
        assert frame.shape[2] == 3
    frame, _ = next(syn.apply_video("shake", (IMG for _ in iter(int, 1)), 4))
    assert frame.shape == (96 - 32, 128 - 32, 3)


def test_image_distortion_on_video_uses_a_new_seed_per_frame():
    frames = [f for f, _ in syn.apply_video("noise", syn.static_frames(IMG, 3), 10.0, seed=0)]
    assert not np.array_equal(frames[0], frames[1])


# --- new image distortions -----------------------------------------------------------------------------------------

def test_colour_shift():
    assert np.array_equal(syn.colour_shift(IMG, 0.0), IMG)
    grey = np.full((8, 8, 3), 128, np.uint8)
    prev = None
    for amount in (0.25, 0.5, 1.0):
        out = syn.colour_shift(grey, amount).astype(float)[0, 0]
        r, g, b = out
        assert r > 128 > b  # warm cast by default
        luma = 0.299 * r + 0.587 * g + 0.114 * b
        assert luma == pytest.approx(128, abs=1.0)  # chroma only
        if prev is not None:
            assert r > prev[0] and b < prev[2]
        prev = out
    cool = syn.colour_shift(grey, 0.5, angle=syn.COLOUR_CAST_ANGLE + 180).astype(float)[0, 0]
    assert cool[0] < 128 < cool[2]


def test_downup_scale():
    assert np.array_equal(syn.downup_scale(IMG, 1.0), IMG)
    outs = [syn.downup_scale(IMG, f) for f in (1.5, 2, 4, 8)]
    assert all(o.shape == IMG.shape for o in outs)
    errors = [mse(IMG, o) for o in outs]
    assert all(b > a for a, b in itertools.pairwise(errors))
    assert syn.downup_scale(IMG, 500).shape == IMG.shape  # degenerate: 1x1 and back


# --- video distortions ---------------------------------------------------------------------------------------------

def test_existing_signatures_are_kept():
    """vqual.samples and benchmarks call these positionally / by keyword."""
    assert list(inspect.signature(syn.write_video).parameters)[:7] == [
        "path", "frames", "fps", "codec", "crf", "pix_fmt", "options"]
    assert list(inspect.signature(syn.pan_frames).parameters) == ["rgb", "n", "size", "speed"]
    assert list(inspect.signature(syn.stutter).parameters) == ["frames", "hold"]
    assert list(inspect.signature(syn.gaussian_noise).parameters) == ["rgb", "sigma", "seed"]
    assert list(inspect.signature(syn.exposure).parameters) == ["rgb", "gain", "gamma"]


@pytest.mark.parametrize("hold", [1, 2, 3, 4])
def test_stutter_repeats(hold):
    frames = list(syn.stutter(clip(12), hold))
    repeats = sum(np.array_equal(a, b) for a, b in itertools.pairwise(frames))
    assert len(frames) == 12 and repeats == sum(1 for i in range(1, 12) if i % hold)


def test_frame_drops_keep_timestamps_and_nest():
    def numbered(n=200):  # frame i carries its index in two pixels (i < 256: first, i // 256: second)
        for i in range(n):
            f = np.zeros((2, 2, 3), np.uint8)
            f[0, 0, 0], f[0, 1, 0] = i % 256, i // 256
            yield f

    kept = {}
    for ratio in (0.0, 0.1, 0.3, 0.6):
        pairs = list(syn.frame_drops(numbered(), ratio, seed=5, fps=25))
        idx = [int(f[0, 0, 0]) + 256 * int(f[0, 1, 0]) for f, _ in pairs]
        assert [t for _, t in pairs] == pytest.approx([i / 25 for i in idx])  # original timestamps
        assert idx[0] == 0 and idx == sorted(idx)
        kept[ratio] = set(idx)
    assert len(kept[0.0]) == 200
    assert kept[0.6] < kept[0.3] < kept[0.1] < kept[0.0]  # the drops of a lower ratio are among a higher one's
    assert len(kept[0.3]) == pytest.approx(140, abs=20)


def test_shake_offsets_and_crop():
    big = IMG
    ref = syn.static_frames(big, 1).__next__()
    for amp in (1, 3, 6):
        frames = list(syn.shake(syn.static_frames(big, 20), amp, seed=1, margin=8))
        assert all(f.shape == (96 - 16, 128 - 16, 3) for f in frames)
        offsets = set()
        for f in frames:  # find the offset of each frame in the source
            found = [(dy, dx) for dy in range(-8, 9) for dx in range(-8, 9)
                     if np.array_equal(f, ref[8 + dy:96 - 8 + dy, 8 + dx:128 - 8 + dx])]
            assert found
            offsets.add(found[0])
        assert max(max(abs(dy), abs(dx)) for dy, dx in offsets) <= amp
        assert len(offsets) > 3
    default = next(syn.shake(syn.static_frames(big, 1), 2.5))
    assert default.shape == (96 - 6, 128 - 6, 3)  # margin ceil(amplitude)
    with pytest.raises(ValueError):
        next(syn.shake(syn.static_frames(big, 1), 60))
    smooth = list(syn.shake(syn.static_frames(big, 5), 4, seed=1, correlation=0.9))
    assert len(smooth) == 5


@pytest.mark.parametrize("mode", ["random", "sine"])
def test_flicker_gain(mode):
    grey = np.full((4, 4, 3), 100, np.uint8)
    for amp in (0.05, 0.2):
        out = [float(f.mean()) / 100 for f in syn.flicker(syn.static_frames(grey, 40), amp, seed=2, mode=mode)]
        assert max(out) <= 1 + amp + 0.01 and min(out) >= 1 - amp - 0.01
        assert max(out) - min(out) > amp  # it does flicker
    a = [f.mean() for f in syn.flicker(syn.static_frames(grey, 10), 0.05, seed=2)]
    b = [f.mean() for f in syn.flicker(syn.static_frames(grey, 10), 0.2, seed=2)]
    assert all(abs(y - 100) >= abs(x - 100) for x, y in zip(a, b, strict=True))  # same sequence, scaled
    with pytest.raises(ValueError):
        next(syn.flicker(syn.static_frames(grey, 1), 0.1, mode="square"))


def test_h264_round_trip():
    frames = list(clip(10, (47, 63)))  # odd size: padded for 4:2:0 and cropped back
    good = list(syn.h264(frames, 18, fps=25))
    bad = list(syn.h264(frames, 51, fps=25))
    assert len(good) == len(bad) == 10
    assert all(f.shape == (47, 63, 3) and f.dtype == np.uint8 for f in good + bad)
    e_good = np.mean([mse(a, b) for a, b in zip(frames, good, strict=True)])
    e_bad = np.mean([mse(a, b) for a, b in zip(frames, bad, strict=True)])
    assert e_good < e_bad
    assert list(syn.h264(iter([]), 30)) == []


# --- writing -------------------------------------------------------------------------------------------------------

def decode_times(path) -> tuple[list[float], int, Fraction]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        times = [float(f.pts * s.time_base) for f in c.decode(s)]
        return times, s.frames, s.time_base


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_write_video_with_timestamps_has_real_gaps(tmp_path, ext):
    fps = 30
    kept = [i for i in range(30) if i not in (3, 4, 10, 21)]
    frames = list(clip(30))
    ts = [i / fps for i in kept]
    path = syn.write_video(tmp_path / f"vfr.{ext}", (frames[i] for i in kept), fps=fps, crf=18, timestamps=iter(ts))
    times, _, _ = decode_times(path)
    assert len(times) == len(kept)
    tol = 1.5e-3 if ext == "mkv" else 1e-4  # matroska stores milliseconds
    assert times == pytest.approx(ts, abs=tol)
    gaps = np.diff(times)
    assert gaps.max() == pytest.approx(3 / fps, abs=2 * tol)  # frames 3 and 4 missing
    assert int(np.sum(gaps > 1.5 / fps)) == 3
    # the pixels survive too: frame 5 is where frame 5 should be
    with av.open(str(path)) as c:
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert mse(decoded[3], frames[5]) < mse(decoded[3], frames[3])


def test_write_video_streams_frame_drops(tmp_path):
    frames, ts = syn.split_timed(syn.frame_drops(clip(40), 0.25, seed=1, fps=25))
    expected = [t for _, t in syn.frame_drops(clip(40), 0.25, seed=1, fps=25)]
    path = syn.write_video(tmp_path / "drops.mp4", frames, fps=25, crf=23, timestamps=ts)
    times, _, _ = decode_times(path)
    assert times == pytest.approx(expected, abs=1e-4)
    assert len(times) < 40


def test_write_video_without_timestamps_is_constant_rate(tmp_path):
    path = syn.write_video(tmp_path / "cfr.mp4", clip(10), fps=24, crf=23)
    times, _, _ = decode_times(path)
    assert np.allclose(np.diff(times), 1 / 24, atol=1e-3) and len(times) == 10


def test_write_video_rejects_bad_timestamps(tmp_path):
    with pytest.raises(ValueError, match="increase"):
        syn.write_video(tmp_path / "a.mp4", clip(3), fps=25, timestamps=[0.0, 0.04, 0.04])
    with pytest.raises(ValueError, match="fewer"):
        syn.write_video(tmp_path / "b.mp4", clip(3), fps=25, timestamps=[0.0, 0.04])
