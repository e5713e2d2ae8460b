"""Few-label adaptation on clive-fewlabel: calibration only, distillation + calibration, and the warmed-up head,
from 25 to 150 human scores, tested on held-out images; and the distilled student's speed against its teacher.

    python benchmarks/fewlabel_adapt.py [--sizes 25,50,100,150] [--draws 10]

Protocol (every method sees the same splits). For draw d = 0..9: a permutation of the 200 images seeded with d;
the first 50 are the test images of that draw (never labelled, never unlabelled media, never seen by any teacher
fitted on labels); the other 150 are the pool; the N labelled images are the first N of the pool. Figures are the
mean and standard deviation over the 10 draws of the test SRCC and PLCC (Pearson on the calibrated 1-5
predictions; PLCC after the VQEG 4-parameter logistic too).

Why no vqual-lite: its score head was trained on all 200 clive-fewlabel labels, so its scores here are in-sample.
Teachers that never saw a clive label:
- ``lite-labelfree``: vqual-lite's encoder (EfficientNet-Lite0 at up to 512x512 + 59 measures) with a linear score
  head fitted to the synthetic ranking pairs only (1440 pairs of graded distortions of Kodak/McMaster crops: same
  content, stronger distortion scores lower; scripts/fit_lite.py `ranking_pairs`, features cached by
  scripts/train_lite.py), no human score; written as a user model folder and used through `vqual.load_model`;
- ``niqe``: the registered opinion-unaware NIQE.
- ``vqual-lite@2.0-biq``: vqual-lite 2 with its score head trained end to end on BIQ2021 (synthetic pairs; no clive
  label: the shipped ``vqual-lite@2.0`` 2.2.0's head also learnt clive-fewlabel, so it would be no fair teacher here),
  views orig + hflip: calibrated alone, distilled into a ``lite-small`` student and into a student on its own
  ``lite2`` encoder (``vqual distill --teacher vqual-lite@2.0-biq --encoder lite2``); beside it the warmed-up head
  on the ``lite2`` encoder with its own pair prior (``vqual train --encoder lite2``).
And one teacher fitted per draw on that draw's N labels only: ``lite-recipe``, the vqual-lite score-head recipe
(scripts/fit_lite.py `fit_joint`: the N MOS + the synthetic pairs; ridge strength and pair weight from lite.json,
ridge scaled by N / 200 as benchmarks/fewlabel_lite.py does; those two numbers were chosen by CV on all 200
images: a mild optimism, stated with the figures).

Methods:
- (a) calibration only: the model's own score mapped to the labels by the map ``vqual calibrate`` picks (auto);
- (b) distillation + calibration (`vqual.adapt.distill`): teacher signals over the 150 pool images (the unlabelled
  media; their labels are never used except the N), a linear student on ``lite-small`` features learning them
  jointly with the N labels, then calibrated on the N labels; teachers ``lite-labelfree,niqe`` (views orig +
  hflip) and the per-draw ``lite-recipe``; plus the pure variant where labels only calibrate (label weight 0);
- (c) warmed-up head (`vqual.adapt.train`, ``vqual train`` defaults): a linear head on vqual-lite's encoder trained
  on the N labels jointly with the packaged synthetic pair prior (`vqual.adapt.pairs`), its ridge strength chosen
  on 5 validation folds of the N labels; and the same without the pairs (``--no-synthetic-pairs``: gradient
  descent with early stopping on those folds).

Speed: median ms per image of `model.score(path)` over the same 20 clive images, one thread, for the student, the
teachers and vqual-lite, interleaved in one run.
Caches (features, teacher outputs) go to .cache/fewlabel_adapt/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "scripts"))
CACHE = ROOT / ".cache" / "fewlabel_adapt"
DATA = ROOT.parent / "shared" / "data" / "clive-fewlabel"
N_TEST = 50


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fit_pairs_only(xs: np.ndarray, pairs: np.ndarray, alpha: float = 0.01, margin: float = 0.1) -> dict:
    """A linear head fitted to synthetic ranking pairs only (no human score): smooth hinge + ridge, L-BFGS. Its
    output is put on 1-5 by the synthetic set itself (mean 3, standard deviation 0.75). Returns the head's arrays."""
    import torch

    from vqual.heads.linear import standardiser

    mean, scale = standardiser(xs)
    zs = torch.from_numpy((xs - mean) / scale).double()
    p = torch.from_numpy(pairs)
    w = torch.zeros(zs.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=300, line_search_fn="strong_wolfe", tolerance_grad=1e-7)

    def closure():
        opt.zero_grad()
        q = zs @ w
        d = q[p[:, 0]] - q[p[:, 1]]
        loss = (margin * torch.nn.functional.softplus(-d / margin)).mean() + alpha * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    q = (zs @ w).detach().numpy()
    k = 0.75 / q.std()
    return {"mean": mean, "scale": scale, "w": w.detach().numpy() * k, "b": np.array([3.0 - q.mean() * k])}


