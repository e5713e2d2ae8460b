"""vqual.paths: VQUAL_HOME, VQUAL_CACHE_DIR and XDG_CACHE_HOME are read in one place, and every cache and the
models home follow it."""

from pathlib import Path

import pytest

from vqual.eval.cache import default_cache_dir
from vqual.models.user import models_home
from vqual.paths import cache_dir, vqual_home


@pytest.fixture()
def env(monkeypatch):
    for name in ("VQUAL_HOME", "VQUAL_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", "/home/someone")
    return monkeypatch


def test_defaults_are_under_dot_cache_vqual(env):
    base = Path("/home/someone/.cache/vqual")
    assert vqual_home() == base and models_home() == base / "models"
    assert default_cache_dir() == cache_dir("eval") == base / "eval" and cache_dir("decoders") == base / "decoders"


def test_precedence_cache_dir_then_home_then_xdg(env, tmp_path):
    env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert vqual_home() == tmp_path / "xdg" / "vqual" and cache_dir("eval") == tmp_path / "xdg" / "vqual" / "eval"
    env.setenv("VQUAL_HOME", str(tmp_path / "home"))
    assert models_home() == tmp_path / "home" / "models" and default_cache_dir() == tmp_path / "home" / "eval"
    env.setenv("VQUAL_CACHE_DIR", str(tmp_path / "cache"))
    assert default_cache_dir() == tmp_path / "cache" / "eval"
    assert cache_dir("decoders") == tmp_path / "cache" / "decoders"
    assert models_home() == tmp_path / "home" / "models"  # user models are not a cache
    env.setenv("VQUAL_HOME", "~/elsewhere")
    assert vqual_home() == Path("/home/someone/elsewhere")


def test_only_vqual_paths_reads_the_variables():
    """No other module looks the variables up (the decoder cache and the models home each had their own)."""
    import ast

    import vqual

    names = {"VQUAL_HOME", "VQUAL_CACHE_DIR", "XDG_CACHE_HOME"}
    root = Path(vqual.__file__).parent
    readers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                     if any(isinstance(n, ast.Constant) and n.value in names
                            for n in ast.walk(ast.parse(p.read_text()))))
    assert readers == ["paths.py"]
