"""Exceptions raised at vqual's public boundaries.

Every error a user can trigger with bad input is a `VqualError` whose message is one line that names the file
and the problem; the CLI prints that line (no traceback unless ``--debug``).
"""

from __future__ import annotations

from pathlib import Path


class VqualError(Exception):
    """Base class of every error vqual raises on purpose."""


class MediaError(VqualError):
    """A file could not be read as an image or video.

    `reason` is a short machine-readable code: ``missing``, ``empty``, ``truncated``, ``not_media``, ``too_large``,
    ``too_small``, ``unsupported_codec``, ``no_frames`` or ``corrupt``.
    """

    REASONS = ("missing", "empty", "truncated", "not_media", "too_large", "too_small", "unsupported_codec",
               "no_frames", "corrupt")

    def __init__(self, path: str | Path | None, reason: str, detail: str):
        if reason not in self.REASONS:
            raise ValueError(f"unknown MediaError reason {reason!r}")
        self.path = None if path is None else str(path)
        self.reason = reason
        self.detail = detail
        where = self.path if self.path is not None else "<in-memory input>"
        super().__init__(f"{where}: {detail}")


class ModelNotFoundError(VqualError, KeyError):
    """An unknown model name; the message suggests the closest registered names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class WeightsError(VqualError):
    """Model weights are missing, unreadable or fail their sha256 check."""


class CalibrationError(VqualError):
    """A score calibration cannot be fitted, read or applied: too few or degenerate labels, an unreadable or edited
    file, or a calibration made for another model, version or weights. The message is one line naming the file."""


class OutputError(VqualError):
    """An output file cannot be written where asked: the path is a folder, its folder cannot be created, or the
    place is not writable. The message is one line naming the path."""
