"""Warm-up of a new head on a frozen encoder from a small labelled set (``vqual train``), and the pieces it shares
with distillation (features of labelled media, the score map and the level width).

`train_head` fits a score head (``linear`` or a one-hidden-layer ``mlp``) on standardised encoder features to the
labels on 1-5 (`DatasetInfo.to_1_5`) by full-batch descent on the mean squared error with weight decay (linear:
plain gradient steps of 1 / curvature from zero, whose path follows the ridge path; mlp: Adam), seeded, and
stops early on a held-out validation split (a seeded fraction of the labelled items, grouped by content id): the
number of steps with the lowest validation error (patience `TrainConfig.patience`) is kept. By default the split is
done ``val_folds`` = 5 times (grouped folds: every item is a validation item once) and the step count minimising
the mean validation curve is kept, which is far less noisy than one split of a few labels. The final head is then
fitted on every labelled item for that number of steps from the same initial weights, so that no label is wasted;
the validation figures reported are those of the early-stopped heads on items they did not train on, and the level
width ``tau`` is fitted on those out-of-fold predictions.

With a synthetic pair prior (`vqual.adapt.pairs`, the default of ``vqual train`` for a linear head on the ``lite2``
or ``lite`` encoder) the linear head is instead fitted jointly to the labels and vqual-lite's synthetic ranking pairs
(ridge + pair hinge, solved exactly), and the validation folds choose its ridge strength from the prior's grid
(lowest mean validation error) instead of a step count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vqual.adapt.folds import content_ids
from vqual.errors import MediaError, VqualError
from vqual.heads.linear import LinearHead
from vqual.heads.mlp import MLPHead
from vqual.heads.store import Head
from vqual.progress import Progress

if TYPE_CHECKING:
    from vqual.adapt.pairs import PairPrior

#: Fewest labelled items a head is trained on (training + validation).
MIN_TRAIN_LABELS = 10
#: Fewest validation items early stopping relies on.
MIN_VAL = 3


class TrainError(VqualError):
    """A head cannot be trained: too few usable labels, degenerate labels, bad options. One line."""


@dataclass(frozen=True)
class TrainConfig:
    """How a head is warmed up."""

    head: str = "linear"  # "linear" or "mlp"
    hidden: int = 64  # mlp: hidden units
    lr: float | None = None  # None: linear 1 / (largest curvature of the loss), mlp 1e-4 (Adam)
    weight_decay: float = 1e-3  # L2 penalty on the weights (not the biases)
    max_epochs: int = 3000  # full-batch steps at most
    patience: int = 200  # stop when the validation error has not improved for this many steps
    val_folds: int = 5  # early stopping on each of this many grouped folds (their mean curve); 1: one split
    val_fraction: float = 0.2  # with val_folds 1: share of the labelled items held out for early stopping
    seed: int = 0  # validation split and initial weights


# --- media -> features --------------------------------------------------------------------------------------------

def media_features(encoder: Callable[[np.ndarray], np.ndarray], path: str | Path,
                   max_pixels: int | None = None) -> np.ndarray:
    """Encoder features of one file: an image's, or the mean over a video's key frames (one per second).
    Raises MediaError for unreadable media."""
    from vqual.media import iter_chunks, load_image, media_kind

    if media_kind(path) == "image":
        return np.asarray(encoder(load_image(path, max_pixels=max_pixels)), dtype=np.float64)
    feats = [np.asarray(encoder(c.key_frame), dtype=np.float64)
             for c in iter_chunks(path, luma_size=None, max_pixels=max_pixels)]
    return np.mean(feats, axis=0)


def extract_features(encoder: Callable[[np.ndarray], np.ndarray], paths: Sequence[str | Path], *,
                     progress: bool | None = None, label: str = "features",
                     report: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features of every path, in order: ((n_ok, d) array, (n,) bool mask of the paths that could be read).
    Unreadable files are reported through `report` (one line each) and left out."""
    import time

    bar = Progress(len(paths), label=label, enabled=progress)
    rows: list[np.ndarray] = []
    ok = np.zeros(len(paths), dtype=bool)
    try:
        for i, p in enumerate(paths):
            t0 = time.perf_counter()
            try:
                rows.append(media_features(encoder, p))
                ok[i] = True
            except MediaError as e:
                if bar.enabled:  # a line that does not garble the bar
                    bar.message(f"{label}: skipped {e}")
                elif report is not None:
                    report(f"skipped {e}")
            bar.update(failed=not ok[i], seconds=time.perf_counter() - t0)
    finally:
        bar.close()
    dim = rows[0].shape[0] if rows else 0
    return (np.stack(rows) if rows else np.zeros((0, dim))), ok


