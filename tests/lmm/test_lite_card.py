"""Which vqual-lite model vqual-lmm reads is its card's (lmm.json ``lite``), and projectors or severity bands made for
another encoder or other heads are refused with a message naming the model they need. No decoder is loaded."""

from __future__ import annotations

import copy

import pytest

from vqual.encoders.features import block_digest, encoder_config
from vqual.errors import WeightsError
from vqual.models import lmm as L
from vqual.models.cards import card_of


def test_the_shipped_card_names_a_registered_vqual_lite_and_its_encoder():
    config = card_of("vqual-lmm").config
    lite = card_of(L.lite_of(config))
    assert lite.family == "vqual-lite" and lite.name == config["lite"]
    assert config["preset"] == lite.preset  # the card's encoder preset is the lite model's
    assert config["lite_encoder"] == block_digest(encoder_config(str(lite.preset)))


def test_a_card_without_lite_is_refused():
    config = {k: v for k, v in card_of("vqual-lmm").config.items() if k != "lite"}
    with pytest.raises(WeightsError, match=r"lmm/lmm.json: no 'lite' field"):
        L.lite_of(config)


def test_block_digest_keeps_encoders_apart():
    a, b = block_digest(encoder_config("lite")), block_digest(encoder_config("lite2"))
    assert a.startswith("lite-") and b.startswith("lite2-") and a[-12:] != b[-12:]
    assert block_digest(encoder_config("lite")) == a  # deterministic


class _Built(Exception):
    pass


@pytest.mark.parametrize("name", ["vqual-lite", "vqual-lite@2.0"])
def test_vqual_lmm_builds_the_lite_model_its_card_names(monkeypatch, name):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    import vqual.registry

    card = card_of("vqual-lmm")
    card.config["lite"] = name  # `read_card` gives a fresh config dict: the shipped card is untouched
    monkeypatch.setattr(L, "card_of", lambda n: card if n == "vqual-lmm" else card_of(n))
    seen = []

    def create_model(n, **options):
        seen.append((n, options))
        raise _Built

    monkeypatch.setattr(vqual.registry, "create_model", create_model)
    with pytest.raises(_Built):
        L.VqualLMM()
    assert seen == [(name, {"max_pixels": None, "engine": "torch"})]


def test_a_card_naming_another_kind_of_model_is_refused(monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    card = card_of("vqual-lmm")
    card.config["lite"] = "niqe"
    monkeypatch.setattr(L, "card_of", lambda n: card if n == "vqual-lmm" else card_of(n))
    with pytest.raises(WeightsError, match="'lite' is niqe, not a vqual-lite model"):
        L.VqualLMM()


# --- projectors ----------------------------------------------------------------------------------------------------
CONFIG = {"dims": {"global_dim": 4155, "attr_dim": 3}, "attributes": ["blur", "noise", "colour"],
          "lite_encoder": "lite2-0123456789ab"}


def test_matching_projectors_pass():
    L.check_projectors(CONFIG, "vqual-lite@2.0", "lite2-0123456789ab", 4155, ["blur", "noise", "colour"])


def test_projectors_for_another_encoder_are_refused():
    with pytest.raises(WeightsError, match=r"trained on encoder lite2-0123456789ab, vqual-lite has "
                                           r"lite-5383c9ead3ed: retrain them with `python scripts/train_lmm.py "
                                           r"--lite vqual-lite`"):
        L.check_projectors(CONFIG, "vqual-lite", "lite-5383c9ead3ed", 4155, ["blur", "noise", "colour"])


def test_projectors_for_other_features_or_attributes_are_refused():
    with pytest.raises(WeightsError, match="read 4155 global features, vqual-lite@2.0 gives 1595"):
        L.check_projectors(CONFIG, "vqual-lite@2.0", "lite2-0123456789ab", 1595, ["blur", "noise", "colour"])
    with pytest.raises(WeightsError, match=r"trained on attributes \['blur', 'noise', 'colour'\], vqual-lite@2.0 "
                                           r"reports \['blur', 'noise'\]"):
        L.check_projectors(CONFIG, "vqual-lite@2.0", "lite2-0123456789ab", 4155, ["blur", "noise"])
    no_token = copy.deepcopy(CONFIG)
    no_token["dims"]["attr_dim"] = 0  # projectors without an attribute token do not read the attribute head
    L.check_projectors(no_token, "vqual-lite@2.0", "lite2-0123456789ab", 4155, ["blur"])


def test_the_shipped_projectors_fit_the_lite_model_they_name():
    config = card_of("vqual-lmm").config
    lite = card_of(config["lite"])
    L.check_projectors(config, lite.name, block_digest(encoder_config(str(lite.preset))),
                       config["dims"]["global_dim"], lite.config["attributes"]["names"])


# --- severity bands ------------------------------------------------------------------------------------------------
BANDS = {"for": {"model": "vqual-lite", "version": "1.0.0", "heads_sha256": "65e182bc1a99" + "0" * 52}}


def test_bands_for_other_heads_are_refused_naming_both_models():
    with pytest.raises(WeightsError) as e:
        L.check_bands(BANDS, "vqual-lite@2.0", "2.1.0", "31a9f2abb5d1" + "1" * 52)
    msg = str(e.value)
    assert msg == ("lmm/severity_bands.json: fitted for vqual-lite 1.0.0 (heads 65e182bc1a99), vqual-lmm reads "
                   "vqual-lite@2.0 2.1.0 (heads 31a9f2abb5d1): run `python scripts/fit_severity_bands.py "
                   "--lite vqual-lite@2.0`")
    L.check_bands(BANDS, "vqual-lite", "1.0.0", BANDS["for"]["heads_sha256"])  # the heads they were fitted for


def test_bands_without_a_record_are_refused():
    with pytest.raises(WeightsError, match="fitted for None None"):
        L.check_bands({}, "vqual-lite@2.0", "2.1.0", "31a9f2abb5d1" + "1" * 52)
