"""``vqual explain``: `vqual score` with an explanation per input from an explaining model."""

from __future__ import annotations

import argparse
from functools import partial

from vqual.cli.score import EXPLAIN_MODEL, add_score_args, run_score_args


def add_explain_parser(sub) -> argparse.ArgumentParser:
    from vqual.cli import COMMANDS

    p = sub.add_parser("explain", help=COMMANDS["explain"],
                       description="Like `vqual score`, with an explanation per input from an explaining model "
                                   f"(default {EXPLAIN_MODEL}), read back against the score and the attributes: a "
                                   "contradiction is flagged in the result (explanation_check).")
    add_score_args(p, default_model=EXPLAIN_MODEL)
    p.set_defaults(model=EXPLAIN_MODEL, func=partial(run_score_args, explain=True))
    return p
