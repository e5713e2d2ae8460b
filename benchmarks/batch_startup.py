"""Where a `vqual batch` run's start-up goes, process by process, with timestamps (issue 19); benchmarks only.

    python benchmarks/batch_startup.py [--repeats 3] [--images 8] [--baseline SRC] [--json FILE]

Each repeat runs ``vqual batch LIB --out OUT --workers 1 --no-driver-scoring --shard-size 1 --progress off`` on
``--images`` small generated images (so that scoring is negligible and every phase is start-up or shut-down), in a
fresh process, with its phases timestamped (all times in seconds from the driver process's start):

* in the driver (this script run with ``--driver``, which wraps `vqual.batch.run.start_ray`, ``ray.data``'s
  ``Dataset.iter_rows`` and ``ray.shutdown``, then calls ``vqual.cli.main``): the interpreter and imports up to
  `run_batch`, ``ray.init``, until the first row, the rows, ``ray.shutdown``, the exit;
* in the actor (a subclass of `vqual.batch.worker.ChunkScorer` defined here, which Ray pickles by value and which
  writes a line of timestamps to ``$VQUAL_STARTUP_TRACE``): the worker process's start (``/proc``), its constructor
  called (Ray's worker start-up, Ray Data's actor set-up and the import of `vqual.batch.worker` done), the model
  loaded, the first chunk called and returned (one item: the first inference, with its one-off costs);
* every process of the run (the driver's descendants, sampled from ``/proc`` every 20 ms): its name (Ray retitles a
  worker when it becomes an actor), start, and CPU seconds used up to the first row and in all.

`--baseline SRC` (another checkout's ``src``, e.g. ``git archive REV src | tar -x -C /tmp/before``) runs the same
with that code, interleaved with this checkout's in each repeat. Medians over the repeats are reported. On a shared
host the absolute seconds measure the host as much as the code: compare the two trees within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("no btime in /proc/stat")


def proc_stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, start time as epoch seconds, CPU seconds used) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[1]), BOOT + int(fields[19]) / CLK_TCK, (int(fields[11]) + int(fields[12])) / CLK_TCK)


BOOT = boot_time()


def trace(event: str, **extra) -> None:
    """One JSON line (event, wall time, pid, `extra`) appended to $VQUAL_STARTUP_TRACE."""
    path = os.environ.get("VQUAL_STARTUP_TRACE")
    if path:
        line = json.dumps({"event": event, "t": time.time(), "pid": os.getpid(), **extra}) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


HEAVY = ("torch", "scipy", "scipy.fft", "onnxruntime", "av", "pandas", "ray.data", "pyarrow.parquet", "vqual.api")


def loaded() -> list[str]:
    """Which of the heavy modules this process has imported."""
    return [m for m in HEAVY if m in sys.modules]


# --- the driver (python batch_startup.py --driver ARGS...) -------------------------------------------------------


def driver(argv: list[str]) -> int:
    import vqual.batch.run as batch_run
    from vqual.batch.worker import ChunkScorer

    trace("driver_main", start=proc_stat(os.getpid())[1])

    class TimedChunkScorer(ChunkScorer):  # defined in __main__: pickled by value, so the actor needs no path to it
        def __init__(self, config):

            trace("actor_init", start=proc_stat(os.getpid())[1], loaded=loaded())
            super().__init__(config)
            trace("actor_model_loaded")
            self._calls = 0

        def __call__(self, batch):
            self._calls += 1
            if self._calls == 1:
                trace("actor_first_call")
            out = super().__call__(batch)
            if self._calls == 1:
                trace("actor_first_call_done", loaded=loaded())
            return out

    start_ray = batch_run.start_ray

    def timed_start_ray(*args, **kwargs):
        trace("ray_init")
        start_ray(*args, **kwargs)
        trace("ray_init_done")
        import ray
        import ray.data

        trace("ray_data_imported")
        iter_rows, shutdown = ray.data.Dataset.iter_rows, ray.shutdown

        def timed_iter_rows(self, *a, **k):
            trace("iter_rows")
            first = True
            for row in iter_rows(self, *a, **k):
                if first:
                    trace("first_row")
                    first = False
                yield row
            trace("rows_done")

        def timed_shutdown(*a, **k):
            trace("ray_shutdown")
            shutdown(*a, **k)
            trace("ray_shutdown_done")

        ray.data.Dataset.iter_rows, ray.shutdown = timed_iter_rows, timed_shutdown

    batch_run.start_ray = timed_start_ray
    batch_run.ChunkScorer = TimedChunkScorer
    from vqual.cli import main

    code = main(argv)
    trace("driver_end", loaded=loaded())
    return code


# --- the parent: runs and samples ----------------------------------------------------------------------------------


def make_library(root: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(root / f"s{i:03d}.png")


def one_run(src: Path, lib: Path, tmp: Path, tag: str) -> dict:
    trace_file = tmp / f"trace-{tag}.jsonl"
    out = tmp / f"out-{tag}"
    env = dict(os.environ, PYTHONPATH=str(src), VQUAL_STARTUP_TRACE=str(trace_file),
               VQUAL_RAY_TMPDIR=f"/tmp/vqstart-{os.getuid()}")
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--driver", "batch", str(lib), "--out", str(out),
           "--workers", "1", "--no-driver-scoring", "--shard-size", "1", "--progress", "off"]
    t_launch = time.time()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen: dict[int, dict] = {}
    first_row_cpu: dict[int, float] | None = None
    while p.poll() is None:
        pids = {p.pid}
        for q in os.listdir("/proc"):
            if q.isdigit() and int(q) not in pids:
                st = proc_stat(int(q))
                if st and (st[0] in pids or st[0] in seen):
                    pids.add(int(q))
        for q in pids:
            st = proc_stat(q)
            if st is None:
                continue
            try:
                args = Path(f"/proc/{q}/cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            name = args[0]
            if name.rsplit("/", 1)[-1].startswith("python"):  # a Python script: name it by the script
                name = next((x.rsplit("/", 1)[-1] for x in args[1:] if x.endswith(".py")), name)
            rec = seen.setdefault(q, {"start": st[1], "names": [], "cpu": 0.0})
            if name and (not rec["names"] or rec["names"][-1][1] != name):  # a zombie's command line is empty
                rec["names"].append((time.time(), name))
            rec["cpu"] = st[2]
        if first_row_cpu is None and trace_file.exists() and '"first_row"' in trace_file.read_text():
            first_row_cpu = {q: r["cpu"] for q, r in seen.items()}
        time.sleep(0.02)
    _, err = p.communicate()
    t_end = time.time()
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {err[-3000:]}")
    events: dict[str, float] = {}
    actor_start, modules = None, {}
    for line in trace_file.read_text().splitlines():
        e = json.loads(line)
        events.setdefault(e["event"], e["t"])
        if e["event"] == "driver_main":
            t0 = e["start"]
        if e["event"] == "actor_init":
            actor_start, modules["actor at its constructor"] = e["start"], e["loaded"]
        if e["event"] == "actor_first_call_done":
            modules["actor after its first item"] = e["loaded"]
        if e["event"] == "driver_end":
            modules["driver at its end"] = e["loaded"]
    rel = {k: round(v - t0, 3) for k, v in sorted(events.items(), key=lambda kv: kv[1])}
    rel["actor_process_start"] = round(actor_start - t0, 3) if actor_start else None
    rel["driver_exit"] = round(t_end - t0, 3)
    procs = []
    for q, r in sorted(seen.items(), key=lambda kv: kv[1]["start"]):
        name = r["names"][-1][1].rsplit("/", 1)[-1]
        titles = [n.rsplit("/", 1)[-1] for _, n in r["names"]]
        procs.append({"name": name if len(set(titles)) == 1 else " -> ".join(dict.fromkeys(titles)),
                      "start": round(r["start"] - t0, 2), "cpu_to_first_row": (first_row_cpu or {}).get(q),
                      "cpu_total": round(r["cpu"], 2)})
    return {"events": rel, "modules": modules, "processes": procs,
            "launch_to_driver_start": round(t0 - t_launch, 3)}


PHASES = (  # (name, from event, to event)
    ("interpreter + imports until run_batch starts Ray", None, "ray_init"),
    ("ray.init (embedded node)", "ray_init", "ray_init_done"),
    ("import ray.data", "ray_init_done", "ray_data_imported"),
    ("plan, until iter_rows", "ray_data_imported", "iter_rows"),
    ("iter_rows until the actor's worker process starts", "iter_rows", "actor_process_start"),
    ("actor process start until its constructor runs", "actor_process_start", "actor_init"),
    ("constructor: threads, model load, identity", "actor_init", "actor_model_loaded"),
    ("model loaded until the first chunk is called", "actor_model_loaded", "actor_first_call"),
    ("first chunk (1 item: first inference)", "actor_first_call", "actor_first_call_done"),
    ("first chunk returned until the driver's first row", "actor_first_call_done", "first_row"),
    ("the other rows", "first_row", "rows_done"),
    ("rows done until ray.shutdown", "rows_done", "ray_shutdown"),
    ("ray.shutdown", "ray_shutdown", "ray_shutdown_done"),
    ("summary, interpreter exit", "ray_shutdown_done", "driver_exit"),
)


def phases(run: dict) -> dict[str, float | None]:
    ev = run["events"]
    out = {}
    for name, a, b in PHASES:
        ta = 0.0 if a is None else ev.get(a)
        tb = ev.get(b)
        out[name] = None if ta is None or tb is None else round(tb - ta, 3)
    out["command start to first row"] = ev.get("first_row")
    out["total (driver process start to exit)"] = ev["driver_exit"]
    return out


def cpu_by_kind(run: dict) -> dict[str, float]:
    """CPU seconds up to the first row, summed by kind of process."""
    kinds: dict[str, float] = {}
    for p in run["processes"]:
        name = p["name"].split(" -> ")[-1]
        kind = name.split("(")[0] if name.startswith("ray::") else (name.split() or ["?"])[0]
        kinds[kind] = round(kinds.get(kind, 0.0) + (p["cpu_to_first_row"] or 0.0), 2)
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--driver"]:
        return driver(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--baseline", default=None, help="another checkout's src folder, run interleaved")
    ap.add_argument("--note", default="", help="the host's state, for the report")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    trees = {"this": REPO / "src"}
    if a.baseline:
        trees = {"baseline": Path(a.baseline).resolve(), **trees}
    from batch import emit, host_report  # here, not at the top: the traced driver runs this file too

    report: dict = {**host_report("batch_startup.py", argv, a.note), "trees": {k: str(v) for k, v in trees.items()}}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    with tempfile.TemporaryDirectory(prefix="vqual-batch-startup-") as d:
        tmp = Path(d)
        make_library(tmp / "lib", a.images)
        for r in range(a.repeats):
            for tag, src in trees.items():
                runs[tag].append(one_run(src, tmp / "lib", tmp, f"{tag}-{r}"))
                print(f"repeat {r} {tag}: first row {runs[tag][-1]['events'].get('first_row')} s, exit "
                      f"{runs[tag][-1]['events']['driver_exit']} s", file=sys.stderr)
    shutil.rmtree(f"/tmp/vqstart-{os.getuid()}", ignore_errors=True)
    report["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    for tag, rs in runs.items():
        per = [phases(x) for x in rs]
        med = {k: (round(statistics.median(v for v in vals if v is not None), 3)
                   if any(v is not None for v in vals) else None)
               for k in per[0] for vals in [[p[k] for p in per]]}
        cpu = [cpu_by_kind(x) for x in rs]
        kinds = sorted({k for c in cpu for k in c})
        report[tag] = {"phases_median_s": med, "phases_each_run": per,
                       "cpu_to_first_row_median_s": {k: round(statistics.median(c.get(k, 0.0) for c in cpu), 2)
                                                     for k in kinds},
                       "modules_first_run": rs[0]["modules"],
                       "processes_first_run": rs[0]["processes"]}
    emit(report, a.json, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
