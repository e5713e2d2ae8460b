"""The sample media of `vqual demo`: a few images and short videos derived from one bundled photograph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vqual.data import synthetic as syn
from vqual.weights import asset_path


def make_samples(directory: str | Path, seconds: int = 3, fps: int = 24) -> list[Path]:
    """Write sample images (clean, blurred, noisy, heavy JPEG, dark) and videos (clean, heavily compressed,
    stuttering) into `directory`; returns their paths. Deterministic."""
    d = Path(directory)
    (d / "images").mkdir(parents=True, exist_ok=True)
    (d / "videos").mkdir(parents=True, exist_ok=True)
    src = np.asarray(Image.open(asset_path("samples/kodim23.jpg")).convert("RGB"))
    images = {
        "clean.png": src,
        "blurred.png": syn.gaussian_blur(src, 3.0),
        "noisy.png": syn.gaussian_noise(src, 30.0, seed=0),
        "underexposed.png": syn.exposure(src, 0.25, gamma=1.6),
    }
    out: list[Path] = []
    for name, img in images.items():
        Image.fromarray(img).save(d / "images" / name)
        out.append(d / "images" / name)
    Image.fromarray(src).save(d / "images" / "jpeg_q8.jpg", quality=8)  # the real JPEG file, not a round-trip
    out.append(d / "images" / "jpeg_q8.jpg")
    n = seconds * fps
    size = (288, 384)
    out.append(syn.write_video(d / "videos" / "pan_crf18.mp4", syn.pan_frames(src, n, size), fps=fps, crf=18))
    out.append(syn.write_video(d / "videos" / "pan_crf45.mp4", syn.pan_frames(src, n, size), fps=fps, crf=45))
    out.append(syn.write_video(d / "videos" / "pan_stutter.mp4", syn.stutter(syn.pan_frames(src, n, size), 4),
                               fps=fps, crf=18))
    return out
