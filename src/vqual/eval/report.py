"""The evaluation report: a JSON document with every per-item prediction, and its text summary (tables). The HTML
page with SVG plots is `vqual.eval.report_html`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vqual.eval.metrics import MetricError, evaluate
from vqual.eval.protocols import ProtocolResult
from vqual.output import write_atomic
from vqual.version import __version__

if TYPE_CHECKING:
    from vqual.models.base import Scorer

REPORT_SCHEMA = "vqual.eval/1"

CONVENTION = (
    "Labels are mapped linearly from each dataset's declared range to 1-5 with higher = better (DMOS flipped); "
    "SRCC, KRCC and PLCC do not change under this map, RMSE is on 1-5. SRCC = Spearman rho, KRCC = Kendall tau-b, "
    "PLCC = Pearson r (scipy.stats). 'whole' compares the model's own score with the MOS on every scored item, "
    "nothing fitted, with 95% percentile bootstrap intervals (items resampled with replacement, or whole contents "
    "when a content has several items; the logistic refitted on each resample). "
    "'model' rows compare the model's own 1-5 score with the MOS (zero-shot); "
    "'fitted' rows map the model's raw score with a 4-parameter logistic fitted on the training part of each fold "
    "only. Columns marked l4 refit the VQEG 4-parameter logistic on the evaluated (test) set itself before PLCC / "
    "RMSE, as VQEG does. Acc3: 3 levels split at the tertiles of the test set's MOS; Acc5: 5 levels split at "
    "1.5/2.5/3.5/4.5. Across folds or repeats: mean and sample std (ddof=1). k-fold folds keep all items of one "
    "content in one fold.")

#: Columns of the summary table: (metric key, header).
TABLE_COLUMNS = (("srcc", "SRCC"), ("krcc", "KRCC"), ("plcc", "PLCC"), ("plcc_l4", "PLCC-l4"), ("rmse", "RMSE"),
                 ("rmse_l4", "RMSE-l4"), ("acc3", "Acc3"), ("acc5", "Acc5"))


# --- JSON ---------------------------------------------------------------------------------------------------------

def _clean(x: Any) -> Any:
    """JSON-safe copy: NaN / inf -> None, numpy scalars and arrays -> Python."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):
        return str(x)
    return x


def _dataset_block(dataset: Any, records: Sequence[Any]) -> dict[str, Any]:
    return {**dataset.info.to_dict(), "root": str(dataset.root), "n_labels": len(dataset.items) + len(dataset.skipped),
            "n_items": len(records), "n_scored": sum(r.status == "ok" for r in records),
            "n_failed": sum(r.status != "ok" for r in records), "n_cached": sum(r.cached for r in records),
            "n_skipped": len(dataset.skipped), "skipped": [s.to_dict() for s in dataset.skipped],
            "notes": list(dataset.notes)}


def all_items_metrics(records: Sequence[Any]) -> dict[str, Any]:
    """`evaluate` of the model's own score against the 1-5 MOS over every scored item (or ``{"error"}``)."""
    ok = [r for r in records if r.status == "ok"]
    try:
        return evaluate([r.score for r in ok], [r.mos_1_5 for r in ok])
    except MetricError as e:
        return {"error": str(e), "n": len(ok)}


