"""The issue's "with and without the extra AlexNet features" ablation, on vqual-lite 2.1.0's fine-tuned features.
Frozen AlexNet (torchvision's ImageNet conv weights, from vqual's LPIPS asset), mean and standard deviation per
channel of its five ReLU stages (2,304 numbers), whole picture at native resolution, ImageNet normalisation; a ridge
(alpha by 5-fold CV on the training rows) on lite2 features, on AlexNet's, and on both, trained on 3,000 seeded
BIQ2021 training images outside the validation part, tested on the official test split and on clive-fewlabel
(zero-shot). Needs research/lite2/head_refit.py's `features` output (OUT) for the lite2 test and clive features.
Usage: python research/lite2/alexnet_features.py OUT BIQ_ROOT WORK (WORK: scripts/train_lite2.py's --work)."""
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts")]
import train_lite2 as T2

from vqual.compare.lpips import _net
from vqual.data import load_dataset
from vqual.eval.metrics import evaluate
from vqual.media import load_image

OUT, BIQ, WORK = (Path(a) for a in sys.argv[1:4])
torch.set_num_threads(1)
P = _net()
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def alexnet(rgb):
    x = (torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255.0 - MEAN) / STD
    out = []
    with torch.inference_mode():
        for i, (stride, pad, pool) in enumerate([(4, 2, False), (1, 2, True), (1, 1, True), (1, 1, False), (1, 1, False)]):
            if pool:
                x = F.max_pool2d(x, 3, 2)
            x = F.relu(F.conv2d(x, P[f"conv{i}.weight"], P[f"conv{i}.bias"], stride=stride, padding=pad))
            out += [x.mean((2, 3))[0], x.std((2, 3))[0]]
    return torch.cat(out).numpy()


def cached(tag, paths):
    f = OUT / f"alex-{tag}.npy"
    if not f.exists():
        t0 = time.time()
        np.save(f, np.stack([alexnet(load_image(str(p))) for p in paths]))
        print(f"{tag}: {len(paths)} images, {(time.time() - t0) / len(paths) * 1000:.0f} ms each", flush=True)
    return np.load(f)


clive = load_dataset("clive-fewlabel", ROOT.parent / "shared" / "data" / "clive-fewlabel")
biq = load_dataset("biq2021", BIQ)
train = [it.path for it in biq.items if it.split == "train"]
_, y_train = T2.biq_split(BIQ, "train")
va = T2.val_mask(len(train), 0)
idx = np.sort(np.random.default_rng(3).permutation(np.where(~va)[0])[:3000])
alex = {"cl": cached("clive", [it.path for it in clive.items]),
        "te": cached("biqtest", [it.path for it in biq.items if it.split == "test"]),
        "tr": cached("biqtrain", [train[i] for i in idx])}
lite = {"tr": np.load(WORK / "feat-biq-train.npy")[idx], "te": np.load(OUT / "x-biqtest.npy")[:, :4096],
        "cl": np.load(OUT / "x-clive.npy")[:, :4096]}
y = {"tr": y_train[idx], "te": np.load(OUT / "y-biqtest.npy"), "cl": np.load(OUT / "y-clive.npy")}


def ridge(X, Y, a):
    m, s = X.mean(0), X.std(0) + 1e-8
    Z = (X - m) / s
    w = np.linalg.solve(Z.T @ Z + a * np.eye(Z.shape[1]), Z.T @ (Y - Y.mean()))
    return lambda x: ((x - m) / s) @ w + Y.mean()


def cv_alpha(X, Y, alphas=(1e2, 1e3, 3e3, 1e4, 3e4, 1e5)):
    fold = np.random.default_rng(0).permutation(len(Y)) % 5
    best = None
    for a in alphas:
        p = np.zeros(len(Y))
        for k in range(5):
            p[fold == k] = ridge(X[fold != k], Y[fold != k], a)(X[fold == k])
        r = spearmanr(p, Y)[0]
        best = (a, r) if best is None or r > best[1] else best
    return best[0]


print("| features | ridge alpha (5-fold CV) | BIQ2021 test SRCC / PLCC (l4) | clive-fewlabel SRCC (zero-shot) |\n"
      "| --- | ---: | --- | ---: |")
for name, parts in (("lite2 (fine-tuned)", [lite]), ("AlexNet (frozen ImageNet)", [alex]), ("lite2 + AlexNet", [lite, alex])):
    X = {k: np.hstack([f[k] for f in parts]).astype(np.float64) for k in ("tr", "te", "cl")}
    a = cv_alpha(X["tr"], y["tr"])
    h = ridge(X["tr"], y["tr"], a)
    ev = evaluate(h(X["te"]), y["te"], mapped=(4,), levels=False)
    print(f"| {name} ({X['tr'].shape[1]}-d) | {a:g} | {ev['srcc']:.3f} / {ev['plcc_l4']:.3f} | "
          f"{spearmanr(h(X['cl']), y['cl'])[0]:.3f} |", flush=True)
