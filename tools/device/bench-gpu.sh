#!/usr/bin/env bash
# Issue 7's GPU benchmark in one command, for the GPU machine (CUDA, PyTorch with libtorch inside,
# no node, no network), from the repository root, after tools/device/pack.sh prepared .device/ and
# dist/ here. Finishes in under 9 minutes; writes 7 files into $OUT:
#   bench.json, bench.md               the held-out table: all 2000 problems, gen 128 and 256, every
#                                      configuration, batched; bench.md also gets the two sections below
#   accuracy-vs-steps.svg, tokens-per-second.svg
#   eager-vs-engine.json               engine vs eager PyTorch (bench/eager_decoder.py), batch 1, gen 256
#   sweep.json, sweep.svg              the κ / τ / W (and θ) sweep, gen 256, the first $SWEEP_PROBLEMS problems
# The engine and the eager decoder load the same model.pt, exported here by this torch in bfloat16
# (the dtype of models/reference/training-report/eval.md). Uses the committed CUDA prebuild;
# BUILD=1 rebuilds it first as tools/device/gpu-suite.sh does (about 2 minutes more: lower the budgets).
# Knobs (environment): BATCH (1000), MAIN_PROBLEMS (all 2000), MAIN_GEN (128,256), MAIN_BUDGET_S
# (240: no table configuration starts after it), EAGER_PROBLEMS (100), EAGER_GEN (256),
# EAGER_BUDGET_S (50 per eager configuration), SWEEP_PROBLEMS (1000), SWEEP_GEN (256), DEADLINE_S
# (500: no sweep configuration starts after it; one takes well under 40 s, so the script ends
# before 9 minutes), DEVICE (cuda), PYTHON (python3), DTYPE (bfloat16). Rehearsal without a GPU:
#   DEVICE=cpu PYTHON=/usr/bin/python3 DTYPE=float32 BATCH=2 MAIN_PROBLEMS=2 MAIN_GEN=32 \
#   EAGER_PROBLEMS=2 EAGER_GEN=32 SWEEP_PROBLEMS=2 SWEEP_GEN=32 OUT=/tmp/rehearsal bash tools/device/bench-gpu.sh
set -uo pipefail
OUT="${OUT:-/tmp/localleap-bench}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
START=$SECONDS
stage() { echo; echo "== $(date -u +%H:%M:%S) (+$((SECONDS - START)) s) $*"; }
BATCH="${BATCH:-1000}"
SWEEP_PROBLEMS="${SWEEP_PROBLEMS:-1000}"
EAGER_PROBLEMS="${EAGER_PROBLEMS:-100}"
MAIN_BUDGET_S="${MAIN_BUDGET_S:-240}"
EAGER_BUDGET_S="${EAGER_BUDGET_S:-50}"
DEADLINE_S="${DEADLINE_S:-500}"
DEVICE="${DEVICE:-cuda}"
PYTHON="${PYTHON:-python3}"
DTYPE="${DTYPE:-bfloat16}"
MODEL=/tmp/localleap-ref-$DTYPE.pt
WORK=/tmp/localleap-bench-work
rm -rf "$WORK" && mkdir -p "$WORK"
status=0

stage "environment"
if ! command -v node >/dev/null; then
  xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node
  mkdir -p /tmp/bin && ln -sf /tmp/node /tmp/bin/node && export PATH="/tmp/bin:$PATH"
fi
[ -d node_modules/cli-progress ] || tar xJf .device/node_modules.tar.xz
date -u +%Y-%m-%dT%H:%M:%SZ
[ "$DEVICE" = cuda ] && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
node --version
ls prebuilds/linux-x64/
if [ "${BUILD:-0}" = 1 ]; then
  stage "build the CUDA prebuild"
  export CMAKE_PREFIX_PATH="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  variant="$(python3 -c 'import torch; v = torch.__version__.split("+")[0].split("."); print(f"cuda{torch.version.cuda}-torch{v[0]}.{v[1]}")')"
  chmod +x tools/prebuild/cmake-js-as-node-gyp.js
  rm -rf build prebuilds/linux-x64/localleap-cuda*
  node node_modules/prebuildify/bin.js --napi --tag-libc --strip --name "localleap-$variant" \
    --node-gyp "$PWD/tools/prebuild/cmake-js-as-node-gyp.js" >/dev/null || { echo "BUILD FAILED"; exit 1; }
fi

stage "export models/reference -> $MODEL ($DTYPE, this torch, on $DEVICE)"
"$PYTHON" tools/export.py --weights models/reference --out "$MODEL" --dtype "$DTYPE" --device "$DEVICE" || { echo "EXPORT FAILED"; exit 1; }

stage "held-out table: ${MAIN_PROBLEMS:-all} problems, gen ${MAIN_GEN:-128,256}, batch $BATCH (budget ${MAIN_BUDGET_S} s)"
node dist/bench/run.js --device "$DEVICE" --model "$MODEL" --batch "$BATCH" --gen "${MAIN_GEN:-128,256}" ${MAIN_PROBLEMS:+--problems "$MAIN_PROBLEMS"} \
  --budget-s "$MAIN_BUDGET_S" --out "$WORK/main" || status=1
cp "$WORK/main/bench.json" "$WORK/main/bench.md" "$WORK/main/accuracy-vs-steps.svg" "$WORK/main/tokens-per-second.svg" "$OUT/" 2>/dev/null

EAGER_GEN="${EAGER_GEN:-256}"
stage "engine vs eager PyTorch: $EAGER_PROBLEMS problems, batch 1, gen $EAGER_GEN (eager budget ${EAGER_BUDGET_S} s per configuration)"
node dist/bench/eager_vs_engine.js --device "$DEVICE" --model "$MODEL" --problems "$EAGER_PROBLEMS" --gen "$EAGER_GEN" \
  --configs localleap,low-confidence --python "$PYTHON" --budget-s "$EAGER_BUDGET_S" --out "$WORK/eager" || status=1
if [ -f "$WORK/eager/eager-vs-engine.json" ]; then
  cp "$WORK/eager/eager-vs-engine.json" "$OUT/"
  { echo; cat "$WORK/eager/eager-vs-engine.md"; } >> "$OUT/bench.md"
fi

left=$((DEADLINE_S - (SECONDS - START)))
SWEEP_GEN="${SWEEP_GEN:-256}"
stage "sweep of kappa, tau, W (and theta): gen $SWEEP_GEN, first $SWEEP_PROBLEMS problems, batch $BATCH (budget $left s)"
if [ "$left" -gt 20 ]; then
  node dist/bench/run.js --device "$DEVICE" --model "$MODEL" --batch "$BATCH" --sweep-only --sweep-gen "$SWEEP_GEN" \
    --sweep-problems "$SWEEP_PROBLEMS" --problems "$SWEEP_PROBLEMS" --budget-s "$left" --out "$WORK/sweep" || status=1
  if [ -f "$WORK/sweep/bench.json" ]; then
    cp "$WORK/sweep/bench.json" "$OUT/sweep.json"
    cp "$WORK/sweep/sweep.svg" "$OUT/" 2>/dev/null
    { echo; sed -n '/^## Sweep/,/^## Definitions/p' "$WORK/sweep/bench.md" | sed '$d'; } >> "$OUT/bench.md"
  fi
else
  echo "no time left for the sweep"
  status=1
fi

stage "done (status $status)"
ls -la "$OUT"
cat "$OUT/bench.md"
exit $status
