"""`vqual`: one console script with sub-commands, a thin layer over the Python API.

One module per sub-command (`vqual.cli.score`, `.explain`, `.models`, `.demo`, `.calibrate`, `.eval`, `.train`,
`.distill`, `.instruct`, `.compare`, `.serve`, `.batch`), each with ``add_<name>_parser(subparsers)``, which sets
``func`` (the function that runs it from the parsed arguments) as a default. `vqual.cli.args` holds the argument
groups several of them share, `vqual.cli.exits` the exit codes (0 done, 1 some inputs failed, 2 usage error, 130
Ctrl-C, 143 SIGTERM) and the one-line messages. Only the module of the sub-command run is imported. Nothing outside
this package imports it.
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import traceback

from vqual import __version__
from vqual.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE

#: The sub-commands, in `vqual --help` order, with their one-line help (each module gives the same line to its full
#: parser).
COMMANDS: dict[str, str] = {
    "score": "score images and videos",
    "explain": "score images and videos and explain the result in words",
    "models": "list registered models with versions",
    "demo": "generate the sample media, score it and write a report",
    "calibrate": "fit a map from a model's score to your own MOS scale (saved as JSON)",
    "eval": "evaluate a model on a benchmark dataset (SRCC/PLCC/..., JSON + HTML report)",
    "train": "warm up a new head on the frozen encoder from a few labels (writes a model)",
    "distill": "distil a teacher into a light student with unlabelled media and a few labels",
    "instruct": "write instruction-tuning Q&A (JSONL) from a labelled dataset",
    "compare": "full-reference metrics (PSNR, SSIM, MS-SSIM, LPIPS, DISTS, VMAF) against a source, beside the score",
    "serve": "an HTTP service and web page for scoring (needs the vqual[serve] extra)",
    "batch": "score a library of files on Ray, resumably, into Parquet/JSONL shards (needs the vqual[batch] extra)",
}


def _add_command(sub, name: str) -> None:
    """Add sub-command `name` with all its arguments (importing the module of `vqual.cli` that defines them)."""
    if name not in COMMANDS:
        raise ValueError(f"unknown sub-command {name!r}")
    module = importlib.import_module(f"vqual.cli.{name}")
    getattr(module, f"add_{name}_parser")(sub)


def command_of(argv: list[str]) -> str | None:
    """The sub-command an argument list runs (the first argument that is not an option or the value of vqual's own
    ``--threads N``), or None when there is none or it is unknown (argparse then explains)."""
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--threads":
            skip = True
        elif not a.startswith("-"):
            return a if a in COMMANDS else None
    return None


def build_parser(only: str | None | bool = True) -> argparse.ArgumentParser:
    """The `vqual` argument parser. `only` True: every sub-command complete; a sub-command's name: that one
    complete and the others listed with their help line only (so running `vqual score` never imports the code of
    `eval`, `train` and the like); None: every sub-command listed, none complete (`vqual --help`, `--version`)."""
    parser = argparse.ArgumentParser(prog="vqual", description="Blind quality assessment of images and videos.")
    parser.add_argument("--version", action="version", version=f"vqual {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--threads", type=_thread_count, default=None, metavar="N", help=THREADS_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_line in COMMANDS.items():
        if only is True or only == name:
            _add_command(sub, name)
        else:
            sub.add_parser(name, help=help_line)
    for p in {id(p): p for p in sub.choices.values()}.values():  # `vqual score x --debug` works too
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
        p.add_argument("--threads", type=_thread_count, default=argparse.SUPPRESS, metavar="N", help=THREADS_HELP)
    return parser


THREADS_HELP = ("threads for the model (ONNX Runtime), video decoding and numpy (default: $VQUAL_THREADS, else every "
                "CPU)")


def _thread_count(value: str) -> int:
    from vqual.runtime import parse_threads

    try:
        return parse_threads(value, "--threads")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--threads: ")) from None


def main(argv: list[str] | None = None) -> int:
    """Run the `vqual` command; returns its exit code. SIGTERM is handled like Ctrl-C (results so far are
    written, temporary files removed), with exit code 143 instead of 130."""
    from vqual.interrupts import Terminated, handle_signals, terminated

    try:
        with handle_signals():
            code = _main(argv)
    except KeyboardInterrupt as e:
        code = EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED
    return EXIT_TERMINATED if code == EXIT_INTERRUPTED and terminated() else code


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_of(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: usage errors exit 2, --help / --version exit 0
        return int(e.code or 0)
    if args.command is None or not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args.command_line = shlex.join(["vqual", *argv])  # as typed, global options included (model provenance)
    from vqual.runtime import set_threads, threads

    try:
        if args.threads is not None:
            set_threads(args.threads)
        else:
            threads()  # a bad VQUAL_THREADS is a usage error now, not a failure halfway through a batch
    except ValueError as e:
        print(f"vqual: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    from vqual.errors import CalibrationError, ModelNotFoundError, VqualError

    try:
        return args.func(args)
    except (ModelNotFoundError, CalibrationError) as e:
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
