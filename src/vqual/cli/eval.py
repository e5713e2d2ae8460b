"""``vqual eval``: score a benchmark (or your own manifest) with a model and report agreement with the MOS.

Exit codes: 0 ok, 1 some items failed or were skipped, 2 usage error, 130 Ctrl-C (`vqual.cli.exits`).
"""

from __future__ import annotations

import argparse
import re
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vqual.cli.args import (
    UsageError,
    add_cache_args,
    add_dataset_args,
    add_progress_args,
    load_dataset_args,
    open_cache,
    parse_options,
    progress_of,
)
from vqual.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, error, note
from vqual.data import Dataset, list_datasets
from vqual.errors import OutputError, VqualError
from vqual.eval import report as rpt
from vqual.eval import report_html, runner
from vqual.eval.protocols import (
    CALIBRATIONS,
    DEFAULT_BOOTSTRAP,
    DEFAULT_SIZES,
    PROTOCOLS,
    EvalSet,
    ProtocolError,
    ProtocolResult,
    kfold_indices,
    run_protocol,
)

if TYPE_CHECKING:
    from vqual.calibration import Calibration
    from vqual.eval.fullref import MetricAsModel
    from vqual.models.base import Scorer

_EPILOG = """\
examples:
  vqual eval --dataset clive --root ~/data/ChallengeDB_release
  vqual eval --dataset koniq --root ~/data/koniq10k --protocol split --protocol fewlabel
  vqual eval --dataset clive-fewlabel --root ../shared/data/clive-fewlabel --model NAME
  vqual eval --manifest my_labels.csv --mos-range 0 100                # whole set: SRCC/KRCC/PLCC with 95% CIs
  vqual eval --manifest my_labels.csv --protocol kfold --calibration fitted
  vqual eval --manifest held_out.csv --calibration my-scale.json     # your calibration as the 'model' score
  vqual eval --dataset live-vqc --root DIR --protocol cross --train-dataset konvid --train-root DIR2
  vqual eval --manifest encodes.csv --metric ssim                    # a full-reference metric instead of a model
  vqual eval --manifest encodes.csv --metric vmaf --reference source --protocol kfold --calibration fitted
  vqual eval --list-datasets

--metric NAME evaluates a full-reference metric (psnr, ssim, ms_ssim, lpips, dists, vmaf) of each item against its
reference, the manifest's reference_path (or ref_path) column, or the column --reference names; relative paths are
relative to the manifest. The report is the model's (its 'model' is fr:NAME); the metric's value, negated for LPIPS
and DISTS so that higher is better, is the score, so RMSE and level accuracy are given only after a fitted logistic.
Items without a reference, whose reference cannot be read or does not align (sizes, frame rates, lengths) are
listed as failed. Metric values are not cached.

Predictions are cached per (model, version, weights, media path and size) in $VQUAL_CACHE_DIR/eval
(default ~/.cache/vqual/eval), so running another protocol does not score the media again.
"""


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eval`` sub-command to an argparse sub-parsers object; returns its parser."""
    from vqual.cli import COMMANDS

    p = subparsers.add_parser(
        "eval", help=COMMANDS["eval"],
        description="Score a benchmark dataset (or your own labelled manifest) with a quality model and measure "
                    "its agreement with the human scores under a stated protocol.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("data")
    add_dataset_args(g, columns="path, mos[, split]", list_hint="see --list-datasets",
                     option_help="dataset loader option, e.g. include_practice=true (CLIVE), target=align (AGIQA-3K)")
    g.add_argument("--limit", type=int, metavar="N", help="only the first N items (quick runs)")
    g.add_argument("--list-datasets", action="store_true", help="list the built-in datasets and exit")
    g.add_argument("--reference", metavar="COLUMN",
                   help="manifest column holding each item's reference (source) path, for --metric (default: "
                        "reference_path or ref_path when the manifest has one)")
    p.add_argument("--model", metavar="NAME", help="registered model (default: the default model)")
    p.add_argument("--metric", metavar="NAME",
                   help="evaluate a full-reference metric of each item against its reference instead of a model: "
                        "psnr, ssim, ms_ssim, lpips, dists or vmaf (see below)")
    g = p.add_argument_group("protocol")
    g.add_argument("--protocol", action="append", choices=PROTOCOLS + ("all",), metavar="NAME",
                   help="whole | split | kfold | cross | fewlabel | all; repeatable (default: whole, the model's own "
                        "score on every item with bootstrap CIs; kfold when training is involved: --calibration "
                        "fitted or a training set)")
    g.add_argument("--calibration", action="append", default=None, metavar="MODE|FILE",
                   help="MODE: model (the model's own score), fitted (logistic fitted on each training part) or "
                        "both (default); FILE: a calibration from `vqual calibrate`, used as the model's own score "
                        "in 'model' rows (mapped from its scale to 1-5). Repeat to give a mode and a file")
    g.add_argument("--folds", type=int, default=5, metavar="K", help="k-fold: number of folds (default 5)")
    g.add_argument("--seed", type=int, default=0,
                   help="seed of the folds, few-label draws and bootstrap resamples (default 0)")
    g.add_argument("--bootstrap", type=int, default=DEFAULT_BOOTSTRAP, metavar="N",
                   help="whole set: bootstrap resamples of the 95%% confidence intervals (default %(default)s; "
                        "0: none)")
    g.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), metavar="N,N,...",
                   help="few-label: labelled-set sizes (default %(default)s)")
    g.add_argument("--repeats", type=int, default=10, help="few-label: draws per size (default 10)")
    g.add_argument("--train-split", default="train", help="split protocol: training split (default train)")
    g.add_argument("--test-split", default="test", help="split protocol: test split (default test)")
    g.add_argument("--train-dataset", metavar="NAME", help="cross protocol: the training dataset")
    g.add_argument("--train-root", metavar="DIR", help="cross protocol: its folder")
    g.add_argument("--train-manifest", metavar="FILE", help="cross protocol: a manifest as training set")
    g = p.add_argument_group("output")
    g.add_argument("--out", metavar="DIR", default="vqual-eval",
                   help="folder for <dataset>_<model>.json and .html (default ./vqual-eval)")
    g.add_argument("--json", metavar="FILE", help="JSON report path (overrides --out)")
    g.add_argument("--html", metavar="FILE", help="HTML report path (overrides --out)")
    g.add_argument("--no-report", action="store_true", help="print the table only, write no files")
    g.add_argument("--quiet", action="store_true", help="do not print the table")
    add_progress_args(g)
    add_cache_args(g)
    p.set_defaults(func=run_eval)
    return p


def _parse_sizes(s: str) -> list[int]:
    try:
        sizes = [int(x) for x in re.split(r"[,\s]+", s.strip()) if x]
    except ValueError:
        raise UsageError(f"--sizes expects comma-separated integers, got {s!r}") from None
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--sizes must be positive integers, got {s!r}")
    return sizes


def _default_protocol(args: argparse.Namespace, has_train: bool) -> str:
    """``whole`` (no fitting) unless training is involved: a fitted calibration asked for, or a training set."""
    return "kfold" if (has_train or _calibration_args(args)[0] == "fitted") else "whole"


def _protocols(args: argparse.Namespace, ds: Dataset, has_train: bool) -> list[str]:
    chosen = args.protocol or [_default_protocol(args, has_train)]
    if "all" in chosen:
        auto = ["kfold", "fewlabel"]
        if any(it.split == args.test_split for it in ds.items):
            auto.insert(0, "split")
        if _calibration_args(args)[0] != "fitted":
            auto.insert(0, "whole")
        if has_train:
            auto.append("cross")
        chosen = [c for c in chosen if c != "all"] + auto
    return list(dict.fromkeys(chosen))


def _precheck(protocols: list[str], args: argparse.Namespace, ds: Dataset, has_train: bool) -> None:
    """Fail before scoring for what can be known from the labels alone."""
    if "split" in protocols and not any(it.split == args.test_split for it in ds.items):
        have = sorted({it.split for it in ds.items if it.split})
        raise UsageError(f"--protocol split: {ds.info.name} has no {args.test_split!r} split "
                         f"(splits: {', '.join(have) or 'none'}); use --protocol kfold")
    if "whole" in protocols and _calibration_args(args)[0] == "fitted":
        raise UsageError("--protocol whole fits nothing (it compares the model's own score with the labels); drop "
                         "--calibration fitted or choose another protocol")
    if args.bootstrap < 0:
        raise UsageError("--bootstrap must be 0 or more")
    if "cross" in protocols and not has_train:
        raise UsageError("--protocol cross needs --train-dataset NAME --train-root DIR (or --train-manifest FILE)")
    if "kfold" in protocols:
        items = ds.items[: args.limit] if args.limit else ds.items
        kfold_indices([it.content_id for it in items], args.folds, args.seed)  # raises ProtocolError
    if args.repeats < 1:
        raise UsageError("--repeats must be at least 1")


def _slug(s: str) -> str:
    return re.sub(r"[^0-9A-Za-z._-]+", "-", s).strip("-") or "x"


def _command_line(args: argparse.Namespace, protocols: list[str]) -> str:
    parts = ["vqual", "eval"]
    for flag, val in (("--dataset", args.dataset), ("--root", args.root), ("--manifest", args.manifest),
                      ("--reference", args.reference), ("--model", args.model), ("--metric", args.metric)):
        if val:
            parts += [flag, str(val)]
    if args.mos_range:
        parts += ["--mos-range", f"{args.mos_range[0]:g}", f"{args.mos_range[1]:g}"]
    if args.lower_better:
        parts.append("--lower-better")
    for o in args.option:
        parts += ["--option", o]
    for pr in protocols:
        parts += ["--protocol", pr]
    mode, cal_file = _calibration_args(args)
    parts += ["--calibration", mode]
    if cal_file:
        parts += ["--calibration", cal_file]
    parts += ["--seed", str(args.seed)]
    if "whole" in protocols:
        parts += ["--bootstrap", str(args.bootstrap)]
    if set(protocols) - {"whole"}:
        parts += ["--folds", str(args.folds), "--sizes", args.sizes, "--repeats", str(args.repeats)]
    for flag, val in (("--train-dataset", args.train_dataset), ("--train-root", args.train_root),
                      ("--train-manifest", args.train_manifest), ("--limit", args.limit)):
        if val:
            parts += [flag, str(val)]
    if (args.protocol and "split" in args.protocol) and (args.train_split, args.test_split) != ("train", "test"):
        parts += ["--train-split", args.train_split, "--test-split", args.test_split]
    return shlex.join(parts)


def _metric_args(args: argparse.Namespace, ds: Dataset, train_ds: Dataset | None,
                 cal_file: str | None) -> MetricAsModel:
    """The full-reference metric ``--metric`` names, once the options and the manifest allow it (UsageError, or
    CompareError for an unknown metric or one whose weights are missing)."""
    from vqual.eval import fullref  # vqual.compare is imported only for --metric

    if args.model:
        raise UsageError("give --model or --metric, not both")
    if cal_file:
        raise UsageError(f"--calibration {cal_file}: a calibration belongs to a model; --metric {args.metric} has none "
                         "(use --calibration fitted)")
    metric = fullref.metric_model(args.metric)
    for d in (ds, train_ds):
        if d is not None and not fullref.references_of(d):
            where = d.info.label_files[0] if d.info.label_files else d.info.name
            raise UsageError(f"--metric {metric.metric}: {where} gives no reference for any item; add a "
                             "reference_path (or ref_path) column of source paths, or name yours with --reference "
                             "COLUMN")
    return metric


def _calibration_args(args: argparse.Namespace) -> tuple[str, str | None]:
    """(mode: model | fitted | both, calibration file or None) from the repeatable ``--calibration``."""
    values = args.calibration or []
    modes = [v for v in values if v in CALIBRATIONS + ("both",)]
    files = [v for v in values if v not in CALIBRATIONS + ("both",)]
    if len(set(modes)) > 1:
        raise UsageError(f"--calibration: give one mode, not {', '.join(modes)}")
    if len(files) > 1:
        raise UsageError(f"--calibration: give one calibration file, not {', '.join(files)}")
    return (modes[0] if modes else "both"), (files[0] if files else None)


def _apply_calibration(records: list[runner.ItemRecord], cal: Calibration) -> None:
    """Put each scored record's score on the calibration's scale (kept in ``calibrated_score``) and, mapped
    linearly from that scale to 1-5, in ``score``; the model's own score moves to ``uncalibrated_score``."""
    ok = [r for r in records if r.status == "ok" and r.score is not None]
    if not ok:
        return
    values = cal.transform([r.score for r in ok])
    for r, v in zip(ok, values):
        r.uncalibrated_score, r.calibrated_score = r.score, float(v)
        r.score = float(cal.scale.to_1_5(float(v)))


