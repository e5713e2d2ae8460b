"""int8 for vqual-lite's encoder? ONNX Runtime static quantisation (QDQ) of the Lite0 graph, measured (issue #17).

    python benchmarks/int8_lite0.py [--threads 1] [--repeats 9] [--json benchmarks/results/int8-lite0.json]

Calibration: the whole views (`vqual.encoders.lite0.whole_view`) of the 42 pristine photographs in
../shared/data/pristine (Kodak 24, McMaster 18) and of one graded synthetic distortion of each (blur, noise, JPEG,
exposure, in turn): never an evaluation set. Convolutions only are quantised (per-channel weights, uint8 activations,
MinMax calibration); the pooling stays float. Written to /work/tmp-like scratch space (`--out`), never to the
repository.

Reported, in one run: the median time of one pass of the fp32 and of the int8 graph on a 496x496 view (a 500x500
photo) and a 672x384 view (a 1080p key frame), run round-robin; and vqual-lite 1.0's score on the bundled sample,
its graded distortions and a 1080p resize with each graph (largest |int8 - fp32| on the 1-5 scale). The issue's
adoption rule also needs the nested-CV SRCC on clive-fewlabel (to move by at most 0.005); it is run only when the
speed and score figures make int8 worth it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
PRISTINE = HERE.parent.parent / "shared" / "data" / "pristine"


def calibration_views() -> list[np.ndarray]:
    from vqual.data import synthetic as syn
    from vqual.encoders.lite0 import whole_view

    paths = sorted(PRISTINE.glob("kodak24/*.png")) + sorted(PRISTINE.glob("mcmaster/*.png"))
    if not paths:
        raise SystemExit(f"{PRISTINE}: no pristine photographs (../shared/data/pristine)")
    kinds = [("blur", 2), ("noise", 2), ("jpeg", 2), ("underexposure", 2)]
    views = []
    for i, p in enumerate(paths):
        rgb = np.asarray(Image.open(p).convert("RGB"))
        kind, level = kinds[i % len(kinds)]
        for x in (rgb, syn.apply_image(kind, rgb, syn.DISTORTIONS[kind].levels[level], seed=i)):
            views.append(whole_view(x))
    return views


def quantise(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calibration_views())

        def get_next(self):
            v = next(self.it, None)
            return None if v is None else {"image": v[None]}

    pre = dst.with_name("lite0-pre.onnx")
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--out", default="/tmp/vqual-int8", help="scratch folder for the quantised graph")
    ap.add_argument("--json", default=str(HERE / "results" / "int8-lite0.json"))
    args = ap.parse_args(argv)
    import onnxruntime as ort

    from vqual.encoders import lite0_ort
    from vqual.runtime import set_threads
    from vqual.weights import asset_path

    set_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    q = out / "lite0-int8.onnx"
    t0 = time.perf_counter()
    quantise(asset_path(lite0_ort.GRAPH), q)
    print(f"quantised in {time.perf_counter() - t0:.0f} s: {q} ({q.stat().st_size / 1e6:.1f} MB)")

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    sessions = {"fp32": ort.InferenceSession(lite0_ort.graph_bytes(), so, providers=["CPUExecutionProvider"]),
                "int8": ort.InferenceSession(str(q), so, providers=["CPUExecutionProvider"])}
    rng = np.random.default_rng(0)
    timing = {}
    for shape in ((496, 496), (384, 672)):
        x = {"image": rng.integers(0, 256, (1, *shape, 3), dtype=np.uint8)}
        times = {k: [] for k in sessions}
        for _ in range(args.repeats):
            for k, s in sessions.items():
                t = time.perf_counter()
                s.run(None, x)
                times[k].append(time.perf_counter() - t)
        timing[f"{shape[1]}x{shape[0]}"] = {k: statistics.median(v) * 1e3 for k, v in times.items()}

    sys.path.insert(0, str(HERE.parent / "scripts"))
    from export_onnx import parity_images

    from vqual.models.lite import VqualLite

    images = {k: v for k, v in parity_images().items() if min(v.shape[:2]) >= 32}
    fp32 = VqualLite()
    scores_fp32 = {k: fp32.score(v).score for k, v in images.items()}
    lite0_ort._SESSIONS.clear()
    real = lite0_ort.graph_bytes
    lite0_ort.graph_bytes = lambda tuned=None: q.read_bytes()
    int8 = VqualLite()
    int8.encoder.spatial._session = None
    scores_int8 = {k: int8.score(v).score for k, v in images.items()}
    lite0_ort.graph_bytes = real
    drift = {k: abs(scores_int8[k] - scores_fp32[k]) for k in images}
    worst = max(drift, key=drift.get)
    report = {"date": time.strftime("%Y-%m-%d"), "threads": args.threads, "repeats": args.repeats,
              "pass_ms": timing, "score_drift_max": drift[worst], "score_drift_worst": worst,
              "scores_fp32": scores_fp32, "scores_int8": scores_int8, "ort": ort.__version__,
              "int8_mb": q.stat().st_size / 1e6}
    for size, t in timing.items():
        print(f"{size}: fp32 {t['fp32']:.1f} ms, int8 {t['int8']:.1f} ms per pass (median of {args.repeats}), "
              f"int8/fp32 {t['int8'] / t['fp32']:.2f}")
    print(f"score drift int8 vs fp32: max {drift[worst]:.3f} on the 1-5 scale ({worst}); median "
          f"{statistics.median(drift.values()):.3f}")
    Path(args.json).parent.mkdir(exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
