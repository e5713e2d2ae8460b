"""Soak test of `vqual batch` (issue 19): many tiny items, repeated stops and kills, resumes; run from benchmarks only.

    python benchmarks/batch_soak.py [--items 20000] [--bad 100] [--kills 12] [--workers 1] [--shard-size 250]
                                    [--seed 0] [--work DIR] [--json FILE]

1. Writes ``--items`` generated 32x32 PNG images (a gradient plus noise, so that scores differ) in folders of 1,000
   and ``--bad`` files named ``.jpg`` that are not pictures.
2. Runs ``vqual batch LIB --out OUT --workers W --shard-size S --progress log`` ``--kills`` times, each time ending
   it once it has done a random 2-8% of the items (rows in shards and journals), with the next action of the cycle
   ``term`` (SIGTERM to the driver), ``worker`` (SIGKILL to the Ray actor, the run goes on; SIGTERM a little later),
   ``int`` (SIGINT), ``kill`` (SIGKILL to the driver: its journals are left for the next run). Every other run
   passes ``--no-driver-scoring`` (the driver's scoring process and its hand-over are exercised in the others).
   The embedded Ray's session folder is ``$VQUAL_RAY_TMPDIR`` = a folder of this script's own.
3. After each run: its exit code and ``summary.json`` status (143 / 130 for a stop), no half-written file left by a
   stop, no key in the output twice, the items started and left without a row in the journals (cut by a SIGKILL of
   the driver: scored again later), and any process of the run still alive 20 s after the driver ended (killed then,
   by process id, and reported; after a SIGKILL of the driver Ray 2.60 leaves its DashboardAgent and
   RuntimeEnvAgent running, which is reported, not counted as a failure).
4. Then runs the same command until it completes, and checks: every input exactly once in the output, the bad files
   and only they failed (``not_media``), a rerun scores nothing. Total scorings <= items + items cut by driver kills
   + 1 per killed worker (the item it was scoring, if any, is scored again).
5. The driver's resident memory (VmRSS) is sampled every 0.5 s in every run; the report gives, per run, the first
   sample once rows flow, the last and the peak, and for the final (longest) run the samples at 10, 50 and 90% of
   its rows.

Exit code 0 when every check passes, 1 otherwise. One worker by default: with --workers 1 the runs use one core
for scoring (plus Ray's start-up processes and, while they start, the driver's scoring process at nice 19).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "src"))  # this checkout's vqual, as ENV gives the runs
from batch import descendants, emit, host_report, proc_table, rows_done, status_kb  # noqa: E402

ACTIONS = ("term", "worker", "int", "kill")
EXPECTED_EXIT = {"term": 143, "worker": 143, "int": 130}


def make_library(root: Path, items: int, bad: int) -> list[str]:
    """Write the library; returns the bad files' paths."""
    rng = np.random.default_rng(19)
    y, x = np.mgrid[0:32, 0:32]
    base = np.stack([x * 8, y * 8, (x + y) * 4], -1).astype(np.int16)
    for i in range(items):
        sub = root / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        noise = rng.integers(-(2 + i % 60), 3 + i % 60, base.shape, dtype=np.int16)
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(sub / f"s{i:06d}.png")
    bad_paths = []
    for j in range(bad):
        p = root / f"d{(j * 997) % max(1, items // 1000):03d}" / f"bad{j:04d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"not a picture %d\n" % j)
        bad_paths.append(str(p))
    return bad_paths


def survivors(tree: dict[int, tuple[bytes, str]]) -> dict[int, str]:
    """The processes of `tree` still alive (same pid and start time): pid -> name."""
    procs = proc_table()
    return {p: cmd.split(b"\0")[0].decode(errors="replace")[:60] for p, (cmd, start) in tree.items()
            if p in procs and procs[p][2] == start}


def cut_items(out: Path) -> int:
    """Items started and without a row in the journals left now (their process died on them)."""
    from vqual.batch.worker import read_journal

    folder = out / ".work" / "journal"
    return sum(len(read_journal(str(j))[1]) for j in folder.glob("*.jsonl")) if folder.is_dir() else 0


def partials(out: Path) -> list[str]:
    return sorted(n for n in os.listdir(out) if n.endswith(".partial")) if out.is_dir() else []


