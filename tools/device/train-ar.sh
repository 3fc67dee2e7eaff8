#!/usr/bin/env bash
# The small autoregressive model beside the reference dLLM (APD, issue 16) on one GPU in ONE device
# call: data (make_data.py, deterministic, the dLLM's mix), training (tools/train/train_causal.py,
# the dLLM's tokenizer models/reference/tokenizer.json), the greedy held-out evaluation of all
# EVAL_N problems (evaluate_causal.py, inside train_causal.py), tools/export.py of the result and
# the archive check (check_causal_archive.py, on CPU), then models/reference-ar/ -> $OUT/reference-ar/
# (the owner commits that folder). docs/reference-model.md "The AR model beside it (APD)".
# It may share the GPU with another job (a test suite): the process is capped at MEM_FRACTION of
# the GPU memory (default 0.2, ~28 GB of an H200; it needs a few GB).
# Knobs: TRAIN_S (training-loop seconds, default 240), DEADLINE_S (the whole call, default 450),
# EVAL_N (2000), EVAL_RESERVE_S (seconds kept after training for eval/export/check, default 75),
# MODEL_ARGS (default the 192 x 4 plan of train_causal.py), N_TRAIN / N_TRAIN1 / N_HELDOUT / CORPUS_MB
# (the dLLM's data: 500000 / 100000 / 2000 / 24), AR (work folder, default /tmp/ar; a warm rerun
# reuses its data and encoded-data cache), MEM_FRACTION, CPU_CHECK=1 (no GPU: the CPU dry run).
# Nothing to carry (python3, torch, numpy, tokenizers are on the machine).
set -uo pipefail
OUT="${OUT:-/tmp/localleap-out}"
TRAIN_S="${TRAIN_S:-240}"
DEADLINE_S="${DEADLINE_S:-450}"
EVAL_N="${EVAL_N:-2000}"
EVAL_RESERVE_S="${EVAL_RESERVE_S:-75}"
MODEL_ARGS="${MODEL_ARGS:-}"
MEM_FRACTION="${MEM_FRACTION:-0.2}"
AR="${AR:-/tmp/ar}"
DATA_ARGS=(--n-train "${N_TRAIN:-500000}" --n-heldout "${N_HELDOUT:-2000}" --n-train1 "${N_TRAIN1:-100000}"
           --n-heldout1 "${N_HELDOUT1:-500}" --corpus-mb "${CORPUS_MB:-24}")
mkdir -p "$OUT" "$AR"
cd "$(dirname "$0")/../.."
exec > >(tee -a "$AR/train-ar.log") 2>&1
export PYTHONUNBUFFERED=1
T_START=$(date +%s)
elapsed() { echo $(( $(date +%s) - T_START )); }
declare -A T_STAGE
stage() { echo; echo "== $(date -u +%H:%M:%S) (+$(elapsed) s) $*"; }
die() { echo "TRAIN AR FAILED (+$(elapsed) s): $*"; cp "$AR/train-ar.log" "$OUT/" 2>/dev/null
        [ -d "$OUT/reference-ar" ] || { [ -f models/reference-ar/config.json ] && cp -r models/reference-ar "$OUT/reference-ar"; }; exit 1; }
WORK="$AR/work"
SHIP=models/reference-ar
REPORT="$SHIP/training-report"
# shellcheck disable=SC2206
MARGS=($MODEL_ARGS)
DEV=()
[ "${CPU_CHECK:-0}" = 1 ] && DEV=(--device cpu)

stage "environment (deadline ${DEADLINE_S}s, training loop ${TRAIN_S}s, eval ${EVAL_N} problems)"
if [ "${CPU_CHECK:-0}" = 1 ]; then
  python3 -c 'import torch, numpy; print("CPU_CHECK=1: torch", torch.__version__)' || die "python3"
else
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader || die "nvidia-smi"
  python3 -c 'import torch, numpy, tokenizers; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(), "| tokenizers", tokenizers.__version__)' \
    || die "python3 with torch (CUDA), numpy, tokenizers"
fi
echo "cores $(nproc)"; git log --oneline -1 2>/dev/null || true

