"""``vqual calibrate``: fit a map from a model's score to your own MOS scale and save it as JSON."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from vqual.cli.args import add_cache_args, add_label_scale_args, add_progress_args, label_scale, progress_of
from vqual.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, error, note

if TYPE_CHECKING:
    from vqual.models.base import Scorer


def add_calibrate_parser(sub) -> argparse.ArgumentParser:
    from vqual.adapt.calibrate import MIN_LABELS
    from vqual.calibration import METHODS
    from vqual.cli import COMMANDS

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
    add_label_scale_args(p)
    p.add_argument("--name", default=None, help="name of the scale / calibration (default: the --out file's stem)")
    p.add_argument("--seed", type=int, default=0, help="seed of the cross-validation folds (default 0)")
    add_progress_args(p)
    add_cache_args(p)
    p.set_defaults(func=run_calibrate)
    return p


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


def run_calibrate(args: argparse.Namespace, *, model: Scorer | None = None) -> int:
    """``vqual calibrate``: score the labelled files (prediction cache shared with ``vqual eval``), fit, save.

    Exit codes: 0 written; 1 written, but some labelled files could not be scored or were skipped; 2 nothing
    written: unreadable labels, too few labels (fewer than `MIN_LABELS` scored), degenerate labels, unknown model;
    130 interrupted. `model` (a loaded model) bypasses ``--model`` (tests, API).
    """
    from pathlib import Path

    from vqual.adapt.calibrate import MIN_LABELS, fit_calibration
    from vqual.cli.args import open_cache
    from vqual.data import DatasetError, load_manifest
    from vqual.errors import CalibrationError, OutputError
    from vqual.eval import runner
    from vqual.output import check_output_path
    from vqual.result import Scale

    cmd = "calibrate"
    try:
        check_output_path(args.out)  # refused now rather than after scoring every labelled file
    except OutputError as e:
        return error(cmd, str(e))
    try:
        ds = load_manifest(args.labels, **label_scale(args))
    except DatasetError as e:
        why = _first_bad_label(args.labels) if "no usable labels" in str(e) else None
        return error(cmd, f"{e}: {why}" if why else str(e))
    for msg in ds.notes:
        note(cmd, msg)
    for s in ds.skipped[:5]:
        note(cmd, f"skipped {s.name}: {s.detail}")
    if len(ds.items) < MIN_LABELS:
        return error(cmd, f"{args.labels}: {len(ds.items)} usable labels; a calibration needs at least {MIN_LABELS}")
    if model is None:
        model = runner.load_model(args.model)
    if model.calibration is not None:  # fit on the model's own score, never a calibrated one
        model = model.with_calibration(None)
    with open_cache(args, cmd) as cache:
        try:
            records = runner.score_dataset(model, ds, cache=cache, progress=progress_of(args),
                                           label=f"calibrate {ds.info.name}")
        except KeyboardInterrupt:
            note(cmd, "interrupted; nothing written (scored files are cached)")
            return EXIT_INTERRUPTED
    failed = [r for r in records if r.status != "ok"]
    for r in failed[:5]:
        note(cmd, f"failed: {r.detail}")
    if len(failed) > 5:
        note(cmd, f"... {len(failed) - 5} more failed files")
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
        return error(cmd, f"{args.labels}: {e}{extra}")
    try:
        cal.save(args.out)
    except OSError as e:
        return error(cmd, f"cannot write {args.out}: {e}", EXIT_FAILED)
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
        note(cmd, f"warning: {w}")
    print(f"wrote {args.out} (id {cal.id})")
    return EXIT_FAILED if (failed or ds.skipped) else EXIT_OK

