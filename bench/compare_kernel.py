"""Side-by-side table of bench/kernelBench.ts and bench/eager_decision.py from one run."""
import json
import sys

fused = json.load(open(sys.argv[1]))
eager = json.load(open(sys.argv[2]))
print(f"GPU: {fused['device']} | libtorch {fused['torch']} | PyTorch {eager['torch']}")
print("| logits | eager PyTorch (us) | fused kernel (us) | speed-up | kernel GB/s |")
print("|---|---|---|---|---|")
for e in eager["rows"]:
    f = next(r for r in fused["rows"] if r["batch"] == e["batch"] and r["vocabSize"] == e["vocabSize"]
             and r["dtype"] == e["dtype"] and r["strategy"] == e["strategy"])
    print(f"| [{e['batch']}, {e['blockLength']}, {e['vocabSize']}] bf16 | {e['medianMs'] * 1000:.1f} | "
          f"{f['medianMs'] * 1000:.1f} | {e['medianMs'] / f['medianMs']:.1f}x | {f['gbps']:.0f} |")
