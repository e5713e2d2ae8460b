"""Loaders of the image benchmarks: CLIVE, KonIQ-10k, BIQ2021, SPAQ, LIVE, CSIQ, TID2013, KADID-10k, AGIQA-3K, AVA.

Content id: for the synthetic-distortion sets (LIVE, CSIQ, TID2013, KADID-10k) the reference image, so that the
distorted versions of one picture never land on both sides of a split; for AGIQA-3K the prompt; otherwise the
item itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from vqual.data.base import DatasetError, DatasetInfo, RawLabel, parse_float
from vqual.data.formats import (
    find_label_file,
    mat_numbers,
    mat_strings,
    mat_var,
    norm_key,
    pick_column,
    read_mat,
    read_table,
    xlsx_sheet_names,
)
from vqual.data.registry import LoadContext, labels_from_table, register
from vqual.media.kind import IMAGE_EXTS

# --- CLIVE (LIVE In the Wild Image Quality Challenge) --------------------------------------------------------------

CLIVE = DatasetInfo(
    name="clive", title="LIVE In the Wild (CLIVE)", kind="image", mos_range=(0.0, 100.0), label="MOS",
    label_files=("Data/AllImages_release.mat", "Data/AllMOS_release.mat"),
    url="https://live.ece.utexas.edu/research/ChallengeDB/",
    splits=("practice",),
    notes="1,162 test images; the first 7 entries of the release are the study's practice ('training') images "
          "and are left out unless include_practice=True (then split 'practice').")

N_CLIVE_PRACTICE = 7


@register(CLIVE, aliases=("livec", "liveitw", "livechallenge", "livewild", "challengedb"))
def load_clive(ctx: LoadContext, *, include_practice: bool = False) -> Iterator[RawLabel]:
    """CLIVE, the ``.mat`` release: ``Data/AllImages_release.mat`` (``AllImages_release``, cell array of file
    names) and ``Data/AllMOS_release.mat`` (``AllMOS_release``, 0-100); ``Data/AllStdDev_release.mat`` is read
    when present. Images: ``Images/<name>``; the 7 practice images in ``Images/trainingImages/<name>``.
    """
    names_path = find_label_file(ctx.root, ("Data/AllImages_release.mat", "AllImages_release.mat"), ctx.name)
    mos_path = find_label_file(ctx.root, ("Data/AllMOS_release.mat", "AllMOS_release.mat"), ctx.name)
    names = mat_strings(mat_var(read_mat(names_path, ctx.name), ("AllImages_release",), names_path, ctx.name))
    mos = mat_numbers(mat_var(read_mat(mos_path, ctx.name), ("AllMOS_release",), mos_path, ctx.name))
    if len(names) != len(mos):
        raise DatasetError(f"{ctx.name}: {names_path.name} lists {len(names)} images but {mos_path.name} "
                           f"has {len(mos)} MOS values")
    std: list[float] | None = None
    std_path = find_label_file(ctx.root, ("Data/AllStdDev_release.mat", "AllStdDev_release.mat"), ctx.name,
                               required=False)
    if std_path is not None:
        std = mat_numbers(mat_var(read_mat(std_path, ctx.name), ("AllStdDev_release",), std_path, ctx.name))
        if len(std) != len(mos):
            std = None
    idx = ctx.index(IMAGE_EXTS)
    if not include_practice:
        ctx.note(f"the first {N_CLIVE_PRACTICE} images of the release (practice images) are left out")
    for i, (name, m) in enumerate(zip(names, mos)):
        practice = i < N_CLIVE_PRACTICE
        if practice and not include_practice:
            continue
        prefixes = ("Images/trainingImages", "Images", "") if practice else ("Images", "")
        extra = {"mos_std": std[i]} if std is not None else {}
        yield RawLabel(name=name, mos=m, path=idx.resolve(name, prefixes=prefixes),
                       split="practice" if practice else None, extra=extra)


# --- KonIQ-10k ----------------------------------------------------------------------------------------------------

KONIQ = DatasetInfo(
    name="koniq-10k", title="KonIQ-10k", kind="image", mos_range=(1.0, 5.0), label="MOS",
    label_files=("koniq10k_scores_and_distributions.csv", "koniq10k_distributions_sets.csv"),
    splits=("train", "val", "test"), url="http://database.mmsp-kn.de/koniq-10k-database.html",
    notes="MOS column (1-5). Splits from koniq10k_distributions_sets.csv when present (training/validation/test).")


@register(KONIQ, aliases=("koniq", "koniq10k"))
def load_koniq(ctx: LoadContext, *, resolution: str = "1024x768") -> Iterator[RawLabel]:
    """KonIQ-10k: ``koniq10k_scores_and_distributions.csv`` (``image_name``, ``MOS`` on 1-5, ``SD``,
    ``MOS_zscore``). The official split is read from ``koniq10k_distributions_sets.csv`` (``image_name``, ``set``
    = training / validation / test) when that file is present. Images: ``<resolution>/<image_name>``
    (``1024x768`` by default, or ``512x384``), else anywhere below the root.
    """
    path = find_label_file(ctx.root, ("koniq10k_scores_and_distributions.csv",), ctx.name)
    rows = read_table(path, ctx.name, header_hint=("image_name",))
    head = list(rows[0]) if rows else []
    name_col = pick_column(head, ("image_name",), path, ctx.name)
    mos_col = pick_column(head, ("MOS",), path, ctx.name)
    sets: dict[str, str] = {}
    sets_path = find_label_file(ctx.root, ("koniq10k_distributions_sets.csv",), ctx.name, required=False)
    if sets_path is not None:
        srows = read_table(sets_path, ctx.name, header_hint=("image_name",))
        shead = list(srows[0]) if srows else []
        sn = pick_column(shead, ("image_name",), sets_path, ctx.name)
        ss = pick_column(shead, ("set",), sets_path, ctx.name)
        canon = {"training": "train", "train": "train", "validation": "val", "val": "val", "test": "test"}
        sets = {str(r[sn]).strip(): canon.get(str(r.get(ss, "")).strip().lower(), str(r.get(ss, "")).strip())
                for r in srows}
    else:
        ctx.note("koniq10k_distributions_sets.csv not found: items have no split")
    idx = ctx.index(IMAGE_EXTS)
    prefixes = (resolution, "1024x768", "512x384", "")
    yield from labels_from_table(ctx, path, rows, name_col, mos_col,
                                  lambda n: idx.resolve(n, prefixes=prefixes),
                                  split=(lambda n, r: sets.get(n)) if sets else None,
                                  extra_cols=("SD", "MOS_zscore"))


# --- BIQ2021 -------------------------------------------------------------------------------------------------------

BIQ2021 = DatasetInfo(
    name="biq2021", title="BIQ2021", kind="image", mos_range=(0.0, 1.0), label="MOS",
    label_files=("Train (Images and MOS).csv", "Test (Images and MOS).csv"), splits=("train", "test"),
    url="https://github.com/nisarahmedrana/BIQ2021",
    notes="12,000 photographs (512x512 JPEG), MOS of 30 observers on a 1-5 ACR scale stored as 0-1; official split "
          "10,000 train / 2,000 test (one CSV each). Cite N. Ahmed, H. Asad, J. Electronic Imaging 2022.")


@register(BIQ2021, aliases=("biq", "biq2021"))
def load_biq2021(ctx: LoadContext) -> Iterator[RawLabel]:
    """BIQ2021: ``Train (Images and MOS).csv`` and ``Test (Images and MOS).csv`` (``Image Name``, ``MOS`` in 0-1;
    the files carry two empty trailing columns), one per official split. Images: ``Images/<Image Name>`` (names
    like ``ss03 (7805).jpg``), else anywhere below the root. At least one of the two CSVs must exist; an image
    listed in both is an error (the split would leak).
    """
    idx = ctx.index(IMAGE_EXTS)
    seen: dict[str, str] = {}
    found = False
    for split, fname in (("train", BIQ2021.label_files[0]), ("test", BIQ2021.label_files[1])):
        path = find_label_file(ctx.root, (fname,), ctx.name, required=False)
        if path is None:
            ctx.note(f"{fname} not found: no {split} items")
            continue
        found = True
        rows = read_table(path, ctx.name, header_hint=("Image Name",))
        head = list(rows[0]) if rows else []
        name_col = pick_column(head, ("Image Name",), path, ctx.name)
        mos_col = pick_column(head, ("MOS",), path, ctx.name)
        for label in labels_from_table(ctx, path, rows, name_col, mos_col,
                                        lambda n: idx.resolve(n, prefixes=("Images", "")),
                                        split=lambda n, r, s=split: s):
            if label.name in seen:
                raise DatasetError(f"{ctx.name}: {label.name!r} is in both {seen[label.name]} and {split} "
                                   f"({path.name})")
            seen[label.name] = split
            yield label
    if not found:
        raise DatasetError(f"{ctx.name}: neither {BIQ2021.label_files[0]!r} nor {BIQ2021.label_files[1]!r} "
                           f"found under {ctx.root}")


# --- SPAQ ---------------------------------------------------------------------------------------------------------

SPAQ = DatasetInfo(
    name="spaq", title="SPAQ", kind="image", mos_range=(0.0, 100.0), label="MOS",
    label_files=("Annotations/MOS and Image attribute scores.xlsx", "MOS and Image attribute scores.csv"),
    url="https://github.com/h4nwei/SPAQ", notes="11,125 smartphone photos; MOS on 0-100; no official split.")


@register(SPAQ, aliases=("spaq",))
def load_spaq(ctx: LoadContext) -> Iterator[RawLabel]:
    """SPAQ: ``Annotations/MOS and Image attribute scores.xlsx`` (first sheet; or its CSV export), columns
    ``Image name`` and ``MOS`` (0-100); the attribute columns are kept as extras. Images: ``TestImage/<name>``
    (or anywhere below the root).
    """
    path = find_label_file(ctx.root, ("Annotations/MOS and Image attribute scores.xlsx",
                                      "MOS and Image attribute scores.xlsx", "MOS and Image attribute scores.csv"),
                           ctx.name)
    rows = read_table(path, ctx.name, header_hint=("image name",))
    head = list(rows[0]) if rows else []
    name_col = pick_column(head, ("Image name", "image_name", "name"), path, ctx.name)
    mos_col = pick_column(head, ("MOS",), path, ctx.name)
    known = ("brightness", "colorfulness", "contrast", "noisiness", "sharpness")
    attrs = tuple(c for c in head if norm_key(c) in known)
    idx = ctx.index(IMAGE_EXTS)
    yield from labels_from_table(ctx, path, rows, name_col, mos_col,
                                  lambda n: idx.resolve(n, prefixes=("TestImage", "")), extra_cols=attrs)


# --- LIVE (release 2) ---------------------------------------------------------------------------------------------

LIVE = DatasetInfo(
    name="live", title="LIVE IQA (release 2)", kind="image", mos_range=(0.0, 100.0), higher_is_better=False,
    label="DMOS", label_files=("dmos.mat", "refnames_all.mat"),
    url="https://live.ece.utexas.edu/research/Quality/subjective.htm",
    notes="DMOS (lower is better) from dmos.mat; the 203 entries flagged in orgs (undistorted references) are left "
          "out, leaving 779 distorted images; content id = reference image.")

#: Folder and count of each distortion in the order of dmos.mat.
LIVE_LAYOUT = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))


@register(LIVE, aliases=("liveiqa", "liver2", "liverelease2"))
def load_live(ctx: LoadContext, *, realigned: bool = False) -> Iterator[RawLabel]:
    """LIVE release 2: ``dmos.mat`` (``dmos``, ``orgs``: 1 = an undistorted reference) and ``refnames_all.mat``
    (``refnames_all``). The 982 entries are, in order, ``jp2k/img1.bmp..img227.bmp``, ``jpeg/img1..233``,
    ``wn``, ``gblur`` and ``fastfading`` (``img1..174`` each). With ``realigned=True`` the labels are read from
    ``dmos_realigned.mat`` (``dmos_new``) instead.
    """
    if realigned:
        dpath = find_label_file(ctx.root, ("dmos_realigned.mat",), ctx.name)
        dm = read_mat(dpath, ctx.name)
        dmos = mat_numbers(mat_var(dm, ("dmos_new",), dpath, ctx.name))
    else:
        dpath = find_label_file(ctx.root, ("dmos.mat",), ctx.name)
        dm = read_mat(dpath, ctx.name)
        dmos = mat_numbers(mat_var(dm, ("dmos",), dpath, ctx.name))
    orgs = mat_numbers(mat_var(dm, ("orgs",), dpath, ctx.name))
    rpath = find_label_file(ctx.root, ("refnames_all.mat",), ctx.name)
    refs = mat_strings(mat_var(read_mat(rpath, ctx.name), ("refnames_all",), rpath, ctx.name))
    total = sum(n for _, n in LIVE_LAYOUT)
    if not (len(dmos) == len(orgs) == len(refs) == total):
        raise DatasetError(f"{ctx.name}: expected {total} entries in {dpath.name} and {rpath.name} (LIVE release 2), "
                           f"got dmos {len(dmos)}, orgs {len(orgs)}, refnames_all {len(refs)}")
    layout = [(folder, i + 1) for folder, n in LIVE_LAYOUT for i in range(n)]
    idx = ctx.index(IMAGE_EXTS)
    n_ref = 0
    for (folder, k), d, org, ref in zip(layout, dmos, orgs, refs):
        if org == 1:
            n_ref += 1
            continue
        rel = f"{folder}/img{k}.bmp"
        p = ctx.root / rel
        if not p.is_file():
            p = idx.by_name(rel, whole=True)  # case-insensitive, in the same folder
        yield RawLabel(name=rel, mos=d, path=p, content_id=ref, extra={"distortion": folder})
    ctx.note(f"{n_ref} undistorted reference entries (orgs = 1) left out")


# --- CSIQ ---------------------------------------------------------------------------------------------------------

CSIQ = DatasetInfo(
    name="csiq", title="CSIQ", kind="image", mos_range=(0.0, 1.0), higher_is_better=False, label="DMOS",
    label_files=("csiq.DMOS.xlsx", "csiq.DMOS.csv"), url="https://s2.smu.edu/~eclarson/csiq.html",
    notes="866 distorted images of 30 references; DMOS on 0-1 (lower is better); content id = reference image.")

#: dst_type in csiq.DMOS.xlsx -> the tag in the distorted file name (<image>.<tag>.<level>.png).
CSIQ_TAGS = {"noise": "AWGN", "awgn": "AWGN", "jpeg": "JPEG", "jpeg2000": "jpeg2000", "fnoise": "fnoise",
             "blur": "BLUR", "contrast": "contrast"}


@register(CSIQ, aliases=("csiq",))
def load_csiq(ctx: LoadContext) -> Iterator[RawLabel]:
    """CSIQ: ``csiq.DMOS.xlsx`` (sheet ``all_by_image`` if present, else the first; or a CSV export) with
    columns ``image``, ``dst_type``, ``dst_lev`` and ``dmos`` (0-1). Distorted images are
    ``dst_imgs/<type folder>/<image>.<TAG>.<level>.png`` with TAG = AWGN, JPEG, jpeg2000, fnoise, BLUR or contrast
    for dst_type noise, jpeg, jpeg 2000, f noise, blur, contrast; looked up by file name, case-insensitively.
    """
    path = find_label_file(ctx.root, CSIQ.label_files, ctx.name)
    sheet = None
    if path.suffix.lower() == ".xlsx":
        sheet = next((n for n in xlsx_sheet_names(path, ctx.name) if norm_key(n) == "allbyimage"), None)
    rows = read_table(path, ctx.name, header_hint=("dst_type",), sheet=sheet)
    head = list(rows[0]) if rows else []
    img_col = pick_column(head, ("image",), path, ctx.name)
    type_col = pick_column(head, ("dst_type",), path, ctx.name)
    lev_col = pick_column(head, ("dst_lev",), path, ctx.name)
    dmos_col = pick_column(head, ("dmos",), path, ctx.name)
    idx = ctx.index(IMAGE_EXTS)
    for i, row in enumerate(rows):
        image = _cell_str(row.get(img_col))
        dtype = str(row.get(type_col, "") or "").strip()
        lev = _cell_str(row.get(lev_col))
        if not image or not dtype:
            ctx.skip(f"{path.name} row {i + 2}", "bad_label", "empty image or dst_type")
            continue
        tag = CSIQ_TAGS.get(norm_key(dtype))
        name = f"{image}.{tag or dtype}.{lev}.png"
        if tag is None:
            ctx.skip(name, "bad_label", f"{path.name}: unknown dst_type {dtype!r}")
            continue
        try:
            d = parse_float(row.get(dmos_col), f"dmos of {name!r}")
        except ValueError as e:
            ctx.skip(name, "bad_label", f"{path.name}: {e}")
            continue
        yield RawLabel(name=name, mos=d, path=idx.by_name(name), content_id=image,
                       extra={"distortion": dtype, "level": lev})


def _cell_str(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = "" if v is None else str(v).strip()
    return s[:-2] if s.endswith(".0") and s[:-2].isdigit() else s


# --- TID2013 ------------------------------------------------------------------------------------------------------

TID = DatasetInfo(
    name="tid2013", title="TID2013", kind="image", mos_range=(0.0, 9.0), label="MOS",
    label_files=("mos_with_names.txt",), url="https://www.ponomarenko.info/tid2013.htm",
    notes="3,000 distorted images of 25 references; MOS on 0-9; content id = reference (i01..i25).")


@register(TID, aliases=("tid", "tid13"))
def load_tid2013(ctx: LoadContext) -> Iterator[RawLabel]:
    """TID2013: ``mos_with_names.txt``, one ``<mos> <file name>`` per line (e.g. ``5.51429 i01_01_1.bmp``).
    Images: ``distorted_images/<name>``, matched case-insensitively (the release mixes ``i01``/``I01``, ``.bmp``/
    ``.BMP``). Content id: the reference number (``i01``).
    """
    path = find_label_file(ctx.root, ("mos_with_names.txt",), ctx.name)
    idx = ctx.index(IMAGE_EXTS)
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    for ln, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            ctx.skip(f"{path.name} line {ln}", "bad_label", f"expected '<mos> <name>', got {line.strip()!r}")
            continue
        try:
            m = parse_float(parts[0], f"MOS on line {ln}")
        except ValueError as e:
            ctx.skip(parts[1], "bad_label", f"{path.name}: {e}")
            continue
        name = parts[1]
        yield RawLabel(name=name, mos=m, path=idx.by_name(name), content_id=name[:3].lower(),
                       extra={"distortion": name.split("_")[1] if name.count("_") >= 2 else ""})


# --- KADID-10k ----------------------------------------------------------------------------------------------------

KADID = DatasetInfo(
    name="kadid-10k", title="KADID-10k", kind="image", mos_range=(1.0, 5.0), label="MOS (column 'dmos')",
    label_files=("dmos.csv",), url="http://database.mmsp-kn.de/kadid-10k-database.html",
    notes="10,125 distorted images of 81 references. The file calls the label 'dmos' but it is a 1-5 rating of "
          "the distorted image (higher is better); content id = reference image.")


@register(KADID, aliases=("kadid", "kadid10k"))
def load_kadid(ctx: LoadContext) -> Iterator[RawLabel]:
    """KADID-10k: ``dmos.csv`` with ``dist_img``, ``ref_img``, ``dmos`` (1-5, higher is better despite the name)
    and ``var``. Images: ``images/<dist_img>`` (or anywhere below the root)."""
    path = find_label_file(ctx.root, KADID.label_files, ctx.name)
    rows = read_table(path, ctx.name, header_hint=("dist_img",))
    head = list(rows[0]) if rows else []
    name_col = pick_column(head, ("dist_img",), path, ctx.name)
    ref_col = pick_column(head, ("ref_img",), path, ctx.name)
    mos_col = pick_column(head, ("dmos", "mos"), path, ctx.name)
    idx = ctx.index(IMAGE_EXTS)
    yield from labels_from_table(ctx, path, rows, name_col, mos_col,
                                  lambda n: idx.resolve(n, prefixes=("images", "")),
                                  content=lambda n, r: str(r.get(ref_col, "")).strip() or n, extra_cols=("var",))


# --- AGIQA-3K -----------------------------------------------------------------------------------------------------

AGIQA = DatasetInfo(
    name="agiqa-3k", title="AGIQA-3K", kind="image", mos_range=(0.0, 5.0), label="MOS (perceptual quality)",
    label_files=("data.csv",), url="https://github.com/lcysyzxdxc/AGIQA-3k-Database",
    notes="2,982 AI-generated images; mos_quality by default (target='align' for text alignment); MOS range 0-5 "
          "assumed; content id = prompt.")


@register(AGIQA, aliases=("agiqa", "agiqa3k"))
def load_agiqa(ctx: LoadContext, *, target: str = "quality") -> Iterator[RawLabel]:
    """AGIQA-3K: ``data.csv`` with ``name``, ``prompt``, ``mos_quality``, ``std_quality``, ``mos_align``,
    ``std_align``. ``target`` chooses ``quality`` (default) or ``align``. Images: ``<root>/<name>``,
    ``images/<name>`` or anywhere below the root. Content id: the prompt (the same prompt was rendered by
    several generators).
    """
    if target not in ("quality", "align"):
        raise DatasetError(f"{ctx.name}: target must be 'quality' or 'align', not {target!r}")
    path = find_label_file(ctx.root, AGIQA.label_files, ctx.name)
    rows = read_table(path, ctx.name, header_hint=("name",))
    head = list(rows[0]) if rows else []
    name_col = pick_column(head, ("name",), path, ctx.name)
    mos_col = pick_column(head, (f"mos_{target}",), path, ctx.name)
    prompt_col = pick_column(head, ("prompt",), path, ctx.name, required=False)
    if target == "align":
        ctx.note("label: mos_align (text-image alignment), not perceptual quality")
    idx = ctx.index(IMAGE_EXTS)
    yield from labels_from_table(
        ctx, path, rows, name_col, mos_col, lambda n: idx.resolve(n, prefixes=("", "images", "AGIQA-3K")),
        content=(lambda n, r: "prompt:" + str(r.get(prompt_col, "")).strip()) if prompt_col else None,
        extra_cols=(f"std_{target}",))


# --- AVA ----------------------------------------------------------------------------------------------------------

AVA = DatasetInfo(
    name="ava", title="AVA (aesthetics)", kind="image", mos_range=(1.0, 10.0), label="mean aesthetic score",
    label_files=("AVA.txt",), splits=("train", "test"), url="https://github.com/imfing/ava_downloader",
    notes="Aesthetics, not technical quality. Label = mean of the 1-10 vote histogram. Split from "
          "aesthetics_image_lists/generic_test.jpgl when present (test), else none.")


@register(AVA, aliases=("ava",))
def load_ava(ctx: LoadContext) -> Iterator[RawLabel]:
    """AVA: ``AVA.txt``, one line per image: ``index image_id c1 .. c10 tag1 tag2 challenge_id`` where ``ci`` is
    the number of votes for score i; the label is ``sum(i * ci) / sum(ci)``. Images: ``images/<image_id>.jpg``
    (found by stem anywhere below the root). Lines with no votes are skipped as bad labels.
    """
    path = find_label_file(ctx.root, AVA.label_files, ctx.name)
    test_ids: set[str] | None = None
    tpath = find_label_file(ctx.root, ("aesthetics_image_lists/generic_test.jpgl", "generic_test.jpgl"), ctx.name,
                            required=False)
    if tpath is not None:
        test_ids = {ln.split()[0] for ln in tpath.read_text().splitlines() if ln.strip()}
    idx = ctx.index(IMAGE_EXTS)
    scores = np.arange(1, 11, dtype=float)
    for ln, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 12:
            ctx.skip(f"{path.name} line {ln}", "bad_label", f"expected at least 12 fields, got {len(parts)}")
            continue
        image_id = parts[1]
        try:
            votes = np.array([float(x) for x in parts[2:12]])
        except ValueError:
            ctx.skip(image_id, "bad_label", f"{path.name} line {ln}: vote counts are not numbers")
            continue
        if votes.sum() <= 0:
            ctx.skip(image_id, "bad_label", f"{path.name} line {ln}: no votes")
            continue
        mean = float((votes * scores).sum() / votes.sum())
        p = ctx.root / "images" / f"{image_id}.jpg"
        split = None if test_ids is None else ("test" if image_id in test_ids else "train")
        yield RawLabel(name=image_id, mos=mean, path=p if p.is_file() else idx.by_stem(image_id), split=split,
                       extra={"votes": int(votes.sum()), "challenge": parts[14] if len(parts) > 14 else ""})
