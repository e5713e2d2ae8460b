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

    specs = list_models()
    width = max([16, *(len(s.name) for s in specs)])
    for s in specs:
        mark = "*" if s.name == default_model_name() else " "
        print(f"{mark} {s.name:<{width}} {s.version:<8} {s.description}")
    print("(* = default)")
    return EXIT_OK
