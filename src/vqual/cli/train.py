"""``vqual train``: warm up a new head on the frozen encoder from a few labels (the command-line side of
`vqual.adapt.train`).

Like ``vqual distill``, it writes a user model folder (`vqual.models.user`) atomically: to ``--out DIR``, or, with
only ``--name NAME``, to the models home (``$VQUAL_HOME/models/NAME``), where ``--model NAME`` finds it. Exit codes:
0 written; 1 written, but some files could not be read (reported); 2 nothing written (bad arguments, too few labels,
unknown model, unusable output folder); 130 interrupted.
"""

from __future__ import annotations

import argparse
from typing import Any

from vqual.cli.args import (
    UsageError,
    add_dataset_args,
    add_model_output_args,
    load_dataset_args,
    model_destination,
    parse_options,
    progress_of,
    write_model,
)
from vqual.cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, error, note


def add_train_parser(sub: Any) -> argparse.ArgumentParser:
    from vqual.adapt.train import TrainConfig
    from vqual.cli import COMMANDS

    d = TrainConfig()
    p = sub.add_parser(
        "train", help=COMMANDS["train"],
        description="Train a score head (linear or MLP) on the frozen vqual encoder from a labelled set, or a small "
                    "seeded fraction of it, with early stopping on validation folds; writes a model folder usable "
                    "with --model everywhere.")
    g = p.add_argument_group("data")
    add_dataset_args(g, columns="path, mos[, content_id]", option_help="dataset loader option")
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
                   help="also learn from vqual-lite's synthetic ranking pairs (same picture, stronger distortion "
                        "= worse), with the ridge strength chosen on the validation folds; default: on for a linear "
                        "head on an encoder whose pair prior ships (lite, lite2), the only combinations it applies to")
    add_model_output_args(p)
    # lite2 (the default model's encoder): 0.656 / 0.736 / 0.774 SRCC with 25 / 50 / 150 clive-fewlabel labels
    # against lite's 0.555 / 0.643 / 0.726, same draws (BENCHMARKS.md, "Few-label adaptation")
    p.set_defaults(encoder="lite2", func=run_train)
    return p


def run_train(args: argparse.Namespace) -> int:
    """``vqual train``; see the module docstring for exit codes."""
    from vqual.runtime import missing

    if problem := missing("torch", "train", "vqual train"):  # the heads are fitted with torch's optimisers
        return error("train", problem)
    import numpy as np

    from vqual.adapt.train import TrainConfig, TrainError, extract_features, train_head
    from vqual.data import DatasetError
    from vqual.encoders.features import encoder_config, get_encoder
    from vqual.heads.levels import fit_tau
    from vqual.models.user import ModelCard, default_levels, provenance

    cmd = "train"
    try:
        out, name = model_destination(args)
        ds = load_dataset_args(args, options=parse_options(args.option))
        if args.split:
            ds = ds.subset(args.split)
        if args.n_labels is not None and args.fraction is not None:
            raise UsageError("give at most one of --n-labels and --fraction")
    except (ValueError, UsageError, DatasetError) as e:
        return error(cmd, str(e))
    for msg in ds.notes:
        note(cmd, msg)
    items = ds.items
    n_all = len(items)
    if args.fraction is not None or args.n_labels is not None:
        k = args.n_labels if args.n_labels is not None else int(round(args.fraction * n_all))
        if not 0 < k <= n_all:
            return error(cmd, f"{ds.info.name}: cannot draw {k} of its {n_all} items")
        pick = np.sort(np.random.default_rng(args.seed).permutation(n_all)[:k])
        items = [items[i] for i in pick]
    config = TrainConfig(head=args.head, hidden=args.hidden, weight_decay=args.weight_decay,
                         max_epochs=args.max_epochs, patience=args.patience, val_folds=args.val_folds,
                         val_fraction=args.val_fraction, seed=args.seed)
    from vqual.adapt.pairs import PRIOR_ENCODERS, has_pair_prior, load_pair_prior

    fits = args.head == "linear" and has_pair_prior(args.encoder)
    if args.synthetic_pairs and not fits:
        have = " or ".join(e for e in PRIOR_ENCODERS if has_pair_prior(e))
        return error(cmd, f"--synthetic-pairs needs --head linear and an encoder with a pair prior ({have}); got "
                          f"--head {args.head} --encoder {args.encoder}")
    use = args.synthetic_pairs if args.synthetic_pairs is not None else fits
    prior = load_pair_prior(args.encoder) if use else None
    enc_cfg = encoder_config(args.encoder)
    failures: list[str] = []
    try:
        x, ok = extract_features(get_encoder(enc_cfg), [it.path for it in items],
                                 progress=progress_of(args), label=f"train {ds.info.name}",
                                 report=lambda m: failures.append(m))
    except KeyboardInterrupt:
        note(cmd, "interrupted; nothing written")
        return EXIT_INTERRUPTED
    for m in failures[:5]:
        note(cmd, m)
    used = [it for it, k in zip(items, ok) if k]
    y = np.array([ds.info.to_1_5(it.mos) for it in used])
    try:
        head = train_head(x, y, [it.content_id for it in used], config, pairs=prior)
    except TrainError as e:
        return error(cmd, f"{ds.info.name}: {e}")
    tau = fit_tau(np.clip(head.val_pred, 1.0, 5.0), head.val_y)
    info = head.info()
    card = ModelCard(
        name=name, version=args.model_version, encoder=enc_cfg, head=args.head, weights_sha256="",
        description=f"{args.head} head warmed up on {len(used)} labels of {ds.info.name} ({args.encoder} encoder)",
        levels=default_levels(tau), trained_on=[ds.info.name],
        provenance=provenance("vqual train", args.command_line, dataset=ds.info.name,
                              labels=ds.info.label_files[0] if ds.info.label_files else None,
                              n_items=n_all, n_labels=len(used), n_unreadable=int((~ok).sum()),
                              label_scale={"range": list(ds.info.mos_range),
                                           "higher_is_better": ds.info.higher_is_better},
                              training=info))
    code = write_model(cmd, out, card, head.arrays, args.overwrite)
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


