"""Can a refitted score head on vqual-lite 2.1.0's fine-tuned features do better than the head trained end to end
with the encoder? Step 1 (`features`): the heads' inputs through the real scoring path (`model.features`, ONNX
engine) for clive-fewlabel (200), BIQ2021's official test split (2,000) and the attributes benchmark's held-out set
(McMaster 13-18 x 7 distortions x 5 levels + clean, seed 0, as benchmarks/attributes.py). Step 2 (`fit`): heads on
the cached BIQ2021 training features (scripts/train_lite2.py's heads stage, <WORK>/feat-biq-train.npy; 9,000 fit,
the seeded 1,000 held back are "val") with or without the synthetic ranking pairs, anchored or not to the shipped
head, with or without clive-fewlabel rows (then clive is 5-fold CV, every other figure from the fit on all 200).
`subsets` (step 2's other table, seventh session): heads learnt from BIQ2021's Unsplash subset (ss03) alone, plain or
anchored to the shipped head, against heads learnt from all three; validation SRCC within each subset too.
Usage: python research/lite2/head_refit.py features OUT BIQ_ROOT, then ... fit|subsets OUT BIQ_ROOT WORK."""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "scripts")]


def features(out: Path, biq_root: Path) -> None:
    import vqual
    from common import content_name, heldout_images, load_rgb
    from vqual.data import load_dataset
    from vqual.data.synthetic import DISTORTIONS, IMAGE_DISTORTIONS, apply_image
    from vqual.media import load_image

    out.mkdir(parents=True, exist_ok=True)
    m = vqual.load_model("vqual-lite@2.0")
    ds = load_dataset("clive-fewlabel", ROOT.parent / "shared" / "data" / "clive-fewlabel")
    np.save(out / "y-clive.npy", [ds.info.to_1_5(it.mos) for it in ds.items])
    np.save(out / "x-clive.npy", np.stack([m.features(load_image(str(it.path))) for it in ds.items]))
    rows, xs = [], []
    for path in heldout_images(None):
        rgb, name = load_rgb(path), content_name(path)
        rows.append((name, "clean", 0)); xs.append(m.features(rgb))
        for d in IMAGE_DISTORTIONS:
            for lv in (1, 2, 3, 4, 5):
                rows.append((name, d, lv)); xs.append(m.features(apply_image(d, rgb, DISTORTIONS[d].levels[lv - 1], seed=0)))
    (out / "attr-rows.json").write_text(json.dumps(rows))
    np.save(out / "x-attr.npy", np.stack(xs))
    ds = load_dataset("biq2021", biq_root)
    test = [it for it in ds.items if it.split == "test"]
    np.save(out / "y-biqtest.npy", [ds.info.to_1_5(it.mos) for it in test])
    np.save(out / "x-biqtest.npy", np.stack([m.features(load_image(str(it.path))) for it in test]))


def falls(rows: list, pred: np.ndarray) -> str:
    """benchmarks/attributes.py's count: the score falls with the level (SRCC >= 0.95), of 42 content x distortion
    (`rows`: the `features` step's attr-rows.json, `pred`: a score per row)."""
    by = {}
    for (c, dist, lv), p in zip(rows, pred):
        by.setdefault(c, {}).setdefault(dist, {})[lv] = p
    ok = n = 0
    for ds in by.values():
        for dist, lv in ds.items():
            if dist != "clean":
                s = [ds["clean"][0]] + [lv[k] for k in sorted(lv)]
                n += 1
                ok += spearmanr(s, -np.arange(len(s)))[0] >= 0.95
    return f"{ok}/{n}"


