#!/usr/bin/env bash
# The reference model's held-out accuracy across KV cache modes (issue 12), one GPU call:
# all 2000 problems, gen 256, batch 1000, cache none / prefix / dual x (one token per step,
# threshold 0.9, localleap's defaults), with bench/run.ts --cache. About 4-5 minutes on an H100
# (the build 35 s, the export 10 s, lc-256 about 50 s per cache mode, the adaptive rules less).
#   node dist/bench/run.js --device cuda --model /tmp/ref.pt --gen 256 --problems 2000 --batch 1000 \
#     --configs lc-256,threshold-256,localleap-256 --cache none,prefix,dual --no-progress --out $OUT/cache-accuracy
# $OUT ends with cache-accuracy/bench.{json,md} and its plots, accuracy.log, driver log.
# Knobs: SKIP_BUILD=1 (the committed prebuild), PROBLEMS (default 2000), CONFIGS, CACHES,
# BUDGET_S (run.ts --budget-s, default 420), DEADLINE_S (default 540). Carry .device and dist.
set -uo pipefail
OUT="${OUT:-/tmp/localleap-out}"
DEADLINE_S="${DEADLINE_S:-540}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
exec > >(tee -a "$OUT/accuracy-driver.log") 2>&1
T_START=$(date +%s)
die() { echo "CACHE ACCURACY FAILED: $*"; exit 1; }

# shellcheck source=tools/device/cache-common.sh
. tools/device/cache-common.sh
device_env dist/bench/run.js
device_build

stage "the reference model in bfloat16 (tools/export.py, CUDA)"
timeout "$(budget 120 60)" python3 tools/export.py --weights models/reference --out /tmp/localleap-ref-bfloat16.pt --dtype bfloat16 \
  --device cuda || die "export"

stage "held-out accuracy per cache mode (bench/run.ts --cache)"
timeout "$(budget 600 10)" node dist/bench/run.js --device cuda --model /tmp/localleap-ref-bfloat16.pt --gen 256 \
  --problems "${PROBLEMS:-2000}" --batch 1000 --configs "${CONFIGS:-lc-256,threshold-256,localleap-256}" \
  --cache "${CACHES:-none,prefix,dual}" --budget-s "${BUDGET_S:-420}" --no-progress --out "$OUT/cache-accuracy" 2>&1 | tee "$OUT/accuracy.log"
status=${PIPESTATUS[0]}
[ -f "$OUT/cache-accuracy/bench.md" ] && cat "$OUT/cache-accuracy/bench.md"
[ "$status" = 0 ] || die "bench/run.ts (exit $status$([ "$status" = 124 ] && echo ', timed out'))"
echo "CACHE ACCURACY OK in $(elapsed) s"
