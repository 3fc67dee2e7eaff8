#!/usr/bin/env bash
# Serving benchmarks of the scheduler (issue 13), one GPU call each, with the committed CUDA
# prebuild (SKIP_BUILD=1 by default here) or one built from native/:
#   MODEL_KIND=reference (default): the reference model in bf16 (tools/export.py, SDPA):
#     bench/schedulerAgreement.ts on AGREE_PROBLEMS (default 2000) held-out problems (solo vs all
#     submitted at once: token agreement, paired accuracy), then bench/serve.ts with 1/4/16/64
#     closed-loop clients per cache mode in CACHES (default "none dual").
#   MODEL_KIND=8b: a random LLaDA-8B checkpoint (tools/make_hf_checkpoint.py) exported in bf16 +
#     SDPA; bench/serve.ts per cache mode (latency and tokens/s only: random weights never end early).
# Knobs: CLIENTS (CLIENTS_none, CLIENTS_dual: per cache mode), DURATION_S, WARMUP_S, GEN, DEADLINE_S (default 560). Carry .device and dist.
# $OUT: serve-*.json, agreement.json, serve-driver.log.
set -uo pipefail
OUT="${OUT:-/tmp/localleap-out}"
DEADLINE_S="${DEADLINE_S:-560}"
SKIP_BUILD="${SKIP_BUILD:-1}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
exec > >(tee -a "$OUT/serve-driver.log") 2>&1
T_START=$(date +%s)
elapsed() { echo $(( $(date +%s) - T_START )); }
stage() { echo; echo "== $(date -u +%H:%M:%S) (+$(elapsed) s) $*"; }
die() { echo "SERVE BENCH FAILED: $*"; exit 1; }
budget() { local left=$(( DEADLINE_S - $(elapsed) - ${2:-0} )); [ "$left" -lt 1 ] && left=1; [ "$left" -lt "$1" ] && echo "$left" || echo "$1"; }

# shellcheck source=tools/device/cache-common.sh
. tools/device/cache-common.sh
device_env dist/bench/serve.js
device_build
GEN="${GEN:-256}"
status=0

serve() { # serve NAME MODEL CACHE EXTRA...
  local name=$1 model=$2 cache=$3; shift 3
  local per="CLIENTS_$cache"; local clients="${!per:-${CLIENTS:-1,4,16,64}}"  # CLIENTS_dual=1,16: per cache mode
  stage "serve $name: cache $cache, clients $clients, gen $GEN"
  timeout "$(budget 400 10)" node dist/bench/serve.js --model "$model" --device cuda --clients "$clients" \
    --gen "$GEN" --cache "$cache" --duration-s "${DURATION_S:-20}" --warmup-s "${WARMUP_S:-5}" --max-batch 64 \
    --out "$OUT/serve-$name-$cache.json" "$@" || { echo "serve $name $cache failed"; status=1; }
}

if [ "${MODEL_KIND:-reference}" = reference ]; then
  MODEL=/tmp/localleap-ref-bfloat16.pt
  stage "the reference model in bfloat16 (tools/export.py, SDPA, CUDA)"
  timeout "$(budget 120 60)" python3 tools/export.py --weights models/reference --out "$MODEL" --dtype bfloat16 \
    --attention sdpa --device cuda | tail -2 || die "export"
  stage "agreement: ${AGREE_PROBLEMS:-2000} held-out problems solo vs batched (cache none)"
  timeout "$(budget 200 60)" node dist/bench/schedulerAgreement.js --model "$MODEL" --device cuda \
    --problems "${AGREE_PROBLEMS:-2000}" --gen "$GEN" --cache none --max-batch 64 --out "$OUT/agreement.json" \
    || { echo "agreement failed"; status=1; }
  for cache in ${CACHES:-none dual}; do serve reference "$MODEL" "$cache"; done
else
  WORK=/tmp/localleap-8b
  MODEL="$WORK/model.pt"
  stage "random LLaDA-8B checkpoint (bf16, on the GPU)"
  timeout "$(budget 150 200)" python3 tools/make_hf_checkpoint.py --family llada --preset 8b --out "$WORK/ckpt" \
    --device cuda --seed 0 | tail -2 || die "make_hf_checkpoint"
  stage "export_hf.py (bf16, SDPA, CUDA, no parity check)"
  timeout "$(budget 240 120)" python3 tools/export_hf.py --checkpoint "$WORK/ckpt" --out "$MODEL" --dtype bfloat16 \
    --attention sdpa --device cuda --parity-prompts 0 | tail -2 || die "export_hf"
  rm -rf "$WORK/ckpt"
  for cache in ${CACHES:-none dual}; do serve 8b "$MODEL" "$cache"; done
fi
stage "done (status $status)"
exit $status
