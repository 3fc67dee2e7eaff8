#!/usr/bin/env bash
# Issue 14 on the GPU machine in one command (after tools/device/pack.sh; carry .device and dist):
# calibrate the reference model on training-split prompts, then score everything on the 2000
# held-out problems at gen 256. Writes into $OUT:
#   calibration.json, calibration.md, calibration.svg   `localleap calibrate` on
#        bench/data/calibration-train.jsonl (500 training-split prompts, make_calibration_set.py),
#        gen 256, block 32, the model's default cache, budget 1 point, the grid below
#   bench.json, bench.md, accuracy-vs-steps.svg, tokens-per-second.svg   the held-out table on the
#        calibrated archive: every main configuration plus threshold/localleap with the model's
#        (calibrated) defaults
#   sweep.json, sweep.svg (when time is left)   the κ / τ / W / θ sweep on the first 1000 problems
# The archive is models/reference exported here in bfloat16 on CUDA (as bench-gpu.sh does).
# Knobs: KAPPAS, TAUS, RADII, THETAS (the calibration grid), CAL_BATCH (500), BATCH (1000),
# MAIN_BUDGET_S (150), DEADLINE_S (300: no sweep configuration starts after it), DEVICE, PYTHON, DTYPE,
# GEN (256), LIMIT (calibration prompts; default all 500), MAIN_PROBLEMS (default all 2000). Rehearsal on CPU:
#   DEVICE=cpu PYTHON=/usr/bin/python3 DTYPE=float32 GEN=32 LIMIT=2 MAIN_PROBLEMS=2 KAPPAS=0.9 TAUS=0.7 RADII=4 \
#   THETAS=0.9 DEADLINE_S=0 OUT=/tmp/cal-rehearsal bash tools/device/calibrate-v2.sh
set -uo pipefail
OUT="${OUT:-/tmp/localleap-calibrate}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
T_START=$(date +%s)
die() { echo "CALIBRATE V2 FAILED: $*"; exit 1; }
# shellcheck source=tools/device/cache-common.sh
. tools/device/cache-common.sh
KAPPAS="${KAPPAS:-0.8,0.9,0.95,0.99}"
TAUS="${TAUS:-0.6,0.7,0.8,0.9,0.95,0.99}"
RADII="${RADII:-1,2,4}"
THETAS="${THETAS:-0.8,0.9,0.95,0.99}"
CAL_BATCH="${CAL_BATCH:-500}"
BATCH="${BATCH:-1000}"
MAIN_BUDGET_S="${MAIN_BUDGET_S:-150}"
DEADLINE_S="${DEADLINE_S:-300}"
DEVICE="${DEVICE:-cuda}"
PYTHON="${PYTHON:-python3}"
DTYPE="${DTYPE:-bfloat16}"
GEN="${GEN:-256}"
MODEL=/tmp/localleap-ref-$DTYPE.pt
CALIBRATED=/tmp/localleap-ref-$DTYPE-calibrated.pt
WORK=/tmp/localleap-calibrate-work
rm -rf "$WORK" && mkdir -p "$WORK"
status=0

DEVICE="$DEVICE" PYTHON="$PYTHON" device_env dist/lib/cli/cli.js

stage "export models/reference -> $MODEL ($DTYPE, this torch, on $DEVICE)"
"$PYTHON" tools/export.py --weights models/reference --out "$MODEL" --dtype "$DTYPE" --device "$DEVICE" || { echo "EXPORT FAILED"; exit 1; }

stage "calibrate on bench/data/calibration-train.jsonl (training split), gen $GEN"
node dist/lib/cli/cli.js calibrate -m "$MODEL" --device "$DEVICE" -p bench/data/calibration-train.jsonl ${LIMIT:+--limit "$LIMIT"} \
  --gen-length "$GEN" --block-length 32 --batch-size "$CAL_BATCH" --budget 1 \
  --anchor-thresholds "$KAPPAS" --relaxed-thresholds "$TAUS" --radii "$RADII" --thresholds "$THETAS" \
  --table "$OUT/calibration.md" --plot "$OUT/calibration.svg" --write --out "$CALIBRATED" --json > "$OUT/calibration.json" \
  || { echo "CALIBRATE FAILED"; cat "$OUT/calibration.json"; exit 1; }
cat "$OUT/calibration.md"
node dist/lib/cli/cli.js info -m "$CALIBRATED" | sed -n '/ecoding/,$p' | head -30

stage "held-out table on the calibrated archive: ${MAIN_PROBLEMS:-all} problems, gen $GEN, batch $BATCH (budget $MAIN_BUDGET_S s)"
node dist/bench/run.js --device "$DEVICE" --model "$CALIBRATED" --batch "$BATCH" --gen "$GEN" ${MAIN_PROBLEMS:+--problems "$MAIN_PROBLEMS"} --model-defaults \
  --budget-s "$MAIN_BUDGET_S" --no-progress --out "$WORK/main" || status=1
cp "$WORK/main/bench.json" "$WORK/main/bench.md" "$WORK/main/accuracy-vs-steps.svg" "$WORK/main/tokens-per-second.svg" "$OUT/" 2>/dev/null

left=$((DEADLINE_S - $(elapsed)))
stage "sweep of kappa, tau, W (and theta): gen 256, first 1000 problems (budget $left s)"
if [ "$left" -gt 20 ]; then
  node dist/bench/run.js --device "$DEVICE" --model "$MODEL" --batch "$BATCH" --sweep-only --sweep-gen 256 \
    --sweep-problems 1000 --problems 1000 --budget-s "$left" --no-progress --out "$WORK/sweep" || status=1
  if [ -f "$WORK/sweep/bench.json" ]; then
    cp "$WORK/sweep/bench.json" "$OUT/sweep.json"
    cp "$WORK/sweep/sweep.svg" "$OUT/" 2>/dev/null
    { echo; sed -n '/^## Sweep/,/^## Definitions/p' "$WORK/sweep/bench.md" | sed '$d'; } >> "$OUT/bench.md"
  fi
else
  echo "no time left for the sweep"
fi

stage "done (status $status)"
ls -la "$OUT"
cat "$OUT/bench.md"
exit $status
