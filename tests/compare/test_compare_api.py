"""vqual.compare / vqual compare: images and videos, alignment rules, infinite PSNR, output formats."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from mediagen import moving_pattern, write_image, write_video

import vqual
from vqual.cli import main
from vqual.compare import CompareError, CompareResult, compare
from vqual.compare import classic as c
from vqual.registry import default_model_name
from vqual.result import Failure


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    fr = moving_pattern(15, 176, 192)
    p = {"ref_png": write_image(d / "ref.png", fr[0]), "jpg": write_image(d / "q30.jpg", fr[0], quality=30),
         "small": write_image(d / "small.png", fr[0][::2, ::2]),
         "ref_mp4": write_video(d / "ref.mp4", fr, crf=12), "crf40": write_video(d / "crf40.mp4", fr, crf=40),
         "short": write_video(d / "short.mp4", fr[:12], crf=40), "fps": write_video(d / "fps.mp4", fr, fps=12, crf=40),
         "text": d / "notes.txt"}
    p["text"].write_text("not a picture\n")
    return {k: str(v) for k, v in p.items()}


def _y_planes(path):
    with av.open(path) as f:
        return [np.asarray(fr.to_ndarray(format="yuv420p")[: fr.height], np.float64) for fr in f.decode(video=0)]


def test_image_values_are_the_metrics_on_bt601_y(media):
    r = compare(media["ref_png"], media["jpg"], no_reference=False)
    assert isinstance(r, CompareResult) and r.kind == "image" and (r.width, r.height) == (192, 176)
    from vqual.media import load_image

    ya, yb = c.rgb_to_y(load_image(media["ref_png"])), c.rgb_to_y(load_image(media["jpg"]))
    assert r.metrics["psnr"].value == pytest.approx(c.psnr(ya, yb), abs=1e-9)
    assert r.metrics["ssim"].value == pytest.approx(c.ssim(ya, yb), abs=1e-9)
    assert r.metrics["ms_ssim"].value == pytest.approx(c.ms_ssim(ya, yb), abs=1e-9)
    assert r.metrics["psnr"].unit == "dB" and r.metrics["ssim"].range == [-1.0, 1.0]
    assert r.metrics["ssim"].higher_is_better and r.provenance["metrics"]["psnr"]["version"] == "1"
    assert callable(vqual.compare)


def test_identical_inputs_give_infinite_psnr_as_null(media):
    r = vqual.compare(media["ref_png"], media["ref_png"], metrics="psnr,ssim", no_reference=False)
    assert r.metrics["psnr"].value is None and r.metrics["psnr"].infinite and "psnr_infinite" in r.flags
    assert r.metrics["ssim"].value == pytest.approx(1.0)
    d = json.loads(r.to_json())
    assert d["metrics"]["psnr"]["value"] is None and d["metrics"]["psnr"]["infinite"] is True


def test_size_mismatch_needs_scale(media):
    with pytest.raises(CompareError, match=r"size 96x88 differs from the reference's 192x176.*--scale"):
        compare(media["ref_png"], media["small"], no_reference=False)
    r = compare(media["ref_png"], media["small"], scale="dist", no_reference=False)
    assert (r.width, r.height) == (192, 176) and r.scaled["input"] == "distorted" and "scaled" in r.flags
    r = compare(media["ref_png"], media["small"], scale="ref", no_reference=False)
    assert (r.width, r.height) == (96, 88) and "metric_not_computed" in r.flags
    assert r.metrics["ms_ssim"].value is None and "too small for MS-SSIM" in r.metrics["ms_ssim"].error


def test_bad_inputs(media):
    with pytest.raises(CompareError, match=r"reference .*notes.txt: not an image or video"):
        compare(media["text"], media["jpg"], no_reference=False)
    with pytest.raises(CompareError, match="unknown metric vmf"):
        compare(media["ref_png"], media["jpg"], metrics="psnr,vmf")
    out = compare(media["ref_png"], [media["jpg"], media["ref_mp4"], media["text"]], no_reference=False)
    assert isinstance(out[0], CompareResult) and isinstance(out[1], Failure) and isinstance(out[2], Failure)
    assert "is a video but the reference is an image" in out[1].message and out[2].reason == "not_media"


def test_video_per_second_and_per_frame(media):
    r = compare(media["ref_mp4"], media["crf40"], timeline=True, no_reference=False)
    assert r.kind == "video" and r.frames == 15 and r.fps == pytest.approx(10)
    assert r.seconds == [[0.0, 1.0], [1.0, 1.5]]
    ya, yb = _y_planes(media["ref_mp4"]), _y_planes(media["crf40"])
    mses = [c.mse(a, b) for a, b in zip(ya, yb)]
    psnr = r.metrics["psnr"]
    assert psnr.value == pytest.approx(c.psnr_from_mse(np.mean(mses), 255), abs=1e-9)
    assert psnr.per_frame == pytest.approx([c.psnr_from_mse(m, 255) for m in mses], abs=1e-9)
    assert psnr.per_second == pytest.approx([c.psnr_from_mse(np.mean(mses[:10]), 255),
                                             c.psnr_from_mse(np.mean(mses[10:]), 255)], abs=1e-9)
    ssim = r.metrics["ssim"]
    assert ssim.value == pytest.approx(np.mean([c.ssim(a, b) for a, b in zip(ya, yb)]), abs=1e-9)
    assert len(r.metrics["ms_ssim"].per_frame) == 15


def test_video_alignment_errors(media):
    with pytest.raises(CompareError, match="frame rate 12 fps differs from the reference's 10 fps"):
        compare(media["ref_mp4"], media["fps"], no_reference=False)
    with pytest.raises(CompareError, match="differs from the reference's|frame counts differ"):
        compare(media["ref_mp4"], media["short"], no_reference=False)


def test_no_reference_scores_beside(media):
    r = compare(media["ref_mp4"], media["crf40"], metrics="psnr", timeline=True)
    nr = r.no_reference
    assert nr.model == default_model_name() and nr.weights_sha256 and 1 <= nr.distorted <= 5 and 1 <= nr.reference <= 5
    assert len(nr.reference_per_second) == len(r.seconds) == len(nr.distorted_per_second)


def test_cli_formats_and_exit_codes(media, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["compare", media["ref_png"], media["ref_png"], media["jpg"], "--no-score", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [r["distorted"] for r in doc["results"]] == [media["ref_png"], media["jpg"]]
    assert doc["results"][0]["metrics"]["psnr"]["infinite"] is True
    assert main(["compare", media["ref_mp4"], media["crf40"], "--no-score", "--timeline", "--format", "csv",
                 "--metrics", "psnr,ssim"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("reference,distorted,kind,second,start,end,psnr,ssim") and len(lines) == 4
    assert main(["compare", media["ref_png"], media["jpg"], media["small"], "--no-score"]) == 1
    cap = capsys.readouterr()
    assert "inf" not in cap.out.splitlines()[1] and "differs from the reference's" in cap.err
    assert main(["compare", media["text"], media["jpg"], "--no-score"]) == 2
    assert "vqual compare: error: reference" in capsys.readouterr().err
    assert main(["compare", media["ref_png"], media["ref_png"], "--no-score"]) == 0
    assert " inf " in capsys.readouterr().out


def test_no_reference_scores_name_the_model_when_neither_input_can_be_judged(tmp_path):
    # 24x24 pictures: PSNR is computed, the no-reference model refuses both (too small); the block still says which
    # model was asked (it said "?" before)
    rng = np.random.default_rng(0)
    img = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
    ref, dist = write_image(tmp_path / "r.png", img), write_image(tmp_path / "d.png", 255 - img)
    r = compare(str(ref), str(dist), metrics=["psnr"])
    nr = r.no_reference
    assert nr.reference is None and nr.distorted is None
    assert nr.model == vqual.load_model().name and nr.model_version == vqual.load_model().version
