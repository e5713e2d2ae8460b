"""Can a pixel statistic of what should be neutral tell a colour cast from a colourful scene (issue #21's blind spot:
casts that are not warm)? research/lite2/README.md, eleventh session.

Candidates, each an estimate of the picture's chroma offset (Cb, Cr; BT.601, 8-bit units) whose length is the
cast's strength: the grey-world mean (what `encoders.measures` gives as cast_cb / cast_cr), the per-channel median,
the mode of the smoothed 2-D chroma histogram, the mean chroma of the 30% least saturated pixels, of the 5% brightest
and of the 5% darkest, and a trimmed mean around the densest neutral cluster. Judged on the 196 held-apart photographs
(explain_truth's `heldapart_photographs`: vqual-lite 2's validation part rated >= 4.2) clean and with
`synthetic.colour_shift` casts at levels 1-5 in four chroma directions (the synthetic warm cast's and +90, +180,
+270 degrees): AUC of clean against level 3 (and 2) per direction, the share of level-3 casts above the clean
photographs' 95th percentile, and how many of BIQ2021's 2,000 test photographs exceed that threshold.

Usage: python research/lite2/neutral_measures.py BIQ_ROOT OUT.json   (~2 min on one core)
"""
import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "scripts")]
from common import auc  # noqa: E402
from explain_truth import heldapart_photographs  # noqa: E402

from vqual.data.synthetic import COLOUR_CAST_ANGLE, DISTORTIONS, colour_shift  # noqa: E402
from vqual.media import load_image  # noqa: E402

YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
TURNS = (0, 90, 180, 270)
NAMES = ("grey-world mean", "median", "2-D mode", "least saturated 30%", "brightest 5%", "darkest 5%",
         "trimmed neutral cluster")


def offsets(rgb: np.ndarray) -> np.ndarray:
    """(len(NAMES),) chroma offset lengths of one picture (a regular subsample of ~65k pixels)."""
    from scipy.ndimage import gaussian_filter

    h, w = rgb.shape[:2]
    s = max(1, int(np.ceil(np.sqrt(h * w / 65536))))
    ycc = rgb[::s, ::s].reshape(-1, 3).astype(np.float64) @ YCC.T
    y, c = ycc[:, 0], ycc[:, 1:]
    hist, xe, ye = np.histogram2d(c[:, 0], c[:, 1], bins=64, range=[[-64, 64], [-64, 64]])
    i, j = np.unravel_index(np.argmax(gaussian_filter(hist, 1.5)), hist.shape)
    sat = np.hypot(c[:, 0], c[:, 1])
    m = np.median(c, 0)
    for _ in range(3):
        d = np.hypot(*(c - m).T)
        m = c[d <= np.quantile(d, 0.25)].mean(0)
    est = [c.mean(0), np.median(c, 0), np.array([(xe[i] + xe[i + 1]) / 2, (ye[j] + ye[j + 1]) / 2]),
           c[sat <= np.quantile(sat, 0.3)].mean(0), c[y >= np.quantile(y, 0.95)].mean(0),
           c[y <= np.quantile(y, 0.05)].mean(0), m]
    return np.array([np.hypot(*e) for e in est])


def main():
    root, out = Path(sys.argv[1]), Path(sys.argv[2])
    clean, cast = [], {(t, lv): [] for t in TURNS for lv in range(1, 6)}
    for path, _ in heldapart_photographs(root, 196):
        rgb = load_image(path)
        clean.append(offsets(rgb))
        for t in TURNS:
            for lv in range(1, 6):
                cast[t, lv].append(offsets(colour_shift(rgb, DISTORTIONS["colour"].levels[lv - 1],
                                                        COLOUR_CAST_ANGLE + t)))
    with open(root / "Test (Images and MOS).csv", newline="") as f:
        test = np.array([offsets(load_image(root / "Images" / r["Image Name"])) for r in csv.DictReader(f)])
    clean = np.array(clean)
    report = {}
    print("| estimate | AUC clean vs level 3: warm / +90 / +180 / +270 | level 2 | level 3 above clean q95 | "
          "q95 (8-bit units) | test photographs above it |")
    print("| --- | --- | --- | --- | ---: | ---: |")
    for k, name in enumerate(NAMES):
        thr = float(np.quantile(clean[:, k], 0.95))
        a3 = [auc(clean[:, k], np.array(cast[t, 3])[:, k]) for t in TURNS]
        a2 = [auc(clean[:, k], np.array(cast[t, 2])[:, k]) for t in TURNS]
        d3 = [float(np.mean(np.array(cast[t, 3])[:, k] > thr)) for t in TURNS]
        fp = float(np.mean(test[:, k] > thr))
        report[name] = {"auc_level3": a3, "auc_level2": a2, "level3_above_clean_q95": d3, "clean_q95": thr,
                        "test_above": fp}
        print(f"| {name} | {' / '.join(f'{x:.3f}' for x in a3)} | {' / '.join(f'{x:.3f}' for x in a2)} | "
              f"{' / '.join(f'{x:.0%}' for x in d3)} | {thr:.1f} | {fp:.1%} |")
    out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
