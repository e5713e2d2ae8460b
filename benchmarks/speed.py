"""Speed and memory of a model against decode-only time, on generated media, in one run.

    python benchmarks/speed.py [--model NAME] [--vs NAME] [--threads N] [--repeats 5] [--no-reference]
                               [--json benchmarks/results/speed-<model>.json]

Media (cached under benchmarks/.cache/, deterministic): a 500x500 and a 1920x1080 JPEG (quality 90) made from
the bundled sample photograph, and 10 s and 60 s 1920x1080 30 fps H.264 clips (CRF 23, x264 preset ultrafast: the
fastest to decode, so the hardest case for the ratio) panning over it, and the same 10 s clip encoded with x264's
default preset (medium: CABAC, B-frames, deblocking, as most delivered H.264 is), reported on its own row.
For each, run round-robin (decode, score, reference, BRISQUE) so that load from other jobs falls on all alike: median
wall time to score, median time to only decode the same file (every frame, PyAV frame threading,
no conversion), and their ratio; peak resident memory of a fresh process scoring the 10 s and the 60 s video.

In the same run, interleaved per medium: the same model on its PyTorch reference engine (vqual-lite's `engine="torch"`,
when torch is installed; `--no-reference` skips it), and for the 500x500 JPEG OpenCV's BRISQUE
(`cv2.quality.QualityBRISQUE` with the LIVE model of Debian's `opencv-data`, image read included; needs
`opencv-contrib-python-headless`, skipped without it). `--threads N` sets vqual's threads (ONNX Runtime, decoding;
`vqual.runtime.set_threads`), the reference's torch threads and the decode-only baseline's decoder threads alike.
`--vs NAME` times another registered model in the same round-robin (e.g. a new version against the one it would
replace) and reports the time ratio model / NAME per medium.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"


def _source(size: tuple[int, int]) -> np.ndarray:
    from vqual.data.synthetic import gaussian_noise
    from vqual.weights import asset_path

    img = Image.open(asset_path("samples/kodim23.jpg")).convert("RGB").resize(size, Image.BICUBIC)
    return gaussian_noise(np.asarray(img), 2.0, seed=1)  # a little grain so upscaled content is not unnaturally flat


def make_media() -> dict[str, Path]:
    from vqual.data.synthetic import pan_frames, write_video

    CACHE.mkdir(exist_ok=True)
    media = {"image_500": CACHE / "img_500x500.jpg", "image_1080p": CACHE / "img_1920x1080.jpg",
             "video_10s": CACHE / "video_1080p_10s.mp4", "video_60s": CACHE / "video_1080p_60s.mp4",
             "video_10s_medium": CACHE / "video_1080p_10s_medium.mp4"}
    if not media["image_500"].exists():
        Image.fromarray(_source((500, 500))).save(media["image_500"], quality=90)
    if not media["image_1080p"].exists():
        Image.fromarray(_source((1920, 1080))).save(media["image_1080p"], quality=90)
    big = None
    for key, seconds, preset in (("video_10s", 10, "ultrafast"), ("video_60s", 60, "ultrafast"),
                                 ("video_10s_medium", 10, "medium")):
        if not media[key].exists():
            big = _source((2400, 1400)) if big is None else big
            print(f"encoding {media[key].name} ...", file=sys.stderr)
            write_video(media[key], pan_frames(big, 30 * seconds, (1080, 1920), speed=3.0), fps=30, crf=23,
                        options={"preset": preset})
    return media


def decode_only(path: Path) -> None:
    """The baseline: decode every pixel of the file and nothing else."""
    if path.suffix == ".jpg":
        Image.open(path).convert("RGB").load()
        return
    import av

    from vqual.runtime import threads

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        s.thread_count = threads()
        for _ in c.decode(s):
            pass


BRISQUE_MODEL = Path("/usr/share/opencv4/quality/brisque_model_live.yml")
BRISQUE_RANGE = Path("/usr/share/opencv4/quality/brisque_range_live.yml")


def brisque() -> tuple[object, str] | None:
    """(a function scoring a path with OpenCV's BRISQUE, its description), or None when it is not installed here."""
    try:
        import cv2
    except ImportError:
        return None
    if not hasattr(cv2, "quality") or not BRISQUE_MODEL.is_file():
        return None
    cv2.setNumThreads(1)  # BRISQUE runs on one thread whatever --threads says: the floor a user compares with
    obj = cv2.quality.QualityBRISQUE_create(str(BRISQUE_MODEL), str(BRISQUE_RANGE))
    return (lambda p: obj.compute(cv2.imread(str(p)))), f"opencv {cv2.__version__} QualityBRISQUE, LIVE model"


def reference_model(model):
    """The same model on the torch engine (vqual-lite 1.0 / 2.0), or None."""
    import importlib.util

    if importlib.util.find_spec("torch") is None or "engine" not in type(model).__init__.__code__.co_varnames:
        return None
    return type(model)(engine="torch")


def median_times(fns: dict, repeats: int) -> dict[str, float]:
    """Median wall time of each function, run round-robin `repeats` times (so that load from other jobs on a shared
    machine falls on all of them alike)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def peak_rss_mb(model: str | None, path: Path) -> float:
    """Peak resident memory of a fresh process scoring `path`: VmHWM from /proc (its own address space only).
    (ru_maxrss, used before 2026-12-05, also counts the pages of this parent copied at fork: the larger the parent,
    e.g. with the torch reference loaded, the larger the figure.)"""
    code = ("import re, resource, sys, vqual.api as a; m=a.load_model(sys.argv[1] or None); m.score(sys.argv[2]); "
            "s=open('/proc/self/status').read() if sys.platform == 'linux' else ''; "
            "h=re.search(r'VmHWM:\\s+(\\d+)', s); print(h.group(1) if h else "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    from vqual.runtime import threads

    env = {**os.environ, "VQUAL_THREADS": str(threads())}
    out = subprocess.run([sys.executable, "-c", code, model or "", str(path)], capture_output=True, text=True,
                         check=True, env=env)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--video-repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    ap.add_argument("--threads", type=int, default=None, help="threads for vqual, the reference and decoding")
    ap.add_argument("--no-reference", action="store_true", help="skip the torch-engine reference")
    ap.add_argument("--vs", default=None, metavar="NAME", help="another model timed in the same round-robin")
    args = ap.parse_args(argv)

    from vqual.runtime import set_threads, threads

    if args.threads:
        set_threads(args.threads)
    from vqual.api import load_model

    media = make_media()
    model = load_model(args.model)
    ref = None if args.no_reference else reference_model(model)
    if ref is not None:
        import torch

        torch.set_num_threads(threads())
        ref.score(media["image_500"])
    peer = brisque()
    model.score(media["image_500"])  # warm-up: lazy imports, first-call allocations
    other = None if args.vs is None else load_model(args.vs)
    if other is not None:
        other.score(media["image_500"])
    rows = []
    for key in ("image_500", "image_1080p", "video_10s", "video_10s_medium"):
        n = args.repeats if key.startswith("image") else args.video_repeats
        path = media[key]
        fns = {"decode": lambda p=path: decode_only(p), "score": lambda p=path: model.score(p)}
        if ref is not None:
            fns["torch"] = lambda p=path: ref.score(p)
        if other is not None:
            fns["vs"] = lambda p=path: other.score(p)
        if peer is not None and key == "image_500":
            fns["brisque"] = lambda p=path: peer[0](p)
        t = median_times(fns, n)
        row = {"media": key, "score_ms": t["score"] * 1e3, "decode_ms": t["decode"] * 1e3,
               "ratio": t["score"] / t["decode"]}
        if "torch" in t:
            row.update(torch_ms=t["torch"] * 1e3, torch_ratio=t["torch"] / t["decode"], speedup=t["torch"] / t["score"])
        if "vs" in t:
            row.update(vs_ms=t["vs"] * 1e3, vs_ratio=t["score"] / t["vs"])
        if "brisque" in t:
            row.update(brisque_ms=t["brisque"] * 1e3, vs_brisque=t["score"] / t["brisque"])
        rows.append(row)
    mem = {key: peak_rss_mb(args.model, media[key]) for key in ("video_10s", "video_60s")}
    report = {"model": model.name, "model_version": model.version, "engine": "onnxruntime",
              "date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": platform.machine(),
              "cpus": os.cpu_count(), "threads": threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
              "reference": "the same model, engine='torch'" if ref is not None else None,
              "brisque": peer[1] if peer is not None else None,
              "vs": None if other is None else f"{other.name} {other.version}",
              "command": " ".join(["python", *sys.argv]),
              "repeats": {"image": args.repeats, "video": args.video_repeats}, "rows": rows, "peak_rss_mb": mem}
    print(f"model {model.name} {model.version}, {report['date']}, {report['cpus']} cpus, {threads()} threads")
    print("| media | score (median ms) | decode only (median ms) | ratio | torch engine (ms) | torch ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        torch_cols = f"{r['torch_ms']:.0f} | {r['torch_ratio']:.2f}" if "torch_ms" in r else "- | -"
        print(f"| {r['media']} | {r['score_ms']:.0f} | {r['decode_ms']:.0f} | {r['ratio']:.2f} | {torch_cols} |")
        if "vs_ms" in r:
            print(f"  {report['vs']}: {r['vs_ms']:.0f} ms; {model.name} / it {r['vs_ratio']:.2f}")
        if "brisque_ms" in r:
            print(f"  BRISQUE (OpenCV, image read included): {r['brisque_ms']:.1f} ms; vqual / BRISQUE "
                  f"{r['vs_brisque']:.2f}")
    print(f"peak RSS: 10 s video {mem['video_10s']:.0f} MB, 60 s video {mem['video_60s']:.0f} MB")
    out = Path(args.json) if args.json else HERE / "results" / f"speed-{model.name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
