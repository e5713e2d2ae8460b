"""`compare`: full-reference metrics of distorted inputs against one reference, beside the no-reference score.

Alignment rules (each broken one is a `CompareError` with a one-line message, never a silent crop):

* both inputs are images, or both videos;
* the same displayed size, unless ``scale`` says which one to resize to the other's size ("ref": the reference
  to the distorted input's size; "dist": the distorted input to the reference's), with Pillow's bicubic filter;
* videos: the same frame rate (within 0.5%) and the same number of frames, compared one to one in presentation
  order; per-second values group frames by the reference's timestamps.

Colour as each metric's reference defines it: PSNR, SSIM and MS-SSIM on luma (a video's Y plane as decoded, with
L = 2^bits - 1; an image's BT.601 limited-range Y, L = 255); VMAF on that luma as 8-bit integers (see
`vqual.compare.vmaf`); LPIPS and DISTS on RGB.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from vqual.compare import classic
from vqual.compare.metrics import DEFAULT_METRICS, METRICS, MetricSpec, metric_value
from vqual.compare.result import (
    FLAG_METRIC_NOT_COMPUTED,
    FLAG_PSNR_INFINITE,
    FLAG_SCALED,
    CompareResult,
    MetricResult,
    NoReferenceScores,
    finite_or_none,
)
from vqual.errors import MediaError, VqualError
from vqual.result import Failure
from vqual.version import __version__

if TYPE_CHECKING:
    from vqual.models.base import Scorer

SCALES = ("none", "ref", "dist")
SCALE_FILTER = "bicubic (Pillow)"
FPS_TOLERANCE = 0.005  # relative


class CompareError(VqualError):
    """Inputs that cannot be compared (not media, image against video, sizes, frame rates or lengths that differ,
    an unknown metric). The message is one line naming the file(s) and the problem."""


def parse_metrics(metrics: str | Sequence[str] | None) -> list[str]:
    """Metric names from a list or a comma-separated string; raises CompareError for an unknown name or a metric
    whose optional dependency is not installed (VMAF: vmaf-torch)."""
    if metrics is None:
        return list(DEFAULT_METRICS)
    names = [m.strip().lower().replace("-", "_") for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise CompareError(f"unknown metric {', '.join(unknown) or '(none given)'}; choose from {', '.join(METRICS)}")
    names = list(dict.fromkeys(names))
    for n in names:
        problem = METRICS[n].unavailable() if METRICS[n].unavailable else None
        if problem:
            raise CompareError(problem)
    return names


# --- reading ------------------------------------------------------------------------------------------------------
def _kind(path: str, role: str) -> str:
    from vqual.media import media_kind

    try:
        return media_kind(path)
    except MediaError as e:
        raise CompareError(f"{role} {e}") from None


def _resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BICUBIC))


def _resize_y(y: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(np.asarray(y, np.float32), mode="F").resize(size, Image.Resampling.BICUBIC),
                      dtype=np.float64)


def _plan_scale(ref: str, dist: str, rsize: tuple[int, int], dsize: tuple[int, int], scale: str) -> dict | None:
    if rsize == dsize:
        return None
    if scale == "none":
        raise CompareError(f"{dist}: size {dsize[0]}x{dsize[1]} differs from the reference's {rsize[0]}x{rsize[1]} "
                           f"({ref}); pass --scale dist (resize it to the reference) or --scale ref")
    which, frm, to = ("distorted", dsize, rsize) if scale == "dist" else ("reference", rsize, dsize)
    return {"input": which, "filter": SCALE_FILTER, "from": list(frm), "to": list(to)}


class _Pair:
    """One reference/distorted frame pair, converted lazily to what each metric needs."""

    def __init__(self, ref: Any, dist: Any, scaled: dict | None, depth: tuple[int, int] | None):
        self.ref, self.dist, self.scaled, self.depth = ref, dist, scaled, depth
        self._y: tuple[np.ndarray, np.ndarray, float] | None = None

    def _fit(self, a: np.ndarray, b: np.ndarray, resize) -> tuple[np.ndarray, np.ndarray]:
        if self.scaled is not None:
            to = tuple(self.scaled["to"])
            if self.scaled["input"] == "distorted":
                b = resize(b, to)
            else:
                a = resize(a, to)
        return a, b

    def y(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Both lumas (float64, one shape) and their data range."""
        if self._y is None:
            if self.depth is None:  # images
                ya, yb, rng = classic.rgb_to_y(self.ref), classic.rgb_to_y(self.dist), 255.0
            else:
                ya, yb = self.ref.luma().astype(np.float64), self.dist.luma().astype(np.float64)
                bits = min(self.depth)
                if self.depth[0] > bits:
                    ya /= 2 ** (self.depth[0] - bits)
                if self.depth[1] > bits:
                    yb /= 2 ** (self.depth[1] - bits)
                rng = float(2**bits - 1)
            ya, yb = self._fit(ya, yb, _resize_y)
            self._y = (ya, yb, rng)
        return self._y

    def rgb(self) -> tuple[np.ndarray, np.ndarray]:
        a, b = (self.ref, self.dist) if self.depth is None else (self.ref.rgb(), self.dist.rgb())
        return self._fit(a, b, _resize_rgb)


