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
