"""Load on `vqual serve` over loopback: concurrent clients sending 500x500 images, against scoring the same images
in one process, and the server's memory after 100 and after 1,000 requests (issue 18).

    python benchmarks/serve_load.py [--clients 50] [--duration 60] [--max-requests 20000] [--json FILE]

Images: 24 crops (500x500, JPEG quality 60-95) of the bundled sample photograph, made in a temporary folder.
1. In process: `vqual.api.load_model()` and `model.score(path)` on the images in turn for `--inproc-seconds`
   (as `vqual score` does, one process, one model): images per second, measured before and again after the load
   (on a shared machine the two brackets show how much the background moved); the ratio uses their mean.
2. Served: `vqual serve` (one worker process, `--queue` large enough that the 50 clients are never refused: a 429
   would be counted as one) started on 127.0.0.1 and a free port; `--clients` threads, each with its own keep-alive
   connection, upload one image per request to /v1/score for `--duration` seconds or until `--max-requests`
   answers in all. Throughput, latency percentiles (from send to answer, queueing included), answers by status, and
   the server's resident memory (VmRSS) after the 100th and the 1,000th answer.
Everything stays on loopback and stops by itself (bounded in time and count). Set OMP_NUM_THREADS as for
`vqual score`; both sides get the same.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image


def make_images(folder: Path, n: int = 24) -> list[Path]:
    from vqual.weights import asset_path

    photo = Image.open(asset_path("samples/kodim23.jpg")).convert("RGB")
    w, h = photo.size
    out = []
    for i in range(n):
        x, y = (i * 37) % max(1, w - 500), (i * 53) % max(1, h - 500)
        crop = photo.crop((x, y, x + 500, y + 500)) if w >= 500 and h >= 500 else photo.resize((500, 500))
        p = folder / f"img{i:02d}.jpg"
        crop.save(p, quality=60 + (i * 7) % 36)
        out.append(p)
    return out


def in_process(images: list[Path], seconds: float) -> dict:
    from vqual.api import load_model

    model = load_model()
    model.score(str(images[0]))  # warm-up, as the server does
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        model.score(str(images[n % len(images)]))
        n += 1
    dt = time.perf_counter() - t0
    return {"images": n, "seconds": round(dt, 2), "per_second": round(n / dt, 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def body_of(path: Path) -> tuple[bytes, str]:
    b = uuid.uuid4().hex
    data = path.read_bytes()
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


def served(images: list[Path], clients: int, duration: float, max_requests: int, home: Path) -> dict:
    port = free_port()
    env = dict(os.environ, VQUAL_HOME=str(home))
    proc = subprocess.Popen([sys.executable, "-m", "vqual", "serve", "--port", str(port), "--home", str(home / "serve"),
                             "--queue", str(clients + 14)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None or time.monotonic() - t0 > 120:
                raise RuntimeError("the server did not start")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        bodies = [body_of(p) for p in images]
        lock = threading.Lock()
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        rss: dict[str, float] = {}
        stop = threading.Event()
        start = time.monotonic()

        def client(k: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            i = k
            while not stop.is_set():
                body, ctype = bodies[i % len(bodies)]
                i += clients
                t = time.perf_counter()
                try:
                    conn.request("POST", "/v1/score", body=body, headers={"Content-Type": ctype})
                    r = conn.getresponse()
                    r.read()
                    status = r.status
                except OSError:
                    status = -1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                dt = time.perf_counter() - t
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    n = sum(statuses.values())
                    if status == 200:
                        latencies.append(dt)
                    if n == 100:
                        rss["after_100"] = rss_mb(proc.pid)
                    if n == 1000:
                        rss["after_1000"] = rss_mb(proc.pid)
                    if n >= max_requests or time.monotonic() - start > duration:
                        stop.set()
            conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start
        rss["at_end"] = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    lat = sorted(latencies)

    def pct(q: float) -> float:
        return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1) if lat else float("nan")

    total = sum(statuses.values())
    return {"clients": clients, "seconds": round(wall, 2), "answers": total,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "per_second": round(statuses.get(200, 0) / wall, 2),
            "latency_ms": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99),
                           "mean": round(statistics.fmean(lat) * 1000, 1) if lat else None},
            "rss_mb": rss}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    ap.add_argument("--max-requests", type=int, default=20000, help="stop after this many answers")
    ap.add_argument("--inproc-seconds", type=float, default=30.0)
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vqual-serve-load-") as tmp:
        tmp = Path(tmp)
        images = make_images(tmp)
        before = in_process(images, args.inproc_seconds)
        print(f"in process: {before['per_second']} images/s ({before['images']} in {before['seconds']} s)",
              flush=True)
        load = served(images, args.clients, args.duration, args.max_requests, tmp)
        after = in_process(images, args.inproc_seconds)
        print(f"in process again: {after['per_second']} images/s ({after['images']} in {after['seconds']} s)")
    base = {"before": before, "after": after, "per_second": round((before["per_second"] + after["per_second"]) / 2,
                                                                  2)}
    ratio = load["per_second"] / base["per_second"]
    lat = load["latency_ms"]
    rss = load["rss_mb"]
    print(f"served: {load['per_second']} images/s with {load['clients']} clients ({load['answers']} answers in "
          f"{load['seconds']} s, statuses {load['statuses']}); {ratio:.0%} of in process")
    print(f"latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms (p99/p50 "
          f"{lat['p99'] / lat['p50']:.2f})")
    print(f"server RSS: {rss.get('after_100')} MB after 100 answers, {rss.get('after_1000')} MB after 1,000, "
          f"{rss.get('at_end')} MB at the end")
    doc = {"command": " ".join(["python", "benchmarks/serve_load.py", *(argv or sys.argv[1:])]),
           "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": platform.platform(),
           "cpus": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
           "in_process": base, "served": load, "served_over_in_process": round(ratio, 3)}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