def _list_datasets() -> int:
    rows = [["name", "kind", "label", "range", "label files"]]
    for info in list_datasets():
        rng = f"{info.mos_range[0]:g}-{info.mos_range[1]:g}" + ("" if info.higher_is_better else " (lower better)")
        rows.append([info.name, info.kind, info.label, rng, ", ".join(info.label_files)])
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(widths[j]) for j, c in enumerate(r)).rstrip())
    return EXIT_OK


def run_eval(args: argparse.Namespace, *, model: Scorer | None = None) -> int:
    """Run ``vqual eval`` from parsed arguments. `model` (a loaded model) bypasses ``--model`` (for tests / API)."""
    if getattr(args, "list_datasets", False):
        return _list_datasets()
    t0 = time.monotonic()
    try:
        options = parse_options(args.option)
        sizes = _parse_sizes(args.sizes)
        if args.limit is not None and args.limit < 1:
            raise UsageError("--limit must be at least 1")
        ds = load_dataset_args(args, options=options)
        train_ds = None
        if args.train_dataset or args.train_manifest:
            train_ds = load_dataset_args(args, "train-")
        protocols = _protocols(args, ds, train_ds is not None)
        _precheck(protocols, args, ds, train_ds is not None)
        mode, cal_file = _calibration_args(args)
        user_cal = None
        metric = _metric_args(args, ds, train_ds, cal_file) if args.metric else None
        if cal_file:
            from vqual.calibration import load_calibration

            user_cal = load_calibration(cal_file)
        if metric is not None:
            model = metric  # type: ignore[assignment]  # what the report needs of a model: name, version, weights
        elif model is None:
            model = runner.load_model(args.model if args.model or user_cal is None else user_cal.model)
        if model.calibration is not None:  # score (and cache) the model's own predictions
            user_cal = user_cal or model.calibration
            model = model.with_calibration(None)
        if user_cal is not None:
            user_cal.check_model(model)
    except VqualError as e:  # bad arguments, labels or protocol; unknown model, weights problems
        return error("eval", str(e))
    for s in ds.skipped[:5]:
        note("eval", f"skipped {s.name}: {s.detail}")
    if len(ds.skipped) > 5:
        note("eval", f"... {len(ds.skipped) - 5} more skipped labels (listed in the report)")

    show = progress_of(args)
    train_records: list[runner.ItemRecord] | None = None
    if metric is not None:  # compared with each reference; not cached
        from vqual.eval import fullref

        try:
            records = fullref.score_references(metric, ds, progress=show, limit=args.limit)
            if train_ds is not None:
                train_records = fullref.score_references(metric, train_ds, progress=show, limit=args.limit)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
    else:
        with open_cache(args, "eval") as cache:
            try:
                records = runner.score_dataset(model, ds, cache=cache, progress=show, limit=args.limit)
                if train_ds is not None:
                    train_records = runner.score_dataset(model, train_ds, cache=cache, progress=show,
                                                         limit=args.limit, label=f"{train_ds.info.name} (train)")
            except KeyboardInterrupt:
                n = cache.count(model) if cache is not None else 0
                note("eval", f"interrupted; the cache holds {n} predictions of this model, re-run to continue")
                return EXIT_INTERRUPTED

    if user_cal is not None:
        _apply_calibration(records, user_cal)
        if train_records is not None:
            _apply_calibration(train_records, user_cal)
    data = EvalSet.from_records(records)
    train_data = EvalSet.from_records(train_records) if train_records is not None else None
    calibrations = list(CALIBRATIONS) if mode == "both" else [mode]
    results: list[ProtocolResult] = []
    problems = 0
    for proto in protocols:
        params: dict[str, Any] = {}
        if proto == "whole":
            params = {"n_boot": args.bootstrap, "seed": args.seed}
        elif proto == "kfold":
            params = {"k": args.folds, "seed": args.seed}
        elif proto == "fewlabel":
            params = {"sizes": sizes, "repeats": args.repeats, "seed": args.seed}
        elif proto == "split":
            params = {"train_split": args.train_split, "test_split": args.test_split}
        elif proto == "cross" and train_ds is not None:
            params = {"train_name": train_ds.info.name, "test_name": ds.info.name}
        for cal in calibrations if proto != "whole" else ["model"]:  # the whole set fits nothing
            try:
                results.append(run_protocol(proto, data, cal, train=train_data, **params))
                if metric is not None:
                    fullref.drop_unscaled(results[-1])
            except ProtocolError as e:
                problems += 1
                error("eval", f"{proto}/{cal}: {e}")

    cal_block = None
    if user_cal is not None:
        cal_block = {**user_cal.to_dict(), "file": cal_file or user_cal.path,
                     "note": f"'model' rows use calibration {user_cal.id}: its score on {user_cal.scale.name} "
                             f"({user_cal.scale.min:g}-{user_cal.scale.max:g}), mapped linearly to 1-5"}
    rep = rpt.build_report(model=model, dataset=ds, records=records, results=results,
                           command=_command_line(args, protocols), train_dataset=train_ds, train_records=train_records,
                           elapsed_s=round(time.monotonic() - t0, 3), calibration=cal_block)
    if metric is not None:
        rep["model"]["full_reference"] = {"metric": metric.metric, "weights": metric.weights,
                                          "note": fullref.scale_note(metric)}
    if not args.quiet:
        print(rpt.summary_text(rep))
    if not args.no_report:
        stem = f"{_slug(ds.info.name)}_{_slug(model.name)}"
        jpath = Path(args.json) if args.json else Path(args.out) / f"{stem}.json"
        hpath = Path(args.html) if args.html else Path(args.out) / f"{stem}.html"
        try:
            rpt.write_json(rep, jpath)
            report_html.write_html(rep, hpath)
        except (OSError, OutputError) as e:
            return error("eval", f"cannot write the report: {e}")
        if not args.quiet:
            print(f"\nreport: {jpath}\n        {hpath}")
    n_bad = sum(r.status != "ok" for r in records) + len(ds.skipped)
    if train_records is not None and train_ds is not None:
        n_bad += sum(r.status != "ok" for r in train_records) + len(train_ds.skipped)
    if not results:
        return EXIT_USAGE
    return EXIT_FAILED if (n_bad or problems) else EXIT_OK

