"""The options of `vqual serve` (`Settings`), checked once and handed to every worker process as JSON."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

#: The environment variable that carries the settings to uvicorn's worker processes (JSON).
SETTINGS_ENV = "VQUAL_SERVE_SETTINGS"
MB = 1024 * 1024


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    model: str | None = None  # registered model name (None: the default model, or the calibration's)
    calibration: str | None = None  # a calibration file from `vqual calibrate`
    token: str | None = None  # bearer token; required when `host` is not a loopback address
    workers: int = 1  # uvicorn worker processes, each with its own model
    max_image_bytes: int = 50 * MB  # one uploaded image
    max_video_bytes: int = 500 * MB  # one uploaded video, and one whole request
    max_files: int = 16  # files in one request
    max_pixels: int | None = None  # per image or frame (None: vqual's default decompression-bomb guard)
    max_seconds: float | None = 3600.0  # longest video, declared and as decoded (None: no limit)
    queue_size: int = 8  # /v1/score requests waiting or running per worker; more are answered 429
    job_queue_size: int = 100  # pending jobs; more are answered 429
    timeout: float = 120.0  # seconds one /v1/score request may take (504 after)
    job_ttl: float = 24 * 3600.0  # seconds a finished job stays readable, then it is removed with its files
    job_workers: int = 1  # threads per worker process that run jobs (0: accept jobs only, run none)
    allow_dir: str | None = None  # server-side paths may be read below this folder (None: never)
    cors: list[str] = field(default_factory=list)  # origins allowed by CORS (empty: CORS off)
    home: str | None = None  # where jobs and temporary uploads live (None: vqual_home()/serve)

    def check(self) -> Settings:
        """Raise ValueError for settings that must not run; returns self with `home` and `allow_dir` resolved."""
        if not self.is_loopback() and not self.token:
            raise ValueError(f"binding to {self.host} (not a loopback address) needs a token: --token T or "
                             "VQUAL_TOKEN")
        for name in ("max_image_bytes", "max_video_bytes", "max_files", "queue_size", "job_queue_size", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ValueError("max-seconds must be positive")
        if self.timeout <= 0 or self.job_ttl <= 0 or self.job_workers < 0:
            raise ValueError("timeout and job-ttl must be positive, job-workers at least 0")
        if self.allow_dir is not None:
            d = Path(self.allow_dir).expanduser()
            if not d.is_dir():
                raise ValueError(f"--allow-dir {self.allow_dir}: not a folder")
            self.allow_dir = str(d.resolve())
        if self.home is None:
            from vqual.paths import vqual_home

            self.home = str(vqual_home() / "serve")
        return self

    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(SETTINGS_ENV)
        return cls(**json.loads(raw)) if raw else cls().check()
