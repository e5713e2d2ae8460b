"""`vqual`: one console script with sub-commands, a thin layer over the Python API.

Exit codes: 0 every input scored, 1 some inputs failed (each reported on one line), 2 usage error,
130 interrupted (results so far are written).
"""

from __future__ import annotations

import argparse
import sys
import traceback

from vqual import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_score_args(p: argparse.ArgumentParser) -> None:
    from vqual.output import FORMATS

    p.add_argument("paths", nargs="+", metavar="PATH", help="image/video files, folders (recursive) or glob patterns")
    p.add_argument("--model", "-m", default=None, help="registered model name (default: the default model)")
    p.add_argument("--format", "-f", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--out", "-o", default=None, help="write results to this file (atomically) instead of stdout")
    p.add_argument("--timeline", action="store_true", help="include per-second scores for videos")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse images/videos with more pixels per frame")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vqual", description="Blind quality assessment of images and videos.")
    parser.add_argument("--version", action="version", version=f"vqual {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("score", help="score images and videos")
    _add_score_args(p)

    sub.add_parser("models", help="list registered models with versions")

    p = sub.add_parser("demo", help="generate the sample media, score it and write a report")
    p.add_argument("--dir", default="samples", help="where to write the sample media (default: ./samples)")
    p.add_argument("--out", default="vqual-report.json", help="report file (default: vqual-report.json)")
    p.add_argument("--model", "-m", default=None, help="registered model name (default: the default model)")

    from vqual.eval.cli import add_eval_parser

    add_eval_parser(sub)
    return parser


def run_score(paths: list[str], model_name: str | None, fmt: str, out: str | None, timeline: bool,
              max_pixels: int | None = None, progress: bool | None = None) -> int:
    """Score inputs and write them in `fmt` to `out` (or stdout). Returns the exit code."""
    from vqual.api import load_model, score_one
    from vqual.inputs import expand_inputs
    from vqual.output import AtomicOutput, make_writer
    from vqual.progress import Progress
    from vqual.result import Failure

    model = load_model(model_name, max_pixels=max_pixels)
    items = expand_inputs(paths)
    if not items:
        print("vqual: error: no media files found in the given paths", file=sys.stderr)
        return EXIT_USAGE
    sink = AtomicOutput(out) if out else None
    stream = sink.stream if sink else sys.stdout
    meta = {"vqual_version": __version__, "model": model.name, "model_version": model.version}
    writer = make_writer(fmt, stream, timeline, meta)
    bar = Progress(len(items), enabled=False if progress is False else (None if len(items) > 1 else False))
    n_ok = n_failed = 0
    code = EXIT_OK
    try:
        for path in items:
            item = score_one(model, path)
            bar.update(failed=isinstance(item, Failure), seconds=getattr(getattr(item, "provenance", None),
                                                                         "elapsed_ms", 0.0) / 1000.0)
            if isinstance(item, Failure):
                n_failed += 1
                if fmt != "table" or sink:  # the table on stdout shows failures itself
                    bar.message(f"vqual: error: {item.message}")
            else:
                n_ok += 1
            writer.write(item)
            if not sink:
                stream.flush()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    bar.close()
    summary = f"{n_ok} scored, {n_failed} failed" + (", interrupted" if code == EXIT_INTERRUPTED else "")
    writer.close(summary if fmt == "table" else summary)
    if sink:
        sink.commit()
        print(f"vqual: {summary}; wrote {out}", file=sys.stderr)
    elif fmt != "table":
        print(f"vqual: {summary}", file=sys.stderr)
    if code == EXIT_OK and n_failed:
        code = EXIT_FAILED
    return code


def run_models() -> int:
    from vqual.api import list_models
    from vqual.registry import default_model_name

    for s in list_models():
        mark = "*" if s.name == default_model_name() else " "
        print(f"{mark} {s.name:<16} {s.version:<8} {s.description}")
    print("(* = default)")
    return EXIT_OK


def run_demo(directory: str, out: str, model_name: str | None) -> int:
    from vqual.samples import make_samples

    paths = make_samples(directory)
    print(f"vqual: generated {len(paths)} sample files in {directory}/", file=sys.stderr)
    code = run_score([directory], model_name, "table", None, timeline=True, progress=False)
    if code in (EXIT_OK, EXIT_FAILED):
        run_score([directory], model_name, "json", out, timeline=True, progress=False)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: usage errors exit 2, --help / --version exit 0
        return int(e.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from vqual.errors import ModelNotFoundError, VqualError

    try:
        if args.command == "score":
            return run_score(args.paths, args.model, args.format, args.out, args.timeline, args.max_pixels,
                             progress=False if args.no_progress else None)
        if args.command == "models":
            return run_models()
        if args.command == "demo":
            return run_demo(args.dir, args.out, args.model)
        if args.command == "eval":
            from vqual.eval.cli import run_eval

            return run_eval(args)
    except ModelNotFoundError as e:
        print(f"vqual: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except VqualError as e:
        if args.debug:
            traceback.print_exc()
        print(f"vqual: error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as e:  # a bug: one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"vqual: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_FAILED
    parser.print_help(sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
