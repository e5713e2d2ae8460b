"""Distillation (``vqual distill``): a teacher labels unlabelled media, a light student on the shared encoder learns
from it and from the few human labels, then is calibrated on those labels.

Teacher. One or more models (registered names, user models, an ensemble given as ``a,b``) score every item in
one or more views (``orig``; ``hflip``: mirrored; ``crop``: the central 90 %, for images only). Every teacher output
is cached (the prediction cache of ``vqual eval``, keyed by model identity, view and file), so an interrupted run
resumes where it stopped.

Signals (`teacher_signals`), from the (members x views x items) scores on the models' 1-5 scale:

- each member's scores are standardised over the items (members then share one scale);
- point-wise: the target is the mean over members and views; its reliability is ``1 / (1 + s^2)``, with ``s`` the
  standard deviation over members and views (in standard units): a teacher that disagrees with itself across
  views, or an ensemble whose members disagree, counts less;
- pair-wise: `n_pairs` seeded random pairs (i, j); the preference ``p_ij`` is the mean over members and views of
  ``sigmoid((z_i - z_j) / PAIR_TEMPERATURE)``, and its reliability is ``|2 p_ij - 1|`` (the margin) times the share
  of members and views whose order agrees with the mean's (the agreement).

Student (`fit_student`): a linear head on the student encoder's standardised features (default ``lite-small``,
`vqual.encoders.features.PRESETS`), minimising jointly

    mean_r(weighted squared error to the teacher's target, mapped to the labels' 1-5 by a line fitted on the
           labelled items)
    + pair_weight * mean_rho(fidelity loss between p_ij and sigmoid((q_i - q_j) / PAIR_TEMPERATURE_1_5))
    + label_weight * mean(squared error to the human labels on the labelled items)
    + alpha * |w|^2,

by L-BFGS (deterministic). The student's raw output is then calibrated on the labelled items with the map
``vqual calibrate`` would choose (`vqual.adapt.train.fit_score_map`), and its level width fitted on them; both are
fitted to cross-fitted outputs (each labelled item scored by a student that did not learn its label), which also
give the honest figures printed and recorded (``cross_fitted``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vqual.adapt.folds import content_ids
from vqual.errors import MediaError, VqualError
from vqual.heads.linear import LinearHead
from vqual.progress import Progress

if TYPE_CHECKING:
    from vqual.models.base import Scorer

VIEWS = ("orig", "hflip", "crop")
#: Preference sharpness in standard units of a member's scores (a gap of 0.25 sd is a 73 % preference).
PAIR_TEMPERATURE = 0.25
#: Fewest labelled items a student is calibrated on (as `vqual.adapt.calibrate.MIN_LABELS`).
MIN_LABELS = 10


class DistillError(VqualError):
    """Distillation cannot run: unknown view, too few items or labels, teachers that failed everywhere. One line."""


@dataclass(frozen=True)
class DistillConfig:
    """How the student learns (weights of the loss terms are relative to the point-wise term)."""

    encoder: str = "lite-small"  # student encoder preset (`vqual.encoders.features.PRESETS`)
    views: tuple[str, ...] = ("orig", "hflip")  # teacher views; more views, better reliability, more teacher time
    pairs_per_item: int = 20  # sampled pairs = this x number of items (at most `max_pairs`)
    max_pairs: int = 50000
    pair_weight: float = 1.0  # weight of the pair-wise fidelity term
    label_weight: float = 1.0  # weight of the human labels' squared error (0: labels only calibrate)
    alpha: float = 0.1  # ridge penalty on the standardised weights (per mean loss unit)
    seed: int = 0  # pairs and calibration folds


# --- teacher ------------------------------------------------------------------------------------------------------

def view_image(rgb: np.ndarray, view: str) -> np.ndarray:
    """One augmented view of an HxWx3 image (`VIEWS`)."""
    if view == "orig":
        return rgb
    if view == "hflip":
        return np.ascontiguousarray(rgb[:, ::-1])
    if view == "crop":
        h, w = rgb.shape[:2]
        dh, dw = round(h * 0.05), round(w * 0.05)
        return np.ascontiguousarray(rgb[dh:h - dh, dw:w - dw])
    raise DistillError(f"unknown teacher view {view!r} (known: {', '.join(VIEWS)})")


class _ViewKey:
    """The identity under which one view of a teacher is cached: the model's, with ``#view`` in its name."""

    def __init__(self, model: Scorer, view: str):
        self.name = f"{model.name}#{view}"
        self.version = model.version
        self.weights_sha256 = model.weights_sha256


