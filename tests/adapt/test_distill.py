"""Distillation: teacher signals and their reliabilities, the student's joint fit, the cached (resumable) teacher
pass, and ``vqual distill`` end to end with a fake teacher on tiny images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from adaptfakes import SPEC, GreyModel, make_grey_set
from scipy import stats

import vqual
from vqual import registry
from vqual.adapt.distill import DistillConfig, DistillError, fit_student, teacher_scores, teacher_signals, view_image
from vqual.cli import main
from vqual.eval.cache import PredictionCache

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_home")


@pytest.fixture(autouse=True)
def _env():
    with registry.registered(SPEC):
        yield


def test_signals_reliability_follows_agreement():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=50)
    a = truth.copy()
    b = truth.copy()
    b[:10] = -truth[:10]  # the two members disagree on the first ten items only
    sig = teacher_signals(np.stack([a, b])[:, None, :], n_pairs=2000, seed=0)
    assert sig.reliability[:10].mean() < 0.8 * sig.reliability[10:].mean()
    assert np.allclose(sig.reliability[10:], sig.reliability[10:].max(), atol=0.1)
    # pairs: the preference follows the teacher; agreeing pairs with a large margin are the most reliable
    later = (sig.pairs >= 10).all(axis=1)
    d = truth[sig.pairs[later, 0]] - truth[sig.pairs[later, 1]]
    assert np.all((sig.preference[later] > 0.5) == (d > 0))
    big = later & (np.abs(truth[sig.pairs[:, 0]] - truth[sig.pairs[:, 1]]) > 1)
    assert sig.pair_reliability[big].mean() > 0.8 > sig.pair_reliability[~later].mean()
    same = teacher_signals(np.stack([a, b])[:, None, :], n_pairs=2000, seed=0)
    assert np.array_equal(same.pairs, sig.pairs) and np.array_equal(same.preference, sig.preference)
    assert not np.any(sig.pairs[:, 0] == sig.pairs[:, 1])


def test_signals_refuse_items_without_scores():
    s = np.ones((1, 1, 5))
    s[0, 0, 2] = np.nan
    with pytest.raises(DistillError, match="no teacher score"):
        teacher_signals(s, n_pairs=10)


def test_student_learns_teacher_order_without_labels_in_loss():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 20))
    teacher = x[:, 0] - 0.5 * x[:, 1]
    sig = teacher_signals(teacher[None, None, :], n_pairs=2000, seed=0)
    labelled = np.arange(12)
    y = 3 + 0.4 * teacher[labelled]  # the labels only set the scale here
    head, info = fit_student(x, sig, labelled, y, DistillConfig(label_weight=0.0, alpha=1e-3))
    q = head(x)[:, 0]
    assert stats.spearmanr(q, teacher).statistic > 0.98
    assert abs(np.std(q) - 0.4 * np.std(teacher)) < 0.1  # on the labels' scale
    # with the pair term alone (no point term weight through reliability 0), the order is still learnt
    sig.reliability[:] = 1e-9
    head, _ = fit_student(x, sig, labelled, y, DistillConfig(label_weight=0.0, alpha=1e-3))
    assert stats.spearmanr(head(x)[:, 0], teacher).statistic > 0.95


class CountingGrey(GreyModel):
    calls = 0

    def predict_image(self, rgb):
        type(self).calls += 1
        return super().predict_image(rgb)


def test_teacher_pass_cached_and_resumable(tmp_path):
    make_grey_set(tmp_path / "u", n=8)
    paths = sorted(str(p) for p in (tmp_path / "u" / "img").glob("*.png"))
    cache = PredictionCache(tmp_path / "c")
    CountingGrey.calls = 0
    first, errors = teacher_scores([CountingGrey()], paths[:5], ("orig", "hflip"), cache=cache, progress=False)
    assert CountingGrey.calls == 10 and errors == [None] * 5
    again, _ = teacher_scores([CountingGrey()], paths, ("orig", "hflip"), cache=cache, progress=False)
    assert CountingGrey.calls == 10 + 6  # only the three new files were scored (two views each)
    assert np.array_equal(again[:, :, :5], first)
    cache.close()


def test_views():
    a = np.arange(40 * 60 * 3, dtype=np.uint8).reshape(40, 60, 3)
    assert np.array_equal(view_image(a, "hflip")[:, 0], a[:, -1])
    assert view_image(a, "crop").shape == (36, 54, 3)
    with pytest.raises(DistillError, match="unknown teacher view 'rot'"):
        view_image(a, "rot")


def test_distill_cli_end_to_end(tmp_path, capsys):
    labels = make_grey_set(tmp_path / "few", n=12)
    make_grey_set(tmp_path / "unl", n=40, seed=1)
    test = make_grey_set(tmp_path / "test", n=20, seed=2)
    code = main(["distill", "--teacher", "fake-grey", "--unlabelled", str(tmp_path / "unl"), "--labels", str(labels),
                 "--name", "student", "--no-progress"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "52 items" in stdout and "12 labels" in stdout and "wrote" in stdout and "cross-fitted" in stdout
    model = vqual.load_model("student")
    card = model.card
    assert card.provenance["made_by"] == "vqual distill"
    assert card.provenance["teacher"] == [{"name": "fake-grey", "version": "1.0", "weights_sha256": "f" * 64}]
    assert card.provenance["n_unlabelled"] == 40 and card.provenance["views"] == ["orig", "hflip"]
    assert card.encoder["name"] == "lite-small" and card.score_map is not None
    assert card.trained_on == ["labels"]
    assert card.provenance["student"]["cross_fitted"]["srcc"] > 0.8  # students that did not learn those labels
    rows = [r.split(",") for r in test.read_text().split()[1:]]
    scores = [model.score(str(tmp_path / "test" / p)).score for p, _ in rows]
    assert stats.spearmanr(scores, [float(m) for _, m in rows]).statistic > 0.9  # held-out images

    # the second run reads every teacher output from the cache (resumable) and writes the same student
    code = main(["distill", "--teacher", "fake-grey", "--unlabelled", str(tmp_path / "unl"), "--labels", str(labels),
                 "--out", str(tmp_path / "again"), "--name", "student", "--no-progress"])
    assert code == 0
    again = json.loads((tmp_path / "again" / "model.json").read_text())
    assert again["weights"]["sha256"] == card.weights_sha256


@pytest.mark.parametrize("extra, match", [
    (["--views", "orig,rot"], "unknown teacher view 'rot'"),
    (["--teacher", "fake-gray"], "did you mean 'fake-grey'"),
    (["--labels", "{few5}"], "at least 10"),
    (["--name", "vqual-lite"], "built-in"),
    (["--unlabelled", "{empty}"], "no media files"),
])
def test_distill_cli_bad_input_one_line(tmp_path, capsys, extra, match):
    labels = make_grey_set(tmp_path / "few", n=12)
    few5 = make_grey_set(tmp_path / "few5", n=5)
    make_grey_set(tmp_path / "unl", n=6, seed=1)
    (tmp_path / "empty").mkdir()
    argv = {"--teacher": "fake-grey", "--unlabelled": str(tmp_path / "unl"), "--labels": str(labels),
            "--name": "s"}
    for k, v in zip(extra[::2], extra[1::2]):
        argv[k] = v.replace("{few5}", str(few5)).replace("{empty}", str(tmp_path / "empty"))
    code = main(["distill", *[a for kv in argv.items() for a in kv], "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and match in err[-1], err
    assert not (tmp_path / "home" / "models" / "s").exists()
