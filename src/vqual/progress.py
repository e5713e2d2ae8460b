"""A minimal stderr progress bar with rate and ETA, silent unless the stream is a terminal; or periodic plain lines
(``--progress log``) for logs, batch schedulers and anything that is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

MODES = ("auto", "bar", "log", "off")  # the --progress choices
LOG_EVERY = 10.0  # seconds between two lines in log mode


def progress_setting(mode: str) -> bool | str | None:
    """The `enabled` value of `Progress` for a ``--progress`` mode: auto None (a bar on a terminal), bar True,
    log "log", off False."""
    return {"auto": None, "bar": True, "log": "log", "off": False}[mode]


def format_seconds(s: float) -> str:
    s = max(0, round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


class Progress:
    """``[#####.....] 120/1162 10% 3.4 it/s ETA 05:06 (80 cached, 1 failed)``, redrawn at most 10 times a second.

    `enabled` defaults to ``stream.isatty()``; ``"log"`` writes the line (without the bar) as plain text every
    `log_every` seconds and once at the end, whatever the stream (for logs: no carriage returns, no escape codes).
    The ETA is computed from the items actually scored (cache hits are nearly free and would make it optimistic).
    Anything else printed to the same terminal (another stream included) must go between `clear()` and the next
    draw, or through `message()`. With ``leave=False`` the bar
    is erased by `close()` instead of being left as the last line.
    """

    def __init__(self, total: int, *, label: str = "", stream: TextIO | None = None,
                 enabled: bool | str | None = None, width: int = 28, leave: bool = True, log_every: float = LOG_EVERY):
        self.total = max(0, int(total))
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.log = enabled == "log"
        self.log_every = log_every
        self._logged: tuple | None = None  # what the last line written in log mode showed
        if self.log:
            enabled = True
        elif enabled is None:
            try:
                enabled = bool(self.stream.isatty())
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = enabled
        self.width = width
        self.leave = leave
        self._shown = False  # the bar is on screen (drawn and not cleared)
        self.done = 0
        self.cached = 0
        self.failed = 0
        self._scored = 0
        self._scored_time = 0.0
        self._t0 = time.monotonic()
        self._last_draw = 0.0
        self._part: tuple[str, int, int] | None = None  # (label, done, total) inside the current item
        self._item_t0 = self._t0  # when the current item started

    def part(self, label: str, done: int, total: int) -> None:
        """Progress inside the current item (a long video: `done` of `total` seconds), shown after the counts until
        the item's `update`."""
        self._part = (label, done, total)
        self.draw()

    def update(self, *, cached: bool = False, failed: bool = False, seconds: float = 0.0) -> None:
        """One item finished; `seconds` is the time it took (when it was actually scored)."""
        self._part = None
        self._item_t0 = time.monotonic()
        self.done += 1
        self.cached += int(cached)
        self.failed += int(failed)
        if not cached:
            self._scored += 1
            self._scored_time += seconds
        self.draw()

    def eta(self) -> float | None:
        remaining = self.total - self.done
        if remaining <= 0:
            return 0.0
        per_item = self._scored_time / self._scored if self._scored else None
        if self._part is not None and self._part[1] > 0:  # the current item from its own pace, the rest from the mean
            _, done, total = self._part
            this = (time.monotonic() - self._item_t0) / done * max(0, total - done)
            return this if remaining == 1 else None if per_item is None else this + (remaining - 1) * per_item
        return None if per_item is None else remaining * per_item

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        fill = round(frac * self.width)
        elapsed = time.monotonic() - self._t0
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = self.eta()
        extra = []
        if self.cached:
            extra.append(f"{self.cached} cached")
        if self.failed:
            extra.append(f"{self.failed} failed")
        bar = "" if self.log else f"[{'#' * fill}{'.' * (self.width - fill)}] "
        s = (f"{self.label + ' ' if self.label else ''}{bar}"
             f"{self.done}/{self.total} {frac * 100:3.0f}% {rate:.1f} it/s "
             f"ETA {format_seconds(eta) if eta is not None else '--:--'}")
        s += f" ({', '.join(extra)})" if extra else ""
        if self._part is not None:
            label, done, total = self._part
            s += f" | {label} {done}/{total} s"
        return s

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.log:
            shown = (self.done, self.total, self._part)
            if shown == self._logged or (
                    not force and now - self._last_draw < self.log_every and self.done < self.total):
                return
            self._last_draw, self._logged = now, shown
            self.stream.write(f"vqual: {self.line()}\n")
            self.stream.flush()
            return
        if not force and now - self._last_draw < 0.1 and self.done < self.total:
            return
        self._last_draw = now
        self.stream.write("\r" + self.line() + "\x1b[K")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        """Erase the bar (the cursor goes back to the start of its line); the next `draw` or `update` redraws it."""
        if self.log:
            return  # nothing on screen to erase; the log keeps its own pace
        if self.enabled and self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        self._shown = False
        self._last_draw = 0.0

    def message(self, text: str) -> None:
        """Print one line on the progress bar's stream without garbling the bar."""
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        if not self.log:
            self.draw()

    def close(self) -> None:
        """Leave the final bar on its own line (``leave=True``) or erase it."""
        if not self.enabled:
            return
        if self.log:
            self.draw(force=True)  # the final state, unless it is the last line already written
        elif self.leave:
            self.draw(force=True)
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
        else:
            self.clear()
