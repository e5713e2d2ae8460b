"""`create_app(settings)`: the FastAPI application of `vqual serve`.

The model is loaded once per process and warmed up in the lifespan start, before uvicorn accepts connections, so a
port that answers is ready. Scoring runs in one thread per process under a lock (the model is not shared between
threads at once); `/v1/score` requests beyond `queue_size` waiting or running are answered 429 with Retry-After.
Jobs (`/v1/jobs`) live in SQLite (`vqual.serve.jobs`) and are run by `job_workers` threads.

Work that nobody waits for any more stops early: a cancelled job, a `/v1/score` request answered 504, and everything
running when the server shuts down stop before their next file and after the current second of a video (`Stopped`;
counted in ``vqual_stopped_total`` by why). A job stopped by a shutdown stays claimed by this process, so the next
start runs it again (`JobStore.recover`).

Every error reaches the client as ``{"error": {"reason": ..., "message": ...}}`` with the reasons of the CLI
(`vqual.errors.MediaError.REASONS`, ``error``, ``internal``) and the service's own (``too_large`` for uploads,
``too_many_files``, ``queue_full``, ``timeout``, ``unauthorized``, ``forbidden_path``, ``paths_disabled``,
``bad_request``, ``unsupported_media_type``, ``not_found``, ``cannot_explain``); tracebacks go to the server's log only.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import json
import logging
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from vqual.serve.jobs import JobStore
from vqual.serve.metrics import CONTENT_TYPE, Metrics, worker_stopped
from vqual.serve.settings import Settings
from vqual.serve.uploads import MultipartSink, UploadError, boundary_of, new_folder, resolve_allowed
from vqual.version import __version__

log = logging.getLogger("vqual.serve")
STATIC = resources.files("vqual.serve") / "static"
_PAGE_FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
_UPLOAD_SCHEMA = {"requestBody": {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}},
    "application/json": {"schema": {"type": "object", "properties": {
        "paths": {"type": "array", "items": {"type": "string"}}}}}}}}


class Stopped(Exception):
    """Scoring stopped on purpose before its end: its job was cancelled, its request timed out or the server is
    shutting down (`Scorer.document`'s `stop`)."""


class TooLong(Exception):
    """A video went on past ``--max-seconds`` while it was decoded (its declared duration was within the limit)."""


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.reason, self.message, self.headers = status, reason, message, headers


def error_response(status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"reason": reason, "message": message}}, status_code=status, headers=headers)


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "on")


