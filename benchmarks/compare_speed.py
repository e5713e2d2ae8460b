"""Speed of each full-reference metric of `vqual compare` per 1080p frame, against `vqual score` on the same clip.

    python benchmarks/compare_speed.py [--frames 10] [--out benchmarks/results/compare-speed.json]

The clip: the bundled sample photograph (kodim23) scaled to 1920x1080 and panned 4 px per frame, x264 CRF 10 as
the reference and CRF 35 as the distorted version (10 fps). Each metric is timed alone through `vqual.compare`
(decoding both videos included; the decode-only time is reported too), one torch thread, median of 2 runs. VMAF
needs the ``vqual[vmaf]`` extra (vmaf-torch); without it its row says so.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import command_line, report_header, write_report
from PIL import Image

from vqual.api import load_model
from vqual.compare import compare
from vqual.compare.metrics import METRICS
from vqual.data import synthetic
from vqual.media import iter_frames
from vqual.weights import asset_path


def make_clip(d: Path, frames: int, size: tuple[int, int] = (1920, 1080)) -> tuple[Path, Path]:
    photo = Image.open(asset_path("samples/kodim23.jpg")).convert("RGB")
    big = np.asarray(photo.resize((size[0] + 4 * frames, size[1]), Image.Resampling.BICUBIC))
    seq = [big[:, 4 * i: 4 * i + size[0]] for i in range(frames)]
    ref = synthetic.write_video(d / "ref.mp4", seq, fps=10, codec="libx264", crf=10, pix_fmt="yuv420p")
    dist = synthetic.write_video(d / "crf35.mp4", seq, fps=10, codec="libx264", crf=35, pix_fmt="yuv420p")
    return Path(ref), Path(dist)


def timed(fn, runs: int = 2) -> tuple[float, object]:
    out, ts = None, []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model()
    report = report_header(model, command_line("compare_speed.py", argv))
    with tempfile.TemporaryDirectory() as tmp:
        ref, dist = make_clip(Path(tmp), args.frames)

        def decode_both() -> int:
            return sum(1 for f in iter_frames(ref) if f.luma() is not None) + sum(1 for _ in iter_frames(dist))

        t_dec, _ = timed(decode_both)
        rows = {"decode both (Y planes)": {"ms_per_frame": round(1000 * t_dec / args.frames, 1)}}
        for name, spec in METRICS.items():
            problem = spec.unavailable() if spec.unavailable else None
            if problem:  # VMAF without the vqual[vmaf] extra
                rows[name] = {"skipped": problem}
                continue
            t, r = timed(lambda name=name: compare(ref, dist, metrics=name, no_reference=False))
            rows[name] = {"ms_per_frame": round(1000 * t / r.frames, 1), "value": r.metrics[name].value}
        t, s = timed(lambda: model.score(str(dist)))
        rows[f"vqual score ({model.name})"] = {"ms_per_frame": round(1000 * t / args.frames, 1), "value": s.score}
    report.update({"clip": f"kodim23 pan, 1920x1080, {args.frames} frames at 10 fps, x264 CRF 10 vs CRF 35",
                   "rows": rows})
    for k, v in rows.items():
        if "skipped" in v:
            print(f"{k:<28} skipped: {v['skipped']}")
        else:
            print(f"{k:<28} {v['ms_per_frame']:8.1f} ms/frame   {v.get('value', '')}")
    print(write_report(report, args.out, "compare-speed.json"))
    return report


if __name__ == "__main__":
    main()
