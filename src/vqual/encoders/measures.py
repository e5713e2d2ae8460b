"""Fast hand-crafted image quality measures: direct, interpretable numbers a learned attribute head can use to name
distortions (blur, noise, blocking, exposure, contrast, colour cast, lost resolution).

`measures(rgb)` returns one float32 vector, in the order of `MEASURE_NAMES`; `MEASURES` pairs every name with a
one-line description (unit and meaning) and `MEASURE_INDEX` maps a name to its position. Everything is plain
numpy/scipy, deterministic, and finite for any HxWx3 uint8 input (flat, black, white or tiny images included).

How the pixels are sampled (bounded cost: about 11 ms for 500x500, 1920x1080 and 4000x3000 alike on one core of
the development machine, while another job loaded both of its cores; BRISQUE is about 3.5 ms of it):

* *Detail* measures (sharpness, noise, blockiness, spectra) use luma at **native resolution** -- pixels are never
  resampled, so blur, noise and compression artefacts keep their true size. Images of at most ``9 * 128 * 128``
  pixels are used whole; larger ones through a fixed grid of up to 3x3 crops of 128x128 spread evenly over the
  image. Crop origins are multiples of 16, so every crop keeps the image's 8x8 (JPEG) and 16x16 (macroblock) grid
  phase, and block boundaries sit at columns / rows ``7 mod 8`` of every crop as in the image.
* *Global* measures (exposure, contrast, colour) use a regular subsample of the whole image (every ``s``-th pixel
  in both directions, ``s`` chosen so at most ~65k pixels are read).
* *BRISQUE* features (`vqual.encoders.nss.brisque_features`, two scales) are computed on a 2x2 mosaic of four native
  64x64 patches centred at a quarter and three quarters of the height and width (the whole image when it is at
  most 128x128 pixels' worth). Native patches rather than a downscaled copy keep the features comparable across
  image sizes and sensitive to pixel-level distortions; the mosaic's seams touch a few percent of the pixels.
  Non-finite fit results (a patch without variation) are reported as 0.

Images smaller than 16 px in either direction are edge-padded to 16 first; an alpha channel is ignored, a grey
(HxW or HxWx1) image is treated as R = G = B.

Luma is BT.601 (``0.299 R + 0.587 G + 0.114 B``) in 8-bit units. Additive noise of standard deviation ``s`` drawn
independently per RGB channel has luma standard deviation ``0.668 s``; `noise_sigma` estimates the latter.

Responses to the graded distortions of `vqual.data.synthetic.DISTORTIONS` (monotone over the five levels on the
Kodak photographs; see ``tests/encoders/test_measures.py``):

* blur: `sharp_log_lapvar`, `sharp_grad_ratio`, `spectral_f50` fall; `edge_width` rises;
* noise: `noise_sigma`, `noise_sigma_global` rise (and every sharpness measure, as noise is high-frequency);
* jpeg / h264: `blockiness` and `flat_block_fraction` rise; `blockiness_mb16` rises only under heavy h264
  (CRF >= 42) and stays ~1 under JPEG, whose blocks are all 8x8;
* scaling (down-up resampling): `scale_grad_ratio`, `spectral_f50`, `spectral_f90` fall, `edge_width` rises;
* under- / over-exposure: `luma_mean` and the percentiles move, `clip_low` / `clip_high` rise;
* colour cast: `cast_magnitude` rises, `cast_cb` / `cast_cr` move along the cast's direction.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft as sfft

from vqual.encoders import nss

__all__ = ["MEASURES", "MEASURE_INDEX", "MEASURE_NAMES", "measures"]

#: Side of the native-resolution crops the detail measures use, and the maximum crop grid per axis.
CROP = 128
GRID = 3
#: Pixel budget of the subsample used for global (exposure / contrast / colour) statistics.
GLOBAL_SAMPLES = 65536
#: Side of each of the 2x2 native patches of the BRISQUE mosaic.
BRISQUE_PATCH = 64
#: Minimum side: smaller images are edge-padded to this.
MIN_SIDE = 16

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Immerkaer's operator [[1,-2,1],[-2,4,-2],[1,-2,1]] has L2 norm 6; for white noise of std s, E|r| = 6 s sqrt(2/pi).
_IMMERKAER = float(np.sqrt(np.pi / 2.0) / 6.0)
_EPS = 1e-6
_EDGE_STRIDE = 7
#: Mean of the flattest tenth of the 16x16-block noise estimates relative to the true sigma, for pure white noise
#: (measured: 0.850 +- 0.001 for sigma 5-30 on 300x300 images); `noise_sigma` divides by it.
_FLATTEST_TENTH = 0.85

_BRISQUE_PARTS = ("H", "V", "D1", "D2")
_BRISQUE_NAMES = tuple(
    name
    for s in (1, 2)
    for name in (
        (f"brisque_s{s}_mscn_shape", f"brisque_s{s}_mscn_var")
        + tuple(f"brisque_s{s}_{p}_{q}" for p in _BRISQUE_PARTS for q in ("shape", "mean", "lvar", "rvar"))
    )
)

#: (name, description) of every measure, in output order.
MEASURES: tuple[tuple[str, str], ...] = (
    # --- sharpness / resolution (native-resolution luma crops) ---
    ("sharp_log_lapvar", "ln(1 + variance of the 4-neighbour Laplacian of luma); falls with blur, rises with noise"),
    ("sharp_grad_ratio", "ln(E1 / E4): squared-gradient energy at 1 px over that at 4 px (lag-k differences / k); "
                         "~0 when no detail finer than 4 px is left, ~2 for sharp photos"),
    ("edge_width", "median width in px of the strongest 1 % of edges (step height over 12 px / central slope); "
                   "a step blurred by a Gaussian of sigma 1.5-3.5 px reads ~2.5 sigma; sharp edges read ~2-3 px, "
                   "textures less, and the 12-px window saturates it above sigma ~4"),
    ("scale_grad_ratio", "ln(E4 / E8): squared-gradient energy at 4 px over that at 8 px; falls as down-up "
                         "resampling removes coarser detail"),
    ("spectral_f50", "median frequency (cycles/px, 0-0.5) of the gradient power spectrum (power x f^2)"),
    ("spectral_f90", "90th-percentile frequency (cycles/px) of the gradient power spectrum: the effective bandwidth "
                     "(~1.3 x the Nyquist limit 0.5/factor of a down-up resampling)"),
    # --- noise ---
    ("noise_sigma", "luma noise standard deviation (8-bit units): Immerkaer's operator averaged over the flattest "
                    "tenth of 16x16 blocks (blocks of mean luma < 8 or > 247 excluded), corrected for that "
                    "selection so that pure white noise reads right"),
    ("noise_sigma_global", "Immerkaer's noise sigma over all pixels (8-bit units); includes texture, an upper bound"),
    # --- compression ---
    ("blockiness", "mean |luma step| across 8x8 block boundaries (between columns / rows 7 and 8 mod 8) over that "
                   "at block centres (3 | 4 mod 8), mean of both axes; 1 = no 8x8 grid (blind to period-2 and -4 "
                   "patterns such as those of 2x / 4x upscaling)"),
    ("blockiness_mb16", "mean |luma step| at 16x16 macroblock boundaries (15 mod 16) over that at the other 8x8 "
                        "boundaries (7 mod 16); > 1 when macroblock edges are stronger than transform-block edges"),
    ("flat_block_fraction", "fraction of aligned 8x8 blocks whose mean interior |luma gradient| is < 1 grey level "
                            "(detail wiped out by coarse quantisation, blur or clipping)"),
    # --- exposure (global subsample, luma / 255) ---
    ("clip_high", "fraction of pixels with luma >= 250"),
    ("clip_low", "fraction of pixels with luma <= 5"),
    ("luma_mean", "mean luma / 255"),
    ("luma_p5", "5th percentile of luma / 255"),
    ("luma_p50", "median luma / 255"),
    ("luma_p95", "95th percentile of luma / 255"),
    # --- contrast ---
    ("contrast_rms", "RMS contrast: standard deviation of luma / 255"),
    ("dynamic_range", "(p95 - p5) of luma / 255"),
    # --- colour ---
    ("colourfulness", "Hasler & Suesstrunk (2003) colourfulness, 8-bit units (< 15 dull, ~33 moderate, > 59 very)"),
    ("cast_cb", "mean Cb - 128 (BT.601 full range, 8-bit units): > 0 bluish, < 0 yellowish"),
    ("cast_cr", "mean Cr - 128 (8-bit units): > 0 reddish, < 0 greenish"),
    ("cast_magnitude", "|mean (Cb, Cr) offset| (8-bit units): strength of a global colour cast"),
) + tuple(
    (name, "BRISQUE feature (nss.brisque_features on the native-patch mosaic; scale 2 = half resolution): "
           + ("GGD shape / variance of the MSCN coefficients" if "mscn" in name
              else "AGGD shape / mean / left / right variance of the " + name.split("_")[2]
              + " neighbour products of the MSCN coefficients"))
    for name in _BRISQUE_NAMES
)

#: Names of the entries of `measures`' output, in order.
MEASURE_NAMES: tuple[str, ...] = tuple(n for n, _ in MEASURES)
#: Position of each name in `MEASURE_NAMES`.
MEASURE_INDEX: dict[str, int] = {n: i for i, n in enumerate(MEASURE_NAMES)}


# ----------------------------------------------------------------------------------------------------------------
# sampling
# ----------------------------------------------------------------------------------------------------------------
def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxWx3 RGB image, got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"empty image of shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {a.dtype}")
    a = a[:, :, :3]
    h, w = a.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        a = np.pad(a, ((0, max(0, MIN_SIDE - h)), (0, max(0, MIN_SIDE - w)), (0, 0)), mode="edge")
    return a


def _origins(length: int, size: int, count: int) -> list[int]:
    """`count` origins of windows of `size` evenly spread over `length`, rounded down to multiples of 16."""
    if count == 1:
        return [(length - size) // 2 // 16 * 16]
    return [(i * (length - size) // (count - 1)) // 16 * 16 for i in range(count)]


def _detail_crops(rgb: np.ndarray) -> np.ndarray:
    """(n, h, w, 3) native-resolution crops for the detail measures (the whole image when it is small)."""
    h, w = rgb.shape[:2]
    if h * w <= GRID * GRID * CROP * CROP:
        return rgb[None]
    ch, cw = min(CROP, h), min(CROP, w)
    ky, kx = min(GRID, h // ch), min(GRID, w // cw)
    ys, xs = _origins(h, ch, ky), _origins(w, cw, kx)
    return np.stack([rgb[y:y + ch, x:x + cw] for y in ys for x in xs])


def _brisque_mosaic(rgb: np.ndarray) -> np.ndarray:
    """2x2 mosaic of native patches centred at 1/4 and 3/4 of each axis (the whole image if it is small)."""
    h, w = rgb.shape[:2]
    if h * w <= 4 * BRISQUE_PATCH * BRISQUE_PATCH:
        return rgb
    ph, pw = min(BRISQUE_PATCH, h // 2), min(BRISQUE_PATCH, w // 2)
    ys = [min(max(0, (h * k // 4 - ph // 2) // 16 * 16), h - ph) for k in (1, 3)]
    xs = [min(max(0, (w * k // 4 - pw // 2) // 16 * 16), w - pw) for k in (1, 3)]
    return np.concatenate(
        [np.concatenate([rgb[y:y + ph, x:x + pw] for x in xs], axis=1) for y in ys], axis=0
    )


# ----------------------------------------------------------------------------------------------------------------
# measure groups
# ----------------------------------------------------------------------------------------------------------------
def _sq(a: np.ndarray) -> float:
    """Sum of squares (einsum: single-threaded, so the same on every run)."""
    return float(np.einsum("ijk,ijk->", a, a))


def _lag_energy(y: np.ndarray, k: int) -> float:
    """Mean squared lag-k difference over both axes of (n, h, w) ``y``, divided by k^2 (0 if too small)."""
    tot, cnt = 0.0, 0
    for ax in (1, 2):
        if y.shape[ax] > k:
            d = y[:, :, k:] - y[:, :, :-k] if ax == 2 else y[:, k:, :] - y[:, :-k, :]
            tot += _sq(d)
            cnt += d.size
    return tot / cnt / (k * k) if cnt else 0.0


def _edge_width(y: np.ndarray, half: int = 6, top: float = 0.01) -> float:
    """Median (step height over ``2*half`` px) / (peak slope) at the strongest `top` fraction of central gradients."""
    widths = []
    for ax in (1, 2):
        n = y.shape[ax]
        if n < 2 * half + 1:
            continue

        def sl(a: int, b: int, ax: int = ax, n: int = n):
            s = [slice(None)] * 3
            s[ax] = slice(a, n - b)
            return tuple(s)

        g = np.abs(y[sl(half + 1, half - 1)] - y[sl(half - 1, half + 1)]).ravel() * 0.5
        d = np.abs(y[sl(2 * half, 0)] - y[sl(0, 2 * half)]).ravel()
        gs = g[::_EDGE_STRIDE] if g.size >= 64 * _EDGE_STRIDE else g  # threshold from a fixed subsample
        kth = int((1.0 - top) * (gs.size - 1))
        thr = max(float(np.partition(gs, kth)[kth]), 1.0)
        m = g >= thr
        if np.count_nonzero(m):
            widths.append(float(np.median(d[m] / g[m])))
    return float(np.mean(widths)) if widths else float(2 * half)


def _block_means(a: np.ndarray, b: int) -> np.ndarray:
    """Means of the b x b blocks of (n, hb * b, wb * b) ``a``, flattened (float64)."""
    n, h, w = a.shape
    s = a.reshape(n, h // b, b, w).sum(axis=2).reshape(n, h // b, w // b, b).sum(axis=-1)
    return s.ravel().astype(np.float64) / (b * b)


def _noise(y: np.ndarray) -> tuple[float, float]:
    """(flat-block, global) Immerkaer noise sigma of (n, h, w) luma."""
    r = y[:, :, :-2] - 2.0 * y[:, :, 1:-1] + y[:, :, 2:]
    r = np.abs(r[:, :-2] - 2.0 * r[:, 1:-1] + r[:, 2:])
    if r.size == 0:
        return 0.0, 0.0
    glob = _IMMERKAER * float(r.mean(dtype=np.float64))
    b = 16
    n, h, w = r.shape
    hb, wb = h // b, w // b
    if hb == 0 or wb == 0:
        return glob, glob
    blk = _block_means(r[:, :hb * b, :wb * b], b)
    mean = _block_means(y[:, 1:1 + hb * b, 1:1 + wb * b], b)
    ok = (mean > 8.0) & (mean < 247.0)
    if np.count_nonzero(ok) >= 4:
        blk = blk[ok]
    blk = np.sort(blk)
    return _IMMERKAER / _FLATTEST_TENTH * float(blk[: max(1, blk.size // 10)].mean()), glob


def _blockiness(dh: np.ndarray, dv: np.ndarray) -> tuple[float, float, float]:
    """(8x8 blockiness, macroblock excess, flat-block fraction) from |horizontal| and |vertical| lag-1 differences
    ``dh[..., j] = |y[..., j + 1] - y[..., j]|`` and ``dv`` likewise, each (n, h, w) with a zero last column / row."""
    c = 0.25  # grey levels: keeps flat images at ratio 1 and bounds the ratio of synthetic step patterns
    ch = dh.reshape(-1, dh.shape[2]).sum(axis=0)[:-1]  # per column j: sum |x[j+1] - x[j]| (boundary after j)
    cv = dv.sum(axis=2).sum(axis=0)[:-1]
    ch, cv = ch / (dh.shape[0] * dh.shape[1]), cv / (dv.shape[0] * dv.shape[2])
    b8, b16 = [], []
    for prof in (ch, cv):
        ph = np.arange(prof.size)
        edge, mid = prof[ph % 8 == 7], prof[ph % 8 == 3]
        if edge.size and mid.size:
            b8.append((edge.mean() + c) / (mid.mean() + c))
        mb, tb = prof[ph % 16 == 15], prof[ph % 16 == 7]
        if mb.size and tb.size:
            b16.append((mb.mean() + c) / (tb.mean() + c))
    # flat 8x8 blocks: mean interior |gradient| (differences inside the block only)
    # dh, dv are (n, h, w) with a zero last column / row
    n, h, w = dh.shape
    hb, wb = h // 8, w // 8
    flat = 0.0
    if hb and wb:
        # interior differences: offsets 0-6 inside the block (offset 7 crosses into the next block)
        ih = dh[:, :hb * 8, :wb * 8].reshape(n, hb, 8, wb * 8).sum(axis=2).reshape(n, hb, wb, 8)[..., :7].sum(-1)
        iv = dv[:, :hb * 8, :wb * 8].reshape(n, hb, 8, wb * 8)[:, :, :7].sum(axis=2).reshape(n, hb, wb, 8).sum(-1)
        act = (ih + iv) / (2 * 56)
        flat = float(np.count_nonzero(act < 1.0)) / act.size
    return (float(np.mean(b8)) if b8 else 1.0), (float(np.mean(b16)) if b16 else 1.0), flat


@lru_cache(maxsize=16)
def _spectral_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hann window, flat indices of the rfft2 bins with 0 < f <= 0.5 sorted by radial frequency, those frequencies,
    and the f^2 weights (power -> gradient power)."""
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    fr = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :]).ravel()
    idx = np.flatnonzero((fr > 0) & (fr <= 0.5))
    idx = idx[np.argsort(fr[idx], kind="stable")]
    fv = fr[idx]
    for a in (win, idx, fv):
        a.setflags(write=False)
    f2 = fv * fv
    f2.setflags(write=False)
    return win, idx, fv, f2


