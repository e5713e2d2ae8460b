"""Decoding ahead in a background thread (`vqual.media.prefetch`) changes nothing but the wall time: same items in
the same order, errors at the same place, the source closed when the consumer stops early; a video scores the same
with and without it."""

from __future__ import annotations

import threading

import pytest

from vqual.media.prefetch import prefetch


def test_items_come_in_order_and_errors_where_they_happen():
    def source():
        yield from range(5)
        raise ValueError("corrupt at 5")

    got = []
    with pytest.raises(ValueError, match="corrupt at 5"):
        for x in prefetch(source(), 2):
            got.append(x)
    assert got == [0, 1, 2, 3, 4]
    assert list(prefetch(iter(range(100)), 1)) == list(range(100))
    with pytest.raises(ValueError, match="depth must be >= 1"):
        list(prefetch([], 0))


def test_stopping_early_stops_and_closes_the_source():
    closed = threading.Event()
    made = []

    def source():
        try:
            for i in range(1000):
                made.append(i)
                yield i
        finally:
            closed.set()

    it = prefetch(source(), 1)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert closed.wait(5)
    assert len(made) <= 6  # at most a few items beyond what was consumed were produced


def test_a_video_scores_the_same_bits_with_decoding_ahead(tmp_path, monkeypatch):
    from mediagen import moving_pattern, write_video

    import vqual.runtime as r
    from vqual.models.lite import VqualLite

    path = write_video(tmp_path / "v.mp4", moving_pattern(45, 96, 128), fps=15)
    model = VqualLite()
    monkeypatch.setattr(r, "_threads", 1)
    one = model.score(str(path))
    monkeypatch.setattr(r, "_threads", 2)  # > 1: chunks are decoded ahead in a thread
    two = model.score(str(path))
    assert one.score == two.score and one.attributes == two.attributes
    assert [m.score for m in one.timeline] == [m.score for m in two.timeline] and len(one.timeline) == 3
