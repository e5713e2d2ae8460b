"""`vqual-lite`: the default model. Frozen encoders, light linear heads, trained here from synthetic distortions and
200 human scores (scripts/train_lite.py reproduces the shipped heads).

Per image or video key frame: spatial features (EfficientNet-Lite0 stage statistics, `encoders.spatial`) and direct
measures (sharpness, noise, blockiness, exposure, colour, NSS; `encoders.measures`) feed
- the attribute head: severities in [0, 1] of blur, noise, compression, under/over-exposure, colour cast and
  scaling, learned from graded synthetic distortions;
- the score head: one linear map fitted jointly to the 200 MOS and to synthetic pairs (same content, stronger
  distortion scores lower), its ridge strength and pair weight chosen by cross-validation (lite.json);
- the level head: P(level) from a cumulative logistic around the score (width fitted by CV likelihood);
- uncertainty: the spread of five cross-validation fold heads.
Per video second, the temporal encoder adds stutter / frame-drop / shake / flicker severities, which lower the
second's score by documented penalties; seconds are pooled with `vqual.heads.pooling.pool_worst`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vqual.encoders.features import encoder_config, get_encoder
from vqual.heads.levels import level_probs
from vqual.heads.pooling import pool_worst
from vqual.heads.prediction import Prediction
from vqual.heads.store import load_heads
from vqual.media import Chunk
from vqual.models.base import QualityModel
from vqual.models.cards import card_of
from vqual.weights import resolve

N_FOLDS = 5


class VqualLite(QualityModel):
    name = "vqual-lite"
    decoder = "linear-heads"
    chunk_luma_size = 256
    trained_on = ("clive-fewlabel",)

    def __init__(self, max_pixels: int | None = None, engine: str = "onnxruntime"):
        """``engine``: the spatial encoder's (`vqual.encoders.features.ENGINES`): ONNX Runtime for scoring, "torch"
        for the reference implementation (parity checks; needs the ``train`` extra)."""
        super().__init__(max_pixels=max_pixels)
        from vqual.encoders.temporal import TemporalEncoder

        card = card_of(self.name)  # its heads.npz, their sha256 and its feature preset (`cards.BUILTIN`)
        self.config = card.config
        self.version = self.decoder_version = card.version
        self.weights_sha256 = card.sha256("heads.npz")
        path = resolve(f"{card.folder}/heads.npz", self.weights_sha256)
        prefixes = ("score", "attributes", *(f"fold{k}" for k in range(N_FOLDS)))
        self.heads, _ = load_heads(path, prefixes)
        self.encoder = get_encoder(encoder_config(str(card.preset)), engine)
        self.spatial = self.encoder.spatial
        self.temporal = TemporalEncoder()
        self.bounds = self.config["levels"]["bounds"]
        self.tau = float(self.config["levels"]["tau"])
        self.penalty = self.config["temporal"]["penalty"]
        self.worst_fraction = float(self.config["temporal"]["pool_worst_fraction"])
        self.attribute_names = self.heads["attributes"].names

    def features(self, rgb: np.ndarray, still: bool = True) -> np.ndarray:
        """Spatial encoder features and direct measures of one RGB image: the heads' input. `still`: a picture
        rather than a video key frame (see `spatial_features`)."""
        return self.encoder.combine(self.spatial_features(rgb, still), rgb)

    def spatial_features(self, rgb: np.ndarray, still: bool) -> np.ndarray:
        """The spatial encoder's vector (1.0: the whole view, stills and key frames alike)."""
        return self.spatial.encode(rgb)

    def predict_image(self, rgb: np.ndarray) -> Prediction:
        return self._predict(self.features(rgb))

    def _predict(self, x: np.ndarray) -> Prediction:
        attrs = np.clip(self.heads["attributes"](x), 0.0, 1.0)
        raw = float(self.heads["score"](x)[0])
        folds = [float(self.heads[f"fold{k}"](x)[0]) for k in range(N_FOLDS)]
        score = float(np.clip(raw, 1.0, 5.0))
        return Prediction(score=score, uncertainty=float(np.std(folds)),
                          level_probs=level_probs(score, self.bounds, self.tau),
                          attributes={n: float(v) for n, v in zip(self.attribute_names, attrs)}, raw=raw)

    def predict_chunk(self, chunk: Chunk) -> Prediction:
        p = self._predict(self.features(chunk.key_frame, still=False))
        sev = self.temporal.encode(chunk).severities
        score = float(np.clip(p.score - sum(self.penalty[a] * sev[a] for a in self.penalty), 1.0, 5.0))
        return Prediction(score=score, uncertainty=p.uncertainty, level_probs=level_probs(score, self.bounds, self.tau),
                          attributes={**p.attributes, **{a: float(v) for a, v in sev.items()}}, raw=p.raw)

    def pool(self, seconds: list[Prediction]) -> Prediction:
        pooled = pool_worst(seconds, self.worst_fraction)
        pooled.level_probs = level_probs(pooled.score, self.bounds, self.tau)  # consistent with the pooled score
        return pooled


