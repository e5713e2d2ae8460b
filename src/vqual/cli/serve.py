"""``vqual serve``: the HTTP service and web page (`vqual.serve`), on uvicorn. Needs the ``vqual[serve]`` extra.

Binds to 127.0.0.1 unless told; another address needs a token (``--token`` or ``VQUAL_TOKEN``), and says so.
Exit codes: 0 stopped by Ctrl-C or SIGTERM after a clean shutdown, 2 usage error (bad settings, unknown model,
missing extra).
"""

from __future__ import annotations

import argparse
import os

from vqual.cli.exits import EXIT_OK, error, note

MB = 1024 * 1024


def add_serve_parser(sub) -> argparse.ArgumentParser:
    from vqual.cli import COMMANDS

    p = sub.add_parser("serve", help=COMMANDS["serve"], description=COMMANDS["serve"])
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need a token)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--model", "-m", default=None, help="registered model name (default: the default model)")
    p.add_argument("--calibration", "-c", default=None, metavar="FILE", help="calibration from `vqual calibrate`")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each with its own model (default 1)")
    p.add_argument("--token", default=None, help="bearer token required on /v1 and /metrics (default $VQUAL_TOKEN)")
    p.add_argument("--max-image-mb", type=float, default=50, help="largest uploaded image in MiB (default 50)")
    p.add_argument("--max-video-mb", type=float, default=500,
                   help="largest uploaded video, and request, in MiB (default 500)")
    p.add_argument("--max-files", type=int, default=16, help="files in one request (default 16)")
    p.add_argument("--max-pixels", type=int, default=None, help="refuse images/frames with more pixels")
    p.add_argument("--max-seconds", type=float, default=3600,
                   help="refuse videos longer than this, by their declared duration and as decoded (default 3600)")
    p.add_argument("--queue", type=int, default=8, help="score requests waiting or running per worker before 429")
    p.add_argument("--job-queue", type=int, default=100, help="pending jobs before 429 (default 100)")
    p.add_argument("--job-workers", type=int, default=1,
                   help="threads per worker running jobs (default 1; 0 accepts jobs and runs none)")
    p.add_argument("--timeout", type=float, default=120, help="seconds a /v1/score request may take (default 120)")
    p.add_argument("--job-ttl", type=float, default=24, help="hours a finished job stays readable (default 24)")
    p.add_argument("--allow-dir", default=None, metavar="DIR",
                   help="let clients name files below DIR (JSON {\"paths\": [...]}) instead of uploading them")
    p.add_argument("--cors", action="append", default=[], metavar="ORIGIN", help="allow this origin (repeatable)")
    p.add_argument("--home", default=None, help="folder of jobs and temporary uploads (default $VQUAL_HOME/serve)")
    p.set_defaults(func=run_serve)
    return p


def run_serve(args: argparse.Namespace) -> int:
    from vqual.runtime import missing, set_threads, threads_per_worker

    for module in ("uvicorn", "fastapi", "multipart", "prometheus_client"):  # multipart: python-multipart
        if problem := missing(module, "serve", "vqual serve"):
            return error("serve", problem)
    import uvicorn

    from vqual.registry import get_spec
    from vqual.serve.settings import SETTINGS_ENV, Settings

    if args.calibration is None:
        get_spec(args.model)  # an unknown model is refused before anything starts (exit 2)
    if args.workers > 1 and not os.environ.get("VQUAL_THREADS"):  # neither --threads nor VQUAL_THREADS was given
        set_threads(threads_per_worker(args.workers))  # exported as VQUAL_THREADS: the workers inherit it
    settings = Settings(host=args.host, port=args.port, model=args.model, calibration=args.calibration,
                        token=args.token or os.environ.get("VQUAL_TOKEN") or None, workers=args.workers,
                        max_image_bytes=int(args.max_image_mb * MB), max_video_bytes=int(args.max_video_mb * MB),
                        max_files=args.max_files, max_pixels=args.max_pixels, max_seconds=args.max_seconds,
                        queue_size=args.queue, job_queue_size=args.job_queue, job_workers=args.job_workers,
                        timeout=args.timeout, job_ttl=args.job_ttl * 3600.0, allow_dir=args.allow_dir,
                        cors=list(args.cors), home=args.home)
    try:
        settings.check()
    except ValueError as e:
        return error("serve", str(e))
    os.environ[SETTINGS_ENV] = settings.to_env()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    auth = "a bearer token is required on /v1 and /metrics" if settings.token else "no token (loopback only)"
    note("serve", f"http://{host}:{settings.port}/ ({auth}; model loading, ready when /readyz answers 200)")
    if settings.allow_dir:
        note("serve", f"clients may read files below {settings.allow_dir}")
    from vqual.serve.metrics import shared_folder

    with shared_folder(settings.workers, settings.home):  # --workers N: one /metrics for all N processes
        uvicorn.run("vqual.serve.app:app_from_env", factory=True, host=settings.host, port=settings.port,
                    workers=settings.workers, log_level="warning", timeout_graceful_shutdown=10)
    return EXIT_OK
