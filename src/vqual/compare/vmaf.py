"""VMAF, model vmaf_v0.6.1 (Netflix: Li, Aaron, Katsavounidis, Moorthy, Manohara, "Toward a practical perceptual
video quality metric", 2016), on 8-bit luma, through ``vmaf-torch==1.1.0`` (the optional extra ``vqual[vmaf]``).

Per frame, as libvmaf computes it: ADM2 and VIF at four scales of the reference and distorted Y planes, and motion2
of the reference (the smaller of the mean absolute differences of its 5-tap Gaussian-blurred Y with the previous and
with the next frame; 0 for the first frame, the previous one only for the last), fed to the model's SVR; each
frame's score is clipped to [0, 100] and a video's is the mean of its frames' (libvmaf's default pooling).

Frames are fed one pair at a time (`VmafSequence`); a frame's score is known once the next reference frame has been
seen (motion2). Luma is taken as an 8-bit Y plane: a b-bit plane is divided by 2^(b-8), and values that are not
integers (an image's BT.601 Y, a resized plane) are rounded and clipped to 0-255, so VMAF sees what an 8-bit
encoder's Y plane holds. Checked against libvmaf 3.2.0 built from Netflix/vmaf (benchmarks/vmaf_parity.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from vqual.compare.classic import MetricInputError

MODEL = "vmaf_v0.6.1"
IMPLEMENTATION = ("vmaf-torch", "1.1.0")
EXTRA = "vqual[vmaf]"
#: vmaf-torch's ADM needs four dyadic scales with a reflected border: smaller pictures cannot be measured.
MIN_SIDE = 17
#: sha256 of vmaf-torch 1.1.0's built-in vmaf_v0.6.1 SVR as `model_sha256` computes it (its support vectors,
#: coefficients and feature scaling equal those of Netflix's model/vmaf_v0.6.1.json; pinned in the tests).
MODEL_SHA256 = "e9221b37fdf7abec351db77f1b84d7491f2dd49d5b059945afdf5eef68422963"
_MODEL: Any = None


class VmafUnavailable(ImportError):
    """vmaf-torch (or one of its dependencies) cannot be imported; the message says what to install."""


def unavailable() -> str | None:
    """None when VMAF can be computed here, else a one-line message naming the extra to install."""
    try:
        _model()
    except VmafUnavailable as e:
        return str(e)
    return None


def _model() -> Any:
    """vmaf-torch's VMAF module (vmaf_v0.6.1, scores clipped to [0, 100]), built once."""
    global _MODEL
    if _MODEL is None:
        try:
            from vmaf_torch import VMAF
        except ImportError as e:  # vmaf-torch itself, or pandas / yuvio it imports at import time
            raise VmafUnavailable(f"metric vmaf needs {IMPLEMENTATION[0]} {IMPLEMENTATION[1]}, which is not "
                                  f"installed here ({e}); install it with: pip install '{EXTRA}'") from None
        _MODEL = VMAF(clip_score=True).eval()
    return _MODEL


def model_sha256() -> str:
    """sha256 of the model (the SVR's float32 tensors in key order, then its gamma, rho, score slope, intercept and
    clip)."""
    s = _model().svm
    h = hashlib.sha256()
    for k, v in sorted(s.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    h.update(repr([float(x) for x in (s.gamma, s.rho, s.slope, s.intercept, s.score_clip_min,
                                      s.score_clip_max)]).encode())
    return h.hexdigest()


def provenance() -> dict[str, Any]:
    """What computed the values: the implementation and the model, with its parameters' hash."""
    from importlib.metadata import version

    return {"implementation": f"{IMPLEMENTATION[0]} {version(IMPLEMENTATION[0])}", "model": MODEL,
            "model_sha256": model_sha256()}


def luma8(y: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """A luma plane (0..data_range, data_range = 2^b - 1) as the 8-bit integer Y VMAF is defined on, float32."""
    y = np.asarray(y, dtype=np.float64)
    if data_range != 255.0:
        y = y * (256.0 / (data_range + 1.0))
    return np.clip(np.rint(y), 0, 255).astype(np.float32)


class VmafSequence:
    """Per-frame VMAF of a sequence fed one (reference, distorted) pair at a time.

    `add` returns the scores completed so far (the previous frame's, once this reference frame gives its motion);
    `finish` returns the last frame's. One image is a sequence of one frame (motion 0).
    """

    def __init__(self) -> None:
        self._m = _model()
        self._prev_blur: Any = None  # the previous reference frame, blurred as motion2 needs
        self._pending: tuple[Any, Any, Any] | None = None  # (adm, vif, motion to the frame before) awaiting the next

    def add(self, ref: np.ndarray, dist: np.ndarray, data_range: float = 255.0) -> list[float]:
        import torch
        from vmaf_torch.utils import fast_gaussian_blur, vmaf_pad

        if ref.ndim != 2 or ref.shape != dist.shape:
            raise MetricInputError(f"expected two 2-D luma arrays of one shape, got {ref.shape} and {dist.shape}")
        if min(ref.shape) < MIN_SIDE:
            raise MetricInputError(f"picture {ref.shape[1]}x{ref.shape[0]} is too small for VMAF "
                                   f"(needs at least {MIN_SIDE} px on the shorter side)")
        r = torch.from_numpy(luma8(ref, data_range))[None, None]
        d = torch.from_numpy(luma8(dist, data_range))[None, None]
        m = self._m
        with torch.inference_mode():
            k = (m.motion.kernel_size - 1) // 2
            blur = fast_gaussian_blur(vmaf_pad(r, [k] * 4), weight=m.motion.blur_win)
            motion = None if self._prev_blur is None else torch.mean(torch.abs(blur - self._prev_blur),
                                                                     dim=(-1, -2))
            adm, vif = m.compute_adm_score(r, d), m.compute_vif_features(r, d)
            out = self._flush(motion)
        self._pending, self._prev_blur = (adm, vif, motion), blur
        return out

    def finish(self) -> list[float]:
        """The last frame's score (nothing if no frame was added); the sequence can then start again."""
        import torch

        with torch.inference_mode():
            out = self._flush(None)
        self._pending = self._prev_blur = None
        return out

    def _flush(self, next_motion: Any) -> list[float]:
        """The pending frame's score, given the motion from it to the next reference frame (None: it is the last)."""
        import torch

        if self._pending is None:
            return []
        adm, vif, motion = self._pending
        if motion is None:  # the first frame
            motion2 = torch.zeros_like(adm)
        elif next_motion is None:  # the last frame
            motion2 = motion
        else:
            motion2 = torch.minimum(motion, next_motion)
        return [float(self._m.predict(adm, motion2, vif).reshape(-1)[0])]


def vmaf_frames(ref: list[np.ndarray] | np.ndarray, dist: list[np.ndarray] | np.ndarray,
                data_range: float = 255.0) -> list[float]:
    """Per-frame VMAF of two equally long sequences of luma planes."""
    seq = VmafSequence()
    out: list[float] = []
    for a, b in zip(ref, dist, strict=True):
        out += seq.add(a, b, data_range)
    return out + seq.finish()
