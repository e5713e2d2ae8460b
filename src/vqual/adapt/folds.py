"""Cross-validation folds: content-grouped, seeded, balanced; used by calibration, head training, distillation and
the evaluation protocols (`vqual.eval.protocols`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vqual.errors import VqualError

#: Cross-validation on few labels: at most this many folds, and at least this many labels per fold:
#: k = min(5, n // 5).
MAX_FOLDS = 5
MIN_PER_FOLD = 5


class ProtocolError(VqualError, ValueError):
    """A protocol cannot run on this data (no split, too few items or contents, bad parameter)."""


def content_ids(groups: Sequence[str] | None, n: int) -> list[str]:
    """The content id of each of `n` items: `groups`, or when none are given every item its own content."""
    return list(groups) if groups is not None else [str(i) for i in range(n)]


def n_folds(n: int, n_groups: int | None = None) -> int:
    """k = min(5, n // 5) (and at most the number of distinct contents)."""
    k = min(MAX_FOLDS, n // MIN_PER_FOLD)
    return min(k, n_groups) if n_groups is not None else k


def kfold_indices(content: Sequence[str], k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Test-item indices of each of `k` folds; all items of one content id are in the same fold.

    Content ids are shuffled with ``default_rng(seed)``, then each (largest first, stable) goes to the fold with
    the fewest items so far, which balances fold sizes.
    """
    content = np.asarray(content, dtype=object)
    if k < 2:
        raise ProtocolError(f"k-fold needs at least 2 folds, got {k}")
    uniq, inverse = np.unique(content.astype(str), return_inverse=True)
    if uniq.size < k:
        raise ProtocolError(f"k-fold: {k} folds need at least {k} distinct contents, got {uniq.size}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(uniq.size)
    sizes = np.bincount(inverse, minlength=uniq.size)
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of_content = np.empty(uniq.size, dtype=int)
    load = np.zeros(k, dtype=int)
    for c in order:
        f = int(np.argmin(load))
        fold_of_content[c] = f
        load[f] += sizes[c]
    fold_of_item = fold_of_content[inverse]
    return [np.flatnonzero(fold_of_item == f) for f in range(k)]
