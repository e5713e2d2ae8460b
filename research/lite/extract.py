"""Extract per-tap mean/std features of every image for the given views; cache to /tmp/vqual-research/feat_<view>.npz.

usage: python research/lite/extract.py VIEW [VIEW...]   (views: full, resize384, frag7x32, tiles4x224, ...)
"""
import sys
import time

import numpy as np
import torch
from common import CACHE, load_images, view_fn

from vqual.encoders.spatial import TAPS, Lite0Backbone, lite0_weights_path, pool_mean_std, to_input

torch.set_num_threads(2)
bb = Lite0Backbone(lite0_weights_path(), tuple(t for t, *_ in TAPS))
imgs = load_images()
for view in sys.argv[1:]:
    out = CACHE / f"feat_{view}.npz"
    if out.exists():
        print(view, "cached"); continue
    f = view_fn(view)
    feats = {t: [] for t, *_ in TAPS}
    ts = []
    with torch.inference_mode():
        for im in imgs:
            t0 = time.perf_counter()
            x = to_input(f(im)).contiguous(memory_format=torch.channels_last)
            maps = bb(x)
            pooled = [pool_mean_std(m) for m in maps]
            ts.append(time.perf_counter() - t0)
            for (t, *_), p in zip(TAPS, pooled):
                feats[t].append(p.numpy())
    np.savez(out, **{t: np.stack(v) for t, v in feats.items()}, ms=np.array(ts) * 1000)
    print(f"{view}: median {1000*np.median(ts):.1f} ms/img (shared CPU, indicative)", flush=True)
