"""The evaluation report as a plain HTML page with hand-written SVG plots (prediction vs MOS with the fitted
logistic, few-label curves, level confusion matrices), rendered from the JSON report of `vqual.eval.report`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vqual.eval.metrics import MetricError, fit_logistic
from vqual.eval.report import table_rows, whole_rows, whole_text
from vqual.output import write_atomic

# --- SVG ----------------------------------------------------------------------------------------------------------

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] with steps of 1, 2 or 5 times a power of ten."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 5, 10) if s * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], start
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks


class _Frame:
    """Maps data coordinates into a plotting area and draws axes."""

    def __init__(self, xlim: tuple[float, float], ylim: tuple[float, float], width: int = 440, height: int = 360,
                 margin: tuple[int, int, int, int] = (34, 16, 46, 56)):
        self.w, self.h = width, height
        self.top, self.right, self.bottom, self.left = margin
        self.xlim, self.ylim = xlim, ylim

    def x(self, v: float) -> float:
        a, b = self.xlim
        return self.left + (v - a) / (b - a) * (self.w - self.left - self.right)

    def y(self, v: float) -> float:
        a, b = self.ylim
        return self.h - self.bottom - (v - a) / (b - a) * (self.h - self.top - self.bottom)

    def axes(self, title: str, xlabel: str, ylabel: str, xticks: Sequence[float] | None = None) -> list[str]:
        e = html.escape
        x0, x1, y0, y1 = self.left, self.w - self.right, self.h - self.bottom, self.top
        out = [f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="#fff" stroke="#888"/>',
               (f'<text x="{self.w / 2:.1f}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
               f'{e(title)}</text>'),
               f'<text x="{(x0 + x1) / 2:.1f}" y="{self.h - 8}" text-anchor="middle" font-size="12">{e(xlabel)}</text>',
               (f'<text x="14" y="{(y0 + y1) / 2:.1f}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 14 {(y0 + y1) / 2:.1f})">{e(ylabel)}</text>')]
        for t in (xticks if xticks is not None else nice_ticks(*self.xlim)):
            if self.xlim[0] - 1e-9 <= t <= self.xlim[1] + 1e-9:
                px = self.x(t)
                out.append(f'<line x1="{px:.1f}" y1="{y0}" x2="{px:.1f}" y2="{y1}" stroke="#eee"/>')
                out.append(f'<text x="{px:.1f}" y="{y0 + 15}" text-anchor="middle" font-size="11">{t:g}</text>')
        for t in nice_ticks(*self.ylim):
            if self.ylim[0] - 1e-9 <= t <= self.ylim[1] + 1e-9:
                py = self.y(t)
                out.append(f'<line x1="{x0}" y1="{py:.1f}" x2="{x1}" y2="{py:.1f}" stroke="#eee"/>')
                out.append(f'<text x="{x0 - 5}" y="{py + 4:.1f}" text-anchor="end" font-size="11">{t:g}</text>')
        out.append(f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" stroke="#888"/>')
        return out

    def svg(self, body: list[str]) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}" font-family="sans-serif">' + "".join(body) + "</svg>")


def _pad(lo: float, hi: float, frac: float = 0.05) -> tuple[float, float]:
    if hi <= lo:
        return lo - 0.5, hi + 0.5
    d = (hi - lo) * frac
    return lo - d, hi + d


def svg_scatter(xs: Sequence[float], ys: Sequence[float], *, title: str, xlabel: str, ylabel: str = "MOS (1-5)",
                curve: Any = None, curve_label: str = "", diagonal: bool = False) -> str:
    """Scatter of predictions (x) against MOS (y); `curve` is a callable drawn over the x range."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(ys, dtype=float)
    if x.size == 0:
        return ""
    fr = _Frame(_pad(float(x.min()), float(x.max())), _pad(min(1.0, float(y.min())), max(5.0, float(y.max())), 0.02))
    body = fr.axes(title, xlabel, ylabel)
    if diagonal:
        lo, hi = max(fr.xlim[0], fr.ylim[0]), min(fr.xlim[1], fr.ylim[1])
        if hi > lo:
            body.append(f'<line x1="{fr.x(lo):.1f}" y1="{fr.y(lo):.1f}" x2="{fr.x(hi):.1f}" y2="{fr.y(hi):.1f}" '
                        'stroke="#999" stroke-dasharray="4 3"/>')
    for a, b in zip(x, y):
        if fr.ylim[0] <= b <= fr.ylim[1]:
            body.append(f'<circle cx="{fr.x(a):.1f}" cy="{fr.y(b):.1f}" r="2.6" fill="{_PALETTE[0]}" '
                        'fill-opacity="0.55"/>')
    if curve is not None:
        gx = np.linspace(fr.xlim[0], fr.xlim[1], 120)
        gy = np.asarray(curve(gx), dtype=float)
        pts = " ".join(f"{fr.x(a):.1f},{fr.y(min(max(b, fr.ylim[0]), fr.ylim[1])):.1f}"
                       for a, b in zip(gx, gy) if math.isfinite(b))
        body.append(f'<polyline points="{pts}" fill="none" stroke="{_PALETTE[1]}" stroke-width="2"/>')
        if curve_label:
            body.append(f'<text x="{fr.left + 8}" y="{fr.top + 16}" font-size="11" fill="{_PALETTE[1]}">'
                        f'{html.escape(curve_label)}</text>')
    return fr.svg(body)


