"""Evaluation protocols: the official split, cross-dataset, content-grouped k-fold, and few-label curves.

Every protocol runs in one of two calibration modes:

- ``model``: the model's own 1-5 score is compared with the MOS (zero-shot; the training part is not used);
- ``fitted``: a calibrator (default `vqual.adapt.maps.LogisticEstimator`, the 4-parameter logistic that
  ``vqual calibrate`` fits too) maps the model's raw score to MOS; it is fitted on the training part of each fold
  only and applied to the test part.

MOS are on vqual's 1-5 scale (see `vqual.data.base`). Metrics come from `vqual.eval.metrics.evaluate` on the test
part; the summary over folds / repeats is mean and sample std (ddof=1).

Seeds: k-fold shuffles the content ids with ``numpy.random.default_rng(seed)``; the few-label draw for N labels
and repeat r uses ``default_rng([seed, N, r])``, so each curve point is reproducible on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vqual.adapt.folds import ProtocolError, content_ids, kfold_indices
from vqual.adapt.maps import LogisticEstimator
from vqual.adapt.maps import MapFactory as CalibratorFactory
from vqual.eval.metrics import METRIC_KEYS, MetricError, bootstrap_ci, evaluate, flat, mean_std

PROTOCOLS = ("whole", "split", "cross", "kfold", "fewlabel")
CALIBRATIONS = ("model", "fitted")
DEFAULT_SIZES = (25, 50, 100, 200)
#: Bootstrap resamples of the whole-set protocol's confidence intervals.
DEFAULT_BOOTSTRAP = 1000


@dataclass
class EvalSet:
    """Scores and labels of the successfully scored items of one dataset, as parallel arrays."""

    ids: np.ndarray  # index of each item in the run's item list
    mos: np.ndarray  # label on 1-5, higher is better
    score: np.ndarray  # the model's own 1-5 score
    feature: np.ndarray  # what a fitted calibrator maps (the raw score when every item has one, else the score)
    content: np.ndarray  # content id (object array of str)
    split: np.ndarray  # official split or None (object array)
    feature_name: str = "score"

    def __len__(self) -> int:
        return int(self.ids.size)

    @classmethod
    def from_arrays(cls, mos: Sequence[float], score: Sequence[float], *, raw: Sequence[float | None] | None = None,
                    content: Sequence[str] | None = None, split: Sequence[str | None] | None = None,
                    ids: Sequence[int] | None = None) -> EvalSet:
        n = len(mos)
        if len(score) != n:
            raise ProtocolError(f"{len(score)} scores for {n} labels")
        raw_ok = raw is not None and len(raw) == n and all(r is not None and np.isfinite(r) for r in raw)
        feature = np.asarray(raw if raw_ok else score, dtype=float)
        return cls(ids=np.asarray(ids if ids is not None else range(n), dtype=int),
                   mos=np.asarray(mos, dtype=float), score=np.asarray(score, dtype=float), feature=feature,
                   content=np.asarray(content_ids(content, n), dtype=object),
                   split=np.asarray(split if split is not None else [None] * n, dtype=object),
                   feature_name="raw_score" if raw_ok else "score")

    @classmethod
    def from_records(cls, records: Iterable[Any]) -> EvalSet:
        """From `vqual.eval.runner.ItemRecord`-like objects; only records with ``status == "ok"`` are used."""
        ok = [r for r in records if r.status == "ok"]
        return cls.from_arrays([r.mos_1_5 for r in ok], [r.score for r in ok], raw=[r.raw_score for r in ok],
                               content=[r.content_id for r in ok], split=[r.split for r in ok],
                               ids=[r.index for r in ok])

    def take(self, idx: np.ndarray) -> EvalSet:
        return EvalSet(self.ids[idx], self.mos[idx], self.score[idx], self.feature[idx], self.content[idx],
                       self.split[idx], self.feature_name)


@dataclass
class ProtocolResult:
    """The outcome of one protocol in one calibration mode."""

    protocol: str
    calibration: str
    params: dict[str, Any]
    folds: list[dict[str, Any]] = field(default_factory=list)  # per fold / split: sizes, metrics, calibrator
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> {mean, std, n} over folds
    pooled: dict[str, Any] | None = None  # k-fold: metrics over all out-of-fold predictions
    predictions: list[dict[str, Any]] = field(default_factory=list)  # {id, prediction, fold} for each test item
    curve: list[dict[str, Any]] = field(default_factory=list)  # few-label: one point per N
    notes: list[str] = field(default_factory=list)
    ci: dict[str, Any] | None = None  # whole set: bootstrap confidence intervals (`metrics.bootstrap_ci`)

    @property
    def label(self) -> str:
        return f"{self.protocol}/{self.calibration}"

    def to_dict(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "calibration": self.calibration, "params": self.params,
                "summary": self.summary, "pooled": self.pooled, "folds": self.folds, "curve": self.curve,
                "predictions": self.predictions, "notes": self.notes, "ci": self.ci}


def _check_calibration(calibration: str) -> None:
    if calibration not in CALIBRATIONS:
        raise ProtocolError(f"calibration must be one of {', '.join(CALIBRATIONS)}, not {calibration!r}")


def _fold(name: str, train: EvalSet | None, test: EvalSet, calibration: str, factory: CalibratorFactory,
          *, full: bool = True) -> tuple[dict[str, Any], np.ndarray | None]:
    """Calibrate on `train` (fitted mode), predict `test`, evaluate. Returns the fold record and the predictions."""
    rec: dict[str, Any] = {"name": name, "n_train": 0 if train is None else len(train), "n_test": len(test)}
    if calibration == "fitted":
        if train is None or len(train) == 0:
            raise ProtocolError(f"{name}: no training items to fit the calibration on")
        cal = factory().fit(train.feature, train.mos)
        pred = np.asarray(cal.predict(test.feature), dtype=float)
        rec["calibrator"] = cal.to_dict()
    else:
        pred = test.score.astype(float)
    try:
        m = evaluate(pred, test.mos, mapped=True if full else (4,))
        rec["metrics"] = m if full else flat(m)
    except MetricError as e:
        rec["metrics"] = {}
        rec["error"] = str(e)
    return rec, pred


def _summarise(folds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: mean_std([f["metrics"].get(k) for f in folds]) for k in METRIC_KEYS}


def run_whole(data: EvalSet, calibration: str = "model", *, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0,
              level: float = 0.95, calibrator: CalibratorFactory = LogisticEstimator) -> ProtocolResult:
    """The whole set, no fitting: the model's own score against the MOS over every scored item (SRCC, KRCC, PLCC,
    RMSE, the logistic-mapped metrics and level accuracy, as `evaluate`), with percentile bootstrap confidence
    intervals (`metrics.bootstrap_ci`; `n_boot` 0: none) of SRCC, KRCC, PLCC, RMSE and PLCC after the 4-parameter
    logistic. Only the ``model`` calibration exists: nothing is trained. `calibrator` is unused (uniform API)."""
    del calibrator
    if calibration != "model":
        raise ProtocolError("whole-set protocol: nothing is fitted, it compares the model's own score with the "
                            f"labels (calibration 'model', not {calibration!r})")
    if len(data) < 3:
        raise ProtocolError(f"whole-set protocol: needs at least 3 scored items, got {len(data)}")
    res = ProtocolResult("whole", "model", {"n_boot": n_boot, "seed": seed, "level": level, "feature": "score"})
    rec, pred = _fold("all", None, data, "model", LogisticEstimator)
    res.folds.append(rec)
    res.summary = _summarise(res.folds)
    res.predictions = [{"id": int(i), "prediction": float(p), "fold": "all"} for i, p in zip(data.ids, pred)]
    if n_boot > 0 and not rec.get("error"):
        try:
            res.ci = bootstrap_ci(pred, data.mos, groups=data.content, n_boot=n_boot, seed=seed, level=level)
        except MetricError as e:
            res.notes.append(f"no confidence intervals: {e}")
        else:
            for k, iv in res.ci["intervals"].items():
                res.summary[k].update(ci_low=iv["low"], ci_high=iv["high"])
            if res.ci["unit"] == "content":
                res.notes.append("confidence intervals resample whole contents (some contents have several items)")
    return res


def run_split(data: EvalSet, calibration: str = "model", *, train_split: str = "train", test_split: str = "test",
              calibrator: CalibratorFactory = LogisticEstimator) -> ProtocolResult:
    """The dataset's own split: evaluate on `test_split`, fit the calibration (fitted mode) on `train_split`."""
    _check_calibration(calibration)
    splits = sorted({s for s in data.split if s})
    test_idx = np.flatnonzero(data.split == test_split)
    if test_idx.size == 0:
        have = ", ".join(splits) if splits else "none"
        raise ProtocolError(f"split protocol: no scored items in split {test_split!r} (splits present: {have}); "
                            "use --protocol kfold for a dataset without an official split")
    train = None
    if calibration == "fitted":
        train_idx = np.flatnonzero(data.split == train_split)
        if train_idx.size == 0:
            raise ProtocolError(f"split protocol: no scored items in split {train_split!r} to fit the calibration on")
        train = data.take(train_idx)
    test = data.take(test_idx)
    res = ProtocolResult("split", calibration, {"train_split": train_split, "test_split": test_split,
                                                "feature": data.feature_name})
    rec, pred = _fold(f"{train_split}->{test_split}", train, test, calibration, calibrator)
    res.folds.append(rec)
    res.summary = _summarise(res.folds)
    res.predictions = [{"id": int(i), "prediction": float(p), "fold": rec["name"]} for i, p in zip(test.ids, pred)]
    return res


