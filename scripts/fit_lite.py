"""The fitting half of scripts/train_lite.py: heads from cached features, with every choice made by CV.

Kept separate so that refitting (seconds) does not need the feature extraction (minutes).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "vqual" / "assets" / "lite"
ALPHAS = (1.0, 10.0, 100.0, 1e3, 1e4, 1e5)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def folds(groups: list[str] | np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k test-index arrays; all items of one group in one fold; seeded."""
    uniq = sorted(set(groups))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    fold_of = {uniq[g]: i % k for i, g in enumerate(order)}
    g = np.array([fold_of[x] for x in groups])
    return [np.flatnonzero(g == i) for i in range(k)]


def ridge_oof(x: np.ndarray, y: np.ndarray, alpha: float, test_folds: list[np.ndarray]) -> np.ndarray:
    from vqual.heads.linear import fit_ridge

    pred = np.zeros(y.shape, dtype=np.float64)
    for te in test_folds:
        tr = np.setdiff1d(np.arange(len(y)), te)
        pred[te] = fit_ridge(x[tr], y[tr], alpha, ("y",) * (1 if y.ndim == 1 else y.shape[1]))(x[te]).reshape(
            pred[te].shape)
    return pred


# --- stage 1: attributes and synthetic quality ----------------------------------------------------------------------
def attribute_targets(meta: list[dict], sources: dict[str, list[str]]) -> np.ndarray:
    names = list(sources)
    attr_of = {d: names.index(a) for a, ds in sources.items() for d in ds}
    y = np.zeros((len(meta), len(names)))
    for i, m in enumerate(meta):
        if m["distortion"] != "clean":
            y[i, attr_of[m["distortion"]]] = m["level"] / 5.0
    return y


def fit_attributes(x: np.ndarray, meta: list[dict], sources: dict[str, list[str]],
                   judged: np.ndarray | None = None) -> tuple[object, dict]:
    """Ridge attribute head, alpha by grouped 6-fold CV mean squared error over the `judged` rows (default all):
    rows outside it still train every fold but do not choose the alpha."""
    from vqual.heads.linear import fit_ridge

    y = attribute_targets(meta, sources)
    groups = [m["content"] for m in meta]
    fs = folds(groups, 6, seed=0)
    judged = np.ones(len(meta), dtype=bool) if judged is None else np.asarray(judged, dtype=bool)
    strong = np.array([m["level"] >= 3 for m in meta]) & judged
    report = {}
    best = None
    for alpha in ALPHAS:
        oof = ridge_oof(x, y, alpha, fs)
        acc = float(np.mean(oof[strong].argmax(1) == y[strong].argmax(1)))
        mse = float(np.mean((oof[judged] - y[judged]) ** 2))
        report[f"{alpha:g}"] = {"mse": mse, "type_acc_levels_3_5": acc}
        log(f"attributes alpha={alpha:g}: mse {mse:.4f}, strongest-attribute accuracy (levels 3-5) {acc:.3f}")
        if best is None or mse < best[0]:
            best = (mse, alpha)
    alpha = best[1]
    head = fit_ridge(x, y, alpha, tuple(sources))
    return head, {"alpha": alpha, "grouped_6fold_cv": report, "n_images": len(meta),
                  "n_contents": len(set(groups))}


def ranking_pairs(meta: list[dict]) -> np.ndarray:
    """(better, worse) index pairs: same content and distortion, lower level is better (clean is level 0)."""
    index: dict[tuple[str, str, int], int] = {}
    clean: dict[str, int] = {}
    for i, m in enumerate(meta):
        if m["distortion"] == "clean":
            clean[m["content"]] = i
        else:
            index[(m["content"], m["distortion"], m["level"])] = i
    pairs = []
    for (c, d, lv), i in index.items():
        better = clean[c] if lv == 1 else index.get((c, d, lv - 1))
        if better is not None:
            pairs.append((better, i))
    return np.array(pairs)


