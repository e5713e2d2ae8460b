"""Shared helpers of the vqual-lite research scripts: data loading, cached features, views."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))
DATA = Path("/work/shared/data/clive-fewlabel")
CACHE = Path("/tmp/vqual-research")
CACHE.mkdir(parents=True, exist_ok=True)


def load_labels() -> tuple[list[str], np.ndarray, np.ndarray]:
    rows = list(csv.DictReader(open(DATA / "labels.csv")))
    rows.sort(key=lambda r: r["image"])
    return [r["image"] for r in rows], np.array([float(r["mos"]) for r in rows]), np.array([float(r["mos_std"]) for r in rows])


def load_images() -> list[np.ndarray]:
    from PIL import Image
    names, _, _ = load_labels()
    return [np.asarray(Image.open(DATA / n).convert("RGB")) for n in names]


def view_fn(name: str):
    """Name -> function(rgb) -> (N,H,W,3) uint8 batch fed to the backbone."""
    from vqual.encoders.spatial import fragment_mosaic, native_tiles, resize_area
    if name == "full":
        return lambda im: im[None]
    if name.startswith("crop"):  # native centre crop, side rounded down: crop496
        s = int(name[4:])
        def crop(im, s=s):
            h, w = im.shape[:2]
            y0, x0 = (h - min(s, h)) // 2, (w - min(s, w)) // 2
            return im[y0:y0 + s, x0:x0 + s][None]
        return crop
    if name.startswith("resize"):
        s = int(name[6:])
        return lambda im: resize_area(im, s)[None]
    if name.startswith("frag"):  # frag{grid}x{patch}
        g, p = map(int, name[4:].split("x"))
        return lambda im: fragment_mosaic(im, g, p)[None]
    if name.startswith("fragbatch"):
        raise ValueError
    if name.startswith("tiles"):  # tiles{n}x{size}
        n, s = map(int, name[5:].split("x"))
        return lambda im: native_tiles(im, n, s)
    raise ValueError(name)
