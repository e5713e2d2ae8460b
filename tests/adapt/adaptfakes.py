"""Helpers of the calibration tests: a tiny registered-style model scoring images by brightness (through the real
`QualityModel` driver, so calibration is applied where it is in production), and a labelled set of grey images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vqual.heads.prediction import Prediction
from vqual.models.base import QualityModel
from vqual.registry import ModelSpec

SIDE = 32  # the smallest image vqual assesses


class GreyModel(QualityModel):
    """Score = 1 + 4 * mean grey / 255; raw = mean grey. Seconds of a video pool by their mean."""

    name = "fake-grey"
    version = "1.0"
    weights_sha256 = "f" * 64
    chunk_luma_size = None

    def predict_image(self, rgb: np.ndarray) -> Prediction:
        raw = float(rgb.mean())
        return Prediction(score=1.0 + 4.0 * raw / 255.0, raw=raw)

    def predict_chunk(self, chunk) -> Prediction:
        return self.predict_image(chunk.key_frame)

    def pool(self, seconds: list[Prediction]) -> Prediction:
        return Prediction(score=float(np.mean([p.score for p in seconds])))


SPEC = ModelSpec(name=GreyModel.name, version=GreyModel.version, factory="adaptfakes:GreyModel",
                 description="test model: brightness")


def make_grey_set(root: Path, n: int = 30, seed: int = 0, *, lower_better: bool = False, lo: int = 40,
                  hi: int = 215, name: str = "labels.csv") -> Path:
    """`n` grey PNGs (SIDE x SIDE) under root/img and root/<name> (path,mos) with MOS 0-100 following brightness
    through a logistic (or 100 - that, for lower-is-better labels)."""
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = ["path,mos"]
    for i in range(n):
        level = int(rng.uniform(lo, hi))
        Image.fromarray(np.full((SIDE, SIDE), level, dtype=np.uint8)).save(root / "img" / f"{i:03d}.png")
        s = 1 + 4 * level / 255
        mos = float(np.clip(10 + 80 / (1 + np.exp(-(s - 3) / 0.4)) + rng.normal(0, 3), 0, 100))
        rows.append(f"img/{i:03d}.png,{100 - mos if lower_better else mos:.3f}")
    (root / name).write_text("\n".join(rows) + "\n")
    return root / name
