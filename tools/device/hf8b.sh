#!/usr/bin/env bash
# LLaDA-8B at its full configuration on the GPU machine, from a Hugging Face checkpoint to Node:
#   1. tools/make_hf_checkpoint.py --family llada --preset 8b: random bf16 weights in LLaDA-8B's
#      exact layout (32 x 4096, vocab 126464, 6 shards, ~15 GiB), drawn on the GPU;
#   2. tools/export_hf.py (bf16, SDPA, CUDA, parity check against the LLaDA reference forward);
#   3. tools/device/hf8b.js: loadModel + generate() with localleap's defaults at prompt 128 +
#      gen 256 and 512, while nvidia-smi samples the Node process's GPU memory.
# Prints a markdown table (docs/BENCHMARKS.md) and writes hf8b.json, hf8b.md, the logs to $OUT.
# Needs what tools/device/pack.sh prepares: .device/node.xz, .device/node_modules.tar.xz (or
# node_modules/), dist/ (compiled here by tsc), and the CUDA prebuilt in prebuilds/linux-x64/.
# Run from anywhere:  bash tools/device/hf8b.sh      (expected 4-6 minutes on an H100; the stages
# have timeouts of 150 / 240 / 180 s so that a hang fails the run instead of stalling it)
set -uo pipefail
OUT="${OUT:-/tmp/localleap-out}"
WORK="${HF8B_WORK:-/tmp/localleap-hf8b}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
exec > >(tee -a "$OUT/hf8b.log") 2>&1
T_START=$(date +%s)
stage() { echo; echo "== $(date -u +%H:%M:%S) (+$(( $(date +%s) - T_START )) s) $*"; }
now() { date +%s.%N; }
fail() { echo "HF8B FAILED: $*"; exit 1; }

stage "environment"
if ! command -v node >/dev/null 2>&1; then
  [ -f .device/node.xz ] || fail "no node on PATH and no .device/node.xz (run tools/device/pack.sh here first)"
  xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node
  mkdir -p /tmp/bin && ln -sf /tmp/node /tmp/bin/node && export PATH="/tmp/bin:$PATH"
fi
if [ ! -d node_modules/@huggingface/tokenizers ]; then
  [ -f .device/node_modules.tar.xz ] || fail "no node_modules and no .device/node_modules.tar.xz"
  tar xJf .device/node_modules.tar.xz
fi
[ -f dist/lib/index.js ] || fail "no dist/lib/index.js (compile with tools/device/pack.sh or npx tsc -p tsconfig.json)"
ls prebuilds/linux-x64/ 2>/dev/null
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
node --version
df -h /tmp | tail -1
rm -rf "$WORK" && mkdir -p "$WORK"
CKPT="$WORK/LLaDA-8B-random"
MODEL="$WORK/llada-8b/model.pt"

stage "1/3 random LLaDA-8B checkpoint in the Hugging Face layout (bf16, drawn on the GPU)"
t0=$(now)
timeout 150 python3 tools/make_hf_checkpoint.py --family llada --preset 8b --out "$CKPT" --device cuda --seed 0 || fail "make_hf_checkpoint"
t1=$(now)
du -sh "$CKPT"

stage "2/3 export (bf16, SDPA, CUDA) with the parity check"
timeout 240 python3 tools/export_hf.py --checkpoint "$CKPT" --out "$MODEL" --dtype bfloat16 --attention sdpa --device cuda \
  --parity-prompts 3 --report "$OUT/hf8b-export.json" || fail "export_hf"
t2=$(now)
ls -la "$(dirname "$MODEL")"
rm -rf "$CKPT"  # the disk holds both only briefly

stage "3/3 Node: loadModel + generate (prompt 128 + gen 256 / 512, localleap defaults)"
# Per-process memory where nvidia-smi sees this container's pids; the whole GPU's use as a fallback.
GPU_BASE=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits -lms 250 > "$OUT/hf8b-smi.csv" 2>/dev/null &
SMI=$!
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$OUT/hf8b-smi-gpu.csv" 2>/dev/null &
SMI_GPU=$!
timeout 180 node tools/device/hf8b.js "$MODEL" "$OUT/hf8b-node.json"
node_status=$?
t3=$(now)
kill "$SMI" "$SMI_GPU" 2>/dev/null; wait "$SMI" "$SMI_GPU" 2>/dev/null
[ "$node_status" = 0 ] || fail "node (exit $node_status)"

