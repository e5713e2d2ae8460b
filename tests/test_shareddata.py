"""tests/shareddata.py: a test that needs ../shared is skipped without it, but fails under CI (CI has ../shared)."""

import pytest
import shareddata


@pytest.mark.parametrize(("value", "ci"), [(None, False), ("", False), ("0", False), ("false", False),
                                           ("true", True), ("1", True), ("TRUE", True)])
def test_ci_is_read_from_the_environment(monkeypatch, value, ci):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert shareddata.in_ci() is ci


def test_missing_shared_data_skips_locally_and_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setattr(shareddata, "SHARED_DATA", tmp_path)
    (tmp_path / "here").mkdir()
    monkeypatch.setenv("CI", "true")
    assert shareddata.shared_data("here") == tmp_path / "here"
    with pytest.raises(pytest.fail.Exception, match="CI must provide it"):
        shareddata.shared_data("gone")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="gone not found"):
        shareddata.shared_data("gone")
