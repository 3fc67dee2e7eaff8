#!/usr/bin/env bash
# Issue 16's timing at the APD paper's shapes, one GPU call (after tools/device/pack.sh; carry
# .device and dist): ms per APD step with a Dream-v0-7B-shaped dLLM and a Qwen2.5-0.5B-shaped
# causal LM, random weights, next to the Dream step alone.
#   1. tools/make_hf_checkpoint.py: random checkpoints in the released layouts (synth.py presets:
#      dream 8b = Dream-v0-7B, 28 x 3584, vocab 152064; qwen2 0.5b = Qwen2.5-0.5B, 24 x 896, vocab
#      151936, tied head), both with synth.py's one Qwen2.5 tokenizer, so that APD's vocabulary
#      check (lib/apd/checkVocab.ts) passes with the shared width min(152064, 151936) = 151936;
#   2. tools/export_hf.py for each ($DTYPE on $DEVICE, with the parity check), the checkpoint
#      deleted once exported (the 7B's is ~15 GiB);
#   3. on CUDA, the device-to-device copy bandwidth (bench/scale8b.py copy_bandwidth_gbps);
#   4. dist/bench/apdShapes.js: loadModel({ modelPath, apd: { arModelPath } }), the dLLM alone
#      (low-confidence, steps = GEN: one token per step) and APD at APD_R x APD_W, M APD_M, with the
#      floors (weight bytes / 4.8 TB/s, H200 HBM3e, and / the measured copy bandwidth).
# $OUT: apd-shapes.json (rows, the two export reports, stage seconds), apd-shapes.md, the logs.
# Random weights are for timing only: they accept about one token per APD step; the table says
# what they did. Expected about 4-6 minutes on an H200 (the 7B export's parity check is most of it).
# Knobs: STEP_PROFILE (0; 1: bench/apd_step_profile.py on the exports first), ENGINE_BENCH (1; 0: no
# engine table), DEADLINE_S (400), DLLM_PRESET (8b) and AR_PRESET (0.5b) (tiny for a rehearsal), PROMPT
# (128), GEN (256), APD_R (0.7,0.9), APD_W (16,null), APD_M (100), PARITY_PROMPTS (1), ATTENTION
# (auto: sdpa on torch >= 2, as tools/device/hf8b.sh), HBM_GBPS (4800), SKIP_BUILD (1: the
# committed prebuild), DEVICE, PYTHON, DTYPE.
# Rehearsal on CPU (tiny shapes, under a minute on 2 cores):
#   DEVICE=cpu PYTHON=/usr/bin/python3 DTYPE=float32 DLLM_PRESET=tiny AR_PRESET=tiny PROMPT=16 GEN=32 APD_M=16 OUT=/tmp/apd-shapes bash tools/device/apd-shapes.sh
set -uo pipefail
OUT="${OUT:-/tmp/localleap-apd-shapes}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
exec > >(tee -a "$OUT/apd-shapes.log") 2>&1
T_START=$(date +%s)
die() { echo "APD SHAPES FAILED: $*"; exit 1; }
DEADLINE_S="${DEADLINE_S:-400}"
# shellcheck source=tools/device/cache-common.sh
. tools/device/cache-common.sh
DEVICE="${DEVICE:-cuda}"
PYTHON="${PYTHON:-python3}"
DTYPE="${DTYPE:-bfloat16}"
DLLM_PRESET="${DLLM_PRESET:-8b}"
AR_PRESET="${AR_PRESET:-0.5b}"
WORK="${APD_SHAPES_WORK:-/tmp/localleap-apd-shapes-work}"
: > "$OUT/stages.tsv"
timed() { local name="$1" t0; shift; t0=$(date +%s.%N); "$@"; local rc=$?; awk -v n="$name" -v a="$t0" -v b="$(date +%s.%N)" -v rc="$rc" 'BEGIN { printf "%s\t%.2f\t%s\n", n, b - a, rc }' >> "$OUT/stages.tsv"; return $rc; }

if [ "${ENGINE_BENCH:-1}" = 1 ]; then
  DEVICE="$DEVICE" PYTHON="$PYTHON" device_env dist/bench/apdShapes.js
  if [ "$DEVICE" != cpu ]; then SKIP_BUILD="${SKIP_BUILD:-1}" device_build; fi
else  # Python only (the exports and the step profile): no node, no binary
  stage "environment (ENGINE_BENCH=0: Python only)"
  "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")' || die "python3 with torch"
fi
rm -rf "$WORK" && mkdir -p "$WORK"

