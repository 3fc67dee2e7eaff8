#!/usr/bin/env bash
# Issue 15's table on the GPU machine (after tools/device/pack.sh; carry .device and dist): the
# reference model, exported here in bfloat16 on CUDA with its learned filter, on the 2000 held-out
# problems at gen 256: the main rows the decoders are compared with (lc-256 for steps %, threshold
# 0.9, LocalLeap, both with stopAtEos) and every decoder configuration (bench/accuracy/configs.ts
# decoderConfigs: endOfText, adaptive blocks, the learned filter at a few accept thresholds).
# Writes bench.json, bench.md, accuracy-vs-steps.svg and tokens-per-second.svg into $OUT.
# Knobs: BATCH (1000), GEN (256), PROBLEMS (all), DEADLINE_S (400: no configuration starts after it),
# CONFIGS (comma list of configuration names; default: the main rows below plus --decoders' all),
# CACHE (none: every row without a KV cache, so that adaptive batches, which take no cache, compare
# with the others on equal terms), ATTENTION (auto; manual avoids cuDNN's SDPA, which failed on the
# H200 for a padded bf16 batch of 1000 rows: "mha_graph.execute ... is_good()"), PARITY_PROMPTS
# (export.py's scripted-vs-eager check, default 4), SKIP_MAIN=1 (leave lc-G out), SKIP_BUILD (1: the prebuild in prebuilds/, which must be built from this tree's native/), DEVICE,
# PYTHON, DTYPE, RESUME (an earlier, interrupted run's bench.json: its finished rows are kept, bench/run.ts --resume).
# Rehearsal on CPU:
#   DEVICE=cpu PYTHON=/usr/bin/python3 DTYPE=float32 GEN=32 PROBLEMS=2 OUT=/tmp/dec-rehearsal bash tools/device/decoders-bench.sh
set -uo pipefail
OUT="${OUT:-/tmp/localleap-decoders}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
T_START=$(date +%s)
die() { echo "DECODERS BENCH FAILED: $*"; exit 1; }
DEADLINE_S="${DEADLINE_S:-400}"
# shellcheck source=tools/device/cache-common.sh
. tools/device/cache-common.sh
BATCH="${BATCH:-1000}"
GEN="${GEN:-256}"
CACHE="${CACHE:-none}"
DEVICE="${DEVICE:-cuda}"
PYTHON="${PYTHON:-python3}"
DTYPE="${DTYPE:-bfloat16}"
MODEL=/tmp/localleap-ref-$DTYPE-decoders.pt
MAIN_ROWS="$([ "${SKIP_MAIN:-0}" = 1 ] || echo "lc-$GEN,")threshold-$GEN,threshold-$GEN-stop,localleap-$GEN,localleap-$GEN-stop,threshold-$GEN-defaults,localleap-$GEN-defaults"

DEVICE="$DEVICE" PYTHON="$PYTHON" device_env dist/bench/run.js
if [ "$DEVICE" != cpu ]; then SKIP_BUILD="${SKIP_BUILD:-1}" device_build; fi

stage "export models/reference -> $MODEL ($DTYPE, this torch, on $DEVICE, with models/reference/learned_filter.json)"
"$PYTHON" tools/export.py --weights models/reference --out "$MODEL" --dtype "$DTYPE" --device "$DEVICE" \
  --attention "${ATTENTION:-auto}" --parity-prompts "${PARITY_PROMPTS:-4}" | tail -3 || die "export"
node dist/lib/cli/cli.js info -m "$MODEL" --device "$DEVICE" | grep -i -E "filter|delimiter|decoding|device" | head -12

# Every decoder configuration plus the main rows (bench/run.ts --configs picks by name).
ALL="$(node -e "
  const c = require('./dist/bench/accuracy/configs.js');
  console.log(c.decoderConfigs($GEN).map((x) => x.name).join(','));")" || die "decoder configurations"
CONFIGS="${CONFIGS:-$MAIN_ROWS,$ALL}"
stage "held-out table: ${PROBLEMS:-all} problems, gen $GEN, cache $CACHE, batch $BATCH, deadline $DEADLINE_S s: $CONFIGS"
node dist/bench/run.js --device "$DEVICE" --model "$MODEL" --batch "$BATCH" --gen "$GEN" ${PROBLEMS:+--problems "$PROBLEMS"} \
  --cache "$CACHE" --decoders --model-defaults --configs "$CONFIGS" --budget-s "$(budget "$DEADLINE_S" 5)" ${RESUME:+--resume "$RESUME"} --no-progress --out "$OUT" || die "bench"

stage "done"
ls -la "$OUT"
cat "$OUT/bench.md"