def labelfree_teacher() -> Path:
    """The ``lite-labelfree`` user model folder (built once from the cached synthetic features)."""
    import fit_lite as F
    import torch
    import train_lite as T

    from vqual.encoders.features import encoder_config
    from vqual.heads.linear import LinearHead
    from vqual.models.user import ModelCard, provenance, read_card, write_model_dir

    out = CACHE / "lite-labelfree"
    if (out / "model.json").is_file():
        return out
    feats = T.extract_all()  # cached: .cache/train_lite
    torch.set_num_threads(1)  # extract_all sets 2
    xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
    pairs = F.ranking_pairs(feats["meta"])
    h = fit_pairs_only(xs, pairs)
    arrays = LinearHead(names=("score",), mean=h["mean"], scale=h["scale"], weight=h["w"][:, None],
                        bias=h["b"]).to_arrays("score", dtype=None)  # as a user model folder stores a linear head
    card = ModelCard(name="lite-labelfree", version="1.0.0", encoder=encoder_config("lite"), head="linear",
                     weights_sha256="", description="vqual-lite encoder, score head from synthetic pairs only",
                     trained_on=[], provenance=provenance(
                         "benchmarks/fewlabel_adapt.py", "python benchmarks/fewlabel_adapt.py",
                         data="synthetic ranking pairs of scripts/train_lite.py (no human score)",
                         n_pairs=int(len(pairs)), alpha=0.01, margin=0.1))
    write_model_dir(out, card, arrays, overwrite=False)
    read_card(out)
    return out


def features(tag: str, encoder_name: str, paths: list[str]) -> np.ndarray:
    import hashlib

    from vqual.adapt.train import extract_features
    from vqual.encoders.features import encoder_config, get_encoder

    cfg = json.dumps(encoder_config(encoder_name), sort_keys=True)  # a changed preset gets a new cache file
    path = CACHE / f"{tag}-{hashlib.sha256(cfg.encode()).hexdigest()[:8]}.npy"
    if path.exists():
        return np.load(path)
    t0 = time.perf_counter()
    x, ok = extract_features(get_encoder(encoder_config(encoder_name)), paths, label=tag)
    if not ok.all():
        raise SystemExit(f"{tag}: {int((~ok).sum())} images could not be read")
    np.save(path, x)
    log(f"{tag}: {len(paths)} images in {time.perf_counter() - t0:.0f} s")
    return x


def summarise(per: list[dict]) -> dict:
    out = {}
    for k in ("srcc", "plcc", "plcc_l4", "rmse", "teacher_srcc"):
        v = [p[k] for p in per if p.get(k) is not None]
        if not v:
            continue
        out[k] = {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v)}
    return out


