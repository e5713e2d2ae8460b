"""`vqual`: one console script with sub-commands, a thin layer over the Python API.

Exit codes: 0 every input scored, 1 some inputs failed (each reported on one line), 2 usage error (including a
calibration that cannot be used or fitted: wrong model, too few labels, an --out that is a folder or cannot be
written), 130 interrupted by Ctrl-C, 143 stopped by SIGTERM (in both cases the results so far are written).
"""

from __future__ import annotations

import argparse
import sys
import traceback

from vqual import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EXPLAIN_MODEL = "vqual-lmm"  # default model of `vqual explain`


def _add_score_args(p: argparse.ArgumentParser, default_model: str = "the default model") -> None:
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
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")


def _add_calibrate_parser(sub) -> None:
    from vqual.adapt.calibrate import MIN_LABELS
    from vqual.calibration import METHODS

    p = sub.add_parser(
        "calibrate", help=COMMANDS["calibrate"],
        description="Score your labelled files with a model and fit a monotone map from its 1-5 score to your "
                    "labels (4-parameter logistic, isotonic or linear, chosen by cross-validation unless named). "
                    f"Needs at least {MIN_LABELS} labelled files. Use the result with --calibration FILE.")
    p.add_argument("--labels", required=True, metavar="FILE",
                   help="CSV/TSV/JSONL manifest with a path column and a mos column (paths relative to the file)")
    p.add_argument("--out", "-o", required=True, metavar="FILE", help="calibration JSON to write (atomically)")
    p.add_argument("--model", "-m", default=None, help="registered model name (default: the default model)")
    p.add_argument("--method", choices=("auto", *METHODS), default="auto",
                   help="map to fit (default auto: chosen by cross-validation)")
    p.add_argument("--mos-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="your scale's range (default: inferred from the labels: 1-5, 0-1, 0-5, 0-10 or 0-100)")
    p.add_argument("--lower-better", action="store_true", help="your labels are DMOS-like (lower is better)")
    p.add_argument("--name", default=None, help="name of the scale / calibration (default: the --out file's stem)")
    p.add_argument("--seed", type=int, default=0, help="seed of the cross-validation folds (default 0)")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the prediction cache")
    p.add_argument("--cache-dir", metavar="DIR", help="prediction cache folder (default: that of vqual eval)")


#: The sub-commands, in `vqual --help` order, with their one-line help (each builder below gives the same line to
#: its full parser; tests/test_startup.py checks that they agree).
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
    "compare": "full-reference metrics (PSNR, SSIM, MS-SSIM, LPIPS) against a source, beside the score",
}


def _add_command(sub, name: str) -> None:
    """Add sub-command `name` with all its arguments (importing the module that defines them, if any)."""
    if name == "score":
        _add_score_args(sub.add_parser("score", help=COMMANDS["score"]))
    elif name == "explain":
        p = sub.add_parser("explain", help=COMMANDS["explain"],
                           description="Like `vqual score`, with an explanation per input from an explaining model "
                                       "(default vqual-lmm), read back against the score and the attributes: a "
                                       "contradiction is flagged in the result (explanation_check).")
        _add_score_args(p, default_model=EXPLAIN_MODEL)
        p.set_defaults(model=EXPLAIN_MODEL)
    elif name == "models":
        sub.add_parser("models", help=COMMANDS["models"])
    elif name == "demo":
        p = sub.add_parser("demo", help=COMMANDS["demo"])
        p.add_argument("--dir", default="samples", help="where to write the sample media (default: ./samples)")
        p.add_argument("--out", default="vqual-report.json", help="report file (default: vqual-report.json)")
        p.add_argument("--model", "-m", default=None, help="registered model name (default: the default model)")
        p.add_argument("--calibration", "-c", default=None, metavar="FILE", help="calibration from `vqual calibrate`")
    elif name == "calibrate":
        _add_calibrate_parser(sub)
    elif name == "eval":
        from vqual.eval.cli import add_eval_parser

        add_eval_parser(sub)
    elif name in ("train", "distill"):
        from vqual.adapt.cli import add_distill_parser, add_train_parser

        (add_train_parser if name == "train" else add_distill_parser)(sub)
    elif name == "instruct":
        from vqual.lmm.cli import add_instruct_parser

        add_instruct_parser(sub)
    elif name == "compare":
        from vqual.compare.cli import add_compare_parser

        add_compare_parser(sub)
    else:
        raise ValueError(f"unknown sub-command {name!r}")


