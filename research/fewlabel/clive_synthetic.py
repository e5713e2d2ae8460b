import sys
import time
import numpy as np
sys.path.insert(0, "scripts"); sys.path.insert(0, "benchmarks")
import torch; torch.set_num_threads(2)
import train_lite as T
from vqual.data.synthetic import DISTORTIONS
from vqual.encoders.spatial import SpatialEncoder
from vqual.encoders.measures import measures
from vqual.media import load_image
paths, mos = T.clive_set()
names = [d for srcs in T.ATTRIBUTE_SOURCES.values() for d in srcs]
LEVELS = (2, 4)
enc = SpatialEncoder()
rows, meta = [], []
t0 = time.perf_counter()
for i, p in enumerate(paths):
    rgb = load_image(p)
    for name in names:
        for li in LEVELS:
            level = DISTORTIONS[name][1][li - 1]
            im = T.distort(name, rgb, level, seed=i * 1000 + li)
            rows.append(np.concatenate([enc.encode(im), measures(im)]).astype(np.float32))
            meta.append((i, name, li))
    if i % 20 == 0: print(i, time.perf_counter() - t0, flush=True)
import os; os.makedirs(".cache/research_fewlabel", exist_ok=True)
np.save(".cache/research_fewlabel/clive_syn.npy", np.stack(rows))
import json; json.dump(meta, open(".cache/research_fewlabel/clive_syn_meta.json", "w"))
print("done", time.perf_counter() - t0)
