"""Start-up (issue 14): `vqual score` imports only what scoring needs, and a batch of bad inputs is answered
without loading a model. benchmarks/startup.py measures the times."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from mediagen import moving_pattern, truncate_file, write_image, write_video

import vqual.api
from vqual.cli import COMMANDS, build_parser, command_of, main
from vqual.registry import default_model_name

#: Modules the scoring path must never import (the code of other sub-commands, fitting, the language path).
NOT_FOR_SCORING = ("vqual.eval", "vqual.adapt", "vqual.lmm", "vqual.data", "vqual.models.user", "transformers",
                   "scipy.optimize", "scipy.stats", *(f"vqual.cli.{c}" for c in ("explain", "demo", "calibrate", "eval",
                                                                                "train", "distill", "instruct",
                                                                                "compare")))


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """Inputs that fail before any model is needed, each a different way."""
    d = tmp_path_factory.mktemp("bad")
    img = (np.random.default_rng(0).random((64, 80, 3)) * 255).astype(np.uint8)
    write_image(d / "good.jpg", img, quality=90)
    truncate_file(d / "good.jpg", 0.5, d / "cut.jpg")
    write_video(d / "good.mp4", moving_pattern(12, 64, 64), fps=10)
    truncate_file(d / "good.mp4", 0.6, d / "cut.mp4")
    (d / "empty.png").write_bytes(b"")
    (d / "text.jpg").write_text("not an image\n" * 20)
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)  # a header only, declaring 3.6 gigapixels
    (d / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
                                 + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + b"\0\0\0\0IEND\xaeB`\x82")
    return {"dir": d, "paths": [str(d / n) for n in ("missing.jpg", "empty.png", "text.jpg", "cut.jpg", "cut.mp4",
                                                     "huge.png")]}


def _modules_after(argv: list[str]) -> tuple[int, set[str]]:
    """Exit code and loaded modules of `vqual <argv>` run in a fresh interpreter."""
    code = ("import json, sys\nfrom vqual.cli import main\nc = main(sys.argv[1:])\n"
            "print(json.dumps({'code': c, 'modules': sorted(sys.modules)}))")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300)
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return doc["code"], set(doc["modules"])


def _offending(modules: set[str], names) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_scoring_imports_nothing_of_the_other_commands(bad, tmp_path):
    out = tmp_path / "s.json"
    code, modules = _modules_after(["score", str(bad["dir"] / "good.jpg"), "--out", str(out)])
    assert code == 0 and len(json.loads(out.read_text())["results"]) == 1
    assert "onnxruntime" in modules  # the model did run
    assert _offending(modules, NOT_FOR_SCORING) == []


def test_scoring_an_image_and_a_video_never_imports_torch(bad, tmp_path):
    """vqual-lite runs on ONNX Runtime and numpy (issue #17): a plain install has no torch, so scoring must not
    import it, nor the torch reference encoder or the ONNX export tools."""
    out = tmp_path / "s.json"
    code, modules = _modules_after(["score", str(bad["dir"] / "good.jpg"), str(bad["dir"] / "good.mp4"), "--out",
                                    str(out)])
    assert code == 0 and len(json.loads(out.read_text())["results"]) == 2
    assert "onnxruntime" in modules
    assert _offending(modules, ("torch", "efficientnet_lite_pytorch", "onnx", "vqual.encoders.spatial",
                                "vqual.encoders.lite0_export")) == []


def test_a_failing_only_batch_loads_no_model(bad, tmp_path):
    out = tmp_path / "s.json"
    code, modules = _modules_after(["score", *bad["paths"], "--out", str(out)])
    assert code == 1
    doc = json.loads(out.read_text())
    assert doc["results"] == [] and doc["model"] == default_model_name()
    assert [f["error"]["reason"] for f in doc["failures"]] == ["missing", "empty", "not_media", "truncated",
                                                               "truncated", "too_large"]
    assert _offending(modules, ("torch", "vqual.models.lite", "vqual.encoders", *NOT_FOR_SCORING)) == []


def test_failing_inputs_never_call_the_loader(bad, monkeypatch, capsys):
    def refuse(*a, **k):
        raise AssertionError("a model was loaded for a batch of bad inputs")

    monkeypatch.setattr(vqual.api, "load_model", refuse)
    assert main(["score", *bad["paths"], "--format", "jsonl"]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 6 and all(x["error"]["reason"] != "internal" for x in lines)
    assert main(["score", str(bad["dir"] / "missing.jpg"), "--model", "no-such-model"]) == 2  # still checked first


def test_the_model_is_loaded_once_at_the_first_readable_input(bad, monkeypatch, capsys):
    calls = []
    real = vqual.api.load_model

    def counting(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(vqual.api, "load_model", counting)
    d = bad["dir"]
    paths = [bad["paths"][0], str(d / "good.jpg"), bad["paths"][2], str(d / "good.mp4"), bad["paths"][3]]
    assert main(["score", *paths, "--model", "niqe", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert len(calls) == 1 and len(doc["results"]) == 2 and len(doc["failures"]) == 3


def test_precheck_reports_what_scoring_reports(bad):
    niqe = vqual.api.load_model("niqe")
    for path in bad["paths"]:
        pre = vqual.api.precheck(path)
        full = vqual.api.score_one(niqe, path)
        assert pre is not None and pre.to_dict() == full.to_dict(), path
    assert vqual.api.precheck(str(bad["dir"] / "good.jpg")) is None
    assert vqual.api.precheck(str(bad["dir"] / "good.mp4")) is None


def test_a_calibration_is_applied_without_fitting_code(tmp_path):
    from vqual.adapt.calibrate import fit_calibration
    from vqual.result import Scale

    niqe = vqual.api.load_model("niqe")
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 5, 30)
    cal = fit_calibration(x, 20 * x + rng.normal(0, 4, 30), model=niqe, method="logistic",
                          scale=Scale(name="mine", min=0, max=100))
    cal.save(tmp_path / "cal.json")
    img = write_image(tmp_path / "a.png", (rng.random((64, 64, 3)) * 255).astype(np.uint8))
    code, modules = _modules_after(["score", str(img), "--model", "niqe", "--calibration",
                                    str(tmp_path / "cal.json"), "--out", str(tmp_path / "s.json")])
    assert code == 0 and json.loads((tmp_path / "s.json").read_text())["results"][0]["scale"]["name"] == "mine"
    # loading and applying a calibration needs neither the training package nor the evaluation harness
    assert _offending(modules, ("scipy.optimize", "scipy.stats", "vqual.eval", "vqual.adapt", "vqual.cli.eval",
                                "vqual.cli.calibrate", "vqual.cli.train", "transformers")) == []
    assert "vqual.calibration" in modules


def test_only_the_sub_command_run_is_built():
    assert command_of(["--debug", "score", "x.jpg"]) == "score"
    assert command_of(["--version"]) is None and command_of(["nosuch", "x"]) is None
    full, light = build_parser(True), build_parser(None)

    def helps(parser):
        sub = next(a for a in parser._actions if a.dest == "command")
        return {a.dest: a.help for a in sub._choices_actions}

    assert helps(full) == helps(light) == COMMANDS  # `vqual --help` reads the same either way
    code = ("import sys\nfrom vqual.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('numpy', 'torch', 'scipy', 'vqual.eval'))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout
