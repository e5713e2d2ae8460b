"""Accuracy of a model on the clive-fewlabel development set: 5-fold cross-validation and the few-label curve.

    python benchmarks/accuracy.py [--model NAME] [--data ../shared/data/clive-fewlabel] [--json FILE]

The same run as ``vqual eval --dataset clive-fewlabel --root DATA --protocol kfold --protocol fewlabel
--sizes 25,50,100,150`` (both calibrations: the model's own score, and a 4-parameter logistic fitted on the
training part of each fold). Writes the full report (every per-item prediction) as JSON under
benchmarks/results/ and prints a markdown snippet for BENCHMARKS.md.

clive-fewlabel is 200 CLIVE images: these are development figures on a small subset, not benchmark results, and
are not comparable with published numbers on the full CLIVE set. The N = 200 point of the usual few-label curve
is left out because 200 labelled items would leave nothing to test on; N = 150 leaves 50.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "clive-fewlabel"


def _fmt(ms: dict | None) -> str:
    if not ms or ms.get("mean") is None:
        return "-"
    return f"{ms['mean']:.3f} ± {ms['std']:.3f}" if ms.get("n", 1) > 1 else f"{ms['mean']:.3f}"


def markdown(rep: dict, command: str) -> str:
    m, d = rep["model"], rep["dataset"]
    lines = [
        f"### Accuracy on clive-fewlabel (development figures): `{m['name']}` {m['version']}",
        "",
        *([f"**{rep['warning']}.**", ""] if rep.get("warning") else []),
        (f"{d['n_scored']} of {d['n_items']} CLIVE images scored ({d['n_failed']} failed). Development figures on "
         "a 200-image subset of CLIVE, for tracking changes; not a benchmark result and not comparable with "
         "published full-CLIVE numbers. MOS mapped from 0-100 to 1-5; RMSE on 1-5. *model*: the model's own "
         "score; *fitted*: 4-parameter logistic fitted on the training part of each fold only. Mean ± sample std "
         f"over the {rep['benchmark']['folds']} content-grouped folds (seed {rep['benchmark']['seed']}) or the "
         f"{rep['benchmark']['repeats']} few-label draws."),
        "",
        f"Command: `{command}`",
        "",
        "| protocol | calibration | SRCC | PLCC | PLCC (VQEG logistic) | RMSE | 3-level acc. |",
        "|---|---|---|---|---|---|---|",
    ]
    for res in rep["results"]:
        if res["protocol"] == "kfold":
            s = res["summary"]
            lines.append(f"| 5-fold CV | {res['calibration']} | {_fmt(s['srcc'])} | {_fmt(s['plcc'])} | "
                         f"{_fmt(s['plcc_l4'])} | {_fmt(s['rmse'])} | {_fmt(s['acc3'])} |")
    for res in rep["results"]:
        if res["protocol"] == "fewlabel":
            for pt in res["curve"]:
                s = pt["metrics"]
                lines.append(f"| few-label N={pt['n_labels']} | {res['calibration']} | {_fmt(s['srcc'])} | "
                             f"{_fmt(s['plcc'])} | {_fmt(s['plcc_l4'])} | {_fmt(s['rmse'])} | {_fmt(s['acc3'])} |")
    lines += ["", (f"vqual {rep['vqual_version']}, {rep['created']}, Python {platform.python_version()}, "
                   f"{rep['elapsed_s']:.0f} s including scoring.")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="registered model (default: the default model)")
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="clive-fewlabel folder (labels.csv + images/)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sizes", default="25,50,100,150", help="few-label sizes (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--json", default=None, help="output (default benchmarks/results/accuracy-<model>.json)")
    ap.add_argument("--no-cache", action="store_true", help="score every image again")
    args = ap.parse_args(argv)

    from vqual.data import DatasetError, load_dataset
    from vqual.eval import report as rpt
    from vqual.eval.cache import PredictionCache
    from vqual.eval.protocols import EvalSet, run_fewlabel, run_kfold
    from vqual.eval.runner import load_model, score_dataset

    t0 = time.monotonic()
    data_arg = Path(args.data)
    try:
        ds = load_dataset("clive-fewlabel", data_arg)
    except DatasetError as e:
        print(f"accuracy.py: {e}", file=sys.stderr)
        return 2
    model = load_model(args.model)
    cache = None if args.no_cache else PredictionCache()
    try:
        records = score_dataset(model, ds, cache=cache)
    finally:
        if cache is not None:
            cache.close()
    data = EvalSet.from_records(records)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    for cal in ("model", "fitted"):
        results.append(run_kfold(data, cal, k=args.folds, seed=args.seed))
    for cal in ("model", "fitted"):
        results.append(run_fewlabel(data, cal, sizes=sizes, repeats=args.repeats, seed=args.seed))

    shown = os.path.relpath(data_arg.resolve(), REPO.resolve())  # relative to the repository, not this machine
    command = "python benchmarks/accuracy.py"
    if args.model:
        command += f" --model {args.model}"
    if data_arg.resolve() != DEFAULT_DATA.resolve():
        command += f" --data {shown}"
    rep = rpt.build_report(model=model, dataset=ds, records=records, results=results, command=command,
                           elapsed_s=round(time.monotonic() - t0, 1))
    rep["dataset"]["root"] = shown
    rep["benchmark"] = {"script": "benchmarks/accuracy.py", "folds": args.folds, "seed": args.seed, "sizes": sizes,
                        "repeats": args.repeats, "python": platform.python_version(),
                        "note": "development figures on a 200-image CLIVE subset, not a benchmark result"}
    out = Path(args.json) if args.json else HERE / "results" / f"accuracy-{model.name}.json"
    rpt.write_json(rep, out)
    print(rpt.summary_text(rep), file=sys.stderr)
    print(f"\nwrote {out}\n", file=sys.stderr)
    print(markdown(rep, command))
    failed = rep["dataset"]["n_failed"] + rep["dataset"]["n_skipped"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