def _video_pairs(ref: str, dist: str, scale: str, max_pixels: int | None
                 ) -> tuple[dict, Iterator[tuple[float, _Pair]]]:
    from vqual.media import iter_frames, probe_video

    try:
        ri = probe_video(ref, max_pixels)
    except MediaError as e:
        raise CompareError(f"reference {e}") from None
    di = probe_video(dist, max_pixels)
    if ri.fps and di.fps and abs(ri.fps - di.fps) > FPS_TOLERANCE * ri.fps:
        raise CompareError(f"{dist}: frame rate {di.fps:g} fps differs from the reference's {ri.fps:g} fps ({ref}); "
                           "vqual compare pairs frames one to one")
    if ri.fps and abs(ri.duration - di.duration) > 1.5 / ri.fps:
        raise CompareError(f"{dist}: duration {di.duration:.3f} s differs from the reference's {ri.duration:.3f} s "
                           f"({ref}); vqual compare pairs frames one to one")
    scaled = _plan_scale(ref, dist, (ri.width, ri.height), (di.width, di.height), scale)
    w, h = scaled["to"] if scaled else (ri.width, ri.height)
    meta = {"fps": ri.fps, "width": w, "height": h, "scaled": scaled}

    def pairs() -> Iterator[tuple[float, _Pair]]:
        rit, dit = iter_frames(ref, max_pixels), iter_frames(dist, max_pixels)
        n = 0
        while True:
            fr, fd = next(rit, None), next(dit, None)
            if fr is None or fd is None:
                if fr is not None or fd is not None:
                    longer, more = ("reference", ref) if fr is not None else ("distorted input", dist)
                    raise CompareError(f"{dist}: frame counts differ: after {n} frames the {longer} goes on "
                                       f"({more}); vqual compare pairs frames one to one")
                return
            yield fr.t, _Pair(fr, fd, scaled, (fr.bit_depth, fd.bit_depth))
            n += 1

    return meta, pairs()


def _image_pair(ref_rgb: np.ndarray, ref: str, dist: str, scale: str, max_pixels: int | None
                ) -> tuple[dict, _Pair]:
    from vqual.media import load_image

    d = load_image(dist, max_pixels=max_pixels)
    scaled = _plan_scale(ref, dist, (ref_rgb.shape[1], ref_rgb.shape[0]), (d.shape[1], d.shape[0]), scale)
    w, h = scaled["to"] if scaled else (ref_rgb.shape[1], ref_rgb.shape[0])
    return {"width": w, "height": h, "scaled": scaled}, _Pair(ref_rgb, d, scaled, None)


# --- computing ----------------------------------------------------------------------------------------------------
def _frame_values(spec: MetricSpec, pair: _Pair, sequence: Any) -> tuple[list[float], float]:
    """The frame values this pair completes (one, or for a `MetricSpec.sequence` metric those it completes) and
    the data range."""
    if spec.space == "y":
        a, b, rng = pair.y()
    else:
        (a, b), rng = pair.rgb(), 1.0
    if sequence is not None:
        return [float(v) for v in sequence.add(a, b, rng)], rng
    return [float(spec.frame_value(a, b, rng))], rng


