"""Few-label `vqual train` heads on two encoders, same draws: vqual-lite 1.0's (``lite``) and 2.0's (``lite2``).

    python benchmarks/fewlabel_encoders.py [--encoders lite,lite2] [--sizes 50,150] [--draws 10] [--pairs]

Protocol of benchmarks/fewlabel_adapt.py: for draw d = 0..9 a permutation of the 200 clive-fewlabel images seeded
with d; the first 50 are the test images of that draw; the N labelled images are the first N of the other 150. The
head is `vqual.adapt.train.train_head` with `vqual train`'s defaults (linear, ridge-free gradient descent with early
stopping on validation folds of the N labels) and no synthetic pair prior; with `--pairs`, each encoder's shipped
synthetic pair prior (`vqual.adapt.pairs`; `vqual train`'s default for a linear head) as well, reported beside it.
Also: 5-fold CV (seed 0) of the same heads on all 200 labels.
Reported: mean ± std test SRCC per N, the ratio SRCC(50) / SRCC(150), and the 5-fold SRCC.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import command_line, write_report  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data" / "clive-fewlabel"
N_TEST = 50


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoders", default="lite,lite2")
    ap.add_argument("--sizes", default="50,150")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--pairs", action="store_true", help="also each encoder's synthetic pair prior")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import torch
    from scipy import stats

    from vqual.adapt.train import TrainConfig, train_head
    from vqual.data import load_dataset
    from vqual.encoders.features import encoder_config, get_encoder
    from vqual.media import load_image

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    ds = load_dataset("clive-fewlabel", DATA)
    y = np.array([ds.info.to_1_5(it.mos) for it in ds.items])
    sizes = [int(s) for s in args.sizes.split(",")]
    report = {"command": command_line("fewlabel_encoders.py", argv), "date": time.strftime("%Y-%m-%d"),
              "encoders": {}}
    for name in args.encoders.split(","):
        enc = get_encoder(encoder_config(name))
        t0 = time.time()
        x = np.stack([enc(load_image(str(it.path))) for it in ds.items])
        feature_seconds = time.time() - t0
        variants = {name: None}
        if args.pairs:
            from vqual.adapt.pairs import load_pair_prior

            variants[f"{name}+pairs"] = load_pair_prior(name)
        for label, prior in variants.items():
            res = {"feature_seconds": feature_seconds}
            if prior is not None:
                res["pair_prior"] = prior.info()
            for n in sizes:
                vals = []
                for d in range(args.draws):
                    perm = np.random.default_rng(d).permutation(len(y))
                    test, lab = perm[:N_TEST], perm[N_TEST:N_TEST + n]
                    h = train_head(x[lab], y[lab], config=TrainConfig(seed=d), pairs=prior)
                    vals.append(float(stats.spearmanr(h.head(x[test])[:, 0], y[test]).statistic))
                res[f"n{n}"] = {"mean": float(np.mean(vals)), "std": float(np.std(vals, ddof=1)), "draws": vals}
            if 50 in sizes and 150 in sizes:
                res["srcc_50_over_150"] = res["n50"]["mean"] / res["n150"]["mean"]
            fold = np.random.default_rng(0).permutation(len(y)) % 5
            oof = np.zeros_like(y)
            for k in range(5):
                h = train_head(x[fold != k], y[fold != k], config=TrainConfig(seed=k), pairs=prior)
                oof[fold == k] = h.head(x[fold == k])[:, 0]
            res["cv5_srcc_all_200"] = float(stats.spearmanr(oof, y).statistic)
            res["cv5_srcc_per_fold"] = [float(stats.spearmanr(oof[fold == k], y[fold == k]).statistic)
                                        for k in range(5)]
            report["encoders"][label] = res
            print(f"{label}: " + ", ".join(f"N={n} {res[f'n{n}']['mean']:.3f} ± {res[f'n{n}']['std']:.3f}"
                                           for n in sizes)
                  + (f", ratio {res['srcc_50_over_150']:.3f}" if "srcc_50_over_150" in res else "")
                  + f", 5-fold CV on 200 {res['cv5_srcc_all_200']:.3f}", flush=True)
    path = write_report(report, args.json, "fewlabel-encoders.json")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
