#!/usr/bin/env bash
# Ablations of vqual-lite 2's recipe (issue #16, research/lite2/ABLATIONS.md): one epoch each, one thread, seed 0,
# validation on the held-back 10% of BIQ2021's training split and zero-shot on clive-fewlabel after the epoch.
# Needs the cache of `scripts/train_lite2.py --stage cache`; each run writes <work>/runs/NAME/history.json.
# Usage: bash scripts/ablate_lite2.sh BIQ_ROOT [WORK] [NAME...]   (~20 min per run on one core)
set -euo pipefail
root=$1; work=${2:-${VQUAL_TRAIN_DIR:-$HOME/.cache/vqual/train_lite2}}
shift $(( $# < 2 ? $# : 2 ))
declare -A runs=(
  [ref]=""                      # the shipped recipe, one epoch
  [no-syn]="--w-syn 0"          # without the synthetic ranking pairs
  [no-rank]="--w-rank 0"        # MSE only on BIQ2021 (synthetic pairs kept)
  [from15]="--train-from 15"    # train only s7 (block 15) and the head conv
  [from12]="--train-from 12"    # train s6's last blocks, s7 and the head conv
  [ref-rerun]=""                # ref again from scratch: reproducibility of the validation figures
  [crop16]="--crop 16"          # 256-px native crops instead of 384
)
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(ref no-syn from15 no-rank crop16 ref-rerun from12)
here=$(dirname "$0")
for n in "${names[@]}"; do
  if [ -f "$work/runs/$n/history.json" ]; then echo "$n: done"; continue; fi
  # shellcheck disable=SC2086
  python "$here/train_lite2.py" --biq-root "$root" --work "$work" --stage train --epochs 1 --threads 1 \
    --run "$n" --resume ${runs[$n]}
done
# the table of research/lite2/README.md: one row per finished run
python - "$work" <<'PY'
import json, sys
from pathlib import Path
print("| run | changed | val SRCC (1,000 held-back BIQ2021) | val RMSE | clive-fewlabel SRCC (200, zero-shot) |")
print("| --- | --- | ---: | ---: | ---: |")
for f in sorted(Path(sys.argv[1], "runs").glob("*/history.json")):
    d = json.loads(f.read_text())
    a, h = d["args"], d["history"][-1]
    defaults = (("w_syn", "1.0"), ("w_rank", "1.0"), ("train_from", "8"), ("crop", "24"))
    changed = ", ".join(f"{k}={a[k]}" for k, v in defaults if a[k] != v) or "-"
    if a["run"] == "ref-rerun":
        changed = "same as ref, from scratch"
    print(f"| {a['run']} | {changed} | {h['val_srcc']:.3f} | {h['val_rmse']:.3f} | {h['clive_srcc']:.3f} |")
PY
