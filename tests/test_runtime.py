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
