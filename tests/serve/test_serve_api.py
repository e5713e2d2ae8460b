"""`vqual serve` (issue 18) against a real uvicorn on 127.0.0.1 and a free port: every endpoint and every limit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest
from mediagen import moving_pattern, write_image, write_video
from serverproc import Server, multipart, wait_job

from vqual.registry import default_model_name

pytest.importorskip("fastapi", reason="needs the vqual[serve] extra (make test installs it)")


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(7)
    img = write_image(d / "photo.png", rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    big = write_image(d / "big.png", np.full((1200, 1000, 3), 90, np.uint8))  # 1.2 Mpx, a small file
    noisy = write_image(d / "noisy.bmp", rng.integers(0, 256, (600, 700, 3), dtype=np.uint8))  # ~1.26 MB
    video = write_video(d / "clip.mp4", moving_pattern(30, 128, 128), fps=10)
    long_video = write_video(d / "long.mp4", moving_pattern(50, 64, 64), fps=10)  # 5 s: over --max-seconds 4
    allowed = d / "allowed"
    (allowed / "sub").mkdir(parents=True)
    write_image(allowed / "sub" / "in.png", rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    outside = write_image(d / "outside.png", rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    os.symlink(outside, allowed / "link.png")
    os.symlink(allowed / "sub" / "in.png", allowed / "inner-link.png")
    return {"img": img, "big": big, "noisy": noisy, "video": video, "long": long_video, "allowed": allowed,
            "outside": outside,
            "not_media": (d / "notes.txt", b"this is not an image\n" * 4)}


@pytest.fixture(scope="module")
def server(tmp_path_factory, media):
    s = Server(tmp_path_factory.mktemp("home"), ["--allow-dir", str(media["allowed"]), "--max-image-mb", "1",
                                                  "--max-video-mb", "3", "--max-pixels", "1000000",
                                                  "--max-files", "3", "--queue", "2", "--max-seconds", "4"]).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """Token, a timeout no scoring meets, CORS for one origin."""
    s = Server(tmp_path_factory.mktemp("home"), ["--token", "s3cret", "--timeout", "0.0001",
                                                  "--cors", "http://example.test"]).start()
    yield s
    s.stop()


def read(p) -> bytes:
    with open(p, "rb") as f:
        return f.read()


def same_but_path(a: dict, b: dict) -> None:
    for d in (a, b):
        d.pop("path"), d["provenance"].pop("elapsed_ms")
    assert a == b


# --- /v1/score ------------------------------------------------------------------------------------------------------
def test_score_image_is_the_json_of_vqual_score(server, media, tmp_path):
    status, _, doc = server.upload("/v1/score", [("photo.png", read(media["img"]))])
    assert status == 200, doc
    out = tmp_path / "cli.json"
    subprocess.run([sys.executable, "-m", "vqual", "score", str(media["img"]), "--format", "json", "--out",
                    str(out)], check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    cli = json.loads(out.read_text())
    assert set(doc) == set(cli) and doc["summary"] == cli["summary"] == "1 scored, 0 failed"
    assert {k: doc[k] for k in ("vqual_version", "model", "model_version")} == \
        {k: cli[k] for k in ("vqual_version", "model", "model_version")}
    assert doc["results"][0]["path"] == "photo.png"  # the client's name, never the server's temporary path
    same_but_path(doc["results"][0], cli["results"][0])


def test_score_several_files_reports_failures_beside_results(server, media):
    name, data = media["not_media"]
    status, _, doc = server.upload("/v1/score", [("photo.png", read(media["img"])), (name.name, data)])
    assert status == 200
    assert [r["path"] for r in doc["results"]] == ["photo.png"]
    assert doc["failures"][0]["path"] == "notes.txt" and doc["failures"][0]["error"]["reason"] == "not_media"
    assert str(server.home) not in json.dumps(doc)
    status, _, doc = server.upload("/v1/score", [(name.name, data)])
    assert status == 422 and doc["error"]["reason"] == "not_media" and doc["results"] == []


def test_uploaded_file_names_are_labels_never_paths(server, media, tmp_path):
    data = read(media["img"])
    target = tmp_path / "escaped.png"  # where a name taken as a path would land
    for name in [f"../../../../../../..{target}", str(target), "..\\..\\x.png", "a/b/../../c.png"]:
        status, _, doc = server.upload("/v1/score", [(name, data)])
        assert status == 200 and doc["results"][0]["path"] == name, doc
        assert not target.exists()
    assert list((server.home / "serve" / "tmp").iterdir()) == []  # the uploads are gone once scored


def test_video_timeline_only_when_asked(server, media):
    status, _, doc = server.upload("/v1/score", [("clip.mp4", read(media["video"]))])
    assert status == 200 and doc["results"][0]["kind"] == "video" and doc["results"][0]["timeline"] is None
    assert len(doc["results"][0]["worst"]) >= 1
    status, _, doc = server.upload("/v1/score?timeline=1", [("clip.mp4", read(media["video"]))])
    assert status == 200 and len(doc["results"][0]["timeline"]) == 3


def test_explain_refused_by_a_model_that_cannot(server, media):
    status, _, doc = server.upload("/v1/score?explain=1", [("photo.png", read(media["img"]))])
    assert status == 400 and doc["error"]["reason"] == "cannot_explain"


def test_explain_with_an_explaining_model(tmp_path, media):
    """``?explain=1`` on a server running vqual-lmm: the result carries its explanation, the same on every ask."""
    s = Server(tmp_path / "home", ["--model", "vqual-lmm"]).start(timeout=300)
    try:
        status, _, models = s.request("GET", "/v1/models")
        assert models["serving"]["model"] == "vqual-lmm" and models["serving"]["can_explain"] is True
        answers = [s.upload("/v1/score?explain=1", [("photo.png", read(media["img"]))], timeout=240)
                   for _ in range(2)]
        for status, _, doc in answers:
            assert status == 200, doc
            assert isinstance(doc["results"][0]["explanation"], str) and doc["results"][0]["explanation"].strip()
        assert answers[0][2]["results"][0]["explanation"] == answers[1][2]["results"][0]["explanation"]
        status, _, doc = s.upload("/v1/score", [("photo.png", read(media["img"]))])
        assert status == 200 and doc["results"][0].get("explanation") is None  # only when asked
    finally:
        s.stop()


def test_too_many_pixels(server, media):
    status, _, doc = server.upload("/v1/score", [("big.png", read(media["big"]))])
    assert status == 422 and doc["error"]["reason"] == "too_large" and "pixels" in doc["error"]["message"]


def test_too_long_video(server, media):
    status, _, doc = server.upload("/v1/score", [("long.mp4", read(media["long"]))])
    assert status == 422 and doc["error"]["reason"] == "too_large"
    assert doc["error"]["message"] == "long.mp4: video of 5.0 s is longer than the limit of 4 s"
    status, _, job = server.upload("/v1/jobs", [("long.mp4", read(media["long"]))])
    done = wait_job(server, job["id"])
    assert done["state"] == "failed" and done["error"]["reason"] == "too_large"


def test_too_long_video_caught_while_decoding(tmp_path, media):
    """In process: a video whose container declares less than it holds is stopped once it passes the limit."""
    from vqual.serve.app import Scorer
    from vqual.serve.settings import Settings

    scorer = Scorer(Settings(home=str(tmp_path), max_seconds=2.5).check())
    assert scorer.declared_duration(str(media["video"])) == pytest.approx(3.0)
    scorer.declared_duration = lambda path: 2.0  # the container understates the clip's 3 s
    seconds = []
    doc, failures = scorer.document([(str(media["video"]), "clip.mp4")], False, False,
                                    on_second=lambda done, total: seconds.append(done))
    assert seconds == [1, 2] and doc["results"] == []  # the third second was decoded, then refused
    assert failures[0].reason == "too_large" and "limit of 2.5 s" in failures[0].message


def test_too_many_files(server, media):
    data = read(media["img"])
    status, _, doc = server.upload("/v1/score", [(f"{i}.png", data) for i in range(4)])
    assert status == 413 and doc["error"]["reason"] == "too_many_files"


def _raw(server, head: bytes, body: bytes = b"", close_after: bool = False, timeout: float = 30) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(head + body)
        if close_after:
            return b""
        data = b""
        while True:  # until the whole answer is in (the server may keep the connection open)
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            head_, sep, rest = data.partition(b"\r\n\r\n")
            length = [int(v) for k, _, v in (h.partition(b":") for h in head_.split(b"\r\n"))
                      if k.strip().lower() == b"content-length"]
            if sep and length and len(rest) >= length[0]:
                break
        return data


def test_oversized_request_refused_before_its_body_is_read(server):
    # headers announce 4 MiB (over the 3 MiB limit) and no body byte is ever sent: the answer comes anyway
    head = (f"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {4 * 1024 * 1024}\r\n\r\n").encode()
    t0 = time.monotonic()
    answer = _raw(server, head, timeout=10)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"too_large"' in answer and time.monotonic() - t0 < 5


def test_oversized_image_stopped_while_streaming(server, media):
    # no Content-Length (chunked): the image part is cut off as soon as it passes the 1 MiB image limit
    body, ctype = multipart([("noisy.bmp", read(media["noisy"]))])
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                      for i in range(0, len(body), 65536)) + b"0\r\n\r\n"
    head = (f"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode()
    answer = _raw(server, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413") and b"noisy.bmp" in answer and b"image larger than" in answer


def test_wrong_content_type_and_malformed_multipart(server):
    status, _, doc = server.request("POST", "/v1/score", b"hello", {"Content-Type": "text/plain"})
    assert status == 415 and doc["error"]["reason"] == "unsupported_media_type"
    status, _, doc = server.request("POST", "/v1/score", b"hello", {"Content-Type": "multipart/form-data"})
    assert status == 400 and doc["error"]["reason"] == "bad_request"
    status, _, doc = server.request("POST", "/v1/score", b"--b\r\nno headers here and no end",
                                    {"Content-Type": "multipart/form-data; boundary=b"})
    assert status == 400 and doc["error"]["reason"] == "bad_request"
    status, _, doc = server.request("POST", "/v1/score", b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"
                                    b"1\r\n--b--\r\n", {"Content-Type": "multipart/form-data; boundary=b"})
    assert status == 400 and "no file" in doc["error"]["message"]
    assert "Traceback" not in json.dumps(doc)


def test_client_disconnect_mid_upload_leaves_no_file(server, media):
    body, ctype = multipart([("photo.png", read(media["img"]))])
    head = (f"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    _raw(server, head, body[: len(body) // 2], close_after=True)
    time.sleep(0.5)
    assert server.request("GET", "/healthz")[0] == 200
    assert list((server.home / "serve" / "tmp").iterdir()) == []
    status, _, doc = server.upload("/v1/score", [("photo.png", read(media["img"]))])
    assert status == 200


def test_full_queue_answers_429_with_retry_after(server, media):
    data = read(media["video"])
    answers = []

    def one():
        answers.append(server.upload("/v1/score", [("clip.mp4", data)]))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a[0] for a in answers)
    assert set(codes) <= {200, 429} and 429 in codes and 200 in codes, codes
    refused = next(a for a in answers if a[0] == 429)
    assert refused[1]["retry-after"] == "1" and refused[2]["error"]["reason"] == "queue_full"


# --- server-side paths ---------------------------------------------------------------------------------------------
def _paths(server, paths, headers: dict | None = None):
    return server.request("POST", "/v1/score", json.dumps({"paths": paths}).encode(),
                          dict({"Content-Type": "application/json"}, **(headers or {})))


def test_allow_dir_reads_below_it_only(server, media):
    status, _, doc = _paths(server, ["sub/in.png"])
    assert status == 200 and doc["results"][0]["path"] == "sub/in.png"
    for bad in ["../outside.png", "sub/../../outside.png", str(media["outside"]), "/etc/passwd", "link.png",
                "inner-link.png"]:
        status, _, doc = _paths(server, [bad])
        assert status == 403 and doc["error"]["reason"] == "forbidden_path", (bad, doc)
    status, _, doc = _paths(server, ["sub/none.png"])
    assert status == 404 and doc["error"]["reason"] == "missing"


def test_paths_refused_without_allow_dir(guarded):
    status, _, doc = _paths(guarded, ["x.png"], headers={"Authorization": "Bearer s3cret"})
    assert status == 403 and doc["error"]["reason"] == "paths_disabled"


# --- jobs ----------------------------------------------------------------------------------------------------------
def test_job_runs_a_video_with_progress_and_result(server, media):
    status, hdrs, job = server.upload("/v1/jobs?timeline=1", [("clip.mp4", read(media["video"]))])
    assert status == 202 and job["state"] in ("pending", "running") and hdrs["location"] == job["url"]
    done = wait_job(server, job["id"])
    assert done["state"] == "done" and done["attempts"] == 1
    assert done["progress"]["total"] == pytest.approx(3.0) and done["progress"]["done"] == done["progress"]["total"]
    result = done["result"]["results"][0]
    assert result["path"] == "clip.mp4" and len(result["timeline"]) == 3
    assert not (server.home / "serve" / "jobs" / job["id"]).exists()  # its upload is gone once scored
    status, _, doc = server.request("GET", "/v1/jobs/" + uuid.uuid4().hex)
    assert status == 404 and doc["error"]["reason"] == "not_found"


def test_job_failure_is_reported(server, media):
    name, data = media["not_media"]
    status, _, job = server.upload("/v1/jobs", [(name.name, data)])
    done = wait_job(server, job["id"])
    assert done["state"] == "failed" and done["error"]["reason"] == "not_media"


def test_pending_job_cancelled_and_restart_runs_pending_jobs_once(tmp_path, media):
    home = tmp_path / "home"
    accept_only = Server(home, ["--job-workers", "0"]).start()
    try:
        _, _, keep = accept_only.upload("/v1/jobs", [("photo.png", read(media["img"]))])
        _, _, drop = accept_only.upload("/v1/jobs", [("clip.mp4", read(media["video"]))])
        time.sleep(0.3)
        assert accept_only.request("GET", f"/v1/jobs/{keep['id']}")[2]["state"] == "pending"
        status, _, cancelled = accept_only.request("DELETE", f"/v1/jobs/{drop['id']}")
        assert status == 200 and cancelled["state"] == "cancelled"
    finally:
        accept_only.stop()
    for round_ in range(2):  # the restarted server runs the pending job; a second restart does not run it again
        s = Server(home).start()
        try:
            done = wait_job(s, keep["id"])
            assert done["state"] == "done" and done["attempts"] == 1, done
            if round_ == 0:
                first = done
            else:
                assert done == first
            assert s.request("GET", f"/v1/jobs/{drop['id']}")[2]["state"] == "cancelled"
        finally:
            s.stop()


def test_full_job_queue_answers_429(tmp_path, media):
    s = Server(tmp_path / "home", ["--job-workers", "0", "--job-queue", "1"]).start()
    try:
        assert s.upload("/v1/jobs", [("photo.png", read(media["img"]))])[0] == 202
        status, hdrs, doc = s.upload("/v1/jobs", [("photo.png", read(media["img"]))])
        assert status == 429 and doc["error"]["reason"] == "queue_full" and hdrs["retry-after"]
    finally:
        s.stop()


# --- token, timeout, CORS, health, metrics, models, docs --------------------------------------------------------
def test_token_required_when_set(guarded):
    status, hdrs, doc = guarded.request("GET", "/v1/models")
    assert status == 401 and doc["error"]["reason"] == "unauthorized" and hdrs["www-authenticate"] == "Bearer"
    status, _, doc = guarded.request("GET", "/v1/models", headers={"Authorization": "Bearer nope"})
    assert status == 401 and doc["error"]["message"] == "wrong token"
    assert guarded.request("GET", "/metrics")[0] == 401
    status, _, doc = guarded.request("GET", "/v1/models", headers={"Authorization": "Bearer s3cret"})
    assert status == 200 and doc["serving"]["model"] == default_model_name()
    assert guarded.request("GET", "/healthz")[0] == 200 and guarded.request("GET", "/readyz")[0] == 200


def test_timeout_answers_504(guarded, media):
    status, _, doc = guarded.upload("/v1/score", [("photo.png", read(media["img"]))],
                                    headers={"Authorization": "Bearer s3cret"})
    assert status == 504 and doc["error"]["reason"] == "timeout"


def test_cors_off_unless_asked(server, guarded):
    origin = {"Origin": "http://example.test"}
    assert "access-control-allow-origin" not in server.request("GET", "/healthz", headers=origin)[1]
    hdrs = guarded.request("GET", "/healthz", headers=origin)[1]
    assert hdrs["access-control-allow-origin"] == "http://example.test"
    hdrs = guarded.request("GET", "/healthz", headers={"Origin": "http://other.test"})[1]
    assert "access-control-allow-origin" not in hdrs


def test_health_models_docs_and_metrics(server, media):
    name, data = media["not_media"]
    assert server.upload("/v1/score", [(name.name, data)])[0] == 422  # counted below, whatever ran before
    status, _, health = server.request("GET", "/healthz")  # (headers differ per response: Date)
    assert (status, health) == (200, {"status": "ok"})
    status, _, ready = server.request("GET", "/readyz")
    assert status == 200 and ready["model"] == default_model_name()
    status, _, models = server.request("GET", "/v1/models")
    assert [m["name"] for m in models["models"] if m["serving"]] == [default_model_name()]
    status, _, schema = server.request("GET", "/openapi.json")
    assert status == 200 and {"/v1/score", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/models"} <= set(schema["paths"])
    assert server.request("GET", "/docs")[0] == 200
    status, _, doc = server.request("GET", "/nowhere")
    assert status == 404 and doc["error"]["reason"] == "not_found"
    status, _, text = server.request("GET", "/metrics")
    text = text.decode()
    for name in ("vqual_http_requests_total", "vqual_http_request_seconds_bucket", "vqual_queue_depth",
                 "vqual_failures_total", "vqual_jobs_pending"):
        assert name in text
    assert 'route="/v1/score"' in text and 'reason="not_media"' in text


def test_page_and_its_files(server):
    status, hdrs, page = server.request("GET", "/")
    assert status == 200 and hdrs["content-type"].startswith("text/html") and b"<html" in page
    assert b"http://" not in page and b"https://" not in page  # no CDN: everything from the package
    for name in ("app.js", "style.css"):
        assert server.request("GET", f"/static/{name}")[0] == 200
    assert server.request("GET", "/static/..%2Fapp.py")[0] == 404


def test_binding_elsewhere_needs_a_token(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vqual", "serve", "--host", "0.0.0.0", "--home", str(tmp_path)],
                       capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "VQUAL_TOKEN"},
                       timeout=60)
    assert r.returncode == 2 and "needs a token" in r.stderr


def _video_job_in_process(tmp_path, media, progress):
    """A serve State with its model (no HTTP) and one video job accepted; `progress(state, real, job_id, done,
    total)` replaces the job store's progress writer (`real` is the original). Returns (state, job_id)."""
    from vqual.serve.app import Scorer, State
    from vqual.serve.settings import Settings

    settings = Settings(home=str(tmp_path / "serve")).check()
    state = State(settings)
    state.scorer = Scorer(settings)
    real = state.jobs.progress
    state.jobs.progress = lambda job_id, done, total: progress(state, real, job_id, done, total)
    job_id = state.jobs.new_id()
    folder = state.jobs.folder(job_id)
    folder.mkdir(parents=True)
    path = folder / "upload-0.mp4"
    path.write_bytes(read(media["video"]))
    state.jobs.add(job_id, "clip.mp4", str(path), owned=True, options={})
    return state, job_id