def one_run(cmd: list[str], env: dict, out: Path, n: int, action: str | None, rng: random.Random, log: Path,
            timeout: float) -> dict:
    """Run `cmd` once; with an `action`, end it (see the module docstring) after 2-8% of `n` more rows."""
    start_rows = rows_done(out) if out.exists() else 0
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    target = start_rows + int(n * rng.uniform(0.02, 0.08))
    t0 = time.perf_counter()
    with open(log, "w") as err:
        p = subprocess.Popen(cmd, env=env, stderr=err, stdout=subprocess.DEVNULL)
    tree: dict[int, tuple[bytes, str]] = {}
    samples: list[tuple[float, int, int]] = []  # (seconds, rows done, driver VmRSS kB)
    done_action, worker_killed, rows = None, None, start_rows
    while p.poll() is None:
        if time.perf_counter() - t0 > timeout:
            p.kill()
            raise SystemExit(f"{' '.join(cmd)}: no end after {timeout} s (log: {log})")
        procs = proc_table()
        below = descendants({p.pid}, procs)
        tree.update({q: procs[q][1:] for q in below})
        rows = rows_done(out) if out.exists() else 0
        samples.append((round(time.perf_counter() - t0, 2), rows, status_kb(p.pid, "VmRSS")))
        if action and done_action is None and rows >= target:
            if action == "worker" and worker_killed is None:
                actors = [q for q in below if procs[q][1].startswith(b"ray::MapWorker")]
                if actors:
                    os.kill(actors[0], signal.SIGKILL)
                    worker_killed = {"pid": actors[0], "at_rows": rows}
                    target = rows + int(n * rng.uniform(0.01, 0.03))  # then SIGTERM the driver a little later
            else:
                sig = {"term": signal.SIGTERM, "worker": signal.SIGTERM, "int": signal.SIGINT,
                       "kill": signal.SIGKILL}[action]
                p.send_signal(sig)
                done_action = {"signal": sig.name, "at_rows": rows, "at_s": round(time.perf_counter() - t0, 2)}
        time.sleep(0.5)
    wall = time.perf_counter() - t0
    deadline = time.monotonic() + 20  # the driver's scoring process ends at its next item, Ray's within seconds
    while (left := survivors(tree)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for q in left:  # processes of this run alive after its driver ended: stop them, by id
        try:
            os.kill(q, signal.SIGKILL)
        except ProcessLookupError:
            pass
    summary = None
    if (out / "summary.json").exists():
        summary = json.loads((out / "summary.json").read_text())
        if summary["started"] < started:
            summary = None  # an earlier run's: this one wrote none
    flowing = [s for s in samples if s[1] > start_rows and s[2]]
    rss = [s[2] for s in samples if s[2]]
    res = {"action": action, "exit_code": p.returncode, "seconds": round(wall, 2), "rows_before": start_rows,
           "rows_after": rows_done(out), "ended": done_action, "worker_killed": worker_killed,
           "cut_items": cut_items(out), "partials_left": partials(out) if action != "kill" else None,
           "processes_left": sorted(left.values()), "status": summary and summary["status"],
           "run": summary and summary["run"],
           "driver_rss_mb": {"first_with_rows": flowing and round(flowing[0][2] / 1024, 1),
                             "last": rss and round(rss[-1] / 1024, 1), "peak": rss and round(max(rss) / 1024, 1)},
           "_samples": samples}
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=20000)
    ap.add_argument("--bad", type=int, default=100)
    ap.add_argument("--kills", type=int, default=12)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--shard-size", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1800, help="most seconds one run may take")
    ap.add_argument("--work", default=None, help="folder for the library and the output (default: a temporary one)")
    ap.add_argument("--note", default="", help="the host's state, for the report")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="vqual-soak-"))
    if work.exists() and any(work.iterdir()):
        ap.error(f"--work {work} is not empty")
    ray_tmp = f"/tmp/vqsoak-{os.getuid()}-{os.getpid()}"  # short: Ray's unix sockets live below it
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
               VQUAL_RAY_TMPDIR=ray_tmp)
    env.setdefault("OMP_NUM_THREADS", "1")
    rng = random.Random(a.seed)
    report: dict = host_report("batch_soak.py", argv, a.note)
    lib, out, logs = work / "library", work / "out", work / "logs"
    logs.mkdir(parents=True)
    t0 = time.perf_counter()
    bad = make_library(lib, a.items, a.bad)
    n = a.items + a.bad
    report["files"], report["generate_s"] = n, round(time.perf_counter() - t0, 1)
    base = [sys.executable, "-m", "vqual", "batch", str(lib), "--out", str(out), "--workers", str(a.workers),
            "--shard-size", str(a.shard_size), "--progress", "log"]
    runs, checks = [], {}
    t_soak = time.perf_counter()
    try:
        for i in range(a.kills):
            action = ACTIONS[i % len(ACTIONS)]
            cmd = base + (["--no-driver-scoring"] if i % 2 else [])
            r = one_run(cmd, env, out, n, action, rng, logs / f"run{i:02d}.log", a.timeout)
            r["driver_scoring"] = not i % 2
            runs.append(r)
            _, counts = _scan(out)
            r["output_rows"], r["duplicates"] = counts["rows"], counts["duplicates"]
            print(f"run {i} {action}: exit {r['exit_code']}, rows {r['rows_before']} -> {r['rows_after']}, "
                  f"cut {r['cut_items']}, {r['seconds']} s", file=sys.stderr)
            if r["rows_after"] >= n:
                break  # finished before the kill: the rest is the final run's
        for i in range(len(runs), len(runs) + 3):  # to the end (a run may be refused by nothing; 3 at most)
            r = one_run(base, env, out, n, None, rng, logs / f"run{i:02d}.log", a.timeout)
            r["driver_scoring"] = True
            runs.append(r)
            _, counts = _scan(out)
            r["output_rows"], r["duplicates"] = counts["rows"], counts["duplicates"]
            print(f"run {i} final: exit {r['exit_code']}, rows {r['rows_before']} -> {r['rows_after']}, "
                  f"{r['seconds']} s", file=sys.stderr)
            if r["status"] == "complete":
                break
        report["soak_s"] = round(time.perf_counter() - t_soak, 1)
        rerun = one_run(base, env, out, n, None, rng, logs / "rerun.log", a.timeout)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    final = runs[-1]
    samples = final.pop("_samples")
    for r in runs[:-1]:
        r.pop("_samples")
    rerun.pop("_samples")
    grow = [s for s in samples if s[1] > final["rows_before"] and s[2]]
    span = final["rows_after"] - final["rows_before"]

    def rss_at(frac: float) -> float | None:
        later = [kb for _, rows, kb in grow if rows - final["rows_before"] >= frac * span]
        return round(later[0] / 1024, 1) if later else None

    report["final_run_driver_rss_mb"] = {"rows": span, **{f"{int(f * 100)}%": rss_at(f) for f in (0.1, 0.5, 0.9)}}
    report["runs"], report["rerun"] = runs, {k: rerun[k] for k in ("exit_code", "seconds", "run")}

    from vqual.batch.rows import read_results

    paths: dict[str, int] = {}
    failed: dict[str, str] = {}
    for row in read_results(str(out)):
        paths[row["path"]] = paths.get(row["path"], 0) + 1
        if row.get("error"):
            failed[row["path"]] = row["error"]["reason"]
    expected = {str(p) for p in lib.rglob("*") if p.is_file()}
    cut = sum(r["cut_items"] for r in runs) + sum(1 for r in runs if r["worker_killed"])  # at most 1 per worker kill
    report["result"] = {"rows": sum(paths.values()), "distinct": len(paths), "expected": len(expected),
                        "twice": sum(1 for v in paths.values() if v > 1), "missing": len(expected - set(paths)),
                        "failed": len(failed), "items_cut_by_kills": cut, "scorings_per_item": round((n + cut) / n, 4),
                        "processes_left_by_driver_kills": sorted(
                            n for r in runs if r["action"] == "kill" for n in r["processes_left"])}
    stops = [r for r in runs if r["action"] in EXPECTED_EXIT and r["ended"]]
    checks["every stopped run exited 143 / 130 with status terminated / interrupted"] = all(
        r["exit_code"] == EXPECTED_EXIT[r["action"]] and r["status"] == (
            "interrupted" if r["action"] == "int" else "terminated") for r in stops)
    checks["no half-written file after a stop"] = not any(r["partials_left"] for r in stops)
    checks["no key twice in the output after any run"] = all(r["duplicates"] == 0 for r in runs)
    checks["the last run completed"] = final["status"] == "complete" and final["exit_code"] == (1 if bad else 0)
    checks["every input exactly once"] = (paths.keys() == expected and all(v == 1 for v in paths.values()))
    checks["the bad files, and only they, failed (not_media)"] = failed == {p: "not_media" for p in bad}
    checks["a rerun scores nothing"] = rerun["run"]["scored"] == 0 and rerun["run"]["skipped"] == n
    checks["a killed worker was killed in some run"] = any(r["worker_killed"] for r in runs)
    checks["no process outlived a run that was not SIGKILLed"] = not any(
        r["processes_left"] for r in runs + [rerun] if r["action"] != "kill")
    report["checks"] = checks
    report["ok"] = all(checks.values())
    report["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    emit(report, a.json, indent=1)
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report["ok"] else 1


def _scan(out: Path):
    from vqual.batch.run import scan_output

    return scan_output(str(out)) if out.exists() else (None, {"rows": 0, "duplicates": 0})


if __name__ == "__main__":
    raise SystemExit(main())
