"""Recompute the NIQE -> 1-5 mapping in src/vqual/assets/niqe/mapping.json from synthetic data only.

No human opinion scores are used. The anchors are:

* ``pristine``: the median NIQE of the pristine photographs in ``shared/data/pristine`` (Kodak 24 + McMaster 18);
* ``degraded``: the median NIQE of the same photographs at the strongest level of three synthetic distortions
  (Gaussian blur sigma 4 px, white Gaussian noise sigma 50/255, JPEG quality 5).

The logistic ``score = 1 + 4 / (1 + exp((niqe - mid) / scale))`` is placed so that the pristine anchor maps to 4.5
and the degraded anchor to 1.5: ``mid = (pristine + degraded) / 2``, ``scale = (degraded - pristine) / (2 ln 7)``.
The milder levels (blur 1 and 2 px, noise 10 and 25, JPEG 50 and 20) are reported for reference only.

Usage: python scripts/niqe_mapping.py [--data shared/data/pristine] [--write] [--check-clive DIR]
(without --write it prints the JSON it would write). ``--check-clive DIR`` (a folder with labels.csv:
image,mos,... as shared/data/clive-fewlabel) only *reports* the SRCC of -NIQE with the human scores; it is an
evaluation, never an input to the mapping.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vqual.models.niqe import niqe  # noqa: E402  (after the sys.path line above)

MAPPING = ROOT / "src" / "vqual" / "assets" / "niqe" / "mapping.json"
LEVELS = {
    "blur": [1.0, 2.0, 4.0],  # Gaussian sigma, pixels
    "noise": [10.0, 25.0, 50.0],  # white Gaussian noise sigma on 0-255
    "jpeg": [50, 20, 5],  # PIL JPEG quality
}


def distort(rgb: np.ndarray, kind: str, level: float, seed: int) -> np.ndarray:
    if kind == "blur":
        out = ndimage.gaussian_filter(rgb.astype(np.float64), sigma=(level, level, 0), mode="reflect")
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
    if kind == "noise":
        rng = np.random.default_rng(seed)
        out = rgb.astype(np.float64) + rng.normal(0.0, level, rgb.shape)
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
    if kind == "jpeg":
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=int(level))
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    raise ValueError(kind)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "pristine"))
    ap.add_argument("--write", action="store_true", help="write mapping.json (keeps its video parameters)")
    ap.add_argument("--check-clive", metavar="DIR", help="also print NIQE's SRCC on DIR/labels.csv (report only)")
    args = ap.parse_args()
    files = sorted(p for p in Path(args.data).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".bmp", ".tif"))
    if not files:
        raise SystemExit(f"no images under {args.data}")
    t0 = time.perf_counter()
    pristine: list[float] = []
    dist: dict[str, list[list[float]]] = {k: [[] for _ in v] for k, v in LEVELS.items()}
    for i, f in enumerate(files):
        rgb = np.asarray(Image.open(f).convert("RGB"))
        pristine.append(niqe(rgb))
        for kind, levels in LEVELS.items():
            for j, lv in enumerate(levels):
                dist[kind][j].append(niqe(distort(rgb, kind, lv, seed=i)))
    p_med = float(np.median(pristine))
    strongest = [q for kind in LEVELS for q in dist[kind][-1]]
    d_med = float(np.median(strongest))
    mid = (p_med + d_med) / 2.0
    scale = (d_med - p_med) / (2.0 * math.log(7.0))
    medians = {f"{kind}_{lv:g}": round(float(np.median(dist[kind][j])), 4)
               for kind, levels in LEVELS.items() for j, lv in enumerate(levels)}
    old = json.loads(MAPPING.read_text()) if MAPPING.is_file() else {}
    out = {
        "model": "niqe",
        "version": old.get("version", "1.0.0"),  # the model's version (its registry entry reads it from here)
        "id": f"niqe-logistic-synthetic-v1-mid{mid:.3f}-scale{scale:.3f}",
        "form": "score = 1 + 4 / (1 + exp((niqe - mid) / scale))",
        "logistic": {"mid": round(mid, 4), "scale": round(scale, 4)},
        "source": (
            "Chosen from synthetic data only, no human scores: scripts/niqe_mapping.py computes NIQE of the "
            f"{len(files)} pristine photographs in shared/data/pristine (Kodak 24 + McMaster 18) and of their "
            "blurred (Gaussian sigma 1/2/4 px), noisy (white Gaussian sigma 10/25/50 of 255) and JPEG (quality "
            "50/20/5) versions; the median pristine NIQE is mapped to 4.5 and the median NIQE of the strongest "
            "level of the three distortions to 1.5, i.e. mid = (pristine + degraded) / 2 and "
            "scale = (degraded - pristine) / (2 ln 7)."
        ),
        "anchors": {"pristine_median": round(p_med, 4), "degraded_median": round(d_med, 4),
                    "pristine_p10_p90": [round(float(np.percentile(pristine, q)), 4) for q in (10, 90)],
                    "level_medians": medians, "n_images": len(files)},
        "uncertainty_fallback": old.get("uncertainty_fallback", 1.0),
        "video": old.get("video", {}),
        "notes": old.get("notes", {}),
    }
    text = json.dumps(out, indent=2) + "\n"
    if args.write:
        MAPPING.write_text(text)
        print(f"wrote {MAPPING}")
    print(text)
    print(f"{len(files)} images, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if args.check_clive:
        check_clive(Path(args.check_clive))


def check_clive(root: Path) -> None:
    """Print the Spearman correlation of -NIQE with the MOS of the images listed in root/labels.csv."""
    import csv

    from scipy.stats import spearmanr

    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    q = [niqe(np.asarray(Image.open(root / r["image"]).convert("RGB"))) for r in rows]
    mos = [float(r["mos"]) for r in rows]
    print(f"SRCC(-NIQE, MOS) on {len(rows)} images of {root}: {spearmanr(-np.array(q), mos)[0]:.4f}")


if __name__ == "__main__":
    main()
