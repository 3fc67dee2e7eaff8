#!/usr/bin/env bash
# The engine half of tools/device/cache8b.sh on an 8B archive that machine already made, next to
# a PyTorch JSON measured earlier by bench/cache8b.py (same machine, same archive):
#   CACHE8B_MODEL=... PYTORCH_JSON=... bash tools/device/cache8b-engine.sh
set -uo pipefail
OUT="${OUT:-/tmp/localleap-out}"
DEADLINE_S="${DEADLINE_S:-500}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
exec > >(tee -a "$OUT/driver.log") 2>&1
T_START=$(date +%s)
die() { echo "CACHE8B FAILED: $*"; exit 1; }
. tools/device/cache-common.sh
device_env dist/bench/cacheSteps.js
MODEL="${CACHE8B_MODEL:-/tmp/localleap-cache8b/llada-8b/model.pt}"
[ -f "$MODEL" ] || die "no $MODEL on this machine: run tools/device/cache8b.sh"
EN_T=$(budget 460 20)
stage "the engine (dist/bench/cacheSteps.js), timeout $EN_T s"
timeout "$EN_T" node dist/bench/cacheSteps.js --model "$MODEL" --out "$OUT/cache-steps.json" --svg "$OUT/cache-growth.svg" \
  --device cuda --prompt 128 --batch 1,8 --gen 256,512,1024 --caches none,prefix,dual \
  --modes "${ENGINE_MODES:-lc1@1x256,lc1/2@1+8x256+8x512,growth,lc1/2@8x1024,lc5@1,localleap/2@1x256}" \
  --growth 256,512,1024,1536,2048 --growth-caches none,dual --growth-blocks 2 --budget-s $(( EN_T - 20 )) 2>&1 | tee "$OUT/cache-steps.log"
stage "report"
python3 bench/cache_report.py --pytorch "${PYTORCH_JSON}" --engine "$OUT/cache-steps.json" --out "$OUT/cache-report.md" \
  --json "$OUT/cache-report.json" || echo "CACHE8B STAGE FAILED: report"
stage "done after $(elapsed) s"
