"""`vqual batch` on Ray against `vqual score` in one process, on this machine (issue 19).

    python benchmarks/batch.py [--images 400] [--small 10000] [--rounds 1] [--json FILE]

Every command runs as its own process with OMP_NUM_THREADS=1, the wall time measured from start to exit (start-up,
listing, Ray's start, model loading and Ray's shutdown included, for `vqual score` and `vqual batch` alike).
OMP_NUM_THREADS does not set ONNX Runtime's threads (`--threads` / VQUAL_THREADS do; a batch worker sets one per
CPU it holds), hence the two `vqual score` lines.

1. Throughput: `--images` crops of the bundled photograph (500x500 JPEG, `serve_load.make_images`) through
   `vqual score DIR --out x.jsonl --threads 1` (the reference: one process with the one CPU and one thread a batch
   worker has), `vqual score` with its default threads (every CPU), `vqual batch --workers 1` with and without
   `--no-driver-scoring` and `vqual batch --workers 2`, in that order, `--rounds` times (`--variants` picks some);
   images per second, medians, ratios to the reference of the same run. The load average before and after each
   command is recorded: the machine is shared.
2. Resume: `vqual batch --workers 2` into a new folder, SIGTERM once half the items have rows (the shards and the
   journals' done lines), then the same command again; the two wall times against one uninterrupted 2-worker run, and
   the items scored by the two runs together against the number of files.
3. Listing alone (`--listing N`, in this process): N empty ``.jpg`` files in folders of 1,000, streamed into listing
   pages by `vqual.batch.listing.list_into_pages` (the driver's first step): files per second, and the peak of
   the traced Python allocations during it (tracemalloc).
4. Memory: `--small` generated 64x64 PNG images (random pixels) through `vqual batch --workers 2 --progress log`;
   the driver's resident memory sampled every 0.5 s (at 10%, 50% and 90% of the rows and its peak), and each
   worker's peak (VmHWM of the `ray::MapWorker` processes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))  # this checkout's vqual, as ENV gives the runs
from common import command_line  # noqa: E402
from serve_load import make_images  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))


def vqual(*args: str) -> list[str]:
    return [sys.executable, "-m", "vqual", *args]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return time.perf_counter() - t0


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_table() -> dict[int, tuple[int, bytes, str]]:
    """pid -> (parent pid, command line, start time in clock ticks) of every process now running (a pid with its
    start time names one process: pids are reused)."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = Path(f"/proc/{p}/cmdline").read_bytes()
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            out[int(p)] = (int(fields[1]), cmd, fields[19])
    return out


def descendants(roots: set[int], procs: dict[int, tuple[int, bytes, str]]) -> set[int]:
    """Every descendant of `roots` in `procs` (`proc_table`), not the roots themselves."""
    found: set[int] = set()
    todo = list(roots)
    while todo:
        parent = todo.pop()
        for p, (ppid, _, _) in procs.items():
            if ppid == parent and p not in found and p not in roots:
                found.add(p)
                todo.append(p)
    return found


def workers() -> list[int]:
    return [p for p, (_, cmd, _) in proc_table().items() if cmd.startswith(b"ray::MapWorker")]


def host_report(script: str, argv: list[str] | None, note: str) -> dict:
    """How a batch benchmark's report starts: when, where, the command, and the host's state."""
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
            "cpus": os.cpu_count(), "command": command_line(script, argv), "note": note,
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


def emit(report: dict, path: str | None, indent: int = 2) -> None:
    """Print the report, and write it to `path` (--json) too."""
    text = json.dumps(report, indent=indent)
    print(text)
    if path:
        Path(path).write_text(text + "\n")


def rows_done(out: Path) -> int:
    """Rows in complete shards plus rows done in the journals (the work finished so far)."""
    import pyarrow.parquet as pq

    n = sum(pq.ParquetFile(p).metadata.num_rows for p in out.glob("part-*.parquet"))
    journals = out / ".work" / "journal"
    for j in journals.glob("*.jsonl") if journals.is_dir() else []:
        try:
            n += sum(1 for line in j.read_text().splitlines() if line.startswith('{"done"'))
        except OSError:
            pass
    return n


VARIANTS = {  # name: the command's arguments after the image folder (the output path is added)
    "score-1thread": ["--threads", "1"],
    "score": [],
    "batch-1": ["--workers", "1"],
    "batch-1-no-driver": ["--workers", "1", "--no-driver-scoring"],
    "batch-2": ["--workers", "2"],
}


def throughput(folder: Path, n: int, rounds: int, tmp: Path, variants: list[str]) -> dict:
    runs: dict[str, list[float]] = {v: [] for v in variants}
    loads: dict[str, list[list[float]]] = {v: [] for v in variants}
    by_driver: dict[str, list[int]] = {v: [] for v in variants if v.startswith("batch")}
    for r in range(rounds):
        for v in variants:
            if v.startswith("score"):
                cmd = vqual("score", str(folder), "--out", str(tmp / f"{v}-{r}.jsonl"), "--progress", "off")
            else:
                cmd = vqual("batch", str(folder), "--out", str(tmp / f"{v}-{r}"), "--progress", "off")
            before = os.getloadavg()[0]
            runs[v].append(timed(cmd + VARIANTS[v]))
            loads[v].append([round(before, 2), round(os.getloadavg()[0], 2)])
            if v in by_driver:
                by_driver[v].append(json.loads((tmp / f"{v}-{r}" / "summary.json").read_text())["run"]["by_driver"])
        print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in runs.items()), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in runs.items()}
    out = {"images": n, "seconds": {k: [round(x, 2) for x in v] for k, v in runs.items()},
           "images_per_s_median": {k: round(n / v, 3) for k, v in med.items()},
           "load_avg_1min_before_after": loads, "items_scored_by_driver": by_driver}
    ref = "score-1thread" if "score-1thread" in med else "score"
    for k in med:
        if k.startswith("batch") and ref in med:
            out[f"{k}_vs_{ref}"] = round(med[ref] / med[k], 3)
    if "batch-1" in med and "batch-2" in med:
        out["batch2_vs_batch1"] = round(med["batch-1"] / med["batch-2"], 3)
    if "score" in med and "score-1thread" in med:
        out["score_vs_score-1thread"] = round(med["score-1thread"] / med["score"], 3)
    return out


