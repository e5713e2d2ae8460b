"""Temporal encoder: hand-crafted motion features of one 1-second video chunk (the "motion encoder" of LMM-VQA).

For each chunk the encoder reads only the chunk's grey frames (``chunk.luma``: float32 ``(T, h, w)`` in [0, 1],
longest side <= about 256) and their presentation times (``chunk.timestamps``, seconds), plus the stream's nominal
frame rate if the caller has one. It returns a fixed-length float32 vector (`FEATURE_NAMES`, `TemporalEncoder.dim`)
that the learned heads consume, and four named severities in [0, 1] (`ATTRIBUTES`) that are reported as they are.

How it works (every step is a few vectorised numpy / scipy.fft operations on small arrays):

1. *Work resolution (spatial subsampling).* The luma frames are block-averaged by an integer factor so the longest
   side is <= ``work_size`` (128): e.g. 144x256 -> 72x128; global motion is estimated at half that again
   (``motion_size`` 64: 36x64), which halves the cost of the whole encoder for a modest loss of sub-pixel precision
   (measured sub-pixel error <= 0.18 px256 instead of <= 0.05 at 128). Every frame is used (no temporal subsampling: it
   would hide stutter and drops). Distances are reported in "px256", pixels of the frame scaled to a 256 px longest
   side, so they do not depend on the video's resolution.
2. *Frame differences.* ``D_k = mean |Y_{k+1} - Y_k|`` for the T-1 consecutive pairs (motion magnitude), and the
   same after removing the pair's global gain (``Y_{k+1} - g_k Y_k``, ``g_k`` the ratio of the frames' means, both
   over the pixels below ``clip_level`` in both frames since clipped highlights do not follow a gain). Stutter
   detection uses the latter so that flicker is not mistaken for motion. It is computed only when some pair's mean
   changes by more than 0.5 %.
3. *Duplicates (stutter).* A pair is a duplicate when its gain-compensated difference is near zero (below
   ``dup_rel`` times the chunk's 90th-percentile difference and below ``dup_abs``) *and* the content is moving: the
   run of near-zero pairs it belongs to is at most ``max_freeze_s`` long and bounded on both sides by moving pairs.
   A static scene has no moving pairs, so it never stutters; a moving object that starts at mid-chunk gives a
   near-zero run bounded by the chunk start, which counts only if the chunk also has a bounded (interior) run, i.e.
   shows the repeating pattern. Repeats of stutter ``hold n`` give a duplicate ratio of ``(n - 1) / n``.
4. *Dropped frames.* From the timestamps: the nominal interval is the 10th percentile of the positive intervals
   (those shorter than a quarter of the median are ignored as muxing glitches). It is robust to up to ~90 % of the
   intervals being gaps (the median is not: with half the frames dropped most intervals are gaps) and equals the
   median for constant-rate video; it is replaced by ``1 / fps`` when a passed `fps` agrees with it within 10 %
   (a passed fps never overrides the timestamps). An interval longer than ``gap_tol`` (1.5) nominal intervals hides
   ``round(dt / nominal) - 1`` missing frames; the drop ratio is missing / (missing + T), the fraction of the frames
   that should be in the chunk but are not. Gaps across the boundary between two chunks are
   not seen by either chunk.
5. *Global motion.* Phase correlation (Hann-windowed, numpy FFT) of each consecutive pair gives a sub-pixel
   translation (parabolic peak fit) and a confidence (the peak height, 1 for a pure translation). The camera
   trajectory is their running sum. *Jitter* is the median distance of a frame's position from the straight line
   (in time) through its two neighbours; duplicate frames are left out first (stutter is a staircase, not shake) and
   the timestamps are used (a gap is not a jump). A pan at constant or smoothly changing speed has ~0 jitter; a
   sudden turn of direction affects one or two frames, which the median ignores.
6. *Flicker.* For each pair the frames are aligned by the rounded global shift and the luminance gain is the median
   over a 3x3 grid of blocks of the log ratio of block means (motion-compensated, robust to a moving object).
   Flicker is the robust spread (1.4826 MAD / sqrt 2) of these per-pair log gains around their median: frame-to-
   frame gain changes, with a slow fade (a constant log gain step) removed. For independent random gains
   ``1 + a U(-1, 1)`` it grows in proportion to ``a``.

Severities map a raw measurement through `Squash` (a dead zone, then a Hill function ``x^p / (x^p + half^p)``), so
they are 0 at and below the dead zone, 0.5 at ``dead + half`` and increase monotonically towards 1; the constants and
how they were chosen are in `TemporalConfig`. Chunks of fewer than 3 frames have all severities 0 (one interval
cannot tell a drop from a low frame rate, nor a duplicate from a pause) and their undefined features are 0.

Cost (2-core shared development VM, process CPU time, 30 frames): about 8 ms at 144x256 and 10 ms at 192x256
luma; it is linear in T and in work pixels, so a 60 fps chunk costs about twice as much. ``motion_size=128`` makes
global motion a little more precise for about +5 ms.

Deterministic: no randomness; float32/float64 numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Named severities the encoder reports, each in [0, 1] (0 = absent).
ATTRIBUTES: tuple[str, ...] = ("stutter", "frame_drops", "shake", "flicker")

#: The feature vector, in order. Units: luma differences in [0, 1] luma units at the work resolution; distances in
#: px256 (pixels of the frame scaled to a 256 px longest side) per frame; times in seconds.
FEATURE_NAMES: tuple[str, ...] = (
    # motion magnitude: D_k = mean |Y_{k+1} - Y_k| over the T-1 consecutive pairs
    "diff_mean",          # mean of D
    "diff_std",           # standard deviation of D
    "diff_p10",           # 10th percentile of D
    "diff_p50",           # median of D
    "diff_p90",           # 90th percentile of D
    "diff_max",           # maximum of D
    "diff_cv",            # std / mean of D (irregular motion: stutter, drops, shake are high)
    "diff_lag1",          # lag-1 autocorrelation of D (periodic stutter is negative)
    "pix_diff_std",       # std of all signed pixel differences Y_{k+1} - Y_k pooled over the chunk
    "pix_diff_logkurt",   # log of their kurtosis m4 / m2^2 (>= 0; 3 ~ Gaussian noise, large = local motion)
    # stutter (gain-compensated differences)
    "dup_ratio",          # fraction of pairs that are duplicates among moving neighbours
    "freeze_max_s",       # longest time one picture stays on screen within a duplicate run (0 if none)
    "spike_ratio",        # fraction of moving pairs with D > spike_rel x median moving D (jumps after repeats/drops)
    # timing
    "drop_ratio",         # missing / (missing + T) from timestamp gaps
    "gap_max_s",          # longest interval minus the nominal interval, >= 0
    "interval_cv",        # std / mean of the frame intervals
    "frame_rate",         # 1 / nominal interval (Hz)
    # global motion (phase correlation)
    "gm_speed_mean",      # mean global displacement per frame pair, px256
    "gm_speed_max",       # largest global displacement of a pair, px256
    "gm_jitter",          # median deviation of the trajectory from its neighbours' line, px256 (shake)
    "gm_jitter_rms",      # RMS of the same deviations (not robust to turns and cuts)
    "gm_confidence",      # mean phase-correlation peak height (1 = pure translation; low = complex motion/noise)
    # luminance
    "flicker",            # robust spread of the motion-compensated per-pair log gains (flicker)
    "luma_flicker_raw",   # the same from plain frame means (no motion compensation; content changes count too)
    "luma_mean",          # mean luma of the chunk
    "luma_range",         # max - min of the frame mean lumas
    # chunk
    "n_frames",           # T
    # severities (see ATTRIBUTES), also returned by name
    "sev_stutter",
    "sev_frame_drops",
    "sev_shake",
    "sev_flicker",
)
_IDX = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass(frozen=True)
class Squash:
    """Monotone map of a raw measurement ``x >= 0`` to a severity in [0, 1).

    ``s = y^power / (y^power + half^power)`` with ``y = max(0, x - dead)``: 0 up to `dead`, 0.5 at ``dead + half``.
    """

    dead: float
    half: float
    power: float = 1.5

    def __call__(self, x: float) -> float:
        y = max(0.0, float(x) - self.dead)
        if y <= 0.0 or not math.isfinite(y):
            return 0.0 if y <= 0.0 else 1.0
        a = y ** self.power
        return float(a / (a + self.half ** self.power))


@dataclass(frozen=True)
class TemporalConfig:
    """Thresholds of the encoder and the severity constants.

    The severity constants were chosen on the synthetic ladders of `vqual.data.synthetic.DISTORTIONS` (a 192x256
    window panning at 2 px/frame over the bundled kodim23 photograph, 30 fps, 3 s = three 1-second chunks, seed 0,
    severities averaged over the chunks; ``tests/encoders/test_temporal.py`` re-measures them): ``dead + half`` is
    the raw value measured at the *middle* ladder step, so that step gets severity ~0.5, and ``dead`` lies above what
    the clean pan, a static scene and the other distortions produce. ``power`` 1.5 spreads the five steps over
    roughly 0.15-0.9.

    * stutter: raw = ``r / (1 - r)`` for the duplicate ratio r, the mean number of extra frames per distinct
      picture (hold n -> n - 1). Middle step hold 4 measured r = 0.759 -> raw 3.14: dead 0.05, half 3.1. The dead
      zone ignores one isolated duplicate in 30 frames.
    * frame_drops: raw = drop ratio. Middle step 20 % measured 0.179 (the random realisation; gaps across chunk
      boundaries are not seen): dead 0.01, half 0.17.
    * shake: raw = gm_jitter in px256. Middle step +-4 px (on the 256 px frame, cropped to 224x160 by the table's
      16 px margin, so +-4.6 px256) measured 4.4: dead 0.5, half 3.9. The clean pan measures 0.14, pans at
      non-integer speeds (whose integer-rounded positions wobble by half a pixel) up to 0.6, H.264 up to 0.2.
    * flicker: raw = flicker (log gain spread). Middle step amplitude 0.1 measured 0.064: dead 0.003, half 0.061.
      Shake, pans and H.264 leave <= 0.003 after motion compensation.
    """

    #: Longest side of the work resolution (the luma frames are block-averaged by an integer factor down to this).
    work_size: int = 128
    #: Longest side at which global motion is estimated (phase correlation), <= work_size.
    motion_size: int = 64
    #: Chunk motion level (90th percentile of D) below which the content is static: no duplicates can be found.
    move_eps: float = 1.5 / 255.0
    #: Pixels at or above this luma in either frame of a pair are left out of the gain-compensated difference.
    clip_level: float = 0.9
    #: A pair is a duplicate candidate when D < dup_rel * (90th percentile of D) ...
    dup_rel: float = 0.15
    #: ... and D < dup_abs (a repeated picture differs only by coding noise).
    dup_abs: float = 0.01
    #: Longest run of repeats (seconds) that counts as stutter; a longer pause is content (or a freeze).
    max_freeze_s: float = 0.34
    #: A moving pair is a spike when D > spike_rel * median D of the moving pairs.
    spike_rel: float = 1.8
    #: An interval longer than gap_tol nominal intervals is a gap.
    gap_tol: float = 1.5
    #: Grid of blocks (per side) over which the per-pair luminance gain is a median.
    gain_blocks: int = 3
    #: Blocks darker than this (mean luma) are ignored by the gain estimate.
    gain_floor: float = 0.04
    #: Chunks with fewer frames than this have all severities 0.
    min_frames: int = 3
    #: Pairs whose phase-correlation peak is lower than this are not trusted for jitter (unrelated noise frames
    #: give 0.13-0.2 on average, a pan under heavy noise sigma 50 still 0.45).
    min_confidence: float = 0.3
    #: Width (px at the motion resolution) of the Gaussian weighting of the phase-correlation peak.
    peak_sigma: float = 1.0
    #: Frames smaller than this (px, shorter side at motion resolution) get no global motion estimate.
    min_motion_side: int = 8
    stutter: Squash = field(default_factory=lambda: Squash(dead=0.05, half=3.1, power=1.5))
    frame_drops: Squash = field(default_factory=lambda: Squash(dead=0.01, half=0.17, power=1.5))
    shake: Squash = field(default_factory=lambda: Squash(dead=0.5, half=3.9, power=1.5))
    flicker: Squash = field(default_factory=lambda: Squash(dead=0.003, half=0.061, power=1.5))


@dataclass
class TemporalFeatures:
    """The encoder's output for one chunk."""

    vector: np.ndarray  # float32 (len(FEATURE_NAMES),), finite
    severities: dict[str, float]  # ATTRIBUTES -> [0, 1]
    #: Per-pair diagnostics (length T-1): global displacement (dy, dx) in px256, duplicate flags, missing frames.
    velocity: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    duplicate: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    missing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def as_dict(self) -> dict[str, float]:
        return {name: float(v) for name, v in zip(FEATURE_NAMES, self.vector, strict=True)}


