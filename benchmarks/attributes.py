"""Distortion attributes on held-out synthetic image distortions: does the strongest attribute name the injected
distortion, and does the matching attribute grow with its severity?

    python benchmarks/attributes.py [--model NAME] [--content DIR] [--map DIST=ATTR] [--json FILE]

Content: the held-out McMaster images 13-18 (``../shared/data/pristine/mcmaster``; the learned models train on
kodak24 and scikit-image content), or every image in ``--content DIR``. For each image, each distortion of
`IMAGE_DISTORTIONS` and each of its 5 graded levels (`apply_image`, seed 0), the distorted array is scored and
``result.attributes`` read; level 0 is the clean image (shared by all distortions).

Distortion names and the model's attribute names are matched by the documented mapping in benchmarks/common.py
(e.g. jpeg -> compression); ``--map DIST=ATTR`` overrides an entry. Reported:

(a) confusion of the strongest attribute (the largest value; "none" when there is none above 0) against the
    injected distortion, at levels 3-5 and at all levels 1-5, and the fraction where it is the distortion's matching
    attribute (target >= 90 %); a distortion with no matching attribute counts as missed; attributes the model
    reports that match no distortion are listed;
(b) per content and distortion, SRCC of the matching attribute with the level over levels 0..5 (target >= 0.95 per
    content), and SRCC of the score with -level. SRCC is n/a when one side is constant.

A model without image attributes (niqe) gets "model has no attributes" and only the score SRCCs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    command_line,
    content_name,
    f3,
    heldout_images,
    load_rgb,
    parse_mapping,
    pct,
    report_header,
    resolve_mapping,
    srcc,
    strongest,
    write_report,
)

HIGH_LEVELS = (3, 4, 5)


def run_attributes(model, contents: list[Path], distortions: tuple[str, ...] | None = None,
                   levels: tuple[int, ...] = (1, 2, 3, 4, 5), seed: int = 0,
                   progress: bool = False) -> list[dict[str, Any]]:
    """Score every (content, distortion, level); level 0 (clean) once per content. One row per scored image."""
    from vqual.data.synthetic import DISTORTIONS, IMAGE_DISTORTIONS, apply_image

    names = IMAGE_DISTORTIONS if distortions is None else distortions
    rows = []
    for path in contents:
        rgb = load_rgb(path)
        name = content_name(path)
        if progress:
            print(f"{name} ...", file=sys.stderr)
        r = model.score(rgb)
        rows.append({"content": name, "distortion": None, "level": 0, "param": None, "score": r.score,
                     "attributes": dict(r.attributes)})
        for d in names:
            for lv in levels:
                param = DISTORTIONS[d].levels[lv - 1]
                r = model.score(apply_image(d, rgb, param, seed=seed))
                rows.append({"content": name, "distortion": d, "level": lv, "param": param, "score": r.score,
                             "attributes": dict(r.attributes)})
    return rows


def analyse(rows: list[dict[str, Any]], candidates: dict[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """(a) confusion and accuracy, (b) per-content SRCCs, from the rows of `run_attributes`."""
    distortions = list(dict.fromkeys(r["distortion"] for r in rows if r["distortion"]))
    contents = list(dict.fromkeys(r["content"] for r in rows))
    reported = sorted(set().union(*(r["attributes"] for r in rows)))
    mapping = resolve_mapping(distortions, set(reported), candidates)
    out: dict[str, Any] = {"distortions": distortions, "contents": contents, "attributes_reported": reported,
                           "has_attributes": bool(reported), "mapping": mapping,
                           "unmapped_attributes": [a for a in reported if a not in mapping.values()],
                           "distortions_without_attribute": [d for d in distortions if mapping[d] is None]}
    # (a) confusion
    conf: dict[str, Any] = {}
    if reported:
        for label, lvls in (("levels_3_5", HIGH_LEVELS), ("levels_1_5", (1, 2, 3, 4, 5))):
            table: dict[str, dict[str, int]] = {}
            hit = tot = 0
            for r in rows:
                if r["distortion"] is None or r["level"] not in lvls:
                    continue
                s = strongest(r["attributes"])
                table.setdefault(r["distortion"], {}).setdefault(s, 0)
                table[r["distortion"]][s] += 1
                ok = mapping[r["distortion"]] is not None and s == mapping[r["distortion"]]
                hit += ok
                tot += 1
            per = {d: {"hit": table.get(d, {}).get(mapping[d], 0) if mapping[d] else 0,
                       "n": sum(table.get(d, {}).values())} for d in distortions}
            conf[label] = {"counts": table, "per_distortion": per, "hit": hit, "n": tot,
                           "accuracy": hit / tot if tot else None}
        clean = [r for r in rows if r["distortion"] is None]
        conf["clean_strongest"] = {c["content"]: strongest(c["attributes"]) for c in clean}
    out["confusion"] = conf
    # (b) SRCC with the level, per content and distortion
    per: dict[str, dict[str, Any]] = {}
    for d in distortions:
        a = mapping[d]
        per[d] = {}
        for c in contents:
            rs = sorted((r for r in rows if r["content"] == c and (r["distortion"] in (d, None))),
                        key=lambda r: r["level"])
            lv = [r["level"] for r in rs]
            per[d][c] = {"levels": lv, "scores": [r["score"] for r in rs],
                         "srcc_score_neg_level": srcc([r["score"] for r in rs], [-x for x in lv])}
            if a:
                vals = [r["attributes"].get(a, 0.0) for r in rs]
                per[d][c].update(attribute=a, values=vals, srcc_attribute_level=srcc(vals, lv))
    out["per_content"] = per
    return out


def _summary_cell(vals: list[float | None], target: float) -> str:
    ok = [v for v in vals if v is not None]
    n_pass = sum(v >= target for v in ok)
    med = f3(float(np.median(ok))) if ok else "n/a"
    return f"{n_pass}/{len(vals)} (median {med}, min {f3(min(ok)) if ok else 'n/a'})"


def markdown(report: dict[str, Any]) -> str:
    a = report["analysis"]
    L = [f"model {report['model']} {report['model_version']}, {report['date']}, {report['cpus']} cpus",
         f"Command: `{report['command']}`",
         f"Content: {', '.join(a['contents'])} ({report['content_dir']}); distortions: {', '.join(a['distortions'])}",
         ""]
    dists, contents = a["distortions"], a["contents"]
    if not a["has_attributes"]:
        L += ["**model has no attributes** (no image attribute reported on any of the "
              f"{report['n_scored']} images): (a) and the attribute half of (b) cannot be measured", ""]
    else:
        L += ["mapping (distortion -> model attribute): "
              + ", ".join(f"{d} -> {a['mapping'][d] or 'NONE'}" for d in dists),
              f"attributes the model reports: {', '.join(a['attributes_reported'])}; matching no distortion: "
              f"{', '.join(a['unmapped_attributes']) or 'none'}", ""]
        cols = a["attributes_reported"] + ["none"]
        for label, title in (("levels_3_5", "levels 3-5"), ("levels_1_5", "all levels 1-5")):
            cf = a["confusion"][label]
            L += [f"(a) strongest attribute vs injected distortion, {title}: the strongest attribute names the "
                  f"distortion in {pct(cf['hit'], cf['n'])} (target >= 90%)", "",
                  "| injected \\ strongest | " + " | ".join(cols) + " | hit |",
                  "| --- | " + " | ".join("---:" for _ in cols) + " | ---: |"]
            for d in dists:
                cnt = cf["counts"].get(d, {})
                p = cf["per_distortion"][d]
                cells = []
                for c in cols:
                    v = cnt.get(c, 0)
                    cells.append(f"**{v}**" if c == a["mapping"][d] else str(v) if v else "")
                L.append(f"| {d} ({a['mapping'][d] or 'no attribute'}) | " + " | ".join(cells)
                         + f" | {pct(p['hit'], p['n'])} |")
            L.append("")
        L += ["strongest attribute on the clean images: "
              + ", ".join(f"{c} {s}" for c, s in a["confusion"]["clean_strongest"].items()), ""]
    L += ["(b) SRCC with the severity over levels 0 (clean) .. 5, per content: "
          + ("matching attribute vs level / " if a["has_attributes"] else "") + "score vs -level "
          + "(target >= 0.95 for the attribute)", "",
          "| distortion | " + " | ".join(contents) + " | attribute >= 0.95 | score >= 0.95 |",
          "| --- | " + " | ".join("---:" for _ in contents) + " | --- | --- |"]
    for d in dists:
        pc = a["per_content"][d]
        has = a["mapping"][d] is not None
        cells = [(f"{f3(pc[c].get('srcc_attribute_level'), 2)} / " if has else "- / " if a["has_attributes"] else "")
                 + f3(pc[c]["srcc_score_neg_level"], 2) for c in contents]
        att = _summary_cell([pc[c].get("srcc_attribute_level") for c in contents], 0.95) if has else "no attribute"
        sc = _summary_cell([pc[c]["srcc_score_neg_level"] for c in contents], 0.95)
        L.append(f"| {d} | " + " | ".join(cells) + f" | {att} | {sc} |")
    s = report["summary"]
    L += ["", f"score SRCC(score, -level) >= 0.95: {s['score_pass']}; "
              + (f"attribute SRCC >= 0.95: {s['attribute_pass']}" if a["has_attributes"] else "no attributes"),
          "", f"{report['n_scored']} images scored in {report['elapsed_s']:.0f} s"]
    return "\n".join(L)


def summarise(a: dict[str, Any]) -> dict[str, Any]:
    pcs = [v for d in a["distortions"] for v in a["per_content"][d].values()]
    sc = [v["srcc_score_neg_level"] for v in pcs]
    s: dict[str, Any] = {"score_pass": pct(sum(v is not None and v >= 0.95 for v in sc), len(sc))}
    if a["has_attributes"]:
        at = [v.get("srcc_attribute_level") for v in pcs]  # a distortion without attribute counts as a miss
        s["attribute_pass"] = pct(sum(v is not None and v >= 0.95 for v in at), len(at))
        s["accuracy_levels_3_5"] = a["confusion"]["levels_3_5"]["accuracy"]
        s["accuracy_levels_1_5"] = a["confusion"]["levels_1_5"]["accuracy"]
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="registered model (default: the default model)")
    ap.add_argument("--content", default=None, help="folder of clean images (default: McMaster 13-18, held out)")
    ap.add_argument("--distortions", default=None, help="comma-separated subset of IMAGE_DISTORTIONS")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--map", action="append", metavar="DIST=ATTR[,ATTR]",
                    help="override the distortion -> attribute names mapping (see benchmarks/common.py)")
    ap.add_argument("--json", default=None, help="output (default benchmarks/results/attributes-<model>.json)")
    args = ap.parse_args(argv)

    from vqual.api import load_model
    from vqual.data.synthetic import IMAGE_DISTORTIONS

    t0 = time.perf_counter()
    dists = tuple(d.strip() for d in args.distortions.split(",")) if args.distortions else IMAGE_DISTORTIONS
    unknown = [d for d in dists if d not in IMAGE_DISTORTIONS]
    if unknown:
        raise SystemExit(f"unknown image distortion(s) {', '.join(unknown)} "
                         f"(choose from {', '.join(IMAGE_DISTORTIONS)})")
    contents = heldout_images(args.content)
    model = load_model(args.model)
    rows = run_attributes(model, contents, dists, seed=args.seed, progress=True)
    analysis = analyse(rows, parse_mapping(args.map))
    report = {**report_header(model, command_line("attributes.py", argv)),
              "content_dir": str(Path(args.content) if args.content else contents[0].parent),
              "content_files": [p.name for p in contents], "seed": args.seed, "n_scored": len(rows),
              "analysis": analysis, "summary": summarise(analysis), "rows": rows}
    report["elapsed_s"] = time.perf_counter() - t0
    print(markdown(report))
    out = write_report(report, args.json, f"attributes-{model.name}.json")
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