# --- score map and levels -----------------------------------------------------------------------------------------

def fit_score_map(raw: np.ndarray, y: np.ndarray, *, groups: Sequence[str] | None = None, seed: int = 0,
                  method: str = "auto") -> tuple[Any, dict[str, Any]]:
    """A monotone map from a head's raw output to the labels (1-5), chosen like ``vqual calibrate`` does
    (`vqual.adapt.calibrate.cross_validate` + `select_method`). Returns (fitted map, figures)."""
    from vqual.adapt.calibrate import cross_validate, select_method
    from vqual.adapt.maps import make_map

    cv = cross_validate(raw, y, groups=groups, seed=seed)
    chosen = select_method(cv) if method == "auto" else method
    fitted = make_map(chosen).fit(raw, y)
    figures = {m: {k: v[k] for k in ("srcc", "plcc", "rmse")} for m, v in cv["methods"].items()}
    return fitted, {"method": chosen, "k": cv["k"], "seed": seed, "cv": figures}


# --- training -------------------------------------------------------------------------------------------------------

def validation_split(groups: Sequence[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: a seeded `fraction` of the content ids (at least `MIN_VAL` items) held out."""
    uniq = sorted(set(groups))
    if not 0.0 < fraction < 1.0:
        raise TrainError(f"--val-fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    order = [uniq[i] for i in rng.permutation(len(uniq))]
    g = np.asarray(groups, dtype=object)
    want = max(MIN_VAL, math.ceil(fraction * len(g)))
    val: list[int] = []
    for cid in order:
        if len(val) >= want:
            break
        val.extend(np.flatnonzero(g == cid).tolist())
    val_idx = np.array(sorted(val), dtype=int)
    train_idx = np.setdiff1d(np.arange(len(g)), val_idx)
    if len(val_idx) < MIN_VAL or len(train_idx) < MIN_VAL:
        raise TrainError(f"{len(g)} labelled items in {len(uniq)} contents are too few to hold out a validation "
                         f"split (need {MIN_VAL} items on each side)")
    return train_idx, val_idx


def _init(kind: str, d: int, hidden: int, y_mean: float, seed: int) -> list:
    import torch

    g = torch.Generator().manual_seed(seed)
    if kind == "linear":
        return [torch.zeros(d, 1), torch.tensor([y_mean])]
    w1 = torch.randn(d, hidden, generator=g) * math.sqrt(2.0 / d)
    w2 = torch.randn(hidden, 1, generator=g) * math.sqrt(1.0 / hidden)
    return [w1, torch.zeros(hidden), w2, torch.tensor([y_mean])]


def _forward(kind: str, params: list, z):
    import torch

    if kind == "linear":
        return (z @ params[0])[:, 0] + params[1]
    return (torch.relu(z @ params[0] + params[1]) @ params[2])[:, 0] + params[3]


def _run(kind: str, z_tr, y_tr, z_va, y_va, init: list, cfg: TrainConfig, epochs: int | None):
    """Full-batch descent from `init` for `epochs` steps, or (epochs None, with validation data) until the validation
    error has not improved for `cfg.patience` steps. Returns (final weights, validation error after each step)."""
    import torch

    params = [p.clone().requires_grad_(True) for p in init]
    weights = params[0::2]  # w (linear) or w1, w2 (mlp): decayed; biases are not
    if kind == "linear":  # plain gradient descent: its path from zero follows the ridge path, early stopping = ridge
        if cfg.lr is not None:
            lr = cfg.lr
        else:  # the loss's curvature is at most 2 (lambda_max(Z Z^T) / n + 1 + weight_decay) (bias included)
            lam = float(torch.linalg.eigvalsh(z_tr @ z_tr.T / len(z_tr)).max())
            lr = 1.0 / (2.0 * (lam + 1.0 + cfg.weight_decay))
        opt = torch.optim.SGD(params, lr=lr)
    else:
        opt = torch.optim.Adam(params, lr=cfg.lr if cfg.lr is not None else 1e-4)
    curve: list[float] = []
    best, since = math.inf, 0
    for _ in range(epochs if epochs is not None else cfg.max_epochs):
        opt.zero_grad()
        loss = torch.mean((_forward(kind, params, z_tr) - y_tr) ** 2)
        loss = loss + cfg.weight_decay * sum((w * w).sum() for w in weights)
        loss.backward()
        opt.step()
        if z_va is not None:
            with torch.no_grad():
                curve.append(float(torch.mean((_forward(kind, params, z_va) - y_va) ** 2)))
            if epochs is None:
                best, since = (curve[-1], 0) if curve[-1] < best - 1e-9 else (best, since + 1)
                if since >= cfg.patience:
                    break
    return [p.detach() for p in params], curve


def validation_splits(groups: Sequence[str], config: TrainConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs: `config.val_folds` grouped folds, or one seeded split of
    `config.val_fraction` when ``val_folds`` is 1. Raises TrainError when too few items."""
    if config.val_folds <= 1:
        return [validation_split(groups, config.val_fraction, config.seed)]
    from vqual.adapt.folds import ProtocolError, kfold_indices

    try:
        folds = kfold_indices(list(groups), config.val_folds, config.seed)
    except ProtocolError as e:
        raise TrainError(f"early stopping: {e}") from None
    every = np.arange(len(groups))
    out = [(np.setdiff1d(every, f), f) for f in folds]
    if min(len(v) for _, v in out) < 1 or min(len(t) for t, _ in out) < MIN_VAL:
        raise TrainError(f"{len(groups)} labelled items are too few for {config.val_folds} validation folds")
    return out


@dataclass
class TrainedHead:
    """The result of `train_head`."""

    kind: str
    head: Head  # the score head (`vqual.heads`), one output
    best_epoch: int  # steps chosen by early stopping (the final head is trained for as many on every item)
    val_rmse: float  # RMSE (1-5) of the early-stopped heads on their validation items
    val_pred: np.ndarray  # their predictions on the validation items (out of fold)
    val_y: np.ndarray  # those items' labels
    n_folds: int  # validation folds (1: one split)
    config: TrainConfig
    alpha: float | None = None  # with synthetic pairs: the ridge strength chosen (best_epoch is then 0)
    pairs: dict[str, Any] | None = None  # with synthetic pairs: the prior's identity and weight

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The head's arrays as a user model folder stores them (`vqual.heads.store`, prefix "score")."""
        return self.head.to_arrays("score", dtype=None)

    def info(self) -> dict[str, Any]:
        """Figures for the model card's provenance."""
        from scipy import stats

        ok = np.ptp(self.val_y) > 0 and np.ptp(self.val_pred) > 0
        extra = {} if self.pairs is None else {"synthetic_pairs": self.pairs, "ridge_alpha": self.alpha}
        return {"config": asdict(self.config), **extra, "best_epoch": self.best_epoch, "validation_folds": self.n_folds,
                "n_validation": int(len(self.val_y)), "validation_rmse": round(self.val_rmse, 4),
                "validation_srcc": round(float(stats.spearmanr(self.val_pred, self.val_y).statistic), 4) if ok
                else None}


def _train_with_pairs(x: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]], cfg: TrainConfig,
                      prior: PairPrior) -> TrainedHead:
    """The linear head fitted jointly with the pair prior; its ridge strength chosen on the validation splits."""
    from vqual.adapt.pairs import fit_with_pairs

    if cfg.head != "linear":
        raise TrainError(f"synthetic pairs need a linear head, not {cfg.head!r} (turn them off for an mlp head)")
    if x.shape[1] != prior.dim:
        raise TrainError(f"the synthetic pair prior is for the {prior.encoder!r} encoder ({prior.dim} features); "
                         f"these features have {x.shape[1]} (turn synthetic pairs off for this encoder)")
    trials = []  # (mean validation error, ridge per label, out-of-fold predictions) per grid value
    for per_label in prior.alphas_per_label:
        pred = np.empty(len(y))
        for tr, va in splits:
            pred[va] = fit_with_pairs(x[tr], y[tr], prior, per_label * len(tr))(x[va])[:, 0]
        errs = [float(np.mean((pred[va] - y[va]) ** 2)) for _, va in splits]
        trials.append((float(np.mean(errs)), per_label, pred))
    _, per_label, val_pred = min(trials, key=lambda t: t[0])  # the first of equal errors: the smaller ridge
    head = fit_with_pairs(x, y, prior, per_label * len(y))
    val_idx = np.sort(np.concatenate([va for _, va in splits]))
    vp, vy = val_pred[val_idx], y[val_idx]
    return TrainedHead(kind="linear", head=head, best_epoch=0, val_rmse=float(np.sqrt(np.mean((vp - vy) ** 2))),
                       val_pred=vp, val_y=vy, n_folds=len(splits), config=cfg, alpha=per_label * len(y),
                       pairs={**prior.info(), "alpha_per_label": per_label})


