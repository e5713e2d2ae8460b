"""Cheap hand-crafted quality measures (numpy/scipy only), cached to /tmp/vqual-research/feat_hand.npz.

Measures (all on the native image): log variance of the Laplacian at scales 1, 2, 4 and their ratios (sharpness,
and how it falls with scale), Immerkaer's noise sigma, mean gradient magnitude, edge density, luma mean / std /
5-50-95 percentiles (exposure, contrast), clipped-dark and clipped-bright fractions, histogram entropy,
Hasler-Suesstrunk colourfulness, mean saturation, 8x8 blockiness ratio.
"""
import time

import numpy as np
from common import CACHE, load_images
from scipy import ndimage

NAMES = ["lap1", "lap2", "lap4", "lap12", "lap24", "noise", "grad", "edge", "ymean", "ystd", "p5", "p50", "p95",
         "clip_lo", "clip_hi", "entropy", "colourful", "sat", "block"]


def _down2(y):
    h, w = (y.shape[0] // 2) * 2, (y.shape[1] // 2) * 2
    y = y[:h, :w]
    return 0.25 * (y[0::2, 0::2] + y[1::2, 0::2] + y[0::2, 1::2] + y[1::2, 1::2])


def hand_features(rgb: np.ndarray) -> np.ndarray:
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)
    y2 = _down2(y); y4 = _down2(y2)
    l1 = np.log(ndimage.convolve(y, lap)[1:-1, 1:-1].var() + 1e-3)
    l2 = np.log(ndimage.convolve(y2, lap)[1:-1, 1:-1].var() + 1e-3)
    l4 = np.log(ndimage.convolve(y4, lap)[1:-1, 1:-1].var() + 1e-3)
    m = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)  # Immerkaer 1996
    h, w = y.shape
    noise = np.sqrt(np.pi / 2) / (6 * (w - 2) * (h - 2)) * np.abs(ndimage.convolve(y, m)[1:-1, 1:-1]).sum()
    gx = ndimage.sobel(y, 1); gy = ndimage.sobel(y, 0)
    gm = np.hypot(gx, gy)
    grad = np.log(gm.mean() + 1e-3)
    edge = (gm > 100).mean()
    p5, p50, p95 = np.percentile(y, [5, 50, 95])
    clip_lo = (y <= 3).mean(); clip_hi = (y >= 252).mean()
    hist = np.bincount(np.clip(y, 0, 255).astype(np.int64).ravel(), minlength=256) / y.size
    ent = -(hist[hist > 0] * np.log2(hist[hist > 0])).sum()
    rg = r - g; yb = 0.5 * (r + g) - b
    colourful = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    mx = x.max(-1); mn = x.min(-1)
    sat = ((mx - mn) / (mx + 1e-3)).mean()
    dh = np.abs(np.diff(y, axis=1))  # blockiness: boundary vs interior horizontal differences
    cols = np.arange(dh.shape[1])
    block = np.log((dh[:, cols % 8 == 7].mean() + 1e-3) / (dh[:, cols % 8 != 7].mean() + 1e-3))
    return np.array([l1, l2, l4, l1 - l2, l2 - l4, np.log(noise + 1e-3), grad, edge, y.mean(), y.std(), p5, p50,
                     p95, clip_lo, clip_hi, ent, colourful, sat, block], np.float32)


if __name__ == "__main__":
    imgs = load_images()
    ts, F = [], []
    for im in imgs:
        t = time.perf_counter(); F.append(hand_features(im)); ts.append(time.perf_counter() - t)
    np.savez(CACHE / "feat_hand.npz", hand=np.stack(F), ms=np.array(ts) * 1000)
    print(f"hand: {len(NAMES)} features, median {1000*np.median(ts):.1f} ms/img")