def svg_curve(series: Sequence[dict[str, Any]], *, title: str, xlabel: str = "labelled items N",
              ylabel: str = "SRCC") -> str:
    """Lines of mean ± std (band and error bars) against N; each series: label, x, mean, std, dashed (optional)."""
    xs = [v for s in series for v in s["x"]]
    lows = [m - (sd or 0) for s in series for m, sd in zip(s["mean"], s["std"]) if m is not None]
    highs = [m + (sd or 0) for s in series for m, sd in zip(s["mean"], s["std"]) if m is not None]
    if not xs or not lows:
        return ""
    fr = _Frame(_pad(min(xs), max(xs)), _pad(min(lows), max(highs), 0.1))
    body = fr.axes(title, xlabel, ylabel, xticks=sorted(set(xs)))
    for k, s in enumerate(series):
        col = _PALETTE[k % len(_PALETTE)]
        pts = [(a, m, sd or 0.0) for a, m, sd in zip(s["x"], s["mean"], s["std"]) if m is not None]
        if not pts:
            continue
        band = ([f"{fr.x(a):.1f},{fr.y(m + sd):.1f}" for a, m, sd in pts]
                + [f"{fr.x(a):.1f},{fr.y(m - sd):.1f}" for a, m, sd in reversed(pts)])
        body.append(f'<polygon points="{" ".join(band)}" fill="{col}" fill-opacity="0.12" stroke="none"/>')
        dash = ' stroke-dasharray="6 4"' if s.get("dashed") else ""
        body.append(f'<polyline points="{" ".join(f"{fr.x(a):.1f},{fr.y(m):.1f}" for a, m, _ in pts)}" '
                    f'fill="none" stroke="{col}" stroke-width="2"{dash}/>')
        for a, m, sd in pts:
            body.append(f'<line x1="{fr.x(a):.1f}" y1="{fr.y(m - sd):.1f}" x2="{fr.x(a):.1f}" y2="{fr.y(m + sd):.1f}" '
                        f'stroke="{col}"/>')
            body.append(f'<circle cx="{fr.x(a):.1f}" cy="{fr.y(m):.1f}" r="3" fill="{col}"/>')
        body.append(f'<text x="{fr.left + 8}" y="{fr.top + 16 + 15 * k}" font-size="11" fill="{col}">'
                    f'{html.escape(s["label"])}</text>')
    return fr.svg(body)


