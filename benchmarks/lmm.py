"""Figures of the language path (`vqual-lmm`), in one run:

    python benchmarks/lmm.py [--skip-cv] [--skip-explain] [--skip-speed] [--json benchmarks/results/lmm.json]

1. Score accuracy, 5-fold CV on ../shared/data/clive-fewlabel: the LMM's out-of-fold level-word scores written by
   `python scripts/train_lmm.py --cv` (lmm.json), next to vqual-lite's linear score head fitted on the same
   training folds (scripts/fit_lite.py fit_joint with the shipped ridge strength and pair weight, which were chosen
   by CV on all 200 images: mildly optimistic for vqual-lite), and their fusion (plain mean of the two 1-5 scores,
   nothing fitted). SRCC / PLCC (4-parameter logistic) / KRCC per fold, mean and std.
2. Explanations on synthetic distortions of content never used in training (McMaster 13-18): images with blur,
   noise, JPEG, H.264 (one frame through x264), under- and over-exposure, colour cast and scaling; 3-second
   216x384 panning clips (x264 CRF 18) with stutter, frame drops, shake and flicker; levels 1-5. A hit is an
   explanation that names the injected distortion (`vqual.lmm.explain.mentioned`); also how often the
   explanation check finds it consistent with the score and attributes.
3. Latency on this machine: a 500x500 image and a 10 s 1080p H.264 video (benchmarks/speed.py's media), `score`
   and `explain`, median of repeats, after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts"))

from common import command_line, content_name, heldout_images, load_rgb, report_header, write_report  # noqa: E402

IMAGE_SET = {"blur": "blur", "noise": "noise", "jpeg": "compression", "h264": "compression",
             "underexposure": "underexposure", "overexposure": "overexposure", "colour": "colour",
             "scaling": "scaling"}
VIDEO_SET = {"stutter": "stutter", "drops": "frame_drops", "shake": "shake", "flicker": "flicker"}
ISSUE_SET = ("blur", "noise", "jpeg", "h264", "underexposure", "overexposure", "stutter", "shake", "flicker")


def cv_figures() -> dict:
    import fit_lite as F
    import train_lite as T

    from vqual.eval.metrics import evaluate
    from vqual.weights import asset_path

    cfg = json.loads(asset_path("lmm/lmm.json").read_text())
    if not cfg.get("cv"):
        raise SystemExit("lmm.json has no CV figures: run `python scripts/train_lmm.py --cv`")
    lite_cfg = json.loads(asset_path("lite/lite.json").read_text())
    feats = T.extract_all()
    xs = np.hstack([feats["syn_spatial"], feats["syn_measures"]]).astype(np.float64)
    xc = np.hstack([feats["clive_spatial"], feats["clive_measures"]]).astype(np.float64)
    y = 1.0 + 4.0 * feats["mos"] / 100.0
    pairs = F.ranking_pairs(feats["meta"])
    fs = F.folds([str(i) for i in range(len(y))], 5, seed=0)
    lmm = np.asarray(cfg["cv"]["oof"])
    lite = np.zeros(len(y))
    for te in fs:
        tr = np.setdiff1d(np.arange(len(y)), te)
        lite[te] = F.fit_joint(xc[tr], y[tr], xs, pairs, lite_cfg["score"]["alpha"], lite_cfg["score"]["mu"])(
            xc[te])[:, 0]
    out = {}
    for name, pred in (("vqual-lmm (level words)", lmm), ("vqual-lite (linear head)", lite),
                       ("fusion (mean)", (lmm + lite) / 2)):
        per = [evaluate(pred[te], y[te]) for te in fs]
        out[name] = {m: {"mean": float(np.mean([p[m] for p in per])), "std": float(np.std([p[m] for p in per],
                                                                                         ddof=1))}
                     for m in ("srcc", "plcc", "krcc")}
    return {"folds": "5, scripts/fit_lite.py folds(seed=0)", "n": int(len(y)), "results": out}


def _h264_frame(rgb: np.ndarray, crf: int) -> np.ndarray:
    from vqual.data import synthetic as syn

    return next(iter(syn.h264([rgb], crf=int(crf))))


def explanation_rows(model, levels: tuple[int, ...]) -> list[dict]:
    from vqual.data import synthetic as syn
    from vqual.lmm.explain import mentioned

    rows = []

    def record(kind, content, distortion, level, result):
        named = mentioned(result.explanation or "")
        want = IMAGE_SET.get(distortion) or VIDEO_SET.get(distortion)
        rows.append({"kind": kind, "content": content, "distortion": distortion, "level": level,
                     "score": result.score, "explanation": result.explanation, "mentioned": named,
                     "hit": (want in named) if want else None,
                     "consistent": bool(result.explanation_check and result.explanation_check["consistent"])})

    contents = heldout_images()
    for path in contents:
        rgb = load_rgb(path)
        name = content_name(path)
        print(f"{name} images ...", file=sys.stderr, flush=True)
        record("image", name, "clean", 0, model.score(rgb))
        for d in IMAGE_SET:
            for lv in levels:
                param = syn.DISTORTIONS[d].levels[lv - 1]
                img = _h264_frame(rgb, param) if d == "h264" else syn.apply_image(d, rgb, param, seed=lv)
                record("image", name, d, lv, model.score(img))
    with tempfile.TemporaryDirectory() as tmp:
        for ci, path in enumerate(contents):
            rgb = load_rgb(path)
            name = content_name(path)
            print(f"{name} videos ...", file=sys.stderr, flush=True)
            for d in ("clean", *VIDEO_SET):
                for lv in ((0,) if d == "clean" else levels):
                    clip = Path(tmp) / f"{name}_{d}{lv}.mp4"
                    frames = syn.pan_frames(rgb, 72, (216, 384), speed=2.0)
                    if d == "clean":
                        syn.write_video(clip, frames, fps=24, crf=18)
                    else:
                        pairs = syn.apply_video(d, frames, syn.DISTORTIONS[d].levels[lv - 1], seed=ci * 10 + lv,
                                                fps=24)
                        fr, ts = syn.split_timed(pairs)
                        syn.write_video(clip, fr, fps=24, crf=18, timestamps=ts if d == "drops" else None)
                    record("video", name, d, lv, model.score(clip))
                    clip.unlink()
    return rows


def summarise_explanations(rows: list[dict]) -> dict:
    def rate(sel):
        hits = [r["hit"] for r in sel if r["hit"] is not None]
        return {"n": len(hits), "hit_rate": float(np.mean(hits)) if hits else None}

    distorted = [r for r in rows if r["distortion"] != "clean"]
    out = {
        "issue_set_levels_1_5": rate([r for r in distorted if r["distortion"] in ISSUE_SET]),
        "issue_set_levels_3_5": rate([r for r in distorted if r["distortion"] in ISSUE_SET and r["level"] >= 3]),
        "all_levels_1_5": rate(distorted),
        "all_levels_3_5": rate([r for r in distorted if r["level"] >= 3]),
        "by_distortion": {d: rate([r for r in distorted if r["distortion"] == d])
                          for d in (*IMAGE_SET, *VIDEO_SET)},
        "by_level": {str(lv): rate([r for r in distorted if r["level"] == lv]) for lv in sorted(
            {r["level"] for r in distorted})},
        "consistent_rate": float(np.mean([r["consistent"] for r in rows])),
        "clean_called_clean": float(np.mean(["clean" in (r["explanation"] or "").lower() or
                                             "no distortion" in (r["explanation"] or "").lower()
                                             for r in rows if r["distortion"] == "clean"])),
    }
    return out


def latency(model, repeats: int) -> dict:
    import speed

    media = speed.make_media()
    explaining = model.explaining()
    out = {}
    for key, reps in (("image_500", repeats), ("video_10s", max(1, repeats // 2))):
        path = media[key]
        for label, m in (("score", model), ("explain", explaining)):
            m.score(path)  # warm-up
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                m.score(path)
                times.append(time.perf_counter() - t0)
            out[f"{key}_{label}_s"] = statistics.median(times)
            print(f"{key} {label}: {out[f'{key}_{label}_s']:.2f} s", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    speed.decode_only(media["video_10s"])
    out["video_10s_decode_only_s"] = time.perf_counter() - t0
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-cv", action="store_true")
    ap.add_argument("--skip-explain", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--levels", default="1,2,3,4,5")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from vqual.api import load_model

    model = load_model("vqual-lmm")
    report = report_header(model, command_line("lmm.py", argv))
    if not args.skip_cv:
        report["cv"] = cv_figures()
        for name, r in report["cv"]["results"].items():
            print(f"{name:28s} SRCC {r['srcc']['mean']:.3f} ± {r['srcc']['std']:.3f}  PLCC {r['plcc']['mean']:.3f} "
                  f"± {r['plcc']['std']:.3f}  KRCC {r['krcc']['mean']:.3f}", file=sys.stderr)
    if not args.skip_explain:
        rows = explanation_rows(model.explaining(), tuple(int(x) for x in args.levels.split(",")))
        report["explanations"] = summarise_explanations(rows)
        report["explanation_rows"] = rows
        print(json.dumps({k: v for k, v in report["explanations"].items()}, indent=1), file=sys.stderr)
    if not args.skip_speed:
        report["latency"] = latency(model, args.repeats)
    out = write_report(report, args.json, "lmm.json")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
