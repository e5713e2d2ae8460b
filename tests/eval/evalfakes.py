"""Helpers of the evaluation tests: a fake model scoring images by mean brightness, and a small labelled
image set whose MOS follows brightness (with noise) so the metrics have something to find."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vqual.errors import MediaError
from vqual.levels import level_of_score, level_probs_from_score
from vqual.result import Provenance, QualityResult, score_to_100


class BrightnessModel:
    """Scores an image by its mean grey level: raw 0-255, score 1 + 4 * raw / 255."""

    name = "fake-brightness"
    version = "1.0"
    weights_sha256 = None
    trained_on: tuple[str, ...] = ()
    calibration = None  # scores on its own scale only (`vqual.models.base.Scorer`)

    def __init__(self, interrupt_after: int | None = None):
        self.calls = 0
        self.interrupt_after = interrupt_after

    def with_calibration(self, calibration):
        if calibration is not None:
            raise NotImplementedError("the fake scores on its own scale only")
        return self

    def score(self, path, **_):
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        p = Path(path)
        if not p.is_file():
            raise MediaError(p, "missing", "no such file")
        try:
            with Image.open(p) as img:
                grey = np.asarray(img.convert("L"), dtype=float)
        except (UnidentifiedImageError, OSError) as e:
            raise MediaError(p, "corrupt", f"cannot decode: {e}") from None
        raw = float(grey.mean())
        s = 1.0 + 4.0 * raw / 255.0
        probs = level_probs_from_score(s)
        return QualityResult(path=str(p), kind="image", score=s, score_100=score_to_100(s), level=level_of_score(s),
                             level_probs=probs, uncertainty=0.0, attributes={},
                             provenance=Provenance(model=self.name, model_version=self.version, weights_sha256=None),
                             raw_score=raw, width=grey.shape[1], height=grey.shape[0])


def make_image_set(root: Path, n: int = 40, seed: int = 0, groups: int | None = None) -> Path:
    """`n` 8x8 grey PNGs under root/img and root/labels.csv (path,mos[,content_id]) with MOS 0-100."""
    rng = np.random.default_rng(seed)
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = ["path,mos" + (",content_id" if groups else "")]
    for i in range(n):
        level = rng.uniform(20, 235)
        Image.fromarray(np.full((8, 8), int(level), dtype=np.uint8)).save(root / "img" / f"{i:03d}.png")
        mos = float(np.clip(100 * (level - 20) / 215 + rng.normal(0, 8), 0, 100))
        rows.append(f"img/{i:03d}.png,{mos:.3f}" + (f",c{i % groups}" if groups else ""))
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"