def svg_confusion(matrix: Sequence[Sequence[int]], labels: Sequence[str], *, title: str) -> str:
    """Confusion matrix (rows: true level, columns: predicted), cells shaded by row fraction, with counts."""
    m = np.asarray(matrix, dtype=float)
    n = len(labels)
    cell, left, top = 54, 86, 52
    w, h = left + cell * n + 16, top + cell * n + 40
    e = html.escape
    body = [f'<text x="{w / 2:.1f}" y="18" text-anchor="middle" font-size="14" font-weight="bold">{e(title)}</text>',
            f'<text x="{left + cell * n / 2:.1f}" y="36" text-anchor="middle" font-size="11">predicted</text>',
            (f'<text x="12" y="{top + cell * n / 2:.1f}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + cell * n / 2:.1f})">true</text>')]
    rows = m.sum(axis=1)
    for i in range(n):
        body.append(f'<text x="{left - 6}" y="{top + cell * i + cell / 2 + 4:.1f}" text-anchor="end" font-size="11">'
                    f'{e(labels[i])}</text>')
        body.append(f'<text x="{left + cell * i + cell / 2:.1f}" y="{top + cell * n + 15}" text-anchor="middle" '
                    f'font-size="11">{e(labels[i])}</text>')
        for j in range(n):
            frac = m[i, j] / rows[i] if rows[i] else 0.0
            shade = round(255 - 180 * frac)
            fill = f"rgb({shade},{shade},255)" if i != j else f"rgb({shade},255,{shade})"
            body.append(f'<rect x="{left + cell * j}" y="{top + cell * i}" width="{cell}" height="{cell}" '
                        f'fill="{fill}" stroke="#fff"/>')
            body.append(f'<text x="{left + cell * j + cell / 2:.1f}" y="{top + cell * i + cell / 2 + 4:.1f}" '
                        f'text-anchor="middle" font-size="12">{int(m[i, j])}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'font-family="sans-serif">' + "".join(body) + "</svg>")


# --- HTML ---------------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:14px} .note{color:#555;font-size:13px}
code{background:#f5f5f5;padding:1px 3px}
"""


def _html_table(rows: list[list[str]], left_cols: int = 1) -> str:
    e = html.escape
    head = "".join(f'<th class="{"l" if j < left_cols else ""}">{e(c)}</th>' for j, c in enumerate(rows[0]))
    body = []
    for r in rows[1:]:
        if len(r) != len(rows[0]):
            body.append(f'<tr><td class="l" colspan="{len(rows[0])}">{e(" ".join(r).strip())}</td></tr>')
            continue
        body.append("<tr>" + "".join(f'<td class="{"l" if j < left_cols else ""}">{e(c)}</td>'
                                     for j, c in enumerate(r)) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


MAX_SCATTER_POINTS = 4000


def _scatter_with_fit(pred: Sequence[float], mos: Sequence[float], title: str, xlabel: str, diagonal: bool) -> str:
    """Scatter with the 4-parameter logistic fitted on all points; large sets show a seeded sample of points."""
    curve, label = None, ""
    try:
        fit = fit_logistic(pred, mos, 4)
        curve, label = fit, "4-parameter logistic fit"
    except MetricError as e:
        label = f"no logistic fit: {e}"
    x, y = np.asarray(pred, dtype=float), np.asarray(mos, dtype=float)
    if x.size > MAX_SCATTER_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(x.size, MAX_SCATTER_POINTS, replace=False))
        title += f" ({MAX_SCATTER_POINTS} of {x.size} shown)"
        x, y = x[keep], y[keep]
    return svg_scatter(x, y, title=title, xlabel=xlabel, curve=curve, curve_label=label, diagonal=diagonal)


def render_html(report: dict[str, Any], max_items: int = 2000) -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    d, m = report["dataset"], report["model"]
    parts = [(f"<!doctype html><html><head><meta charset='utf-8'><title>vqual eval: {e(d['name'])} / "
             f"{e(str(m['name']))}</title><style>{_CSS}</style></head><body>"),
             f"<h1>vqual eval: {e(d['name'])} / {e(str(m['name']))}</h1>",
             "<table>"
             + "".join(f'<tr><th class="l">{e(k)}</th><td class="l">{e(str(v))}</td></tr>' for k, v in (
                 ("model", f"{m['name']} {m['version']} (weights sha256 {m['weights_sha256'] or 'none'})"),
                 *((("calibration", m["calibration"]["note"]),) if m.get("calibration") else ()),
                 ("dataset", f"{d.get('title') or d['name']} at {d['root']}"),
                 ("labels", (f"{d['label']}, range {d['mos_range'][0]:g}-{d['mos_range'][1]:g}, "
                            f"{'higher' if d['higher_is_better'] else 'lower'} is better")),
                 ("items", (f"{d['n_scored']} scored, {d['n_failed']} failed, {d['n_skipped']} labels skipped, "
                           f"{d['n_cached']} predictions from cache")),
                 ("command", report.get("command") or "-"),
                 ("vqual", f"{report['vqual_version']}, {report['created']}"))) + "</table>"]
    if report.get("train_dataset"):
        t = report["train_dataset"]
        parts.append(f"<p class='note'>Training set (cross-dataset): {e(t['name'])} at {e(t['root'])}, "
                     f"{t['n_scored']} scored, {t['n_failed']} failed.</p>")
    parts.append(f"<p class='note'>{e(report['convention'])}</p>")
    for note in d.get("notes", []):
        parts.append(f"<p class='note'>Note: {e(note)}</p>")
    parts.append("<h2>Results</h2>" + _html_table(table_rows(report), left_cols=2))
    for res in report["results"]:
        if res["protocol"] == "whole":
            parts.append("<h3>Whole set (nothing fitted)</h3><p class='note'>" + e(whole_text(res).splitlines()[0])
                         + "</p>" + _html_table(whole_rows(res)))
    for res in report["results"]:
        for note in res.get("notes", []):
            parts.append(f"<p class='note'>{e(res['protocol'])}/{e(res['calibration'])}: {e(note)}</p>")

    # plots
    items = {it["index"]: it for it in report["items"]}
    ok = [it for it in report["items"] if it["status"] == "ok"]
    plots: list[str] = []
    if len(ok) >= 2:
        plots.append(_scatter_with_fit([it["score"] for it in ok], [it["mos_1_5"] for it in ok],
                                       "All items: model score vs MOS", "model score (1-5)", diagonal=True))
    for res in report["results"]:
        if res["protocol"] == "fewlabel" or not res["predictions"]:
            continue
        if res["calibration"] == "model" and res["protocol"] in ("kfold", "whole"):
            continue  # identical to the all-items plot
        pr = [p for p in res["predictions"] if p["id"] in items]
        if len(pr) >= 2:
            plots.append(_scatter_with_fit([p["prediction"] for p in pr], [items[p["id"]]["mos_1_5"] for p in pr],
                                           f"{res['protocol']}/{res['calibration']}: test predictions",
                                           "prediction (1-5)", diagonal=True))
    few = [r for r in report["results"] if r["protocol"] == "fewlabel" and r["curve"]]
    for key, name in (("srcc", "SRCC"), ("plcc", "PLCC")):
        series = [{"label": f"{r['calibration']} calibration", "x": [p["n_labels"] for p in r["curve"]],
                   "mean": [p["metrics"][key]["mean"] for p in r["curve"]],
                   "std": [p["metrics"][key]["std"] for p in r["curve"]], "dashed": r["calibration"] == "model"}
                  for r in few]
        if series:
            plots.append(svg_curve(series, title=f"Few-label curve: {name} (mean ± std)", ylabel=name))
    all_items = report.get("all_items", {})
    for lv, title in (("level3", "3 levels (MOS tertiles)"), ("level5", "5 levels (1.5/2.5/3.5/4.5)")):
        if lv in all_items:
            plots.append(svg_confusion(all_items[lv]["confusion"], all_items[lv]["labels"],
                                       title=f"Model score, {title}"))
    pooled = next((r["pooled"] for r in report["results"] if r["protocol"] == "kfold" and r["calibration"] == "fitted"
                   and r.get("pooled") and "level3" in r["pooled"]), None)
    if pooled:
        plots.append(svg_confusion(pooled["level3"]["confusion"], pooled["level3"]["labels"],
                                   title="k-fold fitted (pooled), 3 levels"))
    parts.append("<h2>Plots</h2><div class='plots'>" + "".join(p for p in plots if p) + "</div>")

    # per-protocol details
    parts.append("<h2>Folds</h2>")
    for res in report["results"]:
        if res["protocol"] == "fewlabel":
            continue
        rows = [["fold", "n_train", "n_test", "SRCC", "PLCC", "RMSE", "calibration"]]
        for f in res["folds"]:
            mt = f.get("metrics", {})
            cal = f.get("calibrator")
            cal_s = "-" if not cal else f"{cal['method']} " + ", ".join(f"{v:.4g}" for v in cal.get("params", []))
            rows.append([f["name"], str(f["n_train"]), str(f["n_test"])]
                        + [("-" if mt.get(k) is None else f"{mt[k]:.4f}") for k in ("srcc", "plcc", "rmse")]
                        + [f.get("error") or cal_s])
        parts.append(f"<h3>{e(res['protocol'])} / {e(res['calibration'])}</h3>" + _html_table(rows))

    if report["failures"]:
        rows = [["name", "reason", "detail"]] + [[f["name"], str(f["reason"]), str(f["detail"])]
                                                 for f in report["failures"]]
        parts.append(f"<h2>Failed items ({len(report['failures'])})</h2>" + _html_table(rows, left_cols=3))
    if d["skipped"]:
        rows = [["name", "reason", "detail"]] + [[s["name"], s["reason"], s["detail"]] for s in d["skipped"]]
        parts.append(f"<h2>Skipped labels ({len(d['skipped'])})</h2>" + _html_table(rows, left_cols=3))

    rows = [["#", "name", "split", "content", "MOS", "MOS 1-5", "score", "raw", "status"]]
    for it in report["items"][:max_items]:
        rows.append([str(it["index"]), it["name"], it["split"] or "", it["content_id"], f"{it['mos']:.4g}",
                     f"{it['mos_1_5']:.3f}", "-" if it["score"] is None else f"{it['score']:.3f}",
                     "-" if it["raw_score"] is None else f"{it['raw_score']:.4g}",
                     it["status"] + (f" ({it['reason']})" if it["reason"] else "")])
    more = len(report["items"]) - max_items
    parts.append("<h2>Items</h2>" + _html_table(rows, left_cols=4)
                 + (f"<p class='note'>{more} more items in the JSON report.</p>" if more > 0 else ""))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_html(report: dict[str, Any], path: str | Path) -> Path:
    return write_atomic(path, render_html(report))
