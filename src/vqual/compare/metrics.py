"""The full-reference metrics `vqual compare` knows: what each measures on, its direction, range and pooling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vqual.compare import classic


@dataclass(frozen=True)
class MetricSpec:
    """A registered full-reference metric."""

    name: str  # as named on the command line
    version: str  # bumped when its values can change
    space: Literal["y", "rgb"]  # luma (2-D float, with a data range) or HxWx3 uint8 RGB
    higher_is_better: bool
    range: tuple[float | None, float | None]  # (min, max) of its values; None: unbounded
    unit: str  # "dB" or "" (unitless)
    pooling: str  # how frames and seconds are pooled
    reference: str  # where it is defined / what it is checked against
    frame_value: Callable | None  # (ref, dist, data_range) -> the per-frame value that is pooled (PSNR: the MSE)
    # Metrics whose frame values depend on neighbouring frames (VMAF's motion): a factory of a per-input object with
    # add(ref, dist, data_range) -> the frame values completed so far, and finish() -> the rest; else None.
    sequence: Callable[[], Any] | None = None
    unavailable: Callable[[], str | None] | None = None  # a one-line message when its optional dependency is missing
    provenance: Callable[[], dict[str, Any]] | None = None  # implementation, weights / model hashes


METRICS: dict[str, MetricSpec] = {
    "psnr": MetricSpec("psnr", "1", "y", True, (0.0, None), "dB",
                       "PSNR of the mean squared error over the frames (of a second, of the video), as FFmpeg's "
                       "psnr filter averages; infinite when they are all identical",
                       "10 log10(L^2 / MSE) on Y; checked against scikit-image",
                       lambda a, b, L: classic.mse(a, b)),
    "ssim": MetricSpec("ssim", "1", "y", True, (-1.0, 1.0), "", "mean of the per-frame values",
                       "Wang et al. 2004 on Y (11x11 Gaussian, sigma 1.5); checked against scikit-image",
                       lambda a, b, L: classic.ssim(a, b, L)),
    "ms_ssim": MetricSpec("ms_ssim", "1", "y", True, (0.0, 1.0), "", "mean of the per-frame values",
                          "Wang et al. 2003, five scales on Y; checked against pytorch_msssim",
                          lambda a, b, L: classic.ms_ssim(a, b, L)),
    "lpips": MetricSpec("lpips", "0.1-alex-fp16", "rgb", False, (0.0, None), "", "mean of the per-frame values",
                        "LPIPS v0.1, AlexNet (Zhang et al. 2018) on RGB; checked against the authors' lpips 0.1.4",
                        lambda a, b, L: _lpips(a, b), provenance=lambda: {"weights_sha256": _lpips_sha256()},
                        unavailable=lambda: _torch_missing("metric lpips")),
    "dists": MetricSpec("dists", "1-vgg16", "rgb", False, (0.0, None), "", "mean of the per-frame values",
                        "DISTS (Ding et al. 2020), VGG16 on RGB at the input's size; checked against the authors' "
                        "DISTS_pt.py", lambda a, b, L: _dists().dists(a, b),
                        unavailable=lambda: _torch_missing("metric dists") or _dists().unavailable(),
                        provenance=lambda: _dists().weights_sha256()),
    "vmaf": MetricSpec("vmaf", "0.6.1", "y", True, (0.0, 100.0), "",
                       "mean of the per-frame values (each clipped to [0, 100]), as libvmaf pools",
                       "VMAF model vmaf_v0.6.1 (Netflix) on 8-bit Y, by vmaf-torch 1.1.0; checked against libvmaf",
                       None, sequence=lambda: _vmaf().VmafSequence(), unavailable=lambda: _vmaf().unavailable(),
                       provenance=lambda: _vmaf().provenance()),
}
DEFAULT_METRICS: tuple[str, ...] = ("psnr", "ssim", "ms_ssim")


def _torch_missing(what: str) -> str | None:
    from vqual.runtime import missing

    return missing("torch", "train", what)


def _lpips(a: np.ndarray, b: np.ndarray) -> float:
    from vqual.compare.lpips import lpips  # torch is imported only when LPIPS is asked for

    return lpips(a, b)


def _lpips_sha256() -> str:
    from vqual.compare.lpips import WEIGHTS_SHA256

    return WEIGHTS_SHA256


def _dists() -> Any:
    from vqual.compare import dists  # torch is imported, and VGG16's weights made, only when DISTS is asked for

    return dists


def _vmaf() -> Any:
    from vqual.compare import vmaf  # torch and vmaf-torch are imported only when VMAF is asked for

    return vmaf


def metric_value(spec: MetricSpec, pooled_frame_value: float, data_range: float) -> float:
    """The metric's value from the mean of its per-frame values."""
    if spec.name == "psnr":
        return classic.psnr_from_mse(pooled_frame_value, data_range)
    return float(pooled_frame_value)


def pool(spec: MetricSpec, frame_values: list[float], data_range: float) -> float:
    """Pool per-frame values (PSNR: MSEs) into one metric value."""
    return metric_value(spec, float(np.mean(frame_values)), data_range)
