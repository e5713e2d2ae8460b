"""Each benchmark loader on small label files written here in the official format (media files are empty stubs:
loaders only check that they exist)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
from scipy.io import savemat
from shareddata import shared_data

from vqual.data import DatasetError, dataset_info, list_datasets, load_dataset, load_manifest
from vqual.data.formats import read_xlsx


def touch(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def cell_array(strings: list[str], column: bool = True) -> np.ndarray:
    """A MATLAB cell array of strings as scipy.io.savemat writes it."""
    arr = np.empty((len(strings), 1) if column else (1, len(strings)), dtype=object)
    for i, s in enumerate(strings):
        arr.flat[i] = s
    return arr


def write_xlsx(path: Path, rows: list[list], sheet: str = "Sheet1", extra_sheets: tuple[str, ...] = ()) -> Path:
    """A minimal .xlsx (shared strings for text, plain numbers) written with the standard library."""
    strings: list[str] = []

    def sidx(s: str) -> int:
        if s not in strings:
            strings.append(s)
        return strings.index(s)

    def col(j: int) -> str:
        s = ""
        j += 1
        while j:
            j, r = divmod(j - 1, 26)
            s = chr(65 + r) + s
        return s

    def sheet_xml(rws: list[list]) -> str:
        out = []
        for i, r in enumerate(rws, 1):
            cells = []
            for j, v in enumerate(r):
                ref = f"{col(j)}{i}"
                if v is None:
                    continue
                if isinstance(v, str):
                    cells.append(f'<c r="{ref}" t="s"><v>{sidx(v)}</v></c>')
                else:
                    cells.append(f'<c r="{ref}"><v>{v}</v></c>')
            out.append(f'<row r="{i}">{"".join(cells)}</row>')
        return ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                f'spreadsheetml/2006/main"><sheetData>{"".join(out)}</sheetData></worksheet>')

    names = [*extra_sheets, sheet]
    sheets_data = {n: ([["other"], [1]] if n != sheet else rows) for n in names}
    xmls = {n: sheet_xml(sheets_data[n]) for n in names}
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    wb = (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rel_ns}"><sheets>'
          + "".join(f'<sheet name="{escape(n)}" sheetId="{k + 1}" r:id="rId{k + 1}"/>' for k, n in enumerate(names))
          + "</sheets></workbook>")
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships">'
            + "".join(f'<Relationship Id="rId{k + 1}" Type="{rel_ns}/worksheet" Target="worksheets/sheet{k + 1}.xml"/>'
                      for k in range(len(names))) + "</Relationships>")
    sst = (f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{main}" count="{len(strings)}">'
           + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("xl/workbook.xml", wb)
        z.writestr("xl/_rels/workbook.xml.rels", rels)
        for k, n in enumerate(names):
            z.writestr(f"xl/worksheets/sheet{k + 1}.xml", xmls[n])
        z.writestr("xl/sharedStrings.xml", sst)
    return path


def by_name(ds) -> dict:
    return {it.name: it for it in ds.items}


# --- registry -----------------------------------------------------------------------------------------------------

def test_every_dataset_declares_range_and_direction():
    names = {i.name for i in list_datasets()}
    assert {"konvid-1k", "live-vqc", "youtube-ugc", "lsvq", "live-yt-gaming", "cvd2014", "clive", "koniq-10k", "spaq",
            "biq2021", "live", "csiq", "tid2013", "kadid-10k", "agiqa-3k", "ava", "clive-fewlabel"} <= names
    for info in list_datasets():
        assert info.mos_range[1] > info.mos_range[0]
        assert info.kind in ("image", "video")
        assert info.label_files
    assert dataset_info("live").higher_is_better is False
    assert dataset_info("csiq").higher_is_better is False
    assert dataset_info("kadid").higher_is_better is True
    assert dataset_info("livec").name == "clive"


def test_to_1_5_maps_range_and_direction():
    live = dataset_info("live")  # DMOS 0-100, lower is better
    assert live.to_1_5(0) == 5.0 and live.to_1_5(100) == 1.0
    assert dataset_info("koniq").to_1_5(3.0) == 3.0
    assert dataset_info("tid2013").to_1_5(9.0) == 5.0


def test_unknown_dataset_and_option(tmp_path):
    with pytest.raises(DatasetError, match="did you mean konvid-1k"):
        load_dataset("konvd", tmp_path)
    with pytest.raises(DatasetError, match="unknown option bogus"):
        load_dataset("clive", tmp_path, bogus=1)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset("clive", tmp_path / "nope")


def test_item_unpacks_to_four_fields(tmp_path):
    write(tmp_path, "KoNViD_1k_attributes.csv", "flickr_id,MOS,SD\n123,3.5,0.5\n")
    touch(tmp_path, "KoNViD_1k_videos/123.mp4")
    path, mos, content, split = load_dataset("konvid", tmp_path).items[0]
    assert path.name == "123.mp4" and mos == 3.5 and content == "123" and split is None


# --- video --------------------------------------------------------------------------------------------------------

def test_konvid_skips_missing_video_by_name(tmp_path):
    write(tmp_path, "KoNViD_1k_attributes.csv", "flickr_id,MOS,SD,n\n3339962845,4.64,0.6,50\n2405,2.1,0.8,50\n"
                                                "777,abc,0.1,50\n")
    touch(tmp_path, "KoNViD_1k_videos/3339962845.mp4")
    ds = load_dataset("konvid-1k", tmp_path)
    assert [it.name for it in ds.items] == ["3339962845"]
    reasons = {s.name: s.reason for s in ds.skipped}
    assert reasons == {"2405": "missing_media", "777": "bad_label"}
    assert "2405" in next(s.detail for s in ds.skipped if s.name == "2405")
    assert "skipped" in ds.notes[-1]


def test_missing_label_file_is_named(tmp_path):
    with pytest.raises(DatasetError, match="KoNViD_1k_attributes.csv"):
        load_dataset("konvid", tmp_path)


def test_live_vqc_mat(tmp_path):
    labels = {"video_list": cell_array(["A001.mp4", "B002.mp4"]), "mos": np.array([[70.5, 30.1]])}
    savemat(tmp_path / "data.mat", labels)
    touch(tmp_path, "Video/A001.mp4", "Video/B002.mp4")
    ds = load_dataset("live-vqc", tmp_path)
    assert [(it.name, round(it.mos, 1)) for it in ds.items] == [("A001.mp4", 70.5), ("B002.mp4", 30.1)]
    assert ds.items[0].path == (tmp_path / "Video/A001.mp4").resolve()


def test_mat_v73_is_a_clear_error(tmp_path):
    (tmp_path / "data.mat").write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64" + b"\0" * 100)
    with pytest.raises(DatasetError, match="v7.3.*h5py"):
        load_dataset("live-vqc", tmp_path)


def test_youtube_ugc_xlsx_and_csv(tmp_path):
    write_xlsx(tmp_path / "original_videos_MOS_for_YouTube_UGC_dataset.xlsx",
               [["vid", "category", "MOS full", "MOS chunk00"], ["Gaming_1080P-0ce6", "Gaming", 3.912, 4.0],
                ["Vlog_720P-0001", "Vlog", 2.5, 2.0]], sheet="MOS", extra_sheets=("diff",))
    touch(tmp_path, "original_videos/Gaming/1080P/Gaming_1080P-0ce6_orig.mp4", "Vlog_720P-0001.mkv")
    ds = load_dataset("youtube-ugc", tmp_path)
    assert {it.name: it.mos for it in ds.items} == {"Gaming_1080P-0ce6": 3.912, "Vlog_720P-0001": 2.5}
    other = tmp_path / "csv"
    write(other, "original_videos_MOS_for_YouTube_UGC_dataset.csv", "vid,MOS full\nVlog_720P-0001,2.5\n")
    touch(other, "Vlog_720P-0001.mkv")
    assert len(load_dataset("ytugc", other)) == 1


def test_lsvq_splits_and_missing_1080p_file(tmp_path):
    write(tmp_path, "labels_train_test.csv", "name,height,width,mos,frame_number,is_test\n"
                                             "ia-batch1/a,540,960,65.2,300,False\nia-batch1/b,540,960,40.0,300,True\n")
    touch(tmp_path, "ia-batch1/a.mp4", "ia-batch1/b.mp4", "yfcc-batch3/c.mp4")
    ds = load_dataset("lsvq", tmp_path)
    assert {it.name: it.split for it in ds.items} == {"ia-batch1/a": "train", "ia-batch1/b": "test"}
    assert any("labels_test_1080p.csv not found" in n for n in ds.notes)
    write(tmp_path, "labels_test_1080p.csv", "name,height,width,mos\nyfcc-batch3/c,1080,1920,55\n")
    ds = load_dataset("lsvq", tmp_path)
    assert ds.splits() == {"train": 1, "test": 1, "test-1080p": 1}


def test_live_yt_gaming_csv(tmp_path):
    write(tmp_path, "LIVE-YT-Gaming_mos.csv", "Video,MOS,SD\nGame1_01.mp4,61.2,10\nGame2_02,44.0,9\n")
    touch(tmp_path, "videos/Game1_01.mp4", "videos/Game2_02.mp4")
    ds = load_dataset("live-yt-gaming", tmp_path)
    assert sorted(it.name for it in ds.items) == ["Game1_01.mp4", "Game2_02"]


def test_cvd2014_semicolons_decimal_commas_and_content(tmp_path):
    for t in (1, 2):
        write(tmp_path, f"Test{t}/Realignment_MOS.csv",
              f"Content;File_name;Realignment MOS\nCity;Test0{t}_City_D01;64,5\nCity;Test0{t}_City_D02;30,25\n")
        touch(tmp_path, f"Test{t}/City/Test0{t}_City_D01.avi", f"Test{t}/City/Test0{t}_City_D02.avi")
    ds = load_dataset("cvd2014", tmp_path)
    assert len(ds) == 4
    it = by_name(ds)["Test01_City_D01"]
    assert it.mos == 64.5 and it.content_id == "Test01/city"
    assert by_name(ds)["Test01_City_D02"].content_id == by_name(ds)["Test01_City_D01"].content_id
    assert by_name(ds)["Test02_City_D01"].content_id != it.content_id


# --- image --------------------------------------------------------------------------------------------------------

def _clive(root: Path, n: int = 10) -> list[str]:
    names = [f"t{i}.bmp" for i in range(7)] + [f"{i}.JPG" for i in range(10, 10 + n - 7)]
    (root / "Data").mkdir()
    savemat(root / "Data/AllImages_release.mat", {"AllImages_release": cell_array(names)})
    savemat(root / "Data/AllMOS_release.mat", {"AllMOS_release": np.linspace(10, 90, n)[None, :]})
    savemat(root / "Data/AllStdDev_release.mat", {"AllStdDev_release": np.full((1, n), 12.0)})
    touch(root, *[f"Images/trainingImages/{x}" for x in names[:7]], *[f"Images/{x}" for x in names[7:]])
    return names


def test_clive_release_leaves_practice_images_out(tmp_path):
    names = _clive(tmp_path)
    ds = load_dataset("clive", tmp_path)
    assert [it.name for it in ds.items] == names[7:]
    assert ds.items[0].extra["mos_std"] == 12.0
    assert any("practice" in n for n in ds.notes)
    ds = load_dataset("clive", tmp_path, include_practice=True)
    assert len(ds) == 10 and ds.splits()["practice"] == 7
    assert ds.items[0].path.parent.name == "trainingImages"


def test_clive_length_mismatch(tmp_path):
    _clive(tmp_path)
    savemat(tmp_path / "Data/AllMOS_release.mat", {"AllMOS_release": np.ones((1, 3))})
    with pytest.raises(DatasetError, match="lists 10 images but AllMOS_release.mat has 3"):
        load_dataset("clive", tmp_path)


def test_koniq_scores_and_official_sets(tmp_path):
    write(tmp_path, "koniq10k_scores_and_distributions.csv",
          '"image_name","c1","c2","c3","c4","c5","c_total","MOS","SD","MOS_zscore"\n'
          '"10004473376.jpg",0,0,25,73,7,105,3.828571,0.527278,77.38\n'
          '"10007357496.jpg",0,3,45,47,6,101,3.554455,0.6436,68.75\n')
    touch(tmp_path, "1024x768/10004473376.jpg", "1024x768/10007357496.jpg")
    ds = load_dataset("koniq-10k", tmp_path)
    assert ds.items[0].mos == pytest.approx(3.828571) and ds.items[0].split is None
    write(tmp_path, "koniq10k_distributions_sets.csv",
          "image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,set\n10004473376.jpg,0,0,25,73,7,105,70,5,training\n"
          "10007357496.jpg,0,3,45,47,6,101,60,6,test\n")
    assert load_dataset("koniq", tmp_path).splits() == {"train": 1, "test": 1}


def test_spaq_xlsx(tmp_path):
    write_xlsx(tmp_path / "Annotations/MOS and Image attribute scores.xlsx",
               [["Image name", "MOS", "Brightness", "Colorfulness", "Contrast", "Noisiness", "Sharpness"],
                ["00001.jpg", 42.5, 40, 38, 50, 60, 45], ["00002.jpg", 71.0, 70, 60, 55, 62, 70]])
    touch(tmp_path, "TestImage/00001.jpg", "TestImage/00002.jpg")
    ds = load_dataset("spaq", tmp_path)
    assert [(it.name, it.mos) for it in ds.items] == [("00001.jpg", 42.5), ("00002.jpg", 71.0)]
    assert ds.items[0].extra["Sharpness"] == 45


def test_live_release2_layout(tmp_path):
    n = 982
    dmos = np.linspace(0, 100, n)
    orgs = np.zeros(n)
    orgs[[0, 300]] = 1
    refs = [f"ref{i % 29}.bmp" for i in range(n)]
    savemat(tmp_path / "dmos.mat", {"dmos": dmos[None, :], "orgs": orgs[None, :]})
    savemat(tmp_path / "refnames_all.mat", {"refnames_all": cell_array(refs, column=False)})
    touch(tmp_path, "jp2k/img2.bmp", "jpeg/img1.bmp", "wn/img1.bmp", "fastfading/img174.bmp")
    ds = load_dataset("live", tmp_path)
    got = by_name(ds)
    assert set(got) == {"jp2k/img2.bmp", "jpeg/img1.bmp", "wn/img1.bmp", "fastfading/img174.bmp"}
    assert got["jpeg/img1.bmp"].mos == pytest.approx(dmos[227]) and got["jpeg/img1.bmp"].content_id == refs[227]
    assert got["wn/img1.bmp"].mos == pytest.approx(dmos[460])
    assert got["fastfading/img174.bmp"].mos == pytest.approx(dmos[981])
    # jp2k/img1 is an undistorted reference (orgs=1): left out, not reported missing
    assert "jp2k/img1.bmp" not in {s.name for s in ds.skipped}
    assert any("2 undistorted" in n for n in ds.notes)
    assert ds.info.higher_is_better is False


def test_live_wrong_length(tmp_path):
    savemat(tmp_path / "dmos.mat", {"dmos": np.ones((1, 10)), "orgs": np.zeros((1, 10))})
    savemat(tmp_path / "refnames_all.mat", {"refnames_all": cell_array(["a"] * 10, column=False)})
    with pytest.raises(DatasetError, match="expected 982"):
        load_dataset("live", tmp_path)


def test_csiq_xlsx_with_title_rows(tmp_path):
    write_xlsx(tmp_path / "csiq.DMOS.xlsx",
               [["CSIQ DMOS"], [], ["image", "dst_idx", "dst_type", "dst_lev", "dmos_std", "dmos"],
                [1600, 1, "noise", 1, 0.03, 0.062], ["1600", 2, "jpeg 2000", 3, 0.05, 0.341],
                ["aerial_city", 3, "f noise", 2, 0.04, 0.2], ["aerial_city", 4, "warp", 1, 0.1, 0.3]],
               sheet="all_by_image", extra_sheets=("all_by_distortion",))
    touch(tmp_path, "dst_imgs/awgn/1600.AWGN.1.png", "dst_imgs/jpeg2000/1600.jpeg2000.3.png",
          "dst_imgs/fnoise/aerial_city.fnoise.2.png")
    ds = load_dataset("csiq", tmp_path)
    got = by_name(ds)
    assert set(got) == {"1600.AWGN.1.png", "1600.jpeg2000.3.png", "aerial_city.fnoise.2.png"}
    assert got["1600.AWGN.1.png"].content_id == "1600" and got["1600.AWGN.1.png"].mos == 0.062
    assert [s.reason for s in ds.skipped] == ["bad_label"]  # unknown dst_type "warp"


def test_tid2013_mixed_case_names(tmp_path):
    write(tmp_path, "mos_with_names.txt", "5.51429 i01_01_1.bmp\n4.8 i01_02_1.bmp\n3.1 i25_01_5.bmp\n")
    touch(tmp_path, "distorted_images/I01_01_1.BMP", "distorted_images/i01_02_1.bmp", "distorted_images/i25_01_5.bmp")
    ds = load_dataset("tid2013", tmp_path)
    got = by_name(ds)
    assert len(got) == 3
    assert got["i01_01_1.bmp"].path.name == "I01_01_1.BMP"
    assert got["i01_01_1.bmp"].content_id == got["i01_02_1.bmp"].content_id == "i01"


def test_kadid_reference_is_content(tmp_path):
    write(tmp_path, "dmos.csv", "dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,4.57,0.496\n"
                                "I01_01_02.png,I01.png,4.33,0.869\nI02_01_01.png,I02.png,3.1,0.5\n")
    touch(tmp_path, "images/I01_01_01.png", "images/I01_01_02.png", "images/I02_01_01.png")
    ds = load_dataset("kadid-10k", tmp_path)
    assert [it.content_id for it in ds.items] == ["I01.png", "I01.png", "I02.png"]
    assert ds.info.higher_is_better and ds.info.mos_range == (1.0, 5.0)


def test_agiqa_prompt_groups_and_target(tmp_path):
    write(tmp_path, "data.csv", "name,prompt,adj1,adj2,style,mos_quality,std_quality,mos_align,std_align\n"
                                "AttnGAN_normal_000.jpg,a cat,,,,1.2,0.5,2.0,0.4\n"
                                "midjourney_normal_000.jpg,a cat,,,,4.1,0.6,4.5,0.3\n")
    touch(tmp_path, "AttnGAN_normal_000.jpg", "images/midjourney_normal_000.jpg")
    ds = load_dataset("agiqa-3k", tmp_path)
    assert [it.mos for it in ds.items] == [1.2, 4.1]
    assert ds.items[0].content_id == ds.items[1].content_id
    assert [it.mos for it in load_dataset("agiqa", tmp_path, target="align").items] == [2.0, 4.5]
    with pytest.raises(DatasetError, match="target"):
        load_dataset("agiqa", tmp_path, target="beauty")


def test_ava_vote_histogram(tmp_path):
    write(tmp_path, "AVA.txt", "1 953619 0 1 5 17 38 36 15 6 5 1 1 22 1396\n"
                               "2 953958 10 7 15 33 38 13 6 2 0 0 0 0 1396\n"
                               "3 954184 0 0 0 0 0 0 0 0 0 0 0 0 1396\n")
    write(tmp_path, "aesthetics_image_lists/generic_test.jpgl", "953958\n")
    touch(tmp_path, "images/953619.jpg", "images/953958.jpg", "images/954184.jpg")
    ds = load_dataset("ava", tmp_path)
    votes = np.array([0, 1, 5, 17, 38, 36, 15, 6, 5, 1])
    assert by_name(ds)["953619"].mos == pytest.approx((votes * np.arange(1, 11)).sum() / votes.sum())
    assert ds.splits() == {"train": 1, "test": 1}
    assert [s.reason for s in ds.skipped] == ["bad_label"]


# --- manifests ----------------------------------------------------------------------------------------------------

def test_manifest_csv_infers_range(tmp_path):
    write(tmp_path, "m.csv", "path,mos,split\na.png,72,train\nsub/b.png,15,test\nc.png,50,\n")
    touch(tmp_path, "a.png", "sub/b.png")
    ds = load_manifest(tmp_path / "m.csv")
    assert ds.info.mos_range == (0.0, 100.0) and ds.info.kind == "image"
    assert [it.split for it in ds.items] == ["train", "test"]
    assert [s.name for s in ds.skipped] == ["c.png"]
    assert any("inferred" in n for n in ds.notes)


def test_manifest_jsonl_declared_range_and_direction(tmp_path):
    lines = [{"path": "v1.mp4", "mos": 0.2, "content_id": "x"}, {"path": "v2.mp4", "mos": 0.8, "content_id": "x"}]
    write(tmp_path, "m.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    touch(tmp_path, "v1.mp4", "v2.mp4")
    ds = load_manifest(tmp_path / "m.jsonl", mos_range=(0, 1), higher_is_better=False)
    assert ds.info.kind == "video" and ds.info.to_1_5(0.2) == pytest.approx(4.2)
    assert {it.content_id for it in ds.items} == {"x"}


def test_manifest_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_manifest(tmp_path / "none.csv")
    write(tmp_path, "bad.csv", "file,quality\na.png,3\n")
    with pytest.raises(DatasetError, match="no column 'mos'"):
        load_manifest(tmp_path / "bad.csv")
    write(tmp_path, "bad.jsonl", '{"path": "a.png", "mos": 3}\nnot json\n')
    with pytest.raises(DatasetError, match="line 2"):
        load_manifest(tmp_path / "bad.jsonl")


def test_clive_fewlabel_builtin(tmp_path):
    write(tmp_path, "labels.csv", "image,mos,mos_std\nimages/1.png,41.3,21.7\nimages/2.jpg,75.3,16.5\n")
    touch(tmp_path, "images/1.png", "images/2.jpg")
    ds = load_dataset("clive-fewlabel", tmp_path)
    assert ds.info.mos_range == (0.0, 100.0) and len(ds) == 2 and ds.items[0].extra["mos_std"] == 21.7


def test_shared_clive_fewlabel_if_present():
    root = shared_data("clive-fewlabel", "labels.csv").parent
    ds = load_dataset("clive-fewlabel", root)
    assert len(ds) == 200 and not ds.skipped


# --- formats ------------------------------------------------------------------------------------------------------

def test_read_xlsx_values_and_errors(tmp_path):
    p = write_xlsx(tmp_path / "t.xlsx", [["a", "b"], [1.5, None, "x"], ["", 2]])
    assert read_xlsx(p) == [["a", "b"], [1.5, None, "x"], ["", 2.0]]
    (tmp_path / "bad.xlsx").write_text("not a zip")
    with pytest.raises(DatasetError, match="not an .xlsx"):
        read_xlsx(tmp_path / "bad.xlsx")
    with pytest.raises(DatasetError, match="no sheet 'nope'"):
        read_xlsx(p, sheet="nope")


def test_biq2021_official_split(tmp_path):
    write(tmp_path, "Train (Images and MOS).csv",
          "Image Name,MOS,,\nss03 (3753).jpg,0.8471,,\nss01 (1726).jpg,0.2874,,\n,,,\n")
    write(tmp_path, "Test (Images and MOS).csv", "Image Name,MOS,,\nss02 (7).jpg,0.5,,\n")
    touch(tmp_path, "Images/ss03 (3753).jpg", "Images/ss01 (1726).jpg", "Images/ss02 (7).jpg")
    ds = load_dataset("biq2021", tmp_path)
    assert [(it.name, it.split) for it in ds.items] == [("ss03 (3753).jpg", "train"), ("ss01 (1726).jpg", "train"),
                                                        ("ss02 (7).jpg", "test")]
    assert ds.items[0].mos == pytest.approx(0.8471)
    assert dataset_info("biq").to_1_5(0.5) == pytest.approx(3.0)  # 0-1 stored, 1-5 ACR collected
    assert ds.items[2].path == tmp_path / "Images" / "ss02 (7).jpg"


def test_biq2021_leak_and_missing(tmp_path):
    with pytest.raises(DatasetError, match="neither"):
        load_dataset("biq2021", tmp_path)
    write(tmp_path, "Train (Images and MOS).csv", "Image Name,MOS\na.jpg,0.1\n")
    write(tmp_path, "Test (Images and MOS).csv", "Image Name,MOS\na.jpg,0.2\n")
    touch(tmp_path, "Images/a.jpg")
    with pytest.raises(DatasetError, match="in both train and test"):
        load_dataset("biq2021", tmp_path)