class Scorer:
    """The model of this process, its lock, and the JSON of `vqual score --format json` for a list of files."""

    def __init__(self, settings: Settings):
        from vqual.api import load_model

        self.settings = settings
        self.model = load_model(settings.model, max_pixels=settings.max_pixels, calibration=settings.calibration)
        self._explaining = None
        self.lock = threading.Lock()
        self.meta: dict[str, Any] = {"vqual_version": __version__, "model": self.model.name,
                                     "model_version": self.model.version}
        cal = self.model.calibration
        if cal is not None:
            self.meta["calibration"] = {
                "id": cal.id, "file": os.path.basename(settings.calibration or ""), "method": cal.method,
                "scale": {"name": cal.scale.name, "min": cal.scale.min, "max": cal.scale.max,
                          "higher_is_better": cal.scale.higher_is_better}}

    def warm_up(self) -> None:
        rgb = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
        with self.lock:
            self.model.score(rgb)

    def explaining(self):
        if not self.model.can_explain:
            raise ApiError(400, "cannot_explain", f"model {self.model.name} does not explain its results; start "
                                                  "the server with an explaining model such as vqual-lmm")
        if self._explaining is None:
            self._explaining = self.model.explaining()
        return self._explaining

    def declared_duration(self, path: str) -> float:
        """A video's duration in seconds as its container declares it (raises MediaError)."""
        from vqual.media import probe_video

        return probe_video(path, max_pixels=self.settings.max_pixels).duration

    def score_one(self, model, path: str, label: str, on_second=None):
        """Like `vqual.api.score_one`, with the client's file name in results and messages (never a server path);
        `on_second(done, total)` after each second of a video."""
        from vqual.errors import MediaError, VqualError
        from vqual.media import media_kind
        from vqual.result import Failure

        limit = self.settings.max_seconds
        try:
            if limit is not None and media_kind(path) == "video":
                duration = self.declared_duration(path)
                if duration > limit:
                    return Failure(path=label, reason="too_large", message=f"{label}: video of {duration:.1f} s is "
                                                                          f"longer than the limit of {limit:g} s")
            if on_second is not None:
                return model.score(path, path_label=label, on_second=on_second)
            return model.score(path, path_label=label)
        except Stopped:
            raise
        except TooLong:
            return Failure(path=label, reason="too_large", message=f"{label}: video longer than the limit of "
                                                                   f"{limit:g} s (its declared duration is shorter)")
        except MediaError as e:
            return Failure(path=label, reason=e.reason, message=f"{label}: {e.detail}")
        except VqualError as e:
            return Failure(path=label, reason="error", message=f"{label}: {str(e).replace(path, label)}")
        except Exception as e:  # noqa: BLE001 - a bug on one file: reported without details, logged in full
            log.exception("internal error scoring %s", label)
            return Failure(path=label, reason="internal", message=f"{label}: internal error ({type(e).__name__})")

    def document(self, files: list[tuple[str, str]], timeline: bool, explain: bool,
                 on_second=None, stop=None) -> tuple[dict, list]:
        """Score (path, label) pairs; returns the JSON document of `vqual score --format json` and the failures.
        `stop()`, when given, is asked before each file and after each second of a video: True raises `Stopped`."""
        from vqual.output import make_writer
        from vqual.result import Failure

        limit = self.settings.max_seconds

        def tick(done: int, total: int) -> None:
            if stop is not None and stop():
                raise Stopped
            if limit is not None and done > limit:
                raise TooLong
            if on_second is not None:
                on_second(done, total)

        model = self.explaining() if explain else self.model
        buf = io.StringIO()
        writer = make_writer("json", buf, timeline, self.meta)
        failures, n_ok = [], 0
        with self.lock:
            for path, label in files:
                if stop is not None and stop():
                    raise Stopped
                item = self.score_one(model, path, label,
                                      tick if stop is not None or on_second or limit is not None else None)
                writer.write(item)
                if isinstance(item, Failure):
                    failures.append(item)
                else:
                    n_ok += 1
        writer.close(f"{n_ok} scored, {len(failures)} failed")
        return json.loads(buf.getvalue()), failures


class State:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.metrics = Metrics()
        self.scorer: Scorer | None = None
        self.jobs = JobStore(settings.home, ttl=settings.job_ttl)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vqual-score")
        self.inflight = 0
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    # --- jobs ------------------------------------------------------------------------------------------------------
    def job_loop(self) -> None:
        last_sweep = 0.0
        while not self.stop.is_set():
            try:
                if time.monotonic() - last_sweep > 60:
                    self.jobs.sweep()
                    last_sweep = time.monotonic()
                job = self.jobs.claim(os.getpid())
                if job is None:
                    self.stop.wait(0.1)
                    continue
                self.run_job(job)
            except Exception:  # noqa: BLE001 - the loop must survive; logged
                log.exception("job loop")
                self.stop.wait(1.0)

    def run_job(self, job: dict) -> None:
        from vqual.media import media_kind, probe_video

        opts = json.loads(job["options"])
        try:
            total = probe_video(job["input"]).duration if media_kind(job["input"]) == "video" else None
        except Exception:  # noqa: BLE001 - scoring reports what is wrong with the file
            total = None
        self.jobs.progress(job["id"], 0.0, total)  # seconds scored of the declared duration, as scoring goes
        why: list[str] = []

        def stop() -> bool:  # cancelled through the API (by any process: the state is in the database), or shutdown
            if self.stop.is_set():
                why.append("shutdown")
            elif (self.jobs.get(job["id"]) or {}).get("state") == "cancelled":
                why.append("cancelled")
            return bool(why)

        try:
            doc, failures = self.scorer.document(
                [(job["input"], job["filename"])], bool(opts.get("timeline")), bool(opts.get("explain")),
                on_second=lambda done, n: self.jobs.progress(job["id"], float(done), float(max(n, total or 0))),
                stop=stop)
        except Stopped:  # cancelled: already recorded; shutdown: left running for the next start's recover()
            self.metrics.stopped.labels(why[0]).inc()
            log.info("job %s stopped (%s)", job["id"], why[0])
            return
        except ApiError as e:
            self.jobs.finish(job["id"], "failed", error={"reason": e.reason, "message": e.message})
            return
        except Exception as e:  # noqa: BLE001
            log.exception("job %s", job["id"])
            self.jobs.finish(job["id"], "failed", error={"reason": "internal",
                                                         "message": f"internal error ({type(e).__name__})"})
            return
        for f in failures:
            self.metrics.failures.labels(f.reason).inc()
        if failures:
            self.jobs.finish(job["id"], "failed", result=doc, error={"reason": failures[0].reason,
                                                                     "message": failures[0].message})
        else:
            self.jobs.finish(job["id"], "done", result=doc)


