#!/usr/bin/env bash
# One GPU call for the 8B-scale figures (issues 5 and 7): tools/device/hf8b.sh (random LLaDA-8B
# checkpoint -> export_hf.py -> Node loadModel + generate), then on the same exported archive the
# engine's step against the bare forward, eager and graph-captured (bench/stepOverhead.ts), and
# the floors and eager PyTorch (bench/scale8b.py). Optional stages are skipped past 8.5 minutes.
# $OUT ends with hf8b.json, hf8b.md, step8b.json, scale8b.json and logs.tar.gz.
set -uo pipefail
OUT="${OUT:-/tmp/localleap-out}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
export HF8B_WORK=/tmp/localleap-hf8b
MODEL="$HF8B_WORK/llada-8b/model.pt"

bash tools/device/hf8b.sh || echo "hf8b.sh failed (see hf8b.log)"
if [ -f "$MODEL" ] && [ "$(elapsed)" -lt 420 ]; then
  echo "== $(date -u +%H:%M:%S) (+$(elapsed) s) engine step vs bare forward, eager and graph (8B)"
  timeout 150 node dist/bench/stepOverhead.js "$MODEL" "$OUT/step8b.json" 128 256,512 32 1 2>&1 | tee "$OUT/step8b.log"
fi
if [ -f "$MODEL" ] && [ "$(elapsed)" -lt 480 ]; then
  echo "== $(date -u +%H:%M:%S) (+$(elapsed) s) floors and eager PyTorch (8B)"
  timeout 120 python3 bench/scale8b.py --model "$MODEL" --out "$OUT/scale8b.json" --prompt 128 --gen 256,512 2>&1 | tee "$OUT/scale8b.log"
fi
cd "$OUT" && tar czf logs.tar.gz --remove-files $(ls | grep -vE '^(hf8b.json|hf8b.md|step8b.json|scale8b.json|logs.tar.gz)$') 2>/dev/null
ls -la "$OUT"
echo "== done in $(elapsed) s"