def fit_joint(xc: np.ndarray, y: np.ndarray, xs: np.ndarray, pairs: np.ndarray, alpha: float, mu: float,
              margin: float = 0.1):
    """The score head: one linear map fitted to MOS (squared error + ridge) and, with weight `mu`, to the synthetic
    pairs (same content, stronger distortion must score lower: a smooth hinge with `margin` in score units).

    Loss = sum((x_c w + b - y)^2) + alpha |w|^2 + mu * n_c * mean(margin * softplus(-(q_better - q_worse) / margin)).
    """
    from vqual.adapt.pairs import fit_pair_ridge
    from vqual.heads.linear import LinearHead, standardiser

    mean, scale = standardiser(np.vstack([xc, xs]))
    zc = torch.from_numpy((xc - mean) / scale).float()
    zs = torch.from_numpy((xs - mean) / scale).float()
    p = torch.from_numpy(pairs)

    def pair_margins(w):
        q = zs @ w
        return q[p[:, 0]] - q[p[:, 1]]

    w, b = fit_pair_ridge(zc, torch.from_numpy(y).float(), float(y.mean()), pair_margins, alpha, mu, margin,
                          max_iter=300, tolerance_grad=1e-6)  # float32, in the full feature space
    return LinearHead(names=("score",), mean=mean, scale=scale, weight=w.double().numpy()[:, None],
                      bias=b.double().numpy())


JOINT_GRID = tuple((a, m) for a in (1.0, 10.0, 100.0) for m in (0.0, 0.03, 0.1, 0.3))


def joint_oof(xc, y, xs, pairs, alpha, mu, test_folds) -> np.ndarray:
    pred = np.zeros_like(y)
    for te in test_folds:
        tr = np.setdiff1d(np.arange(len(y)), te)
        pred[te] = fit_joint(xc[tr], y[tr], xs, pairs, alpha, mu)(xc[te])[:, 0]
    return pred


def select_joint(xc, y, xs, pairs, seed: int) -> tuple[float, float, dict]:
    """(alpha, mu) with the best 5-fold CV SRCC on the human scores; ties (within 0.002) go to the larger mu."""
    fs = folds([str(i) for i in range(len(y))], 5, seed)
    res = {(a, m): float(stats.spearmanr(joint_oof(xc, y, xs, pairs, a, m, fs), y)[0]) for a, m in JOINT_GRID}
    best = max(res.values())
    alpha, mu = max((k for k, v in res.items() if v >= best - 0.002), key=lambda k: (k[1], res[k]))
    return alpha, mu, {f"alpha={a:g},mu={m:g}": v for (a, m), v in res.items()}


def cv_report(pred: np.ndarray, y: np.ndarray, fs: list[np.ndarray]) -> dict:
    from vqual.eval.metrics import evaluate

    per = [evaluate(pred[te], y[te]) for te in fs]
    keys = ("srcc", "krcc", "plcc_l4", "rmse")
    return {k: {"mean": float(np.mean([p[k] for p in per])), "std": float(np.std([p[k] for p in per], ddof=1))}
            for k in keys}