# name family preset: the dLLM first (its export is the long stage), then the causal LM.
for spec in "dllm dream $DLLM_PRESET" "ar qwen2 $AR_PRESET"; do
  set -- $spec
  T=$(budget 120 150)
  stage "random $2 $3 checkpoint ($DTYPE, drawn on $DEVICE), timeout $T s"
  timed "checkpoint-$1" timeout "$T" "$PYTHON" tools/make_hf_checkpoint.py --family "$2" --preset "$3" --out "$WORK/$1-hf" \
    --device "$DEVICE" --dtype "$DTYPE" --seed 0 || die "make_hf_checkpoint $2 $3"
  du -sh "$WORK/$1-hf"
  T=$(budget 240 100)
  stage "export $1 (export_hf.py: $DTYPE, attention ${ATTENTION:-auto}, $DEVICE, ${PARITY_PROMPTS:-1} parity prompt(s)), timeout $T s"
  timed "export-$1" timeout "$T" "$PYTHON" tools/export_hf.py --checkpoint "$WORK/$1-hf" --out "$WORK/$1/model.pt" --dtype "$DTYPE" \
    --attention "${ATTENTION:-auto}" --device "$DEVICE" --parity-prompts "${PARITY_PROMPTS:-1}" --report "$OUT/export-$1.json" \
    || die "export_hf $1"
  rm -rf "$WORK/$1-hf"  # the disk holds a checkpoint and its archive only briefly
done

# The causal LM's weight bytes per forward: its parameters x the element size.
AR_BYTES=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["parameters"] * {"float32": 4}.get(sys.argv[2], 2))' "$OUT/export-ar.json" "$DTYPE") \
  || die "the causal LM's parameter count"
COPY_GBPS=""
if [ "$DEVICE" != cpu ] && [ "$(budget 60 90)" -gt 10 ]; then
  stage "device-to-device copy bandwidth (bench/scale8b.py copy_bandwidth_gbps)"
  COPY_GBPS=$(timeout 60 "$PYTHON" -c 'import sys; sys.path.insert(0, "bench"); from scale8b import copy_bandwidth_gbps; print(f"{copy_bandwidth_gbps():.1f}")') \
    || { echo "copy bandwidth failed: the table has the nominal floor only"; COPY_GBPS=""; }
  echo "copy bandwidth: ${COPY_GBPS:-n/a} GB/s"
fi

if [ "${STEP_PROFILE:-0}" = 1 ]; then
  T=$(budget 120 10)
  stage "one APD step's pieces in plain PyTorch (bench/apd_step_profile.py: eager and CUDA graph), timeout $T s"
  timed profile timeout "$T" "$PYTHON" bench/apd_step_profile.py --dllm "$WORK/dllm/model.pt" --ar "$WORK/ar/model.pt" \
    --out "$OUT/apd-step-profile.json" --device "$DEVICE" --prompt "${PROMPT:-128}" --lookahead "${APD_M:-100}" --check \
    || echo "the step profile failed (the engine's table still follows)"
fi
if [ "${ENGINE_BENCH:-1}" != 1 ]; then stage "done in $(elapsed) s (ENGINE_BENCH=0: no engine table)"; exit 0; fi

T=$(budget 400 10)
stage "the engine (dist/bench/apdShapes.js): prompt ${PROMPT:-128} + gen ${GEN:-256}, APD R ${APD_R:-0.7,0.9} x W ${APD_W:-16,null}, M ${APD_M:-100}, timeout $T s"
timed bench timeout "$T" node dist/bench/apdShapes.js --model "$WORK/dllm/model.pt" --ar-model "$WORK/ar/model.pt" --out "$OUT" \
  --device "$DEVICE" --prompt "${PROMPT:-128}" --gen "${GEN:-256}" --r "${APD_R:-0.7,0.9}" --w "${APD_W:-16,null}" --m "${APD_M:-100}" \
  --ar-bytes "$AR_BYTES" --hbm-gbps "${HBM_GBPS:-4800}" ${COPY_GBPS:+--copy-gbps "$COPY_GBPS"} --budget-s $(( T > 20 ? T - 10 : T )) \
  --label "Dream ($DLLM_PRESET) + Qwen2 ($AR_PRESET), random weights" || die "bench"

stage "results"
"$PYTHON" - "$OUT" <<'PY' || die "results"
import json, os, sys
out = sys.argv[1]
path = os.path.join(out, "apd-shapes.json")
r = json.load(open(path))
r["exports"] = {k: json.load(open(os.path.join(out, f"export-{k}.json"))) for k in ("dllm", "ar")}
r["stageSeconds"] = {n: float(s) for n, s, _ in (l.rstrip("\n").split("\t") for l in open(os.path.join(out, "stages.tsv")) if l.strip())}
json.dump(r, open(path, "w"), indent=2)
print("stage seconds:", ", ".join(f"{n} {s:.1f}" for n, s in r["stageSeconds"].items()))
PY
cat "$OUT/apd-shapes.md"
stage "done in $(elapsed) s"
