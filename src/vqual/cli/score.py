"""``vqual score``: score images and videos and write the results as a table, JSON, JSON lines or CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vqual import __version__
from vqual.cli.args import add_progress_args, progress_of
from vqual.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, error

EXPLAIN_MODEL = "vqual-lmm"  # default model of `vqual explain`


def add_score_args(p: argparse.ArgumentParser, default_model: str = "the default model") -> None:
    """The arguments of `vqual score` (and of `vqual explain`, whose model is `default_model`)."""
    from vqual.output import FORMATS

    p.add_argument("paths", nargs="+", metavar="PATH", help="image/video files, folders (recursive) or glob patterns")
    p.add_argument("--model", "-m", default=None, help=f"registered model name (default: {default_model})")
    p.add_argument("--format", "-f", choices=FORMATS, default=None,
                   help="output format (default: from the --out extension .json, .jsonl or .csv, else table)")
    p.add_argument("--out", "-o", default=None, help="write results to this file (atomically) instead of stdout")
    p.add_argument("--timeline", action="store_true", help="include per-second scores for videos")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse images/videos with more pixels per frame")
    p.add_argument("--calibration", "-c", default=None, metavar="FILE",
                   help="calibration from `vqual calibrate`: scores on your scale (its model is the default --model)")
    add_progress_args(p)


def add_score_parser(sub) -> argparse.ArgumentParser:
    from vqual.cli import COMMANDS

    p = sub.add_parser("score", help=COMMANDS["score"])
    add_score_args(p)
    p.set_defaults(func=run_score_args)
    return p


def run_score_args(args: argparse.Namespace, explain: bool = False) -> int:
    """`run_score` from the parsed arguments of `vqual score` (or, with `explain`, `vqual explain`)."""
    return run_score(args.paths, args.model, args.format, args.out, args.timeline, args.max_pixels,
                     progress=progress_of(args), calibration=args.calibration, explain=explain)


def run_score(paths: list[str], model_name: str | None, fmt: str | None, out: str | None, timeline: bool,
              max_pixels: int | None = None, progress: bool | str | None = None, calibration: str | None = None,
              report: str | None = None, explain: bool = False) -> int:
    """Score inputs and write them in `fmt` to `out` (or stdout), on the scale of `calibration` (a calibration
    file) if given; with `report`, the same results also go to that JSON file (each input is scored once).

    `fmt` None: the format `out`'s extension names (.json, .jsonl, .csv), else a table. Destinations are checked
    before anything is scored. Returns the exit code.

    The model is loaded when the first input that can be read needs it (`vqual.api.precheck` reads the inputs
    before that), so a batch of bad inputs is answered without loading one; the model name is checked first.
    With `calibration` or `explain` the model is loaded at once (the calibration or the model may be refused).
    """
    from vqual.api import load_model, precheck, score_one
    from vqual.errors import OutputError
    from vqual.inputs import expand_inputs, unmatched_failure
    from vqual.interrupts import Terminated, deferred
    from vqual.media.kind import VIDEO_EXTS
    from vqual.output import AtomicOutput, make_writer, output_format
    from vqual.progress import Progress
    from vqual.result import Failure

    try:
        fmt = output_format(fmt, out)
    except ValueError as e:
        return error(None, str(e))
    sink = report_sink = None
    try:
        try:  # before any work: a folder or an unwritable place is refused now, not after scoring the batch
            sink = AtomicOutput(out) if out else None
            report_sink = AtomicOutput(report) if report else None
        except OutputError as e:
            return error(None, str(e))
        model = None
        if calibration is not None or explain:
            model = load_model(model_name, max_pixels=max_pixels, calibration=calibration)
            name, version = model.name, model.version
        else:
            from vqual.registry import get_spec

            spec = get_spec(model_name)  # an unknown model is refused before any work
            name, version = spec.name, spec.version
        if explain:
            if not model.can_explain:
                return error(None, f"model {model.name} does not explain its results; use an explaining model "
                                   f"such as {EXPLAIN_MODEL}")
            model = model.explaining()
        notes: list[str] = []
        items = expand_inputs(paths, notes)
        if not items:
            return error(None, f"no media files found in {', '.join(paths)}")
        for note in notes:
            print(f"vqual: {note}", file=sys.stderr)
        stream = sink.stream if sink else sys.stdout
        meta = {"vqual_version": __version__, "model": name, "model_version": version}
        if model is not None and model.calibration is not None:
            cal = model.calibration
            meta["calibration"] = {"id": cal.id, "file": calibration, "method": cal.method,
                                   "scale": {"name": cal.scale.name, "min": cal.scale.min, "max": cal.scale.max,
                                             "higher_is_better": cal.scale.higher_is_better}}
        writers = [make_writer(fmt, stream, timeline, meta)]
        if report_sink:
            writers.append(make_writer("json", report_sink.stream, timeline, meta))
        # auto: a bar on a terminal when there is more than one input or a video (per second); else as asked
        several = len(items) > 1 or any(Path(p).suffix.lower() in VIDEO_EXTS for p in items)
        bar = Progress(len(items), enabled=(None if several else False) if progress is None else progress,
                       leave=False)
        n_ok = n_failed = 0
        code = EXIT_OK
        try:
            for path in items:
                item = unmatched_failure(path)
                if item is None:
                    item = precheck(path, max_pixels) if model is None else None
                    if item is None:
                        if model is None:
                            model = load_model(model_name, max_pixels=max_pixels)
                        item = score_one(model, path, on_second=lambda d, t, n=Path(path).name: bar.part(n, d, t))
                failed = isinstance(item, Failure)
                with deferred():  # a row is written whole, even if Ctrl-C or SIGTERM arrives meanwhile
                    if not sink:
                        bar.clear()  # stdout may share the terminal with the bar: never on the bar's line
                    for writer in writers:
                        writer.write(item)
                    if not sink:
                        stream.flush()
                    n_ok, n_failed = n_ok + (not failed), n_failed + failed
                    if failed and (fmt != "table" or sink):  # the table on stdout shows failures itself
                        bar.message(f"vqual: error: {item.message}")
                bar.update(failed=failed, seconds=getattr(getattr(item, "provenance", None), "elapsed_ms",
                                                          0.0) / 1000.0)
        except KeyboardInterrupt as e:
            code = EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED
        with deferred():  # what was scored is written, whatever arrives now
            bar.close()
            stop = {EXIT_INTERRUPTED: ", interrupted", EXIT_TERMINATED: ", terminated (SIGTERM)"}.get(code, "")
            summary = f"{n_ok} scored, {n_failed} failed{stop}"
            for writer in writers:
                writer.close(summary)
            shown = fmt == "table" and not sink  # the table on stdout ends with the summary
            if code == EXIT_OK and n_failed:
                code = EXIT_FAILED
            for done, name in ((sink, out), (report_sink, report)):
                if not done:
                    continue
                try:
                    done.commit()
                except OutputError as e:
                    print(f"vqual: error: {e}", file=sys.stderr)
                    code = EXIT_FAILED if code == EXIT_OK else code
                    continue
                print(f"vqual: wrote {name}" if shown else f"vqual: {summary}; wrote {name}", file=sys.stderr)
                shown = True
            if not shown:
                print(f"vqual: {summary}", file=sys.stderr)
        return code
    finally:  # temporary files never outlive the command (committed ones are left alone)
        for done in (sink, report_sink):
            if done is not None:
                done.abort()

