"""Start-up time of the `vqual` command: what a person scoring one photo waits for, end to end, in fresh processes.

    python benchmarks/startup.py [--repeats 5] [--model NAME] [--where] [--baseline SRC]
                                 [--json benchmarks/results/startup.json]

Each repeat runs, one after the other in fresh processes (interleaved, so machine load hits every command alike):

* ``python -c pass``: the interpreter alone;
* ``python -c "import torch"``: the floor for any command that runs a torch model;
* ``vqual score img_500x500.jpg --format json``: one 500x500 JPEG (quality 90, made from the bundled sample
  photograph, cached in benchmarks/.cache/), end to end: imports, model load, decoding, scoring, output;
* ``vqual score missing.jpg --format json``: a batch whose only input fails at once (a missing file);
* ``vqual --version`` and ``vqual score --help``: the command line alone.

Reported: the median wall time of each (and every run), and each median as a multiple of ``import torch`` measured
in the same run. The `vqual` console script of this interpreter's environment is used when there is one (else
``python -m vqual.cli``). `--baseline SRC` (another checkout's ``src`` folder, e.g. ``git archive REV src | tar -x
-C /tmp/before``) adds each vqual command run from that code (``PYTHONPATH=SRC python -m vqual.cli``, and then this
tree's the same way), interleaved: before and after in one run. `--where` also prints where the time goes: the
slowest imports (``python -X importtime``) of the JPEG and the missing-file commands, and a profile of building the
model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"


def make_image() -> Path:
    """The 500x500 JPEG of benchmarks/speed.py (same recipe), cached."""
    path = CACHE / "img_500x500.jpg"
    if not path.exists():
        import numpy as np
        from PIL import Image

        from vqual.data.synthetic import gaussian_noise
        from vqual.weights import asset_path

        CACHE.mkdir(exist_ok=True)
        img = Image.open(asset_path("samples/kodim23.jpg")).convert("RGB").resize((500, 500), Image.BICUBIC)
        Image.fromarray(gaussian_noise(np.asarray(img), 2.0, seed=1)).save(path, quality=90)
    return path


def vqual_command() -> list[str]:
    script = Path(sys.executable).with_name("vqual")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "vqual.cli"]


Command = tuple[list[str], set[int], dict[str, str] | None]  # argv, accepted exit codes, environment (None: ours)


def commands(image: Path, model: str | None, baseline: str | None = None) -> dict[str, Command]:
    """name -> (argv, accepted exit codes, environment)."""
    m = ["--model", model] if model else []
    missing = str(CACHE / "no-such-file.jpg")
    out: dict[str, Command] = {
        "python": ([sys.executable, "-c", "pass"], {0}, None),
        "import_torch": ([sys.executable, "-c", "import torch"], {0}, None),
    }
    trees = [("", None)] if baseline is None else [("", str(HERE.parent / "src")), ("@baseline", baseline)]
    for suffix, src in trees:
        vq = vqual_command() if src is None else [sys.executable, "-m", "vqual.cli"]
        env = None if src is None else dict(os.environ, PYTHONPATH=src)
        out.update({
            f"score_jpeg_500{suffix}": ([*vq, "score", str(image), "--format", "json", *m], {0}, env),
            f"score_missing{suffix}": ([*vq, "score", missing, "--format", "json", *m], {1}, env),
            f"version{suffix}": ([*vq, "--version"], {0}, env),
            f"score_help{suffix}": ([*vq, "score", "--help"], {0}, env),
        })
    return out


def run_once(argv: list[str], ok: set[int], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
    return seconds


def importtime(argv: list[str], top: int = 12) -> list[tuple[str, float]]:
    """The `top` slowest imports of a run that no other import made (cumulative seconds, ``-X importtime``)."""
    if argv[0] != sys.executable:  # the console script: run the same entry point under -X importtime
        argv = [sys.executable, "-m", "vqual.cli", *argv[1:]]
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv[1:]], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, name = line.removeprefix("import time:").split("|")
        if cum.strip().isdigit() and not name.startswith("  "):  # not nested: its time includes what it imports
            rows.append((name.strip(), int(cum) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


def model_profile(model: str | None, top: int = 15) -> str:
    code = f"""
import cProfile, io, pstats, time
import torch
from vqual.registry import create_model
pr = cProfile.Profile()
t = time.perf_counter()
pr.enable()
create_model({model!r})
pr.disable()
print(f"model built in {{time.perf_counter() - t:.3f}} s (torch already imported)")
s = io.StringIO()
pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(
    "vqual/|efficientnet|load_state_dict|sha256|serialization.py.*[(]load[)]", {top})
print(s.getvalue())
"""
    return subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True).stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="runs of each command (default 5)")
    ap.add_argument("--model", default=None, help="model to score with (default: the default model)")
    ap.add_argument("--where", action="store_true", help="also print the slowest imports and a model-load profile")
    ap.add_argument("--baseline", metavar="SRC", default=None,
                    help="also run the vqual commands from this source folder (before/after in one run)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    args = ap.parse_args()

    image = make_image()
    cmds = commands(image, args.model, args.baseline)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    load = []
    for r in range(args.repeats):
        load.append(os.getloadavg()[0] if hasattr(os, "getloadavg") else None)
        for name, (argv, ok, env) in cmds.items():
            times[name].append(run_once(argv, ok, env))
        print(f"run {r + 1}/{args.repeats}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()),
              file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    torch_s = med["import_torch"]
    w = max(map(len, times))
    print(f"{'command':<{w}} {'median s':>9} {'x import torch':>15}  runs")
    for k, v in times.items():
        print(f"{k:<{w}} {med[k]:9.3f} {med[k] / torch_s:15.2f}  {' '.join(f'{x:.2f}' for x in v)}")
    doc = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
           "machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
           "loadavg_1min": load, "repeats": args.repeats, "image": str(image.relative_to(HERE.parent)),
           "commands": {k: ("" if env is None else f"PYTHONPATH={env['PYTHONPATH']} ") + " ".join(argv)
                        for k, (argv, _, env) in cmds.items()},
           "baseline": args.baseline,
           "median_s": med, "ratio_to_import_torch": {k: v / torch_s for k, v in med.items()}, "runs_s": times}
    if args.where:
        for name in ("score_jpeg_500", "score_missing"):
            print(f"\nslowest top-level imports of {name} (cumulative s, -X importtime):")
            rows = importtime(cmds[name][0])
            for mod, s in rows:
                print(f"  {mod:<32} {s:7.3f}")
            doc.setdefault("imports_s", {})[name] = dict(rows)
        prof = model_profile(args.model)
        print("\n" + prof)
        doc["model_profile"] = prof
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
