"""End-to-end ms/image (view preparation + backbone + pooling) for each design, 2 threads, median of N runs.

500x500: a LIVE-itW image. 1920x1080: the same image resized to 1080 rows and reflect-padded to 1920 columns.
Designs run interleaved so that load from other processes hits them alike.
"""
import sys
import time

import numpy as np
import torch
from common import load_images
from PIL import Image

from vqual.encoders.spatial import (
    Lite0Backbone,
    SpatialEncoder,
    fragment_mosaic,
    lite0_weights_path,
    native_tiles,
    pool_mean_std,
    resize_area,
    to_input,
)

torch.set_num_threads(2)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 15
S7H = ("s2", "s3", "s4", "s5", "s6", "s7", "head")
bb = Lite0Backbone(lite0_weights_path(), S7H)
enc = SpatialEncoder()


def run(batches):
    with torch.inference_mode():
        out = []
        for b in batches:
            maps = bb(to_input(b).contiguous(memory_format=torch.channels_last))
            out += [pool_mean_std(m) for m in maps]
        return torch.cat(out).numpy()


DESIGNS = {
    "full (500 native / 1080p->512^2 area)": lambda im: run([resize_area(im, 512)[None]]),
    "crop496 = default SpatialEncoder": enc.encode,
    "resize448": lambda im: run([resize_area(im, 448)[None]]),
    "resize384": lambda im: run([resize_area(im, 384)[None]]),
    "resize224": lambda im: run([resize_area(im, 224)[None]]),
    "frag7x32": lambda im: run([fragment_mosaic(im, 7, 32)[None]]),
    "frag8x32": lambda im: run([fragment_mosaic(im, 8, 32)[None]]),
    "tiles4x224": lambda im: run([native_tiles(im, 4, 224)]),
    "resize224+frag4x56": lambda im: run([resize_area(im, 224)[None], fragment_mosaic(im, 4, 56)[None]]),
}
im500 = load_images()[0]
r = np.asarray(Image.fromarray(im500).resize((1080, 1080), Image.BILINEAR))
im1080 = np.pad(r, ((0, 0), (420, 420), (0, 0)), mode="reflect")
assert im1080.shape == (1080, 1920, 3)
for name, im in (("500x500", im500), ("1920x1080", im1080)):
    ts = {k: [] for k in DESIGNS}
    for k, f in DESIGNS.items():
        f(im); f(im)
    for _ in range(N):
        for k, f in DESIGNS.items():
            t = time.perf_counter(); f(im); ts[k].append(time.perf_counter() - t)
    for k, v in ts.items():
        print(f"{name}\t{k}\tmedian {1000*np.median(v):.1f} ms\tmin {1000*np.min(v):.1f} ms", flush=True)
