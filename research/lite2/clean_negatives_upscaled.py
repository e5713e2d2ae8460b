"""Clean-negatives study, step 3: the blur severity of 4x bicubic upscaled large mosaics (tests/models/test_lite2.py's
pictures) under attribute heads with and without clean BIQ2021 examples. Usage: python
research/lite2/clean_negatives_upscaled.py WORK BIQ_ROOT (after scripts/train_lite2.py --stage heads
--clean-negatives 1500, which caches the photographs' measures in WORK)."""
import sys
import numpy as np
from pathlib import Path
from PIL import Image
ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts")]
import train_lite2 as L2
from train_lite import ATTRIBUTE_SOURCES
from fit_lite import attribute_targets
from vqual.heads.linear import fit_ridge
from vqual.registry import create_model
m = create_model("vqual-lite@2.0")
W = Path(sys.argv[1])
X = {}
for folder in ("kodak24", "mcmaster"):
    paths = sorted(Path(ROOT.parent, "shared", "data", "pristine", folder).glob("*.png"))
    tiles = [np.asarray(Image.open(p).convert("RGB"))[:500, :500] for p in paths]
    rows = [np.hstack(tiles[i:i + 6]) for i in range(0, len(tiles) - 5, 6)]
    sharp = np.ascontiguousarray(np.vstack(rows)); h, w = sharp.shape[:2]
    up = np.asarray(Image.fromarray(sharp).resize((w // 4, h // 4), Image.BICUBIC).resize((w, h), Image.BICUBIC))
    X[folder] = (m.features(sharp), m.features(up))
meta, _ = L2.synthetic_items()
xs = np.hstack([np.load(W / "feat-syn.npy"), np.load(W / "syn-measures.npy")]); ys = attribute_targets(meta, ATTRIBUTE_SOURCES)
paths, y = L2.biq_split(Path(sys.argv[2]), "train"); va = L2.val_mask(len(paths), 0)
order = [i for i in np.argsort(-y, kind="stable") if not va[i]][:1500]
xc = np.hstack([np.load(W / "feat-biq-train.npy")[order], np.load(W / "biq-clean-measures-1500.npy")])
names = list(ATTRIBUTE_SOURCES); j = names.index("blur")
for label, XX, YY, a in [("syn a1e3", xs, ys, 1e3), ("syn a1e4", xs, ys, 1e4),
                         ("neg300x1 a1e3", np.vstack([xs, xc[:300]]), np.vstack([ys, np.zeros((300, 7))]), 1e3),
                         ("neg1500x1 a1e3", np.vstack([xs, xc]), np.vstack([ys, np.zeros((1500, 7))]), 1e3),
                         ("neg1500x3 a1e3", np.vstack([xs] + [xc]*3), np.vstack([ys] + [np.zeros((1500, 7))]*3), 1e3)]:
    h = fit_ridge(XX, YY, a, tuple(names))
    print(label, {f: tuple(round(float(np.clip(h(v[None])[0, j], 0, 1)), 3) for v in X[f]) for f in X}, flush=True)
for label, XX, YY, a in [("neg1500x3 a1e4", np.vstack([xs] + [xc]*3), np.vstack([ys] + [np.zeros((1500, 7))]*3), 1e4),
                         ("neg300x1 a1e4", np.vstack([xs, xc[:300]]), np.vstack([ys, np.zeros((300, 7))]), 1e4),
                         ("neg1500x1 a1e4", np.vstack([xs, xc]), np.vstack([ys, np.zeros((1500, 7))]), 1e4)]:
    h = fit_ridge(XX, YY, a, tuple(names))
    print(label, {f: tuple(round(float(np.clip(h(v[None])[0, j], 0, 1)), 3) for v in X[f]) for f in X}, flush=True)
