"""VMAF (vmaf_v0.6.1 through vmaf-torch) in vqual compare: pinned against libvmaf on a tiny generated clip, the
streaming motion against vmaf-torch's whole-clip call, identical inputs, the missing-extra error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from vqual.compare import CompareError, compare

W, H, N, FPS = 96, 72, 15, 10


def clip_planes(distorted: bool) -> list[np.ndarray]:
    """Deterministic 8-bit Y planes: a drifting pattern (and a blurred, dithered copy of it)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    out = []
    for t in range(N):
        p = 128 + 60 * np.sin(0.31 * (x - 1.7 * t)) * np.cos(0.23 * y + 0.1 * t) + 25 * np.sin(0.9 * x + 0.7 * y)
        if distorted:
            q = np.pad(p, 1, mode="edge")
            p = sum(q[i:i + H, j:j + W] for i in range(3) for j in range(3)) / 9.0
            p = p + ((x * 7 + y * 13 + t * 5) % 11 - 5) * (0.4 + 0.1 * t)
        out.append(np.clip(np.rint(p), 0, 255).astype(np.uint8))
    return out


def write_y4m(path: Path, planes: list[np.ndarray], fps: int = FPS) -> str:
    """Y planes as a yuv420p .y4m (grey chroma)."""
    h, w = planes[0].shape
    chroma = np.full(((h + 1) // 2, (w + 1) // 2), 128, np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for p in planes:
            f.write(b"FRAME\n" + p.tobytes() + chroma + chroma)
    return str(path)


#: libvmaf 3.2.0 (Netflix/vmaf v3.2.0-13-gf85a8536, built here with meson/ninja, -Denable_asm=false), `vmaf -r ref.y4m
#: -d dist.y4m -m version=vmaf_v0.6.1 --threads 1 --json` on the files `clip_planes` / `write_y4m` make (the
#: ``__main__`` block below writes them), 2026-12-05. vmaf-torch 1.1.0 measured within 0.071 per frame, +0.046 mean.
LIBVMAF = [75.928975, 89.846825, 88.791192, 88.974088, 89.761806, 89.665617, 89.41553, 89.017026, 87.722386,
           88.315647, 89.17793, 89.564377, 89.821704, 89.694647, 88.588341]
LIBVMAF_IDENTICAL = [97.42829] + [100.0] * (N - 1)  # the clip against itself (motion 0 on the first frame)
FRAME_TOL, MEAN_TOL = 0.15, 0.1


@pytest.fixture(scope="module")
def vt():
    return pytest.importorskip("vmaf_torch")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("vmaf")
    ref, dist = clip_planes(False), clip_planes(True)
    return {"ref": write_y4m(d / "ref.y4m", ref), "dist": write_y4m(d / "dist.y4m", dist),
            "short": write_y4m(d / "short.y4m", dist[:9]), "ref_planes": ref, "dist_planes": dist}


def test_matches_libvmaf_per_frame_and_pooled(vt, clip):
    r = compare(clip["ref"], clip["dist"], metrics="vmaf,psnr", timeline=True, no_reference=False)
    v = r.metrics["vmaf"]
    assert v.per_frame == pytest.approx(LIBVMAF, abs=FRAME_TOL)
    assert v.value == pytest.approx(np.mean(LIBVMAF), abs=MEAN_TOL)
    assert v.value == pytest.approx(np.mean(v.per_frame), abs=1e-9)
    assert r.seconds == [[0.0, 1.0], [1.0, 1.5]]
    assert v.per_second == pytest.approx([np.mean(v.per_frame[:10]), np.mean(v.per_frame[10:])], abs=1e-9)
    assert v.higher_is_better and v.range == [0.0, 100.0] and v.error is None and v.version == "0.6.1"
    prov = r.provenance["metrics"]["vmaf"]
    assert prov["model"] == "vmaf_v0.6.1" and prov["implementation"] == "vmaf-torch 1.1.0"
    from vqual.compare.vmaf import MODEL_SHA256

    assert prov["model_sha256"] == MODEL_SHA256  # vmaf-torch's SVR is still vmaf_v0.6.1's


def test_identical_inputs_as_libvmaf(vt, clip):
    r = compare(clip["ref"], clip["ref"], metrics="vmaf", timeline=True, no_reference=False)
    assert r.metrics["vmaf"].per_frame == pytest.approx(LIBVMAF_IDENTICAL, abs=0.01)
    assert r.flags == [] and r.metrics["vmaf"].value == pytest.approx(np.mean(LIBVMAF_IDENTICAL), abs=0.01)


def test_streamed_motion_equals_vmaf_torch_on_the_whole_clip(vt, clip):
    import torch

    from vqual.compare.vmaf import vmaf_frames

    m = vt.VMAF(clip_score=True).eval()
    R = torch.from_numpy(np.stack(clip["ref_planes"]).astype(np.float32))[:, None]
    D = torch.from_numpy(np.stack(clip["dist_planes"]).astype(np.float32))[:, None]
    with torch.no_grad():  # vmaf-torch's motion2 over the whole clip; ADM and VIF frame by frame as vqual feeds them
        adm = torch.cat([m.compute_adm_score(R[i:i + 1], D[i:i + 1]) for i in range(N)])
        vif = torch.cat([m.compute_vif_features(R[i:i + 1], D[i:i + 1]) for i in range(N)])
        want = m.predict(adm, m.compute_motion2(R), vif).reshape(-1).tolist()
    assert vmaf_frames(clip["ref_planes"], clip["dist_planes"]) == pytest.approx(want, abs=2e-3)  # float32 order
    assert vmaf_frames(clip["ref_planes"][:1], clip["dist_planes"][:1]) == pytest.approx(want[:1], abs=1e-4)


def test_images_use_rounded_bt601_y(vt, tmp_path):
    import torch
    from PIL import Image

    from vqual.compare import classic
    from vqual.compare.vmaf import luma8

    rgb = np.stack([clip_planes(False)[0], clip_planes(True)[3], clip_planes(False)[7]], axis=-1)
    worse = np.stack([clip_planes(True)[0], clip_planes(True)[3], clip_planes(True)[7]], axis=-1)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    Image.fromarray(worse).save(tmp_path / "b.png")
    r = compare(tmp_path / "a.png", tmp_path / "b.png", metrics="vmaf", no_reference=False)
    ya, yb = luma8(classic.rgb_to_y(rgb)), luma8(classic.rgb_to_y(worse))
    assert np.array_equal(ya, np.rint(ya)) and ya.min() >= 16 and ya.max() <= 235
    with torch.no_grad():
        want = float(vt.VMAF(clip_score=True)(torch.from_numpy(ya)[None, None], torch.from_numpy(yb)[None, None]))
    assert r.metrics["vmaf"].value == pytest.approx(want, abs=1e-3) and 0 < want < 97
    assert r.metrics["vmaf"].per_second is None and r.metrics["vmaf"].per_frame is None


def test_luma8():
    from vqual.compare.vmaf import luma8

    assert luma8(np.array([[16.4, 16.6, -3.0, 300.0]])).tolist() == [[16.0, 17.0, 0.0, 255.0]]
    assert luma8(np.array([[64.0, 940.0, 1023.0]]), 1023.0).tolist() == [[16.0, 235.0, 255.0]]


def test_too_small_and_misaligned(vt, clip, tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((16, 40, 3), np.uint8)).save(tmp_path / "s.png")
    Image.fromarray(np.full((16, 40, 3), 9, np.uint8)).save(tmp_path / "t.png")
    r = compare(tmp_path / "s.png", tmp_path / "t.png", metrics="vmaf,psnr", no_reference=False)
    assert r.metrics["vmaf"].value is None and "too small for VMAF" in r.metrics["vmaf"].error
    assert "metric_not_computed" in r.flags and r.metrics["psnr"].value is not None
    with pytest.raises(CompareError, match="differs from the reference's|frame counts differ"):
        compare(clip["ref"], clip["short"], metrics="vmaf", no_reference=False)


def test_missing_vmaf_torch_is_one_line(clip, monkeypatch, capsys):
    from vqual.cli import main
    from vqual.compare import vmaf

    monkeypatch.setattr(vmaf, "_MODEL", None)
    monkeypatch.setitem(sys.modules, "vmaf_torch", None)  # import vmaf_torch now raises ImportError
    assert main(["compare", clip["ref"], clip["dist"], "--metrics", "psnr,vmaf", "--no-score"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'vqual[vmaf]'" in err and "Traceback" not in err
    with pytest.raises(CompareError, match=r"metric vmaf needs vmaf-torch 1.1.0.*vqual\[vmaf\]"):
        compare(clip["ref"], clip["dist"], metrics="vmaf", no_reference=False)


if __name__ == "__main__":  # write the clip for libvmaf: python tests/compare/test_compare_vmaf.py DIR
    d = Path(sys.argv[1])
    print(write_y4m(d / "ref.y4m", clip_planes(False)), write_y4m(d / "dist.y4m", clip_planes(True)))