def train_head(x: np.ndarray, y: np.ndarray, groups: Sequence[str] | None = None,
               config: TrainConfig | None = None, pairs: PairPrior | None = None) -> TrainedHead:
    """Warm up a score head on features `x` (n, d) for labels `y` (n,) on 1-5; see the module docstring. With
    `pairs` (`vqual.adapt.pairs.load_pair_prior`), a linear head learns from vqual-lite's synthetic pairs too.
    Raises TrainError for too few or constant labels, or pairs with an mlp head or other features."""
    import torch

    from vqual.heads.linear import standardiser
    from vqual.heads.store import KINDS

    cfg = config or TrainConfig()
    if cfg.head not in KINDS:
        raise TrainError(f"unknown head {cfg.head!r} (known: {', '.join(KINDS)})")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(y) < MIN_TRAIN_LABELS:
        raise TrainError(f"{len(y)} usable labels; a head needs at least {MIN_TRAIN_LABELS}")
    if np.ptp(y) == 0:
        raise TrainError(f"all {len(y)} labels are equal ({y[0]:g}); nothing to learn")
    g = content_ids(groups, len(y))
    splits = validation_splits(g, cfg)
    if pairs is not None:
        return _train_with_pairs(x, y, splits, cfg, pairs)
    torch.manual_seed(cfg.seed)
    mean, scale = standardiser(x)
    z = torch.from_numpy((x - mean) / scale).float()
    yt = torch.from_numpy(y).float()

    def init(idx: np.ndarray) -> list:
        return _init(cfg.head, x.shape[1], cfg.hidden, float(y[idx].mean()), cfg.seed)

    curves = []
    for tr, va in splits:  # each fold stops on its own validation items; the step count is chosen on the mean curve
        curves.append(_run(cfg.head, z[tr], yt[tr], z[va], yt[va], init(tr), cfg, None)[1])
    longest = max(len(c) for c in curves)
    mean_curve = np.mean([c + [c[-1]] * (longest - len(c)) for c in curves], axis=0)
    best_epoch = int(np.argmin(mean_curve)) + 1
    val_pred = np.empty(len(y))
    for tr, va in splits:  # out-of-fold predictions of the early-stopped heads (1 split: its validation items)
        params, _ = _run(cfg.head, z[tr], yt[tr], None, None, init(tr), cfg, best_epoch)
        with torch.no_grad():
            val_pred[va] = _forward(cfg.head, params, z[va]).double().numpy()
    val_idx = np.sort(np.concatenate([va for _, va in splits]))
    final, _ = _run(cfg.head, z, yt, None, None, init(np.arange(len(y))), cfg, best_epoch)
    f = [p.double().numpy() for p in final]
    head: Head
    if cfg.head == "linear":
        head = LinearHead(names=("score",), mean=mean, scale=scale, weight=f[0], bias=f[1])
    else:
        head = MLPHead(names=("score",), mean=mean, scale=scale, w1=f[0], b1=f[1], w2=f[2], b2=f[3])
    vp, vy = val_pred[val_idx], y[val_idx]
    return TrainedHead(kind=cfg.head, head=head, best_epoch=best_epoch, val_rmse=float(np.sqrt(np.mean((vp - vy)
                       ** 2))), val_pred=vp, val_y=vy, n_folds=len(splits), config=cfg)