stage "results"
python3 - "$OUT" "$t0" "$t1" "$t2" "$t3" "${GPU_BASE:-0}" <<'PY'
import json, os, sys
out, t0, t1, t2, t3, gpu_base = sys.argv[1], *map(float, sys.argv[2:])
ex = json.load(open(os.path.join(out, "hf8b-export.json")))
nd = json.load(open(os.path.join(out, "hf8b-node.json")))
peak_node = 0
for line in open(os.path.join(out, "hf8b-smi.csv")):
    parts = [p.strip() for p in line.split(",")]
    if len(parts) == 2 and parts[0] == str(nd["pid"]) and parts[1].isdigit():
        peak_node = max(peak_node, int(parts[1]))
memory_source = "nvidia-smi, Node process"
if peak_node == 0:  # pids of another namespace: the GPU's use above what it had before Node started
    used = [int(l.strip()) for l in open(os.path.join(out, "hf8b-smi-gpu.csv")) if l.strip().isdigit()]
    peak_node = max(used, default=0) - int(gpu_base)
    memory_source = "nvidia-smi, whole GPU minus its use before Node started"
gib = 2 ** 30
t = ex["times"]
summary = {
    "device": nd.get("cudaDeviceName"), "variant": nd.get("variant"), "parameters": ex["parameters"],
    "checkpointSeconds": t1 - t0, "exportSeconds": t2 - t1, "nodeSeconds": t3 - t2, "exportTimes": t,
    "exportPeakGpuGiB": ex.get("peakGpuBytes", 0) / gib, "archiveGiB": ex["fileBytes"] / gib,
    "parity": ex.get("parity"), "loadSeconds": nd["loadMs"] / 1000, "nodePeakGpuMiB": peak_node,
    "nodePeakGpuSource": memory_source,
    "runs": nd["runs"],
}
json.dump(summary, open(os.path.join(out, "hf8b.json"), "w"), indent=2)
p = ex.get("parity") or {}
lines = [
    f"LLaDA-8B configuration, random bf16 weights, {summary['device']} ({summary['variant']}); "
    f"{ex['parameters'] / 1e9:.2f} B parameters, archive {summary['archiveGiB']:.2f} GiB",
    "",
    "| stage | figure |",
    "|---|---|",
    f"| random checkpoint (make_hf_checkpoint.py, 6 shards) | {summary['checkpointSeconds']:.1f} s |",
    f"| export_hf.py total (bf16, SDPA, CUDA) | {summary['exportSeconds']:.1f} s |",
    f"| &nbsp; read + convert / script / parity / save | {t['read_s']:.1f} / {t['script_s']:.1f} / {t['parity_s']:.1f} / {t['save_s']:.1f} s |",
    f"| export peak GPU memory (torch.cuda.max_memory_allocated) | {summary['exportPeakGpuGiB']:.2f} GiB |",
    f"| parity vs LLaDA reference (max abs / relative / bound / argmax agree) | {p.get('maxAbsDiff', float('nan')):.3g} / {p.get('maxRelDiff', float('nan')):.3g} / {p.get('bound', float('nan'))} / {p.get('top1Agreement', float('nan')):.1%} |",
    f"| loadModel (Node, CUDA) | {summary['loadSeconds']:.1f} s |",
    f"| Node process peak GPU memory ({memory_source}) | {peak_node / 1024:.2f} GiB |",
]
for r in nd["runs"]:
    lines.append(f"| generate prompt {r['promptTokens']} + gen {r['genLength']} (localleap defaults) | "
                 f"{r['msPerStep']:.2f} ms/step, {r['steps']} steps, {r['totalMs'] / 1000:.2f} s, "
                 f"{r['tokensPerSecond']:.1f} tok/s, CUDA graph {r['cudaGraph']} |")
text = "\n".join(lines)
open(os.path.join(out, "hf8b.md"), "w").write(text + "\n")
print(text)
PY
stage "done in $(( $(date +%s) - T_START )) s"
