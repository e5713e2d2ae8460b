"""Few-label curve of the vqual-lite recipe: how well the score head does when trained on only N human scores.

    python benchmarks/fewlabel_lite.py [--sizes 25,50,100,150] [--draws 10]

For each N, 10 seeded draws of N labelled images from ../shared/data/clive-fewlabel; the score head is fitted on
those N (jointly with the synthetic ranking pairs, exactly as scripts/fit_lite.py does, frozen encoders) and tested
on the other 200 - N images. The head's ridge strength and pair weight are the shipped ones (lite.json), which
were chosen by CV on all 200 images: a mild optimism, stated with the figures. Also reported: the same heads
without the synthetic pairs (mu = 0), i.e. what the synthetic stage buys when labels are few. Features come from
the training script's cache (computed on first use, ~15 min).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="25,50,100,150")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--json", default=str(HERE / "results" / "fewlabel-vqual-lite.json"))
    args = ap.parse_args(argv)
    import fit_lite as F
    import train_lite as T

    from vqual.eval.metrics import evaluate
    from vqual.weights import asset_path

    t0 = time.perf_counter()
    cfg = json.loads(asset_path("lite/lite.json").read_text())
    alpha, mu = cfg["score"]["alpha"], cfg["score"]["mu"]
    feats = T.extract_all()
    xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
    xc = np.hstack([feats["clive_spatial"], feats["clive_measures"]]).astype(np.float64)
    y = 1.0 + 4.0 * feats["mos"] / 100.0
    pairs = F.ranking_pairs(feats["meta"])
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        for variant, m in (("joint", mu), ("labels only", 0.0)):
            per = []
            for seed in range(args.draws):
                rng = np.random.default_rng(seed)
                tr = np.sort(rng.permutation(len(y))[:n])
                te = np.setdiff1d(np.arange(len(y)), tr)
                pred = F.fit_joint(xc[tr], y[tr], xs, pairs, alpha * n / len(y), m)(xc[te])[:, 0]
                per.append(evaluate(pred, y[te]))
            row = {"n_labels": n, "variant": variant, "mu": m,
                   **{k: {"mean": float(np.mean([p[k] for p in per])), "std": float(np.std([p[k] for p in per],
                                                                                        ddof=1))}
                      for k in ("srcc", "plcc_l4", "krcc")}}
            rows.append(row)
            print(f"N={n:<4} {variant:<12} SRCC {row['srcc']['mean']:.3f} ± {row['srcc']['std']:.3f}  "
                  f"PLCC {row['plcc_l4']['mean']:.3f} ± {row['plcc_l4']['std']:.3f}", file=sys.stderr, flush=True)
    report = {"model": "vqual-lite", "version": cfg["version"], "alpha_at_200": alpha, "mu": mu,
              "alpha_scaling": "alpha * N / 200 (the same penalty per label)", "draws": args.draws,
              "date": datetime.now(UTC).strftime("%Y-%m-%d"), "rows": rows,
              "elapsed_s": time.perf_counter() - t0}
    Path(args.json).parent.mkdir(exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print("| N labels | head | SRCC | PLCC (VQEG logistic) | KRCC |\n| ---: | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['n_labels']} | {r['variant']} | {r['srcc']['mean']:.3f} ± {r['srcc']['std']:.3f} | "
              f"{r['plcc_l4']['mean']:.3f} ± {r['plcc_l4']['std']:.3f} | {r['krcc']['mean']:.3f} ± "
              f"{r['krcc']['std']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