def run_cross(train: EvalSet, test: EvalSet, calibration: str = "model", *, train_name: str = "train",
              test_name: str = "test", calibrator: CalibratorFactory = LogisticEstimator) -> ProtocolResult:
    """Cross-dataset: fit the calibration (fitted mode) on all of `train`, evaluate on all of `test`."""
    _check_calibration(calibration)
    if len(test) == 0:
        raise ProtocolError("cross protocol: the test dataset has no scored items")
    res = ProtocolResult("cross", calibration, {"train": train_name, "test": test_name,
                                                "feature": test.feature_name})
    if calibration == "fitted" and train.feature_name != test.feature_name:
        # both sides must map the same quantity
        train = EvalSet(train.ids, train.mos, train.score, train.score, train.content, train.split, "score")
        test = EvalSet(test.ids, test.mos, test.score, test.score, test.content, test.split, "score")
        res.params["feature"] = "score"
        res.notes.append("raw scores missing on one side: the calibration maps the model's 1-5 score")
    rec, pred = _fold(f"{train_name}->{test_name}", train, test, calibration, calibrator)
    res.folds.append(rec)
    res.summary = _summarise(res.folds)
    res.predictions = [{"id": int(i), "prediction": float(p), "fold": rec["name"]} for i, p in zip(test.ids, pred)]
    return res


