"""`vqual batch --address` on a real multi-node Ray cluster started on this machine (issue 19); not part of `make test`.

    python benchmarks/batch_cluster.py [--nodes 2] [--cpus-per-node 1] [--images 40] [--videos 2] [--port 6391]
                                       [--work DIR] [--json FILE]

What it does, with the commands README.md documents for a cluster:

1. Writes a small library into ``--work`` (default: a new temporary folder): ``--images`` generated images (sizes
   and noise vary, PNG and JPEG), ``--videos`` 2-second clips (H.264) and one file that is not media.
2. Starts the head, ``ray start --head --num-cpus C --port P --disable-usage-stats --include-dashboard false``, then
   ``--nodes`` - 1 more nodes on this machine, ``ray start --address IP:P --num-cpus C --disable-usage-stats``, each
   with a ``--temp-dir`` of its own (so that its processes can be told apart and stopped). Every Ray command and
   `vqual batch` get RAY_AUTH_MODE=token unless the environment sets RAY_AUTH_MODE: Ray 2.60 starts a head with token
   authentication when a token exists (~/.ray/auth_token, made by any earlier local `ray.init`), but
   `ray start --address` and a driver given an explicit address turn it on only when told. Every node's processes
   get PYTHONPATH=this checkout's src, so that the workers import the same vqual as the driver.
3. Checks that the cluster has every node alive with its CPUs (``ray.nodes()``), then runs
   ``vqual batch LIB --out OUT --address IP:P --workers NODES*C --timeline``; deletes one shard and runs it again
   with ``--address auto`` (the cluster found by itself; exactly that shard's rows must be scored again); and
   ``vqual score LIB --format jsonl --timeline --threads 1`` as the reference.
4. Checks: every row equals `vqual score`'s (``provenance.elapsed_ms`` aside; ``size`` and ``mtime_ns`` equal the
   file's), every input exactly once, the counts, and that every node's actors wrote rows (``run.by_node`` of
   ``summary.json``, keyed by Ray node id, mapped here to head / node-N).
5. Stops the nodes it started, by process id (their processes and their descendants); not with ``ray stop``, which
   ends every Ray process on the machine, other users' and other commands' embedded ones included.

Exit code 0 when every check passes, 1 otherwise (the report says which). Timings are wall times of each command,
from start to exit; on a shared host they measure the host as much as Ray.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "src"))  # this checkout's vqual, as ENV gives the commands
from batch import descendants, emit, host_report, proc_table  # noqa: E402


def make_library(root: Path, images: int, videos: int) -> int:
    """Write the library; returns the number of files."""
    from vqual.data.synthetic import write_video

    (root / "images").mkdir(parents=True)
    (root / "videos").mkdir()
    rng = np.random.default_rng(19)
    for i in range(images):
        h, w = 96 + 8 * (i % 5), 128 + 8 * (i % 7)
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 2, y * 2, x + y], -1).astype(np.float32)
        img = np.clip(base + rng.normal(0, 2 + i, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / "images" / f"im{i:03d}.{'png' if i % 2 else 'jpg'}")
    y, x = np.mgrid[0:96, 0:128]
    for v in range(videos):
        frame = np.stack([x * 2, y * 2, np.full_like(x, 40 * v)], -1).astype(np.int16)
        frames = [np.clip(np.roll(frame, 3 * k, axis=1) + rng.integers(-6, 7, frame.shape), 0, 255).astype(np.uint8)
                  for k in range(20)]
        write_video(root / "videos" / f"clip{v}.mp4", frames, fps=10)
    (root / "notes.jpg").write_bytes(b"this is not a picture\n")
    return images + videos + 1


def ray_cli() -> str:
    local = Path(sys.executable).parent / "ray"
    return str(local) if local.exists() else (shutil.which("ray") or "ray")


def run(cmd: list[str], env: dict, timeout: float = 600) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - t0, r


def node_pids(temp_dir: str) -> set[int]:
    """The processes of the Ray node whose session lives in `temp_dir` (their command lines name it) and their
    descendants (the workers, whose command lines do not)."""
    procs = proc_table()
    mark = temp_dir.encode()
    found = {p for p, (_, cmd, _) in procs.items() if mark in cmd and p != os.getpid()}
    return found | descendants(found, procs)


def stop_nodes(temp_dirs: list[str], grace: float = 10.0) -> dict:
    """SIGTERM the nodes' processes, SIGKILL what is left after `grace` s; returns how many there were and the names
    of those killed outright."""
    pids = set().union(*(node_pids(t) for t in temp_dirs)) if temp_dirs else set()
    procs = proc_table()
    names = {p: procs.get(p, (0, b"", ""))[1].split(b"\0")[0].decode(errors="replace").rsplit("/", 1)[-1] for p in pids}
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.2)
    killed = []
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
            killed.append(names[p])
        except ProcessLookupError:
            pass
    return {"processes": len(pids), "killed_after_grace": sorted(killed)}


NODES_SNIPPET = """
import json, ray
ray.init(address={address!r}, log_to_driver=False, configure_logging=False)
print(json.dumps([{{"id": n["NodeID"], "alive": n["Alive"], "cpus": n["Resources"].get("CPU", 0),
                   "head": "node:__internal_head__" in n["Resources"]}} for n in ray.nodes()]))