def test_job_progress_counts_seconds_as_they_are_scored(tmp_path, media):
    """In process (no HTTP): a job's progress is written after each second of the video, then the result."""
    seen = []
    state, job_id = _video_job_in_process(
        tmp_path, media, lambda state, real, job_id, done, total: (seen.append((done, total)),
                                                                    real(job_id, done, total)))
    state.run_job(state.jobs.claim(os.getpid()))
    assert seen == [(0.0, 3.0), (1.0, 3.0), (2.0, 3.0), (3.0, 3.0)]
    job = state.jobs.public(state.jobs.get(job_id))
    assert job["state"] == "done" and job["progress"] == {"done": 3.0, "total": 3.0, "unit": "seconds"}
    state.executor.shutdown()


def test_cancelling_a_running_job_stops_its_scoring(tmp_path, media):
    """In process: DELETE while a video is being scored stops it after the current second (no further seconds
    scored, no result stored), and the stop is counted."""
    seen = []

    def progress(state, real, job_id, done, total):
        seen.append(done)
        real(job_id, done, total)
        if done == 1.0:  # the first second is scored: a client cancels the job
            assert state.jobs.cancel(job_id)["state"] == "cancelled"

    state, job_id = _video_job_in_process(tmp_path, media, progress)
    state.run_job(state.jobs.claim(os.getpid()))
    assert seen == [0.0, 1.0]  # seconds 2 and 3 were never scored
    job = state.jobs.public(state.jobs.get(job_id))
    assert job["state"] == "cancelled" and job.get("result") is None
    assert state.metrics.stopped.labels("cancelled")._value.get() == 1
    state.executor.shutdown()


def test_timeout_stops_the_scoring_too(guarded, media):
    """A request answered 504 does not go on scoring for nobody: its work stops before the next second or file."""
    def stopped() -> float:
        text = guarded.request("GET", "/metrics", headers={"Authorization": "Bearer s3cret"})[2].decode()
        line = [ln for ln in text.splitlines() if ln.startswith('vqual_stopped_total{why="timeout"}')]
        return float(line[0].split()[-1]) if line else 0.0

    before = stopped()
    status, _, doc = guarded.upload("/v1/score", [("clip.mp4", read(media["video"])),
                                                  ("photo.png", read(media["img"]))],
                                    headers={"Authorization": "Bearer s3cret"})
    assert status == 504 and doc["error"]["reason"] == "timeout"
    deadline = time.monotonic() + 30
    while stopped() < before + 1:
        assert time.monotonic() < deadline, "the timed-out work was not stopped"
        time.sleep(0.2)