def run_kfold(data: EvalSet, calibration: str = "model", *, k: int = 5, seed: int = 0,
              calibrator: CalibratorFactory = LogisticEstimator) -> ProtocolResult:
    """k-fold cross-validation with content-grouped, seeded folds: each fold is the test part once."""
    _check_calibration(calibration)
    folds = kfold_indices(data.content, k, seed)
    res = ProtocolResult("kfold", calibration, {"k": k, "seed": seed, "feature": data.feature_name,
                                                "grouping": "content_id"})
    all_ids, all_pred = [], []
    everything = np.arange(len(data))
    for f, test_idx in enumerate(folds):
        train_idx = np.setdiff1d(everything, test_idx)
        rec, pred = _fold(f"fold{f + 1}", data.take(train_idx), data.take(test_idx), calibration, calibrator)
        res.folds.append(rec)
        all_ids.extend(data.ids[test_idx].tolist())
        all_pred.extend(pred.tolist())
        res.predictions += [{"id": int(i), "prediction": float(p), "fold": rec["name"]}
                            for i, p in zip(data.ids[test_idx], pred)]
    res.summary = _summarise(res.folds)
    mos_by_id = dict(zip(data.ids.tolist(), data.mos.tolist()))
    try:
        res.pooled = evaluate(all_pred, [mos_by_id[i] for i in all_ids])
    except MetricError as e:
        res.pooled = {"error": str(e)}
    res.predictions.sort(key=lambda d: d["id"])
    return res


