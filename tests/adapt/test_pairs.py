"""The synthetic pair prior of `vqual train`: the packaged asset, the exact joint fit, and its use by `train_head`
and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from adaptfakes import make_grey_set

from vqual.adapt.pairs import PairPrior, fit_with_pairs, load_pair_prior
from vqual.adapt.train import TrainConfig, TrainError, train_head
from vqual.cli import main

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_home")


def toy_prior(d=6, weight=1.0, alphas=(0.1, 1.0, 10.0)) -> PairPrior:
    """Pairs that say: more of feature 0 is better (differences along +e0, with a little of the others)."""
    rng = np.random.default_rng(0)
    diffs = np.zeros((40, d))
    diffs[:, 0] = rng.uniform(0.5, 2.0, 40)
    diffs[:, 1:] = rng.normal(0, 0.05, (40, d - 1))
    u, s, vt = np.linalg.svd(diffs, full_matrices=False)
    return PairPrior(coef=u * s, basis=vt, scale=np.ones(d), weight=weight, margin=0.1, alphas_per_label=alphas,
                     sha256="toy", encoder="toy")


def test_without_pairs_the_fit_is_closed_form_ridge():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(15, 6)) * 2 + 1
    y = 3 + x[:, 2] - 0.5 * x[:, 3] + rng.normal(0, 0.1, 15)
    prior = toy_prior()
    head = fit_with_pairs(x, y, prior, alpha=2.0, weight=0.0)
    z = (x - x.mean(0)) / prior.scale
    w = np.linalg.solve(z.T @ z + 2.0 * np.eye(6), z.T @ (y - y.mean()))
    np.testing.assert_allclose(head.weight[:, 0], w, atol=1e-6)
    np.testing.assert_allclose(head.bias, [y.mean()], atol=1e-6)


def test_pairs_pull_the_head_towards_what_they_prefer():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 6))
    y = 3 + 0.8 * x[:, 1] + rng.normal(0, 0.3, 12)  # the labels know nothing of feature 0
    prior = toy_prior(weight=1.0)
    plain = fit_with_pairs(x, y, prior, alpha=1.0, weight=0.0).weight[:, 0]
    joint = fit_with_pairs(x, y, prior, alpha=1.0).weight[:, 0]
    assert joint[0] > plain[0] + 0.05
    d = prior.coef @ prior.basis
    assert np.mean(d @ joint > 0) > 0.95  # the pairs are ranked as they say
    assert joint[1] > 0.3  # and the labels are still learnt


def test_train_head_with_pairs_chooses_alpha_on_folds_and_is_deterministic():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(30, 6))
    y = 3 + 0.6 * x[:, 0] + 0.4 * x[:, 1] + rng.normal(0, 0.2, 30)
    prior = toy_prior()
    a = train_head(x, y, config=TrainConfig(seed=0), pairs=prior)
    b = train_head(x, y, config=TrainConfig(seed=0), pairs=prior)
    assert all(np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays)
    assert a.alpha / len(y) in prior.alphas_per_label and a.best_epoch == 0
    info = a.info()
    assert info["synthetic_pairs"]["n_pairs"] == 40 and info["ridge_alpha"] == a.alpha
    assert a.val_pred.shape == (30,) and info["validation_srcc"] > 0.7
    assert np.corrcoef(a.head(x)[:, 0], y)[0, 1] > 0.8


def test_train_head_refuses_pairs_it_cannot_use():
    x = np.random.default_rng(0).normal(size=(20, 6))
    y = np.linspace(1, 5, 20)
    with pytest.raises(TrainError, match="need a linear head"):
        train_head(x, y, config=TrainConfig(head="mlp"), pairs=toy_prior())
    with pytest.raises(TrainError, match="6 features.*these features have 5"):
        train_head(x[:, :5], y, pairs=toy_prior())


@pytest.mark.parametrize("encoder", ["lite", "lite2"])
def test_packaged_prior_matches_its_encoder(encoder):
    from vqual.encoders.features import encoder_config, get_encoder

    prior = load_pair_prior(encoder)
    assert prior.encoder == encoder and prior.coef.shape == (1440, 128) and prior.basis.shape == (128, prior.dim)
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert np.asarray(get_encoder(encoder_config(encoder))(rgb)).shape == (prior.dim,)
    assert np.all(prior.scale > 0) and 0 < prior.weight and prior.alphas_per_label


def test_lite2_prior_belongs_to_the_shipped_lite2_encoder():
    from vqual.weights import asset_path

    meta = json.loads(asset_path("lite2/pairs.json").read_text())
    card = json.loads(asset_path("lite2/lite2.json").read_text())
    assert meta["encoder_sha256"] == card["weights"]["encoder.npz"]  # rebuilt whenever the encoder is retrained


def test_no_prior_for_other_encoders():
    from vqual.adapt.pairs import has_pair_prior
    from vqual.errors import VqualError

    assert has_pair_prior("lite") and has_pair_prior("lite2") and not has_pair_prior("lite-small")
    with pytest.raises(VqualError, match="no synthetic pair prior ships for the 'lite-small' encoder"):
        load_pair_prior("lite-small")


def test_cli_uses_pairs_by_default_on_lite2_and_refuses_them_elsewhere(tmp_path, capsys):
    labels = make_grey_set(tmp_path / "set", n=20)
    out = tmp_path / "head"
    assert main(["train", "--manifest", str(labels), "--out", str(out), "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    card = json.loads((out / "model.json").read_text())
    training = card["provenance"]["training"]
    assert card["encoder"]["name"] == "lite2"  # the default model's encoder
    assert training["synthetic_pairs"]["sha256"] == load_pair_prior("lite2").sha256 and "1440 synthetic pairs" in stdout
    off = tmp_path / "off"
    assert main(["train", "--manifest", str(labels), "--out", str(off), "--no-synthetic-pairs", "--max-epochs", "50",
                 "--no-progress"]) == 0
    assert "synthetic_pairs" not in json.loads((off / "model.json").read_text())["provenance"]["training"]
    capsys.readouterr()
    code = main(["train", "--manifest", str(labels), "--out", str(tmp_path / "x"), "--encoder", "lite-small",
                 "--synthetic-pairs", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "--synthetic-pairs needs --head linear and an encoder with a pair prior (lite or lite2)" \
        in err[-1]