def teacher_scores(teachers: Sequence[Scorer], paths: Sequence[str | Path], views: Sequence[str], *,
                   cache: Any = None, progress: bool | None = None,
                   report: Callable[[str], None] | None = None) -> tuple[np.ndarray, list[str | None]]:
    """Scores (members, views, items) of every teacher on every view of every item (NaN where none), and for each
    item the first error met (None if fine). Views other than ``orig`` apply to images only (videos: NaN).
    Uses and fills `cache` (a `vqual.eval.cache.PredictionCache`)."""
    from vqual.media import load_image, media_kind

    for v in views:
        view_image(np.zeros((2, 2, 3), np.uint8), v)  # unknown view: DistillError before any work
    out = np.full((len(teachers), len(views), len(paths)), np.nan)
    errors: list[str | None] = [None] * len(paths)
    bar = Progress(len(paths) * len(teachers) * len(views), label="teacher", enabled=progress)
    try:
        for i, path in enumerate(paths):
            kind = None
            for m, teacher in enumerate(teachers):
                for v, view in enumerate(views):
                    key = teacher if view == "orig" else _ViewKey(teacher, view)
                    t0 = time.perf_counter()
                    result = cache.get(key, path) if cache is not None else None
                    cached = result is not None
                    if result is None and errors[i] is None:
                        try:
                            if view == "orig":
                                result = teacher.score(str(path))
                            else:
                                kind = kind or media_kind(path)
                                if kind == "image":
                                    result = teacher.score(view_image(load_image(path), view), path_label=str(path))
                        except MediaError as e:
                            errors[i] = str(e)
                        if result is not None and cache is not None and math.isfinite(result.score):
                            try:
                                cache.put(key, path, result)
                            except (ValueError, OSError) as e:
                                if report is not None:
                                    report(f"not cached: {path}: {e}")
                    if result is not None and math.isfinite(result.score):
                        out[m, v, i] = float(result.score)
                    bar.update(cached=cached, failed=errors[i] is not None, seconds=time.perf_counter() - t0)
    finally:
        bar.close()
    return out, errors


@dataclass
class TeacherSignals:
    """What the student learns from (see the module docstring)."""

    target: np.ndarray  # (n,) teacher point score, standard units
    reliability: np.ndarray  # (n,) in (0, 1]
    pairs: np.ndarray  # (p, 2) item indices
    preference: np.ndarray  # (p,) P(first better than second)
    pair_reliability: np.ndarray  # (p,) in [0, 1]

    def summary(self) -> dict[str, Any]:
        return {"n_items": int(self.target.size), "n_pairs": int(len(self.pairs)),
                "mean_point_reliability": round(float(self.reliability.mean()), 4),
                "mean_pair_reliability": round(float(self.pair_reliability.mean()), 4) if len(self.pairs) else None}


