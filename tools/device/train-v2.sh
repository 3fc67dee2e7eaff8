#!/usr/bin/env bash
# Reference model v2 (issue 14) on one GPU in two device calls of <= 10 minutes each (one command
# runs at most 10 minutes; the machine stays warm 30 s after a call). docs/reference-model.md
# "Model v2: training in two device calls" has the calls, the checks between them and the import.
#   PHASE=1  data (make_data.py) and tokenizer, then train.py until ~DEADLINE_S: the schedule's
#            total steps are fixed at the end of warm-up from the measured step rate (the steps
#            that fit in the rest of this call plus LATER_S seconds of phase 2's loop); the full
#            checkpoint (model, AdamW, schedule, RNG states, data position, log; ~270 MB for v2)
#            goes to $V2/ckpt.pt on the warm machine, the weights-only fallback (bf16 shards
#            < 16 MiB + resume_state.pt) to $OUT/fallback/ with every save (it comes back).
#   PHASE=2  resume: from $V2/ckpt.pt when the machine is still the warm one (exact), else from the
#            carried $FALLBACK (phase 1's $OUT: fresh AdamW, learning rate re-warmed, data made
#            again and checked against phase 1's hashes, phase 1's tokenizer); finish the planned
#            steps, quantize to int8 (quantize.py), evaluate the int8 weights (held-out baseline
#            and LocalLeap, one-step held-out), ship.
# $OUT after phase 1 (7 files): fallback/{model-0000k-of-0000n.safetensors x3, model.safetensors.index.json,
#   resume_state.pt}, phase1.tar.gz (tokenizer, data hashes and statistics, stage logs, training log),
#   train-v2-phase1.log.
# $OUT after phase 2 (8 files): reference/{config.json, model.safetensors.index.json, 3 int8 shards,
#   tokenizer.json, tokenizer_config.json}, report.tar.gz (eval.json/md, onestep/eval.json/md,
#   training log, train_summary.json, loss.png, stage logs, this driver's log).
# Knobs: PHASE (1 or 2), DEADLINE_S (default 570 of the 600 a command may run), LATER_S (default
# 330), MODEL_ARGS (default the 12 x 384 plan), EVAL_CONFIGS, EVAL1_CONFIGS, EVAL_N (default 2000),
# EVAL_RESERVE_S (150), N_TRAIN, N_TRAIN1, N_HELDOUT, N_HELDOUT1, CORPUS_MB, CPU_CHECK (no GPU checks:
# the CPU dry run in docs/reference-model.md), V2 (default /tmp/v2: work folder, checkpoints,
# encoded-data cache), FALLBACK (default .cache/v2-phase1: phase 1's $OUT copied into the
# repository and carried, for a cold phase 2; exit 3 at once when neither it nor $V2/ckpt.pt is there).
# Nothing to carry for phase 1 or a warm phase 2 (python3, torch, numpy, tokenizers are on the machine).
set -uo pipefail
OUT="${OUT:-/tmp/localleap-out}"
PHASE="${PHASE:-}"
DEADLINE_S="${DEADLINE_S:-570}"
LATER_S="${LATER_S:-330}"
V2="${V2:-/tmp/v2}"
FALLBACK="${FALLBACK:-.cache/v2-phase1}"
MODEL_ARGS="${MODEL_ARGS:---hidden 384 --layers 12 --heads 6 --ff 1024 --lr 1e-3}"
EVAL_CONFIGS="${EVAL_CONFIGS:-lc-128,localleap-128-stop,localleap-256-stop}"
EVAL_N="${EVAL_N:-2000}"
N_TRAIN="${N_TRAIN:-500000}"
N_TRAIN1="${N_TRAIN1:-100000}"
N_HELDOUT1="${N_HELDOUT1:-500}"
EVAL_RESERVE_S="${EVAL_RESERVE_S:-150}"
DATA_ARGS=(--n-train "$N_TRAIN" --n-heldout "${N_HELDOUT:-2000}" --n-train1 "$N_TRAIN1" --n-heldout1 "$N_HELDOUT1"
           --corpus-mb "${CORPUS_MB:-24}")
mkdir -p "$OUT" "$V2"
cd "$(dirname "$0")/../.."
case "$PHASE" in
  1) exec > >(tee -a "$OUT/train-v2-phase1.log") 2>&1 ;;
  2) exec > >(tee -a "$V2/train-v2-phase2.log") 2>&1 ;;  # goes into report.tar.gz ($OUT holds 8 files)
  *) echo "train-v2.sh: set PHASE=1 or PHASE=2"; exit 2 ;;
esac
export PYTHONUNBUFFERED=1
T_START=$(date +%s)
elapsed() { echo $(( $(date +%s) - T_START )); }
stage() { echo; echo "== $(date -u +%H:%M:%S) (+$(elapsed) s) $*"; }
die() { echo "TRAIN V2 PHASE $PHASE FAILED: $*"; exit 1; }
budget() { local left=$(( DEADLINE_S - $(elapsed) - ${2:-0} )); [ "$left" -lt 1 ] && left=1; [ "$left" -lt "$1" ] && echo "$left" || echo "$1"; }
minutes_left() { python3 -c "print(f'{max(0.5, ($DEADLINE_S - $(elapsed) - $1) / 60):.3f}')"; }
WORK="$V2/work"
# shellcheck disable=SC2206
MARGS=($MODEL_ARGS)