def command_of(argv: list[str]) -> str | None:
    """The sub-command an argument list runs (the first argument that is not an option; vqual's own options take
    no value), or None when there is none or it is unknown (argparse then explains)."""
    for a in argv:
        if not a.startswith("-"):
            return a if a in COMMANDS else None
    return None


def build_parser(only: str | None | bool = True) -> argparse.ArgumentParser:
    """The `vqual` argument parser. `only` True: every sub-command complete; a sub-command's name: that one
    complete and the others listed with their help line only (so running `vqual score` never imports the code of
    `eval`, `train` and the like); None: every sub-command listed, none complete (`vqual --help`, `--version`)."""
    parser = argparse.ArgumentParser(prog="vqual", description="Blind quality assessment of images and videos.")
    parser.add_argument("--version", action="version", version=f"vqual {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_line in COMMANDS.items():
        if only is True or only == name:
            _add_command(sub, name)
        else:
            sub.add_parser(name, help=help_line)
    for p in {id(p): p for p in sub.choices.values()}.values():  # `vqual score x --debug` works too
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")
    return parser


def run_score(paths: list[str], model_name: str | None, fmt: str | None, out: str | None, timeline: bool,
              max_pixels: int | None = None, progress: bool | None = None, calibration: str | None = None,
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
    from vqual.inputs import expand_inputs, is_unmatched_pattern
    from vqual.interrupts import Terminated, deferred
    from vqual.output import AtomicOutput, make_writer, output_format
    from vqual.progress import Progress
    from vqual.result import Failure

    def usage(msg: str) -> int:
        print(f"vqual: error: {msg}", file=sys.stderr)
        return EXIT_USAGE

    try:
        fmt = output_format(fmt, out)
    except ValueError as e:
        return usage(str(e))
    sink = report_sink = None
    try:
        try:  # before any work: a folder or an unwritable place is refused now, not after scoring the batch
            sink = AtomicOutput(out) if out else None
            report_sink = AtomicOutput(report) if report else None
        except OutputError as e:
            return usage(str(e))
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
                return usage(f"model {model.name} does not explain its results; use an explaining model such as "
                             f"{EXPLAIN_MODEL}")
            model = model.explaining()
        notes: list[str] = []
        items = expand_inputs(paths, notes)
        if not items:
            return usage(f"no media files found in {', '.join(paths)}")
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
        bar = Progress(len(items), enabled=False if progress is False else (None if len(items) > 1 else False),
                       leave=False)
        n_ok = n_failed = 0
        code = EXIT_OK
        try:
            for path in items:
                if is_unmatched_pattern(path):
                    item = Failure(path=path, reason="missing", message=f"{path}: pattern matched nothing")
                else:
                    item = precheck(path, max_pixels) if model is None else None
                    if item is None:
                        if model is None:
                            model = load_model(model_name, max_pixels=max_pixels)
                        item = score_one(model, path)
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


def run_models() -> int:
    from vqual.api import list_models
    from vqual.registry import default_model_name

    for s in list_models():
        mark = "*" if s.name == default_model_name() else " "
        print(f"{mark} {s.name:<16} {s.version:<8} {s.description}")
    print("(* = default)")
    return EXIT_OK


def run_demo(directory: str, out: str, model_name: str | None, calibration: str | None = None) -> int:
    from vqual.samples import make_samples

    paths = make_samples(directory)
    print(f"vqual: generated {len(paths)} sample files in {directory}/", file=sys.stderr)
    return run_score([directory], model_name, "table", None, timeline=True, progress=False, calibration=calibration,
                     report=out)


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _first_bad_label(path: str) -> str | None:
    """Why the first unusable row of a label file is unusable, e.g. ``row 1 (a.jpg): mos 'good' is not a number``
    (rows counted from 1 after the header); None if that cannot be told."""
    from pathlib import Path

    from vqual.data import DatasetError
    from vqual.data.base import parse_float
    from vqual.data.formats import pick_column
    from vqual.data.manifest import MOS_COLUMNS, PATH_COLUMNS, read_manifest_rows

    p = Path(path).expanduser()
    try:
        rows = read_manifest_rows(p, p.stem)
        head = list({k: None for r in rows for k in r})
        pcol = pick_column(head, PATH_COLUMNS, p, p.stem)
        mcol = pick_column(head, MOS_COLUMNS, p, p.stem)
    except (DatasetError, OSError, ValueError):
        return None
    for i, row in enumerate(rows, 1):
        rel = str(row.get(pcol) or "").strip()
        if not rel:
            return f"row {i}: empty {pcol}"
        try:
            parse_float(row.get(mcol), mcol)
        except ValueError as e:
            return f"row {i} ({rel}): {e}"
    return None


def run_calibrate(args: argparse.Namespace, *, model=None) -> int:
    """``vqual calibrate``: score the labelled files (prediction cache shared with ``vqual eval``), fit, save.

    Exit codes: 0 written; 1 written, but some labelled files could not be scored or were skipped; 2 nothing
    written: unreadable labels, too few labels (fewer than `MIN_LABELS` scored), degenerate labels, unknown model;
    130 interrupted. `model` (a loaded model) bypasses ``--model`` (tests, API).
    """
    from pathlib import Path

    from vqual.adapt.calibrate import MIN_LABELS, fit_calibration
    from vqual.data import DatasetError, load_manifest
    from vqual.errors import CalibrationError
    from vqual.eval import runner
    from vqual.eval.cache import PredictionCache
    from vqual.result import Scale

    def err(msg: str) -> None:
        print(f"vqual calibrate: error: {msg}", file=sys.stderr)

    from vqual.errors import OutputError
    from vqual.output import check_output_path

    try:
        check_output_path(args.out)  # refused now rather than after scoring every labelled file
    except OutputError as e:
        err(str(e))
        return EXIT_USAGE
    try:
        ds = load_manifest(args.labels, mos_range=tuple(args.mos_range) if args.mos_range else None,
                           higher_is_better=not args.lower_better)
    except DatasetError as e:
        why = _first_bad_label(args.labels) if "no usable labels" in str(e) else None
        err(f"{e}: {why}" if why else str(e))
        return EXIT_USAGE
    for note in ds.notes:
        print(f"vqual calibrate: {note}", file=sys.stderr)
    for s in ds.skipped[:5]:
        print(f"vqual calibrate: skipped {s.name}: {s.detail}", file=sys.stderr)
    if len(ds.items) < MIN_LABELS:
        err(f"{args.labels}: {len(ds.items)} usable labels; a calibration needs at least {MIN_LABELS}")
        return EXIT_USAGE
    if model is None:
        model = runner.load_model(args.model)
    if getattr(model, "calibration", None) is not None:  # fit on the model's own score, never a calibrated one
        model = model.with_calibration(None)
    cache = None
    if not args.no_cache:
        try:
            cache = PredictionCache(args.cache_dir)
        except OSError as e:
            print(f"vqual calibrate: prediction cache unavailable ({e}); scoring without it", file=sys.stderr)
    try:
        records = runner.score_dataset(model, ds, cache=cache, progress=False if args.no_progress else None,
                                       label=f"calibrate {ds.info.name}")
    except KeyboardInterrupt:
        print("vqual calibrate: interrupted; nothing written (scored files are cached)", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if cache is not None:
            cache.close()
    failed = [r for r in records if r.status != "ok"]
    for r in failed[:5]:
        print(f"vqual calibrate: failed: {r.detail}", file=sys.stderr)
    if len(failed) > 5:
        print(f"vqual calibrate: ... {len(failed) - 5} more failed files", file=sys.stderr)
    ok = [r for r in records if r.status == "ok"]
    lo, hi = ds.info.mos_range
    name = args.name or Path(args.out).stem
    scale = Scale(name=name, min=float(lo), max=float(hi), higher_is_better=ds.info.higher_is_better)
    try:
        cal = fit_calibration([r.score for r in ok], [r.mos for r in ok], model=model, scale=scale,
                              method=args.method, groups=[r.content_id for r in ok], seed=args.seed, name=name,
                              labels_file=Path(args.labels).name, n_failed=len(failed), n_skipped=len(ds.skipped))
    except CalibrationError as e:
        extra = f" ({len(failed)} of {len(records)} files failed to score)" if failed else ""
        err(f"{args.labels}: {e}{extra}")
        return EXIT_USAGE
    try:
        cal.save(args.out)
    except OSError as e:
        err(f"cannot write {args.out}: {e}")
        return EXIT_FAILED
    direction = "higher is better" if scale.higher_is_better else "lower is better"
    print(f"{name}: {cal.n_labels} labels ({len(failed)} failed, {len(ds.skipped)} skipped), scale "
          f"{scale.min:g}-{scale.max:g} ({direction}), model {cal.model} {cal.model_version}")
    print(f"cross-validation: {cal.cv['k']} folds, seed {cal.cv['seed']}")
    print(f"{'method':<10}  {'SRCC':>6}  {'PLCC':>6}  {'RMSE':>8}")
    for m, fig in cal.cv["methods"].items():
        mark = f"  <- chosen ({cal.selected_by})" if m == cal.method else ""
        print(f"{m:<10}  {_fmt(fig['srcc']):>6}  {_fmt(fig['plcc']):>6}  {fig['rmse']:8.4g}{mark}")
    unc = cal.cv["uncalibrated"]
    print(f"{'(model)':<10}  {_fmt(unc['srcc']):>6}  {_fmt(unc['plcc']):>6}  {'-':>8}  (uncalibrated 1-5 score)")
    for w in cal.warnings:
        print(f"vqual calibrate: warning: {w}", file=sys.stderr)
    print(f"wrote {args.out} (id {cal.id})")
    return EXIT_FAILED if (failed or ds.skipped) else EXIT_OK


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
    parser = build_parser(command_of(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: usage errors exit 2, --help / --version exit 0
        return int(e.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from vqual.errors import CalibrationError, ModelNotFoundError, VqualError

    try:
        if args.command == "score":
            return run_score(args.paths, args.model, args.format, args.out, args.timeline, args.max_pixels,
                             progress=False if args.no_progress else None, calibration=args.calibration)
        if args.command == "explain":
            return run_score(args.paths, args.model, args.format, args.out, args.timeline, args.max_pixels,
                             progress=False if args.no_progress else None, calibration=args.calibration,
                             explain=True)
        if args.command == "instruct":
            from vqual.lmm.cli import run_instruct

            return run_instruct(args)
        if args.command == "models":
            return run_models()
        if args.command == "demo":
            return run_demo(args.dir, args.out, args.model, args.calibration)
        if args.command == "calibrate":
            return run_calibrate(args)
        if args.command in ("train", "distill"):
            from vqual.adapt import cli as adapt_cli

            run = adapt_cli.run_train if args.command == "train" else adapt_cli.run_distill
            return run(args, argv[argv.index(args.command) + 1:] if argv is not None else None)
        if args.command == "eval":
            from vqual.eval.cli import run_eval

            return run_eval(args)
        if args.command == "compare":
            from vqual.compare.cli import run_compare

            return run_compare(args)
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
    parser.print_help(sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
