"""``vqual distill``: distil a teacher into a light student with unlabelled media and a few labels (the
command-line side of `vqual.adapt.distill`).

Like ``vqual train``, it writes a user model folder (`vqual.models.user`) atomically, to ``--out DIR`` or the models
home. Exit codes: 0 written; 1 written, but some files could not be read (reported); 2 nothing written (bad
arguments, too few labels, unknown model, unusable output folder); 130 interrupted (teacher outputs so far are
cached).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vqual.cli.args import (
    add_cache_args,
    add_label_scale_args,
    add_model_output_args,
    label_scale,
    model_destination,
    open_cache,
    progress_of,
    write_model,
)
from vqual.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, error, note

if TYPE_CHECKING:
    from vqual.models.base import Scorer


def add_distill_parser(sub: Any) -> argparse.ArgumentParser:
    from vqual.adapt.distill import VIEWS, DistillConfig
    from vqual.cli import COMMANDS

    d = DistillConfig()
    p = sub.add_parser(
        "distill", help=COMMANDS["distill"],
        description="A teacher (a model, or an ensemble 'a,b') scores unlabelled media in several views; a light "
                    "student head learns its scores and pair-wise preferences, weighted by their reliability, "
                    "together with your few labels, and is then calibrated on them. Teacher outputs are cached: an "
                    "interrupted run resumes.")
    p.add_argument("--teacher", "-t", required=True, help="model name or folder, or a comma-separated ensemble")
    p.add_argument("--unlabelled", "--unlabeled", required=True, action="append", metavar="DIR",
                   help="folders, files or globs of unlabelled media (repeatable)")
    p.add_argument("--labels", required=True, metavar="FILE",
                   help="CSV/TSV/JSONL manifest (path, mos[, content_id]) of your few labelled files")
    add_label_scale_args(p)
    p.add_argument("--views", default=",".join(d.views), help=f"teacher views among {', '.join(VIEWS)} "
                                                               "(default %(default)s)")
    p.add_argument("--pairs-per-item", type=int, default=d.pairs_per_item, help="default %(default)s")
    p.add_argument("--pair-weight", type=float, default=d.pair_weight, help="default %(default)s")
    p.add_argument("--label-weight", type=float, default=d.label_weight,
                   help="weight of your labels in the student's loss; 0: they only calibrate (default %(default)s)")
    p.add_argument("--alpha", type=float, default=d.alpha, help="ridge penalty (default %(default)s)")
    add_cache_args(p, "teacher")
    add_model_output_args(p)
    p.set_defaults(encoder=d.encoder, func=run_distill)
    return p


def run_distill(args: argparse.Namespace, *, teachers: list[Scorer] | None = None) -> int:
    """``vqual distill``; `teachers` (loaded models) bypasses ``--teacher`` (tests)."""
    from vqual.runtime import missing

    if problem := missing("torch", "train", "vqual distill"):  # the student is fitted with torch's optimisers
        return error("distill", problem)
    import numpy as np

    from vqual.adapt.distill import DistillConfig, DistillError, teacher_scores, teacher_signals, train_student
    from vqual.adapt.train import extract_features
    from vqual.data import DatasetError, load_manifest
    from vqual.encoders.features import encoder_config, get_encoder
    from vqual.eval import runner
    from vqual.inputs import expand_inputs
    from vqual.models.user import ModelCard, default_levels, provenance

    cmd = "distill"
    views = tuple(v.strip() for v in args.views.split(",") if v.strip())
    config = DistillConfig(encoder=args.encoder, views=views, pairs_per_item=args.pairs_per_item,
                           pair_weight=args.pair_weight, label_weight=args.label_weight, alpha=args.alpha,
                           seed=args.seed)
    try:
        out, name = model_destination(args)
        ds = load_manifest(args.labels, **label_scale(args))
        if not views:
            raise ValueError("--views is empty")
        if teachers is None:
            names = [t.strip() for t in args.teacher.split(",") if t.strip()]
            if not names:
                raise ValueError("--teacher is empty")
            teachers = [runner.load_model(n) for n in names]
        teachers = [t.with_calibration(None) if t.calibration is not None else t for t in teachers]
    except (ValueError, DatasetError) as e:
        return error(cmd, str(e))
    for msg in ds.notes:
        note(cmd, msg)
    labelled_paths = [str(it.path.resolve()) for it in ds.items]
    unlabelled = [str(Path(p).resolve()) for p in expand_inputs(args.unlabelled) if Path(p).is_file()]
    paths = list(dict.fromkeys(labelled_paths + unlabelled))  # labelled first; each file once
    if len(unlabelled) == 0:
        return error(cmd, f"no media files found in {', '.join(args.unlabelled)}")
    progress = progress_of(args)
    with open_cache(args, cmd, "teacher", "running") as cache:
        try:
            scores, errors = teacher_scores(teachers, paths, views, cache=cache, progress=progress,
                                            report=lambda m: note(cmd, m))
            keep = np.array([e is None and not np.isnan(scores[:, :, i]).all() for i, e in enumerate(errors)])
            for e in [e for e in errors if e][:5]:
                note(cmd, f"skipped {e}")
            enc_cfg = encoder_config(args.encoder)
            kept_paths = [p for p, k in zip(paths, keep) if k]
            x, ok = extract_features(get_encoder(enc_cfg), kept_paths, progress=progress, label="student features",
                                     report=lambda m: note(cmd, m))
        except DistillError as e:
            return error(cmd, str(e))
        except KeyboardInterrupt:
            note(cmd, "interrupted; nothing written (teacher outputs so far are cached)")
            return EXIT_INTERRUPTED
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
        return error(cmd, f"{args.labels}: {e}")
    teacher_ids = [{"name": t.name, "version": t.version, "weights_sha256": t.weights_sha256}
                   for t in teachers]
    trained_on = sorted({ds.info.name, *(d for t in teachers for d in t.trained_on)})
    card = ModelCard(
        name=name, version=args.model_version, encoder=enc_cfg, head="linear", weights_sha256="",
        description=f"student of {'+'.join(t.name for t in teachers)} on {args.encoder}, calibrated on "
                    f"{len(labelled)} labels",
        score_map=student.score_map.to_dict(), levels=default_levels(student.tau),
        trained_on=trained_on,
        provenance=provenance("vqual distill", args.command_line, teacher=teacher_ids, views=list(views),
                              n_unlabelled=len(unlabelled), n_items=len(kept_paths), n_unreadable=n_unreadable,
                              labels=Path(args.labels).name, n_labels=int(len(labelled)),
                              label_scale={"range": list(ds.info.mos_range),
                                           "higher_is_better": ds.info.higher_is_better},
                              student=student.info))
    code = write_model(cmd, out, card, student.arrays, args.overwrite)
    if code is not None:
        return code
    cal = student.info["calibration"]
    fig = cal["cv"][cal["method"]]
    cross = student.info["cross_fitted"]
    t = signals.summary()
    print(f"{name} {args.model_version}: student of {'+'.join(t_.name for t_ in teachers)} ({len(views)} view(s)) "
          f"on {args.encoder}; {t['n_items']} items, {t['n_pairs']} pairs, {len(labelled)} labels")
    print(f"teacher reliability: points {t['mean_point_reliability']}, pairs {t['mean_pair_reliability']}")
    print(f"student on labels it did not learn (cross-fitted): SRCC {_fmt(cross['srcc'])}, PLCC "
          f"{_fmt(cross['plcc'])}")
    print(f"calibration: {cal['method']} (on the cross-fitted outputs; {cal['k']}-fold RMSE {fig['rmse']:.3f})")
    print(f"wrote {out} (use --model {out if args.out else name})")
    return EXIT_FAILED if n_unreadable else EXIT_OK


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"
