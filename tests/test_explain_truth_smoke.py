"""benchmarks/explain_truth.py's reading and summary of results, on hand-made results (no model, no media), so that
the benchmark cannot rot."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import explain_truth as E  # noqa: E402

from vqual.lmm.explain import CLEAN_SENTENCE, SeverityBands  # noqa: E402
from vqual.result import Moment, Provenance, QualityResult  # noqa: E402


def _result(text, attrs, score=3.0, level="fair", kind="image", timeline=None):
    return QualityResult(path="x", kind=kind, score=score, score_100=(score - 1) * 25, level=level,
                         level_probs={level: 1.0}, uncertainty=0.1, attributes=attrs,
                         provenance=Provenance("vqual-lmm", "1", None), explanation=text, timeline=timeline)


def _strong(name):
    """A value in the shipped "strong" band of `name`."""
    t = SeverityBands.shipped().thresholds[name]
    return (t[2] + t[3]) / 2


def test_audit_reads_back_images_and_videos():
    quiet = {"blur": 0.0, "noise": 0.0}
    a = E.audit(_result(CLEAN_SENTENCE, quiet, score=4.0, level="good"))
    assert a["clean"] and a["kinds"] == [] and not a["strong_word"]
    b = E.audit(_result("The main problem is severe blur.", {"blur": _strong("blur"), "noise": 0.0}))
    assert b["named"] == ["blur"] and b["words"] == {"blur": 4} and b["kinds"] == ["wrong_severity_word"]
    stutter = {"stutter": _strong("stutter"), "blur": 0.0}
    moments = [Moment(i, float(i), float(i + 1), 2.0 if i == 2 else 4.0, "poor" if i == 2 else "good",
                      stutter if i == 2 else {"stutter": 0.0, "blur": 0.0},
                      explanation="The main problem is strong stutter." if i == 2 else CLEAN_SENTENCE)
               for i in range(4)]
    v = E.audit(_result(f"{CLEAN_SENTENCE} Worst moments: strong stutter at 2-3 s.", {"stutter": 0.0, "blur": 0.0},
                        4.0, "good", "video", moments))
    assert v["kinds"] == [] and len(v["seconds"]) == 4 and v["second_contradictions"] == 0


def test_summary_counts_clean_calls_hits_and_contradictions():
    clean = [{"set": "s", "content": f"c{i}", "kind": "image", **E.audit(_result(CLEAN_SENTENCE, {"blur": 0.0},
                                                                                 4.0, "good"))} for i in range(3)]
    dist = []
    for lv in range(1, 6):
        text = "The main problem is strong blur." if lv >= 3 else CLEAN_SENTENCE
        attrs = {"blur": _strong("blur") if lv >= 3 else 0.0}
        dist.append({"kind": "image", "content": "c", "distortion": "blur", "attribute": "blur", "level": lv,
                     **E.audit(_result(text, attrs))})
    s = E.summarise(clean, dist)
    assert s["clean_pictures"]["called_clean"] == 3 and s["clean_pictures"]["strong_or_severe_word"] == 0
    assert s["by_type"]["image:blur"]["named_levels_3_5"] == 3 and s["by_type"]["image:blur"]["srcc_word_vs_level"]
    assert s["contradictions"]["found"] == 0 and s["named_levels_3_5"] == {"n": 3, "named": 3, "named_first": 3}


def test_human_rated_clean_photographs_are_summarised_apart():
    quiet = {"blur": 0.0, "noise": 0.0}
    rows = [E.audit(_result(CLEAN_SENTENCE, quiet, score=4.3, level="good")),
            E.audit(_result("The main problem is strong blur.", {"blur": _strong("blur"), "noise": 0.0})),
            E.audit(_result("The main problem is severe blur.", {"blur": _strong("blur"), "noise": 0.0}))]
    s = E.summarise_human_clean(rows)
    assert s == {"n": 3, "mos_at_least": E.HUMAN_CLEAN_MOS, "called_clean": 1, "low_sentence": 0,
                 "strong_or_severe_word": 2, "named": {"blur": 2}, "contradictions": 1, "levels_off_their_score": 0}
    off = E.audit(_result(CLEAN_SENTENCE, quiet, score=3.5, level="excellent"))  # a level its score's bin denies
    assert off["level_off_score"] == 1 and E.summarise_human_clean(rows + [off])["levels_off_their_score"] == 1


def test_graded_photographs_are_the_best_rated_validation_photographs(monkeypatch, tmp_path):
    """The second held-out set: only photographs of vqual-lite 2's validation part rated >= HUMAN_CLEAN_MOS, every k-th
    by rank; never a photograph an attribute head learnt (the training part) or a poorly rated one."""
    sys.path.insert(0, str(BENCH.parent / "scripts"))
    import train_lite2 as L2

    paths = [tmp_path / f"p{i}.jpg" for i in range(40)]
    mos = np.linspace(5.0, 1.0, 40)  # p0 best
    va = np.zeros(40, dtype=bool)
    va[::2] = True  # even photographs are the validation part
    monkeypatch.setattr(L2, "biq_split", lambda root, which: (paths, mos))
    monkeypatch.setattr(L2, "val_mask", lambda n, seed: va)
    eligible = [p for p, m, v in zip(paths, mos, va) if v and m >= E.HUMAN_CLEAN_MOS]
    got = E.heldapart_photographs(tmp_path, 2)
    assert [p for p, _ in got] == eligible[::len(eligible) // 2][:2]
    assert all(m >= E.HUMAN_CLEAN_MOS for _, m in got)
    with pytest.raises(SystemExit, match="only"):
        E.heldapart_photographs(tmp_path, len(eligible) + 1)


def test_other_casts_are_summarised_as_colour_and_made_in_their_direction():
    rgb = np.full((32, 32, 3), 128, np.uint8)
    warm, blue = E.distorted_image(rgb, "colour", 5), E.distorted_image(rgb, "colour+180", 5)
    assert warm[0, 0, 0] > 128 > warm[0, 0, 2] and blue[0, 0, 2] > 128 > blue[0, 0, 0]  # opposite directions
    rows = [{"kind": "image", "content": "c", "distortion": "colour+180", "attribute": "colour", "level": lv,
             **E.audit(_result("The main problem is a strong colour cast." if lv >= 3 else CLEAN_SENTENCE,
                               {"colour": _strong("colour") if lv >= 3 else 0.0}))} for lv in range(1, 6)]
    s = E.summarise([], rows, E.OTHER_CASTS)["by_type"]
    assert set(s) == {"image:colour+180"} and s["image:colour+180"]["named_levels_3_5"] == 3


def test_visibility_figures_tell_whether_misses_are_the_least_changed_pictures(monkeypatch, tmp_path):
    """--visibility: each distorted row gets its LPIPS from the clean picture (measured once, cached apart from the
    model's rows); the summary sets the severity word against it and compares named and missed cases at levels 3-5."""
    monkeypatch.setattr(E, "CACHE", tmp_path)
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    vis, calls = E.Visibility(True), []

    def blurred(lv):
        calls.append(lv)
        return E.distorted_image(clean, "blur", lv)

    dist = []
    for lv in range(1, 6):
        named = lv >= 4  # level 3 missed: the least changed of the levels 3-5
        row = {"key": f"image/c/blur/{lv}", "kind": "image", "content": "c", "distortion": "blur",
               "attribute": "blur", "level": lv,
               **E.audit(_result("The main problem is strong blur." if named else CLEAN_SENTENCE,
                                 {"blur": _strong("blur") if named else 0.0}))}
        dist.append(vis.add(row, clean, lambda lv=lv: blurred(lv)))
    lp = [r["lpips"] for r in dist]
    assert lp == sorted(lp) and lp[0] > 0  # stronger blur, larger distance
    again = E.Visibility(True)  # a second run reads the cache: no picture is made again
    assert [again.add({"key": r["key"]}, clean, lambda: pytest.fail("recomputed"))["lpips"] for r in dist] == lp
    assert calls == [1, 2, 3, 4, 5] and "lpips" not in E.Visibility(False).add({"key": "k"}, clean, None)
    t = E.summarise([], dist)["by_type"]["image:blur"]
    assert t["srcc_word_vs_lpips"] == pytest.approx(t["srcc_word_vs_level"])
    assert t["lpips_median_missed_levels_3_5"] == pytest.approx(lp[2], abs=1e-4)
    assert t["auc_named_changed_more_than_missed"] == 1.0
    no_lpips = E.summarise([], [{k: v for k, v in r.items() if k != "lpips"} for r in dist])["by_type"]["image:blur"]
    assert "srcc_word_vs_lpips" not in no_lpips


def test_a_distorted_picture_is_made_once_for_its_row_and_its_lpips(monkeypatch, tmp_path):
    """With --visibility, a row measured for the first time scores and measures the same picture, made once."""
    monkeypatch.setattr(E, "CACHE", tmp_path)
    rgb = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    monkeypatch.setattr(E, "heldout_images", lambda: [tmp_path / "c.png"])
    monkeypatch.setattr(E, "load_rgb", lambda path: rgb)
    made, scored = [], []
    real = E.distorted_image

    def counting(img, d, lv, seed=0):
        made.append((d, lv))
        return real(img, d, lv, seed)

    monkeypatch.setattr(E, "distorted_image", counting)

    class Model:
        def score(self, pic):
            scored.append(pic)
            return _result(CLEAN_SENTENCE, {"blur": 0.0}, 4.0, "good")

    class Fresh:  # a measured-rows cache with nothing in it yet
        def get(self, key, make):
            return {"key": key, **make()}

    rows = E.distortion_rows(Model(), Fresh(), (2,), video_contents=0, vis=E.Visibility(True))
    assert len(made) == len(E.IMAGE_SET) == len(rows) == len(scored)
    assert all(r["lpips"] > 0 for r in rows)


def test_graded_photograph_rows_are_cached_per_seed(monkeypatch, tmp_path):
    """A photograph's distortions are seeded by its rank among the graded photographs, which another --biq-graded
    changes: a cached row made with another seed must not be reused (it would be other noise than the run states)."""
    rng = np.random.default_rng(0)
    pics = {name: rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for name in ("a.jpg", "b.jpg")}
    order = {"now": [Path("a.jpg")]}
    monkeypatch.setattr(E, "heldapart_photographs", lambda root, n: [(p, 4.5) for p in order["now"]])
    monkeypatch.setattr(E, "load_rgb", lambda p: pics[p.name])
    monkeypatch.setattr(E, "audit", lambda score: {"score": score})

    class Model:
        def score(self, rgb):
            return float(rgb.astype(np.float64).mean())

    class Cache:
        def __init__(self):
            self.rows = {}

        def get(self, key, make):
            if key not in self.rows:
                self.rows[key] = {"key": key, **make()}
            return self.rows[key]

    cache = Cache()

    def noise_row(clean, dist):
        return next(r for r in dist if r["distortion"] == "noise")

    first = noise_row(*E.graded_photograph_rows(Model(), cache, tmp_path, 1, (3,)))
    order["now"] = [Path("b.jpg"), Path("a.jpg")]  # a.jpg is now second: seed 2000 instead of 1000
    _, dist = E.graded_photograph_rows(Model(), cache, tmp_path, 2, (3,))
    second = next(r for r in dist if r["distortion"] == "noise" and r["content"] == "a.jpg")
    assert first["key"] != second["key"]
    want = float(E.distorted_image(pics["a.jpg"], "noise", 3, seed=2000).astype(np.float64).mean())
    assert second["score"] == pytest.approx(want) and second["score"] != first["score"]
