"""`vqual-lmm`: the language path as a registered model. A `vqual-lite` model's encoders see the picture (one
backbone pass per key frame gives the global features and the grid), projectors trained here (scripts/train_lmm.py)
put them into SmolLM2-135M-Instruct (with, per key frame, an attribute token: `vqual-lite`'s measured distortion
severities mapped into the embedding space, and for videos per chunk a second temporal token from the stutter /
frame-drop / shake / flicker severities, so the answers are grounded in the same attributes the result reports), and

- the score is read from the decoder's probabilities of the five level words after "The quality of this image
  is" (weights 5..1): `level_probs` are those probabilities, `uncertainty` their spread; when a measured
  distortion is severe, good and excellent are ruled out (`vqual.lmm.explain.level_ceiling`: the level words'
  probabilities are renormalised over fair, poor and bad), so that the level agrees with the words;
- `attributes` are `vqual-lite`'s (its attribute head on the same features, and the temporal severities), read in
  the fitted severity bands (assets/lmm/severity_bands.json, scripts/fit_severity_bands.py);
- with `explaining()`, the answer follows one grounding rule (`vqual.lmm.explain`): only distortions measured at
  least "noticeable" are named, with exactly their band's word, the strongest first; "It looks clean" only when
  nothing is noticeable. The decoder chooses, greedily and token by token, among the answers of the trained form
  that the rule allows (`vqual.lmm.explain.grounded`); when the rule leaves one answer, the decoder is not run. The
  answer is read back by the strict check (`vqual.lmm.explain.check`) and any contradiction is flagged, not
  hidden.

Which `vqual-lite` model (encoder and attribute head) the projectors read is a property of the card: lmm.json's
``lite`` (a registered vqual-lite model, built through the registry) and ``lite_encoder`` (the digest of its feature
encoder block the projectors were trained on). The severity bands record the heads they were fitted for
(severity_bands.json ``for.heads_sha256``); a card, projectors or bands made for another model are refused with the
model they need. Still pictures are read in the encoder's whole view (as in training), without vqual-lite 2's
native crops of large pictures.

Videos: each second is scored from its key frame and chunk (the timeline); the video score comes from one pass over
at most `max_key_frames` seconds spread evenly over the video, key frame and chunk tokens in time order. Explaining,
each second gets its own explanation (kept in the timeline) and the video's names where it is worst ("Worst
moments: strong stutter at 4-6 s."), all by the same rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from vqual.heads.pooling import pool_worst
from vqual.heads.prediction import Prediction
from vqual.levels import LEVELS
from vqual.media import Chunk
from vqual.models.base import QualityModel
from vqual.models.cards import card_of
from vqual.weights import asset_path, resolve

LMM_CARD = "lmm/lmm.json"
BANDS_CARD = "lmm/severity_bands.json"


def lite_of(config: dict[str, Any]) -> str:
    """The registered vqual-lite model a vqual-lmm card's projectors read (its ``lite`` field)."""
    name = config.get("lite")
    if not isinstance(name, str) or not name:
        from vqual.errors import WeightsError

        raise WeightsError(f"{LMM_CARD}: no 'lite' field naming the vqual-lite model its projectors were trained on")
    return name


def check_projectors(config: dict[str, Any], lite_name: str, encoder_key: str, feature_dim: int,
                     attribute_names: list[str]) -> None:
    """Refuse projectors (their card `config`) made for another encoder, feature size or attribute head than the
    `lite_name` model's; the message names the model and the command that makes matching projectors."""
    from vqual.errors import WeightsError

    redo = f"retrain them with `python scripts/train_lmm.py --lite {lite_name}`"
    made = config.get("lite_encoder")
    if made != encoder_key:
        raise WeightsError(f"{LMM_CARD}: projectors were trained on encoder {made}, {lite_name} has {encoder_key}: "
                           f"{redo}")
    d = config["dims"]
    if d["global_dim"] != feature_dim:
        raise WeightsError(f"{LMM_CARD}: projectors read {d['global_dim']} global features, {lite_name} gives "
                           f"{feature_dim}: {redo}")
    if d.get("attr_dim", 0) and config["attributes"] != list(attribute_names):
        raise WeightsError(f"{LMM_CARD}: projectors were trained on attributes {config['attributes']}, {lite_name} "
                           f"reports {list(attribute_names)}: {redo}")


def check_bands(card: dict[str, Any], lite_name: str, lite_version: str, heads_sha256: str) -> None:
    """Refuse severity bands (severity_bands.json as a dict) fitted for other vqual-lite heads than `lite_name`'s;
    the message names the model the bands were fitted for and the command that refits them."""
    from vqual.errors import WeightsError

    made = card.get("for", {})
    sha = str(made.get("heads_sha256"))
    if sha != heads_sha256:
        raise WeightsError(f"{BANDS_CARD}: fitted for {made.get('model')} {made.get('version')} (heads {sha[:12]}), "
                           f"vqual-lmm reads {lite_name} {lite_version} (heads {heads_sha256[:12]}): run "
                           f"`python scripts/fit_severity_bands.py --lite {lite_name}`")