def run_fewlabel(data: EvalSet, calibration: str = "fitted", *, sizes: Sequence[int] = DEFAULT_SIZES,
                 repeats: int = 10, seed: int = 0, min_test: int = 20,
                 calibrator: CalibratorFactory = LogisticEstimator) -> ProtocolResult:
    """Few-label curve: for each N in `sizes`, draw N labelled items `repeats` times, calibrate on them (fitted
    mode) and evaluate on every item whose content is not among the labelled ones.

    In ``model`` mode the same test parts are scored with the model's own calibration (the labels are unused), which
    gives the zero-shot baseline of the curve. Sizes that leave fewer than `min_test` test items are skipped with a
    note. Each point holds the mean and std of every metric over the repeats (the 5-parameter mapped metrics are
    not computed per repeat, to keep curves fast).
    """
    _check_calibration(calibration)
    if repeats < 1:
        raise ProtocolError(f"few-label: repeats must be at least 1, got {repeats}")
    sizes = sorted({int(n) for n in sizes})
    if not sizes or sizes[0] < 1:
        raise ProtocolError(f"few-label: sizes must be positive integers, got {list(sizes)}")
    res = ProtocolResult("fewlabel", calibration, {"sizes": sizes, "repeats": repeats, "seed": seed,
                                                   "min_test": min_test, "feature": data.feature_name})
    n = len(data)
    for size in sizes:
        if size > n - min_test:
            res.notes.append(f"N={size} skipped: {n} scored items leave fewer than {min_test} for testing")
            continue
        runs = []
        for r in range(repeats):
            rng = np.random.default_rng([seed, size, r])
            lab = rng.permutation(n)[:size]
            held = np.isin(data.content, data.content[lab])
            test_idx = np.flatnonzero(~held)
            if test_idx.size < min_test:
                runs.append({"repeat": r, "n_train": size, "n_test": int(test_idx.size), "metrics": {},
                             "error": f"only {test_idx.size} test items outside the labelled contents"})
                continue
            rec, _ = _fold(f"N{size}r{r}", data.take(lab), data.take(test_idx), calibration, calibrator, full=False)
            rec["repeat"] = r
            runs.append(rec)
        point = {"n_labels": size, "repeats": repeats,
                 "n_test": mean_std([ru["n_test"] for ru in runs]),
                 "metrics": {k: mean_std([ru["metrics"].get(k) for ru in runs]) for k in METRIC_KEYS},
                 "runs": runs}
        res.curve.append(point)
    if not res.curve:
        raise ProtocolError(f"few-label: no size in {sizes} leaves {min_test} test items out of {n}")
    last = res.curve[-1]
    res.summary = {k: dict(v, n_labels=last["n_labels"]) for k, v in last["metrics"].items()}
    return res


def run_protocol(name: str, data: EvalSet, calibration: str, *, train: EvalSet | None = None,
                 calibrator: CalibratorFactory = LogisticEstimator, **params: Any) -> ProtocolResult:
    """Dispatch by protocol name (``whole``, ``split``, ``cross``, ``kfold``, ``fewlabel``); `params` go to that
    protocol."""
    if name == "whole":
        return run_whole(data, calibration, calibrator=calibrator, **params)
    if name == "split":
        return run_split(data, calibration, calibrator=calibrator, **params)
    if name == "kfold":
        return run_kfold(data, calibration, calibrator=calibrator, **params)
    if name == "fewlabel":
        return run_fewlabel(data, calibration, calibrator=calibrator, **params)
    if name == "cross":
        if train is None:
            raise ProtocolError("cross protocol needs a training dataset (--train-dataset/--train-root or "
                                "--train-manifest)")
        return run_cross(train, data, calibration, calibrator=calibrator, **params)
    raise ProtocolError(f"unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})")
