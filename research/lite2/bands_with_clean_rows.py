"""Severity bands for vqual-lite@2.0 2.1.1 fitted on an out-of-fold head that, like the shipped one, learnt the clean
BIQ2021 photographs and the large mosaics (research/lite2/README.md, sixth session).

scripts/fit_severity_bands.py refits the attribute head out of fold on the synthetic training crops alone; for 2.1.1,
whose head also learnt 1,500 clean photographs and 48 large mosaics (scripts/train_lite2.py's heads stage), that
refit is not the shipped head: its clean crops measure up to 0.66 (colour) where a head with the extra rows in every
fold measures 0.44, so "none" ends far too high. This runs fit_severity_bands.py unchanged except for the out-of-fold
head, which here has the heads stage's extra rows in every fold. Usage (after the heads stage, whose caches it reads):
  python research/lite2/bands_with_clean_rows.py WORK BIQ_ROOT OUT.json [--cache DIR]
"""
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts")]
import fit_severity_bands as B  # noqa: E402
import train_lite2 as L2  # noqa: E402

work, biq_root, out = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
rest = sys.argv[4:]
_image_measurements = B.image_measurements


def image_measurements(lite, cache):
    from fit_lite import attribute_targets, folds

    from vqual.encoders.features import block_digest
    from vqual.heads.linear import fit_ridge

    meta, shipped, _, names = _image_measurements(lite, cache)
    with np.load(cache / block_digest(lite.encoder.block) / "image_features.npz") as z:
        x = z["x"].astype(np.float64)
    card = lite.config["attributes"]
    args = SimpleNamespace(work=work, clean_negatives=card["clean_negatives"]["n"],
                           large_mosaics=card["large_mosaics"]["n"])
    paths, y = L2.biq_split(biq_root, "train")
    va = L2.val_mask(len(paths), 0)
    x_clean = L2.clean_negatives(args, paths, y, va, np.load(work / "feat-biq-train.npy"))
    x_large, meta_large = L2.large_mosaics(args, paths, y, va)
    x_extra = np.vstack([x_clean] * card["clean_negatives"]["weight"] + [x_large])
    y_extra = np.vstack([np.zeros((len(x_clean) * card["clean_negatives"]["weight"], len(names))),
                         attribute_targets(meta_large, B.IMAGE_SOURCES)])
    target = attribute_targets(meta, B.IMAGE_SOURCES)
    oof = np.zeros_like(target)
    for te in folds([m["content"] for m in meta], 6, seed=0):
        tr = np.setdiff1d(np.arange(len(meta)), te)
        head = fit_ridge(np.vstack([x[tr], x_extra]), np.vstack([target[tr], y_extra]), float(card["alpha"]),
                         tuple(names))
        oof[te] = head(x[te])
    return meta, shipped, np.clip(oof, 0.0, 1.0), names


B.image_measurements = image_measurements
raise SystemExit(B.main(["--lite", "vqual-lite@2.0", "--out", out, *rest]))
