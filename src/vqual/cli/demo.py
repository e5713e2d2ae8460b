"""``vqual demo``: generate the sample media, score it and write a report."""

from __future__ import annotations

import argparse

from vqual.cli.exits import note
from vqual.cli.score import run_score


def add_demo_parser(sub) -> argparse.ArgumentParser:
    from vqual.cli import COMMANDS

    p = sub.add_parser("demo", help=COMMANDS["demo"])
    p.add_argument("--dir", default="samples", help="where to write the sample media (default: ./samples)")
    p.add_argument("--out", default="vqual-report.json", help="report file (default: vqual-report.json)")
    p.add_argument("--model", "-m", default=None, help="registered model name (default: the default model)")
    p.add_argument("--calibration", "-c", default=None, metavar="FILE", help="calibration from `vqual calibrate`")
    p.set_defaults(func=lambda args: run_demo(args.dir, args.out, args.model, args.calibration))
    return p


def run_demo(directory: str, out: str, model_name: str | None, calibration: str | None = None) -> int:
    from vqual.samples import make_samples

    paths = make_samples(directory)
    note(None, f"generated {len(paths)} sample files in {directory}/")
    return run_score([directory], model_name, "table", None, timeline=True, progress=False, calibration=calibration,
                     report=out)