class VqualLite2(VqualLite):
    """vqual-lite 2: the same design with the upper half of the spatial encoder (stages s5-s7 and the head conv)
    fine-tuned on 9,000 BIQ2021 photographs and synthetic ranking pairs (scripts/train_lite2.py), and a score head
    trained with it, then refitted on BIQ2021 and clive-fewlabel's 200 labels anchored to it (2.2.0;
    scripts/human_head.py). Attribute heads are refitted on the new features, with clean BIQ2021 photographs and
    graded distortions of 200 of them beside the synthetic crops (2.2.1); the temporal part is 1.0's."""

    name = "vqual-lite@2.0"
    trained_on = ("biq2021", "clive-fewlabel")

    def spatial_features(self, rgb: np.ndarray, still: bool) -> np.ndarray:
        """As 1.0, and for a still picture larger than `LARGE_AREA` pixels the mean of the whole view's vector
        (resized to ~512x512) and of native-resolution crops' (`native_crops`): a downscaled view alone cannot see the
        blur of an upscaled or out-of-focus large photograph. Video key frames get the whole view only (native crops
        would multiply the cost of every second of video)."""
        return still_view(self.spatial.encode, rgb) if still else self.spatial.encode(rgb)


class VqualLite2Biq(VqualLite2):
    """vqual-lite 2 with the score head trained end to end with its encoder on BIQ2021 alone (vqual-lite@2.0 2.1's
    head; `score-biq.npz` replaces heads.npz's score head, everything else is vqual-lite@2.0's). It never saw a
    LIVE In the Wild label, so its figures on clive-fewlabel are zero-shot, and it can teach a student that is then
    tested on clive-fewlabel (benchmarks/fewlabel_adapt.py)."""

    name = "vqual-lite@2.0-biq"
    trained_on = ("biq2021",)

    def __init__(self, max_pixels: int | None = None, engine: str = "onnxruntime"):
        super().__init__(max_pixels=max_pixels, engine=engine)
        card = card_of(self.name)
        self.weights_sha256 = card.sha256("score-biq.npz")
        heads, _ = load_heads(resolve(f"{card.folder}/score-biq.npz", self.weights_sha256), ("score",))
        self.heads["score"] = heads["score"]


#: Pictures above this many pixels (2 x 512^2) are also judged on native-resolution crops (vqual-lite 2).
LARGE_AREA = 2 * 512 * 512
CROP_SIDE = 512


def still_view(encode: Callable[[np.ndarray], np.ndarray], rgb: np.ndarray) -> np.ndarray:
    """vqual-lite 2's spatial vector of a still picture: `encode` of the whole view, averaged half and half with the
    mean over `native_crops` when the picture is large (also what scripts/train_lite2.py fits heads on)."""
    spatial = encode(rgb)
    crops = native_crops(rgb)
    if crops:
        spatial = 0.5 * spatial + 0.5 * np.mean([encode(c) for c in crops], axis=0)
    return spatial


def native_crops(rgb: np.ndarray) -> list[np.ndarray]:
    """Native-resolution CROP_SIDE-square crops of a large picture: none up to LARGE_AREA pixels, the centre crop up
    to 8 x 512^2 (~2 MP, e.g. 1920x1080), else the four crops centred on a 2x2 grid. Deterministic."""
    h, w = rgb.shape[:2]
    if h * w <= LARGE_AREA or min(h, w) < CROP_SIDE:
        return []
    if h * w <= 8 * CROP_SIDE * CROP_SIDE:
        centres = [(h / 2, w / 2)]
    else:
        centres = [((i + 0.5) * h / 2, (j + 0.5) * w / 2) for i in range(2) for j in range(2)]
    out = []
    for cy, cx in centres:
        y0 = min(max(int(round(cy - CROP_SIDE / 2)), 0), h - CROP_SIDE)
        x0 = min(max(int(round(cx - CROP_SIDE / 2)), 0), w - CROP_SIDE)
        out.append(np.ascontiguousarray(rgb[y0:y0 + CROP_SIDE, x0:x0 + CROP_SIDE]))
    return out
