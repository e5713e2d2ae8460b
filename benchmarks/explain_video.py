"""How long vqual-lmm takes to explain (and, for reference, to score) a 10-second video, this tree against a
baseline tree:

    python benchmarks/explain_video.py [--baseline DIR] [--rounds 3] [--repeats 2] [--json PATH]

The clip: 10 s at 24 fps, 360x640, a pan (3 px per frame) over the bundled sample photograph, x264 CRF 20
(benchmarks/.cache/explain_video_10s.mp4, made once). Each round runs one fresh process per tree, alternating
(`--baseline DIR`: a checkout of the commit before the change, e.g. `git archive <commit> src | tar -x -C DIR`),
which loads vqual-lmm, warms up on the clip, then times `--repeats` explained and plain scorings of it; the
figure per tree is the median over all rounds (each round's medians are listed too: on a shared machine the
rounds of one pair ran under the same load). The explanation texts of both trees are compared: they must be
identical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"

WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads(int(sys.argv[3]))
import vqual
path, repeats = sys.argv[1], int(sys.argv[2])
plain = vqual.load_model("vqual-lmm")
model = plain.explaining()
r = model.score(path)  # warm-up
out = {"explain": [], "score": []}
for _ in range(repeats):
    for key, m in (("explain", model), ("score", plain)):
        t0 = time.perf_counter()
        r = m.score(path)
        out[key].append(time.perf_counter() - t0)
        if key == "explain":
            text = [r.explanation] + [t.explanation for t in r.timeline]
print(json.dumps({"vqual": vqual.__file__, "times": out, "texts": text, "score": r.score}))
"""


def make_clip() -> Path:
    import numpy as np
    from PIL import Image

    from vqual.data.synthetic import pan_frames, write_video
    from vqual.weights import asset_path

    path = CACHE / "explain_video_10s.mp4"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        rgb = np.asarray(Image.open(asset_path("samples/kodim23.jpg")).convert("RGB").resize((900, 900)))
        write_video(path, pan_frames(rgb, 240, (360, 640), speed=3.0), fps=24, crf=20)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, help="a checkout of the commit before the change")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of each worker")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    clip = make_clip()
    trees = {"this": ROOT} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    got: dict[str, dict[str, list[float]]] = {k: {"explain": [], "score": []} for k in trees}
    texts: dict[str, list] = {}
    per_round: list[dict[str, float]] = []
    for rnd in range(args.rounds):
        per_round.append({})
        for name, tree in trees.items():
            env = dict(os.environ, PYTHONPATH=str(tree / "src"))
            p = subprocess.run([sys.executable, "-c", WORKER, str(clip), str(args.repeats), str(args.threads)],
                               env=env, capture_output=True, text=True, cwd=str(tree))
            if p.returncode != 0:
                raise SystemExit(f"timing worker for {tree} failed:\n{p.stderr[-2000:]}")
            res = json.loads(p.stdout.strip().splitlines()[-1])
            if not res["vqual"].startswith(str(tree)):
                raise SystemExit(f"the worker for {tree} imported {res['vqual']}")
            for k in ("explain", "score"):
                got[name][k] += res["times"][k]
            texts[name] = res["texts"]
            per_round[-1][name] = round(statistics.median(res["times"]["explain"]), 3)
            print(f"round {rnd + 1}, {name}: explain {statistics.median(res['times']['explain']):.2f} s, "
                  f"score {statistics.median(res['times']['score']):.2f} s", file=sys.stderr)
    out = {"clip": "10 s, 24 fps, 360x640 pan over kodim23, x264 CRF 20", "rounds": args.rounds,
           "repeats": args.repeats, "threads": args.threads, "baseline": str(args.baseline) if args.baseline else None}
    for name, t in got.items():
        out[name] = {k: round(statistics.median(v), 3) for k, v in t.items()}
    out["explain_per_round"] = per_round
    if args.baseline:
        out["same_explanations"] = texts["this"] == texts["baseline"]
        out["explain_ratio_this_to_baseline"] = round(out["this"]["explain"] / out["baseline"]["explain"], 3)
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
