"""Argument groups several `vqual` sub-commands share (a labelled set, a label scale, the prediction cache, the
model folder to write), and the helpers that read them back from the parsed arguments."""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vqual.errors import VqualError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from vqual.data import Dataset
    from vqual.eval.cache import PredictionCache


class UsageError(VqualError):
    """Bad command-line arguments (exit code 2)."""


def add_label_scale_args(g: Any, prefix: str = "") -> None:
    """``--mos-range LOW HIGH`` and ``--lower-better``: the scale of a label file; `prefix` starts their help
    (``"manifest: "`` where the labels may also come from a built-in dataset, whose scale is known)."""
    g.add_argument("--mos-range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                   help=f"{prefix}label scale (default: inferred from the labels: 1-5, 0-1, 0-5, 0-10 or 0-100)")
    g.add_argument("--lower-better", action="store_true", help=f"{prefix}labels are DMOS-like (lower is better)")


def label_scale(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `vqual.data.load_manifest` that `add_label_scale_args` options give."""
    return {"mos_range": tuple(args.mos_range) if args.mos_range else None, "higher_is_better": not args.lower_better}


def add_dataset_args(g: Any, *, columns: str, list_hint: str = "see `vqual eval --list-datasets`",
                     option_help: str | None = None) -> None:
    """A labelled set: ``--dataset NAME --root DIR`` (a built-in benchmark) or ``--manifest FILE`` (your own,
    with the `columns` named in its help) and its label scale; with `option_help`, ``--option KEY=VALUE`` too
    (dataset loader options, read by `parse_options`). Read back by `load_dataset_args`."""
    g.add_argument("--dataset", metavar="NAME", help=f"built-in dataset ({list_hint})")
    g.add_argument("--root", metavar="DIR", help="folder you downloaded the dataset to")
    g.add_argument("--manifest", metavar="FILE", help=f"your own CSV/TSV/JSONL manifest ({columns})")
    add_label_scale_args(g, "manifest: ")
    if option_help is not None:
        g.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help=option_help)


def load_dataset_args(args: argparse.Namespace, prefix: str = "", options: dict[str, Any] | None = None) -> Dataset:
    """The labelled set ``--{prefix}dataset``/``--{prefix}root`` or ``--{prefix}manifest`` name (exactly one; the
    label scale options apply to a manifest), loaded by `vqual.eval.runner.load_labelled_set` with the dataset
    loader `options`. Raises `UsageError` for a wrong combination, `vqual.data.DatasetError` when loading fails."""
    from vqual.eval.runner import load_labelled_set

    dest = prefix.replace("-", "_")
    dataset, root, manifest = (getattr(args, f"{dest}{k}") for k in ("dataset", "root", "manifest"))
    if bool(dataset) == bool(manifest):
        raise UsageError(f"give exactly one of --{prefix}dataset or --{prefix}manifest")
    if dataset and not root:
        raise UsageError(f"--{prefix}dataset {dataset} needs --{prefix}root DIR (the folder you downloaded it to)")
    reference = getattr(args, f"{dest}reference", None)  # `vqual eval --reference COLUMN`
    if reference and dataset:
        raise UsageError(f"--reference names a manifest column; --{prefix}dataset {dataset} has no manifest")
    return load_labelled_set(dataset, root, manifest, options=options, reference_column=reference,
                             **label_scale(args))


def parse_options(opts: list[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` values as keyword arguments: true/yes/1/on and false/no/0/off are booleans, anything
    else a string; dashes in keys become underscores. Raises `UsageError` for a value without ``=``."""
    out: dict[str, Any] = {}
    for o in opts:
        if "=" not in o:
            raise UsageError(f"--option expects KEY=VALUE, got {o!r}")
        k, v = o.split("=", 1)
        low = v.strip().lower()
        val: Any
        if low in ("true", "yes", "1", "on"):
            val = True
        elif low in ("false", "no", "0", "off"):
            val = False
        else:
            val = v.strip()
        out[k.strip().replace("-", "_")] = val
    return out


def add_cache_args(g: Any, what: str = "prediction") -> None:
    """``--no-cache`` and ``--cache-dir DIR``: the prediction cache `vqual eval` keeps (read by `open_cache`)."""
    from vqual.eval.cache import default_cache_dir

    g.add_argument("--no-cache", action="store_true", help=f"do not read or write the {what} cache")
    g.add_argument("--cache-dir", metavar="DIR", help=f"{what} cache folder (default {default_cache_dir()})")


@contextmanager
def open_cache(args: argparse.Namespace, command: str, what: str = "prediction",
               without: str = "scoring") -> Iterator[PredictionCache | None]:
    """The prediction cache the `add_cache_args` options ask for, closed on leaving; None with ``--no-cache`` or
    when it cannot be opened (said on stderr: the command goes on without it)."""
    from vqual.cli.exits import note
    from vqual.eval.cache import PredictionCache

    cache = None
    if not args.no_cache:
        try:
            cache = PredictionCache(args.cache_dir)
        except OSError as e:
            note(command, f"{what} cache unavailable ({e}); {without} without it")
    try:
        yield cache
    finally:
        if cache is not None:
            cache.close()


def add_model_output_args(p: argparse.ArgumentParser) -> None:
    """What `vqual train` and `vqual distill` share: the model folder they write (``--out``, ``--name``,
    ``--model-version``, ``--overwrite``; read back by `model_destination`), the frozen ``--encoder``, ``--seed``
    and ``--progress``."""
    from vqual.encoders.features import PRESETS as ENCODERS
    from vqual.models.user import models_home

    g = p.add_argument_group("output")
    g.add_argument("--out", "-o", metavar="DIR", help="model folder to write (atomically)")
    g.add_argument("--name", help=f"model name (default: the --out folder's name); with no --out the model goes to "
                                  f"{models_home()}/NAME and is usable as --model NAME")
    g.add_argument("--model-version", default="1.0.0", help="version recorded in the model (default 1.0.0)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.add_argument("--encoder", choices=tuple(ENCODERS), help="frozen encoder the head sits on")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    add_progress_args(p)


def add_progress_args(p) -> None:
    """``--progress {auto,bar,log,off}`` and its alias ``--no-progress``; read back by `progress_of`."""
    from vqual.progress import LOG_EVERY, MODES

    p.add_argument("--progress", choices=MODES, default="auto",
                   help=f"auto: a bar on a terminal (default); bar: always a bar; log: a plain line on stderr every "
                        f"{LOG_EVERY:g} s and at the end (for logs and schedulers); off")
    p.add_argument("--no-progress", dest="progress", action="store_const", const="off",
                   help="the same as --progress off")


def progress_of(args: argparse.Namespace) -> bool | str | None:
    """The `Progress(enabled=...)` value of the parsed ``--progress`` option."""
    from vqual.progress import progress_setting

    return progress_setting(args.progress)


def model_destination(args: argparse.Namespace) -> tuple[Path, str]:
    """(folder, model name) from the `add_model_output_args` options; raises ValueError."""
    from vqual.models.user import check_name, models_home

    if not args.out and not args.name:
        raise ValueError("give --out DIR or --name NAME")
    out = Path(args.out).expanduser() if args.out else models_home() / args.name
    name = args.name or out.name.lower()
    check_name(name)
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} already exists (pass --overwrite to replace a model folder)")
    return out, name


def write_model(command: str, out: Path, card: Any, arrays: dict, overwrite: bool) -> int | None:
    """Write the model folder `out` (`vqual.models.user.write_model_dir`); None when written, else the exit code
    (the reason said on stderr)."""
    from vqual.cli.exits import EXIT_FAILED, error
    from vqual.models.user import write_model_dir

    try:
        write_model_dir(out, card, arrays, overwrite=overwrite)
    except (ValueError, OSError) as e:
        return error(command, f"cannot write {out}: {e}", EXIT_FAILED)
    return None
