"""The exit codes of every `vqual` sub-command, and the one-line messages that go with them on stderr.

0 done: every input scored, the file or model written; 1 done in part: some inputs failed or were skipped (each
reported on one line), or the result could not be written; 2 usage error, nothing done: bad arguments, unknown
model, unreadable or too few labels, a calibration that cannot be used or fitted, an output that is a folder or
cannot be written; 130 interrupted by Ctrl-C; 143 stopped by SIGTERM (in both cases the results so far are written
where the command writes as it goes, or cached where it caches).
"""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


def note(command: str | None, message: str) -> None:
    """Print ``vqual COMMAND: message`` (``vqual: message`` without a command) on stderr."""
    print(f"vqual {command}: {message}" if command else f"vqual: {message}", file=sys.stderr)


def error(command: str | None, message: str, code: int = EXIT_USAGE) -> int:
    """Print ``vqual COMMAND: error: message`` on stderr; returns `code` (a usage error unless told)."""
    note(command, f"error: {message}")
    return code