def teacher_signals(scores: np.ndarray, *, n_pairs: int, seed: int = 0) -> TeacherSignals:
    """Point and pair signals with reliabilities from teacher scores (members, views, items); NaN entries (a view
    a member could not give) are left out of the means. Raises DistillError when an item has no score at all."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 3:
        raise ValueError(f"scores must be (members, views, items), got shape {s.shape}")
    n = s.shape[2]
    if n < 2:
        raise DistillError(f"{n} items with teacher scores; distillation needs at least 2")
    if np.isnan(s).all(axis=(0, 1)).any():
        raise DistillError("some items have no teacher score (drop them first)")
    mu = np.nanmean(s, axis=(1, 2), keepdims=True)
    sd = np.nanstd(s, axis=(1, 2), keepdims=True)
    z = (s - mu) / np.where(sd > 1e-12, sd, 1.0)  # members on one scale
    flat = z.reshape(-1, n)  # (members x views, n)
    target = np.nanmean(flat, axis=0)
    spread = np.nan_to_num(np.nanstd(flat, axis=0))
    reliability = 1.0 / (1.0 + spread ** 2)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n  # j != i
    pairs = np.stack([i, j], axis=1)
    diff = flat[:, i] - flat[:, j]  # (members x views, p)
    valid = ~np.isnan(diff)
    pref = np.nansum(1.0 / (1.0 + np.exp(-np.nan_to_num(diff) / PAIR_TEMPERATURE)) * valid, axis=0) / valid.sum(0)
    sign = np.sign(target[i] - target[j])
    agree = np.sum((np.sign(np.nan_to_num(diff)) == sign[None, :]) & valid, axis=0) / valid.sum(0)
    return TeacherSignals(target=target, reliability=reliability, pairs=pairs, preference=pref,
                          pair_reliability=np.abs(2.0 * pref - 1.0) * agree)


# --- student --------------------------------------------------------------------------------------------------------

def fit_student(x: np.ndarray, signals: TeacherSignals, labelled: np.ndarray, y: np.ndarray,
                config: DistillConfig | None = None) -> tuple[LinearHead, dict[str, Any]]:
    """A linear score head on student features `x` (n, d) from the teacher's signals and the human labels `y` (1-5)
    of items `labelled` (indices into x). Returns (head, figures)."""
    import torch

    from vqual.adapt.maps import LinearEstimator
    from vqual.heads.linear import standardiser

    cfg = config or DistillConfig()
    x = np.asarray(x, dtype=np.float64)
    labelled = np.asarray(labelled, dtype=int)
    y = np.asarray(y, dtype=np.float64)
    # the teacher's point score on the labels' scale: a line through the labelled items (keeps the teacher's order)
    to_labels = LinearEstimator().fit(signals.target[labelled], y)
    if to_labels.method != "linear" or (to_labels.coef_ or 0.0) <= 0:
        # the teacher does not rise with the labels here: keep its order, give it the labels' spread
        pseudo = y.mean() + y.std() * signals.target
    else:
        pseudo = to_labels.predict(signals.target)
    scale_1_5 = float(np.std(pseudo)) / max(float(np.std(signals.target)), 1e-12)  # standard unit -> 1-5 units
    mean, scale = standardiser(x)
    z = torch.from_numpy((x - mean) / scale).double()
    t = torch.from_numpy(pseudo).double()
    r = torch.from_numpy(signals.reliability).double()
    pi = torch.from_numpy(signals.pairs[:, 0]).long()
    pj = torch.from_numpy(signals.pairs[:, 1]).long()
    pref = torch.from_numpy(signals.preference).double()
    rho = torch.from_numpy(signals.pair_reliability).double()
    lab = torch.from_numpy(labelled).long()
    yl = torch.from_numpy(y).double()
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([float(y.mean())], dtype=torch.float64, requires_grad=True)
    temp = PAIR_TEMPERATURE * scale_1_5
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=500, line_search_fn="strong_wolfe", tolerance_grad=1e-7)
    terms: dict[str, float] = {}

    def closure():
        opt.zero_grad()
        q = z @ w + b
        point = (r * (q - t) ** 2).sum() / r.sum()
        loss = point + cfg.alpha * (w * w).sum()
        terms["point"] = point.item()
        if cfg.pair_weight > 0 and len(pi) and float(rho.sum()) > 0:
            phat = torch.sigmoid((q[pi] - q[pj]) / temp)
            fid = 1.0 - torch.sqrt(pref * phat + 1e-10) - torch.sqrt((1 - pref) * (1 - phat) + 1e-10)
            pair = (rho * fid).sum() / rho.sum()
            loss = loss + cfg.pair_weight * pair
            terms["pair"] = pair.item()
        if cfg.label_weight > 0 and len(lab):
            human = ((q[lab] - yl) ** 2).mean()
            loss = loss + cfg.label_weight * human
            terms["labels"] = human.item()
        loss.backward()
        return loss

    opt.step(closure)
    head = LinearHead(names=("score",), mean=mean, scale=scale, weight=w.detach().numpy().copy()[:, None],
                      bias=b.detach().numpy().copy())
    return head, {"final_loss_terms": {k: round(v, 5) for k, v in terms.items()},
                    "teacher_to_labels": to_labels.to_dict()}


@dataclass
class Student:
    """A fitted student before it is written: score head, score map, level width and figures."""

    head: LinearHead
    score_map: Any
    tau: float
    info: dict[str, Any]

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The head's arrays as a user model folder stores them (`vqual.heads.store`, prefix "score")."""
        return self.head.to_arrays("score", dtype=None)


