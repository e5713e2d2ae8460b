"""``vqual batch``: score a library of media files on Ray Data (`vqual.batch`), into Parquet or JSONL shards under
``--out`` with a ``summary.json``; rerunning resumes. Needs the ``vqual[batch]`` extra.

Exit codes: 0 every input in the output scored; 1 some inputs in the output failed (each a row with its reason);
2 usage error (bad options, unknown model, unusable calibration, an --out of another model or format); 130 Ctrl-C,
143 SIGTERM (complete shards only are left; rerun to resume).
"""

from __future__ import annotations

import argparse

from vqual.cli.args import add_progress_args, progress_of
from vqual.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, EXIT_USAGE, error, note


def add_batch_parser(sub) -> argparse.ArgumentParser:
    from vqual.cli import COMMANDS

    p = sub.add_parser("batch", help=COMMANDS["batch"], description=COMMANDS["batch"] + ". Inputs: files, folders, "
                       "glob patterns, and manifests (.csv/.tsv with a path column, .jsonl, .txt one path a line).")
    p.add_argument("paths", nargs="+", metavar="INPUT", help="files, folders (recursive), glob patterns, manifests")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder (shards, summary.json)")
    p.add_argument("--model", "-m", default=None, help="registered model name (default: the default model)")
    p.add_argument("--calibration", "-c", default=None, metavar="FILE", help="calibration from `vqual calibrate`")
    p.add_argument("--workers", type=int, default=None,
                   help="actors, each with one loaded model (default: the CPUs of the Ray cluster / --cpus-per-worker)")
    p.add_argument("--cpus-per-worker", type=int, default=1, help="CPUs (and scoring threads) per actor (default 1)")
    p.add_argument("--address", default=None,
                   help="a running Ray cluster, from one of its nodes: auto or HEAD_IP:PORT (default: start one here)")
    p.add_argument("--format", "-f", choices=("parquet", "jsonl"), default="parquet", help="shard format")
    p.add_argument("--timeline", action="store_true", help="include per-second scores for videos")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse images/videos with more pixels per frame")
    p.add_argument("--max-retries", type=int, default=2,
                   help="times an item is retried after its worker died on it, then recorded as failed (default 2)")
    p.add_argument("--no-driver-scoring", dest="driver_scores", action="store_false",
                   help="do not score in the driver while Ray and the actors start (it does by default, without "
                        "--address)")
    p.add_argument("--shard-size", type=int, default=1000, help="most items in one shard (default 1000)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true",
                   help="skip inputs already in --out with the same path, size, mtime and model (the default)")
    g.add_argument("--restart", action="store_true", help="delete this batch's files in --out and start over")
    add_progress_args(p)
    p.set_defaults(func=run_batch_args)
    return p


def run_batch_args(args: argparse.Namespace) -> int:
    from vqual.runtime import missing

    for module in ("ray", "pyarrow"):
        if problem := missing(module, "batch", "vqual batch"):
            return error("batch", problem)
    from vqual.batch.run import BatchOptions, BatchUsageError, run_batch
    from vqual.data.base import DatasetError
    from vqual.errors import OutputError

    opts = BatchOptions(inputs=list(args.paths), out=args.out, model=args.model, calibration=args.calibration,
                        workers=args.workers, cpus_per_worker=args.cpus_per_worker, address=args.address,
                        fmt=args.format, timeline=args.timeline, restart=args.restart, max_pixels=args.max_pixels,
                        max_retries=args.max_retries, shard_size=args.shard_size,
                        driver_scores=args.driver_scores, progress=progress_of(args),
                        command_line=getattr(args, "command_line", ""))
    try:
        summary = run_batch(opts)
    except (BatchUsageError, OutputError, DatasetError) as e:  # DatasetError: an unreadable manifest
        return error("batch", str(e), EXIT_USAGE)
    r, o = summary["run"], summary["output"]
    stop = {"interrupted": ", interrupted", "terminated": ", terminated (SIGTERM)"}.get(summary["status"], "")
    note("batch", f"{r['scored']} scored ({r['failed']} failed), {r['skipped']} already done, {r['recovered']} "
                  f"recovered{stop}; {args.out} holds {o['rows']} rows ({o['failed']} failed) in {o['shards']} shards")
    if summary["status"] != "complete":
        return EXIT_TERMINATED if summary["status"] == "terminated" else EXIT_INTERRUPTED
    return EXIT_FAILED if o["failed"] else EXIT_OK
