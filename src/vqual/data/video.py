"""Loaders of the video benchmarks: KoNViD-1k, LIVE-VQC, YouTube-UGC, LSVQ, LIVE-YT-Gaming, CVD2014.

Each reads the official label file(s) from the folder the user downloaded the dataset to and finds the videos
below that folder (the usual sub-folder first, then anywhere below the root, case-insensitively).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from vqual.data.base import DatasetError, DatasetInfo, RawLabel
from vqual.data.formats import (
    find_all_files,
    find_label_file,
    mat_numbers,
    mat_strings,
    mat_var,
    norm_key,
    pick_column,
    read_mat,
    read_table,
)
from vqual.data.registry import LoadContext, labels_from_table, register
from vqual.media.kind import VIDEO_EXTS

# --- KoNViD-1k ----------------------------------------------------------------------------------------------------

KONVID = DatasetInfo(
    name="konvid-1k", title="KoNViD-1k", kind="video", mos_range=(1.0, 5.0), label="MOS",
    label_files=("KoNViD_1k_attributes.csv", "KoNViD_1k_mos.csv"),
    url="http://database.mmsp-kn.de/konvid-1k-database.html",
    notes="1,200 Flickr videos; no official split.")


@register(KONVID, aliases=("konvid", "konvid1k"))
def load_konvid(ctx: LoadContext) -> Iterator[RawLabel]:
    """KoNViD-1k: ``KoNViD_1k_attributes.csv`` (columns ``flickr_id``, ``MOS``; ``KoNViD_1k_mos.csv`` with
    ``flickr_id,mos`` is accepted too). Videos: ``KoNViD_1k_videos/<flickr_id>.mp4`` (or anywhere below the root).
    """
    path = find_label_file(ctx.root, KONVID.label_files, ctx.name)
    rows = read_table(path, ctx.name, header_hint=("flickr_id",))
    head = list(rows[0]) if rows else []
    name_col = pick_column(head, ("flickr_id", "file_name", "video_name", "name"), path, ctx.name)
    mos_col = pick_column(head, ("MOS", "mos"), path, ctx.name)
    idx = ctx.index(VIDEO_EXTS)

    def resolve(name: str) -> Path | None:
        stem = Path(name).stem if Path(name).suffix.lower() in VIDEO_EXTS else name
        p = ctx.root / "KoNViD_1k_videos" / f"{stem}.mp4"
        return p if p.is_file() else idx.by_stem(stem)

    yield from labels_from_table(ctx, path, rows, name_col, mos_col, resolve, extra_cols=("SD",))


# --- LIVE-VQC -----------------------------------------------------------------------------------------------------

LIVE_VQC = DatasetInfo(
    name="live-vqc", title="LIVE-VQC", kind="video", mos_range=(0.0, 100.0), label="MOS",
    label_files=("data.mat",), url="https://live.ece.utexas.edu/research/LIVEVQC/",
    notes="585 smartphone videos; MOS on 0-100; no official split.")


@register(LIVE_VQC, aliases=("livevqc", "vqc"))
def load_live_vqc(ctx: LoadContext) -> Iterator[RawLabel]:
    """LIVE-VQC: ``data.mat`` with ``video_list`` (cell array of file names, e.g. ``A001.mp4``) and ``mos``
    (0-100). Videos: ``Video/<name>`` (or anywhere below the root).
    """
    path = find_label_file(ctx.root, LIVE_VQC.label_files, ctx.name)
    mat = read_mat(path, ctx.name)
    names = mat_strings(mat_var(mat, ("video_list", "video_names"), path, ctx.name))
    mos = mat_numbers(mat_var(mat, ("mos", "MOS"), path, ctx.name))
    if len(names) != len(mos):
        raise DatasetError(f"{ctx.name}: {path}: video_list has {len(names)} entries but mos has {len(mos)}")
    idx = ctx.index(VIDEO_EXTS)
    for name, m in zip(names, mos):
        p = idx.resolve(name, prefixes=("Video", ""), by_stem=True)
        yield RawLabel(name=name, mos=m, path=p)


# --- YouTube-UGC --------------------------------------------------------------------------------------------------

YT_UGC = DatasetInfo(
    name="youtube-ugc", title="YouTube-UGC", kind="video", mos_range=(1.0, 5.0), label="MOS",
    label_files=("original_videos_MOS_for_YouTube_UGC_dataset.xlsx", "original_videos_MOS_for_YouTube_UGC_dataset.csv"),
    url="https://media.withyoutube.com/",
    notes="Uses the 'MOS full' column (whole-video MOS, 1-5). No official split.")


@register(YT_UGC, aliases=("ytugc", "youtubeugc", "ugc"))
def load_youtube_ugc(ctx: LoadContext) -> Iterator[RawLabel]:
    """YouTube-UGC: ``original_videos_MOS_for_YouTube_UGC_dataset.xlsx`` (sheet ``MOS`` if it exists, else the
    first sheet; or a CSV export of it), columns ``vid`` and ``MOS full``. Videos are found by file stem:
    ``<vid>.*`` or ``<vid>_orig.*`` anywhere below the root (e.g. ``original_videos/Gaming/1080P/...``).

    Assumption: the header row is the first row containing ``vid``; the chunk MOS columns are ignored.
    """
    path = find_label_file(ctx.root, YT_UGC.label_files, ctx.name)
    sheet = None
    if path.suffix.lower() == ".xlsx":
        from vqual.data.formats import xlsx_sheet_names

        names = xlsx_sheet_names(path, ctx.name)
        sheet = next((n for n in names if n.strip().lower() == "mos"), None)
    rows = read_table(path, ctx.name, header_hint=("vid",), sheet=sheet)
    head = list(rows[0]) if rows else []
    name_col = pick_column(head, ("vid", "video", "name"), path, ctx.name)
    mos_col = pick_column(head, ("MOS full", "MOSfull", "mos"), path, ctx.name)
    idx = ctx.index(VIDEO_EXTS)

    def resolve(vid: str) -> Path | None:
        return idx.by_stem(vid) or idx.by_stem(vid + "_orig")

    yield from labels_from_table(ctx, path, rows, name_col, mos_col, resolve)


# --- LSVQ ---------------------------------------------------------------------------------------------------------

LSVQ = DatasetInfo(
    name="lsvq", title="LSVQ", kind="video", mos_range=(0.0, 100.0), label="MOS",
    label_files=("labels_train_test.csv", "labels_test_1080p.csv"), splits=("train", "test", "test-1080p"),
    url="https://github.com/baidut/PatchVQ",
    notes="Splits: train / test from is_test in labels_train_test.csv; test-1080p from labels_test_1080p.csv.")


def _truthy(v) -> bool:
    return str(v).strip().lower() in ("1", "true", "yes", "1.0")


@register(LSVQ, aliases=("lsvq",))
def load_lsvq(ctx: LoadContext) -> Iterator[RawLabel]:
    """LSVQ: ``labels_train_test.csv`` (columns ``name``, ``mos``, ``is_test``) and ``labels_test_1080p.csv``
    (``name``, ``mos``). ``name`` is the video path without extension relative to the root (e.g.
    ``ia-batch1/xyz``); the video is ``<root>/<name>.mp4`` or found by its stem.

    Split: ``test`` where ``is_test`` is true, else ``train``; if the column is absent the split is left empty and
    a note says so. A missing ``labels_test_1080p.csv`` only drops the ``test-1080p`` split (with a note).
    """
    main = find_label_file(ctx.root, ("labels_train_test.csv",), ctx.name, required=False)
    p1080 = find_label_file(ctx.root, ("labels_test_1080p.csv",), ctx.name, required=False)
    if main is None and p1080 is None:
        raise DatasetError(f"{ctx.name}: label files 'labels_train_test.csv' and 'labels_test_1080p.csv' "
                           f"not found under {ctx.root}")
    idx = ctx.index(VIDEO_EXTS)

    def resolve(name: str) -> Path | None:
        for cand in (ctx.root / f"{name}.mp4", ctx.root / name):
            if cand.is_file():
                return cand
        return idx.by_stem(Path(name).name)

    if main is None:
        ctx.note(f"labels_train_test.csv not found under {ctx.root}: train and test splits left out")
    else:
        rows = read_table(main, ctx.name, header_hint=("name",))
        head = list(rows[0]) if rows else []
        name_col = pick_column(head, ("name",), main, ctx.name)
        mos_col = pick_column(head, ("mos",), main, ctx.name)
        test_col = pick_column(head, ("is_test",), main, ctx.name, required=False)
        if test_col is None:
            ctx.note(f"{main.name} has no is_test column: items have no split")
            split = None
        else:
            def split(name, row):
                return "test" if _truthy(row.get(test_col)) else "train"
        yield from labels_from_table(ctx, main, rows, name_col, mos_col, resolve, split=split)
    if p1080 is None:
        ctx.note(f"labels_test_1080p.csv not found under {ctx.root}: the test-1080p split is left out")
    else:
        rows = read_table(p1080, ctx.name, header_hint=("name",))
        head = list(rows[0]) if rows else []
        name_col = pick_column(head, ("name",), p1080, ctx.name)
        mos_col = pick_column(head, ("mos",), p1080, ctx.name)
        yield from labels_from_table(ctx, p1080, rows, name_col, mos_col, resolve,
                                      split=lambda name, row: "test-1080p")


# --- LIVE-YT-Gaming -----------------------------------------------------------------------------------------------

YT_GAMING = DatasetInfo(
    name="live-yt-gaming", title="LIVE-YT-Gaming", kind="video", mos_range=(0.0, 100.0), label="MOS",
    label_files=("LIVE-YT-Gaming_mos.csv", "LIVE_YT_Gaming_mos.csv", "mos.csv", "MOS.csv",
                 "LIVE-YT-Gaming_mos.mat", "data.mat", "mos.mat"),
    url="https://live.ece.utexas.edu/research/LIVE-YT-Gaming/",
    notes="600 gaming videos; MOS on 0-100 assumed; no official split.")


@register(YT_GAMING, aliases=("ytgaming", "livegaming", "liveytgaming"))
def load_live_yt_gaming(ctx: LoadContext) -> Iterator[RawLabel]:
    """LIVE-YT-Gaming: a CSV with a video-name column (``video``, ``video_name``, ``name`` or ``filename``) and a
    ``MOS`` column, or a ``.mat`` with ``video_list``/``video_names`` and ``mos``/``MOS``; the first of
    ``LIVE-YT-Gaming_mos.csv``, ``mos.csv``, ``LIVE-YT-Gaming_mos.mat``, ``data.mat``, ``mos.mat`` is used.

    Assumption: the release's exact file name varies between copies; MOS are on 0-100 (continuous slider).
    Videos are found by name or stem anywhere below the root.
    """
    path = find_label_file(ctx.root, YT_GAMING.label_files, ctx.name)
    idx = ctx.index(VIDEO_EXTS)

    def resolve(name: str) -> Path | None:
        return idx.resolve(name, by_stem=True)

    if path.suffix.lower() == ".mat":
        mat = read_mat(path, ctx.name)
        names = mat_strings(mat_var(mat, ("video_list", "video_names", "names"), path, ctx.name))
        mos = mat_numbers(mat_var(mat, ("mos", "MOS", "scores"), path, ctx.name))
        if len(names) != len(mos):
            raise DatasetError(f"{ctx.name}: {path}: {len(names)} video names but {len(mos)} MOS values")
        for name, m in zip(names, mos):
            yield RawLabel(name=name, mos=m, path=resolve(name))
        return
    rows = read_table(path, ctx.name, header_hint=("mos",))
    head = list(rows[0]) if rows else []
    name_col = pick_column(head, ("video", "video_name", "videoname", "name", "filename", "file_name", "vid"),
                           path, ctx.name)
    mos_col = pick_column(head, ("MOS", "mos_score"), path, ctx.name)
    yield from labels_from_table(ctx, path, rows, name_col, mos_col, resolve)


# --- CVD2014 ------------------------------------------------------------------------------------------------------

CVD = DatasetInfo(
    name="cvd2014", title="CVD2014", kind="video", mos_range=(0.0, 100.0), label="MOS (realigned)",
    label_files=("Realignment_MOS.csv",), url="https://zenodo.org/record/2646315",
    notes="234 videos of 5 scenes filmed by 78 cameras in 7 tests; content id = test + scene.")


@register(CVD, aliases=("cvd", "cvd14"))
def load_cvd2014(ctx: LoadContext) -> Iterator[RawLabel]:
    """CVD2014: ``Realignment_MOS.csv`` at the root and/or one per test folder (``Test1/Realignment_MOS.csv``,
    ...), delimiter ``,`` or ``;`` (decimal commas accepted), columns ``File_name`` (e.g. ``Test01_City_D01``),
    ``Content`` (scene) and ``Realignment MOS`` (falls back to ``MOS``). Videos are ``<File_name>.avi`` found
    below the root (usually ``Test1/City/Test01_City_D01.avi``).

    Content id: the test and scene (``Test01/City``), since the same scene was filmed by every camera of a test.
    """
    files = find_all_files(ctx.root, "Realignment_MOS.csv")
    if not files:
        find_label_file(ctx.root, CVD.label_files, ctx.name)  # raises the standard error
    idx = ctx.index(VIDEO_EXTS)
    seen: set[str] = set()
    for path in files:
        rows = read_table(path, ctx.name, header_hint=("file_name", "filename"))
        head = list(rows[0]) if rows else []
        name_col = pick_column(head, ("File_name", "filename", "video", "name"), path, ctx.name)
        mos_col = pick_column(head, ("Realignment MOS", "RealignmentMOS", "MOS"), path, ctx.name)
        scene_col = pick_column(head, ("Content", "scene"), path, ctx.name, required=False)
        rows = [r for r in rows if str(r.get(name_col, "")).strip() not in seen]
        seen.update(str(r.get(name_col, "")).strip() for r in rows)

        def content(name: str, row: dict, scene_col=scene_col) -> str:
            parts = Path(name).stem.split("_")
            test = parts[0] if parts and parts[0].lower().startswith("test") else "test"
            scene = str(row.get(scene_col, "")).strip() if scene_col else ""
            if not scene:
                scene = parts[1] if len(parts) > 2 else Path(name).stem
            return f"{test}/{norm_key(scene)}"

        yield from labels_from_table(ctx, path, rows, name_col, mos_col,
                                      lambda n: idx.resolve(n, by_stem=True), content=content)