class TemporalEncoder:
    """Fixed-length motion features and stutter / frame-drop / shake / flicker severities of a video chunk."""

    names: tuple[str, ...] = FEATURE_NAMES
    dim: int = len(FEATURE_NAMES)
    attributes: tuple[str, ...] = ATTRIBUTES

    def __init__(self, config: TemporalConfig | None = None):
        self.config = config or TemporalConfig()
        self._windows: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, float]] = {}

    def __call__(self, chunk: Any, fps: float | None = None) -> np.ndarray:
        """The feature vector of `chunk` (float32, `dim`)."""
        return self.encode(chunk, fps=fps).vector

    def encode(self, chunk: Any, fps: float | None = None) -> TemporalFeatures:
        """Encode a `vqual.media.Chunk` (or anything with ``.luma`` and ``.timestamps``)."""
        luma = getattr(chunk, "luma", None)
        if luma is None:
            raise ValueError("the chunk has no luma frames (iter_chunks was called with luma_size=None)")
        return self.encode_arrays(luma, getattr(chunk, "timestamps", None), fps=fps)

    # ------------------------------------------------------------------------------------------------------------
    def encode_arrays(self, luma: np.ndarray, timestamps: Any = None, fps: float | None = None) -> TemporalFeatures:
        """Encode grey frames ``(T, h, w)`` in [0, 1] with their timestamps in seconds (None: ``i / fps``)."""
        Y = np.asarray(luma, dtype=np.float32)
        if Y.ndim == 2:
            Y = Y[None]
        if Y.ndim != 3 or Y.shape[0] == 0 or min(Y.shape[1:]) < 1:
            raise ValueError(f"luma must be (T, h, w) with T >= 1, got shape {np.shape(luma)}")
        T = Y.shape[0]
        ts = self._timestamps(timestamps, T, fps)
        vec = np.zeros(self.dim, dtype=np.float64)
        Yw, px256 = self._work_frames(Y)
        means = Yw.mean(axis=(1, 2), dtype=np.float64)
        if not np.all(np.isfinite(means)):
            Yw = np.nan_to_num(Yw, nan=0.0, posinf=1.0, neginf=0.0)
            means = Yw.mean(axis=(1, 2), dtype=np.float64)
        vec[_IDX["luma_mean"]] = means.mean()
        vec[_IDX["luma_range"]] = means.max() - means.min()
        vec[_IDX["n_frames"]] = T
        dt, nominal, missing = self._timing(ts, fps)
        vec[_IDX["frame_rate"]] = 1.0 / nominal
        if T < 2:
            return TemporalFeatures(vec.astype(np.float32), {a: 0.0 for a in ATTRIBUTES})
        D, Dn = self._difference_features(vec, Yw, means)
        dup = self._stutter_features(vec, D, Dn, nominal)
        self._timing_features(vec, dt, nominal, missing, T)
        shifts, vel, conf = self._motion_features(vec, Yw, means, px256, T, ts, dup)
        self._flicker_features(vec, Yw, means, shifts, T)
        sev = self._severities(vec, T)
        vec = np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
        return TemporalFeatures(vec, sev, velocity=vel, duplicate=dup, missing=missing)

    # --- the steps of `encode_arrays`: each fills its features into `vec` ---------------------------------------
    def _work_frames(self, Y: np.ndarray) -> tuple[np.ndarray, float]:
        """The frames block-averaged to the work resolution, and the size of one work pixel in px256 units."""
        h, w = Y.shape[1:]
        f = max(1, math.ceil(max(h, w) / self.config.work_size))
        hw, ww = h // f, w // f
        if f > 1 and hw >= 1 and ww >= 1:
            Yw = _block_mean(Y, f)
        else:
            f, Yw = 1, Y
        return Yw, f * 256.0 / max(h, w)

    def _difference_features(self, vec: np.ndarray, Yw: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame-difference statistics; returns the mean absolute differences D and their gain-compensated Dn."""
        delta = Yw[1:] - Yw[:-1]
        D = np.abs(delta).mean(axis=(1, 2), dtype=np.float64)
        gains = (means[1:] + 1e-3) / (means[:-1] + 1e-3)
        # below a 0.5 % change of a frame mean, removing the global gain changes D by < 0.005 * luma: skip it
        Dn = _gain_compensated_diff(Yw, self.config.clip_level, D) if np.max(np.abs(gains - 1.0)) > 5e-3 else D
        sq = np.square(delta[:, ::2, ::2])  # pixel statistics on a quarter of the pixels
        m2 = float(sq.mean(dtype=np.float64))
        m4 = float(np.square(sq).mean(dtype=np.float64))
        m1 = float(delta[:, ::2, ::2].mean(dtype=np.float64))
        vec[_IDX["diff_mean"]] = D.mean()
        vec[_IDX["diff_std"]] = D.std()
        vec[_IDX["diff_p10"]], vec[_IDX["diff_p50"]], vec[_IDX["diff_p90"]] = np.percentile(D, [10, 50, 90])
        vec[_IDX["diff_max"]] = D.max()
        vec[_IDX["diff_cv"]] = D.std() / (D.mean() + 1e-6)
        if D.size >= 3 and D.std() > 1e-9:
            c = D - D.mean()
            vec[_IDX["diff_lag1"]] = float(np.dot(c[1:], c[:-1]) / np.dot(c, c))
        vec[_IDX["pix_diff_std"]] = math.sqrt(max(0.0, m2 - m1 * m1))
        if m2 > 1e-12:
            vec[_IDX["pix_diff_logkurt"]] = math.log(max(1.0, m4 / (m2 * m2)))
        return D, Dn

    def _stutter_features(self, vec: np.ndarray, D: np.ndarray, Dn: np.ndarray, nominal: float) -> np.ndarray:
        """Repeated frames; returns which frame pairs are duplicates."""
        dup, spikes = self._duplicates(Dn, nominal)
        vec[_IDX["dup_ratio"]] = dup.sum() / D.size
        vec[_IDX["spike_ratio"]] = spikes
        vec[_IDX["freeze_max_s"]] = (_longest_run(dup) + 1) * nominal if dup.any() else 0.0
        return dup

    @staticmethod
    def _timing_features(vec: np.ndarray, dt: np.ndarray, nominal: float, missing: np.ndarray, T: int) -> None:
        n_missing = int(missing.sum())
        vec[_IDX["drop_ratio"]] = n_missing / (n_missing + T)
        vec[_IDX["gap_max_s"]] = max(0.0, float(dt.max()) - nominal)
        vec[_IDX["interval_cv"]] = dt.std() / (dt.mean() + 1e-9)

    def _motion_features(self, vec: np.ndarray, Yw: np.ndarray, means: np.ndarray, px256: float, T: int,
                         ts: np.ndarray, dup: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Global motion by phase correlation; returns the shifts (work pixels), velocities (px256) and confidences."""
        cfg = self.config
        fm = max(1, math.ceil(max(Yw.shape[1:]) / cfg.motion_size))
        if fm > 1 and min(Yw.shape[1:]) >= cfg.min_motion_side * fm:
            Ym = _block_mean(Yw, fm)
            shifts, conf = self._phase_correlation(Ym, Ym.mean(axis=(1, 2), dtype=np.float64))
            shifts = shifts * fm
        elif min(Yw.shape[1:]) >= cfg.min_motion_side:
            shifts, conf = self._phase_correlation(Yw, means)
        else:  # too small to tell a translation: no global motion, confidence 0
            shifts, conf = np.zeros((T - 1, 2)), np.zeros(T - 1)
        vel = shifts * px256
        speed = np.hypot(vel[:, 0], vel[:, 1])
        vec[_IDX["gm_speed_mean"]] = speed.mean()
        vec[_IDX["gm_speed_max"]] = speed.max()
        vec[_IDX["gm_confidence"]] = conf.mean()
        jit_med, jit_rms = _jitter(vel, ts, dup, conf >= cfg.min_confidence)
        vec[_IDX["gm_jitter"]], vec[_IDX["gm_jitter_rms"]] = jit_med, jit_rms
        return shifts, vel, conf

    def _flicker_features(self, vec: np.ndarray, Yw: np.ndarray, means: np.ndarray, shifts: np.ndarray,
                          T: int) -> None:
        ok = min(Yw.shape[1:]) >= 4 * self.config.gain_blocks
        log_gain = self._log_gains(Yw, shifts) if ok else np.zeros(T - 1)
        vec[_IDX["flicker"]] = _spread(log_gain)
        vec[_IDX["luma_flicker_raw"]] = _spread(np.diff(np.log(means + 1e-3)))

    def _severities(self, vec: np.ndarray, T: int) -> dict[str, float]:
        """The four severities from their features (0 with fewer than `min_frames` frames), also written to `vec`."""
        cfg = self.config
        sev = {a: 0.0 for a in ATTRIBUTES}
        if cfg.min_frames <= T:
            r = min(float(vec[_IDX["dup_ratio"]]), 0.97)
            sev["stutter"] = cfg.stutter(r / (1.0 - r))
            sev["frame_drops"] = cfg.frame_drops(vec[_IDX["drop_ratio"]])
            sev["shake"] = cfg.shake(vec[_IDX["gm_jitter"]])
            sev["flicker"] = cfg.flicker(vec[_IDX["flicker"]])
        for a in ATTRIBUTES:
            vec[_IDX["sev_" + a]] = sev[a]
        return sev

    # ------------------------------------------------------------------------------------------------------------
    @staticmethod
    def _timestamps(timestamps: Any, T: int, fps: float | None) -> np.ndarray:
        step = 1.0 / fps if fps and fps > 0 else 1.0 / 30.0
        if timestamps is None or len(timestamps) != T:
            return np.arange(T, dtype=np.float64) * step
        ts = np.asarray(timestamps, dtype=np.float64)
        if not np.all(np.isfinite(ts)):
            return np.arange(T, dtype=np.float64) * step
        return ts

    def _timing(self, ts: np.ndarray, fps: float | None) -> tuple[np.ndarray, float, np.ndarray]:
        """Intervals, nominal interval and missing frames per interval."""
        dt = np.diff(ts)
        pos = dt[dt > 1e-6]
        hint = 1.0 / fps if fps and fps > 0 else None
        if pos.size:
            pos = pos[pos >= 0.25 * np.median(pos)]  # ignore near-coincident timestamps
            nominal = float(np.percentile(pos, 10))
            if hint is not None and abs(hint / nominal - 1.0) <= 0.1:
                nominal = hint
        else:
            nominal = hint if hint is not None else 1.0 / 30.0
        if dt.size == 0:
            return np.zeros(1), nominal, np.zeros(0, dtype=np.int64)
        ratio = dt / nominal
        missing = np.where(ratio > self.config.gap_tol, np.rint(ratio) - 1, 0).astype(np.int64)
        return dt, nominal, np.maximum(missing, 0)

    def _duplicates(self, Dn: np.ndarray, nominal: float) -> tuple[np.ndarray, float]:
        """Duplicate flags per pair and the spike ratio."""
        cfg = self.config
        P = Dn.size
        dup = np.zeros(P, dtype=bool)
        max_run = max(1, round(cfg.max_freeze_s / nominal))
        level = float(np.percentile(Dn, 90))
        if level < cfg.move_eps and P >= 2:
            # fewer than 10% of the pairs move: a still, or a long hold (stutter of 8 at 24 fps moves in 2 pairs of a
            # 23-pair chunk). The motion level is then the median of the fewest moving pairs that holds of at most
            # `max_freeze_s` leave in a chunk; a still stays below `move_eps`, and a lone change (a cut) in one leaves
            # no interior run of repeats below, so neither stutters.
            m = max(1, P // (max_run + 1))
            level = float(np.median(np.sort(Dn)[-m:]))
        if level < cfg.move_eps or P < 2:
            return dup, 0.0
        small = (Dn < cfg.dup_rel * level) & (Dn < cfg.dup_abs)
        interior, edge = [], []
        for start, end in _runs(small):
            if end - start > max_run:
                continue
            (interior if start > 0 and end < P else edge).append((start, end))
        if interior:
            for start, end in interior + [r for r in edge if not (r[0] == 0 and r[1] == P)]:
                dup[start:end] = True
        moving = Dn[~small]
        spikes = 0.0
        if moving.size:
            spikes = float(np.mean(moving > cfg.spike_rel * np.median(moving)))
        return dup, spikes

    def _spectral(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray, float]:
        """Hann window, Gaussian spectral weight and the peak height of a perfect translation, for an h x w frame."""
        cached = self._windows.get((h, w))
        if cached is None:
            from scipy import fft as sfft  # here, not at import: scoring a picture never needs it (~0.4-0.9 s)

            win = np.outer(np.hanning(h + 2)[1:-1], np.hanning(w + 2)[1:-1]).astype(np.float32)
            fy = sfft.fftfreq(h)[:, None]
            fx = sfft.rfftfreq(w)[None, :]
            sigma = self.config.peak_sigma
            weight = np.exp(-2.0 * np.pi ** 2 * sigma ** 2 * (fy ** 2 + fx ** 2)).astype(np.float32)
            norm = float(sfft.irfft2(weight, s=(h, w))[0, 0])
            cached = (win, weight, norm)
            self._windows[(h, w)] = cached
        return cached

    def _phase_correlation(self, Yw: np.ndarray, means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per pair (dy, dx) of frame k+1 relative to frame k in work pixels, and the peak height (1 = a perfect
        translation).

        The normalised cross-power spectrum is weighted by a Gaussian (a spatial Gaussian of ``peak_sigma`` px on the
        correlation surface), so the peak is a smooth Gaussian blob whose position a parabola through the logs of the
        three values around the maximum finds without the integer-pull bias of a plain parabola (measured on
        sub-pixel shifts of the sample photograph: <= 0.05 px error at the motion resolution instead of 0.12); the
        weighting also suppresses noise.
        """
        from scipy import fft as sfft

        T, h, w = Yw.shape
        win, weight, norm = self._spectral(h, w)
        X = (Yw - means[:, None, None].astype(np.float32)) * win
        F = sfft.rfft2(X, axes=(1, 2))
        R = F[1:] * np.conj(F[:-1])
        mag = np.abs(R)
        mag += 1e-12
        np.reciprocal(mag, out=mag)
        mag *= weight
        R *= mag  # in place: much cheaper than dividing a complex array by a real one
        r = sfft.irfft2(R, s=(h, w), axes=(1, 2))
        P = T - 1
        flat = r.reshape(P, -1).argmax(axis=1)
        py, px = np.divmod(flat, w)
        k = np.arange(P)
        peak = r[k, py, px]
        floor = 1e-6 * np.maximum(peak, 1e-9)
        lc = np.log(np.maximum(peak, floor))
        shifts = np.zeros((P, 2))
        for axis, (p, n) in enumerate(((py, h), (px, w))):
            if axis == 0:
                lo, hi = r[k, (py - 1) % h, px], r[k, (py + 1) % h, px]
            else:
                lo, hi = r[k, py, (px - 1) % w], r[k, py, (px + 1) % w]
            lo, hi = np.log(np.maximum(lo, floor)), np.log(np.maximum(hi, floor))
            den = lo - 2.0 * lc + hi
            sub = np.where(den < -1e-9, 0.5 * (lo - hi) / np.where(den < -1e-9, den, -1.0), 0.0)
            sp = p + np.clip(sub, -0.5, 0.5)
            shifts[:, axis] = np.where(sp >= n / 2.0, sp - n, sp)
        return shifts, np.clip(peak / norm, 0.0, 1.0)

    def _log_gains(self, Yw: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """Motion-compensated log luminance gain of each pair: median over a g x g grid of blocks of the overlap of
        log(mean in frame k+1 / mean in frame k). Block sums come from one summed-area table per frame, for all pairs
        at once."""
        cfg = self.config
        T, h, w = Yw.shape
        g = cfg.gain_blocks
        P = T - 1
        C = np.empty((T, h + 1, w), dtype=np.float32)  # C[t, y] = sum of rows < y of frame t
        C[:, 0] = 0.0
        np.cumsum(Yw, axis=1, out=C[:, 1:])
        d = np.rint(shifts).astype(np.int64)
        dy, dx = d[:, 0], d[:, 1]
        bad = (np.abs(dy) > h - g - 1) | (np.abs(dx) > w - g - 1)
        dy, dx = np.where(bad, 0, dy), np.where(bad, 0, dx)
        # frame k+1 at (y, x) shows what frame k showed at (y - dy, x - dx): the overlap in frame k's coordinates
        y0, y1 = np.maximum(0, -dy), h - np.maximum(0, dy)
        x0, x1 = np.maximum(0, -dx), w - np.maximum(0, dx)
        steps = np.arange(g + 1)
        ey = y0[:, None] + ((y1 - y0)[:, None] * steps[None, :]) // g  # (P, g+1) block row edges in frame k
        ex = x0[:, None] + ((x1 - x0)[:, None] * steps[None, :]) // g
        k = np.arange(P)[:, None]

        def block_sums(t, yy, xx):
            bands = np.diff(C[t, yy], axis=1)  # (P, g, w): sums of the row bands
            cs = np.zeros((P, g, w + 1), dtype=np.float64)
            np.cumsum(bands, axis=2, out=cs[:, :, 1:])
            c = np.take_along_axis(cs, np.broadcast_to(xx[:, None, :], (P, g, g + 1)), axis=2)
            return np.diff(c, axis=2)  # (P, g, g)

        sa = block_sums(k, ey, ex)
        sb = block_sums(k + 1, ey + dy[:, None], ex + dx[:, None])
        area = np.diff(ey, axis=1)[:, :, None] * np.diff(ex, axis=1)[:, None, :]
        floor = cfg.gain_floor * np.maximum(area, 1)
        ok = ((sa > floor) & (sb > floor)).reshape(P, -1)
        lr = (np.log(np.maximum(sb, 1e-12)) - np.log(np.maximum(sa, 1e-12))).reshape(P, -1)
        return _masked_median(lr, ok)


def _block_mean(Y: np.ndarray, f: int) -> np.ndarray:
    """Average `Y` (T, h, w) over f x f blocks (the remainder rows/columns are dropped): strided adds, no reductions
    over non-contiguous axes (several times faster than reshape().mean())."""
    T, h, w = Y.shape
    hw, ww = h // f, w // f
    r = Y[:, :hw * f].reshape(T, hw, f, w)
    acc = r[:, :, 0].copy()
    for i in range(1, f):
        acc += r[:, :, i]
    c = acc[:, :, :ww * f].reshape(T, hw, ww, f)
    out = c[..., 0].copy()
    for j in range(1, f):
        out += c[..., j]
    out *= 1.0 / (f * f)
    return out


def _gain_compensated_diff(Yw: np.ndarray, clip: float, fallback: np.ndarray) -> np.ndarray:
    """Mean |Y_{k+1} - g_k Y_k| per pair over the pixels below `clip` in both frames, with g_k the ratio of their
    means there (highlights that clip do not follow a gain change). Pairs with < 10 % such pixels keep `fallback`."""
    a, b = Yw[:-1], Yw[1:]
    v = ((a < clip) & (b < clip)).astype(np.float32)
    n = v.sum(axis=(1, 2), dtype=np.float64)
    sa = (a * v).sum(axis=(1, 2), dtype=np.float64)
    sb = (b * v).sum(axis=(1, 2), dtype=np.float64)
    g = ((sb + 1e-3) / (sa + 1e-3)).astype(np.float32)
    res = np.abs(b - g[:, None, None] * a)
    res *= v
    d = res.sum(axis=(1, 2), dtype=np.float64) / np.maximum(n, 1.0)
    return np.where(n >= 0.1 * a[0].size, d, fallback)


def _masked_median(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Median of each row of `x` over the entries where `ok` (0 for a row without any)."""
    n = ok.sum(axis=1)
    v = np.sort(np.where(ok, x, np.inf), axis=1)
    rows = np.arange(x.shape[0])
    lo, hi = np.maximum(n - 1, 0) // 2, np.maximum(n, 1) // 2
    hi = np.where(n > 0, hi, 0)
    med = 0.5 * (v[rows, lo] + v[rows, hi])
    return np.where(n > 0, med, 0.0)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    if not mask.any():
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _longest_run(mask: np.ndarray) -> int:
    return max((e - s for s, e in _runs(mask)), default=0)


def _spread(x: np.ndarray) -> float:
    """Robust spread of frame-to-frame changes: 1.4826 * MAD / sqrt(2) (0 for fewer than 2 values)."""
    if x.size < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(x - np.median(x))) / math.sqrt(2.0))


def _jitter(vel: np.ndarray, ts: np.ndarray, dup: np.ndarray, reliable: np.ndarray) -> tuple[float, float]:
    """Median and RMS distance (px256) of each kept (non-duplicate) frame's position from the line, in time, through
    its kept neighbours. Only deviations whose pairs are all `reliable` count, and only when at least half of them
    (and at least 2) do: otherwise the trajectory is unknown and both are 0."""
    pos = np.concatenate([np.zeros((1, 2)), np.cumsum(vel, axis=0)])
    keep = np.concatenate([[True], ~dup])
    idx = np.flatnonzero(keep)
    if idx.size < 3:
        return 0.0, 0.0
    p, t = pos[idx], ts[idx]
    span = t[2:] - t[:-2]
    frac = np.where(span > 1e-9, (t[1:-1] - t[:-2]) / np.where(span > 1e-9, span, 1.0), 0.5)
    pred = p[:-2] + (p[2:] - p[:-2]) * frac[:, None]
    e = np.hypot(*(p[1:-1] - pred).T)
    bad = np.concatenate([[0], np.cumsum(~reliable)])  # unreliable pairs before each frame
    ok = bad[idx[2:]] == bad[idx[:-2]]
    if ok.sum() < max(2, 0.5 * e.size):
        return 0.0, 0.0
    e = e[ok]
    return float(np.median(e)), float(np.sqrt(np.mean(e * e)))


def to_luma(frames: Any, luma_size: int | None = 256) -> np.ndarray:
    """Grey frames for the encoder from RGB uint8 frames: BT.601 luma in [0, 1], float32 ``(T, h, w)``, box-downscaled
    (PIL, area average) so the longest side is <= `luma_size` (None: full size). For tests and training; video files
    get theirs from `vqual.media.iter_chunks`."""
    from PIL import Image

    out = []
    for f in frames:
        y = (np.asarray(f, dtype=np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)) / 255.0
        h, w = y.shape
        if luma_size is not None and max(h, w) > luma_size:
            s = luma_size / max(h, w)
            size = (max(1, round(w * s)), max(1, round(h * s)))
            y = np.asarray(Image.fromarray(y, mode="F").resize(size, Image.BOX), dtype=np.float32)
        out.append(y)
    return np.stack(out) if out else np.zeros((0, 1, 1), dtype=np.float32)