def create_app(settings: Settings) -> FastAPI:
    state = State(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.jobs.recover()
        state.scorer = Scorer(settings)
        state.scorer.warm_up()
        for i in range(settings.job_workers):
            t = threading.Thread(target=state.job_loop, name=f"vqual-jobs-{i}", daemon=True)
            t.start()
            state.threads.append(t)
        log.info("vqual serve: model %s %s ready", state.scorer.model.name, state.scorer.model.version)
        yield
        state.stop.set()
        for t in state.threads:
            t.join(timeout=5)
        state.executor.shutdown(wait=False, cancel_futures=True)
        worker_stopped()

    app = FastAPI(title="vqual", version=__version__, lifespan=lifespan,
                  description="Blind quality assessment of images and videos. Errors: "
                              '{"error": {"reason": ..., "message": ...}}.')
    app.state.vqual = state
    m = state.metrics

    if settings.cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])

    @app.middleware("http")
    async def guard(request: Request, call_next):
        t0 = time.perf_counter()
        path = request.url.path
        if settings.token and (path.startswith("/v1/") or path == "/metrics") and request.method != "OPTIONS":
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {settings.token}".encode()):
                reason = "unauthorized"
                msg = "a bearer token is required (Authorization: Bearer T)" if not given else "wrong token"
                response = error_response(401, reason, msg, {"WWW-Authenticate": "Bearer"})
                m.failures.labels(reason).inc()
                m.requests.labels(request.method, "unauthorized", "401").inc()
                return response
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        m.requests.labels(request.method, route, str(response.status_code)).inc()
        m.latency.labels(route).observe(time.perf_counter() - t0)
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        m.failures.labels(e.reason).inc()
        return error_response(e.status, e.reason, e.message, e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException):
        reason = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "bad_request")
        return error_response(e.status_code, reason, str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return error_response(400, "bad_request", f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception):
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=e)
        m.failures.labels("internal").inc()
        return error_response(500, "internal", f"internal error ({type(e).__name__}); see the server's log")

    # --- inputs ----------------------------------------------------------------------------------------------------
    async def read_inputs(request: Request, folder: str) -> tuple[list[tuple[str, str]], dict[str, str]]:
        """(path, label) pairs from a multipart upload or, with --allow-dir, a JSON ``{"paths": [...]}``."""
        ctype = request.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() == "application/json":
            if settings.allow_dir is None:
                raise ApiError(403, "paths_disabled", "this server reads no server-side paths (start it with "
                                                      "--allow-dir DIR); upload the files instead")
            body = await request.body()
            if len(body) > 1024 * 1024:
                raise ApiError(413, "too_large", "JSON body larger than 1 MiB")
            try:
                paths = json.loads(body)["paths"]
                assert isinstance(paths, list) and paths
            except Exception:  # noqa: BLE001
                raise ApiError(400, "bad_request", 'expected JSON {"paths": ["file", ...]}') from None
            if len(paths) > settings.max_files:
                raise ApiError(413, "too_many_files", f"at most {settings.max_files} files in one request")
            try:
                return [(resolve_allowed(settings.allow_dir, p), str(p)) for p in paths], {}
            except UploadError as e:
                raise ApiError(e.status, e.reason, e.message) from None
        boundary = boundary_of(ctype)
        if boundary is None:
            raise ApiError(415, "unsupported_media_type",
                           f"expected multipart/form-data (files) or application/json (paths), got {ctype or 'none'}")
        if not boundary:
            raise ApiError(400, "bad_request", "malformed multipart: no boundary in Content-Type")
        length = request.headers.get("content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                raise ApiError(400, "bad_request", "bad Content-Length") from None
            if n > settings.max_video_bytes:
                raise ApiError(413, "too_large", f"request of {n:,} bytes is over the limit of "
                                                 f"{settings.max_video_bytes:,} bytes")
        sink = MultipartSink(boundary, folder, settings.max_image_bytes, settings.max_video_bytes, settings.max_files)
        total = 0
        try:
            async for chunk in request.stream():
                total += len(chunk)
                if total > settings.max_video_bytes:
                    raise UploadError(413, "too_large", f"request over the limit of {settings.max_video_bytes:,} "
                                                        "bytes")
                await asyncio.to_thread(sink.write, chunk) if len(chunk) > 1 << 20 else sink.write(chunk)
            sink.close()
        except UploadError as e:
            raise ApiError(e.status, e.reason, e.message) from None
        except ClientDisconnect:
            raise
        except Exception as e:  # noqa: BLE001 - the multipart parser's own errors
            raise ApiError(400, "bad_request", f"malformed multipart body ({type(e).__name__})") from None
        finally:
            sink.abort()
        if not sink.uploads:
            raise ApiError(400, "bad_request", "no file in the request (send files as multipart form fields)")
        return [(u.path, u.label) for u in sink.uploads], sink.fields

    def doc_status(doc: dict, failures: list) -> tuple[int, dict]:
        for f in failures:
            m.failures.labels(f.reason).inc()
        for r in doc["results"]:
            m.scored.labels(r["kind"]).inc()
        if failures and not doc["results"]:  # nothing scored: an error, with the first failure's reason
            doc = dict(doc, error={"reason": failures[0].reason, "message": failures[0].message})
            return 422, doc
        return 200, doc

    # --- API -------------------------------------------------------------------------------------------------------
    @app.post("/v1/score", openapi_extra=_UPLOAD_SCHEMA, summary="Score uploaded images and videos (synchronous)")
    async def score(request: Request, timeline: str | None = None, explain: str | None = None):
        """The JSON of ``vqual score --format json``; ``?timeline=1`` adds per-second scores of videos,
        ``?explain=1`` an explanation (explaining models only). 422 when no input could be scored."""
        if state.inflight >= settings.queue_size:
            raise ApiError(429, "queue_full", f"{state.inflight} requests are waiting or running; try again later",
                           {"Retry-After": "1"})
        state.inflight += 1
        m.queue.set(state.inflight)
        folder = new_folder(settings.home)
        handed_over = False
        try:
            files, _ = await read_inputs(request, folder)
            if _flag(explain):
                state.scorer.explaining()  # refused now, before any work, if the model cannot explain

            gone = threading.Event()  # set when nobody waits for the answer any more: the work stops early

            def work():
                try:
                    return state.scorer.document(files, _flag(timeline), _flag(explain),
                                                 stop=lambda: gone.is_set() or state.stop.is_set())
                except Stopped:
                    m.stopped.labels("timeout" if gone.is_set() else "shutdown").inc()
                    raise
                finally:
                    shutil.rmtree(folder, ignore_errors=True)

            future = asyncio.get_running_loop().run_in_executor(state.executor, work)
            handed_over = True
            try:
                doc, failures = await asyncio.wait_for(asyncio.shield(future), settings.timeout)
            except TimeoutError:
                gone.set()
                future.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" warning
                raise ApiError(504, "timeout", f"scoring took longer than {settings.timeout:g} s") from None
            status, doc = doc_status(doc, failures)
            return JSONResponse(doc, status_code=status)
        except ClientDisconnect:
            m.failures.labels("client_disconnect").inc()
            return Response(status_code=400)
        finally:
            if not handed_over:
                shutil.rmtree(folder, ignore_errors=True)
            state.inflight -= 1
            m.queue.set(state.inflight)

    @app.post("/v1/jobs", status_code=202, openapi_extra=_UPLOAD_SCHEMA, summary="Queue one video or image")
    async def create_job(request: Request, timeline: str | None = None, explain: str | None = None):
        """202 with the job (``id``, ``state``, ``url``); ``GET /v1/jobs/{id}`` follows it."""
        if state.jobs.pending_count() >= settings.job_queue_size:
            raise ApiError(429, "queue_full", f"{settings.job_queue_size} jobs are pending; try again later",
                           {"Retry-After": "5"})
        if _flag(explain):
            state.scorer.explaining()
        job_id = state.jobs.new_id()
        folder = state.jobs.folder(job_id)
        folder.mkdir(parents=True)
        try:
            files, _ = await read_inputs(request, str(folder))
            if len(files) != 1:
                raise ApiError(400, "bad_request", "one file per job")
            (path, label), = files
            job = state.jobs.add(job_id, label, path, owned=path.startswith(str(folder)),
                                 options={"timeline": _flag(timeline), "explain": _flag(explain)})
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        m.jobs.set(state.jobs.pending_count())
        return JSONResponse(state.jobs.public(job), status_code=202, headers={"Location": f"/v1/jobs/{job_id}"})

    def _job(job_id: str) -> dict:
        job = state.jobs.get(job_id) if job_id.isalnum() else None
        if job is None:
            raise ApiError(404, "not_found", f"no job {job_id} (unknown, or removed after it expired)")
        return job

    @app.get("/v1/jobs/{job_id}", summary="A job's state, progress and result")
    async def get_job(job_id: str):
        m.jobs.set(state.jobs.pending_count())
        return state.jobs.public(_job(job_id))

    @app.delete("/v1/jobs/{job_id}", summary="Cancel a pending or running job")
    async def cancel_job(job_id: str):
        _job(job_id)
        return state.jobs.public(state.jobs.cancel(job_id))

    @app.get("/v1/models", summary="Registered models; the one this server runs is marked")
    async def models():
        from vqual.api import list_models

        current = state.scorer.model.name if state.scorer else settings.model
        return {"serving": {"model": state.scorer.model.name, "model_version": state.scorer.model.version,
                            "can_explain": state.scorer.model.can_explain,
                            "calibrated": state.scorer.model.calibration is not None},
                "models": [{"name": s.name, "version": s.version, "description": s.description,
                            "serving": s.name == current} for s in list_models()]}

    @app.get("/healthz", summary="Alive")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", summary="Model loaded and warmed up")
    async def readyz():
        if state.scorer is None:
            return error_response(503, "not_ready", "the model is loading")
        return {"status": "ready", "model": state.scorer.model.name, "model_version": state.scorer.model.version}

    @app.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics():
        m.jobs.set(state.jobs.pending_count())
        return Response(m.render(), media_type=CONTENT_TYPE)

    # --- the page --------------------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def page():
        return _static("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in _PAGE_FILES:
            raise ApiError(404, "not_found", f"no file {name}")
        return _static(name)

    def _static(name: str) -> Response:
        with resources.as_file(STATIC / name) as p:
            return FileResponse(p, media_type=_PAGE_FILES[name], headers={"Cache-Control": "no-cache"})

    return app


def app_from_env() -> FastAPI:
    """The app of one uvicorn worker process, from the settings `vqual serve` put in the environment."""
    return create_app(Settings.from_env())
