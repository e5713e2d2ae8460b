"""The `vqual` command: formats, exit codes, bad files in a batch, atomic output, determinism."""

import csv
import io
import json
import os

import numpy as np
import pytest
from mediagen import moving_pattern, write_image, write_video

from vqual.cli import main


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    img = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    write_image(d / "a.png", img)
    write_image(d / "b.jpg", img[:, ::-1].copy(), quality=40)
    write_video(d / "c.mp4", moving_pattern(20, 96, 128), fps=10)
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.mp4").write_text("this is not a video\n" * 10)
    return d


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_table_and_exit_code_with_bad_files(media, capsys):
    code, out, err = run(capsys, "score", str(media))
    assert code == 1
    assert "a.png" in out and "c.mp4" in out
    assert "FAILED (empty)" in out and "FAILED (not_media)" in out
    assert "3 scored, 2 failed" in out
    assert "Traceback" not in out + err


def test_all_good_exit_zero(media, capsys):
    code, out, _ = run(capsys, "score", str(media / "[ab].*"), str(media / "c.mp4"))
    assert code == 0 and "3 scored, 0 failed" in out, _


def test_json_jsonl_csv(media, capsys):
    code, out, err = run(capsys, "score", str(media), "--format", "json", "--timeline")
    doc = json.loads(out)
    assert code == 1 and len(doc["results"]) == 3 and len(doc["failures"]) == 2
    assert {f["error"]["reason"] for f in doc["failures"]} == {"empty", "not_media"}
    video = next(r for r in doc["results"] if r["kind"] == "video")
    assert len(video["timeline"]) == 2 and video["provenance"]["frame_indices"] == [0, 10]
    assert "empty.jpg" in err  # failures also go to stderr, one line each

    code, out, _ = run(capsys, "score", str(media), "--format", "jsonl")
    lines = [json.loads(x) for x in out.splitlines()]
    assert len(lines) == 5 and sum("error" in x for x in lines) == 2

    code, out, _ = run(capsys, "score", str(media), "--format", "csv", "--timeline")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["kind"] for r in rows].count("second") == 2
    assert sum(1 for r in rows if r["error_reason"]) == 2


def test_out_file_is_written_atomically(media, tmp_path, capsys):
    out = tmp_path / "sub" / "scores.jsonl"
    code, stdout, err = run(capsys, "score", str(media / "a.png"), "--format", "jsonl", "--out", str(out))
    assert code == 0 and stdout == ""
    assert json.loads(out.read_text())["path"] == str(media / "a.png")
    assert not [p for p in os.listdir(out.parent) if p.endswith(".partial")]


def test_usage_errors_exit_2(media, capsys):
    assert run(capsys, "score")[0] == 2
    assert run(capsys, "score", str(media / "a.png"), "--format", "xml")[0] == 2
    code, _, err = run(capsys, "score", str(media / "a.png"), "--model", "nique")
    assert code == 2 and "did you mean 'niqe'" in err
    assert run(capsys)[0] == 2


def test_missing_file_is_a_failure_not_a_crash(tmp_path, capsys):
    code, out, _ = run(capsys, "score", str(tmp_path / "nope.jpg"))
    assert code == 1 and "FAILED (missing)" in out