stage "environment (phase $PHASE, deadline ${DEADLINE_S}s)"
if [ "${CPU_CHECK:-0}" = 1 ]; then
  python3 -c 'import torch, numpy, tokenizers; print("CPU_CHECK=1: torch", torch.__version__, "| tokenizers", tokenizers.__version__)' || die "python3"
else
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || die "nvidia-smi"
  python3 -c 'import torch, numpy, tokenizers; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(), "| numpy", numpy.__version__, "| tokenizers", tokenizers.__version__)' \
    || die "python3 with torch (CUDA), numpy, tokenizers"
fi
echo "cores $(nproc)"; df -h /tmp | tail -1
git log --oneline -1 2>/dev/null || true

data_hashes() { (cd "$WORK" && sha256sum train.jsonl heldout.jsonl heldout1.jsonl corpus.jsonl); }

phase1_pack() {  # $OUT/phase1.tar.gz: tokenizer, data hashes and statistics, stage logs (the training log among them)
  local tmp="$V2/phase1.tar.gz"
  tar czf "$tmp" -C "$WORK" tokenizer data.sha256 $(cd "$WORK" && ls -d data_stats.json data_samples.txt logs 2>/dev/null) \
    && cp "$tmp" "$OUT/phase1.tar.gz" && ls -la "$OUT/phase1.tar.gz"
}

if [ "$PHASE" = 1 ]; then
  rm -rf "$WORK" "$V2/ckpt.pt" "$V2/ckpt2.pt" "$V2/encoded.npz"
  stage "data and tokenizer (run_all.py --stages data,tokenizer, timeout $(budget 150 60))"
  timeout -k 5 "$(budget 150 60)" python3 tools/train/run_all.py "$V2/run1" --work "$WORK" --stages data,tokenizer \
    "${DATA_ARGS[@]}" --total-minutes 3 --no-repo-copy || die "data/tokenizer"
  data_hashes > "$WORK/data.sha256" && cat "$WORK/data.sha256"
  phase1_pack || die "packing the tokenizer"
  M=$(minutes_left 25)
  stage "train until ${M} min of train.py (planned: this call + ${LATER_S}s of phase 2), timeout $(budget 600 8)"
  timeout -k 10 "$(budget 600 8)" python3 tools/train/run_all.py "$V2/run1" --work "$WORK" --stages train \
    --train-minutes "$M" --no-repo-copy -- "${MARGS[@]}" --plan-later-s "$LATER_S" --checkpoint "$V2/ckpt.pt" \
    --fallback-dir "$OUT/fallback" --data-cache "$V2/encoded.npz"
  status=$?
  stage "pack"
  phase1_pack
  ls -la "$V2" "$OUT/fallback" 2>/dev/null
  [ "$status" = 0 ] || die "training (exit $status$([ "$status" = 124 ] && echo ', timed out'))"
  python3 - "$V2/ckpt.pt" <<'EOF' || die "no usable checkpoint"
import os, sys
sys.path.insert(0, "tools/train")
import train
s = train.torch_load(sys.argv[1])
sched = s["sched"]
print(f"checkpoint {sys.argv[1]}: {os.path.getsize(sys.argv[1]) / 1e6:.0f} MB, step {s['step']} of {sched.get('total_steps')}, "
      f"{s['tokens'] / 1e9:.3f} B tokens in {s['loop_s']:.0f}s of loop, {sched.get('steps_per_s', 0):.2f} steps/s "
      f"({sched.get('steps_per_s', 0) * s['args']['batch_tokens'] / 1e6:.2f} M tokens/s)")
assert sched.get("total_steps"), "the total steps were never fixed"
EOF
  echo "TRAIN V2 PHASE 1 OK in $(elapsed) s: run PHASE=2 at once (the machine stays warm 30 s)"
  exit 0
fi

# ---------------------------------------------------------------------------------------------- phase 2
if [ -f "$V2/ckpt.pt" ] && [ -f "$WORK/train.jsonl" ] && [ -f "$WORK/tokenizer/tokenizer.json" ]; then
  RESUME="$V2/ckpt.pt"
  FIT=()
  echo "warm machine: exact resume from $RESUME ($(du -h "$RESUME" | cut -f1))"
elif [ -f "$FALLBACK/fallback/resume_state.pt" ] && [ -f "$FALLBACK/phase1.tar.gz" ]; then
  RESUME="$FALLBACK/fallback"
  FIT=(--fit-total)  # this call also makes the data again and compiles afresh: lower the total to what fits
  echo "cold machine: weights-only resume from $RESUME (fresh AdamW, re-warmed learning rate)"
  python3 tools/train/fallback.py info "$RESUME" || die "fallback unreadable"
  rm -rf "$WORK" && mkdir -p "$WORK"
  stage "data again (run_all.py --stages data, timeout $(budget 150 60)) and phase 1's tokenizer"
  timeout -k 5 "$(budget 150 60)" python3 tools/train/run_all.py "$V2/run0" --work "$WORK" --stages data \
    "${DATA_ARGS[@]}" --total-minutes 3 --no-repo-copy || die "data"
  tar xzf "$FALLBACK/phase1.tar.gz" -C "$WORK" tokenizer data.sha256 || die "phase1.tar.gz"
  if (cd "$WORK" && sha256sum -c --quiet data.sha256); then echo "data identical to phase 1's"
  else echo "WARNING: the data differ from phase 1's (another machine's corpus?): training continues on these"; fi
