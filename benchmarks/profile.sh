#!/usr/bin/env bash
# Profile a facebench run with py-spy (pip install py-spy): every process of the run, the client and
# its workers, sampled 100 times a second; then where the CPU time went, by kernel stage and harness
# function (benchmarks/profile_summary.py). Profiling slows the run a little: take shares from it,
# not wall times. Usage: benchmarks/profile.sh [EXECUTOR] [WORKERS] [extra facebench run arguments]
set -euo pipefail
DATA=${FACEBENCH_DATA:-../shared/data}
OUT=${OUT:-results/profile}
EXECUTOR=${1:-processes}
WORKERS=${2:-2}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p "$OUT"
PROFILE="$OUT/seed-$EXECUTOR-w$WORKERS.txt"
py-spy record --subprocesses --rate 100 --format raw --output "$PROFILE" -- \
  facebench run --dataset "$DATA/lfw" --list "$DATA/lfw-meta/seed-subset.txt" --executors "$EXECUTOR" \
  --workers "$WORKERS" --no-train --no-progress --out "$OUT/runs" "$@" | tee "$OUT/seed-$EXECUTOR-w$WORKERS.log"
python benchmarks/profile_summary.py "$PROFILE" | tee "$OUT/seed-$EXECUTOR-w$WORKERS.summary.txt"
