"""``vqual models``: list the registered models with their versions."""

from __future__ import annotations

import argparse

from vqual.cli.exits import EXIT_OK


def add_models_parser(sub) -> argparse.ArgumentParser:
    from vqual.cli import COMMANDS

    p = sub.add_parser("models", help=COMMANDS["models"])
    p.set_defaults(func=run_models)
    return p


def run_models(args: argparse.Namespace | None = None) -> int:
    from vqual.api import list_models
    from vqual.registry import default_model_name

    for s in list_models():
        mark = "*" if s.name == default_model_name() else " "
        print(f"{mark} {s.name:<16} {s.version:<8} {s.description}")
    print("(* = default)")
    return EXIT_OK
