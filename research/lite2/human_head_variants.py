"""Variants of vqual-lite 2.2.0's score head (scripts/human_head.py), each scored by the same nested 5-fold CV on
clive-fewlabel (outer seed 100) as the shipped procedure:

- shipped: (alpha, cw) by the mean of clive-fewlabel's CV SRCC and BIQ2021's validation SRCC;
- clive only: (alpha, cw) by clive-fewlabel's CV SRCC alone;
- ss03: the BIQ2021 rows restricted to its Unsplash subset (the seventh session's lead), shipped criterion;
- measures: the 59 direct measures (`vqual.encoders.measures`, weight 0 in the shipped head) as further free inputs,
  shipped criterion (BIQ2021's measures computed here once, ~2.5 min, cached in WORK).

Features: the heads stage's cache (<WORK>/feat-biq-train.npy, feat-clive.npy: the exported encoder, training path).
Usage: python research/lite2/human_head_variants.py BIQ_ROOT WORK (one thread is enough: ~2 min)."""
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts")]
import human_head as H  # noqa: E402
import train_lite2 as T2  # noqa: E402


def load(biq_root: Path, work: Path) -> SimpleNamespace:
    """What the score-head studies read: BIQ2021's training features and MOS (`va`: the held-back part), its test
    split's, clive-fewlabel's, the end-to-end head (`w0`, `b0`) and `z` (its standardisation, then a bias column)."""
    paths, y = T2.biq_split(biq_root, "train")
    tpaths, yt = T2.biq_split(biq_root, "test")
    model, _ = T2.exported_upper(SimpleNamespace(work=work))  # the shipped encoder and the end-to-end head
    mean, scale = model.mu.double().numpy(), model.sd.double().numpy()

    def z(a):
        return np.hstack([(a - mean) / scale, np.ones((len(a), 1))])

    return SimpleNamespace(
        paths=paths, y=y, va=T2.val_mask(len(y), 0), tpaths=tpaths, yt=yt, z=z,
        x=np.load(work / "feat-biq-train.npy").astype(np.float64),
        xc=np.load(work / "feat-clive.npy").astype(np.float64), yc=T2.clive_items()[1],
        xt=T2.features_of(model, *T2.load_cache(work, "biq-test", len(tpaths))).astype(np.float64),
        w0=model.score.weight.detach().double().numpy()[0], b0=float(model.score.bias.detach()[0]))


def main(biq_root: Path, work: Path) -> None:
    d = load(biq_root, work)
    paths, y, va, tpaths, yt, z = d.paths, d.y, d.va, d.tpaths, d.yt, d.z
    x, xc, yc, xt, w0, b0 = d.x, d.xc, d.yc, d.xt, d.w0, d.b0
    sub = np.array([T2.subset_of(p) for p in paths])

    def measured(paths_, tag):
        from PIL import Image

        from vqual.encoders.measures import measures

        f = work / f"measures-{tag}.npy"
        if not f.exists():
            np.save(f, np.stack([measures(np.asarray(Image.open(p).convert("RGB"))) for p in paths_]))
        return np.load(f)

    m_tr, m_te = measured(paths, "biq-train"), measured(tpaths, "biq-test")
    m_cl = measured(T2.clive_items()[0], "clive")
    m_mean, m_sd = m_tr[~va].mean(0), m_tr[~va].std(0) + 1e-9

    def zm(a, m):  # z with the standardised measures before the bias column
        return np.hstack([z(a)[:, :-1], np.clip((m - m_mean) / m_sd, -10, 10), np.ones((len(a), 1))])

    print("| variant | nested 5-fold CV SRCC (clive-fewlabel) | choice on all 200 | BIQ2021 val SRCC | "
          "BIQ2021 test SRCC |\n| --- | --- | --- | ---: | ---: |")
    for name, rows, crit in (("shipped criterion, all BIQ2021 rows", ~va, "both"),
                             ("clive CV alone, all BIQ2021 rows", ~va, "clive"),
                             ("shipped criterion, BIQ2021 ss03 rows only", ~va & (sub == "ss03"), "both")):
        fit = H.AnchoredRidge(z(x[rows]), y[rows], z(xc), yc, np.append(w0, b0))
        real = H.select
        if crit == "clive":  # the criterion is clive's CV SRCC alone
            def select(f, idx, zv, yv, seed=7, grid=None):
                choice, table = real(f, idx, zv, yv, seed, grid)
                best = max(table, key=lambda k: table[k]["clive_cv_srcc"])
                a, c = (float(v.split("=")[1]) for v in best.split(","))
                return (a, c), table
            H.select = select
        try:
            nested, _ = H.nested_cv(fit, z(x[va]), y[va])
            (a, c), _ = H.select(fit, np.arange(len(yc)), z(x[va]), y[va])
        finally:
            H.select = real
        w = fit.weights(a, c, np.arange(len(yc)))
        print(f"| {name} | {nested['srcc']['mean']:.3f} ± {nested['srcc']['std']:.3f} | alpha {a:g}, cw {c:g} | "
              f"{spearmanr(z(x[va]) @ w, y[va])[0]:.3f} | {spearmanr(z(xt) @ w, yt)[0]:.3f} |", flush=True)
    fit = H.AnchoredRidge(zm(x[~va], m_tr[~va]), y[~va], zm(xc, m_cl), yc, np.concatenate([w0, np.zeros(59), [b0]]))
    nested, _ = H.nested_cv(fit, zm(x[va], m_tr[va]), y[va])
    (a, c), _ = H.select(fit, np.arange(len(yc)), zm(x[va], m_tr[va]), y[va])
    w = fit.weights(a, c, np.arange(len(yc)))
    print(f"| shipped criterion, all BIQ2021 rows, + the 59 measures | {nested['srcc']['mean']:.3f} ± "
          f"{nested['srcc']['std']:.3f} | alpha {a:g}, cw {c:g} | {spearmanr(zm(x[va], m_tr[va]) @ w, y[va])[0]:.3f} | "
          f"{spearmanr(zm(xt, m_te) @ w, yt)[0]:.3f} |", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
