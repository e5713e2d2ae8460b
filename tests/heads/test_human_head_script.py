"""scripts/human_head.py, the score head of vqual-lite 2 from two human-rated sets (#16): the Woodbury shortcut gives
the head the objective defines, the anchor and the weights pull where they should, and the nested CV never lets an
outer test row into its own choice."""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import human_head as H  # noqa: E402


def _sets(seed: int = 0, d: int = 6):
    """A 'big' set whose labels follow one direction and a small one whose labels follow another."""
    rng = np.random.default_rng(seed)
    xb, xe, xv = rng.normal(size=(300, d)), rng.normal(size=(40, d)), rng.normal(size=(80, d))
    wb, we = rng.normal(size=d), rng.normal(size=d)
    yb = xb @ wb + 3 + 0.1 * rng.normal(size=300)
    ye = xe @ (0.5 * wb + we) + 3 + 0.1 * rng.normal(size=40)
    return xb, yb, xe, ye, xv, xv @ wb + 3, wb


def _one(x):
    return np.hstack([x, np.ones((len(x), 1))])


def _direct(zb, yb, ze, ye, w0, alpha, cw):
    """The objective's normal equations solved directly."""
    n, pen = len(yb), np.r_[np.ones(zb.shape[1] - 1), 0.0]
    a = zb.T @ zb / n + np.diag(alpha / n * pen) + (cw * ze.T @ ze / len(ye) if cw else 0)
    r = zb.T @ yb / n + alpha / n * pen * w0 + (cw * ze.T @ ye / len(ye) if cw else 0)
    return np.linalg.solve(a, r)


@pytest.mark.parametrize("alpha,cw", [(10.0, 0.0), (10.0, 2.0), (1000.0, 5.0)])
def test_woodbury_head_equals_the_direct_solution(alpha, cw):
    xb, yb, xe, ye, *_ = _sets()
    w0 = np.r_[np.ones(xb.shape[1]), 0.5]
    fit = H.AnchoredRidge(_one(xb), yb, _one(xe), ye, w0, alphas=(alpha,))
    idx = np.arange(0, 40, 2)
    direct = _direct(_one(xb), yb, _one(xe[idx]), ye[idx], w0, alpha, cw)
    np.testing.assert_allclose(fit.weights(alpha, cw, idx), direct, rtol=1e-8, atol=1e-10)


def test_strong_anchor_keeps_the_anchor_and_weight_pulls_to_the_small_set():
    xb, yb, xe, ye, *_ = _sets()
    w0 = np.r_[np.full(xb.shape[1], 0.3), 3.0]
    fit = H.AnchoredRidge(_one(xb), yb, _one(xe), ye, w0, alphas=(1e9, 1.0))
    all_e = np.arange(40)
    assert np.abs(fit.weights(1e9, 0.0, all_e)[:-1] - w0[:-1]).max() < 1e-3  # the end-to-end head at infinity
    err = [np.mean((_one(xe) @ fit.weights(1.0, cw, all_e) - ye) ** 2) for cw in (0.0, 1.0, 50.0)]
    assert err[0] > err[1] > err[2]


def test_nested_cv_and_the_fitted_head(monkeypatch):
    xb, yb, xe, ye, xv, yv, wb = _sets(1)
    seen = []
    real = H.AnchoredRidge.weights

    def spy(self, alpha, cw, idx):
        seen.append(frozenset(int(i) for i in idx))
        return real(self, alpha, cw, idx)

    monkeypatch.setattr(H.AnchoredRidge, "weights", spy)
    fit = H.AnchoredRidge(_one(xb), yb, _one(xe), ye, np.r_[wb, 3.0], alphas=(1.0, 100.0))
    nested, chosen = H.nested_cv(fit, _one(xv), yv)
    outer = H.folds([str(i) for i in range(40)], 5, seed=100)
    assert len(chosen) == 5 and all((c["alpha"], c["cw"]) in [(a, w) for a in (1.0, 100.0) for w in H.WEIGHTS]
                                    for c in chosen)
    tests = [frozenset(int(i) for i in te) for te in outer]
    assert all(any(s.isdisjoint(t) for t in tests) for s in seen)  # no fit ever saw every fold
    assert set(nested) == {"srcc", "krcc", "plcc_l4", "rmse"} and nested["srcc"]["mean"] > 0.8
    w, b, info = H.human_head(np.zeros(6), np.ones(6), wb, 3.0, xb, yb, xv, yv, xe, ye)
    assert info["clive_weight"] > 0  # the small set's own direction is worth learning here
    assert np.corrcoef(xe @ w + b, ye)[0, 1] > np.corrcoef(xe @ wb, ye)[0, 1]
    assert set(info) >= {"alpha", "selection", "nested_5fold_seed100", "nested_choices", "val_srcc"}