def test_models_lists_versions(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "niqe" in out and "1.0.0" in out


def _strip_timing(d):
    d = json.loads(json.dumps(d))
    for r in d["results"]:
        r["provenance"]["elapsed_ms"] = 0
    d.pop("summary")
    return d


def test_same_results_whatever_the_batch(media, capsys):
    """The same file scored alone, twice, and inside a bigger batch gives identical results."""
    _, alone, _ = run(capsys, "score", str(media / "c.mp4"), str(media / "a.png"), "--format", "json", "--timeline")
    _, batch, _ = run(capsys, "score", str(media), "--format", "json", "--timeline")
    alone, batch = _strip_timing(json.loads(alone)), _strip_timing(json.loads(batch))
    by_path = {r["path"]: r for r in batch["results"]}
    for r in alone["results"]:
        assert r == by_path[r["path"]]


def test_explain_needs_an_explaining_model(tmp_path, capsys):
    from PIL import Image

    img = tmp_path / "a.png"
    Image.new("RGB", (64, 64), (120, 90, 60)).save(img)
    assert main(["explain", str(img), "--model", "niqe"]) == 2
    assert "does not explain" in capsys.readouterr().err


# --- issue 14: a new user's rough edges ----------------------------------------------------------------------------

def _partials(d):
    return [p for p in os.listdir(d) if p.endswith(".partial")]


def _no_scoring(monkeypatch):
    import vqual.api

    def fail(*a, **k):
        raise AssertionError("scored although the destination is unusable")

    monkeypatch.setattr(vqual.api, "score_one", fail)
    monkeypatch.setattr(vqual.api, "load_model", fail)


@pytest.mark.parametrize("case", ["folder", "trailing_slash", "parent_is_a_file", "read_only_folder"])
def test_unusable_out_is_a_usage_error_before_scoring(media, tmp_path, capsys, monkeypatch, case):
    _no_scoring(monkeypatch)
    if case == "folder":
        out = tmp_path / "clips"
        out.mkdir()
    elif case == "trailing_slash":
        out = f"{tmp_path / 'new'}/"
    elif case == "parent_is_a_file":
        (tmp_path / "file.txt").write_text("x")
        out = tmp_path / "file.txt" / "scores.json"
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        if os.access(ro, os.W_OK):  # root writes anywhere: make the folder refuse as it would for a user
            import tempfile

            real = tempfile.mkstemp

            def mkstemp(*a, dir=None, **k):
                if os.path.abspath(dir) == str(ro):
                    raise PermissionError(13, "Permission denied")
                return real(*a, dir=dir, **k)

            monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        out = ro / "scores.json"
    code, stdout, err = run(capsys, "score", str(media), "--out", str(out))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and str(out).rstrip("/") in err and "internal error" not in err
    assert stdout == "" and not _partials(tmp_path)


def test_read_only_out_file_is_refused(media, tmp_path, capsys, monkeypatch):
    out = tmp_path / "scores.json"
    out.write_text("{}")
    out.chmod(0o444)
    if os.access(out, os.W_OK):
        pytest.skip("running as root: a read-only file is writable")
    _no_scoring(monkeypatch)
    code, _, err = run(capsys, "score", str(media), "--out", str(out))
    assert code == 2 and "read-only" in err and str(out) in err


def test_results_are_kept_if_the_final_rename_fails(media, tmp_path, capsys, monkeypatch):
    import vqual.output

    def replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(vqual.output.os, "replace", replace)
    code, _, err = run(capsys, "score", str(media / "a.png"), "--format", "jsonl", "--out", str(tmp_path / "s.jsonl"))
    (kept,) = _partials(tmp_path)
    assert code == 1 and kept in err and "No space left" in err
    assert json.loads((tmp_path / kept).read_text())["path"] == str(media / "a.png")


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def screen(text: str) -> list[str]:
    """The lines a terminal shows after printing `text` (handles \\r and erase-to-end-of-line)."""
    lines, cur, col, i = [], [], 0, 0
    while i < len(text):
        if text.startswith("\x1b[K", i):
            del cur[col:]
            i += 3
            continue
        c, i = text[i], i + 1
        if c == "\r":
            col = 0
        elif c == "\n":
            lines.append("".join(cur))
            cur, col = [], 0
        else:
            cur[col:col + 1] = [c]
            col += 1
    if cur:
        lines.append("".join(cur))
    return lines


def test_progress_bar_never_shares_a_line_with_table_rows(media, monkeypatch):
    import sys

    tty = FakeTTY()  # stdout and stderr on one terminal
    monkeypatch.setattr(sys, "stdout", tty)
    monkeypatch.setattr(sys, "stderr", tty)
    code = main(["score", str(media / "a.png"), str(media / "b.jpg"), str(media / "c.mp4"), str(media / "empty.jpg")])
    assert code == 1
    assert "it/s" in tty.getvalue()  # the bar was drawn ...
    lines = screen(tty.getvalue())
    assert not [ln for ln in lines if "it/s" in ln or "[#" in ln], lines  # ... and is gone from every line
    assert lines[0].startswith("path ") and lines[-1] == "3 scored, 1 failed"
    assert [os.path.basename(ln.split()[0]) for ln in lines[1:-1]] == ["a.png", "b.jpg", "c.mp4", "empty.jpg"]


@pytest.mark.parametrize("umask,existing,want", [(0o022, None, 0o644), (0o002, None, 0o664), (0o022, 0o640, 0o640)])
def test_out_file_gets_the_mode_of_a_normal_file(media, tmp_path, capsys, umask, existing, want):
    out = tmp_path / "scores.csv"
    if existing is not None:
        out.write_text("old")
        out.chmod(existing)
    old = os.umask(umask)
    try:
        code, _, _ = run(capsys, "score", str(media / "a.png"), "--out", str(out))
    finally:
        os.umask(old)
    assert code == 0 and (os.stat(out).st_mode & 0o777) == want


@pytest.mark.parametrize("sig,want", [("SIGTERM", 143), ("SIGINT", 130)])
def test_signal_writes_what_was_scored(tmp_path, sig, want):
    import signal
    import subprocess
    import sys

    (tmp_path / "0-empty.jpg").write_bytes(b"")
    rng = np.random.default_rng(0)
    paths = [str(tmp_path / "0-empty.jpg")]
    for i in range(40):
        img = (rng.random((256, 256, 3)) * 255).astype(np.uint8)
        paths.append(str(write_image(tmp_path / f"{i + 1:02d}.png", img)))
    out = tmp_path / "out" / "scores.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "vqual.cli", "score", *paths, "--format", "json", "--out", str(out)],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stderr.readline()  # the empty file fails first: scoring has begun
        assert "0-empty.jpg" in first, first
        proc.send_signal(getattr(signal, sig))
        err = first + proc.stderr.read()
        assert proc.wait(timeout=120) == want, err
    finally:
        proc.kill()
    doc = json.loads(out.read_text())
    assert len(doc["failures"]) == 1 and len(doc["results"]) < 40
    assert ("terminated" if sig == "SIGTERM" else "interrupted") in doc["summary"]
    assert not _partials(out.parent) and "Traceback" not in err


def test_debug_is_accepted_after_the_subcommand(media, capsys):
    code, out, err = run(capsys, "score", str(media / "a.png"), "--debug")
    assert code == 0 and "1 scored, 0 failed" in out, err
    assert run(capsys, "--debug", "models")[0] == 0
    assert run(capsys, "models", "--debug")[0] == 0


def test_format_follows_the_out_extension(media, tmp_path, capsys):
    for ext, check in (("json", lambda t: json.loads(t)["results"]), ("jsonl", lambda t: json.loads(t)["path"]),
                       ("csv", lambda t: list(csv.DictReader(io.StringIO(t)))[0]["score"])):
        out = tmp_path / f"s.{ext}"
        code, _, err = run(capsys, "score", str(media / "a.png"), "--out", str(out))
        assert code == 0 and check(out.read_text()), err
    code, _, err = run(capsys, "score", str(media / "a.png"), "--out", str(tmp_path / "t.txt"))
    assert code == 0 and (tmp_path / "t.txt").read_text().startswith("path ")
    code, _, err = run(capsys, "score", str(media / "a.png"), "--format", "csv", "--out", str(tmp_path / "x.json"))
    assert code == 2 and "x.json" in err and not (tmp_path / "x.json").exists()


def test_same_file_spelled_twice_is_scored_once(media, capsys, monkeypatch):
    monkeypatch.chdir(media)
    code, out, _ = run(capsys, "score", "./a.png", "a.png", str(media / "a.png"))
    assert code == 0 and "1 scored, 0 failed" in out and "./a.png" in out


def test_empty_folder_glob_and_no_media_are_named(media, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, "score", str(tmp_path / "empty"), str(media / "a.png"))
    assert code == 0 and f"{tmp_path / 'empty'}: no image or video files" in err
    code, out, err = run(capsys, "score", str(tmp_path / "empty"))
    assert code == 2 and f"no media files found in {tmp_path / 'empty'}" in err
    code, out, err = run(capsys, "score", str(media / "*.gif"))
    assert code == 1 and "matched nothing" in out and "no such file" not in out.lower()


def test_failure_rows_name_the_path_once(media, capsys):
    _, out, _ = run(capsys, "score", str(media / "empty.jpg"))
    (row,) = [ln for ln in out.splitlines() if "FAILED" in ln]
    assert row.count("empty.jpg") == 1 and "FAILED (empty)" in row


def test_wide_characters_keep_the_table_aligned(media, tmp_path, capsys):
    import shutil
    import unicodedata

    names = ["画像.png", "plain.png"]
    for n in names:
        shutil.copy(media / "a.png", tmp_path / n)
    _, out, _ = run(capsys, "score", *(str(tmp_path / n) for n in names))

    def col(line, text):  # display column where `text` starts
        i = line.index(text)
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line[:i])

    rows = [ln for ln in out.splitlines() if "image" in ln]
    assert len(rows) == 2 and col(rows[0], " image ") == col(rows[1], " image ") == col(out, " kind ")


