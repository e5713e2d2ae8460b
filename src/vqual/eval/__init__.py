"""Evaluation harness: metrics, protocols, a prediction cache, reports, and the ``vqual eval`` command.

>>> from vqual.eval import metrics
>>> round(metrics.srcc([1, 2, 3, 4], [1.5, 2.0, 3.9, 4.1]), 3)
1.0

Modules: `metrics` (SRCC, KRCC, PLCC, RMSE, logistic maps, level accuracy), `calibration` (fit/predict estimators),
`protocols` (split, cross, k-fold, few-label), `cache` (per-item predictions), `runner` (scoring a dataset),
`report` (JSON, table, HTML with SVG plots), `cli` (``vqual eval``).

Names are imported on first use, so that `vqual.adapt.calibrate` (which `calibration` re-exports) can use
`vqual.eval.metrics` without an import cycle.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "LogisticCalibrator": "calibration",
    **{n: "metrics" for n in ("LogisticFit", "LogisticFitError", "MetricError", "evaluate", "fit_logistic", "krcc",
                              "level_accuracy", "logistic4", "logistic5", "plcc", "rmse", "srcc")},
    **{n: "protocols" for n in ("EvalSet", "ProtocolError", "ProtocolResult", "kfold_indices", "run_cross",
                                "run_fewlabel", "run_kfold", "run_protocol", "run_split")},
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"vqual.eval.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'vqual.eval' has no attribute {name!r}")


__all__ = ["EvalSet", "LogisticCalibrator", "LogisticFit", "LogisticFitError", "MetricError", "ProtocolError",
           "ProtocolResult", "evaluate", "fit_logistic", "kfold_indices", "krcc", "level_accuracy", "logistic4",
           "logistic5", "plcc", "rmse", "run_cross", "run_fewlabel", "run_kfold", "run_protocol", "run_split", "srcc"]
