"""A real `vqual serve` on 127.0.0.1 and a free port, in a subprocess, and a small HTTP client (standard library)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: Path, args: list[str] = (), env: dict | None = None):
        self.home, self.args, self.env = Path(home), list(args), env or {}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.home / f"server-{self.port}.log"

    def start(self, timeout: float = 120.0) -> Server:
        self.home.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS="1", VQUAL_HOME=str(self.home), **self.env)
        env.pop("VQUAL_TOKEN", None)
        self._log = open(self.log, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "vqual", "serve", "--port", str(self.port),
                                      "--home", str(self.home / "serve"), *self.args],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                if self.request("GET", "/readyz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout} s: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60.0):
        """(status, headers as a lower-cased dict, JSON body or bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()
        if hdrs.get("content-type", "").startswith("application/json"):
            return r.status, hdrs, json.loads(data)
        return r.status, hdrs, data

    def upload(self, path: str, files: list[tuple[str, bytes]], headers: dict | None = None, **kw):
        body, ctype = multipart(files)
        return self.request("POST", path, body, dict({"Content-Type": ctype}, **(headers or {})), **kw)


def multipart(files: list[tuple[str, bytes]], field: str = "file") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, data in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def wait_job(server: Server, job_id: str, timeout: float = 60.0, headers: dict | None = None) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        status, _, job = server.request("GET", f"/v1/jobs/{job_id}", headers=headers)
        assert status == 200, job
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not finished in {timeout} s")