def test_report_and_table_print_the_summary_once(media, tmp_path, capsys):
    from vqual.cli.score import run_score

    code = run_score([str(media / "a.png")], None, "table", None, timeline=False, report=str(tmp_path / "r.json"))
    out, err = capsys.readouterr()
    assert code == 0 and (out + err).count("1 scored, 0 failed") == 1 and "wrote" in err


def test_make_demo_writes_into_an_ignored_folder():
    import re
    import shlex
    import shutil
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    recipe = re.search(r"^demo:.*\n\t(.*)$", open(os.path.join(root, "Makefile")).read(), re.M).group(1)
    args = shlex.split(recipe)
    assert args[0].endswith("vqual") and args[1] == "demo"
    written = [args[args.index("--dir") + 1] + "/images/clean.png", args[args.index("--out") + 1]]
    if shutil.which("git") is None or not os.path.isdir(os.path.join(root, ".git")):
        pytest.skip("needs git and the repository")
    for path in written:
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=root).returncode == 0, f"{path} not ignored"


def test_explain_help_names_its_default_model(capsys):
    assert main(["explain", "--help"]) == 0
    assert "default: vqual-lmm" in " ".join(capsys.readouterr().out.split())


def test_calibrate_names_the_first_bad_label(tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("path,score\na.jpg,good\nb.jpg,bad\n")
    code, _, err = run(capsys, "calibrate", "--labels", str(labels), "--out", str(tmp_path / "c.json"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "has no usable labels" in err and "row 1 (a.jpg): score 'good' is not a number" in err


def test_every_sub_command_has_its_module_and_runner():
    from vqual.cli import COMMANDS, build_parser

    sub = next(a for a in build_parser(True)._actions if a.dest == "command")
    assert list(sub.choices) == list(COMMANDS)
    for name, parser in sub.choices.items():
        assert callable(parser.get_default("func")), name  # main runs args.func(args)
        assert parser.prog == f"vqual {name}"


def test_nothing_below_the_cli_imports_it():
    """The command line sits on top: no module outside `vqual.cli` imports it (no cycle through the CLI)."""
    import ast
    from pathlib import Path

    import vqual

    root = Path(vqual.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "cli" or rel.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "vqual.cli" or n.startswith("vqual.cli.") for n in names):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_the_shared_dataset_group_reads_the_same_in_every_command(tmp_path):
    """eval, train and instruct take a labelled set through one argument group and one loader."""
    from vqual.cli import build_parser
    from vqual.cli.args import UsageError, load_dataset_args, parse_options

    labels = tmp_path / "l.csv"
    (tmp_path / "a.png").write_bytes(b"")
    labels.write_text("path,mos\na.png,70\n")
    parser = build_parser(True)
    for cmd, extra in (("eval", []), ("train", ["--out", "x"]), ("instruct", ["--out", "x"])):
        args = parser.parse_args([cmd, "--manifest", str(labels), "--mos-range", "0", "100", "--lower-better", *extra])
        ds = load_dataset_args(args)
        assert ds.info.mos_range == (0.0, 100.0) and not ds.info.higher_is_better, cmd
        assert [it.mos for it in ds.items] == [70.0], cmd
        with pytest.raises(UsageError, match="needs --root DIR"):
            load_dataset_args(parser.parse_args([cmd, "--dataset", "clive", *extra]))
        with pytest.raises(UsageError, match="give exactly one of --dataset or --manifest"):
            load_dataset_args(parser.parse_args([cmd, *extra]))
    args = parser.parse_args(["eval", "--manifest", "m.csv", "--train-dataset", "clive"])
    with pytest.raises(UsageError, match="--train-dataset clive needs --train-root DIR"):
        load_dataset_args(args, "train-")
    assert parse_options(["a-b=yes", "c=Off", "d= x=1 "]) == {"a_b": True, "c": False, "d": "x=1"}
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_options(["novalue"])


def test_an_unusable_cache_is_said_and_the_command_goes_on(tmp_path, capsys, monkeypatch):
    import argparse

    from vqual.cli.args import open_cache
    from vqual.eval.cache import PredictionCache

    (tmp_path / "file").write_text("")
    with open_cache(argparse.Namespace(no_cache=False, cache_dir=str(tmp_path / "file")), "eval") as cache:
        assert cache is None
    assert capsys.readouterr().err.startswith("vqual eval: prediction cache unavailable (")
    with open_cache(argparse.Namespace(no_cache=True, cache_dir=None), "eval") as cache:
        assert cache is None
    closed = []
    monkeypatch.setattr(PredictionCache, "close", lambda self: closed.append(self))
    with pytest.raises(KeyboardInterrupt), open_cache(argparse.Namespace(no_cache=False, cache_dir=str(tmp_path)),
                                                      "eval") as cache:
        raise KeyboardInterrupt
    assert closed == [cache]  # closed whatever happens inside


def test_progress_log_on_a_non_terminal(media, capsys):
    # #14: with stderr not a terminal nothing showed; --progress log writes plain lines, stdout stays the table
    code, out, err = run(capsys, "score", str(media / "a.png"), str(media / "b.jpg"), "--progress", "log")
    assert code == 0 and "ETA" not in out
    lines = [ln for ln in err.splitlines() if "ETA" in ln]
    assert lines[0].startswith("vqual: 1/2 ") and lines[-1].startswith("vqual: 2/2 100%")
    assert "\r" not in err and "\x1b" not in err
    for off in (["--progress", "off"], ["--no-progress"], []):  # auto on a non-terminal: nothing
        code, _, err = run(capsys, "score", str(media / "a.png"), str(media / "b.jpg"), *off)
        assert code == 0 and "ETA" not in err
    assert run(capsys, "score", str(media / "a.png"), "--progress", "sometimes")[0] == 2


def test_a_long_video_reports_each_second(tmp_path, capsys, monkeypatch):
    # #14: one long video showed no progress at all; now each scored second reaches the progress display
    from vqual.progress import Progress

    video = write_video(tmp_path / "long.mp4", moving_pattern(30, 96, 128), fps=10)  # 3 s
    calls = []
    real = Progress.part
    monkeypatch.setattr(Progress, "part", lambda self, *a: (calls.append(a), real(self, *a)))
    code, _, err = run(capsys, "score", str(video), "--progress", "log")
    assert code == 0 and calls == [("long.mp4", 1, 3), ("long.mp4", 2, 3), ("long.mp4", 3, 3)]
    assert "| long.mp4 1/3 s" in err  # the first second is logged at once, then every 10 s