def speed(models: dict, paths: list[str], repeats: int = 1) -> dict:
    """Median ms per image of each model's `score`, interleaved image by image (same load for all)."""
    for m in models.values():  # warm-up
        m.score(paths[0])
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(repeats):
        for p in paths:
            for k, m in models.items():
                t0 = time.perf_counter()
                m.score(p)
                times[k].append((time.perf_counter() - t0) * 1000.0)
    return {k: {"median_ms": float(np.median(v)), "n": len(v)} for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="25,50,100,150")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--speed-images", type=int, default=20)
    ap.add_argument("--json", default=str(HERE / "results" / "fewlabel-adapt.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    import fit_lite as F
    import train_lite as T

    import vqual
    from vqual.adapt.distill import DistillConfig, teacher_scores, teacher_signals, train_student
    from vqual.adapt.pairs import load_pair_prior
    from vqual.adapt.train import TrainConfig, fit_score_map, train_head
    from vqual.eval.cache import PredictionCache
    from vqual.eval.metrics import evaluate
    from vqual.weights import asset_path

    t_start = time.perf_counter()
    CACHE.mkdir(parents=True, exist_ok=True)
    rows_csv = [r.split(",") for r in (DATA / "labels.csv").read_text().split()[1:]]
    paths = [str(DATA / r[0]) for r in rows_csv]
    y = 1.0 + 4.0 * np.array([float(r[1]) for r in rows_csv]) / 100.0
    n_items = len(y)

    # teachers that never saw a clive label: scored through the real models (cached, resumable)
    teacher_dir = labelfree_teacher()
    teachers = [vqual.load_model(str(teacher_dir)), vqual.load_model("niqe")]
    views = ("orig", "hflip")
    with PredictionCache(CACHE / "teacher-cache") as cache:
        t0 = time.perf_counter()
        tscores, errors = teacher_scores(teachers, paths, views, cache=cache)
        log(f"teacher outputs ({len(teachers)} models x {len(views)} views x {n_items}) in "
            f"{time.perf_counter() - t0:.0f} s")
    if any(errors):
        raise SystemExit(f"teacher failed: {[e for e in errors if e][:3]}")
    # vqual-lite 2 as a teacher: its BIQ2021-only score head never saw a clive-fewlabel label
    lite2 = vqual.load_model("vqual-lite@2.0-biq")
    if "clive-fewlabel" in lite2.trained_on:
        raise SystemExit(f"{lite2.name} learnt clive-fewlabel: it cannot teach a student tested on it")
    with PredictionCache(CACHE / "teacher-cache") as cache:
        t2scores, errors = teacher_scores([lite2], paths, views, cache=cache)
    if any(errors):
        raise SystemExit(f"teacher vqual-lite@2.0-biq failed: {[e for e in errors if e][:3]}")
    x_small = features("clive-lite-small", "lite-small", paths)  # the student's encoder
    x_lite = features("clive-lite", "lite", paths)  # vqual-lite's encoder (warm-up head, per-draw teacher)
    x_lite2 = features("clive-lite2", "lite2", paths)  # vqual-lite 2's encoder (`--encoder lite2`)
    feats = T.extract_all()
    torch.set_num_threads(1)  # extract_all sets 2
    xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
    pairs = F.ranking_pairs(feats["meta"])
    cfg = json.loads(asset_path("lite/lite.json").read_text())
    alpha, mu = cfg["score"]["alpha"], cfg["score"]["mu"]

    z = (tscores - np.nanmean(tscores, axis=(1, 2), keepdims=True)) / np.nanstd(tscores, axis=(1, 2), keepdims=True)
    ens = np.nanmean(z.reshape(-1, n_items), axis=0)  # the ensemble's point score (for the student's fidelity)
    sizes = [int(s) for s in args.sizes.split(",")]
    methods = ["(a) calibration only: lite-labelfree", "(a) calibration only: niqe",
               "(b) distillation + calibration: lite-labelfree,niqe",
               "(b) distillation + calibration: lite-labelfree,niqe, labels only calibrate",
               "(b) distillation + calibration: lite-recipe (per draw)",
               "(c) warmed-up head, lite encoder (vqual train --encoder lite: linear, synthetic pairs)",
               "(c) warmed-up head, --no-synthetic-pairs",
               "(teacher) lite-recipe (per draw), full size",
               "(teacher) lite-labelfree,niqe ensemble point score, calibrated",
               "(a) calibration only: vqual-lite@2.0-biq (zero-shot teacher)",
               "(b) distillation + calibration: vqual-lite@2.0-biq -> lite-small student",
               "(b) distillation + calibration: vqual-lite@2.0-biq -> lite2 student",
               "(c) warmed-up head, lite2 encoder (vqual train --encoder lite2: its synthetic pairs)"]
    per: dict[tuple[str, int], list[dict]] = {(m, n): [] for m in methods for n in sizes}
    prior = load_pair_prior()
    prior2 = load_pair_prior("lite2")
    t2 = t2scores[0, 0]  # vqual-lite 2's own 1-5 score, original view
    dcfg = DistillConfig()
    for d in range(args.draws):
        perm = np.random.default_rng(d).permutation(n_items)
        test, pool = perm[:N_TEST], perm[N_TEST:]
        for n in sizes:
            lab = pool[:n]
            yl = y[lab]

            def record(method: str, pred: np.ndarray, n: int = n, test: np.ndarray = test,
                       teacher: np.ndarray | None = None) -> None:
                ev = evaluate(pred, y[test], mapped=(4,), levels=False)
                if teacher is not None:  # how closely the student follows its teacher on the test images
                    ev["teacher_srcc"] = float(stats.spearmanr(pred, teacher[test]).statistic)
                per[(method, n)].append(ev)

            for m, name in ((0, "lite-labelfree"), (1, "niqe")):
                own = tscores[m, 0]  # the model's own 1-5 score, original view
                smap, _ = fit_score_map(own[lab], yl, seed=d)
                record(f"(a) calibration only: {name}", smap.predict(own[test]))
            smap, _ = fit_score_map(ens[lab], yl, seed=d)
            record("(teacher) lite-labelfree,niqe ensemble point score, calibrated", smap.predict(ens[test]))
            # distillation: signals over the pool only (test images excluded), labelled = first n of the pool
            sig = teacher_signals(tscores[:, :, pool], n_pairs=dcfg.pairs_per_item * len(pool), seed=d)
            labelled = np.arange(n)
            for method, lw in (("(b) distillation + calibration: lite-labelfree,niqe", dcfg.label_weight),
                               ("(b) distillation + calibration: lite-labelfree,niqe, labels only calibrate", 0.0)):
                st = train_student(x_small[pool], sig, labelled, yl,
                                   config=DistillConfig(label_weight=lw, seed=d))
                record(method, st.score_map.predict(st.head(x_small[test])[:, 0]), teacher=ens)
            # per-draw teacher: the vqual-lite recipe on the n labels, distilled into the same student
            head = F.fit_joint(x_lite[lab], yl, xs, pairs, alpha * n / 200.0, mu)
            t_pool = head(x_lite[pool])[:, 0]
            record("(teacher) lite-recipe (per draw), full size", head(x_lite[test])[:, 0])
            sig2 = teacher_signals(t_pool[None, None, :], n_pairs=dcfg.pairs_per_item * len(pool), seed=d)
            st = train_student(x_small[pool], sig2, labelled, yl, config=DistillConfig(seed=d))
            record("(b) distillation + calibration: lite-recipe (per draw)",
                   st.score_map.predict(st.head(x_small[test])[:, 0]), teacher=head(x_lite)[:, 0])
            # warm-up head on the lite encoder (vqual train's default until 2026-12-05)
            wh = train_head(x_lite[lab], yl, config=TrainConfig(seed=d))
            record("(c) warmed-up head, --no-synthetic-pairs", wh.head(x_lite[test])[:, 0])
            wp = train_head(x_lite[lab], yl, config=TrainConfig(seed=d), pairs=prior)
            record("(c) warmed-up head, lite encoder (vqual train --encoder lite: linear, synthetic pairs)",
                   wp.head(x_lite[test])[:, 0])
            # vqual-lite 2: calibrated; distilled (into the light and into its own encoder); a head on its encoder
            smap, _ = fit_score_map(t2[lab], yl, seed=d)
            record("(a) calibration only: vqual-lite@2.0-biq (zero-shot teacher)", smap.predict(t2[test]))
            sig3 = teacher_signals(t2scores[:, :, pool], n_pairs=dcfg.pairs_per_item * len(pool), seed=d)
            for method, xx in (("(b) distillation + calibration: vqual-lite@2.0-biq -> lite-small student", x_small),
                               ("(b) distillation + calibration: vqual-lite@2.0-biq -> lite2 student", x_lite2)):
                st = train_student(xx[pool], sig3, labelled, yl, config=DistillConfig(seed=d))
                record(method, st.score_map.predict(st.head(xx[test])[:, 0]), teacher=t2)
            wp2 = train_head(x_lite2[lab], yl, config=TrainConfig(seed=d), pairs=prior2)
            record("(c) warmed-up head, lite2 encoder (vqual train --encoder lite2: its synthetic pairs)",
                   wp2.head(x_lite2[test])[:, 0])
        log(f"draw {d}: done ({time.perf_counter() - t_start:.0f} s)")

    rows = []
    for m in methods:
        for n in sizes:
            rows.append({"method": m, "n_labels": n, **summarise(per[(m, n)])})
    ratio = {}
    for m in methods:
        if 50 in sizes and 150 in sizes:
            s50 = next(r for r in rows if r["method"] == m and r["n_labels"] == 50)["srcc"]["mean"]
            s150 = next(r for r in rows if r["method"] == m and r["n_labels"] == 150)["srcc"]["mean"]
            ratio[m] = {"srcc_50_over_150": s50 / s150, "target_0_9_met": bool(s50 >= 0.9 * s150)}

    # speed: the student (a model folder written like vqual distill writes it) against its teachers
    from vqual.encoders.features import encoder_config
    from vqual.models.user import ModelCard, default_levels, provenance, write_model_dir

    perm = np.random.default_rng(0).permutation(n_items)
    pool = perm[N_TEST:]
    sig = teacher_signals(tscores[:, :, pool], n_pairs=dcfg.pairs_per_item * len(pool), seed=0)
    st = train_student(x_small[pool], sig, np.arange(50), y[pool[:50]], config=dcfg)
    student_dir = CACHE / "student-speed"
    write_model_dir(student_dir, ModelCard(name="student-speed", version="1.0.0", encoder=encoder_config("lite-small"),
                                           head="linear", weights_sha256="", score_map=st.score_map.to_dict(),
                                           levels=default_levels(st.tau),
                                           provenance=provenance("benchmarks/fewlabel_adapt.py", "speed")),
                    st.arrays, overwrite=True)
    speed_paths = [paths[i] for i in perm[:args.speed_images]]  # draw-0 test images
    timed = {"student (lite-small, linear head)": vqual.load_model(str(student_dir)),
             "teacher lite-labelfree": teachers[0], "teacher niqe": teachers[1],
             "vqual-lite (reference)": vqual.load_model("vqual-lite"), "teacher vqual-lite@2.0-biq": lite2}
    sp = speed(timed, speed_paths)
    sp["teacher ensemble lite-labelfree+niqe, 1 view (sum)"] = {
        "median_ms": sp["teacher lite-labelfree"]["median_ms"] + sp["teacher niqe"]["median_ms"]}
    s_ms = sp["student (lite-small, linear head)"]["median_ms"]
    for k in sp:
        sp[k]["student_speed_up"] = sp[k]["median_ms"] / s_ms
    log("speed: " + ", ".join(f"{k} {v['median_ms']:.0f} ms" for k, v in sp.items()))

    report = {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "data": "../shared/data/clive-fewlabel (200 images)",
              "protocol": {"draws": args.draws, "test_per_draw": N_TEST, "pool_per_draw": n_items - N_TEST,
                           "split": "np.random.default_rng(draw).permutation(200): first 50 test, rest pool; "
                                    "labelled = first N of the pool; unlabelled media for distillation = the pool",
                           "teacher_views": list(views), "distill_config": {k: v for k, v in vars(dcfg).items()},
                           "lite_recipe": {"alpha_at_200": alpha, "mu": mu, "alpha_scaling": "alpha * N / 200"},
                           "pair_prior": prior.info(), "pair_prior_lite2": prior2.info(),
                           "threads": torch.get_num_threads()},
              "rows": rows, "srcc_50_over_150": ratio, "speed": {"images": len(speed_paths), **sp},
              "command": "python benchmarks/fewlabel_adapt.py", "elapsed_s": time.perf_counter() - t_start}
    Path(args.json).parent.mkdir(exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2, default=list) + "\n")
    print("| method | N | SRCC | PLCC | PLCC (VQEG logistic) |\n| --- | ---: | --- | --- | --- |")
    for r in rows:
        print(f"| {r['method']} | {r['n_labels']} | {r['srcc']['mean']:.3f} ± {r['srcc']['std']:.3f} | "
              f"{r['plcc']['mean']:.3f} ± {r['plcc']['std']:.3f} | {r['plcc_l4']['mean']:.3f} ± "
              f"{r['plcc_l4']['std']:.3f} |")
    for m, v in ratio.items():
        print(f"{m}: SRCC(50) / SRCC(150) = {v['srcc_50_over_150']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
