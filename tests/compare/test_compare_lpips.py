"""LPIPS (AlexNet, v0.1) against the authors' `lpips` 0.1.4 package run with the same (shipped) backbone weights.

Their package builds AlexNet through torchvision, which cannot be installed here; the test gives it a stand-in
`torchvision.models.alexnet` with torchvision's layer layout, filled from vqual's shipped float16 file. Their linear
heads come from their own v0.1 ``alex.pth`` (float32), so the test also bounds the float16 heads' effect.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from scipy import ndimage

from vqual.compare import classic
from vqual.compare.lpips import WEIGHTS, WEIGHTS_SHA256, lpips

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def reference():
    pytest.importorskip("tqdm")
    from torch import nn

    from vqual.weights import resolve

    w = np.load(resolve(WEIGHTS, WEIGHTS_SHA256))

    def alexnet(*args, **kwargs):
        features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(True), nn.MaxPool2d(3, 2), nn.Conv2d(64, 192, 5, padding=2),
            nn.ReLU(True), nn.MaxPool2d(3, 2), nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(True), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(True),
            nn.MaxPool2d(3, 2))
        for i, j in enumerate([0, 3, 6, 8, 10]):
            features[j].weight.data = torch.from_numpy(w[f"conv{i}.weight"].astype(np.float32))
            features[j].bias.data = torch.from_numpy(w[f"conv{i}.bias"].astype(np.float32))
        return types.SimpleNamespace(features=features)

    stub = types.ModuleType("torchvision")
    stub.models = types.SimpleNamespace(alexnet=alexnet)
    saved = {k: sys.modules.get(k) for k in ("torchvision",)}
    sys.modules["torchvision"] = stub
    try:
        lp = pytest.importorskip("lpips")
        net = lp.LPIPS(net="alex", version="0.1", verbose=False).eval()
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return net


def _pair(shape, noise, seed):
    rng = np.random.default_rng(seed)
    a = np.clip(ndimage.gaussian_filter(rng.uniform(0, 255, (*shape, 3)), (2, 2, 0)) * 4 - 384, 0, 255)
    b = np.clip(a + rng.normal(0, noise, a.shape), 0, 255)
    return a.astype(np.uint8), b.astype(np.uint8)


@pytest.mark.parametrize(("shape", "noise", "seed"), [((64, 64), 20, 0), ((176, 192), 10, 1), ((97, 131), 40, 2)])
def test_lpips_matches_the_authors_code(reference, shape, noise, seed):
    a, b = _pair(shape, noise, seed)

    def t(x):
        return torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1

    with torch.no_grad():
        ref = float(reference(t(a), t(b)))
    assert lpips(a, b) == pytest.approx(ref, abs=5e-5)  # float16 heads vs their float32 ones; measured <= 2e-5
    assert ref > 0.01


def test_lpips_identity_order_and_errors():
    a, b = _pair((64, 80), 10, 3)
    _, worse = _pair((64, 80), 40, 3)
    assert lpips(a, a) == 0.0 and 0 < lpips(a, b) < lpips(a, worse)
    with pytest.raises(classic.MetricInputError, match="too small for LPIPS"):
        lpips(a[:20], b[:20])


def test_compare_reports_lpips(tmp_path):
    from PIL import Image

    from vqual.compare import compare

    a, b = _pair((64, 80), 20, 4)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    r = compare(tmp_path / "a.png", tmp_path / "b.png", metrics="lpips,psnr", no_reference=False)
    m = r.metrics["lpips"]
    assert m.value == pytest.approx(lpips(a, b)) and not m.higher_is_better and m.range == [0.0, None]
