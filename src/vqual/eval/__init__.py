"""Evaluation harness: metrics, protocols, a prediction cache, reports, and the ``vqual eval`` command.

>>> from vqual.eval import metrics
>>> round(metrics.srcc([1, 2, 3, 4], [1.5, 2.0, 3.9, 4.1]), 3)
1.0

Modules: `metrics` (SRCC, KRCC, PLCC, RMSE, logistic maps, level accuracy), `calibration` (fit/predict estimators),
`protocols` (split, cross, k-fold, few-label), `cache` (per-item predictions), `runner` (scoring a dataset),
`report` (JSON, table, HTML with SVG plots), `cli` (``vqual eval``).
"""

from vqual.eval.calibration import LogisticCalibrator
from vqual.eval.metrics import (
    LogisticFit,
    LogisticFitError,
    MetricError,
    evaluate,
    fit_logistic,
    krcc,
    level_accuracy,
    logistic4,
    logistic5,
    plcc,
    rmse,
    srcc,
)
from vqual.eval.protocols import (
    EvalSet,
    ProtocolError,
    ProtocolResult,
    kfold_indices,
    run_cross,
    run_fewlabel,
    run_kfold,
    run_protocol,
    run_split,
)

__all__ = ["EvalSet", "LogisticCalibrator", "LogisticFit", "LogisticFitError", "MetricError", "ProtocolError",
           "ProtocolResult", "evaluate", "fit_logistic", "kfold_indices", "krcc", "level_accuracy", "logistic4",
           "logistic5", "plcc", "rmse", "run_cross", "run_fewlabel", "run_kfold", "run_protocol", "run_split", "srcc"]
