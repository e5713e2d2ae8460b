"""``vqual train`` and ``vqual distill``: the command-line side of `vqual.adapt.train` and `vqual.adapt.distill`.

Both write a user model folder (`vqual.models.user`) atomically: to ``--out DIR``, or, with only ``--name NAME``, to
the models home (``$VQUAL_HOME/models/NAME``), where ``--model NAME`` finds it. Exit codes: 0 written; 1 written,
but some files could not be read (reported); 2 nothing written (bad arguments, too few labels, unknown model,
unusable output folder); 130 interrupted (teacher outputs so far are cached).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_output_args(p: argparse.ArgumentParser) -> None:
    from vqual.models.user import ENCODERS, models_home

    g = p.add_argument_group("output")
    g.add_argument("--out", "-o", metavar="DIR", help="model folder to write (atomically)")
    g.add_argument("--name", help=f"model name (default: the --out folder's name); with no --out the model goes to "
                                  f"{models_home()}/NAME and is usable as --model NAME")
    g.add_argument("--model-version", default="1.0.0", help="version recorded in the model (default 1.0.0)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.add_argument("--encoder", choices=tuple(ENCODERS), help="frozen encoder the head sits on")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--no-progress", action="store_true", help="never show the progress bar")


def _add_labels_args(p: Any) -> None:
    p.add_argument("--mos-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help="label scale (default: inferred from the labels)")
    p.add_argument("--lower-better", action="store_true", help="labels are DMOS-like (lower is better)")


def add_train_parser(sub: Any) -> argparse.ArgumentParser:
    from vqual.adapt.train import TrainConfig

    d = TrainConfig()
    p = sub.add_parser(
        "train", help="warm up a new head on the frozen encoder from a few labels (writes a model)",
        description="Train a score head (linear or MLP) on the frozen vqual encoder from a labelled set, or a small "
                    "seeded fraction of it, with early stopping on validation folds; writes a model folder usable "
                    "with --model everywhere.")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", metavar="NAME", help="built-in dataset (see `vqual eval --list-datasets`)")
    g.add_argument("--root", metavar="DIR", help="folder you downloaded the dataset to")
    g.add_argument("--manifest", metavar="FILE", help="your own CSV/TSV/JSONL manifest (path, mos[, content_id])")
    _add_labels_args(g)
    g.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="dataset loader option")
    g.add_argument("--split", help="train on this official split only (e.g. train)")
    g.add_argument("--n-labels", type=int, metavar="N", help="use a seeded draw of N labelled items")
    g.add_argument("--fraction", type=float, metavar="F", help="use a seeded draw of this fraction of the items")
    g = p.add_argument_group("head")
    g.add_argument("--head", choices=("linear", "mlp"), default=d.head, help="head type (default linear)")
    g.add_argument("--hidden", type=int, default=d.hidden, help="mlp hidden units (default %(default)s)")
    g.add_argument("--val-folds", type=int, default=d.val_folds,
                   help="early stopping on this many grouped validation folds; 1: one split (default %(default)s)")
    g.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="with --val-folds 1: share held out (default %(default)s)")
    g.add_argument("--max-epochs", type=int, default=d.max_epochs, help="default %(default)s")
    g.add_argument("--patience", type=int, default=d.patience, help="default %(default)s")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay, help="default %(default)s")
    g.add_argument("--synthetic-pairs", action=argparse.BooleanOptionalAction, default=None,
                   help="also learn from vqual-lite's 1440 synthetic ranking pairs (same picture, stronger distortion "
                        "= worse), with the ridge strength chosen on the validation folds; default: on for a linear "
                        "head on the lite encoder, which is the only combination it applies to")
    _add_output_args(p)
    p.set_defaults(encoder="lite")
    return p


def add_distill_parser(sub: Any) -> argparse.ArgumentParser:
    from vqual.adapt.distill import VIEWS, DistillConfig

    d = DistillConfig()
    p = sub.add_parser(
        "distill", help="distil a teacher into a light student with unlabelled media and a few labels",
        description="A teacher (a model, or an ensemble 'a,b') scores unlabelled media in several views; a light "
                    "student head learns its scores and pair-wise preferences, weighted by their reliability, "
                    "together with your few labels, and is then calibrated on them. Teacher outputs are cached: an "
                    "interrupted run resumes.")
    p.add_argument("--teacher", "-t", required=True, help="model name or folder, or a comma-separated ensemble")
    p.add_argument("--unlabelled", "--unlabeled", required=True, action="append", metavar="DIR",
                   help="folders, files or globs of unlabelled media (repeatable)")
    p.add_argument("--labels", required=True, metavar="FILE",
                   help="CSV/TSV/JSONL manifest (path, mos[, content_id]) of your few labelled files")
    _add_labels_args(p)
    p.add_argument("--views", default=",".join(d.views), help=f"teacher views among {', '.join(VIEWS)} "
                                                               "(default %(default)s)")
    p.add_argument("--pairs-per-item", type=int, default=d.pairs_per_item, help="default %(default)s")
    p.add_argument("--pair-weight", type=float, default=d.pair_weight, help="default %(default)s")
    p.add_argument("--label-weight", type=float, default=d.label_weight,
                   help="weight of your labels in the student's loss; 0: they only calibrate (default %(default)s)")
    p.add_argument("--alpha", type=float, default=d.alpha, help="ridge penalty (default %(default)s)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the teacher cache")
    p.add_argument("--cache-dir", metavar="DIR", help="teacher cache folder (default: that of vqual eval)")
    _add_output_args(p)
    p.set_defaults(encoder=d.encoder)
    return p


# --- shared ---------------------------------------------------------------------------------------------------------

def _err(cmd: str, msg: str) -> None:
    print(f"vqual {cmd}: error: {msg}", file=sys.stderr)


def _note(cmd: str, msg: str) -> None:
    print(f"vqual {cmd}: {msg}", file=sys.stderr)


def _destination(args: argparse.Namespace) -> tuple[Path, str]:
    """(folder, model name) from --out / --name; raises ValueError."""
    from vqual.models.user import check_name, models_home

    if not args.out and not args.name:
        raise ValueError("give --out DIR or --name NAME")
    out = Path(args.out).expanduser() if args.out else models_home() / args.name
    name = args.name or out.name.lower()
    check_name(name)
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} already exists (pass --overwrite to replace a model folder)")
    return out, name


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _command(cmd: str, argv: list[str] | None) -> str:
    return shlex.join(["vqual", cmd, *(argv if argv is not None else sys.argv[2:])])


def _write(cmd: str, out: Path, card: Any, arrays: dict, overwrite: bool) -> int | None:
    from vqual.models.user import write_model_dir

    try:
        write_model_dir(out, card, arrays, overwrite=overwrite)
    except (ValueError, OSError) as e:
        _err(cmd, f"cannot write {out}: {e}")
        return EXIT_FAILED
    return None


# --- train ----------------------------------------------------------------------------------------------------------

def run_train(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    """``vqual train``; see the module docstring for exit codes."""
    import numpy as np

    from vqual.adapt.train import TrainConfig, TrainError, extract_features, train_head
    from vqual.data import DatasetError
    from vqual.eval.cli import UsageError, _load, _parse_options
    from vqual.heads.levels import fit_tau
    from vqual.models.user import ModelCard, encoder_config, get_encoder, provenance

    cmd = "train"
    try:
        out, name = _destination(args)
        ds = _load(args.dataset, args.root, args.manifest, args, "", _parse_options(args.option))
        if args.split:
            ds = ds.subset(args.split)
        if args.n_labels is not None and args.fraction is not None:
            raise UsageError("give at most one of --n-labels and --fraction")
    except (ValueError, UsageError, DatasetError) as e:
        _err(cmd, str(e))
        return EXIT_USAGE
    for note in ds.notes:
        _note(cmd, note)
    items = ds.items
    n_all = len(items)
    if args.fraction is not None or args.n_labels is not None:
        k = args.n_labels if args.n_labels is not None else int(round(args.fraction * n_all))
        if not 0 < k <= n_all:
            _err(cmd, f"{ds.info.name}: cannot draw {k} of its {n_all} items")
            return EXIT_USAGE
        pick = np.sort(np.random.default_rng(args.seed).permutation(n_all)[:k])
        items = [items[i] for i in pick]
    config = TrainConfig(head=args.head, hidden=args.hidden, weight_decay=args.weight_decay,
                         max_epochs=args.max_epochs, patience=args.patience, val_folds=args.val_folds,
                         val_fraction=args.val_fraction, seed=args.seed)
    from vqual.adapt.pairs import load_pair_prior

    prior = load_pair_prior()
    fits = args.head == "linear" and args.encoder == prior.encoder
    if args.synthetic_pairs and not fits:
        _err(cmd, f"--synthetic-pairs needs --head linear and --encoder {prior.encoder} (got --head {args.head} "
                  f"--encoder {args.encoder})")
        return EXIT_USAGE
    if not (args.synthetic_pairs if args.synthetic_pairs is not None else fits):
        prior = None
    enc_cfg = encoder_config(args.encoder)
    failures: list[str] = []
    try:
        x, ok = extract_features(get_encoder(enc_cfg), [it.path for it in items],
                                 progress=False if args.no_progress else None, label=f"train {ds.info.name}",
                                 report=lambda m: failures.append(m))
    except KeyboardInterrupt:
        _note(cmd, "interrupted; nothing written")
        return EXIT_INTERRUPTED
    for m in failures[:5]:
        _note(cmd, m)
    used = [it for it, k in zip(items, ok) if k]
    y = np.array([ds.info.to_1_5(it.mos) for it in used])
    try:
        head = train_head(x, y, [it.content_id for it in used], config, pairs=prior)
    except TrainError as e:
        _err(cmd, f"{ds.info.name}: {e}")
        return EXIT_USAGE
    tau = fit_tau(np.clip(head.val_pred, 1.0, 5.0), head.val_y)
    info = head.info()
    card = ModelCard(
        name=name, version=args.model_version, encoder=enc_cfg, head=args.head, weights_sha256="",
        description=f"{args.head} head warmed up on {len(used)} labels of {ds.info.name} ({args.encoder} encoder)",
        levels={"bounds": [1.5, 2.5, 3.5, 4.5], "tau": tau}, trained_on=[ds.info.name],
        provenance=provenance("vqual train", _command(cmd, argv), dataset=ds.info.name,
                              labels=ds.info.label_files[0] if ds.info.label_files else None,
                              n_items=n_all, n_labels=len(used), n_unreadable=int((~ok).sum()),
                              label_scale={"range": list(ds.info.mos_range),
                                           "higher_is_better": ds.info.higher_is_better},
                              training=info))
    code = _write(cmd, out, card, head.arrays, args.overwrite)
    if code is not None:
        return code
    srcc = info["validation_srcc"]
    how = (f"with {info['synthetic_pairs']['n_pairs']} synthetic pairs, ridge {head.alpha:g} chosen on "
           f"{head.n_folds} validation fold(s)" if head.pairs is not None else
           f"{info['best_epoch']} steps (early stopping on {head.n_folds} validation fold(s))")
    print(f"{name} {args.model_version}: {args.head} head on {args.encoder}, {len(used)} labels of {ds.info.name}, "
          f"{how}")
    print(f"validation (out of fold): RMSE {head.val_rmse:.3f}, SRCC {'-' if srcc is None else f'{srcc:.3f}'}")
    print(f"wrote {out} (use --model {out if args.out else name})")
    return EXIT_FAILED if failures else EXIT_OK


# --- distill --------------------------------------------------------------------------------------------------------

def run_distill(args: argparse.Namespace, argv: list[str] | None = None, *, teachers: list | None = None) -> int:
    """``vqual distill``; `teachers` (loaded models) bypasses ``--teacher`` (tests)."""
    import numpy as np

    from vqual.adapt.distill import DistillConfig, DistillError, teacher_scores, teacher_signals, train_student
    from vqual.adapt.train import extract_features
    from vqual.data import DatasetError, load_manifest
    from vqual.eval import runner
    from vqual.eval.cache import PredictionCache
    from vqual.inputs import expand_inputs
    from vqual.models.user import ModelCard, encoder_config, get_encoder, provenance

    cmd = "distill"
    views = tuple(v.strip() for v in args.views.split(",") if v.strip())
    config = DistillConfig(encoder=args.encoder, views=views, pairs_per_item=args.pairs_per_item,
                           pair_weight=args.pair_weight, label_weight=args.label_weight, alpha=args.alpha,
                           seed=args.seed)
    try:
        out, name = _destination(args)
        ds = load_manifest(args.labels, mos_range=tuple(args.mos_range) if args.mos_range else None,
                           higher_is_better=not args.lower_better)
        if not views:
            raise ValueError("--views is empty")
        if teachers is None:
            names = [t.strip() for t in args.teacher.split(",") if t.strip()]
            if not names:
                raise ValueError("--teacher is empty")
            teachers = [runner.load_model(n) for n in names]
        teachers = [t.with_calibration(None) if getattr(t, "calibration", None) is not None else t for t in teachers]
    except (ValueError, DatasetError) as e:
        _err(cmd, str(e))
        return EXIT_USAGE
    for note in ds.notes:
        _note(cmd, note)
    labelled_paths = [str(it.path.resolve()) for it in ds.items]
    unlabelled = [str(Path(p).resolve()) for p in expand_inputs(args.unlabelled) if Path(p).is_file()]
    paths = list(dict.fromkeys(labelled_paths + unlabelled))  # labelled first; each file once
    if len(unlabelled) == 0:
        _err(cmd, f"no media files found in {', '.join(args.unlabelled)}")
        return EXIT_USAGE
    cache = None
    if not args.no_cache:
        try:
            cache = PredictionCache(args.cache_dir)
        except OSError as e:
            _note(cmd, f"teacher cache unavailable ({e}); running without it")
    progress = False if args.no_progress else None
    try:
        scores, errors = teacher_scores(teachers, paths, views, cache=cache, progress=progress,
                                        report=lambda m: _note(cmd, m))
        keep = np.array([e is None and not np.isnan(scores[:, :, i]).all() for i, e in enumerate(errors)])
        for e in [e for e in errors if e][:5]:
            _note(cmd, f"skipped {e}")
        enc_cfg = encoder_config(args.encoder)
        kept_paths = [p for p, k in zip(paths, keep) if k]
        x, ok = extract_features(get_encoder(enc_cfg), kept_paths, progress=progress, label="student features",
                                 report=lambda m: _note(cmd, m))
    except DistillError as e:
        _err(cmd, str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _note(cmd, "interrupted; nothing written (teacher outputs so far are cached)")
        return EXIT_INTERRUPTED
    finally:
        if cache is not None:
            cache.close()
    kept_paths = [p for p, k in zip(kept_paths, ok) if k]
    s = scores[:, :, keep][:, :, ok]
    index = {p: i for i, p in enumerate(kept_paths)}
    lab_items = [it for it in ds.items if str(it.path.resolve()) in index]
    labelled = np.array([index[str(it.path.resolve())] for it in lab_items], dtype=int)
    y = np.array([ds.info.to_1_5(it.mos) for it in lab_items])
    n_unreadable = len(paths) - len(kept_paths)
    try:
        signals = teacher_signals(s, n_pairs=min(config.max_pairs, config.pairs_per_item * len(kept_paths)),
                                  seed=config.seed)
        student = train_student(x, signals, labelled, y, [it.content_id for it in lab_items], config)
    except DistillError as e:
        _err(cmd, f"{args.labels}: {e}")
        return EXIT_USAGE
    teacher_ids = [{"name": t.name, "version": t.version, "weights_sha256": getattr(t, "weights_sha256", None)}
                   for t in teachers]
    trained_on = sorted({ds.info.name, *(d for t in teachers for d in getattr(t, "trained_on", ()))})
    card = ModelCard(
        name=name, version=args.model_version, encoder=enc_cfg, head="linear", weights_sha256="",
        description=f"student of {'+'.join(t.name for t in teachers)} on {args.encoder}, calibrated on "
                    f"{len(labelled)} labels",
        score_map=student.score_map.to_dict(), levels={"bounds": [1.5, 2.5, 3.5, 4.5], "tau": student.tau},
        trained_on=trained_on,
        provenance=provenance("vqual distill", _command(cmd, argv), teacher=teacher_ids, views=list(views),
                              n_unlabelled=len(unlabelled), n_items=len(kept_paths), n_unreadable=n_unreadable,
                              labels=Path(args.labels).name, n_labels=int(len(labelled)),
                              label_scale={"range": list(ds.info.mos_range),
                                           "higher_is_better": ds.info.higher_is_better},
                              student=student.info))
    code = _write(cmd, out, card, student.arrays, args.overwrite)
    if code is not None:
        return code
    cal = student.info["calibration"]
    fig = cal["cv"][cal["method"]]
    cross = student.info["cross_fitted"]
    t = signals.summary()
    print(f"{name} {args.model_version}: student of {'+'.join(t_.name for t_ in teachers)} ({len(views)} view(s)) "
          f"on {args.encoder}; {t['n_items']} items, {t['n_pairs']} pairs, {len(labelled)} labels")
    print(f"teacher reliability: points {t['mean_point_reliability']}, pairs {t['mean_pair_reliability']}")
    print(f"student on labels it did not learn (cross-fitted): SRCC {_fmt(cross['srcc'])}, PLCC {_fmt(cross['plcc'])}")
    print(f"calibration: {cal['method']} (on the cross-fitted outputs; {cal['k']}-fold RMSE {fig['rmse']:.3f})")
    print(f"wrote {out} (use --model {out if args.out else name})")
    return EXIT_FAILED if n_unreadable else EXIT_OK
