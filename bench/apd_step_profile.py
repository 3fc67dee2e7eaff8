"""The pieces of one APD step at batch 1, timed in plain PyTorch on the exported archives.

BENCHMARKS §12 measures an engine APD step at the Dream-7B + Qwen2.5-0.5B shapes at 5x a cached
7B step. This splits such a step into what it runs (the same methods, the same shapes as the
engine's W / null-W step at a mid-generation point) and times each piece with CUDA events, eager
and, where the piece has static shapes, replayed from a CUDA graph, so the cost of each part and
what graphs could save are measured rather than guessed. It is a plain-PyTorch floor for the
step, not the engine: the token choice (apd_tokens_kernel.cu) is stood in for by an argmax over
the float32 mixture, and the engine's host bookkeeping is not in it. Timing: cache8b.py's
time_ms / graph_ms (median of CUDA events; the committed 2026-12-02 figures were taken with an
equivalent timer of this script's own, which also synchronised before each call).

usage: python3 bench/apd_step_profile.py --dllm D.pt --ar A.pt --out profile.json
       [--prompt 128] [--committed 64] [--window 16] [--lookahead 100] [--reps 20] [--device cuda] [--check]
--check: first hold the shapes to the full forwards (the windowed dLLM step and the causal LM's
cached step give the logits of logits_at at the same positions), so the pieces timed are the step's.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cache8b import graph_ms, time_ms  # noqa: E402
from eager_decoder import load  # noqa: E402

WARMUP = 2  # TorchScript's profiling runs and the allocations, before the timed calls


def kv_cache(meta, length, dtype, device):
    kv = meta["kvCache"]
    return torch.zeros(kv["layers"], 2, 1, kv["kvHeads"], length, kv["headDim"], dtype=dtype, device=device)


def graph_ms_or_none(fn, reps):
    """Median ms of fn replayed from a CUDA graph, or None where an op in it is not capturable."""
    try:
        return graph_ms(fn, reps, WARMUP + 1)
    except Exception as e:  # noqa: BLE001 - the report says why
        print(f"  (not capturable: {str(e).splitlines()[0][:160]})", file=sys.stderr)
        torch.cuda.synchronize()
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dllm", required=True)
    ap.add_argument("--ar", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--committed", type=int, default=64, help="generated tokens already committed")
    ap.add_argument("--window", type=int, default=16, help="W: columns before the first masked one the dLLM recomputes")
    ap.add_argument("--lookahead", type=int, default=100, help="M: masked positions drafted")
    ap.add_argument("--mixture", type=float, default=0.7)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--check", action="store_true", help="compare the cached pieces with the full forwards first")
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    dllm, dm = load(a.dllm, a.device)
    ar, am = load(a.ar, a.device)
    dtype = next(dllm.parameters()).dtype
    ar_dtype = next(ar.parameters()).dtype
    width = min(dm["vocabSize"], am["vocabSize"])
    shift = 1 if dm.get("logitsShifted") else 0
    c = a.prompt + a.committed  # the first masked column
    right = c + a.lookahead  # the canvas the dLLM sees is cut after the lookahead
    lo = torch.long
    dev = a.device
    canvas = torch.randint(0, width, (1, right), dtype=lo, device=dev)
    canvas[0, c:] = dm["maskId"]
    outputs = torch.arange(right - a.lookahead - shift, right - shift, dtype=lo, device=dev)
    dkv = kv_cache(dm, right, dtype, dev)
    akv = kv_cache(am, right, ar_dtype, dev)
    ww = a.window + a.lookahead
    window = torch.arange(right - ww, right, dtype=lo, device=dev)
    w_outputs = torch.arange(ww - a.lookahead - shift, ww - shift, dtype=lo, device=dev)
    # The causal LM has verified up to c - 1 (its cache holds [0, c - 1)); it runs [c - 1, right):
    # the last committed token then the draft, whose logits score the draft's positions.
    ar_window = torch.arange(c - 1, right, dtype=lo, device=dev)
    ar_outputs = torch.arange(0, a.lookahead, dtype=lo, device=dev)
    with torch.no_grad():
        dllm.cache_full(canvas, torch.arange(right - 1, right, dtype=lo, device=dev), None, dkv)
        ar.cache_full(canvas[:, : c - 1], torch.arange(c - 2, c - 1, dtype=lo, device=dev), None, akv)
    if a.check:
        with torch.no_grad():
            checks = {
                "dLLM cache_step vs logits_at": (dllm.cache_step(canvas, window, w_outputs, None, dkv),
                                                 dllm.logits_at(canvas, outputs)),
                "causal LM cache_step vs logits_at": (ar.cache_step(canvas, ar_window, ar_outputs, None, akv),
                                                      ar.logits_at(canvas, ar_window[:a.lookahead])),
            }
        for name, (cached, full) in checks.items():
            diff = (cached.float() - full.float()).abs().max().item()
            scale = full.float().abs().max().item()
            print(f"check {name}: max |diff| {diff:.3g} (logit scale {scale:.3g})")
            if not diff <= 1e-3 * max(scale, 1.0):
                raise SystemExit(f"apd_step_profile: {name} differ by {diff:.3g}: the shapes are not the step's")
    cuda = dev.startswith("cuda")
    timer = lambda fn: time_ms(fn, a.reps, WARMUP, "cuda" if cuda else "cpu")  # noqa: E731
    state = {}

    def dllm_full():
        state["zd"] = dllm.logits_at(canvas, outputs)

    def dllm_window():
        state["zd"] = dllm.cache_step(canvas, window, w_outputs, None, dkv)

    def ar_step():
        state["za"] = ar.cache_step(canvas, ar_window, ar_outputs, None, akv)

    def mixture():
        zd = state["zd"][..., :width].float()
        za = state["za"][..., :width].float()
        state["draft"] = zd.argmax(-1)
        state["target"] = (a.mixture * zd + (1 - a.mixture) * za).argmax(-1)

    def ids_back():
        state["ids"] = torch.stack([state["draft"], state["target"]]).cpu()

    pieces = {
        "dLLM logits_at (W null: the whole canvas)": dllm_full,
        "dLLM cache_step (W window + M columns)": dllm_window,
        "causal LM cache_step (1 + M columns)": ar_step,
        "mixture + argmax over V' (float32)": mixture,
        "ids to the host (a sync)": ids_back,
    }
    rows = []
    with torch.no_grad():
        for name, fn in pieces.items():
            eager = timer(fn)
            graphed = graph_ms_or_none(fn, a.reps) if cuda and not name.startswith("ids") else None
            rows.append({"piece": name, "eagerMs": eager, "graphMs": graphed})
            print(f"{name}: eager {eager:.3f} ms" + (f", CUDA graph {graphed:.3f} ms" if graphed is not None else ""))
        for label, dllm_fn in (("W", dllm_window), ("W null", dllm_full)):
            def step(dllm_fn=dllm_fn):
                dllm_fn()
                ar_step()
                mixture()
                ids_back()
            total = timer(step)
            rows.append({"piece": f"whole step ({label}), eager", "eagerMs": total, "graphMs": None})
            print(f"whole step ({label}), eager: {total:.3f} ms")
    report = {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch": torch.__version__,
        "dtype": str(dtype),
        "shapes": {"prompt": a.prompt, "committed": a.committed, "window": a.window, "lookahead": a.lookahead,
                   "canvas": right, "vocabWidth": width},
        "reps": a.reps,
        "rows": rows,
    }
    json.dump(report, open(a.out, "w"), indent=2)
    print(f"wrote {a.out}")
    return report


if __name__ == "__main__":
    main()
