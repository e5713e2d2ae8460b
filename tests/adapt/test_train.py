"""Head warm-up: `train_head` on synthetic features, and ``vqual train`` end to end on tiny images."""

from __future__ import annotations

import json
import shlex
import sys

import numpy as np
import pytest
from adaptfakes import make_grey_set
from scipy import stats

import vqual
from vqual.adapt.train import TrainConfig, TrainError, train_head, validation_splits
from vqual.cli import main
from vqual.heads.levels import fit_tau

FAST = ["--max-epochs", "150", "--patience", "30", "--no-progress"]


pytestmark = pytest.mark.usefixtures("one_thread", "isolated_home")


def linear_data(n=80, d=30, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 5, size=d) + rng.normal(size=d) * 10
    w = np.zeros(d)
    w[:3] = (0.8, -0.5, 0.3)
    z = (x - x.mean(0)) / x.std(0)
    y = 3.0 + 0.5 * (z @ w) + rng.normal(0, noise, size=n)
    return x, y


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_head_learns_and_generalises(kind):
    x, y = linear_data(n=120)
    cfg = TrainConfig(head=kind, hidden=16, max_epochs=400, patience=50, lr=None if kind == "linear" else 1e-2)
    head = train_head(x[:80], y[:80], config=cfg)
    pred = head.head(x[80:])[:, 0]
    assert pred.shape == (40,)
    assert stats.spearmanr(pred, y[80:]).statistic > 0.85
    assert head.val_pred.shape == (80,) and head.n_folds == 5  # every item validated once, out of fold
    assert head.info()["validation_srcc"] > 0.8


def test_deterministic_and_seeded():
    x, y = linear_data()
    a = train_head(x, y, config=TrainConfig(max_epochs=100))
    b = train_head(x, y, config=TrainConfig(max_epochs=100))
    assert all(np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays)
    c = train_head(x, y, config=TrainConfig(max_epochs=100, seed=1))  # other folds
    assert c.best_epoch != a.best_epoch or not np.array_equal(c.val_pred, a.val_pred)


def test_early_stopping_stops_early_on_noise():
    x, _ = linear_data()
    y = 3.0 + np.random.default_rng(5).normal(size=len(x))  # nothing to learn
    head = train_head(x, y, config=TrainConfig(max_epochs=400, patience=30))
    clean = train_head(*linear_data(noise=0.01), config=TrainConfig(max_epochs=400, patience=30))
    assert head.best_epoch < clean.best_epoch


def test_single_validation_split_grouped():
    groups = [f"c{i // 3}" for i in range(30)]
    [(tr, va)] = validation_splits(groups, TrainConfig(val_folds=1, val_fraction=0.2))
    assert len(va) >= 6 and not {groups[i] for i in tr} & {groups[i] for i in va}


@pytest.mark.parametrize("y, match", [(np.full(20, 3.0), "labels are equal"), (np.arange(5.0), "at least 10")])
def test_bad_labels(y, match):
    with pytest.raises(TrainError, match=match):
        train_head(np.random.default_rng(0).normal(size=(len(y), 4)), y)


def test_fit_tau_sharper_for_better_scores():
    rng = np.random.default_rng(0)
    y = rng.uniform(1, 5, 300)
    assert fit_tau(y + rng.normal(0, 0.05, 300), y) < fit_tau(y + rng.normal(0, 0.8, 300), y)


def test_train_cli_end_to_end(tmp_path, capsys):
    labels = make_grey_set(tmp_path / "set", n=30)
    out = tmp_path / "head"
    code = main(["train", "--manifest", str(labels), "--n-labels", "24", "--encoder", "lite-small", "--out", str(out),
                 *FAST])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    card = json.loads((out / "model.json").read_text())
    assert card["name"] == "head" and card["head"] == {"type": "linear"}
    assert card["trained_on"] == ["labels"] and card["provenance"]["made_by"] == "vqual train"
    assert card["provenance"]["n_labels"] == 24 and card["provenance"]["n_items"] == 30
    assert "--n-labels 24" in card["provenance"]["command"] and f"wrote {out}" in stdout
    model = vqual.load_model(str(out))
    scores = [model.score(str(p)).score for p in sorted((tmp_path / "set" / "img").glob("*.png"))]
    mos = [float(r.split(",")[1]) for r in labels.read_text().split()[1:]]
    assert stats.spearmanr(scores, mos).statistic > 0.8  # grey level -> MOS, learnt through the encoder

    # named: goes to the models home, usable by name; a second run refuses to overwrite
    assert main(["train", "--manifest", str(labels), "--encoder", "lite-small", "--name", "greys", *FAST]) == 0
    assert vqual.load_model("greys").name == "greys"
    capsys.readouterr()
    assert main(["train", "--manifest", str(labels), "--name", "greys", *FAST]) == 2
    assert "already exists" in capsys.readouterr().err


def test_provenance_records_the_command_line_as_typed(tmp_path, capsys, monkeypatch):
    labels = make_grey_set(tmp_path / "my set", n=12)  # a space: the command is shell-quoted
    out = tmp_path / "head"
    argv = ["--debug", "train", "--manifest", str(labels), "--encoder", "lite-small", "--out", str(out), *FAST]
    assert main(argv) == 0, capsys.readouterr().err
    command = json.loads((out / "model.json").read_text())["provenance"]["command"]
    assert command == shlex.join(["vqual", *argv]) and shlex.split(command)[1:] == argv

    again = ["vqual", "--debug", "train", "--overwrite", *argv[2:]]
    monkeypatch.setattr(sys, "argv", again)  # run as the console script: main() reads sys.argv
    assert main() == 0, capsys.readouterr().err
    assert json.loads((out / "model.json").read_text())["provenance"]["command"] == shlex.join(again)


@pytest.mark.parametrize("argv, match", [
    (["--out", "x"], "give exactly one of --dataset or --manifest"),
    (["--manifest", "nope.csv", "--out", "x"], "does not exist"),
    (["--manifest", "{labels}", "--name", "niqe"], "built-in"),
    (["--manifest", "{labels}"], "give --out DIR or --name NAME"),
    (["--manifest", "{labels}", "--out", "x", "--n-labels", "500"], "cannot draw 500"),
    (["--manifest", "{labels}", "--out", "x", "--n-labels", "6"], "at least 10"),
    (["--dataset", "clive-fewlabel", "--out", "x"], "needs --root"),
])
def test_train_cli_bad_input_one_line(tmp_path, capsys, argv, match):
    labels = make_grey_set(tmp_path / "set", n=12)
    argv = [a.replace("{labels}", str(labels)) for a in argv]
    code = main(["train", *argv, "--encoder", "lite-small", *FAST])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and match in err[-1] and err[-1].startswith("vqual train: error:")
