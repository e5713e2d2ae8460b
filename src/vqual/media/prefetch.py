"""Decode ahead: run an iterator (a video's chunks) in a background thread, `depth` items ahead of the consumer, so
that decoding the next second overlaps the model's passes on this one (PyAV's decoder and ONNX Runtime both release
the GIL). Items come out in the same order, and an exception raised by the iterator is raised at the same place, so
results do not change; only the wall time does.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """`items`, produced by a background thread at most `depth` items ahead (`depth` >= 1). When the consumer stops
    early (break, exception, interrupt), the producer stops after its current item and its iterator is closed."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth!r}")
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        it = iter(items)
        try:
            for item in it:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            put((_DONE, e))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="vqual-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = q.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)
