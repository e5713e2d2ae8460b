import numpy as np
import pytest
from PIL import Image

import vqual
from vqual.errors import MediaError
from vqual.registry import default_model_name
from vqual.result import Failure, QualityResult


@pytest.fixture(scope="module")
def img():
    rng = np.random.default_rng(1)
    base = np.kron(rng.random((12, 16, 3)), np.ones((10, 10, 1)))  # smooth-ish blocks with texture noise
    return np.clip(base * 200 + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def test_score_array_pil_and_path_agree(img, tmp_path):
    model = vqual.load_model()
    p = tmp_path / "x.png"
    Image.fromarray(img).save(p)
    a, b, c = model.score(img), model.score(Image.fromarray(img)), model.score(str(p))
    assert isinstance(a, QualityResult) and a.path == "<array>" and b.path == "<PIL image>" and c.path == str(p)
    assert a.score == b.score == c.score
    assert 1.0 <= a.score <= 5.0 and a.score_100 == pytest.approx((a.score - 1) * 25)
    assert sum(a.level_probs.values()) == pytest.approx(1.0)
    assert a.provenance.model == default_model_name() and len(a.provenance.weights_sha256) == 64


def test_batch_goes_on_past_bad_file(img, tmp_path):
    good = tmp_path / "g.png"
    Image.fromarray(img).save(good)
    bad = tmp_path / "b.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    out = vqual.score([str(good), str(bad), str(good)])
    assert [type(x) for x in out] == [QualityResult, Failure, QualityResult]
    assert out[1].path == str(bad) and str(bad) in out[1].message
    assert out[0].score == out[2].score


def test_single_bad_input_raises_media_error(tmp_path):
    p = tmp_path / "e.jpg"
    p.write_bytes(b"")
    with pytest.raises(MediaError, match="e.jpg"):
        vqual.score(str(p))


def test_list_models():
    assert vqual.list_models()[0].name == default_model_name() == "vqual-lite@2.0"


def test_too_small_to_assess_is_an_error_not_a_score(tmp_path):
    tiny = np.zeros((8, 300, 3), np.uint8)
    with pytest.raises(MediaError, match=r"300x8 is too small to assess"):
        vqual.score(tiny)
    p = tmp_path / "tiny.png"
    Image.fromarray(tiny).save(p)
    (out,) = vqual.score([str(p)])
    assert isinstance(out, Failure) and out.reason == "too_small" and str(p) in out.message


def test_explain_is_exported_and_import_stays_light():
    import subprocess
    import sys

    code = ("import sys, vqual; heavy = [m for m in ('numpy', 'torch', 'PIL', 'vqual.api') if m in sys.modules]; "
            "assert not heavy, heavy; assert 'explain' in vqual.__all__; "
            "from vqual.api import explain; assert vqual.explain is explain")
    subprocess.run([sys.executable, "-c", code], check=True)
