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
    assert set(export) == {"steps", "history", "baseline", "args", "code_version"}
