"""Build the synthetic pair prior that `vqual train` uses with an encoder preset: `python scripts/make_pair_prior.py
[--encoder lite|lite2]`

vqual-lite's score head learns from the human scores *and* from 1440 synthetic ranking pairs (the same crop with a
stronger distortion must score lower; `fit_lite.ranking_pairs`). A user's head can use the same pairs, but the
features of the 1476 synthetic images (Kodak 24 and McMaster 1-12 crops, graded distortions) cannot ship. A
linear head only ever sees a pair through the difference of its two feature vectors, so what ships is those
differences: whitened by the synthetic set's feature scale, then reduced to their top ``RANK`` singular directions
(coef = U S, basis = V^T, float16; ~1.4 MB instead of 24 MB). The rank-128 differences keep 0.643 / 0.728 of
the full differences' 0.650 / 0.731 test SRCC with 50 / 150 labels (research/fewlabel/README.md).

Inputs: ``lite`` (vqual-lite 1.0's features): the feature cache of scripts/train_lite.py (computed on first use, ~15
min). ``lite2`` (vqual-lite 2's fine-tuned encoder): the same synthetic images' features as scripts/train_lite2.py's
heads stage caches them under its --work folder (`--work`), checked against the shipped encoder's sha256; the same 1440
pairs, and the pair weight and ridge grid are 1.0's (not re-tuned on clive-fewlabel, which measures them). Writes
src/vqual/assets/<lite|lite2>/pairs.npz and pairs.json (sha256, shapes, energy kept, pair weight and ridge grid,
command).
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


def synthetic_differences(encoder: str, work: Path | None) -> tuple[np.ndarray, np.ndarray, str]:
    """(features of the synthetic set (n, d), (better, worse) index pairs (P, 2), what they are) for `encoder`."""
    import fit_lite as F
    import train_lite as T

    if encoder == "lite":
        feats = T.extract_all()
        xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
        return xs, F.ranking_pairs(feats["meta"]), "same crop and distortion, one level apart (clean = level 0)"
    import train_lite2 as T2

    from vqual.weights import sha256_file

    work = T2.DEFAULT_WORK if work is None else work
    stamp = work / "feat-syn.sha256"
    shipped = sha256_file(T2.ASSET)
    if not stamp.is_file() or stamp.read_text() != shipped:
        raise SystemExit(f"{work}/feat-syn.npy is missing or not from the shipped encoder.npz ({shipped[:12]}...): run "
                         f"`python scripts/train_lite2.py --biq-root DIR --work {work} --stage heads` first")
    meta, _ = T2.synthetic_items()
    xs = np.hstack([np.load(work / "feat-syn.npy"), np.load(work / "syn-measures.npy")]).astype(np.float64)
    return xs, F.ranking_pairs(meta), "same crop and distortion, one level apart (clean = level 0)"


def main(argv: list[str] | None = None) -> int:
    import argparse

    from vqual.heads.linear import standardiser
    from vqual.weights import asset_path

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", choices=("lite", "lite2"), default="lite")
    ap.add_argument("--work", type=Path, default=None, help="lite2: train_lite2.py's --work")
    args = ap.parse_args(argv)
    xs, pairs, which = synthetic_differences(args.encoder, args.work)
    _, scale = standardiser(xs)
    d = (xs[pairs[:, 0]] - xs[pairs[:, 1]]) / scale  # (P, dim): better minus worse, whitened
    u, s, vt = np.linalg.svd(d, full_matrices=False)
    sign = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])  # largest entry of each direction > 0
    u, vt = u * sign, vt * sign[:, None]
    coef = (u[:, :RANK] * s[:RANK]).astype(np.float16)
    basis = vt[:RANK].astype(np.float16)
    energy = float((s[:RANK] ** 2).sum() / (s ** 2).sum())
    folder = ASSETS.parent / args.encoder
    out = folder / "pairs.npz"
    np.savez(out, coef=coef, basis=basis, scale=scale.astype(np.float32))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    lite = json.loads(asset_path("lite/lite.json").read_text())
    meta = {
        "model": "vqual-lite-pairs", "version": "1.0.0" if args.encoder == "lite" else "2.0.0", "sha256": digest,
        "encoder": args.encoder, "dim": int(xs.shape[1]), "rank": RANK, "n_pairs": int(len(pairs)),
        "energy_kept": round(energy, 4),
        "pair_weight": lite["score"]["mu"], "margin": 0.1, "alphas_per_label": list(ALPHAS_PER_LABEL),
        "pair_weight_source": "lite.json score.mu (chosen by CV on the 200 clive-fewlabel MOS with vqual-lite 1.0's "
                              "features)" + ("" if args.encoder == "lite" else "; not re-tuned for lite2"),
        "data": "graded synthetic distortions of Kodak 24 and McMaster 1-12 crops (scripts/train_lite.py "
                f"synthetic_set); pairs: {which}",
        "command": "python scripts/make_pair_prior.py" + ("" if args.encoder == "lite" else " --encoder lite2"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    if args.encoder == "lite2":
        meta["encoder_sha256"] = json.loads(asset_path("lite2/lite2.json").read_text())["weights"]["encoder.npz"]
    (folder / "pairs.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, sha256 {digest[:12]}..., energy kept {energy:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
