"""Build the synthetic pair prior that `vqual train` uses with the ``lite`` encoder: `python scripts/make_pair_prior.py`

vqual-lite's score head learns from the human scores *and* from 1440 synthetic ranking pairs (the same crop with a
stronger distortion must score lower; `fit_lite.ranking_pairs`). A user's head can use the same pairs, but the
features of the 1476 synthetic images (Kodak 24 and McMaster 1-12 crops, graded distortions) cannot ship. A
linear head only ever sees a pair through the difference of its two feature vectors, so what ships is those
differences: whitened by the synthetic set's feature scale, then reduced to their top ``RANK`` singular directions
(coef = U S, basis = V^T, float16; ~1.4 MB instead of 24 MB). The rank-128 differences keep 0.643 / 0.728 of
the full differences' 0.650 / 0.731 test SRCC with 50 / 150 labels (research/fewlabel/README.md).

Inputs: the feature cache of scripts/train_lite.py (computed on first use, ~15 min). Writes
src/vqual/assets/lite/pairs.npz and pairs.json (sha256, shapes, energy kept, pair weight and ridge grid, command).
Deterministic: the SVD runs on one thread and each direction's sign is fixed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread: the same SVD bits on every run
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
ASSETS = HERE.parent / "src" / "vqual" / "assets" / "lite"
RANK = 128
#: Ridge strengths per label that `vqual train` chooses from on its validation folds (lite.json's 100 at 200 labels
#: is 0.5 per label; one step of 4x either side).
ALPHAS_PER_LABEL = (0.1, 0.5, 2.0)


def main() -> int:
    import fit_lite as F
    import train_lite as T

    from vqual.heads.linear import standardiser
    from vqual.weights import asset_path

    feats = T.extract_all()
    xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
    pairs = F.ranking_pairs(feats["meta"])
    _, scale = standardiser(xs)
    d = (xs[pairs[:, 0]] - xs[pairs[:, 1]]) / scale  # (P, dim): better minus worse, whitened
    u, s, vt = np.linalg.svd(d, full_matrices=False)
    sign = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])  # largest entry of each direction > 0
    u, vt = u * sign, vt * sign[:, None]
    coef = (u[:, :RANK] * s[:RANK]).astype(np.float16)
    basis = vt[:RANK].astype(np.float16)
    energy = float((s[:RANK] ** 2).sum() / (s ** 2).sum())
    out = ASSETS / "pairs.npz"
    np.savez(out, coef=coef, basis=basis, scale=scale.astype(np.float32))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    lite = json.loads(asset_path("lite/lite.json").read_text())
    meta = {
        "model": "vqual-lite-pairs", "version": "1.0.0", "sha256": digest,
        "encoder": "lite", "dim": int(xs.shape[1]), "rank": RANK, "n_pairs": int(len(pairs)),
        "energy_kept": round(energy, 4),
        "pair_weight": lite["score"]["mu"], "margin": 0.1, "alphas_per_label": list(ALPHAS_PER_LABEL),
        "pair_weight_source": "lite.json score.mu (chosen by CV on the 200 clive-fewlabel MOS)",
        "data": "graded synthetic distortions of Kodak 24 and McMaster 1-12 crops (scripts/train_lite.py "
                "synthetic_set); pairs: same crop and distortion, one level apart (clean = level 0)",
        "command": "python scripts/make_pair_prior.py",
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    (ASSETS / "pairs.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, sha256 {digest[:12]}..., energy kept {energy:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