def resume(folder: Path, n: int, tmp: Path, uninterrupted: float) -> dict:
    out = tmp / "resume"
    cmd = vqual("batch", str(folder), "--out", str(out), "--workers", "2", "--progress", "off")
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=ENV, stderr=subprocess.DEVNULL)
    while p.poll() is None and rows_done(out) < n // 2:
        time.sleep(0.2)
    at = rows_done(out)
    p.send_signal(signal.SIGTERM)
    code = p.wait()
    first = time.perf_counter() - t0
    kept = json.loads((out / "summary.json").read_text())["output"]["rows"]
    second = timed(cmd)
    s2 = json.loads((out / "summary.json").read_text())
    return {"killed_at_rows": at, "exit_code": code, "rows_kept": kept, "first_s": round(first, 2),
            "second_s": round(second, 2), "second_scored": s2["run"]["scored"], "second_skipped": s2["run"]["skipped"],
            "uninterrupted_s": round(uninterrupted, 2), "wall_ratio": round((first + second) / uninterrupted, 3),
            "items_scored_ratio": round((kept + s2["run"]["scored"]) / n, 3), "rows_in_output": s2["output"]["rows"],
            "duplicates": s2["output"]["duplicates"]}


def memory(n: int, tmp: Path) -> dict:
    folder = tmp / "small"
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = folder / f"d{i // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(sub / f"s{i:05d}.png")
    out = tmp / "mem"
    t0 = time.perf_counter()
    p = subprocess.Popen(vqual("batch", str(folder), "--out", str(out), "--workers", "2", "--progress", "off"),
                         env=ENV, stderr=subprocess.DEVNULL)
    samples, peak_workers = [], {}
    while p.poll() is None:
        samples.append((rows_done(out) if out.exists() else 0, status_kb(p.pid, "VmRSS")))
        for w in workers():
            peak_workers[w] = max(peak_workers.get(w, 0), status_kb(w, "VmHWM"))
        time.sleep(0.5)
    wall = time.perf_counter() - t0
    summary = json.loads((out / "summary.json").read_text())

    def at(frac: float) -> float | None:
        later = [kb for rows, kb in samples if rows >= frac * n and kb]
        return round(later[0] / 1024, 1) if later else None

    return {"images": n, "wall_s": round(wall, 1), "rows": summary["output"]["rows"],
            "shards": summary["output"]["shards"], "driver_rss_mb_at": {f"{int(f * 100)}%": at(f)
                                                                       for f in (0.1, 0.5, 0.9)},
            "driver_peak_rss_mb": round(max(kb for _, kb in samples) / 1024, 1),
            "worker_peak_rss_mb": sorted(round(v / 1024, 1) for v in peak_workers.values()),
            "shard_bytes_median": int(statistics.median(f.stat().st_size for f in out.glob("part-*")))}


def listing(n: int, tmp: Path) -> dict:
    import tracemalloc

    from vqual.batch.listing import KeySet, list_into_pages

    root = tmp / "listing"
    for i in range(n):
        if i % 1000 == 0:
            (root / f"d{i // 1000:04d}").mkdir(parents=True)
        (root / f"d{i // 1000:04d}" / f"f{i:07d}.jpg").touch()
    tracemalloc.start()
    t0 = time.perf_counter()
    lst = list_into_pages([str(root)], str(tmp / "pages"), KeySet())
    dt = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"files": lst.total, "seconds": round(dt, 2), "files_per_s": round(lst.total / dt),
            "pages": len(lst.pages), "traced_peak_mb": round(peak / 2**20, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--small", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--listing", type=int, default=0, help="files for the listing measurement (0: skip it)")
    ap.add_argument("--skip", action="append", default=[], choices=("throughput", "resume", "memory"))
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"throughput commands, of {', '.join(VARIANTS)}")
    ap.add_argument("--note", default="", help="the host's state, for the report")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    report = host_report("batch.py", argv, a.note)
    with tempfile.TemporaryDirectory(prefix="vqual-batch-bench-") as d:
        tmp = Path(d)
        folder = tmp / "images"
        folder.mkdir()
        make_images(folder, a.images)
        if "throughput" not in a.skip:
            report["throughput"] = throughput(folder, a.images, a.rounds, tmp, a.variants.split(","))
            print(json.dumps(report["throughput"]), file=sys.stderr)
        if "resume" not in a.skip:
            ref = statistics.median(report["throughput"]["seconds"]["batch-2"]) if "batch-2" in report.get(
                "throughput", {}).get("seconds", {}) else \
                timed(vqual("batch", str(folder), "--out", str(tmp / "ref"), "--workers", "2", "--progress", "off"))
            report["resume"] = resume(folder, a.images, tmp, ref)
            print(json.dumps(report["resume"]), file=sys.stderr)
        if a.listing:
            report["listing"] = listing(a.listing, tmp)
        if "memory" not in a.skip:
            report["memory"] = memory(a.small, tmp)
    emit(report, a.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
