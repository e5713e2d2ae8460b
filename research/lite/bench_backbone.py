"""Time the folded backbone variants (interleaved, median of many runs, 2 threads) at the given input sizes."""
import sys
import time

import numpy as np
import torch
from common import ROOT  # noqa: F401  (sets sys.path)

from vqual.encoders.spatial import TAPS, Lite0Backbone, lite0_weights_path

torch.set_num_threads(2)
taps = tuple(t for t, *_ in TAPS)
bb = Lite0Backbone(lite0_weights_path(), taps)
sizes = [tuple(map(int, s.split("x"))) for s in (sys.argv[1:] or ["500x500"])]
for h, w in sizes:
    x = torch.randn(1, 3, h, w)
    xc = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        tr = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(bb, xc).eval()))
        variants = {"nchw": lambda: bb(x), "cl": lambda: bb(xc), "jit-cl": lambda: tr(xc), "jit-nchw": lambda: tr(x)}
        for f in variants.values():
            for _ in range(3):
                f()
        ts = {k: [] for k in variants}
        for _ in range(15):
            for k, f in variants.items():
                t = time.perf_counter(); f(); ts[k].append(time.perf_counter() - t)
    print(f"{h}x{w}: " + "  ".join(f"{k} {1000*np.median(v):.1f}/{1000*np.min(v):.1f}" for k, v in ts.items()), flush=True)
