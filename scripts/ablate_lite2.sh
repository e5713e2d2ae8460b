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
  [crop16]="--crop 16"          # 256-px native crops instead of 384
)
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(ref no-syn from15 no-rank crop16 from12)
here=$(dirname "$0")
for n in "${names[@]}"; do
  if [ -f "$work/runs/$n/history.json" ]; then echo "$n: done"; continue; fi
  # shellcheck disable=SC2086
  python "$here/train_lite2.py" --biq-root "$root" --work "$work" --stage train --epochs 1 --threads 1 \
    --run "$n" --resume ${runs[$n]}
done
