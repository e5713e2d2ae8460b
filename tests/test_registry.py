import pytest

import vqual.registry as registry
from vqual.errors import ModelNotFoundError


def test_default_model_listed_first():
    specs = registry.list_models()
    assert specs[0].name == registry.default_model_name()
    assert all(s.version for s in specs)


def test_unknown_name_suggests():
    with pytest.raises(ModelNotFoundError, match="did you mean 'niqe'"):
        registry.get_spec("nique")
    with pytest.raises(KeyError):  # also a KeyError, as users of registries expect
        registry.get_spec("zzz-not-a-model")


def test_pattern():
    assert [s.name for s in registry.list_models("niq*")] == ["niqe"]
    assert registry.list_models("nothing*") == []


def test_double_registration_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register(registry.get_spec("niqe"))


def test_builtin_versions_are_their_cards():
    from vqual.models.cards import BUILTIN, read_card

    for spec in BUILTIN:
        assert spec.version == read_card(spec.card).version
        assert registry.get_spec(spec.name) is spec
    assert registry.default_model_name() == BUILTIN[0].name


def test_registered_adds_for_a_block_only():
    from vqual.models.cards import ModelSpec

    spec = ModelSpec(name="fake-for-a-block", version="0", factory="x:Y", description="")
    with registry.registered(spec):
        assert registry.get_spec("fake-for-a-block") is spec
    with pytest.raises(ModelNotFoundError):
        registry.get_spec("fake-for-a-block")


def test_registry_and_models_do_not_import_each_other():
    import subprocess
    import sys

    code = ("import sys, vqual.models.user, vqual.models.base, vqual.models.cards; "
            "print('vqual.registry' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_builtin_cards_are_one_schema():
    """Every built-in card has the identity fields, typed; its weights files are the ones it names (sha256); the
    registry entry's version, description and kinds are the card's."""
    from vqual.encoders.features import PRESETS
    from vqual.models.cards import BUILTIN, IDENTITY_KEYS, Training, card_of
    from vqual.weights import asset_path, read_asset_json, sha256_file

    for spec in BUILTIN:
        raw = read_asset_json(str(spec.card))
        assert set(IDENTITY_KEYS) <= set(raw), spec.name
        card = card_of(spec.name)
        assert (card.name, card.version, card.description, card.kinds) == (spec.name, spec.version,
                                                                            spec.description, spec.kinds)
        assert card.score_range == (1.0, 5.0) and card.weights
        for file, sha in card.weights:
            assert sha256_file(asset_path(f"{card.folder}/{file}")) == sha, (spec.name, file)
        assert card.preset is None or card.preset in PRESETS
        assert card.training is None or isinstance(card.training, Training)
    assert card_of("vqual-lite@2.0").training.code_version and card_of("vqual-lite@2.0").training.args
    assert card_of("niqe").training is None and card_of("niqe").preset is None


def test_a_rewritten_card_keeps_its_identity_and_its_version_history():
    """scripts/train_lite2.py and scripts/train_lmm.py rebuild their cards from `identity(old card)`: the version
    history (`changes`, written by hand) must survive a retrain, and nothing else rides along."""
    from vqual.models.cards import identity
    from vqual.weights import read_asset_json

    old = read_asset_json("lmm/lmm.json")
    kept = identity(old)
    assert kept["changes"] == old["changes"] and kept["version"] == old["version"]
    assert "cv" not in kept and "tertiles" not in kept
