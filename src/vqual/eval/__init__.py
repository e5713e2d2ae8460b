"""Evaluation harness: metrics, protocols, a prediction cache, reports (the ``vqual eval`` command is
`vqual.cli.eval`).

>>> from vqual.eval import metrics
>>> round(metrics.srcc([1, 2, 3, 4], [1.5, 2.0, 3.9, 4.1]), 3)
1.0

Modules: `metrics` (SRCC, KRCC, PLCC, RMSE, logistic maps, level accuracy), `protocols` (split, cross, k-fold,
few-label), `cache` (per-item predictions), `runner` (loading and scoring a labelled set), `report` (JSON, table,
HTML with SVG plots).

Names are imported on first use: `vqual.eval.metrics` sits below `vqual.adapt` (fitting builds on it) while the
protocols sit above it (they fit `vqual.adapt`'s maps in each fold), so importing the metrics must not load the
protocols.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    **{n: "metrics" for n in ("LogisticFit", "LogisticFitError", "MetricError", "evaluate", "fit_logistic", "krcc",
                              "level_accuracy", "logistic5", "plcc", "rmse", "srcc")},
    **{n: "protocols" for n in ("EvalSet", "ProtocolError", "ProtocolResult", "run_cross",
                                "run_fewlabel", "run_kfold", "run_protocol", "run_split")},
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"vqual.eval.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'vqual.eval' has no attribute {name!r}")


__all__ = ["EvalSet", "LogisticFit", "LogisticFitError", "MetricError", "ProtocolError", "ProtocolResult", "evaluate",
           "fit_logistic", "krcc", "level_accuracy", "logistic5", "plcc", "rmse", "run_cross", "run_fewlabel",
           "run_kfold", "run_protocol", "run_split", "srcc"]
