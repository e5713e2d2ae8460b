"""The frozen features every learned head reads, built one way: the spatial encoder's vector (EfficientNet-Lite0
stage statistics, `vqual.encoders.spatial`) followed by the direct measures (`vqual.encoders.measures`).

A `FeaturePreset` names one such encoder (which view size, which stages, measures or not, fine-tuned trunk
weights or ImageNet's); `FeatureEncoder` computes its features. vqual-lite (presets ``lite`` and ``lite2``), user
heads (`vqual.models.user`: any preset, written into model.json as `FeaturePreset.block`) and vqual-lmm's global
token (`vqual.lmm.visual`, which also takes the last stage's map from the same backbone pass) all use it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class FeaturePreset:
    """A named frozen encoder."""

    name: str
    whole_max_side: int  # the spatial encoder's whole view: native up to this many pixels squared
    taps: tuple[str, ...]  # EfficientNet-Lite0 stages pooled (mean and std per channel)
    measures: bool  # append the direct measures (sharpness, noise, blockiness, ...; `encoders.measures`)
    description: str
    tuned: str | None = None  # asset folder of fine-tuned trunk weights (encoder.npz + its card), None: ImageNet

    def spatial_config(self):
        from vqual.encoders.lite0 import SpatialConfig

        return SpatialConfig(whole_max_side=self.whole_max_side, whole_taps=self.taps)

    def block(self) -> dict[str, Any]:
        """The preset written out in full (the ``encoder`` block of a user model.json), so that the features can be
        rebuilt exactly even if the preset changes later."""
        from vqual.encoders.lite0 import LITE0_SHA256

        spatial = asdict(self.spatial_config())
        out = {"name": self.name, "spatial": {k: list(v) if isinstance(v, tuple) else v for k, v in spatial.items()},
               "measures": self.measures, "backbone": "efficientnet-lite0", "backbone_sha256": LITE0_SHA256}
        if self.tuned is not None:
            from vqual.weights import read_asset_json

            card = read_asset_json(f"{self.tuned}/{self.tuned}.json")
            out["tuned"] = {"asset": f"{self.tuned}/encoder.npz", "sha256": card["weights"]["encoder.npz"]}
        return out


#: ``lite``: exactly vqual-lite's features (4096 + 59). ``lite-small``: a quarter of the pixels and no 1280-channel
#: head stage, plus the measures: about 3x faster per image than ``lite`` (BENCHMARKS.md, few-label adaptation),
#: 1536 + 59 features. (Without the measures it is faster still, but a student learns clearly less from it.)
#: ``lite2``: vqual-lite 2's (its whole view; the model adds native crops of large stills itself).
PRESETS: dict[str, FeaturePreset] = {p.name: p for p in (
    FeaturePreset("lite", 512, ("s2", "s3", "s4", "s5", "s6", "s7", "head"), True,
                  "vqual-lite's encoder: EfficientNet-Lite0 at up to 512x512 + 59 direct measures"),
    FeaturePreset("lite-small", 256, ("s2", "s3", "s4", "s5", "s6", "s7"), True,
                  "EfficientNet-Lite0 at up to 256x256, stages s2-s7 (no head stage) + 59 measures"),
    FeaturePreset("lite2", 512, ("s2", "s3", "s4", "s5", "s6", "s7", "head"), True,
                  "vqual-lite 2's encoder: Lite0 with its upper half fine-tuned on BIQ2021, up to 512x512 "
                  "(whole view) + 59 direct measures", tuned="lite2"),
)}


def encoder_config(name: str) -> dict[str, Any]:
    """The ``encoder`` block of model.json for a preset; raises ValueError for an unknown preset."""
    if name not in PRESETS:
        raise ValueError(f"unknown encoder {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name].block()


#: The spatial encoder's engines: ONNX Runtime (scoring; no torch) and PyTorch (the reference: training, the language
#: path's stage maps, parity tests; needs the ``train`` or ``lmm`` extra).
ENGINES = ("onnxruntime", "torch")


class FeatureEncoder:
    """The frozen features: HxWx3 uint8 RGB -> (dim,) float64, the spatial vector then the measures."""

    def __init__(self, spatial, measures: bool = True):
        self.spatial = spatial  # a `vqual.encoders.lite0.SpatialBase`: OrtSpatialEncoder or SpatialEncoder (torch)
        self.measures = bool(measures)

    @classmethod
    def from_block(cls, block: dict[str, Any], engine: str = "onnxruntime") -> FeatureEncoder:
        """The encoder a model.json ``encoder`` block (`FeaturePreset.block`) describes, on `engine` (`ENGINES`);
        fine-tuned trunk weights are checked against the sha256 it records."""
        from vqual.encoders.lite0 import SpatialConfig

        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
        spatial = SpatialConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in block["spatial"].items()})
        tuned = tuned_key = None
        if block.get("tuned"):
            from vqual.weights import resolve

            tuned_key = block["tuned"]["sha256"]
            with np.load(resolve(block["tuned"]["asset"], tuned_key), allow_pickle=False) as z:
                tuned = {k: z[k] for k in z.files}
        if engine == "torch":
            from vqual.runtime import missing

            if problem := missing("torch", "train", "the torch engine of the spatial encoder"):
                from vqual.errors import WeightsError

                raise WeightsError(problem)
            from vqual.encoders.spatial import SpatialEncoder

            enc = cls(SpatialEncoder(spatial, tuned=tuned), bool(block["measures"]))
        else:
            from vqual.encoders.lite0_ort import OrtSpatialEncoder

            enc = cls(OrtSpatialEncoder(spatial, tuned=tuned, tuned_key=tuned_key), bool(block["measures"]))
        enc.block = block
        return enc

    @property
    def dim(self) -> int:
        from vqual.encoders.measures import MEASURE_NAMES

        return self.spatial.dim + (len(MEASURE_NAMES) if self.measures else 0)

    def combine(self, spatial_vector: np.ndarray, rgb: np.ndarray) -> np.ndarray:
        """A spatial vector of `rgb` followed by its measures (when the preset has them), float64."""
        if not self.measures:
            return np.asarray(spatial_vector).astype(np.float64)
        from vqual.encoders.measures import measures

        return np.concatenate([spatial_vector, measures(rgb)]).astype(np.float64)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self.combine(self.spatial.encode(rgb), rgb)

    def with_maps(self, rgb: np.ndarray) -> tuple[np.ndarray, dict]:
        """The features and, from the same backbone pass, the spatial encoder's stage maps (`feature_maps`; the torch
        engine only)."""
        if not hasattr(self.spatial, "feature_maps"):
            raise TypeError("stage maps need the torch engine: get_encoder(block, engine='torch')")
        maps = self.spatial.feature_maps(rgb)
        return self.combine(self.spatial.pool(maps), rgb), maps


def block_digest(block: dict[str, Any]) -> str:
    """A short name of one feature encoder: its preset and the first 12 hex digits of the sha256 of its block
    (`FeaturePreset.block`, which includes the fine-tuned weights' sha256). What is trained on an encoder's features
    (vqual-lmm's projectors) records it, and caches of features are kept apart by it."""
    import hashlib

    digest = hashlib.sha256(json.dumps(block, sort_keys=True).encode()).hexdigest()[:12]
    return f"{block['name']}-{digest}"


_CACHE: dict[tuple[str, str], FeatureEncoder] = {}


def get_encoder(block: dict[str, Any], engine: str = "onnxruntime") -> FeatureEncoder:
    """A shared `FeatureEncoder` per distinct block and engine (the backbone is loaded once per process)."""
    key = (json.dumps(block, sort_keys=True), engine)
    if key not in _CACHE:
        _CACHE[key] = FeatureEncoder.from_block(block, engine)
    return _CACHE[key]
