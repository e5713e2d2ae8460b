"""Score calibrators fitted inside the training part of a fold (a thin re-export of `vqual.adapt.calibrate`).

A protocol only needs an object with ``fit(x, y) -> self``, ``predict(x) -> ndarray`` and ``to_dict()``; pass a
factory (any zero-argument callable, e.g. the class) to the protocol functions to swap in another estimator
(`vqual.adapt.calibrate.IsotonicMap` or `LinearMap`, for instance). `LogisticCalibrator` is
`vqual.adapt.calibrate.LogisticMap`: one implementation serves ``vqual eval`` and ``vqual calibrate``.
"""

from __future__ import annotations

from vqual.adapt.calibrate import LogisticMap
from vqual.adapt.calibrate import MapFactory as CalibratorFactory
from vqual.adapt.calibrate import MonotoneMap as Calibrator

LogisticCalibrator = LogisticMap

__all__ = ["Calibrator", "CalibratorFactory", "LogisticCalibrator"]
