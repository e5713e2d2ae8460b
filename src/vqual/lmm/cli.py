"""``vqual instruct``: write instruction-tuning Q&A (JSONL) from a labelled dataset or manifest."""

from __future__ import annotations

import argparse
import json
import sys

EPILOG = """examples:
  vqual instruct --dataset clive-fewlabel --root ../shared/data/clive-fewlabel --out clive.jsonl
  vqual instruct --manifest my_labels.csv --tasks score,coarse,explain --seed 3 --out mine.jsonl
"""


def add_instruct_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "instruct", help="write instruction-tuning Q&A (JSONL) from a labelled dataset",
        description="Generate Q&A pairs for the language path from a labelled set: a system prompt, varied "
                    "instructions (22 score templates, 8 explanation templates, image and video wording) and a "
                    "response restriction; tasks: the five-level score, good/fair/poor by tertiles, and optionally "
                    "an explanation composed from the attributes vqual-lite measures. Reproducible by --seed.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("data")
    g.add_argument("--dataset", metavar="NAME", help="built-in dataset (see `vqual eval --list-datasets`)")
    g.add_argument("--root", metavar="DIR", help="folder you downloaded the dataset to")
    g.add_argument("--manifest", metavar="FILE", help="your own CSV/TSV/JSONL manifest (path, mos)")
    g.add_argument("--mos-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="manifest: label scale (default: inferred)")
    g.add_argument("--lower-better", action="store_true", help="manifest: labels are DMOS-like (lower is better)")
    p.add_argument("--tasks", default="score,coarse", help="comma-separated: score, coarse, explain "
                                                          "(default score,coarse)")
    p.add_argument("--seed", type=int, default=0, help="seed of the template choice (default 0)")
    p.add_argument("--out", "-o", required=True, metavar="FILE", help="JSONL file to write (atomically)")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    return p


def run_instruct(args: argparse.Namespace) -> int:
    from vqual.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from vqual.data import DatasetError
    from vqual.eval.cli import UsageError, _load  # the one dataset-or-manifest loader of the CLI
    from vqual.lmm.instruct import TASKS, make_instructions
    from vqual.output import AtomicOutput

    def err(msg: str, code: int = EXIT_USAGE) -> int:
        print(f"vqual instruct: error: {msg}", file=sys.stderr)
        return code

    from vqual.errors import OutputError
    from vqual.output import check_output_path

    try:
        check_output_path(args.out)  # refused now rather than after measuring every item
    except OutputError as e:
        return err(str(e))
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    bad = [t for t in tasks if t not in TASKS]
    if bad or not tasks:
        return err(f"--tasks: unknown task(s) {', '.join(bad) or '(none given)'} (choose from {', '.join(TASKS)})")
    try:
        ds = _load(args.dataset, args.root, args.manifest, args, "", {})
    except (DatasetError, UsageError) as e:
        return err(str(e))
    if not len(ds):
        return err(f"{ds.info.name}: no usable labelled items")
    for s in ds.skipped:
        print(f"vqual instruct: skipped {s.name}: {s.reason} {s.detail}".rstrip(), file=sys.stderr)
    attributes = None
    failed: list[str] = []
    if "explain" in tasks:
        attributes, failed = _measured_attributes(ds, progress=not args.no_progress)
        if failed:
            keep = [it for it in ds.items if str(it.path) not in set(failed)]
            ds = type(ds)(info=ds.info, root=ds.root, items=keep, skipped=ds.skipped, notes=ds.notes)
    sink = AtomicOutput(args.out)
    n = 0
    for rec in make_instructions(ds, seed=args.seed, tasks=tasks, attributes=attributes):
        sink.stream.write(json.dumps(rec, allow_nan=False) + "\n")
        n += 1
    sink.commit()
    print(f"vqual instruct: wrote {n} Q&A records for {len(ds)} items to {args.out}"
          + (f"; {len(failed)} unreadable file(s) left out" if failed else ""), file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _measured_attributes(ds, progress: bool):
    """vqual-lite's attributes of every item (the explanation task's grounding); unreadable files are reported."""
    from vqual.api import load_model, score_one
    from vqual.progress import Progress
    from vqual.result import Failure

    model = load_model("vqual-lite")
    found: dict[str, dict[str, float]] = {}
    failed: list[str] = []
    bar = Progress(len(ds), enabled=None if progress else False)
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
