import os

from vqual.inputs import expand_inputs


def _touch(p):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").close()


def test_folders_recursive_sorted_media_only(tmp_path):
    for rel in ["b/z.mp4", "a.jpg", "b/c/y.PNG", "notes.txt", ".hidden/x.jpg", "b/.x.png"]:
        _touch(str(tmp_path / rel))
    got = expand_inputs([str(tmp_path)])
    assert got == [str(tmp_path / "a.jpg"), str(tmp_path / "b/c/y.PNG"), str(tmp_path / "b/z.mp4")]


def test_explicit_file_kept_whatever_its_extension_and_missing_kept(tmp_path):
    _touch(str(tmp_path / "notes.txt"))
    got = expand_inputs([str(tmp_path / "notes.txt"), str(tmp_path / "missing.jpg")])
    assert got == [str(tmp_path / "notes.txt"), str(tmp_path / "missing.jpg")]


def test_glob_and_dedup(tmp_path):
    for rel in ["1.jpg", "2.jpg", "3.png"]:
        _touch(str(tmp_path / rel))
    got = expand_inputs([str(tmp_path / "*.jpg"), str(tmp_path / "1.jpg"), str(tmp_path / "*.gif")])
    assert got == [str(tmp_path / "1.jpg"), str(tmp_path / "2.jpg"), str(tmp_path / "*.gif")]


def test_same_file_differently_spelled_is_kept_once_as_first_given(tmp_path, monkeypatch):
    _touch(str(tmp_path / "a.jpg"))
    _touch(str(tmp_path / "d" / "b.png"))
    os.symlink(tmp_path / "a.jpg", tmp_path / "link.jpg")
    monkeypatch.chdir(tmp_path)
    got = expand_inputs(["./a.jpg", "a.jpg", str(tmp_path / "a.jpg"), "link.jpg", "d/b.png", "d", "./d/../d/b.png"])
    assert got == ["./a.jpg", "d/b.png"]


def test_empty_folder_is_noted(tmp_path):
    _touch(str(tmp_path / "full" / "a.jpg"))
    _touch(str(tmp_path / "empty" / "notes.txt"))
    notes: list[str] = []
    got = expand_inputs([str(tmp_path / "empty"), str(tmp_path / "full")], notes)
    assert got == [str(tmp_path / "full" / "a.jpg")]
    assert notes == [f"{tmp_path / 'empty'}: no image or video files in this folder; skipped"]
