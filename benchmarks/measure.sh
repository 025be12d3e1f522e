#!/usr/bin/env bash
# The figures quoted in the issues' closing notes and the docs, in one go, on one machine (LFW at
# ../shared/data or $FACEBENCH_DATA). Each step is a plain facebench command; logs go to $OUT.
set -euo pipefail
DATA=${FACEBENCH_DATA:-../shared/data}
OUT=${OUT:-results/measure}
mkdir -p "$OUT"
SEED=$DATA/lfw-meta/seed-subset.txt
step() { echo "== $1 $(date -u +%H:%M:%S) load: $(cut -d' ' -f1-3 /proc/loadavg)"; }

step "seed subset, every executor, workers 1..cores, 7 interleaved repeats (the reference results; ~40 min)"
facebench run --suite suites/seed.toml --kernel optimized --no-progress --out results/reference-runs \
  | tee "$OUT/seed.log"
facebench report "$(tail -n 1 "$OUT/seed.log")" --out results/reference --pattern

step "the naive kernel on 61 of the seed subset's photos, 7 repeats (the pattern's service time; ~5 min)"
facebench run --dataset "$DATA/lfw" --list results/pattern-2019/seed-every26th.txt --kernel naive \
  --executors sequential --repeats 7 --no-train --no-progress --out "$OUT/runs" | tee "$OUT/naive61.log"

step "naive and optimized kernels, sequential, first 200 images of the seed subset (issue 4)"
head -n 200 "$SEED" > "$OUT/seed200.txt"
facebench run --dataset "$DATA/lfw" --list "$OUT/seed200.txt" --kernel optimized,naive --executors sequential \
  --repeats 1 --no-train --no-progress --out "$OUT/runs" | tee "$OUT/naive.log"

step "object storage at 0 and 50 ms (issue 3)"
facebench run --suite suites/seed-s3.toml --no-train --no-progress --out "$OUT/runs" | tee "$OUT/s3.log"

step "training on LFW identities with at least 10 images (issue 6)"
facebench run --dataset "$DATA/lfw" --list "$DATA/lfw-meta/ge10.txt" --executors processes --workers 2 \
  --repeats 1 --no-train --no-progress --out "$OUT/runs" | tee "$OUT/ge10.log"
GE10=$(tail -n 1 "$OUT/ge10.log")
facebench train "$GE10" --executors processes --workers 2 | tee "$OUT/train-ge10.log"

step "against a Pool with one apply_async per image (issue 7)"
python benchmarks/versus_pool.py --dataset "$DATA/lfw" --list "$SEED" --workers 2 --chunk-sizes 1,8,32,auto \
  --out "$OUT/runs" | tee "$OUT/versus-pool.log"

step "the scaling model's error and the claim (issue 4), on the reference run and the naive run"
REF=$(tail -n 1 "$OUT/seed.log"); NAIVE=$(tail -n 1 "$OUT/naive61.log")
facebench project "$REF" --validate | tee "$OUT/validate.log"
facebench claim "$REF" "$NAIVE" | tee "$OUT/claim.log"
step "the descriptor variants, scored on ge10's validation split (issue 6; about 25 minutes)"
python benchmarks/descriptor_variants.py "$GE10" | tee "$OUT/descriptor-variants.log"

step "where the CPU time goes: py-spy over the seed subset (issue 7; pip install py-spy)"
OUT="$OUT/profile" benchmarks/profile.sh processes 2

step "the machine's own bound: the bare kernel at 1 and 2 workers (issue 7)"
python benchmarks/core_contention.py --dataset "$DATA/lfw" --list "$SEED" --images 96 --workers 1,2 --repeats 3 \
  | tee "$OUT/contention.log"

# Past two cores (results/scaling-16core/), on a machine with 16 cores:
#   facebench run --suite suites/scaling.toml --no-train
#   python benchmarks/core_contention.py --stage detect --dataset ../shared/data/lfw \
#     --list ../shared/data/lfw-meta/seed-subset.txt --workers 1,2,4,8,12,16
step done