T0=$(elapsed)
if [ -f "$WORK/train.jsonl" ] && [ -f "$WORK/corpus.jsonl" ] && [ -f "$WORK/heldout.jsonl" ]; then
  stage "data: reusing $WORK (a warm machine's earlier call)"
else
  stage "data (make_data.py, the dLLM's mix)"
  timeout -k 5 150 python3 tools/train/make_data.py --work "$WORK" "${DATA_ARGS[@]}" || die "make_data.py"
fi
cmp -s "$WORK/heldout.jsonl" bench/data/heldout.jsonl && echo "held-out set identical to bench/data/heldout.jsonl" \
  || echo "WARNING: $WORK/heldout.jsonl differs from bench/data/heldout.jsonl"
T_STAGE[data]=$(( $(elapsed) - T0 ))

T0=$(elapsed)
LEFT=$(( DEADLINE_S - $(elapsed) - EVAL_RESERVE_S ))
[ "$LEFT" -lt 30 ] && die "only ${LEFT}s left for training"
M=$(python3 -c "print(f'{$LEFT / 60:.3f}')")
stage "train_causal.py: ${M} min for the stage (encoding, compile, loop <= ${TRAIN_S}s), then eval of ${EVAL_N}"
rm -rf "$SHIP"
timeout -k 10 $(( LEFT + EVAL_RESERVE_S - 25 )) python3 tools/train/train_causal.py --work "$WORK" --out "$SHIP" \
  --minutes "$M" --max-loop-s "$TRAIN_S" --eval-n "$EVAL_N" --data-cache "$AR/encoded.npz" \
  --memory-fraction "$MEM_FRACTION" ${DEV[@]+"${DEV[@]}"} ${MARGS[@]+"${MARGS[@]}"}
status=$?
T_STAGE[train+eval]=$(( $(elapsed) - T0 ))
[ "$status" = 0 ] || die "train_causal.py (exit $status$([ "$status" = 124 ] && echo ', timed out'))"

T0=$(elapsed)
stage "tools/export.py (float32, CPU) and the archive check"
CHECK_OK=1  # a failed check still ships the folder to $OUT (the training is not lost), and the call exits 1
timeout -k 5 60 python3 tools/export.py --weights "$SHIP" --out "$AR/reference-ar.pt" || { CHECK_OK=0; echo "EXPORT FAILED"; }
[ "$CHECK_OK" = 1 ] && { timeout -k 5 40 python3 tools/train/check_causal_archive.py "$AR/reference-ar.pt" --weights "$SHIP" \
  --heldout "$WORK/heldout.jsonl" || { CHECK_OK=0; echo "ARCHIVE CHECK FAILED"; }; }
T_STAGE[export+check]=$(( $(elapsed) - T0 ))

stage "results into \$OUT/reference-ar"
cp "$AR/train-ar.log" "$REPORT/train.log"
rm -rf "$OUT/reference-ar" && cp -r "$SHIP" "$OUT/reference-ar"
find "$OUT/reference-ar" -type f -printf '%P %s\n' | sort
python3 - "$REPORT" <<'PY'
import json, os, sys
s = json.load(open(os.path.join(sys.argv[1], "train_summary.json")))
e = s.get("heldout_eval", {})
print("training:", {k: s.get(k) for k in ("steps", "tokens", "train_loop_s", "tokens_per_s", "compile_s", "n_params",
                                          "weights_bytes_bf16", "max_memory_allocated_gb", "stop_reason")})
print("final teacher-forced held-out:", s.get("final_val"))
print(f"HELD-OUT ACCURACY (greedy AR): {100 * e.get('accuracy', float('nan')):.1f} % on {e.get('n')} problems "
      f"(no answer {100 * e.get('no_answer', float('nan')):.1f} %, end token {100 * e.get('finish_eos', float('nan')):.0f} %)")
PY
echo "stage seconds: data ${T_STAGE[data]}, train+eval ${T_STAGE[train+eval]}, export+check ${T_STAGE[export+check]}"
[ "$CHECK_OK" = 1 ] || die "export or archive check (the folder is in \$OUT/reference-ar all the same)"
echo "TRAIN AR OK in $(elapsed) s: commit \$OUT/reference-ar as models/reference-ar/ and fill the \"not measured\" rows of docs/reference-model.md"
