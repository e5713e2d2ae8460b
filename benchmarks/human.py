"""Agreement of a model's own score with human scores on whole image sets it never trained on (no fitting).

    python benchmarks/human.py [--model NAME] [--biq-root DIR] [--clive DIR] [--json FILE]

Sets: BIQ2021's official test split (2,000 photographs; `--biq-root`, the folder with Images/ and the two CSVs;
left out when not given) and clive-fewlabel (200 LIVE In the Wild images, ../shared/data/clive-fewlabel). Every
image goes through the real scoring path (`model.score(path)`); MOS is mapped to 1-5 by each set's declared range.
Reported per set: SRCC, KRCC, PLCC on the raw score and PLCC after the 4-parameter logistic fitted on that same set
(the usual VQEG practice; SRCC and KRCC do not depend on it), with a 95% bootstrap interval of the SRCC (1,000
resamples, seed 0). A set the model was trained or calibrated on (`model.trained_on`) is refused unless only its
test split is used, as for BIQ2021.
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
from common import command_line, report_header, write_report  # noqa: E402

DEFAULT_CLIVE = HERE.parent.parent / "shared" / "data" / "clive-fewlabel"


def bootstrap_srcc(pred: np.ndarray, mos: np.ndarray, n: int = 1000, seed: int = 0) -> tuple[float, float]:
    from scipy import stats

    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(pred), len(pred))
        vals.append(stats.spearmanr(pred[i], mos[i]).statistic)
    return float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5))


def run_set(model, name: str, items: list, to_1_5) -> dict:
    from vqual.eval.metrics import evaluate

    preds, mos, failed = [], [], []
    t0 = time.time()
    for k, it in enumerate(items):
        try:
            r = model.score(str(it.path))
        except Exception as e:  # noqa: BLE001  (a benchmark reports every failure and goes on)
            failed.append(f"{it.name}: {e}")
            continue
        preds.append(r.score)
        mos.append(to_1_5(it.mos))
        if (k + 1) % 200 == 0:
            print(f"{name}: {k + 1}/{len(items)} ({(time.time() - t0) / (k + 1) * 1000:.0f} ms/image)",
                  file=sys.stderr, flush=True)
    p, m = np.array(preds), np.array(mos)
    ev = evaluate(p, m, mapped=(4,), levels=False)
    lo, hi = bootstrap_srcc(p, m)
    return {"set": name, "n": int(len(p)), "failed": failed, "srcc": ev["srcc"], "krcc": ev["krcc"],
            "plcc": ev["plcc"], "plcc_l4": ev["plcc_l4"], "srcc_ci95": [lo, hi], "rmse": ev["rmse"],
            "seconds": time.time() - t0, "predictions": [float(v) for v in p], "mos_1_5": [float(v) for v in m]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="registered model (default: the default model)")
    ap.add_argument("--biq-root", default=None, help="BIQ2021 folder; its official test split is scored")
    ap.add_argument("--clive", default=str(DEFAULT_CLIVE), help="clive-fewlabel folder ('' to skip)")
    ap.add_argument("--json", default=None, help="output (default benchmarks/results/human-<model>.json)")
    args = ap.parse_args(argv)

    import torch

    import vqual
    from vqual.data import load_dataset

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    model = vqual.load_model(args.model)
    report = {**report_header(model, command_line("human.py", argv)), "sets": []}
    if args.biq_root:
        ds = load_dataset("biq2021", args.biq_root)
        test = [it for it in ds.items if it.split == "test"]
        report["sets"].append(run_set(model, "biq2021-test", test, ds.info.to_1_5))
    if args.clive:
        if "clive-fewlabel" in model.trained_on:
            print("clive-fewlabel trained this model: its figure would not be a test; skipped", file=sys.stderr)
        else:
            ds = load_dataset("clive-fewlabel", args.clive)
            report["sets"].append(run_set(model, "clive-fewlabel", ds.items, ds.info.to_1_5))
    path = write_report(report, args.json, f"human-{model.name}-{model.version}.json")
    for s in report["sets"]:
        print(f"| {s['set']} | {model.name} {model.version} | {s['n']} | {s['srcc']:.3f} "
              f"[{s['srcc_ci95'][0]:.3f}, {s['srcc_ci95'][1]:.3f}] | {s['plcc_l4']:.3f} | {s['krcc']:.3f} |")
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