def _compare_one(ref: str, ref_kind: str, ref_rgb: np.ndarray | None, dist: str, names: list[str], timeline: bool,
                 scale: str, max_pixels: int | None) -> CompareResult:
    t0 = time.perf_counter()
    from vqual.media import media_kind

    if media_kind(dist) != ref_kind:  # a MediaError names the file and its problem
        raise CompareError(f"{dist}: is {'an image' if ref_kind == 'video' else 'a video'} but the reference is "
                           f"{'a video' if ref_kind == 'video' else 'an image'} ({ref})")
    specs = [METRICS[n] for n in names]
    values: dict[str, list[float]] = {n: [] for n in names}
    errors: dict[str, str] = {}
    ranges: dict[str, float] = {}
    times: list[float] = []
    if ref_kind == "image":
        meta, pair = _image_pair(ref_rgb, ref, dist, scale, max_pixels)
        stream: Iterator[tuple[float, _Pair]] = iter([(0.0, pair)])
    else:
        meta, stream = _video_pairs(ref, dist, scale, max_pixels)
    sequences = {s.name: s.sequence() for s in specs if s.sequence is not None}
    for t, pair in stream:
        times.append(t)
        for spec in specs:
            if spec.name in errors:
                continue
            try:
                v, ranges[spec.name] = _frame_values(spec, pair, sequences.get(spec.name))
            except classic.MetricInputError as e:
                errors[spec.name] = str(e)
                continue
            values[spec.name] += v
    for name, seq in sequences.items():
        if name not in errors:
            values[name] += seq.finish()
    video = ref_kind == "video"
    secs = sorted({math.floor(t) for t in times}) if video else []
    sec_of = [secs.index(math.floor(t)) for t in times] if video else []
    metrics: dict[str, MetricResult] = {}
    flags: list[str] = []
    for spec in specs:
        res = MetricResult(spec.name, spec.version, None, False, spec.higher_is_better, list(spec.range), spec.unit,
                           spec.pooling)
        if spec.name in errors:
            res.error = errors[spec.name]
            flags.append(FLAG_METRIC_NOT_COMPUTED)
        else:
            fv, rng = values[spec.name], ranges[spec.name]
            pooled = metric_value(spec, float(np.mean(fv)), rng)
            res.value, res.infinite = finite_or_none(pooled), math.isinf(pooled)
            if res.infinite:
                flags.append(FLAG_PSNR_INFINITE)
            if video:
                res.per_second = [finite_or_none(metric_value(spec, float(np.mean(
                    [v for v, s in zip(fv, sec_of) if s == k])), rng)) for k in range(len(secs))]
                if timeline:
                    res.per_frame = [finite_or_none(metric_value(spec, v, rng)) for v in fv]
        metrics[spec.name] = res
    if meta["scaled"]:
        flags.append(FLAG_SCALED)
    fps = meta.get("fps")
    seconds = None
    if video:
        end = (times[-1] + 1.0 / fps) if fps else times[-1]
        seconds = [[float(s), float(min(s + 1, end))] for s in secs]
    return CompareResult(
        reference=ref, distorted=dist, kind=ref_kind, width=int(meta["width"]), height=int(meta["height"]),
        metrics=metrics, frames=len(times) if video else None, fps=fps if video else None, seconds=seconds,
        scaled=meta["scaled"], flags=list(dict.fromkeys(flags)),
        provenance=_provenance(specs, time.perf_counter() - t0))


def _provenance(specs: list[MetricSpec], elapsed: float) -> dict[str, Any]:
    import scipy

    return {"vqual_version": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "metrics": {s.name: {"version": s.version, "reference": s.reference,
                                 **(s.provenance() if s.provenance else {})} for s in specs},
            "elapsed_ms": round(elapsed * 1000.0, 1)}


# --- the no-reference score beside ----------------------------------------------------------------------------------
class _NoReference:
    """Scores inputs with a no-reference model (the reference once), for `NoReferenceScores`."""

    def __init__(self, model: Scorer, timeline: bool):
        self.model, self.timeline = model, timeline
        self._cache: dict[str, Any] = {}

    def _score(self, path: str) -> Any:
        if path not in self._cache:
            try:
                self._cache[path] = self.model.score(path)
            except VqualError as e:
                self._cache[path] = e
        return self._cache[path]

    def scores(self, ref: str, dist: str, seconds: list[list[float]] | None) -> NoReferenceScores:
        rr, dr = self._score(ref), self._score(dist)
        ok = next((r for r in (rr, dr) if not isinstance(r, Exception)), None)
        prov = ok.provenance if ok is not None else None
        out = NoReferenceScores(model=prov.model if prov else self.model.name,
                                model_version=prov.model_version if prov else self.model.version,
                                weights_sha256=prov.weights_sha256 if prov else None,
                                reference=None if isinstance(rr, Exception) else rr.score,
                                distorted=None if isinstance(dr, Exception) else dr.score)
        out.reference_level = None if isinstance(rr, Exception) else rr.level
        out.distorted_level = None if isinstance(dr, Exception) else dr.level
        problems = [str(r) for r in (rr, dr) if isinstance(r, Exception)]
        out.error = "; ".join(problems) or None
        if self.timeline and seconds is not None:
            def per_second(r: Any) -> list[float | None] | None:
                if isinstance(r, Exception) or not r.timeline:
                    return None
                by = {m.second: m.score for m in r.timeline}
                return [by.get(int(s)) for s, _ in seconds]

            out.reference_per_second, out.distorted_per_second = per_second(rr), per_second(dr)
        return out


