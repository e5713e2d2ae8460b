"""SIGTERM handled like Ctrl-C, and sections (writing results) that a signal may not cut in half.

`handle_signals()` makes SIGTERM raise `Terminated`, a `KeyboardInterrupt`, so that every ``except
KeyboardInterrupt`` that saves work on Ctrl-C also saves it when a job is stopped (``kill``, ``timeout``, a job
scheduler). Inside `deferred()` a SIGINT or SIGTERM is held back and raised when the section ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM while `handle_signals` is active."""


class _State:
    active = False
    defer = 0
    pending: type[KeyboardInterrupt] | None = None
    terminated = False
    handled: tuple[int, ...] = ()  # the signals handled here (not those the caller ignores)


_state = _State()


def _handler(signum: int, frame) -> None:
    exc = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    if exc is Terminated:
        _state.terminated = True
    if _state.defer:
        _state.pending = _state.pending or exc
        return
    raise exc()


def terminated() -> bool:
    """Whether a SIGTERM arrived since `handle_signals` was entered."""
    return _state.terminated


@contextmanager
def handle_signals() -> Iterator[None]:
    """SIGTERM raises `Terminated` and SIGINT `KeyboardInterrupt` (both held back inside `deferred`); the previous
    handlers are restored on exit. Does nothing outside the main thread (signals can only be handled there)."""
    if threading.current_thread() is not threading.main_thread() or _state.active:
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _state.active, _state.defer, _state.pending, _state.terminated = True, 0, None, False
    # a signal the caller ignores (nohup, background jobs) stays ignored
    _state.handled = tuple(s for s, h in previous.items() if h is not signal.SIG_IGN)
    try:
        rearm()
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        _state.active, _state.handled = False, ()


def rearm() -> None:
    """Install the handlers of `handle_signals` again, after a library replaced them (``ray.init`` makes SIGTERM
    exit at once). Nothing outside `handle_signals` or outside the main thread."""
    if threading.current_thread() is threading.main_thread():
        for s in _state.handled:
            signal.signal(s, _handler)


@contextmanager
def deferred() -> Iterator[None]:
    """A section that SIGINT / SIGTERM do not interrupt: a signal arriving inside is raised when it ends."""
    _state.defer += 1
    try:
        yield
    finally:
        _state.defer -= 1
        if not _state.defer and _state.pending is not None:
            exc, _state.pending = _state.pending, None
            raise exc()
