"""scripts/train_lite2.py on a machine without the training checkpoint (#21: the heads stage and
scripts/fit_severity_bands.py rerun where only the repository and BIQ2021 are): the exported trunk loads exactly the
shipped encoder weights, and the trained score head read back from score-biq.npz is the shipped end-to-end head."""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import train_lite2 as L2  # noqa: E402

from vqual.heads.store import load_heads  # noqa: E402


def test_exported_trunk_holds_the_shipped_encoder_weights():
    model = L2.exported_trunk()
    with np.load(L2.ASSET, allow_pickle=False) as z:
        key = next(k for k in z.files if k.startswith("blocks.9."))
        w = z[key]
    name = "blocks.1." + key.split(".", 2)[2].removesuffix(".npy")  # the trunk's block 9 is Upper's block 1
    assert np.array_equal(model.state_dict()[name].numpy(), w.astype(np.float32))
    assert not model.state_dict()["mu"].any() and model.training is False


def test_trained_upper_without_a_checkpoint_is_the_shipped_end_to_end_head(tmp_path):
    model, alpha, export = L2.trained_upper(argparse.Namespace(work=tmp_path))
    head = load_heads(L2.ASSET.parent / L2.SCORE_BIQ, ("score",))[0]["score"]
    rng = np.random.default_rng(0)
    low, s4 = torch.from_numpy(rng.normal(size=(2, 128)).astype(np.float32)), torch.randn(2, 80, 6, 6)
    with torch.inference_mode():
        feats = model.features(low, s4).double().numpy()
        got = model(low, s4).double().numpy()
    want = head(np.hstack([feats, np.zeros((2, head.weight.shape[0] - 4096))]))[:, 0]
    assert np.allclose(got, want, rtol=1e-5, atol=1e-5)
    card = json.loads((L2.ASSET.parent / "lite2.json").read_text())["training"]
    assert alpha == card["frozen_baseline"]["frozen_ridge_alpha"] and export["steps"] == card["steps"]
    assert set(export) == {"steps", "history", "baseline", "args", "code_version"}  # 2.2.1: no attributes stage


def test_attributes_stage_starts_from_the_train_checkpoint_rounded_as_exported(tmp_path):
    """With the train stage's checkpoint, the attributes stage continues its trunk rounded to float16 (what the
    pre-attribute encoder shipped) and its float32 score head, and carries the train stage's record."""
    model = L2.Upper()
    sd = model.state_dict()
    name = next(k for k in sd if k.startswith("blocks.1.") and sd[k].dtype == torch.float32 and sd[k].numel() > 8)
    sd[name] = sd[name] + 1e-4 * torch.randn(sd[name].shape)  # values float16 cannot hold
    sd["score.weight"] = torch.randn(1, 4096)
    state = {"step": 7, "history": [{"step": 7, "val_srcc": 0.5}], "baseline": {"frozen_ridge_alpha": 10.0}}
    ck = L2.checkpoint_path(tmp_path)
    ck.parent.mkdir(parents=True)
    torch.save({"model": sd, "state": state, "args": {"seed": "0"}}, ck)
    got, record = L2.attributes_start(argparse.Namespace(work=tmp_path))
    g = got.state_dict()
    assert torch.equal(g[name], sd[name].half().float()) and not torch.equal(g[name], sd[name])
    assert torch.equal(g["score.weight"], sd["score.weight"])  # the score head is not rounded
    assert record["steps"] == 7 and record["baseline"] == state["baseline"] and record["args"] == {"seed": "0"}


def test_attributes_stage_without_a_checkpoint_starts_from_2_2_1_in_git(tmp_path):
    """Without the checkpoint the start is vqual-lite@2.0 2.2.1's shipped files, read from git and checked by sha256."""
    import subprocess

    if subprocess.run(["git", "cat-file", "-e", f"{L2.ATTR_START_REV}^{{commit}}"], cwd=ROOT).returncode:
        pytest.skip(f"this clone lacks {L2.ATTR_START_REV} (shallow)")
    model, record = L2.attributes_start(argparse.Namespace(work=tmp_path))
    start = tmp_path / f"start-{L2.ATTR_START_REV}"
    head = load_heads(start / L2.SCORE_BIQ, ("score",))[0]["score"]
    assert np.array_equal(model.score.weight.detach().numpy()[0], head.weight[:4096, 0].astype(np.float32))
    with np.load(start / "encoder.npz", allow_pickle=False) as z:
        key = next(k for k in z.files if k.startswith("blocks.9."))
        w = z[key]
    assert np.array_equal(model.state_dict()["blocks.1." + key.split(".", 2)[2].removesuffix(".npy")].numpy(),
                          w.astype(np.float32))
    assert L2.ATTR_START_SHA256 in record["start"] and record["baseline"]["frozen_ridge_alpha"] > 0
