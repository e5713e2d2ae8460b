"""``vqual instruct``: write instruction-tuning Q&A (JSONL) from a labelled dataset or manifest."""

from __future__ import annotations

import argparse
import json

from vqual.cli.args import UsageError, add_dataset_args, add_progress_args, load_dataset_args, progress_of
from vqual.cli.exits import EXIT_FAILED, EXIT_OK, error, note

EPILOG = """examples:
  vqual instruct --dataset clive-fewlabel --root ../shared/data/clive-fewlabel --out clive.jsonl
  vqual instruct --manifest my_labels.csv --tasks score,coarse,explain --seed 3 --out mine.jsonl
"""


def add_instruct_parser(sub) -> argparse.ArgumentParser:
    from vqual.cli import COMMANDS

    p = sub.add_parser(
        "instruct", help=COMMANDS["instruct"],
        description="Generate Q&A pairs for the language path from a labelled set: a system prompt, varied "
                    "instructions (22 score templates, 8 explanation templates, image and video wording) and a "
                    "response restriction; tasks: the five-level score, good/fair/poor by tertiles, and optionally "
                    "an explanation composed from the attributes vqual-lite measures. Reproducible by --seed.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataset_args(p.add_argument_group("data"), columns="path, mos")
    p.add_argument("--tasks", default="score,coarse", help="comma-separated: score, coarse, explain "
                                                          "(default score,coarse)")
    p.add_argument("--seed", type=int, default=0, help="seed of the template choice (default 0)")
    p.add_argument("--out", "-o", required=True, metavar="FILE", help="JSONL file to write (atomically)")
    add_progress_args(p)
    p.set_defaults(func=run_instruct)
    return p


def run_instruct(args: argparse.Namespace) -> int:
    from vqual.data import DatasetError
    from vqual.errors import OutputError
    from vqual.lmm.instruct import TASKS, make_instructions
    from vqual.output import AtomicOutput, check_output_path

    cmd = "instruct"
    try:
        check_output_path(args.out)  # refused now rather than after measuring every item
    except OutputError as e:
        return error(cmd, str(e))
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        return error(cmd, f"--tasks: unknown task(s) {', '.join(bad) or '(none given)'} (choose from "
                          f"{', '.join(TASKS)})")
    try:
        ds = load_dataset_args(args)
    except (DatasetError, UsageError) as e:
        return error(cmd, str(e))
    if not len(ds):
        return error(cmd, f"{ds.info.name}: no usable labelled items")
    for s in ds.skipped:
        note(cmd, f"skipped {s.name}: {s.reason} {s.detail}".rstrip())
    attributes = None
    failed: list[str] = []
    if "explain" in tasks:
        attributes, failed = _measured_attributes(ds, progress=progress_of(args))
        if failed:
            keep = [it for it in ds.items if str(it.path) not in set(failed)]
            ds = type(ds)(info=ds.info, root=ds.root, items=keep, skipped=ds.skipped, notes=ds.notes)
    sink = AtomicOutput(args.out)
    n = 0
    for rec in make_instructions(ds, seed=args.seed, tasks=tasks, attributes=attributes):
        sink.stream.write(json.dumps(rec, allow_nan=False) + "\n")
        n += 1
    sink.commit()
    note(cmd, f"wrote {n} Q&A records for {len(ds)} items to {args.out}"
              + (f"; {len(failed)} unreadable file(s) left out" if failed else ""))
    return EXIT_FAILED if failed else EXIT_OK


def _measured_attributes(ds, progress: bool | str | None):
    """vqual-lite's attributes of every item (the explanation task's grounding); unreadable files are reported."""
    from vqual.api import load_model, score_one
    from vqual.progress import Progress
    from vqual.result import Failure

    model = load_model("vqual-lite")
    found: dict[str, dict[str, float]] = {}
    failed: list[str] = []
    bar = Progress(len(ds), enabled=progress)
    for it in ds:
        r = score_one(model, str(it.path))
        bar.update(failed=isinstance(r, Failure))
        if isinstance(r, Failure):
            bar.message(f"vqual instruct: error: {r.message}")
            failed.append(str(it.path))
        else:
            found[str(it.path)] = r.attributes
    bar.close()
    return found.__getitem__, failed