def fit(out: Path, biq_root: Path, work: Path, table: str = "refit") -> None:
    import train_lite2 as T2

    from vqual.eval.metrics import evaluate

    torch.set_num_threads(1)
    _, y_tr = T2.biq_split(biq_root, "train")
    va = T2.val_mask(len(y_tr), 0)
    tr = np.where(~va)[0]
    x_tr = np.load(work / "feat-biq-train.npy").astype(np.float64)
    meta, _ = T2.synthetic_items()
    x_syn = np.load(work / "feat-syn.npy").astype(np.float64)
    pairs = np.array(T2.syn_pairs(meta))
    d = 4096  # the score head reads the pooled encoder features only (the measures have weight 0)
    x_cl, y_cl = np.load(out / "x-clive.npy")[:, :d], np.load(out / "y-clive.npy")
    x_te, y_te = np.load(out / "x-biqtest.npy")[:, :d], np.load(out / "y-biqtest.npy")
    x_at, rows = np.load(out / "x-attr.npy")[:, :d], json.loads((out / "attr-rows.json").read_text())
    # the head trained end to end with the encoder ("shipped" below: vqual-lite@2.0 up to 2.1; since 2.2.0 its own
    # model, vqual-lite@2.0-biq, as heads.npz's score head learnt clive-fewlabel too)
    h = np.load(ROOT / "src" / "vqual" / "assets" / "lite2" / "score-biq.npz")
    mu0, sd0, w0, b0 = h["score.mean"][:d], h["score.scale"][:d], h["score.weight"][:d, 0], float(h["score.bias"][0])

    def z(x):
        return (x - mu0) / sd0

    Z_tr, Z_cl = z(x_tr), z(x_cl)
    Dp = torch.from_numpy(z(x_syn)[pairs[:, 0]] - z(x_syn)[pairs[:, 1]])

    def head(alpha, mu, anchor, cl_idx=None, cw=0.0, margin=0.1, rows=None):
        """min mean_i (z_i w + b - y_i)^2 + alpha/n |w - w_anchor|^2 + mu mean_p softplus-hinge + cw mean_clive(...)^2
        over the training rows `rows` (default: every training image outside the validation part)"""
        rows = tr if rows is None else rows
        W0 = torch.from_numpy(w0.astype(np.float64)) if anchor else torch.zeros(d, dtype=torch.float64)
        Z, Y = torch.from_numpy(Z_tr[rows]), torch.from_numpy(y_tr[rows])
        dw = torch.zeros(d, dtype=torch.float64, requires_grad=True)
        b = torch.tensor([b0], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([dw, b], lr=1, max_iter=200, line_search_fn="strong_wolfe", tolerance_grad=1e-9,
                                tolerance_change=1e-12)

        def closure():
            opt.zero_grad()
            w = W0 + dw
            r = Z @ w + b - Y
            loss = (r * r).mean() + alpha * (dw * dw).sum() / len(rows)
            if mu > 0:
                loss = loss + mu * (margin * torch.nn.functional.softplus(-(Dp @ w) / margin)).mean()
            if cw > 0:
                rc = torch.from_numpy(Z_cl[cl_idx]) @ w + b - torch.from_numpy(y_cl[cl_idx])
                loss = loss + cw * (rc * rc).mean()
            loss.backward()
            return loss

        opt.step(closure)
        w, bb = (W0 + dw).detach().numpy(), float(b.detach()[0])
        return lambda x: z(x) @ w + bb

    def row(name, f, clive_cv=None):
        p = f(x_te)
        ev = evaluate(p, y_te, mapped=(4,), levels=False)
        q = f(x_syn)
        clive = clive_cv if clive_cv is not None else f"{spearmanr(f(x_cl), y_cl)[0]:.3f} (zero-shot)"
        within = "" if table != "subsets" else " | " + " / ".join(
            f"{spearmanr(f(x_tr[va & (sub == s)]), y_tr[va & (sub == s)])[0]:.3f}" for s in T2.SUBSETS)
        print(f"| {name} | {spearmanr(f(x_tr[va]), y_tr[va])[0]:.3f}{within} | {ev['srcc']:.3f} / {ev['plcc_l4']:.3f} | "
              f"{clive} | {falls(rows, f(x_at))} | {np.mean(q[pairs[:, 0]] > q[pairs[:, 1]]):.3f} |", flush=True)

    if table == "subsets":
        paths, _ = T2.biq_split(biq_root, "train")
        sub = np.array([T2.subset_of(p) for p in paths])
        print("| head | val SRCC | val SRCC within ss01 / ss02 / ss03 | BIQ2021 test SRCC / PLCC (l4) | clive-fewlabel "
              "SRCC | score falls with level | synthetic pairs in order |\n| --- | ---: | --- | --- | --- | ---: | ---: |")
        row("shipped (trained end to end with the encoder, all subsets)", lambda x: z(x) @ w0 + b0)
        ss03 = tr[sub[tr] == "ss03"]
        for alpha, mu in ((1e4, 0), (1e4, 1)):
            row(f"ridge on all subsets, alpha {alpha:g}, pairs {mu:g}", head(alpha, mu, False))
            row(f"ridge on ss03 only, alpha {alpha:g}, pairs {mu:g}", head(alpha, mu, False, rows=ss03))
        for alpha, mu in ((1e4, 1), (1e5, 1), (1e5, 0)):
            row(f"anchored to the shipped head, on ss03 only, alpha {alpha:g}, pairs {mu:g}",
                head(alpha, mu, True, rows=ss03))
        return
    print("| head | val SRCC | BIQ2021 test SRCC / PLCC (l4) | clive-fewlabel SRCC | score falls with level | "
          "synthetic pairs in order |\n| --- | ---: | --- | --- | ---: | ---: |")
    row("shipped (trained end to end with the encoder)", lambda x: z(x) @ w0 + b0)
    for alpha, mu in ((1e3, 0), (1e4, 0), (1e4, 1), (1e4, 3)):
        row(f"ridge, alpha {alpha:g}, synthetic pairs weight {mu:g}", head(alpha, mu, False))
    for alpha, mu in ((1e4, 3), (1e5, 1), (1e5, 3)):
        row(f"anchored to the shipped head, alpha {alpha:g}, pairs {mu:g}", head(alpha, mu, True))
    for alpha, cw in ((1e5, 1), (1e5, 5), (1e6, 5), (1e6, 20)):
        fold = np.random.default_rng(0).permutation(len(y_cl)) % 5
        oof = np.zeros(len(y_cl))
        for k in range(5):
            oof[fold == k] = head(alpha, 3, True, np.where(fold != k)[0], cw)(x_cl[fold == k])
        row(f"anchored, alpha {alpha:g}, pairs 3, + clive-fewlabel rows weight {cw:g}",
            head(alpha, 3, True, np.arange(len(y_cl)), cw), f"{spearmanr(oof, y_cl)[0]:.3f} (5-fold CV)")


if __name__ == "__main__":
    if sys.argv[1] == "features":
        features(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        fit(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]), sys.argv[1])
