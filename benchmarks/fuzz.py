"""A large fuzzed bad-input corpus through `vqual score`, in one batch, one process, with a per-file wall-clock guard.

    python benchmarks/fuzz.py [--random 2000] [--seed 0] [--limit 10] [--csv] [--keep DIR]
                              [--json benchmarks/results/fuzz.json]

The corpus (tests/fuzzcorpus.py; seeded, made on the fly, nothing downloaded): 17 valid files (JPEG, PNG, WebP, GIF,
TIFF, BMP; H.264 / MPEG-4 / VP9 in MP4, MOV, MKV, AVI, MPEG-TS and WebM, one with video, audio and subtitles; 64x48),
every structured case (absurd header dimensions, 1 MB of metadata, zero / negative / NaN durations, streams of one
kind alone, swapped extensions, concatenations) and `--random` random mutations of the seeds (truncations, bytes
overwritten in the header or the payload, zeroed, deleted and inserted ranges). All of it goes to one
``vqual score ... --format json --timeline --out FILE`` (and, with `--csv`, a second batch in CSV); the run fails
if any input is not answered within `--limit` seconds (the one-off model load aside), if anything crashes or prints
a traceback, if the output is not complete and valid, if a failure has no known reason, if a score is out of range
or not finite, or if a valid file is not scored.

Reported: files tried, scored, failed by reason, outcomes per mutation family, the slowest files, the batch time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from fuzzcorpus import check_run, make_corpus, run_batch, summary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--random", type=int, default=2000, help="random mutations (default 2000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the corpus (default 0)")
    ap.add_argument("--limit", type=float, default=10.0, help="seconds each input must be answered in (default 10)")
    ap.add_argument("--meta-bytes", type=int, default=1 << 20, help="size of the huge metadata (default 1 MB)")
    ap.add_argument("--csv", action="store_true", help="also run the whole corpus as a CSV batch")
    ap.add_argument("--keep", metavar="DIR", help="write the corpus and outputs here and keep them")
    ap.add_argument("--json", metavar="FILE", help="write the figures to this file")
    args = ap.parse_args()

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vqual-fuzz-"))
    try:
        t0 = time.monotonic()
        cases = make_corpus(folder, n_random=args.random, seed=args.seed, meta_bytes=args.meta_bytes)
        made = time.monotonic() - t0
        n_mut = sum(c.mutation != "valid" for c in cases)
        print(f"corpus: {len(cases)} files ({n_mut} mutations) in {made:.1f} s under {folder}", file=sys.stderr)
        doc: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                     "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
                     "command": "python benchmarks/fuzz.py " + " ".join(sys.argv[1:]), "seed": args.seed,
                     "per_file_limit_s": args.limit, "mutations": n_mut, "batches": {}}
        ok = True
        for fmt in ("json", "csv") if args.csv else ("json",):
            run = run_batch([c.path for c in cases], folder / f"out.{fmt}", fmt=fmt, per_file_limit=args.limit)
            problems = check_run(run, cases)
            s = summary(run, cases)
            s["problems"] = problems
            doc["batches"][fmt] = s
            ok = ok and not problems
            print(f"\n{fmt}: {s['files']} files, {s['scored']} scored, {s['failed']} failed, exit code "
                  f"{s['exit_code']}, batch {s['batch_seconds']} s (model load {s['model_load_seconds']} s), median "
                  f"{s['median_file_seconds']} s per file")
            print("  failed by reason: " + ", ".join(f"{k} {v}" for k, v in s["failed_by_reason"].items()))
            print("  slowest: " + ", ".join(f"{Path(x['path']).name} {x['seconds']:.2f} s" for x in s["slowest"][:3]))
            for fam, counts in sorted(s["by_mutation"].items()):
                print(f"  {fam:<24} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
            for p in problems[:20]:
                print(f"  PROBLEM: {p}")
            if len(problems) > 20:
                print(f"  ... {len(problems) - 20} more problems")
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
            print(f"wrote {args.json}", file=sys.stderr)
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
