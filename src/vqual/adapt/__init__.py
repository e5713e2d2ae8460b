"""Adapting a model's output to the user: calibration of its score to the user's own MOS scale.

>>> from vqual.adapt import fit_calibration, load_calibration   # doctest: +SKIP
>>> cal = load_calibration("my-scale.json")                      # doctest: +SKIP
>>> model = vqual.load_model(calibration=cal)                     # doctest: +SKIP

See `vqual.adapt.calibrate` for the maps, the selection rule and the JSON form (``vqual calibrate`` on the command
line).
"""

from vqual.adapt.calibrate import (
    METHODS,
    MIN_LABELS,
    SCHEMA,
    Calibration,
    IsotonicMap,
    LinearMap,
    LogisticMap,
    as_calibration,
    cross_validate,
    fit_calibration,
    load_calibration,
    select_method,
)

__all__ = ["METHODS", "MIN_LABELS", "SCHEMA", "Calibration", "IsotonicMap", "LinearMap", "LogisticMap",
           "as_calibration", "cross_validate", "fit_calibration", "load_calibration", "select_method"]
