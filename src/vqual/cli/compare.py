"""``vqual compare REF DIST [DIST...]``: full-reference metrics beside the no-reference score (a thin layer over
`vqual.compare.iter_compare`). Exit codes: 0 every input compared, 1 some failed (one line each), 2 usage error or a
reference that cannot be read (nothing compared), 130 Ctrl-C."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import IO, Any

from vqual.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, error, note

FORMATS = ("table", "json", "csv")

_EPILOG = """\
examples:
  vqual compare source.png encoded.jpg
  vqual compare source.mp4 crf23.mp4 crf35.mp4 --timeline --out ladder.json
  vqual compare source.mp4 720p.mp4 --scale dist --metrics psnr,ssim --format csv

Sizes must match unless --scale names the input to resize (bicubic); videos must have the same frame rate and
number of frames (compared one to one). PSNR of identical inputs is infinite: 'inf' in the table, null with
"infinite": true in JSON.
"""


def add_compare_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``compare`` sub-command to an argparse sub-parsers object; returns its parser."""
    from vqual.cli import COMMANDS
    from vqual.compare.core import SCALES
    from vqual.compare.metrics import DEFAULT_METRICS, METRICS

    p = sub.add_parser("compare", help=COMMANDS["compare"], epilog=_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Compare distorted images or videos with their reference: full-reference metrics "
                                   "(pooled, and per second for videos) with the default model's no-reference score "
                                   "of both inputs beside them.")
    p.add_argument("reference", metavar="REF", help="the reference (source) image or video")
    p.add_argument("distorted", nargs="+", metavar="DIST", help="distorted (encoded, processed) versions of it")
    p.add_argument("--metrics", default=",".join(DEFAULT_METRICS),
                   help=f"comma-separated, from {', '.join(METRICS)} (default: {','.join(DEFAULT_METRICS)})")
    p.add_argument("--timeline", action="store_true",
                   help="videos: per-second rows (table, csv) and per-frame values (json)")
    p.add_argument("--format", "-f", choices=FORMATS, default=None,
                   help="output format (default: from the --out extension .json or .csv, else table)")
    p.add_argument("--out", "-o", default=None, help="write the results to this file (atomically)")
    p.add_argument("--scale", choices=SCALES, default="none",
                   help="when sizes differ: resize the reference (ref) or the distorted input (dist) to the other's "
                        "size with a bicubic filter; none (default): refuse")
    p.add_argument("--no-score", action="store_true", help="skip the no-reference score of both inputs")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse frames with more pixels")
    p.set_defaults(func=run_compare)
    return p


def _fmt(v: float | None, infinite: bool = False, digits: int = 4) -> str:
    if infinite:
        return "inf"
    return "-" if v is None else f"{v:.{digits}f}"


def _table(stream: IO[str], items: list, names: list[str], timeline: bool) -> None:
    from vqual.result import Failure

    head = ["distorted", *names, "score(ref)", "score(dist)"]
    rows: list[list[str]] = []
    for it in items:
        if isinstance(it, Failure):
            rows.append([it.path, f"error: {it.message}"])
            continue
        m, nr = it.metrics, it.no_reference
        rows.append([it.distorted, *(("n/a" if m[n].error else _fmt(m[n].value, m[n].infinite)) for n in names),
                     _fmt(nr.reference if nr else None, digits=2), _fmt(nr.distorted if nr else None, digits=2)])
        if timeline and it.seconds:
            for k, (t0, t1) in enumerate(it.seconds):
                ps = [(m[n].per_second[k] if m[n].per_second else None) for n in names]
                # a null per-second PSNR is an infinite one (identical frames); other metrics have no nulls there
                rows.append([f"  {t0:g}-{t1:g} s", *(_fmt(v, n == "psnr" and m[n].per_second is not None
                                                          and v is None) for v, n in zip(ps, names)),
                             _fmt((nr.reference_per_second or [None] * (k + 1))[k] if nr else None, digits=2),
                             _fmt((nr.distorted_per_second or [None] * (k + 1))[k] if nr else None, digits=2)])
    width = max([len(head[0])] + [len(r[0]) for r in rows])
    stream.write("  ".join([head[0].ljust(width), *(h.rjust(11) for h in head[1:])]).rstrip() + "\n")
    for r in rows:
        if len(r) == 2 and r[1].startswith("error:"):
            stream.write(f"{r[0].ljust(width)}  {r[1]}\n")
        else:
            stream.write("  ".join([r[0].ljust(width), *(c.rjust(11) for c in r[1:])]).rstrip() + "\n")