"""


def cluster_nodes(address: str, env: dict) -> list[dict]:
    _, r = run([sys.executable, "-c", NODES_SNIPPET.format(address=address)], env, timeout=300)
    if r.returncode:
        raise SystemExit(f"cannot list the cluster's nodes: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(out: Path, reference: Path) -> dict:
    """Rows of `out` against `vqual score`'s JSON lines: missing, extra, duplicated and differing paths."""
    from vqual.batch.rows import read_results

    ref = {}
    for line in reference.read_text().splitlines():
        r = json.loads(line)
        ref[r["path"]] = r
    seen: dict[str, int] = {}
    differ = []
    for row in read_results(str(out)):
        p = row["path"]
        seen[p] = seen.get(p, 0) + 1
        st = os.stat(p) if os.path.exists(p) else None
        a = {k: v for k, v in row.items() if k not in ("size", "mtime_ns")}
        b = dict(ref.get(p, {}))
        for d in (a, b):
            if "provenance" in d:
                d["provenance"] = dict(d["provenance"], elapsed_ms=None)
        if a != b or (row["size"], row["mtime_ns"]) != ((st.st_size, st.st_mtime_ns) if st else (None, None)):
            differ.append(p)
    return {"rows": sum(seen.values()), "reference_rows": len(ref), "missing": sorted(set(ref) - set(seen)),
            "extra": sorted(set(seen) - set(ref)), "twice": sorted(p for p, n in seen.items() if n > 1),
            "differ": sorted(differ)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--cpus-per-node", type=int, default=1)
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--videos", type=int, default=2)
    ap.add_argument("--port", type=int, default=6391, help="the head's GCS port")
    ap.add_argument("--work", default=None, help="folder for the library and outputs (default: a temporary one)")
    ap.add_argument("--note", default="", help="the host's state, for the report")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    if a.nodes < 1 or a.cpus_per_node < 1:
        ap.error("--nodes and --cpus-per-node must be >= 1")
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="vqual-cluster-"))
    if work.exists() and any(work.iterdir()):
        ap.error(f"--work {work} is not empty")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
               RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE=os.environ.get("RAY_AUTH_MODE", "token"))
    env.setdefault("OMP_NUM_THREADS", "1")
    report: dict = {**host_report("batch_cluster.py", argv, a.note), "ray_auth_mode": env["RAY_AUTH_MODE"]}
    lib, out = work / "library", work / "out"
    report["files"] = make_library(lib, a.images, a.videos)
    temp_root = f"/tmp/vqual-cluster-{os.getuid()}-{a.port}"  # short: Ray's unix sockets live below it
    temp_dirs: list[str] = []
    checks: dict[str, bool] = {}
    ray = ray_cli()
    try:
        head_tmp = f"{temp_root}/n0"
        temp_dirs.append(head_tmp)
        dt, r = run([ray, "start", "--head", "--num-cpus", str(a.cpus_per_node), "--port", str(a.port),
                     "--disable-usage-stats", "--include-dashboard", "false", "--temp-dir", head_tmp], env)
        if r.returncode:
            raise SystemExit(f"ray start --head failed: {r.stderr[-3000:]}")
        from ray.util import get_node_ip_address

        address = f"{get_node_ip_address()}:{a.port}"  # the address `ray start --head` prints
        report["address"], report["start_s"] = address, {"head": round(dt, 2)}
        for i in range(1, a.nodes):
            temp_dirs.append(f"{temp_root}/n{i}")
            dt, r = run([ray, "start", "--address", address, "--num-cpus", str(a.cpus_per_node),
                         "--disable-usage-stats", "--temp-dir", temp_dirs[-1]], env)
            if r.returncode:
                raise SystemExit(f"ray start --address {address} (node {i}) failed: {r.stderr[-3000:]}")
            report["start_s"][f"node-{i}"] = round(dt, 2)
        deadline = time.monotonic() + 120
        while True:
            nodes = cluster_nodes(address, env)
            if sum(n["alive"] for n in nodes) >= a.nodes or time.monotonic() > deadline:
                break
            time.sleep(2)
        names = {}
        for n in sorted(nodes, key=lambda n: not n["head"]):
            names[n["id"]] = "head" if n["head"] else f"node-{len(names)}"
        report["nodes"] = [{"name": names[n["id"]], "id": n["id"], "alive": n["alive"], "cpus": n["cpus"]}
                           for n in nodes]
        checks["every node alive with its CPUs"] = (len(nodes) == a.nodes and all(
            n["alive"] and n["cpus"] == a.cpus_per_node for n in nodes))

        workers = a.nodes * a.cpus_per_node
        batch = [sys.executable, "-m", "vqual", "batch", str(lib), "--out", str(out), "--workers", str(workers),
                 "--timeline", "--progress", "log"]
        dt, r = run(batch + ["--address", address], env)
        first = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
        report["batch"] = {"seconds": round(dt, 2), "exit_code": r.returncode, "run": first.get("run"),
                           "output": first.get("output"), "stderr_tail": r.stderr[-600:]}
        by_node = {names.get(k, k): v for k, v in (first.get("run") or {}).get("by_node", {}).items()}
        report["batch"]["rows_by_node"] = by_node
        checks["batch exit code 1 (the file that is not media)"] = r.returncode == 1
        checks["every node's actors wrote rows"] = len(by_node) == a.nodes and all(v > 0 for v in by_node.values())
        checks["rows by node add up"] = sum(by_node.values()) == report["files"]

        from vqual.batch.rows import read_shard, shards

        victim = shards(str(out))[0]  # its rows, and only those, must be scored again
        lost = {row["path"] for row in read_shard(victim)}
        os.remove(victim)
        dt, r = run(batch + ["--address", "auto"], env)
        again = json.loads((out / "summary.json").read_text())
        report["rerun_auto"] = {"seconds": round(dt, 2), "exit_code": r.returncode, "deleted_shard_rows": len(lost),
                                "run": again["run"], "stderr_tail": r.stderr[-600:]}
        checks["a deleted shard's rows, and only those, scored again with --address auto"] = (
            r.returncode == 1 and again["run"]["scored"] == len(lost) > 0
            and again["run"]["skipped"] == report["files"] - len(lost)
            and sum(again["run"]["by_node"].values()) == len(lost))

        ref = work / "score.jsonl"
        dt, r = run([sys.executable, "-m", "vqual", "score", str(lib), "--format", "jsonl", "--timeline",
                     "--threads", "1", "--out", str(ref), "--progress", "off"], env)
        report["score_s"] = round(dt, 2)
        cmp = compare(out, ref)
        report["compare"] = cmp
        checks["every row equals vqual score's, each input once"] = (
            cmp["rows"] == cmp["reference_rows"] == report["files"] and not (
                cmp["missing"] or cmp["extra"] or cmp["twice"] or cmp["differ"]))
    finally:
        report["stop"] = stop_nodes(temp_dirs)
        report["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        shutil.rmtree(temp_root, ignore_errors=True)
    report["checks"] = checks
    report["ok"] = bool(checks) and all(checks.values())
    emit(report, a.json)
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