def build_report(*, model: Scorer, dataset: Any, records: Sequence[Any], results: Sequence[ProtocolResult],
                 command: str = "", train_dataset: Any = None, train_records: Sequence[Any] | None = None,
                 elapsed_s: float | None = None, calibration: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report document (JSON-ready). `calibration`: the user's calibration used for 'model' rows, if any
    (stored under ``model.calibration``)."""
    rep: dict[str, Any] = {
        "schema": REPORT_SCHEMA, "vqual_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command, "convention": CONVENTION,
        "model": {"name": model.name, "version": model.version, "weights_sha256": model.weights_sha256},
        "dataset": _dataset_block(dataset, records),
        "all_items": all_items_metrics(records),
        "results": [r.to_dict() for r in results],
        "failures": [{"name": r.name, "path": r.path, "reason": r.reason, "detail": r.detail}
                     for r in records if r.status != "ok"],
        "items": [r.to_dict() for r in records],
        "elapsed_s": elapsed_s,
    }
    if calibration is not None:
        rep["model"]["calibration"] = calibration
    trained_on = tuple(model.trained_on)
    if dataset.info.name in trained_on:
        rep["in_sample"] = True
        rep["warning"] = (f"{rep['model']['name']} was trained on {dataset.info.name}: these figures are "
                          "training-set figures, not a test")
    if train_dataset is not None and train_records is not None:
        rep["train_dataset"] = _dataset_block(train_dataset, train_records)
        rep["train_items"] = [r.to_dict() for r in train_records]
        rep["failures"] += [{"name": r.name, "path": r.path, "reason": r.reason, "detail": r.detail,
                             "dataset": train_dataset.info.name} for r in train_records if r.status != "ok"]
    return _clean(rep)


def write_json(report: dict[str, Any], path: str | Path) -> Path:
    return write_atomic(path, json.dumps(report, indent=1, allow_nan=False) + "\n")


# --- text table ---------------------------------------------------------------------------------------------------

def _fmt(ms: dict[str, Any] | None, digits: int = 3) -> str:
    if not ms or ms.get("mean") is None:
        return "-"
    if ms.get("n", 1) > 1:
        return f"{ms['mean']:.{digits}f}±{ms['std']:.{digits}f}"
    return f"{ms['mean']:.{digits}f}"


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    """Header + one row per protocol result (one per N for few-label curves)."""
    rows = [["protocol", "calib", "n_test"] + [h for _, h in TABLE_COLUMNS]]
    for res in report["results"]:
        name, cal = res["protocol"], res["calibration"]
        if name == "fewlabel":
            for pt in res["curve"]:
                nt = pt["n_test"]["mean"]
                rows.append([f"fewlabel N={pt['n_labels']}", cal, "-" if nt is None else f"{nt:.0f}"]
                            + [_fmt(pt["metrics"].get(k)) for k, _ in TABLE_COLUMNS])
            continue
        label = {"kfold": f"kfold (k={res['params'].get('k')})", "whole": "whole set"}.get(name, name)
        n_test = sum(f["n_test"] for f in res["folds"])
        errs = [f["error"] for f in res["folds"] if f.get("error")]
        rows.append([label, cal, str(n_test)] + [_fmt(res["summary"].get(k)) for k, _ in TABLE_COLUMNS])
        if errs:
            rows.append(["", "", ""] + [f"{len(errs)} fold(s) failed: {errs[0]}"])
    return rows


#: Rows of the whole-set block: (metric key, label, note).
WHOLE_ROWS = (("srcc", "SRCC", "Spearman"), ("krcc", "KRCC", "Kendall tau-b"), ("plcc", "PLCC", "Pearson"),
              ("plcc_l4", "PLCC-l4", "Pearson after the 4-parameter logistic fitted on all items"),
              ("rmse", "RMSE", "on 1-5"), ("rmse_l4", "RMSE-l4", "after the logistic"),
              ("acc3", "Acc3", "3 levels at the MOS tertiles"), ("acc5", "Acc5", "5 levels at 1.5/2.5/3.5/4.5"))


def whole_rows(res: dict[str, Any], digits: int = 4) -> list[list[str]]:
    """Header + one row per metric of a whole-set result: value, 95% interval (or "-"), note."""
    level = (res.get("ci") or {}).get("level", 0.95)
    rows = [["metric", "value", f"{level:.0%} CI", ""]]
    for key, label, note in WHOLE_ROWS:
        ms = res["summary"].get(key) or {}
        v = ms.get("mean")
        lo, hi = ms.get("ci_low"), ms.get("ci_high")
        ci = "-" if lo is None or hi is None else f"[{lo:.{digits}f}, {hi:.{digits}f}]"
        rows.append([label, "-" if v is None else f"{v:.{digits}f}", ci, note])
    return rows


def whole_text(res: dict[str, Any]) -> str:
    """The whole-set result as a block of text: what was compared, then metric, value, interval."""
    n = sum(f["n_test"] for f in res["folds"])
    ci = res.get("ci")
    how = (f"{ci['level']:.0%} percentile bootstrap intervals, {ci['n_boot']} resamples of "
           f"{'contents' if ci['unit'] == 'content' else 'items'}, seed {ci['seed']}" if ci else "no intervals")
    lines = [f"whole set, nothing fitted: the model's own score against the labels on all {n} scored items ({how})"]
    rows = whole_rows(res)
    widths = [max(len(r[j]) for r in rows) for j in range(3)]
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j])
                                      for j, c in enumerate(r[:3])) + (f"  {r[3]}" if r[3] else ""))
    errs = [f["error"] for f in res["folds"] if f.get("error")]
    return "\n".join(lines + [f"  {e}" for e in errs] + [f"  note: {x}" for x in res.get("notes", [])])


def format_table(report: dict[str, Any]) -> str:
    rows = table_rows(report)
    ncol = len(rows[0])
    widths = [max(len(r[j]) for r in rows if len(r) == ncol) for j in range(ncol)]
    lines = []
    for i, r in enumerate(rows):
        if len(r) != ncol:  # an error line
            lines.append("  ".join(r).rstrip())
            continue
        lines.append("  ".join(c.ljust(widths[j]) if j < 2 else c.rjust(widths[j]) for j, c in enumerate(r)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_text(report: dict[str, Any]) -> str:
    d, m = report["dataset"], report["model"]
    head = (f"{d['name']}: {d['n_scored']} of {d['n_items']} items scored by {m['name']} {m['version']}"
            f" ({d['n_cached']} from cache, {d['n_failed']} failed, {d['n_skipped']} labels skipped)")
    if m.get("calibration"):
        head += f"\n{m['calibration']['note']}"
    if report.get("warning"):
        head = f"WARNING: {report['warning']}\n{head}"
    blocks = [whole_text(r) for r in report["results"] if r["protocol"] == "whole"]
    return head + "\n\n" + "\n\n".join(blocks + [format_table(report)])