else
  echo "TRAIN V2 PHASE 2 COLD: no $V2/ckpt.pt here (the machine is not phase 1's) and no fallback at $FALLBACK"
  echo "  copy phase 1's \$OUT to $FALLBACK, carry it (docs/reference-model.md) and run PHASE=2 again"
  exit 3
fi

TM=$(minutes_left 20)
stage "resume, finish, quantize, evaluate, ship (run_all.py --stages train,eval,ship --ship-int8 --total-minutes $TM)"
timeout -k 10 "$(budget 600 12)" python3 tools/train/run_all.py "$V2/run2" --work "$WORK" --stages train,eval,ship \
  --ship-int8 --total-minutes "$TM" --eval-reserve-s "$EVAL_RESERVE_S" --eval-n "$EVAL_N" --eval-configs "$EVAL_CONFIGS" \
  --n-heldout1 "$N_HELDOUT1" ${EVAL1_CONFIGS:+--eval1-configs "$EVAL1_CONFIGS"} --no-repo-copy -- "${MARGS[@]}" --resume "$RESUME" ${FIT[@]+"${FIT[@]}"} --checkpoint "$V2/ckpt2.pt" \
  --data-cache "$V2/encoded.npz"
status=$?

stage "results into \$OUT"
if [ ! -f "$V2/run2/report.tar.gz" ]; then  # run_all.py was killed before packing: salvage
  echo "run_all.py packed nothing (exit $status): salvaging"
  mkdir -p "$V2/run2/reference"
  for d in "$WORK/model-int8" "$WORK/model"; do
    if [ -f "$d/config.json" ]; then
      (cd "$d" && cp config.json model.safetensors.index.json model-*.safetensors tokenizer.json tokenizer_config.json "$V2/run2/reference/" 2>/dev/null)
      echo "  $d"; break
    fi
  done
  tar czf "$V2/run2/report.tar.gz" -C "$WORK" --transform 's,^logs,report,' logs
fi
python3 - "$V2/run2/report.tar.gz" "$V2/train-v2-phase2.log" <<'EOF'
import os, sys, tarfile
src, extra = sys.argv[1], sys.argv[2]
tmp = src + ".new"
with tarfile.open(src) as a, tarfile.open(tmp, "w:gz") as b:
    for m in a.getmembers():
        b.addfile(m, a.extractfile(m) if m.isfile() else None)
    b.add(extra, arcname="report/train-v2-phase2.log")
os.replace(tmp, src)
EOF
cp -r "$V2/run2/." "$OUT/"
find "$OUT" -type f -printf '%P %s\n' | sort
[ "$(find "$OUT" -type f | wc -l)" -le 8 ] || echo "WARNING: more than 8 files under \$OUT"
python3 - "$WORK/logs" <<'EOF'
import json, os, sys
logs = sys.argv[1]
def acc(path, name):
    try:
        for c in json.load(open(path))["configs"]:
            if c.get("name") == name and "accuracy" in c:
                return 100 * c["accuracy"], c.get("mean_steps")
    except (OSError, ValueError, KeyError):
        pass
    return None, None
s = json.load(open(os.path.join(logs, "train_summary.json"))) if os.path.exists(os.path.join(logs, "train_summary.json")) else {}
print("training:", {k: s.get(k) for k in ("steps", "tokens", "train_loop_s", "tokens_per_s", "complete", "stop_reason", "calls")})
base, _ = acc(os.path.join(logs, "eval.json"), "lc-128")
ll, ll_steps = acc(os.path.join(logs, "eval.json"), "localleap-128-stop")
one, _ = acc(os.path.join(logs, "onestep", "eval.json"), "lc-128")
one_ll, _ = acc(os.path.join(logs, "onestep", "eval.json"), "localleap-128-stop")
f = lambda x: "n/a" if x is None else f"{x:.1f} %"
print(f"targets (int8 weights): baseline lc-128 {f(base)} (>= 80), one-step lc-128 {f(one)} / localleap {f(one_ll)} (>= 90), "
      f"localleap-128-stop {f(ll)} ({ll_steps} steps; within 5 points of the baseline: "
      f"{'n/a' if base is None or ll is None else ('yes' if base - ll <= 5 else 'no')})")
EOF
[ -f "$WORK/logs/eval.md" ] && cat "$WORK/logs/eval.md" | head -14
[ "$status" = 0 ] || die "run_all.py (exit $status$([ "$status" = 124 ] && echo ', timed out')); what exists is in \$OUT"
echo "TRAIN V2 PHASE 2 OK in $(elapsed) s"