def fit_and_save(feats: dict, sources: dict[str, list[str]], command: str) -> None:
    from vqual.heads.levels import fit_tau
    from vqual.heads.store import save_heads
    from vqual.levels import LEVEL_BOUNDS
    from vqual.models.cards import identity

    meta = feats["meta"]
    xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
    xc = np.hstack([feats["clive_spatial"], feats["clive_measures"]]).astype(np.float64)
    y = 1.0 + 4.0 * feats["mos"] / 100.0  # CLIVE MOS 0-100 -> 1-5
    pairs = ranking_pairs(meta)

    attr_head, attr_info = fit_attributes(xs, meta, sources)

    # honest estimate of the whole procedure: nested CV (the (alpha, mu) choice inside each outer training part)
    outer = folds([str(i) for i in range(len(y))], 5, seed=100)
    nested_pred = np.zeros_like(y)
    for te in outer:
        tr = np.setdiff1d(np.arange(len(y)), te)
        alpha, mu, _ = select_joint(xc[tr], y[tr], xs, pairs, seed=7)
        nested_pred[te] = fit_joint(xc[tr], y[tr], xs, pairs, alpha, mu)(xc[te])[:, 0]
        log(f"outer fold: chose alpha={alpha:g} mu={mu:g}")
    nested = cv_report(nested_pred, y, outer)
    log(f"nested 5-fold CV: SRCC {nested['srcc']['mean']:.3f} ± {nested['srcc']['std']:.3f}, "
        f"PLCC {nested['plcc_l4']['mean']:.3f}")

    # the shipped model: the same selection on all 200 images
    alpha, mu, sel = select_joint(xc, y, xs, pairs, seed=7)
    log(f"selected on all data: alpha={alpha:g} mu={mu:g} (CV SRCC {sel[f'alpha={alpha:g},mu={mu:g}']:.3f})")
    heads = {"score": fit_joint(xc, y, xs, pairs, alpha, mu), "attributes": attr_head}
    q = heads["score"](xs)[:, 0]
    pair_acc = float(np.mean(q[pairs[:, 0]] > q[pairs[:, 1]]))
    cv5 = folds([str(i) for i in range(len(y))], 5, seed=0)
    oof = np.zeros_like(y)
    for k, te in enumerate(cv5):  # fold heads: their disagreement is the uncertainty
        tr = np.setdiff1d(np.arange(len(y)), te)
        heads[f"fold{k}"] = fit_joint(xc[tr], y[tr], xs, pairs, alpha, mu)
        oof[te] = heads[f"fold{k}"](xc[te])[:, 0]
    tau = fit_tau(oof, y)
    ASSETS.mkdir(parents=True, exist_ok=True)
    npz = ASSETS / "heads.npz"
    save_heads(npz, heads)
    sha = hashlib.sha256(npz.read_bytes()).hexdigest()
    old = json.loads((ASSETS / "lite.json").read_text()) if (ASSETS / "lite.json").is_file() else {}
    config = {  # the card's identity fields (vqual.models.cards) carried over, the new heads' sha256 in them
        **identity(old), "model": "vqual-lite", "version": "1.0.0", "weights": {"heads.npz": sha},
        "feature": "SpatialEncoder() defaults (4096) + encoders.measures (59)",
        "score": {"form": "linear head on standardised features, fitted jointly to MOS and synthetic pairs "
                          "(scripts/fit_lite.py fit_joint)", "alpha": alpha, "mu": mu,
                  "target": "1 + 4 * CLIVE MOS / 100", "synthetic_pair_accuracy_train": pair_acc,
                  "synthetic_pairs": int(len(pairs))},
        "levels": {"bounds": list(LEVEL_BOUNDS), "tau": tau,
                   "note": "P(level) from a cumulative logistic of width tau around the score; tau maximises the "
                           "out-of-fold likelihood of the MOS level on clive-fewlabel"},
        "uncertainty": "standard deviation of the five cross-validation fold heads' scores (1-5 units)",
        "attributes": {"names": list(sources), "sources": sources, **attr_info},
        "temporal": {"penalty": {"stutter": 1.0, "frame_drops": 1.0, "shake": 1.0, "flicker": 1.0},
                     "pool_worst_fraction": 0.5,
                     "note": "a second's score = key-frame score - sum(penalty * severity); a heuristic (no "
                             "human-rated video here): a fully stuttering, dropping, shaking or flickering second "
                             "loses one ACR level per distortion; the video score is the mean of its worst half "
                             "of seconds"},
        "cv": {"selection_srcc": sel, "nested_5fold_seed100": nested, "n_labels": int(len(y))},
        "training": {"command": command, "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                     "data": {"stage1": "kodak24 (24) + mcmaster 1-12, 496x496 crops; 7 image distortions + h264, "
                                        "5 levels each (vqual.data.synthetic.DISTORTIONS)",
                              "stage2": "../shared/data/clive-fewlabel (200 images, MOS)"},
                     "held_out_content": "mcmaster 13-18"},
    }
    (ASSETS / "lite.json").write_text(json.dumps(config, indent=2) + "\n")
    log(f"wrote {npz} (sha256 {sha[:12]}...) and lite.json")