def _spectral(y: np.ndarray) -> tuple[float, float]:
    """(f50, f90) of the crops' mean gradient power spectrum (Hann-windowed, mean removed), cycles/px."""
    n, h, w = y.shape
    win, idx, fv, f2 = _spectral_grid(h, w)
    z = (y - y.mean(axis=(1, 2), keepdims=True)) * win
    f = sfft.rfft2(z, workers=1)
    p = (f.real * f.real + f.imag * f.imag).sum(axis=0, dtype=np.float64).ravel()
    cs = np.cumsum(p[idx] * f2)
    if cs.size == 0 or cs[-1] <= 0:
        return 0.0, 0.0
    idx = np.searchsorted(cs, np.array([0.5, 0.9]) * cs[-1])
    idx = np.minimum(idx, fv.size - 1)
    return float(fv[idx[0]]), float(fv[idx[1]])


def _percentiles(hist: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Percentiles (0-255, linear inside a bin) of integer luma from its 256-bin histogram."""
    cdf = np.cumsum(hist, dtype=np.float64)
    tot = cdf[-1]
    out = []
    for q in qs:
        t = q * tot
        k = int(np.searchsorted(cdf, t))
        below = cdf[k - 1] if k else 0.0
        out.append(k - 0.5 + (t - below) / hist[k] if hist[k] else float(k))
    return [min(max(v, 0.0), 255.0) for v in out]


def _global(rgb: np.ndarray) -> list[float]:
    h, w = rgb.shape[:2]
    s = max(1, int(np.ceil(np.sqrt(h * w / GLOBAL_SAMPLES))))
    planes = np.stack([rgb[::s, ::s, c] for c in range(3)]).reshape(3, -1)  # (3, n) uint8
    n = float(planes.shape[1])
    # first and second moments of R, G, B, from which every mean / variance below follows; the sums are of
    # integers below 2^53, hence exact in float64 whatever the summation order
    f = planes.astype(np.float64)
    mu = f.sum(axis=1) / n
    cov = (f @ f.T) / n - np.outer(mu, mu)
    lum = _LUMA.astype(np.float64)
    mean = float(lum @ mu)
    std = float(np.sqrt(max(lum @ cov @ lum, 0.0)))
    # luma histogram (integer luma, BT.601 weights scaled by 2^16; matches the float luma rounded to +-1 level)
    p32 = planes.astype(np.int32)
    yi = (p32[0] * 19595 + p32[1] * 38470 + p32[2] * 7471 + 32768) >> 16
    hist = np.bincount(yi, minlength=256).astype(np.float64)
    clip_hi = hist[250:].sum() / n
    clip_lo = hist[:6].sum() / n
    p5, p50, p95 = _percentiles(hist, (0.05, 0.5, 0.95))
    rg_w = np.array([1.0, -1.0, 0.0])
    yb_w = np.array([0.5, 0.5, -1.0])
    var_rg, var_yb = max(rg_w @ cov @ rg_w, 0.0), max(yb_w @ cov @ yb_w, 0.0)
    colourful = float(np.sqrt(var_rg + var_yb) + 0.3 * np.hypot(rg_w @ mu, yb_w @ mu))
    cb = float(np.array([-0.168736, -0.331264, 0.5]) @ mu)
    cr = float(np.array([0.5, -0.418688, -0.081312]) @ mu)
    return [clip_hi, clip_lo, mean / 255.0, p5 / 255.0, p50 / 255.0, p95 / 255.0, std / 255.0, (p95 - p5) / 255.0,
            colourful, cb, cr, float(np.hypot(cb, cr))]


def _brisque(rgb: np.ndarray) -> np.ndarray:
    gray = nss.to_gray(_brisque_mosaic(rgb))
    feats = nss.brisque_features(gray, scales=2, C=1.0)
    return np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0)


# ----------------------------------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------------------------------
def measures(rgb: np.ndarray) -> np.ndarray:
    """All measures of an HxWx3 uint8 RGB image as a float32 vector ordered as `MEASURE_NAMES`.

    Deterministic and finite for any input; see the module docstring for how pixels are sampled and `MEASURES`
    for what each entry means.
    """
    rgb = _as_rgb(rgb)
    y = _detail_crops(rgb).astype(np.float32) @ _LUMA  # (n, h, w) native luma
    dh, dv = np.zeros_like(y), np.zeros_like(y)  # |lag-1 differences|, zero-padded to y's shape
    np.abs(np.subtract(y[:, :, 1:], y[:, :, :-1], out=dh[:, :, :-1]), out=dh[:, :, :-1])
    np.abs(np.subtract(y[:, 1:, :], y[:, :-1, :], out=dv[:, :-1, :]), out=dv[:, :-1, :])

    lap = 4.0 * y[:, 1:-1, 1:-1] - y[:, :-2, 1:-1] - y[:, 2:, 1:-1] - y[:, 1:-1, :-2] - y[:, 1:-1, 2:]
    log_lapvar = float(np.log1p(lap.var(dtype=np.float64)))
    e1 = float(_sq(dh) + _sq(dv)) / (dh[:, :, :-1].size + dv[:, :-1].size)
    e4, e8 = _lag_energy(y, 4), _lag_energy(y, 8)
    grad_ratio = float(np.log((e1 + _EPS) / (e4 + _EPS)))
    scale_ratio = float(np.log((e4 + _EPS) / (e8 + _EPS)))
    width = _edge_width(y)
    f50, f90 = _spectral(y)
    noise, noise_global = _noise(y)
    block, block16, flat = _blockiness(dh, dv)

    out = [log_lapvar, grad_ratio, width, scale_ratio, f50, f90, noise, noise_global, block, block16, flat]
    out += _global(rgb)
    vec = np.concatenate([np.asarray(out, dtype=np.float64), _brisque(rgb)]).astype(np.float32)
    return np.nan_to_num(vec, nan=0.0, posinf=0.0, neginf=0.0)
