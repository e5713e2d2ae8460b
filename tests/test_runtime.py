"""The allocator tuning: set once on glibc, opt-out honoured, and it changes no number the encoder computes."""

import subprocess
import sys

import numpy as np

CODE = """
import sys, numpy as np
import vqual.runtime as r
from vqual.encoders.spatial import SpatialEncoder
rgb = np.random.default_rng(0).integers(0, 256, (96, 128, 3), dtype=np.uint8)
v = SpatialEncoder().encode(rgb)
np.save(sys.argv[1], v)
print(r._done)
"""


def _run(tmp_path, name, env_value):
    import os

    env = {k: v for k, v in os.environ.items() if k != "VQUAL_MALLOC_TUNING"}
    if env_value is not None:
        env["VQUAL_MALLOC_TUNING"] = env_value
    out = tmp_path / f"{name}.npy"
    res = subprocess.run([sys.executable, "-c", CODE, str(out)], capture_output=True, text=True, env=env, check=True)
    return res.stdout.strip().splitlines()[-1], np.load(out)


def test_tuning_is_applied_by_the_encoder_and_changes_no_feature(tmp_path):
    import platform

    tuned, a = _run(tmp_path, "tuned", None)
    off, b = _run(tmp_path, "off", "0")
    assert off == "False"
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert tuned == "True"
    np.testing.assert_array_equal(a, b)


def test_tune_allocator_is_idempotent():
    from vqual.runtime import tune_allocator

    first = tune_allocator()
    assert tune_allocator() is first


# --- threads: one knob (--threads, VQUAL_THREADS) -------------------------------------------------------------------
def test_threads_come_from_set_threads_then_the_environment_then_the_cpus(monkeypatch):
    import pytest

    import vqual.runtime as r

    monkeypatch.setattr(r, "_threads", None)
    monkeypatch.delenv("VQUAL_THREADS", raising=False)
    assert r.threads() == r.usable_cpus() >= 1
    monkeypatch.setenv("VQUAL_THREADS", "3")
    assert r.threads() == 3
    r.set_threads(2)
    assert r.threads() == 2 and r.os.environ["VQUAL_THREADS"] == "2"  # child processes inherit it
    r.set_threads(None)
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("VQUAL_THREADS", bad)
        with pytest.raises(ValueError, match=f"VQUAL_THREADS: expected a whole number of threads >= 1, got '{bad}'"):
            r.threads()


def test_threads_on_the_command_line(monkeypatch, tmp_path, capsys):
    import vqual.runtime as r
    from vqual.cli import command_of, main

    monkeypatch.setattr(r, "_threads", None)
    monkeypatch.delenv("VQUAL_THREADS", raising=False)
    assert command_of(["--threads", "2", "score", "x.jpg"]) == "score"
    assert main(["score", "--threads", "0", "x.jpg"]) == 2
    assert "--threads: expected a whole number of threads >= 1, got '0'" in capsys.readouterr().err
    monkeypatch.setenv("VQUAL_THREADS", "many")
    assert main(["score", "x.jpg"]) == 2
    assert capsys.readouterr().err.strip() == ("vqual: error: VQUAL_THREADS: expected a whole number of threads >= 1, "
                                               "got 'many'")
    monkeypatch.delenv("VQUAL_THREADS")
    assert main(["--threads", "1", "score", str(tmp_path / "missing.jpg"), "--no-progress"]) == 1
    assert r.threads() == 1
    monkeypatch.setattr(r, "_threads", None)


def test_commands_that_need_torch_say_which_extra(monkeypatch, capsys, tmp_path):
    """A plain install has no torch: vqual train / distill answer with the extra to install, in one line."""
    import importlib.util

    import vqual.runtime as r
    from vqual.cli import main

    assert r.missing("numpy", "train", "x") is None
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert r.missing("torch", "train", "vqual train") == ("vqual train needs torch, which is not installed: "
                                                          "pip install 'vqual[train]'")
    assert main(["train", "--manifest", str(tmp_path / "l.csv"), "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.strip() == ("vqual train: error: vqual train needs torch, which is not installed: "
                                               "pip install 'vqual[train]'")


def test_several_workers_share_the_cpus(monkeypatch):
    import vqual.runtime as r

    monkeypatch.setattr(r, "usable_cpus", lambda: 8)
    assert [r.threads_per_worker(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
