"""Adapting a model to the user: fitting a calibration of its score to the user's own MOS scale (`calibrate`: the
maps of `maps` cross-validated on content-grouped `folds`, one chosen), training heads (`train`, `pairs`) and
distilling a student (`distill`).

>>> from vqual.adapt import fit_calibration                        # doctest: +SKIP
>>> cal = fit_calibration(scores, labels, model=model, scale=scale)  # doctest: +SKIP
>>> cal.save("my-scale.json")                                       # doctest: +SKIP
>>> model = vqual.load_model(calibration="my-scale.json")           # doctest: +SKIP

The fitted maps and the calibration file that scoring loads are `vqual.calibration` (which needs nothing from
here); ``vqual calibrate`` is the command line.
"""

from vqual.adapt.calibrate import MIN_LABELS, cross_validate, fit_calibration, select_method
from vqual.adapt.maps import IsotonicEstimator, LinearEstimator, LogisticEstimator, make_map

__all__ = ["MIN_LABELS", "IsotonicEstimator", "LinearEstimator", "LogisticEstimator", "cross_validate",
           "fit_calibration", "make_map", "select_method"]
