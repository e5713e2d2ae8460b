"""Speed and memory of a model against decode-only time, on generated media, in one run.

    python benchmarks/speed.py [--model NAME] [--repeats 5] [--json benchmarks/results/speed-<model>.json]

Media (cached under benchmarks/.cache/, deterministic): a 500x500 and a 1920x1080 JPEG (quality 90) made from
the bundled sample photograph, and 10 s and 60 s 1920x1080 30 fps H.264 clips (CRF 23, x264 preset ultrafast: the
fastest to decode, so the hardest case for the ratio) panning over it, and the same 10 s clip encoded with x264's
default preset (medium: CABAC, B-frames, deblocking, as most delivered H.264 is), reported on its own row.
For each: median wall time to score, median time to only decode the same file, and their ratio; peak resident
memory of a fresh process scoring the 10 s and the 60 s video.
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

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for _ in c.decode(s):
            pass


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_rss_mb(model: str | None, path: Path) -> float:
    code = ("import resource, sys, vqual.api as a; m=a.load_model(sys.argv[1] or None); m.score(sys.argv[2]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, model or "", str(path)], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--video-repeats", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from vqual.api import load_model

    media = make_media()
    model = load_model(args.model)
    model.score(media["image_500"])  # warm-up: lazy imports, first-call allocations
    rows = []
    for key in ("image_500", "image_1080p", "video_10s", "video_10s_medium"):
        n = args.repeats if key.startswith("image") else args.video_repeats
        path = media[key]
        t_dec = median_time(lambda p=path: decode_only(p), n)
        t_score = median_time(lambda p=path: model.score(p), n)
        rows.append({"media": key, "score_ms": t_score * 1e3, "decode_ms": t_dec * 1e3, "ratio": t_score / t_dec})
    mem = {key: peak_rss_mb(args.model, media[key]) for key in ("video_10s", "video_60s")}
    report = {"model": model.name, "model_version": model.version,
              "date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": platform.machine(),
              "cpus": os.cpu_count(), "torch_threads": __import__("torch").get_num_threads(),
              "repeats": {"image": args.repeats, "video": args.video_repeats}, "rows": rows, "peak_rss_mb": mem}
    print(f"model {model.name} {model.version}, {report['date']}, {report['cpus']} cpus")
    print("| media | score (median ms) | decode only (median ms) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['media']} | {r['score_ms']:.0f} | {r['decode_ms']:.0f} | {r['ratio']:.2f} |")
    print(f"peak RSS: 10 s video {mem['video_10s']:.0f} MB, 60 s video {mem['video_60s']:.0f} MB")
    out = Path(args.json) if args.json else HERE / "results" / f"speed-{model.name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
