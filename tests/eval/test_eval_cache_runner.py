from __future__ import annotations

import io
import sqlite3

import pytest
from evalfakes import BrightnessModel

from vqual.data import load_manifest
from vqual.eval.cache import PredictionCache, default_cache_dir
from vqual.eval.runner import score_dataset
from vqual.progress import Progress, format_seconds


def test_default_cache_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("VQUAL_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "eval"
    monkeypatch.delenv("VQUAL_CACHE_DIR")
    monkeypatch.delenv("VQUAL_HOME", raising=False)  # it would come before XDG (`vqual.paths`)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "vqual" / "eval"


def test_cache_key_is_model_version_weights_path_and_size(tmp_path, image_set):
    img = image_set.parent / "img" / "000.png"
    m = BrightnessModel()
    res = m.score(img)
    with PredictionCache(tmp_path / "c") as cache:
        assert cache.get(m, img) is None
        cache.put(m, img, res)
        got = cache.get(m, img)
        assert got is not None and got.score == res.score and got.raw_score == res.raw_score
        newer = BrightnessModel()
        newer.version = "2.0"
        assert cache.get(newer, img) is None
        other_w = BrightnessModel()
        other_w.weights_sha256 = "ab" * 32
        assert cache.get(other_w, img) is None
        img.write_bytes(img.read_bytes() + b"\0")  # size changed: re-score
        assert cache.get(m, img) is None
        assert cache.count(m) == 1 and cache.clear(m) == 1 and cache.count() == 0


def test_unreadable_cache_file_is_moved_aside(tmp_path, capsys):
    d = tmp_path / "c"
    d.mkdir()
    (d / "predictions.sqlite").write_bytes(b"this is not sqlite" * 100)
    with PredictionCache(d) as cache:
        assert cache.count() == 0
    assert list(d.glob("predictions.sqlite.broken-*"))
    assert "unreadable" in capsys.readouterr().err


def test_runner_records_failures_and_uses_the_cache(tmp_path, image_set):
    (image_set.parent / "img" / "001.png").write_bytes(b"not a png")
    ds = load_manifest(image_set)
    m = BrightnessModel()
    cache = PredictionCache(tmp_path / "c")
    recs = score_dataset(m, ds, cache=cache, progress=False)
    assert len(recs) == 40 and m.calls == 40
    bad = [r for r in recs if r.status != "ok"]
    assert [(r.name, r.reason, r.score) for r in bad] == [("img/001.png", "corrupt", None)]
    assert "cannot decode" in bad[0].detail
    good = recs[0]
    assert good.status == "ok" and good.mos_1_5 == pytest.approx(1 + 4 * good.mos / 100) and good.raw_score > 0
    m2 = BrightnessModel()
    again = score_dataset(m2, ds, cache=cache, progress=False)
    assert m2.calls == 1  # only the failed item is retried
    assert sum(r.cached for r in again) == 39
    assert [r.score for r in again] == [r.score for r in recs]


def test_interrupt_leaves_a_consistent_cache(tmp_path, image_set):
    ds = load_manifest(image_set)
    cache = PredictionCache(tmp_path / "c")
    with pytest.raises(KeyboardInterrupt):
        score_dataset(BrightnessModel(interrupt_after=13), ds, cache=cache, progress=False)
    cache.close()
    con = sqlite3.connect(tmp_path / "c" / "predictions.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 13
    con.close()
    m = BrightnessModel()
    recs = score_dataset(m, ds, cache=PredictionCache(tmp_path / "c"), progress=False)
    assert m.calls == 27 and all(r.status == "ok" for r in recs)


def test_progress_bar_with_eta():
    out = io.StringIO()
    bar = Progress(4, label="set", stream=out, enabled=True)
    bar.update(cached=True)
    bar.update(seconds=2.0)
    assert bar.eta() == pytest.approx(4.0)
    bar.update(failed=True, seconds=2.0)
    bar.update(seconds=2.0)
    bar.close()
    text = out.getvalue()
    assert "4/4" in text and "ETA" in text and "1 cached" in text and "1 failed" in text
    silent = io.StringIO()
    Progress(3, stream=silent).update()  # StringIO is not a TTY: nothing drawn
    assert silent.getvalue() == ""
    assert format_seconds(3725) == "1:02:05" and format_seconds(65) == "01:05"


def test_progress_log_mode_writes_plain_lines_at_its_pace(monkeypatch):
    import vqual.progress as P

    clock = [1000.0]
    monkeypatch.setattr(P.time, "monotonic", lambda: clock[0])
    out = io.StringIO()  # not a terminal: log mode writes anyway
    bar = Progress(5, stream=out, enabled="log", log_every=10.0)
    bar.update(seconds=1.0)  # the first item: a line at once
    clock[0] += 3
    bar.update(seconds=1.0)  # 3 s later: nothing
    bar.message("vqual: error: x")  # a message does not redraw in log mode
    clock[0] += 10
    bar.update(seconds=1.0)  # 13 s: a line
    bar.update(seconds=1.0)
    bar.clear()
    bar.update(seconds=1.0)  # the last item: a line
    bar.close()  # the final state is already written: no repeat
    lines = out.getvalue().splitlines()
    assert [ln.split()[1] for ln in lines if "ETA" in ln] == ["1/5", "3/5", "5/5"]
    assert "vqual: error: x" in lines and "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert all(ln.startswith("vqual: ") and "#" not in ln for ln in lines)
    assert P.progress_setting("log") == "log" and P.progress_setting("off") is False
    assert P.progress_setting("auto") is None and P.progress_setting("bar") is True


def test_progress_inside_an_item_and_its_eta(monkeypatch):
    import vqual.progress as P

    clock = [1000.0]
    monkeypatch.setattr(P.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    bar = Progress(1, stream=out, enabled="log", log_every=10.0)
    bar.part("clip.mp4", 0, 60)
    clock[0] += 20
    bar.part("clip.mp4", 10, 60)  # 10 s of video in 20 s: 50 more seconds take 100 s
    assert bar.eta() == pytest.approx(100.0)
    assert bar.line().endswith("| clip.mp4 10/60 s") and "ETA 01:40" in bar.line()
    bar.update(seconds=120.0)
    assert "|" not in bar.line()
    lines = out.getvalue().splitlines()
    assert lines == ["vqual: 0/1   0% 0.0 it/s ETA --:-- | clip.mp4 0/60 s",
                     "vqual: 0/1   0% 0.0 it/s ETA 01:40 | clip.mp4 10/60 s",
                     "vqual: 1/1 100% 0.1 it/s ETA 00:00"]


def test_the_fake_is_a_scorer():
    """The harnesses read name, version, weights, trained_on and calibration of any model they get; the fake has them
    all, and an object without trained_on/calibration is not a `Scorer`."""
    from vqual.models.base import Scorer

    class Bare:
        name, version, weights_sha256 = "bare", "0", None

        def score(self, src, *, path_label=None): ...

        def with_calibration(self, calibration): ...

    assert isinstance(BrightnessModel(), Scorer)
    assert not isinstance(Bare(), Scorer)
