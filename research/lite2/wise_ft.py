"""Weight-space ensembles of the fine-tuned and the ImageNet encoder (WiSE-FT, Wortsman et al. 2022): does a model
between the two transfer better to LIVE In the Wild than either end? theta(a) = (1 - a) theta_0 + a theta_1 for the
trained blocks 8-15, the head conv and the score head, where theta_0 = the ImageNet weights with the recipe's
frozen-feature ridge head (the training run's starting point, rebuilt exactly as scripts/train_lite2.py builds it)
and theta_1 = a training checkpoint. The standardiser (mu, sd) is the same at both ends. Figures from the recipe's
validation path (training-time fp32 model, whole cached pictures): the 1,000 held-back BIQ2021 training images
("val"), clive-fewlabel zero-shot and the share of the recipe's synthetic ranking pairs in order. BIQ2021's official
test split is left out on purpose: it is measured once, on the model chosen.
Usage: python research/lite2/wise_ft.py BIQ_ROOT WORK OUT.json CKPT [CKPT ...]"""
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts")]

ALPHAS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def main(biq_root: Path, work: Path, out: Path, ckpts: list[Path]) -> None:
    import argparse

    import train_lite2 as T2

    torch.set_num_threads(1)
    paths, y = T2.biq_split(biq_root, "train")
    low, maps = T2.load_cache(work, "biq-train", len(paths))
    va_m = T2.val_mask(len(paths), 0)
    tr, va = np.flatnonzero(~va_m), np.flatnonzero(va_m)
    cpaths, cy = T2.clive_items()
    clow, cmaps = T2.load_cache(work, "clive", len(cpaths))
    meta, _ = T2.synthetic_items()
    slow, smaps = T2.load_cache(work, "syn", len(meta))
    pairs = np.array(T2.syn_pairs(meta))

    base = T2.Upper()
    T2.init_head(base, low, maps, y, tr, va, argparse.Namespace(work=work))
    theta0 = {k: v.clone() for k, v in base.state_dict().items()}
    results = json.loads(out.read_text()) if out.exists() else []
    done = {(r["ckpt"], r["alpha"]) for r in results}
    for ck in ckpts:
        theta1 = torch.load(ck, weights_only=False)["model"]
        for k in ("mu", "sd"):
            assert torch.equal(theta0[k], theta1[k]), f"{ck}: standardiser {k} differs from the start's"
        for a in ALPHAS:
            if (str(ck), a) in done:
                continue
            t0 = time.time()
            base.load_state_dict({k: (1 - a) * theta0[k] + a * theta1[k] for k in theta0})
            base.eval()
            pv = T2.predict(base, low[va], [maps[i] for i in va])
            pc = T2.predict(base, clow, cmaps)
            ps = T2.predict(base, slow, smaps)
            rec = {"ckpt": str(ck), "alpha": a, "val_srcc": T2.srcc(pv, y[va]),
                   "val_rmse": float(np.sqrt(np.mean((pv - y[va]) ** 2))), "clive_srcc": T2.srcc(pc, cy),
                   "syn_pairs_in_order": float(np.mean(ps[pairs[:, 0]] > ps[pairs[:, 1]])),
                   "seconds": round(time.time() - t0, 1)}
            print(json.dumps(rec), flush=True)
            results.append(rec)
            out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), [Path(p) for p in sys.argv[4:]])
