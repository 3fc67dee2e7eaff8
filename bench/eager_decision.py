"""Eager PyTorch's version of one LocalLeap decision on a block's logits, timed with CUDA events.

The rule written with plain tensor ops, as the public reference code does: softmax in float32,
max/argmax, anchors, neighbourhood (max-pool over the anchors), the fallback to the most
confident position, and the commit into the block. Shapes and dtype as bench/kernelBench.ts.
Usage: python3 bench/eager_decision.py OUT.json
"""
import json
import sys

import torch
import torch.nn.functional as F


def localleap_decision(logits, block, mask_id, kappa=0.9, tau=0.75, radius=4):
    probs = torch.softmax(logits.float(), dim=-1)
    conf, token = probs.max(dim=-1)
    masked = block == mask_id
    conf = torch.where(masked, conf, torch.full_like(conf, -1.0))
    anchors = masked & (conf >= kappa)
    near = F.max_pool1d(anchors.float()[:, None, :], 2 * radius + 1, stride=1, padding=radius)[:, 0, :] > 0
    has_anchor = anchors.any(dim=-1, keepdim=True)
    thr = torch.where(has_anchor & near, torch.full_like(conf, tau), torch.full_like(conf, kappa))
    commit = masked & (conf >= thr)
    best = conf.argmax(dim=-1, keepdim=True)
    commit = commit.scatter(1, best, masked.gather(1, best))
    return torch.where(commit, token, block)


def time_decision(batch, block_length, vocab, iterations=300):
    torch.manual_seed(1)
    set_bytes = batch * block_length * vocab * 2
    sets = max(2, (160 << 20) // set_bytes + 1)  # more than the L2 cache, as the kernel bench
    inputs = [(torch.randn(batch, block_length, vocab, device="cuda") * 3).to(torch.bfloat16) for _ in range(sets)]
    mask_id = vocab
    block = torch.full((batch, block_length), mask_id, dtype=torch.long, device="cuda")
    for i in range(10):
        localleap_decision(inputs[i % sets], block, mask_id)
    torch.cuda.synchronize()
    times = []
    for i in range(iterations):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        localleap_decision(inputs[i % sets], block, mask_id)
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    times.sort()
    return {"batch": batch, "blockLength": block_length, "vocabSize": vocab, "dtype": "bfloat16",
            "strategy": "localleap", "medianMs": times[len(times) // 2], "minMs": times[0]}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "eager.json"
    rows = []
    for batch in (1, 2, 4, 8):
        r = time_decision(batch, 32, 126464)
        rows.append(r)
        print(f"eager PyTorch [{batch}, 32, 126464] bf16 localleap: median {r['medianMs'] * 1000:.1f} us", flush=True)
    with open(out, "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