# --- the API ------------------------------------------------------------------------------------------------------
def iter_compare(ref: str | os.PathLike, dists: Sequence[str | os.PathLike], metrics: str | Sequence[str] | None = None,
                 *, timeline: bool = False, scale: str = "none", no_reference: bool | Any = True,
                 max_pixels: int | None = None) -> Iterator[CompareResult | Failure]:
    """Compare each distorted input with `ref`, in order: a `CompareResult`, or a `Failure` for a distorted input
    that cannot be read or aligned (the others go on). A reference that cannot be read, an unknown metric or
    `scale` raise `CompareError` before anything is computed.

    `no_reference`: True scores both inputs with the default model, False skips it, or a loaded model to use.
    """
    return _iter(ref, dists, metrics, timeline, scale, no_reference, max_pixels, raise_errors=False)


def _iter(ref: str | os.PathLike, dists: Sequence[str | os.PathLike], metrics: str | Sequence[str] | None,
          timeline: bool, scale: str, no_reference: bool | Any, max_pixels: int | None, raise_errors: bool
          ) -> Iterator[CompareResult | Failure]:
    names = parse_metrics(metrics)
    if scale not in SCALES:
        raise CompareError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    ref = str(ref)
    ref_kind = _kind(ref, "reference")
    ref_rgb = None
    if ref_kind == "image":
        from vqual.media import load_image

        try:
            ref_rgb = load_image(ref, max_pixels=max_pixels)
        except MediaError as e:
            raise CompareError(f"reference {e}") from None
    else:
        from vqual.media import probe_video

        try:
            probe_video(ref, max_pixels)
        except MediaError as e:
            raise CompareError(f"reference {e}") from None
    nr = None
    if no_reference is not False and no_reference is not None:
        if no_reference is True:
            from vqual.registry import create_model

            no_reference = create_model(None, max_pixels=max_pixels)
        nr = _NoReference(no_reference, timeline)
    for d in dists:
        d = str(d)
        try:
            r = _compare_one(ref, ref_kind, ref_rgb, d, names, timeline, scale, max_pixels)
        except MediaError as e:
            if raise_errors:
                raise
            yield Failure(path=d, reason=e.reason, message=str(e))
            continue
        except CompareError as e:
            if raise_errors or str(e).startswith("reference "):
                raise
            yield Failure(path=d, reason="misaligned", message=str(e))
            continue
        if nr is not None:
            r.no_reference = nr.scores(ref, d, r.seconds)
        yield r


def compare(ref: str | os.PathLike, dist: str | os.PathLike | Sequence[str | os.PathLike],
            metrics: str | Sequence[str] | None = None, *, timeline: bool = False, scale: str = "none",
            no_reference: bool | Any = True, max_pixels: int | None = None
            ) -> CompareResult | list[CompareResult | Failure]:
    """Full-reference metrics (default PSNR, SSIM, MS-SSIM) of `dist` against `ref`, with the default model's
    no-reference score of both beside them.

    One distorted path returns its `CompareResult` and raises `CompareError` (or `MediaError`) when it cannot be
    compared; a list returns one `CompareResult` or `Failure` per input, in order. `scale`: "none" (sizes must
    match), "dist" (resize the distorted input to the reference's size) or "ref"; `timeline`: per-frame values and
    the no-reference score per second for videos (per-second metric values are always given).
    """
    many = isinstance(dist, (list, tuple))
    out = list(_iter(ref, list(dist) if many else [dist], metrics, timeline, scale, no_reference, max_pixels,
                     raise_errors=not many))
    return out if many else out[0]
