"""The ONNX Runtime spatial encoder against the PyTorch reference (issue #17): the export reproduces the shipped graph,
features agree within 1e-4 (absolute + relative), scores within 1e-3 on the 1-5 scale for images and a video, for
vqual-lite and vqual-lite 2 (whose fine-tuned weights are written into the graph at load)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from mediagen import write_video

from vqual.data import synthetic as syn
from vqual.encoders.features import encoder_config, get_encoder
from vqual.encoders.lite0 import SpatialConfig
from vqual.encoders.lite0_ort import OrtSpatialEncoder, graph_card
from vqual.errors import WeightsError

FEATURE_TOL = 1e-4  # |onnx - torch| <= 1e-4 + 1e-4 |torch| per element (measured: at most ~0.1 of that)
SCORE_TOL = 1e-3  # on the 1-5 scale (measured: <= 5e-7)


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    from PIL import Image

    from vqual.weights import asset_path

    return np.asarray(Image.open(asset_path("samples/kodim23.jpg")).convert("RGB"))


@pytest.fixture(scope="module")
def pictures(sample):
    noisy = syn.apply_image("noise", sample, syn.DISTORTIONS["noise"].levels[3], seed=0)
    from PIL import Image

    big = np.asarray(Image.fromarray(sample).resize((1920, 1080), Image.BICUBIC))
    return {"sample": sample, "noisy": noisy, "odd": np.ascontiguousarray(sample[:333, :517]), "big": big}


def test_export_reproduces_the_shipped_graph(tmp_path):
    """The export is deterministic on a host and rebuilds the shipped graph: the same nodes and initializers, whose
    values (batch norm folded into the convolutions by PyTorch's float32 arithmetic) match to float rounding. On the
    host that exported it the bytes are the same (sha256 in the card); a host with other vector units (AVX-512) folds
    with other rounding: 94 of 102 initializers differ there, by at most 1.7e-7 of their largest value."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    from vqual.encoders.lite0_export import export
    from vqual.weights import asset_path

    data = export(tmp_path / "lite0.onnx")
    assert export(tmp_path / "again.onnx") == data
    if hashlib.sha256(data).hexdigest() == graph_card()["weights"]["lite0.onnx"]:
        return
    got, shipped = onnx.load_from_string(data), onnx.load(str(asset_path("lite0/lite0.onnx")))
    assert [(n.op_type, list(n.input), list(n.output)) for n in got.graph.node] == [
        (n.op_type, list(n.input), list(n.output)) for n in shipped.graph.node]
    a = {t.name: numpy_helper.to_array(t) for t in got.graph.initializer}
    b = {t.name: numpy_helper.to_array(t) for t in shipped.graph.initializer}
    assert a.keys() == b.keys()
    for k in b:
        assert a[k].shape == b[k].shape and a[k].dtype == b[k].dtype, k
        assert np.max(np.abs(a[k].astype(np.float64) - b[k])) <= 1e-6 * max(np.abs(b[k]).max(), 1.0), k


@pytest.mark.parametrize("preset", ["lite", "lite2"])
def test_features_match_the_torch_reference(preset, pictures):
    block = encoder_config(preset)
    ort_enc, ref = get_encoder(block).spatial, get_encoder(block, engine="torch").spatial
    assert type(ort_enc).__name__ == "OrtSpatialEncoder" and ort_enc.dim == ref.dim == 4096
    for tag, rgb in pictures.items():
        a, b = ort_enc.encode(rgb), ref.encode(rgb)
        assert a.dtype == np.float32 and a.shape == b.shape
        assert np.all(np.abs(a - b) <= FEATURE_TOL * (1 + np.abs(b))), tag


def test_other_configurations_match_too(sample):
    """Taps without the head, a smaller whole view and the fragments view (user models may choose them)."""
    from vqual.encoders.spatial import SpatialEncoder

    config = SpatialConfig(whole_max_side=256, whole_taps=("s2", "s4", "s7"), fragment_grid=4,
                           fragment_taps=("s3", "head"))
    a, b = OrtSpatialEncoder(config).encode(sample), SpatialEncoder(config).encode(sample)
    assert a.shape == (2 * (24 + 80 + 320 + 40 + 1280),) == b.shape
    assert np.all(np.abs(a - b) <= FEATURE_TOL * (1 + np.abs(b)))


@pytest.mark.parametrize("name", ["vqual-lite", "vqual-lite@2.0"])
def test_scores_match_the_torch_reference(name, pictures, sample, tmp_path):
    from vqual.models.lite import VqualLite, VqualLite2

    cls = VqualLite2 if name == "vqual-lite@2.0" else VqualLite
    fast, ref = cls(), cls(engine="torch")
    video = write_video(tmp_path / "pan.mp4", syn.pan_frames(sample, 40, (192, 256), speed=3), fps=20, crf=20)
    for tag, x in {**pictures, "video": str(video)}.items():
        a, b = fast.score(x), ref.score(x)
        assert a.score == pytest.approx(b.score, abs=SCORE_TOL), tag
        assert a.attributes == pytest.approx(b.attributes, abs=SCORE_TOL), tag
        assert [t.score for t in a.timeline or []] == pytest.approx([t.score for t in b.timeline or []],
                                                                    abs=SCORE_TOL), tag


def test_batches_and_thread_counts_give_the_same_bits(pictures):
    imgs = [pictures["sample"], pictures["noisy"], pictures["sample"][::-1].copy(), pictures["odd"]]
    one = OrtSpatialEncoder(threads=1)
    each = np.stack([one.encode(x) for x in imgs])
    assert np.array_equal(one.encode_many(imgs), each)
    assert np.array_equal(OrtSpatialEncoder(threads=2).encode_many(imgs), each)


def test_foreign_tuned_weights_are_refused(sample):
    shapes = graph_card()["parameters"]
    with pytest.raises(ValueError, match="unknown backbone parameter 'blocks.99.dw.weight'"):
        OrtSpatialEncoder(tuned={"blocks.99.dw.weight": np.zeros((1,), np.float32)}).encode(sample)
    with pytest.raises(ValueError, match=r"'head.bias' has shape \(3,\), the backbone's is \(1280,\)"):
        OrtSpatialEncoder(tuned={"head.bias": np.zeros((3,), np.float32)}).encode(sample)
    assert shapes["head.bias"]["shape"] == [1280]


def test_tuned_weights_change_the_features(sample):
    """Writing weights into the graph takes effect (a pass that ignored them, as ONNX Runtime's add_initializer does
    under its NCHWc layout pass, would give ImageNet features)."""
    base = OrtSpatialEncoder().encode(sample)
    zeroed = OrtSpatialEncoder(tuned={"head.weight": np.zeros(graph_card()["parameters"]["head.weight"]["shape"],
                                                               np.float16)}).encode(sample)
    head = slice(base.size - 2 * 1280, None)
    assert np.array_equal(zeroed[:head.start], base[:head.start])
    # head = ReLU6(0 * x + bias): every position equals the clipped bias, so the std is 0
    assert np.all(zeroed[-1280:] == 0) and not np.allclose(base[head], zeroed[head])


def test_an_altered_graph_is_refused(monkeypatch, sample):
    from vqual.encoders import lite0_ort

    card = {**graph_card(), "weights": {"lite0.onnx": "0" * 64}}
    monkeypatch.setattr(lite0_ort, "graph_card", lambda: card)
    monkeypatch.setattr(lite0_ort, "_SESSIONS", {})
    with pytest.raises(WeightsError, match=r"lite0\.onnx: sha256 .* does not match the expected 000000000000"):
        OrtSpatialEncoder().encode(sample)
