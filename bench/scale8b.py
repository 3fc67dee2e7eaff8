"""8B-scale floors and eager PyTorch, for docs/BENCHMARKS.md (issue 7, item 4).

Measures on this GPU: device-to-device copy bandwidth (bytes read + written) and the bf16 matmul
rate (8192^3, random data); reads the weight bytes of a localleap archive and computes the FLOPs
of one decoding step (the whole canvas through every layer, the LM head on the 32 block
positions); times eager PyTorch on the same archive (its logits_at method called from Python,
then the LocalLeap decision written with tensor ops), synchronised per step like a real step.
Floors per step: weight bytes / bandwidth and FLOPs / matmul rate.

Usage: python3 bench/scale8b.py --model M.pt --out OUT.json [--prompt 128] [--gen 256,512]
Random weights are for timing only: the numbers say nothing about accuracy.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from eager_decision import localleap_decision  # noqa: E402


def cuda_time_ms(fn, reps, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return times[len(times) // 2]


def copy_bandwidth_gbps():
    n = 2 << 30  # 2 GiB each way
    x = torch.empty(n, dtype=torch.uint8, device="cuda").random_(0, 255)
    y = torch.empty_like(x)
    ms = cuda_time_ms(lambda: y.copy_(x), reps=20)
    return 2 * n / (ms / 1000) / 1e9


def matmul_tflops():
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    ms = cuda_time_ms(lambda: a @ b, reps=20)
    return 2 * 8192**3 / (ms / 1000) / 1e12


def step_flops(cfg, length, block):
    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_layers"]
    kv = cfg.get("num_kv_heads") or cfg["num_heads"]
    head = h // cfg["num_heads"]
    per_layer = 2 * length * h * (h + 2 * kv * head + h)  # q, k, v, o projections
    per_layer += 2 * length * h * inter * 3  # SwiGLU
    per_layer += 2 * 2 * length * length * h  # q k^T and p v
    return layers * per_layer + 2 * block * h * cfg["vocab_size"]  # LM head on the block only


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", default="256,512")
    ap.add_argument("--block", type=int, default=32)
    a = ap.parse_args()

    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "model": a.model}
    out["copyGBps"] = copy_bandwidth_gbps()
    out["matmulTflops"] = matmul_tflops()
    print(f"copy {out['copyGBps']:.0f} GB/s (read + write), bf16 matmul {out['matmulTflops']:.0f} TFLOP/s", flush=True)

    t0 = time.time()
    extra = {"localleap.json": ""}
    model = torch.jit.load(a.model, map_location="cuda", _extra_files=extra)
    meta = json.loads(extra["localleap.json"])
    cfg = meta["config"]
    out["loadSeconds"] = time.time() - t0
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    out["weightBytes"] = weight_bytes
    print(f"loaded {a.model} in {out['loadSeconds']:.1f} s: {weight_bytes / 1e9:.2f} GB of weights", flush=True)

    rows = []
    with torch.no_grad():
        for gen in [int(g) for g in a.gen.split(",")]:
            length = a.prompt + gen
            ids = torch.randint(0, meta["maskId"], (1, length), device="cuda")
            positions = torch.arange(a.prompt, a.prompt + a.block, device="cuda")
            block = ids[:, a.prompt:a.prompt + a.block].clone()
            block[:] = meta["maskId"]
            forward_ms = cuda_time_ms(lambda: model.logits_at(ids, positions), reps=20)
            step_ms = cuda_time_ms(lambda: localleap_decision(model.logits_at(ids, positions), block, meta["maskId"]), reps=20)
            flops = step_flops(cfg, length, a.block)
            row = {
                "promptLength": a.prompt, "genLength": gen, "canvas": length,
                "eagerForwardMs": forward_ms, "eagerStepMs": step_ms, "stepGflop": flops / 1e9,
                "bytesFloorMs": weight_bytes / (out["copyGBps"] * 1e9) * 1000,
                "computeFloorMs": flops / (out["matmulTflops"] * 1e12) * 1000,
            }
            row["floorMs"] = max(row["bytesFloorMs"], row["computeFloorMs"])
            rows.append(row)
            print(f"prompt {a.prompt} + gen {gen}: eager forward {forward_ms:.2f} ms, eager step (forward + decision) "
                  f"{step_ms:.2f} ms; floors: bytes {row['bytesFloorMs']:.2f} ms, compute {row['computeFloorMs']:.2f} ms", flush=True)
    out["rows"] = rows
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
