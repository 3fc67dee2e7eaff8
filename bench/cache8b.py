"""KV-cache decoding steps in plain PyTorch at 8B scale, with the floors (issue 12).

For each (batch, gen length) on a localleap archive with the format-v2 methods, the median ms of
one decoding step of each kind, eager and CUDA-graph captured (torch.cuda.graph over static
inputs), the step being the archive's method called from Python plus the LocalLeap decision on
the block's logits (bench/eager_decision.py), as the engine's step is forward + commit:

  none         logits_at(ids, block)                  every step of a decode without a cache
  full         cache_full(ids, block, None, kv)       a block's first step with a cache
  dual         cache_step(ids, [lo, hi), ...)          a later step, dual cache (window = the block)
  prefixFirst  cache_step(ids, [lo, L), ...)           a later step, prefix cache, first block
  prefixLast   the same at the last block
  prefixMean   the mean over all blocks (measured on --prefix-samples blocks, linear in between)

(for shifted models every window starts at lo - 1). Beside them, measured in the same run: the
device-to-device copy bandwidth and the bf16 matmul rate (bench/scale8b.py's helpers), and per step
kind its floors: weight bytes / bandwidth (plus the KV cache's bytes for cached steps), and
FLOPs / matmul rate, the FLOPs counted from the config (the linear layers over the window's
positions, attention q k^T and p v over window x canvas, the LM head over the block).

A block-averaged step, (full + (s - 1) x cached) / s for s steps per block, is reported for
s = block length / TPF (TPF 7, assumed: LocalLeap's LLaDA-8B GSM8K figure), for one token per step
(s = block length), and for --steps-per-block S when given (e.g. a measured mean); each says which.

Usage:
  python3 bench/cache8b.py --model M.pt --out OUT.json [--prompt 128] [--gen 256,512,1024]
         [--batch 1,8] [--skip 8x1024] [--budget-s S] [--reps 10] [--prefix-samples 6]
         [--steps-per-block S] [--no-graph] [--forward-only] [--no-optimize] [--device cuda|cpu]
  python3 bench/cache8b.py --markdown OUT.json      # the tables of a run
Random weights are for timing only. --device cpu is a dry run of the code path (small timings,
no graphs, floors from a CPU copy and matmul), not a benchmark.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eager_decision import localleap_decision  # noqa: E402
from scale8b import copy_bandwidth_gbps, cuda_time_ms, matmul_tflops, step_flops  # noqa: E402

# The issue's reference figure: d3LLM-LLaDA served by SGLang, H100, batch 1.
REFERENCE = {"name": "d3LLM-LLaDA on SGLang", "tokensPerSecond": 545.0, "machine": "H100", "batch": 1}
DEFAULT_TPF = 7.0


# ---------------------------------------------------------------------------------------------
# FLOPs and floors


def window_flops(cfg, window, length, head, batch=1):
    """FLOPs of one forward that runs `window` canvas positions attending to `length` keys, with
    the LM head on `head` positions: q, k, v, o and the SwiGLU over the window, q k^T and p v over
    window x length (all query heads), the LM head. window == length is bench/scale8b.py's
    step_flops (checked by --self-test)."""
    h, inter, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_layers"]
    kv = cfg.get("num_kv_heads") or cfg["num_heads"]
    d = h // cfg["num_heads"]
    per_layer = 2 * window * h * (h + 2 * kv * d + h)  # q, k, v, o projections
    per_layer += 2 * window * h * inter * 3  # SwiGLU: gate, up, down
    per_layer += 2 * 2 * window * length * h  # q k^T and p v
    return batch * (layers * per_layer + 2 * head * h * cfg["vocab_size"])


def kv_shape(cfg, batch, length):
    """tools/localleap/model.py kv_cache_shape, from the archive's config dict."""
    heads = cfg["num_heads"]
    kv = cfg.get("num_kv_heads") or heads
    return [cfg["num_layers"], 2, batch, kv, length, cfg["hidden_size"] // heads]


def floors(kind_bytes, flops, weight_bytes, gbps, tflops):
    """Floors of one step in ms: weights only, weights + the step's KV-cache traffic, FLOPs."""
    weights = weight_bytes / (gbps * 1e9) * 1000
    moved = (weight_bytes + kind_bytes) / (gbps * 1e9) * 1000
    compute = flops / (tflops * 1e12) * 1000
    return {"gflop": flops / 1e9, "kvBytes": kind_bytes, "weightsFloorMs": weights, "bytesFloorMs": moved,
            "computeFloorMs": compute, "floorMs": max(moved, compute)}


# ---------------------------------------------------------------------------------------------
# Timing


def median(values):
    v = sorted(values)
    return v[len(v) // 2]


def time_ms(fn, reps, warmup, device):
    """Median ms of fn(): CUDA events on the GPU (bench/scale8b.py), perf_counter on the CPU."""
    if device == "cuda":
        return cuda_time_ms(fn, reps=reps, warmup=warmup)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return median(times)


def graph_ms(fn, reps, warmup):
    """Median ms of replaying fn captured as one CUDA graph (static inputs: fn closes over them).
    The graph and its memory pool are freed before returning."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):  # the TorchScript profiling executor settles on this shape here
            fn()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    ms = cuda_time_ms(graph.replay, reps=reps, warmup=2)
    del graph, out
    torch.cuda.synchronize()
    return ms


def measure_floors(device):
    if device == "cuda":
        return copy_bandwidth_gbps(), matmul_tflops(), "measured on this GPU (bench/scale8b.py)"
    n = 64 << 20
    x = torch.empty(n, dtype=torch.uint8).random_(0, 255)
    y = torch.empty_like(x)
    gbps = 2 * n / (time_ms(lambda: y.copy_(x), 5, 1, "cpu") / 1000) / 1e9
    a, b = torch.randn(512, 512), torch.randn(512, 512)
    tflops = 2 * 512 ** 3 / (time_ms(lambda: a @ b, 5, 1, "cpu") / 1000) / 1e12
    return gbps, tflops, "CPU dry run: 64 MiB copy, 512^3 float32 matmul (not a floor of anything)"


# ---------------------------------------------------------------------------------------------
# One (batch, gen length)


def sample_blocks(blocks, samples):
    """Block indices to measure the prefix step at: all of them, or `samples` evenly spaced ones
    including the first and the last."""
    if samples <= 0 or blocks <= samples:
        return list(range(blocks))
    if samples == 1:
        return [0]
    return sorted({round(i * (blocks - 1) / (samples - 1)) for i in range(samples)})


def interpolate_at(points, k):
    """The value at block k of a function known at sorted (block, value) points, linear in between,
    constant beyond the ends."""
    for (k0, v0), (k1, v1) in zip(points, points[1:]):
        if k0 <= k <= k1:
            return v0 if k1 == k0 else v0 + (v1 - v0) * (k - k0) / (k1 - k0)
    return points[0][1] if k < points[0][0] else points[-1][1]


def interpolated_mean(points, blocks, first=0):
    """Mean over blocks first..blocks-1 of a function known at the sampled blocks (sorted (k, value)),
    linear in between: a prefix step's cost is close to linear in its window."""
    if not points or any(v is None for _, v in points) or blocks <= first:
        return None
    return sum(interpolate_at(points, k) for k in range(first, blocks)) / (blocks - first)


def block_averaged(full, cached, steps_per_block):
    """ms per step over a block of s steps: the first a full step, the rest cached."""
    if full is None or cached is None:
        return None
    s = steps_per_block
    return (full + (s - 1) * cached) / s


def measure_shape(model, meta, cfg, dtype, device, batch, prompt, gen, block, args, weight_bytes, gbps, tflops, log):
    length = prompt + gen
    blocks = gen // block
    mask = meta["maskId"]
    shift = 1 if meta.get("logitsShifted") else 0
    ids = torch.randint(0, max(1, min(mask, meta["vocabSize"])), (batch, length), device=device)
    ids[:, prompt:] = mask
    block_tokens = torch.full((batch, block), mask, dtype=ids.dtype, device=device)
    kv = torch.zeros(kv_shape(cfg, batch, length), dtype=dtype, device=device)
    kv_bytes = kv.numel() * kv.element_size()
    local = torch.arange(0, block, device=device)

    def arange(lo, hi):
        return torch.arange(lo, hi, device=device)

    def lo_of(k):
        return prompt + k * block

    first_out = arange(lo_of(0) - shift, lo_of(0) + block - shift)  # outputs that predict block 0

    def step(forward):
        if args.forward_only:
            return forward
        return lambda: localleap_decision(forward(), block_tokens, mask)

    kinds = {}

    def run_kind(name, forward, window, keys, kv_traffic, extra=None):
        entry = {"window": window, "keys": keys}
        entry.update(extra or {})
        entry.update(floors(kv_traffic, window_flops(cfg, window, keys, block, batch), weight_bytes, gbps, tflops))
        fn = step(forward)
        try:
            entry["eagerMs"] = time_ms(fn, args.reps, 3, device)
        except Exception as e:  # noqa: BLE001 - recorded, reported, and the run exits non-zero
            entry["eagerMs"] = None
            entry["eagerError"] = f"{type(e).__name__}: {e}"
        entry["graphMs"] = None
        if device == "cuda" and not args.no_graph:
            try:
                entry["graphMs"] = graph_ms(fn, args.reps, 3)
            except Exception as e:  # noqa: BLE001
                entry["graphError"] = f"{type(e).__name__}: {e}"
        kinds[name] = entry
        g = entry["graphMs"]
        log(f"  {batch}x{gen} {name:<14} window {window:5d}: eager {fmt(entry['eagerMs'])} ms, graph {fmt(g)} ms; "
            f"floors: weights {entry['weightsFloorMs']:.2f}, bytes {entry['bytesFloorMs']:.2f}, compute {entry['computeFloorMs']:.2f} ms"
            + "".join(f" [{k}: {entry[k]}]" for k in ("eagerError", "graphError") if k in entry))
        return entry

    with torch.no_grad():
        run_kind("none", lambda: model.logits_at(ids, first_out), length, length, 0)
        run_kind("full", lambda: model.cache_full(ids, first_out, None, kv), length, length, kv_bytes)  # writes the cache
        # Cached steps read the whole cache and write the window's part.
        dual_window = arange(lo_of(0) - shift, lo_of(0) + block)
        # The cache now holds these ids' keys/values, so cached steps must give the full forward's
        # logits (up to rounding): a check that the windows and positions are used as the engine will.
        ref = model.logits_at(ids, first_out).float()
        scale = max(1.0, float(ref.abs().max()))
        consistency = {
            "dualMaxRelDiff": float((model.cache_step(ids, dual_window, local, None, kv).float() - ref).abs().max()) / scale,
            "prefixMaxRelDiff": float((model.cache_step(ids, arange(lo_of(0) - shift, length), local, None, kv).float() - ref).abs().max()) / scale,
        }
        log(f"  {batch}x{gen} cached steps against logits_at on the same ids: max |diff| / logit scale: "
            f"dual {consistency['dualMaxRelDiff']:.3g}, prefix {consistency['prefixMaxRelDiff']:.3g}")
        del ref
        dual_bytes = kv_bytes + kv_bytes * dual_window.numel() // length
        run_kind("dual", lambda: model.cache_step(ids, dual_window, local, None, kv), dual_window.numel(), length, dual_bytes,
                 {"block": 0})
        prefix_points_eager, prefix_points_graph, prefix_rows = [], [], []
        for k in sample_blocks(blocks, args.prefix_samples):
            window = arange(lo_of(k) - shift, length)
            traffic = kv_bytes + kv_bytes * window.numel() // length
            name = "prefixFirst" if k == 0 else "prefixLast" if k == blocks - 1 else f"prefix{k}"
            e = run_kind(name, lambda w=window: model.cache_step(ids, w, local, None, kv), window.numel(), length, traffic, {"block": k})
            prefix_rows.append({"block": k, "window": e["window"], "eagerMs": e["eagerMs"], "graphMs": e["graphMs"], "gflop": e["gflop"]})
            prefix_points_eager.append((k, e["eagerMs"]))
            prefix_points_graph.append((k, e["graphMs"]))
            if k not in (0, blocks - 1):
                del kinds[name]  # kept in prefixBlocks only
        if blocks == 1:
            kinds["prefixLast"] = dict(kinds["prefixFirst"])
        mean_window = sum(gen - k * block + shift for k in range(blocks)) / blocks
        mean_flops = sum(window_flops(cfg, gen - k * block + shift, length, block, batch) for k in range(blocks)) / blocks
        mean_traffic = kv_bytes + kv_bytes * mean_window / length
        mean = {"window": mean_window, "keys": length, "sampledBlocks": [r["block"] for r in prefix_rows],
                "eagerMs": interpolated_mean(prefix_points_eager, blocks), "graphMs": interpolated_mean(prefix_points_graph, blocks)}
        mean.update(floors(mean_traffic, mean_flops, weight_bytes, gbps, tflops))
        kinds["prefixMean"] = mean
    del kv, ids
    if device == "cuda":
        torch.cuda.empty_cache()

    row = {"batch": batch, "promptLength": prompt, "genLength": gen, "canvas": length, "blockLength": block, "blocks": blocks,
           "logitsShifted": bool(shift), "kvCacheBytes": kv_bytes, "consistency": consistency, "kinds": kinds, "prefixBlocks": prefix_rows}
    averages = {}
    spb_tpf = block / args.tpf
    choices = [("tpf", spb_tpf, f"block length {block} / TPF {args.tpf:g} (assumed, not measured)"),
               ("oneTokenPerStep", float(block), f"one token per step ({block} steps per block)")]
    if args.steps_per_block:
        choices.append(("given", args.steps_per_block, f"--steps-per-block {args.steps_per_block:g} (given)"))
    for key, spb, source in choices:
        a = {"stepsPerBlock": spb, "tokensPerStep": block / spb, "source": source}
        for mode in ("eager", "graph"):
            none = kinds["none"][f"{mode}Ms"]
            full = kinds["full"][f"{mode}Ms"]
            dual = block_averaged(full, kinds["dual"][f"{mode}Ms"], spb)
            prefix = block_averaged(full, kinds["prefixMean"][f"{mode}Ms"], spb)
            a[mode] = {
                "noneMs": none, "prefixMs": prefix, "dualMs": dual,
                "prefixSpeedup": none / prefix if none and prefix else None,
                "dualSpeedup": none / dual if none and dual else None,
                # tokens/s = rows x tokens per step / ms per step
                "tokensPerSecond": {k: (batch * (block / spb) * 1000 / v if v else None)
                                    for k, v in (("none", none), ("prefix", prefix), ("dual", dual))},
            }
        averages[key] = a
    row["blockAveraged"] = averages
    return row


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


# ---------------------------------------------------------------------------------------------
# Targets and tables


def targets(out):
    """The issue's targets at prompt 128 + gen 256, batch 1, on plain PyTorch's own figures (the
    engine's are checked by bench/cache_report.py)."""
    row = next((r for r in out["rows"] if r["batch"] == 1 and r["genLength"] == 256 and r["promptLength"] == 128), None)
    if row is None:
        return {"note": "no batch 1, prompt 128 + gen 256 row in this run"}
    k = row["kinds"]
    mode = "graph" if k["dual"]["graphMs"] is not None else "eager"
    a = row["blockAveraged"]["tpf"][mode]
    dual = k["dual"][f"{mode}Ms"]
    return {
        "timing": mode,
        "dualCachedOverWeightsFloor": dual / k["dual"]["weightsFloorMs"] if dual else None,
        "dualCachedOverWeightsFloorTarget": 1.5,
        "blockAveragedDualSpeedup": a["dualSpeedup"], "blockAveragedSpeedupTarget": 2.5,
        "stepsPerBlock": row["blockAveraged"]["tpf"]["stepsPerBlock"],
        "impliedTokensPerSecondDual": a["tokensPerSecond"]["dual"],
        "reference": REFERENCE,
    }


def markdown(out):
    lines = [
        f"Plain PyTorch on {out.get('model')}: {out.get('device')}, torch {out.get('torch')}, {out.get('dtype')}, "
        f"TorchScript executor optimisation {'on' if out.get('executorOptimize') else 'off'}; step = {out.get('timed')}; "
        f"copy {out['copyGBps']:.0f} GB/s, matmul {out['matmulTflops']:.0f} TFLOP/s ({out.get('floorsSource')}); "
        f"weights {out['weightBytes'] / 1e9:.2f} GB; {out.get('date')}",
        "",
        "| batch | canvas | step kind | window | eager ms | graph ms | GFLOP | floor: weights | floor: bytes (+KV) | floor: FLOPs | graph / weights floor | graph / floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = {"none": "none (logits_at)", "full": "full (cache_full)", "dual": "dual cached", "prefixFirst": "prefix cached, first block",
             "prefixLast": "prefix cached, last block", "prefixMean": "prefix cached, mean over blocks"}
    for r in out["rows"]:
        for key, label in names.items():
            e = r["kinds"].get(key)
            if e is None:
                continue
            g = e.get("graphMs")
            lines.append(
                f"| {r['batch']} | {r['promptLength']} + {r['genLength']} | {label} | {e['window']:.0f} | {fmt(e.get('eagerMs'))} | {fmt(g)} | "
                f"{e['gflop']:.4g} | {e['weightsFloorMs']:.2f} | {e['bytesFloorMs']:.2f} | {e['computeFloorMs']:.2f} | "
                f"{fmt(g / e['weightsFloorMs'] if g else None)}x | {fmt(g / e['floorMs'] if g else None)}x |")
    for key in ("tpf", "oneTokenPerStep", "given"):
        rows = [r for r in out["rows"] if key in r["blockAveraged"]]
        if not rows:
            continue
        src = rows[0]["blockAveraged"][key]["source"]
        lines += ["", f"Block-averaged ms/step, steps per block: {src}", "",
                  "| batch | canvas | steps/block | timing | none | prefix | dual | prefix speed-up | dual speed-up | tok/s none | tok/s prefix | tok/s dual |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            a = r["blockAveraged"][key]
            for mode in ("eager", "graph"):
                m = a[mode]
                if m["noneMs"] is None and m["dualMs"] is None:
                    continue
                t = m["tokensPerSecond"]
                lines.append(
                    f"| {r['batch']} | {r['promptLength']} + {r['genLength']} | {a['stepsPerBlock']:.2f} | {mode} | {fmt(m['noneMs'])} | "
                    f"{fmt(m['prefixMs'])} | {fmt(m['dualMs'])} | {fmt(m['prefixSpeedup'])}x | {fmt(m['dualSpeedup'])}x | "
                    f"{fmt(t['none'], 0)} | {fmt(t['prefix'], 0)} | {fmt(t['dual'], 0)} |")
    t = out.get("targets") or {}
    if "dualCachedOverWeightsFloor" in t:
        lines += ["", f"Targets at 128 + 256, batch 1 ({t['timing']}): dual cached step / weight-bytes floor "
                      f"{fmt(t['dualCachedOverWeightsFloor'])}x (target <= 1.5); block-averaged dual speed-up over no cache "
                      f"{fmt(t['blockAveragedDualSpeedup'])}x at {t['stepsPerBlock']:.2f} steps/block (target >= 2.5); implied "
                      f"{fmt(t['impliedTokensPerSecondDual'], 0)} tok/s against {REFERENCE['name']} {REFERENCE['tokensPerSecond']:.0f} tok/s "
                      f"({REFERENCE['machine']}, batch {REFERENCE['batch']})"]
    if out.get("skipped"):
        lines += ["", "Not run: " + "; ".join(f"{s['shape']} ({s['reason']})" for s in out["skipped"])]
    if out.get("errors"):
        lines += ["", "Errors: " + "; ".join(out["errors"])]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def self_test():
    """Checks that need no model: window_flops against scale8b's step_flops, the interpolation."""
    cfg = {"hidden_size": 4096, "intermediate_size": 12288, "num_layers": 32, "num_heads": 32, "num_kv_heads": 32, "vocab_size": 126464}
    for length in (384, 640, 1152):
        assert window_flops(cfg, length, length, 32) == step_flops(cfg, length, 32), length
    assert abs(window_flops(cfg, 384, 384, 32) / 1e12 - 5.4706) < 1e-3  # docs/BENCHMARKS.md section 4: 5.47 TFLOP
    assert sample_blocks(8, 6) == [0, 1, 3, 4, 6, 7] and sample_blocks(4, 6) == [0, 1, 2, 3] and sample_blocks(32, 2) == [0, 31]
    assert interpolated_mean([(0, 10.0), (3, 4.0)], 4) == (10 + 8 + 6 + 4) / 4
    assert block_averaged(10.0, 4.0, 4) == (10 + 3 * 4) / 4
    print("self-test ok")


def parse_shapes(text):
    out = set()
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        b, g = part.lower().split("x")
        out.add((int(b), int(g)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--out")
    ap.add_argument("--markdown", metavar="OUT.json", help="print the tables of an earlier run and exit")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", default="256,512,1024")
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--skip", default="", help="shapes not to run, e.g. 8x1024")
    ap.add_argument("--budget-s", type=float, default=0, help="start no shape after this many seconds (0: no budget)")
    ap.add_argument("--reps", type=int, default=10, help="timed calls per figure (median)")
    ap.add_argument("--prefix-samples", type=int, default=6, help="blocks at which the prefix step is measured (0: all)")
    ap.add_argument("--tpf", type=float, default=DEFAULT_TPF)
    ap.add_argument("--steps-per-block", type=float, default=0, help="also average blocks of this many steps (e.g. measured)")
    ap.add_argument("--no-graph", action="store_true")
    ap.add_argument("--forward-only", action="store_true", help="time the method alone, without the LocalLeap decision")
    ap.add_argument("--no-optimize", action="store_true",
                    help="TorchScript graph executor optimisation off (no fusion), as the engine runs the module")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return 0
    if a.markdown:
        with open(a.markdown) as f:
            sys.stdout.write(markdown(json.load(f)))
        return 0
    if not a.model or not a.out:
        ap.error("--model and --out are required")
    if a.device == "cuda" and not torch.cuda.is_available():
        print("CACHE8B FAILED: --device cuda but this torch sees no GPU", file=sys.stderr)
        return 1
    t_start = time.time()

    def log(msg):
        print(f"[{time.time() - t_start:6.1f} s] {msg}", flush=True)

    if a.no_optimize:
        torch._C._set_graph_executor_optimize(False)
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": " ".join(["python3"] + sys.argv),
           "device": torch.cuda.get_device_name() if a.device == "cuda" else "cpu", "torch": torch.__version__, "model": a.model,
           "executorOptimize": bool(torch._C._get_graph_executor_optimize()),
           "timed": "the method alone" if a.forward_only else "the method + the LocalLeap decision on the block (bench/eager_decision.py)",
           "reps": a.reps, "reference": REFERENCE, "rows": [], "skipped": [], "errors": []}
    out["copyGBps"], out["matmulTflops"], out["floorsSource"] = measure_floors(a.device)
    log(f"copy {out['copyGBps']:.0f} GB/s (read + write), matmul {out['matmulTflops']:.1f} TFLOP/s ({out['floorsSource']})")

    t0 = time.time()
    extra = {"localleap.json": ""}
    model = torch.jit.load(a.model, map_location=a.device, _extra_files=extra)
    meta = json.loads(extra["localleap.json"])
    cfg = meta["config"]
    if not (hasattr(model, "cache_full") and hasattr(model, "cache_step")):
        print(f"CACHE8B FAILED: {a.model} has no cache_full / cache_step (format v1): re-export it with this tree's tools/export_hf.py",
              file=sys.stderr)
        return 1
    params = list(model.parameters())
    dtype = params[0].dtype
    out["loadSeconds"] = time.time() - t0
    out["weightBytes"] = weight_bytes = sum(p.numel() * p.element_size() for p in params)
    out["parameters"] = sum(p.numel() for p in params)
    out["dtype"] = str(dtype).replace("torch.", "")
    out["config"] = cfg
    out["modelName"] = meta.get("name")
    log(f"loaded {a.model} in {out['loadSeconds']:.1f} s: {weight_bytes / 1e9:.2f} GB of {out['dtype']} weights")

    skip = parse_shapes(a.skip)
    shapes = [(b, g) for b in (int(x) for x in a.batch.split(",")) for g in (int(x) for x in a.gen.split(","))]
    for b, g in shapes:
        shape = f"{b}x{g}"
        if (b, g) in skip:
            out["skipped"].append({"shape": shape, "reason": "--skip"})
            log(f"{shape}: skipped (--skip)")
            continue
        if g % a.block or a.prompt + g > meta.get("maxLength", cfg.get("max_length", 1 << 30)):
            out["skipped"].append({"shape": shape, "reason": "gen not a multiple of the block, or canvas over maxLength"})
            continue
        if a.budget_s and time.time() - t_start > a.budget_s:
            out["skipped"].append({"shape": shape, "reason": f"time budget of {a.budget_s:g} s spent"})
            log(f"{shape}: skipped (time budget of {a.budget_s:g} s spent)")
            continue
        log(f"batch {b}, prompt {a.prompt} + gen {g}")
        try:
            row = measure_shape(model, meta, cfg, dtype, a.device, b, a.prompt, g, a.block, a, weight_bytes,
                                out["copyGBps"], out["matmulTflops"], log)
        except Exception as e:  # noqa: BLE001 - e.g. out of memory: recorded, the next shape still runs
            out["errors"].append(f"{shape}: {type(e).__name__}: {e}")
            log(f"{shape}: FAILED {type(e).__name__}: {e}")
            if a.device == "cuda":
                torch.cuda.empty_cache()
            continue
        for name, e in row["kinds"].items():
            for key in ("eagerError", "graphError"):
                if key in e:
                    out["errors"].append(f"{shape} {name} {key}: {e[key]}")
        out["rows"].append(row)
        out["targets"] = targets(out)
        out["seconds"] = time.time() - t_start
        with open(a.out, "w") as f:  # after every shape: a timeout keeps what was measured
            json.dump(out, f, indent=1)
    out["targets"] = targets(out)
    out["seconds"] = time.time() - t_start
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    sys.stdout.write(markdown(out))
    if out["errors"]:
        print(f"CACHE8B FAILED: {len(out['errors'])} errors (in {a.out})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