def cross_fitted_scores(x: np.ndarray, signals: TeacherSignals, labelled: np.ndarray, y: np.ndarray,
                        groups: Sequence[str], config: DistillConfig) -> np.ndarray:
    """Raw student outputs on the labelled items, each from a student fitted without its fold's labels (grouped
    k-fold, k = min(5, n // 5), seeded): what the student gives on images whose label it has not learnt."""
    from vqual.adapt.folds import kfold_indices, n_folds

    k = n_folds(len(labelled), len(set(groups)))
    if k < 2:
        raise DistillError(f"{len(labelled)} labels in {len(set(groups))} contents are too few to cross-fit")
    out = np.empty(len(labelled))
    every = np.arange(len(labelled))
    for test in kfold_indices(list(groups), k, config.seed):
        train = np.setdiff1d(every, test)
        head, _ = fit_student(x, signals, labelled[train], y[train], config)
        out[test] = head(x[labelled[test]])[:, 0]
    return out


def train_student(x: np.ndarray, signals: TeacherSignals, labelled: np.ndarray, y: np.ndarray,
                  groups: Sequence[str] | None = None, config: DistillConfig | None = None) -> Student:
    """`fit_student` on every label, calibrated on cross-fitted outputs: the score map and the level width are
    fitted to the raw outputs of students that did not learn those labels (`cross_fitted_scores`), since the final
    student's outputs on its own labelled items are optimistic. Raises DistillError with fewer than `MIN_LABELS`
    labels."""
    from scipy import stats

    from vqual.adapt.train import fit_score_map
    from vqual.errors import CalibrationError
    from vqual.heads.levels import fit_tau

    cfg = config or DistillConfig()
    labelled = np.asarray(labelled, dtype=int)
    y = np.asarray(y, dtype=np.float64)
    if len(labelled) < MIN_LABELS:
        raise DistillError(f"{len(labelled)} usable labels; the student's calibration needs at least {MIN_LABELS}")
    if np.ptp(y) == 0:
        raise DistillError(f"all {len(y)} labels are equal ({y[0]:g}); nothing to calibrate on")
    g = content_ids(groups, len(labelled))
    oof = cross_fitted_scores(x, signals, labelled, y, g, cfg)
    head, info = fit_student(x, signals, labelled, y, cfg)
    try:
        smap, cal = fit_score_map(oof, y, groups=g, seed=cfg.seed)
    except CalibrationError as e:
        raise DistillError(f"calibration of the student: {e}") from None
    tau = fit_tau(np.clip(smap.predict(oof), 1.0, 5.0), y)
    cross = {"srcc": float(stats.spearmanr(oof, y).statistic) if np.ptp(oof) > 0 else None,
             "plcc": float(stats.pearsonr(oof, y).statistic) if np.ptp(oof) > 0 else None}
    return Student(head=head, score_map=smap, tau=tau,
                   info={**info, "calibration": cal, "cross_fitted": cross, "teacher": signals.summary(),
                         "config": asdict(cfg)})
