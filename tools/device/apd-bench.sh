#!/usr/bin/env bash
# Issue 16's held-out table on the GPU machine (after tools/device/pack.sh; carry .device and dist):
# the reference dLLM and its small AR model (models/reference-ar, from tools/device/train-ar.sh),
# both exported here, APD at a few R (bench/accuracy/configs.ts apdConfigs) beside threshold 0.9
# and LocalLeap, with and without stopAtEos. Writes bench.json, bench.md and the plots into $OUT.
# Until APD batches rows at different cursors into one forward, a batch's APD rows step one after
# another: time PROBLEMS accordingly (the deadline skips whole configurations, not problems).
# Knobs: AR_WEIGHTS (models/reference-ar), BATCH (1000), GEN (256), PROBLEMS (all), DEADLINE_S
# (400), CONFIGS (comma list; default below), ATTENTION (manual: cuDNN's SDPA failed on padded bf16
# batches, BENCHMARKS §11), SKIP_BUILD (1: the committed prebuild), DEVICE, PYTHON, DTYPE, RESUME.
# Rehearsal on CPU (a tiny AR folder from `CPU_CHECK=1 ... bash tools/device/train-ar.sh`):
#   DEVICE=cpu PYTHON=/usr/bin/python3 DTYPE=float32 GEN=32 PROBLEMS=2 AR_WEIGHTS=/tmp/ar-ship OUT=/tmp/apd-rehearsal bash tools/device/apd-bench.sh
set -uo pipefail
OUT="${OUT:-/tmp/localleap-apd}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
T_START=$(date +%s)
die() { echo "APD BENCH FAILED: $*"; exit 1; }
DEADLINE_S="${DEADLINE_S:-400}"
# shellcheck source=tools/device/cache-common.sh
. tools/device/cache-common.sh
BATCH="${BATCH:-1000}"
GEN="${GEN:-256}"
DEVICE="${DEVICE:-cuda}"
PYTHON="${PYTHON:-python3}"
DTYPE="${DTYPE:-bfloat16}"
AR_WEIGHTS="${AR_WEIGHTS:-models/reference-ar}"
MODEL=/tmp/localleap-ref-$DTYPE-apd.pt
AR_MODEL=/tmp/localleap-ref-ar-$DTYPE.pt
[ -f "$AR_WEIGHTS/config.json" ] || die "no $AR_WEIGHTS/config.json: train it with tools/device/train-ar.sh and commit \$OUT/reference-ar as models/reference-ar (or set AR_WEIGHTS)"

DEVICE="$DEVICE" PYTHON="$PYTHON" device_env dist/bench/run.js
if [ "$DEVICE" != cpu ]; then SKIP_BUILD="${SKIP_BUILD:-1}" device_build; fi

for pair in "models/reference:$MODEL" "$AR_WEIGHTS:$AR_MODEL"; do
  stage "export ${pair%%:*} -> ${pair#*:} ($DTYPE, this torch, on $DEVICE)"
  "$PYTHON" tools/export.py --weights "${pair%%:*}" --out "${pair#*:}" --dtype "$DTYPE" --device "$DEVICE" \
    --attention "${ATTENTION:-manual}" --parity-prompts 2 | tail -2 || die "export ${pair%%:*}"
done

APD="$(node -e "console.log(require('./dist/bench/accuracy/configs.js').apdConfigs($GEN).map((x) => x.name).join(','))")" || die "APD configurations"
CONFIGS="${CONFIGS:-threshold-$GEN,threshold-$GEN-stop,localleap-$GEN,localleap-$GEN-stop,$APD}"
stage "held-out table: ${PROBLEMS:-all} problems, gen $GEN, batch $BATCH, deadline $DEADLINE_S s: $CONFIGS"
node dist/bench/run.js --device "$DEVICE" --model "$MODEL" --ar-model "$AR_MODEL" --batch "$BATCH" --gen "$GEN" \
  ${PROBLEMS:+--problems "$PROBLEMS"} --apd --configs "$CONFIGS" --budget-s "$(budget "$DEADLINE_S" 5)" \
  ${RESUME:+--resume "$RESUME"} --no-progress --out "$OUT" || die "bench"

stage "done"
cat "$OUT/bench.md"