@dataclass(frozen=True)
class SecondInputs:
    """What `VqualLMM.predict_chunk` saw of one second (`Prediction.inputs`), read again by `VqualLMM.pool`."""

    visual: Any  # `vqual.lmm.model.Visual`: the second's key frame, grid, temporal and attribute tokens
    span: tuple[int, float, float]  # (chunk index, start s, end s)


class VqualLMM(QualityModel):
    name = "vqual-lmm"
    chunk_luma_size = 256
    trained_on = ("clive-fewlabel",)
    can_explain = True
    #: Most seconds the decoder sees at once for a video's pooled score (evenly spread, deterministic).
    max_key_frames = 16

    def __init__(self, max_pixels: int | None = None, decoder_path: str | None = None,
                 projectors_path: str | None = None):
        super().__init__(max_pixels=max_pixels)
        from vqual.runtime import missing

        if problem := missing("torch", "lmm", "vqual-lmm"):
            from vqual.errors import WeightsError

            raise WeightsError(problem)
        import torch
        from safetensors.torch import load_file

        from vqual.encoders.features import block_digest
        from vqual.lmm.decoder import load_decoder
        from vqual.lmm.model import LanguagePath
        from vqual.lmm.projectors import Projectors
        from vqual.lmm.visual import FrameEncoder
        from vqual.registry import create_model

        card = card_of(self.name)
        self.config = card.config
        self.version = card.version
        sha = None if projectors_path else card.sha256("projectors.safetensors")
        path = resolve("lmm/projectors.safetensors", sha, explicit=projectors_path)
        self.weights_sha256 = sha
        lite_name = lite_of(self.config)
        if card_of(lite_name).family != "vqual-lite":
            from vqual.errors import WeightsError

            raise WeightsError(f"{LMM_CARD}: 'lite' is {lite_name}, not a vqual-lite model")
        # the language path reads stage maps, which only the torch engine gives (vqual-lmm needs torch anyway); the
        # lite model shares that encoder (`get_encoder` keeps one per block and engine)
        self.lite = create_model(lite_name, max_pixels=max_pixels, engine="torch")
        self.frames = FrameEncoder(self.lite.encoder)
        self.bands = self._severity_bands()
        check_projectors(self.config, lite_name, block_digest(self.lite.encoder.block), self.lite.encoder.dim,
                         list(self.lite.heads["attributes"].names))
        decoder = load_decoder(decoder_path)
        if decoder_path is None and decoder.sha256 != self.config["decoder"]["sha256"]:
            raise RuntimeError(f"projectors were trained for decoder sha256 {self.config['decoder']['sha256'][:12]}")
        self.decoder = decoder.name
        self.decoder_version = (decoder.sha256 or "unknown")[:12]
        d = self.config["dims"]
        projectors = Projectors(d["global_dim"], d["grid_dim"], d["n_grid"], d["temporal_dim"], d["hidden"],
                                d["width"], d["heads"], attr_dim=d.get("attr_dim", 0),
                                temporal_attr_dim=d.get("temporal_attr_dim", 0))
        self._with_attributes = bool(d.get("attr_dim", 0))
        if d.get("temporal_attr_dim", 0):
            from vqual.encoders.temporal import ATTRIBUTES, FEATURE_NAMES

            tail = [n.removeprefix("sev_") for n in FEATURE_NAMES[-d["temporal_attr_dim"]:]]
            trained = self.config["temporal_attributes"]
            if trained != tail or tail != list(ATTRIBUTES):
                raise RuntimeError(f"projectors were trained on temporal attributes {trained}, the temporal encoder's "
                                   f"features end with {tail}")
        projectors.load_state_dict(load_file(str(path)))
        projectors.eval()
        self.path = LanguagePath(decoder, projectors)
        self._torch = torch

    def _severity_bands(self):
        """The fitted severity bands of the explanations (assets/lmm/severity_bands.json), checked to belong to the
        vqual-lite attribute head this model reads."""
        from vqual.errors import WeightsError
        from vqual.lmm.explain import SeverityBands

        card = json.loads(asset_path(BANDS_CARD).read_text())
        check_bands(card, self.lite.name, self.lite.version, str(self.lite.weights_sha256))
        missing = [a for a in (*self.lite.attribute_names, *self.config.get("temporal_attributes", ()))
                   if a not in card["attributes"]]
        if missing:
            raise WeightsError(f"{BANDS_CARD}: no bands for {', '.join(missing)}")
        return SeverityBands.shipped()

    # --- helpers ---------------------------------------------------------------------------------------------------
    def _ask(self, media: str, visual, attributes: dict[str, float]) -> Prediction:
        from vqual.lmm.explain import check, display, grounded, level_ceiling
        from vqual.lmm.model import expected_score
        from vqual.lmm.prompts import LEVEL_WORDS, Conversation, Turn, instruction

        with self._torch.inference_mode():
            n = visual.global_feats.shape[0]
            conv = Conversation(media, n, [Turn("score", instruction("score", media))])
            probs, mass = self.path.level_probs(conv, visual)
            ceiling = level_ceiling(attributes, self.bands)
            if ceiling is not None:  # the measurements rule out the better levels: condition the words on them
                probs = np.where(np.arange(len(LEVEL_WORDS)) < LEVELS.index(ceiling), 0.0, probs)
                probs = probs / probs.sum()
            score, spread = expected_score(probs)
            level_probs = {w: float(p) for w, p in zip(LEVEL_WORDS, probs)}
            pred = Prediction(score=score, uncertainty=spread, raw=score, attributes=dict(attributes),
                              level_probs=level_probs)
            if self.explain:
                level = self.level_of(score)
                allowed = grounded(media, score, attributes, level=level, bands=self.bands)
                if len(allowed) == 1:  # the rule leaves one answer: nothing for the decoder to choose
                    text = allowed[0]
                else:
                    text = self.path.generate(
                        Conversation(media, n, [Turn("explain", instruction("explain", media))]), visual,
                        allowed=allowed)
                text = display(text)  # article order only: "noticeable a colour cast" -> "a noticeable colour cast"
                pred.explanation = text
                pred.explanation_check = check(text, score, attributes, level=level, media=media,
                                               bands=self.bands).as_dict()
        return pred

    def _attributes(self, global_feats: np.ndarray) -> tuple[dict[str, float], np.ndarray | None]:
        """The lite attribute head's severities by name, and as the attribute token's (1, A) input (or None)."""
        head = self.lite.heads["attributes"]
        vals = np.clip(head(global_feats.astype(np.float64)), 0.0, 1.0)
        token = vals[None].astype(np.float32) if self._with_attributes else None
        return {n: float(v) for n, v in zip(head.names, vals)}, token

    # --- hooks -----------------------------------------------------------------------------------------------------
    def predict_image(self, rgb: np.ndarray) -> Prediction:
        from vqual.lmm.model import Visual

        f = self.frames(rgb)
        attrs, token = self._attributes(f.global_feats)
        return self._ask("image", Visual(f.global_feats[None], f.grid[None], attributes=token), attrs)

    def predict_chunk(self, chunk: Chunk) -> Prediction:
        from vqual.lmm.model import Visual

        f = self.frames(chunk.key_frame)
        tf = self.lite.temporal.encode(chunk)
        image_attrs, token = self._attributes(f.global_feats)
        attrs = {**image_attrs, **{k: float(v) for k, v in tf.severities.items()}}
        visual = Visual(f.global_feats[None], f.grid[None], tf.vector[None].astype(np.float32), token)
        pred = self._ask("video", visual, attrs)  # explaining: this second's explanation (the timeline keeps it)
        pred.inputs = SecondInputs(visual, (chunk.index, float(chunk.t0), float(chunk.t1)))  # for `pool`
        return pred

    def pool(self, seconds: list[Prediction]) -> Prediction:
        from vqual.lmm.explain import Second, check, with_worst_moments, worst_moments
        from vqual.lmm.model import Visual

        k = len(seconds)
        idx = sorted(set(np.linspace(0, k - 1, min(k, self.max_key_frames)).round().astype(int).tolist()))
        parts = [seconds[i].inputs.visual for i in idx]
        visual = Visual(np.concatenate([p.global_feats for p in parts]), np.concatenate([p.grid for p in parts]),
                        np.concatenate([p.temporal for p in parts]),
                        None if parts[0].attributes is None else np.concatenate([p.attributes for p in parts]))
        attrs = pool_worst(seconds, self.lite.worst_fraction).attributes
        pred = self._ask("video", visual, attrs)
        if not self.explain:
            return pred
        # the whole video: the grounded sentence on its pooled attributes, then where it is worst (the seconds that
        # score lowest, as the result's `worst` lists them), each read back with the timeline
        timeline = [Second(*p.inputs.span, score=p.score, attributes=p.attributes, level=self.level_of(p.score))
                    for p in seconds]
        pred.explanation = with_worst_moments(pred.explanation, worst_moments(timeline, self.n_worst, bands=self.bands))
        level = self.level_of(pred.score)
        result = check(pred.explanation, pred.score, attrs, level=level, timeline=timeline, media="video",
                       bands=self.bands).as_dict()
        for sec, p in zip(timeline, seconds):  # every second's own explanation is checked too
            for c in (p.explanation_check or {}).get("contradictions", []):
                detail = f"at {sec.start:g}-{sec.end:g} s: {c['detail']}"
                result["contradictions"].append({**c, "detail": detail})
                result["problems"].append(f"{c['kind']}: {detail}")
        result["consistent"] = not result["contradictions"]
        pred.explanation_check = result
        return pred