def _csv(stream: IO[str], items: list, names: list[str], timeline: bool) -> None:
    from vqual.result import Failure

    fields = ["reference", "distorted", "kind", "second", "start", "end", *names, "score_reference",
              "score_distorted", "flags", "error_reason", "error_message"]
    w = csv.DictWriter(stream, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for it in items:
        if isinstance(it, Failure):
            w.writerow({"distorted": it.path, "error_reason": it.reason, "error_message": it.message})
            continue
        nr = it.no_reference
        row = {"reference": it.reference, "distorted": it.distorted, "kind": it.kind, "flags": ";".join(it.flags),
               "score_reference": nr.reference if nr else None, "score_distorted": nr.distorted if nr else None}
        row.update({n: ("inf" if it.metrics[n].infinite else it.metrics[n].value) for n in names})
        w.writerow(row)
        if timeline and it.seconds:
            for k, (t0, t1) in enumerate(it.seconds):
                sec = {"reference": it.reference, "distorted": it.distorted, "kind": it.kind, "second": k,
                       "start": t0, "end": t1}
                for n in names:
                    ps = it.metrics[n].per_second
                    sec[n] = None if ps is None else ("inf" if ps[k] is None and n == "psnr" else ps[k])
                if nr and nr.reference_per_second:
                    sec["score_reference"] = nr.reference_per_second[k]
                if nr and nr.distorted_per_second:
                    sec["score_distorted"] = nr.distorted_per_second[k]
                w.writerow(sec)


def run_compare(args: argparse.Namespace) -> int:
    """Run ``vqual compare`` from parsed arguments; returns the exit code."""
    from vqual.compare.core import CompareError, iter_compare, parse_metrics
    from vqual.errors import OutputError
    from vqual.output import AtomicOutput, output_format
    from vqual.result import Failure

    try:
        names = parse_metrics(args.metrics)
        fmt = output_format(args.format, args.out)
    except (CompareError, ValueError) as e:
        return error("compare", str(e))
    if fmt not in FORMATS:
        return error("compare", f"--format {fmt} is not available for compare; choose from {', '.join(FORMATS)}")
    sink = None
    try:
        sink = AtomicOutput(args.out) if args.out else None
    except OutputError as e:
        return error("compare", str(e))
    items: list = []
    try:
        for it in iter_compare(args.reference, args.distorted, names, timeline=args.timeline, scale=args.scale,
                               no_reference=not args.no_score, max_pixels=args.max_pixels):
            if isinstance(it, Failure):
                note("compare", it.message)
            items.append(it)
    except CompareError as e:
        if sink:
            sink.abort()
        return error("compare", str(e))
    except KeyboardInterrupt:
        if sink:
            sink.abort()
        return EXIT_INTERRUPTED
    except BaseException:
        if sink:
            sink.abort()
        raise
    stream = sink.stream if sink else sys.stdout
    if fmt == "json":
        doc = {"reference": args.reference, "metrics": names,
               "results": [it.to_dict() for it in items]}
        json.dump(doc, stream, indent=2, allow_nan=False)
        stream.write("\n")
    elif fmt == "csv":
        _csv(stream, items, names, args.timeline)
    else:
        _table(stream, items, names, args.timeline)
    if sink:
        sink.commit()
    return EXIT_FAILED if any(isinstance(it, Failure) for it in items) else EXIT_OK
