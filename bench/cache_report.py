"""The issue-12 tables from one device run: the engine (bench/cacheSteps.ts) next to plain PyTorch
and the floors (bench/cache8b.py), and the targets at prompt 128 + gen 256, batch 1.

Usage: python3 bench/cache_report.py --pytorch cache8b.json --engine cache-steps.json
           [--out cache-report.md] [--json cache-report.json]
Either input may be missing or partial (a stage that timed out): what it lacks shows as "-".

Comparisons are like for like: the engine's step (forward + fused commit kernel + status read,
CUDA graph) against PyTorch's step (the same archive method + the LocalLeap decision in tensor
ops), graph-captured and eager. An engine run that was finished early (blocks run < blocks)
is compared with PyTorch's prefix steps over the same blocks.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cache8b import REFERENCE, block_averaged, interpolated_mean  # noqa: E402

TARGET_DUAL_OVER_FLOOR = 1.5
TARGET_SPEEDUP = 2.5


def load(path):
    if not path or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def fmt(v, d=2):
    return "-" if v is None else f"{v:.{d}f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def pytorch_row(pt, batch, gen):
    if not pt:
        return None
    return next((r for r in pt["rows"] if r["batch"] == batch and r["genLength"] == gen), None)


def pytorch_prefix_over(row, blocks_run, mode):
    """PyTorch's mean prefix step over blocks 0 .. blocks_run - 1 (the blocks of an engine run that
    was finished early; all blocks: the prefixMean figure)."""
    if blocks_run >= row["blocks"]:
        return row["kinds"]["prefixMean"][f"{mode}Ms"]
    return interpolated_mean([(b["block"], b[f"{mode}Ms"]) for b in row["prefixBlocks"]], blocks_run)


def pick_engine(en, batch, gen, cache, modes=("lc1",)):
    if not en:
        return None
    for mode in modes:
        for r in en["runs"]:
            if r["batch"] == batch and r["genLength"] == gen and r["cache"] == cache and r["mode"] == mode:
                return r
    return None


def compare_rows(pt, en):
    """One dict per (batch, gen, cache) with the engine's and PyTorch's figures side by side."""
    shapes = []
    for src in ((en or {}).get("runs", []), (pt or {}).get("rows", [])):
        for r in src:
            s = (r["batch"], r["genLength"])
            if s not in shapes:
                shapes.append(s)
    shapes.sort()
    tpf = (en or {}).get("tpf") or 7.0
    out = []
    for batch, gen in shapes:
        p = pytorch_row(pt, batch, gen)
        none_engine = pick_engine(en, batch, gen, "none")
        for cache in ("none", "prefix", "dual"):
            e = pick_engine(en, batch, gen, cache)
            if e is None and p is None:
                continue
            block = (e or p)["blockLength"]
            s = block / tpf
            c = {"batch": batch, "promptLength": (e or p)["promptLength"], "genLength": gen, "cache": cache, "stepsPerBlock": s}
            if e:
                c["engine"] = {"mode": e["mode"], "blocksRun": e["blocksRun"], "blocks": e["blocks"], "fullMs": e["fullMsPerStep"],
                               "cachedMs": e["cachedMsPerStep"], "measuredMs": e["msPerStep"], "blockAvgMs": e["blockAveraged"]["tpf"]["ms"],
                               "cudaGraph": e["cudaGraph"], "legacy": e.get("legacyTimings", False)}
            if p:
                k = p["kinds"]
                full_kind = "none" if cache == "none" else "full"
                blocks_run = e["blocksRun"] if e else p["blocks"]
                torch_ = {}
                for mode in ("graph", "eager"):
                    full = k[full_kind][f"{mode}Ms"]
                    if cache == "none":
                        cached = None
                        avg = full
                    elif cache == "dual":
                        cached = k["dual"][f"{mode}Ms"]
                        avg = block_averaged(full, cached, s)
                    else:
                        cached = pytorch_prefix_over(p, blocks_run, mode)
                        avg = block_averaged(full, cached, s)
                    torch_[mode] = {"fullMs": full, "cachedMs": cached, "blockAvgMs": avg}
                c["pytorch"] = torch_
                fk = k["dual" if cache == "dual" else "prefixMean" if cache == "prefix" else "none"]
                c["floors"] = {"weightsMs": fk["weightsFloorMs"], "bytesMs": fk["bytesFloorMs"], "computeMs": fk["computeFloorMs"],
                               "fullComputeMs": k["full"]["computeFloorMs"], "fullBytesMs": k["full"]["bytesFloorMs"]}
            if e and none_engine and cache != "none":
                none_ms = none_engine["fullMsPerStep"]
                c["engineSpeedupOverNone"] = ratio(none_ms, e["blockAveraged"]["tpf"]["ms"])
                c["engineSpeedupOverNoneOneTokenPerStep"] = ratio(none_ms, e["blockAveraged"]["oneTokenPerStep"]["ms"])
                if p:
                    # The best a cache could do here: its cached steps at the weight-bytes floor.
                    w = c["floors"]["weightsMs"]
                    c["speedupBoundAtWeightsFloor"] = ratio(none_ms, block_averaged(e["fullMsPerStep"], w, s))
                    c["speedupBoundAtWeightsFloorOneTokenPerStep"] = ratio(none_ms, block_averaged(e["fullMsPerStep"], w, block))
            if e and e["blockAveraged"]["tpf"]["ms"]:
                c["engineTokensPerSecondAtTpf"] = batch * tpf * 1000 / e["blockAveraged"]["tpf"]["ms"]
            out.append(c)
    return out


def targets(rows, pt, en):
    t = {"shape": "batch 1, prompt 128 + gen 256", "checks": []}

    def check(name, value, target, ok, note=""):
        t["checks"].append({"name": name, "value": value, "target": target,
                            "status": "not measured" if value is None else ("PASS" if ok else "FAIL"), "note": note})

    dual = next((r for r in rows if r["batch"] == 1 and r["genLength"] == 256 and r["promptLength"] == 128 and r["cache"] == "dual"), None)
    e = (dual or {}).get("engine") or {}
    fl = (dual or {}).get("floors") or {}
    v = ratio(e.get("cachedMs"), fl.get("weightsMs"))
    check("engine dual cached step / weight-bytes floor", v, f"<= {TARGET_DUAL_OVER_FLOOR}", v is not None and v <= TARGET_DUAL_OVER_FLOOR)
    d = dual or {}
    bound = d.get("speedupBoundAtWeightsFloor")
    v = d.get("engineSpeedupOverNone")
    check(f"engine block-averaged dual step speed-up over no cache (s = {fmt(d.get('stepsPerBlock'))} steps/block, TPF assumed)", v,
          f">= {TARGET_SPEEDUP}", v is not None and v >= TARGET_SPEEDUP,
          "" if bound is None else f"with the cached steps at the weight-bytes floor it would be {bound:.2f}x"
          + (" (the bar is out of reach at this s)" if bound < TARGET_SPEEDUP else ""))
    bound1 = d.get("speedupBoundAtWeightsFloorOneTokenPerStep")
    v = d.get("engineSpeedupOverNoneOneTokenPerStep")
    check("the same at one token per step (32 steps/block)", v, f">= {TARGET_SPEEDUP}", v is not None and v >= TARGET_SPEEDUP,
          "" if bound1 is None else f"at the weight-bytes floor: {bound1:.2f}x")
    slower = []
    compared = 0
    for r in rows:
        e, p = r.get("engine"), r.get("pytorch") or {}
        if not e or not p:
            continue
        for key in ("fullMs", "cachedMs", "blockAvgMs"):
            # PyTorch's better of graph-captured and eager
            best = min((v for v in ((p.get(m) or {}).get(key) for m in ("graph", "eager")) if v is not None), default=None)
            if e.get(key) is not None and best is not None:
                compared += 1
                if e[key] > best:
                    slower.append(f"{r['batch']}x{r['genLength']} {r['cache']} {key}: engine {e[key]:.2f} > PyTorch {best:.2f} ms")
    check("engine never slower than plain PyTorch (the better of graph and eager), every shape and step kind",
          len(slower) if compared else None, "0 slower", not slower, "; ".join(slower))
    v = (dual or {}).get("engineTokensPerSecondAtTpf")
    check(f"implied tokens/s at TPF {(en or {}).get('tpf', 7)} (engine, dual), against {REFERENCE['name']} "
          f"{REFERENCE['tokensPerSecond']:.0f} tok/s ({REFERENCE['machine']}, batch {REFERENCE['batch']})", v,
          f">= {REFERENCE['tokensPerSecond']:.0f} (a comparison, not an issue target)", v is not None and v >= REFERENCE["tokensPerSecond"])
    return t


def markdown(pt, en, rows, tg):
    lines = ["# KV cache (issue 12): engine, plain PyTorch and the floors", ""]
    if pt:
        lines.append(f"- PyTorch: {pt.get('device')}, torch {pt.get('torch')}, {pt.get('dtype')}, {pt.get('date')}; `{pt.get('command')}`; "
                     f"copy {pt['copyGBps']:.0f} GB/s, matmul {pt['matmulTflops']:.0f} TFLOP/s, weights {pt['weightBytes'] / 1e9:.2f} GB; "
                     f"step = {pt.get('timed')}")
    if en:
        lines.append(f"- engine: {en.get('device')}, {en['build'].get('variant', '')} libtorch {en['build'].get('torchVersion', '')}, "
                     f"{en['model']['dtype']}, CUDA graphs {'on' if en.get('cudaGraph') else 'off'}, {en.get('date')}; `{en.get('command')}`")
    if en and any(r.get("legacyTimings") for r in en["runs"] + en["growth"]):
        lines.append("- **the engine binary had no per-kind timings (--legacy-ok): its cache figures are not cache figures**")
    tpf = (en or {}).get("tpf", 7)
    lines += ["", f"Steps per block for the block averages: block length / TPF {tpf} (assumed, not measured). Engine: lc1 runs (low-confidence, "
                  "one token per step); blocks run < blocks: the decode was finished early and PyTorch's prefix figure is over the same blocks.", "",
              "| batch | canvas | cache | engine full | PyTorch full (graph / eager) | floors of the full step: bytes / FLOPs | engine cached | "
              "PyTorch cached (graph / eager) | floors of the cached step: weights / +KV / FLOPs | engine cached / weights floor | engine block avg | "
              "PyTorch block avg (graph / eager) | engine / PyTorch graph (block avg) | engine speed-up over none | engine tok/s @ TPF | blocks run |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        e = r.get("engine") or {}
        pg = (r.get("pytorch") or {}).get("graph") or {}
        pe = (r.get("pytorch") or {}).get("eager") or {}
        fl = r.get("floors") or {}
        floor_cell = "-" if r["cache"] == "none" or not fl else f"{fmt(fl['weightsMs'])} / {fmt(fl['bytesMs'])} / {fmt(fl['computeMs'])}"
        if not fl:
            full_floor = "-"
        elif r["cache"] == "none":  # logits_at: the weights, no cache
            full_floor = f"{fmt(fl['weightsMs'])} / {fmt(fl['computeMs'])}"
        else:
            full_floor = f"{fmt(fl['fullBytesMs'])} / {fmt(fl['fullComputeMs'])}"
        lines.append(
            f"| {r['batch']} | {r['promptLength']} + {r['genLength']} | {r['cache']} | {fmt(e.get('fullMs'))} | {fmt(pg.get('fullMs'))} / {fmt(pe.get('fullMs'))} | "
            f"{full_floor} | {fmt(e.get('cachedMs'))} | {fmt(pg.get('cachedMs'))} / {fmt(pe.get('cachedMs'))} | {floor_cell} | "
            f"{fmt(ratio(e.get('cachedMs'), fl.get('weightsMs')))}x | {fmt(e.get('blockAvgMs'))} | {fmt(pg.get('blockAvgMs'))} / {fmt(pe.get('blockAvgMs'))} | "
            f"{fmt(ratio(e.get('blockAvgMs'), pg.get('blockAvgMs')))} | {fmt(r.get('engineSpeedupOverNone'))}x | {fmt(r.get('engineTokensPerSecondAtTpf'), 0)} | "
            f"{e.get('blocksRun', '-')}/{e.get('blocks', '-')} |")
    whole = [x for x in (en or {}).get("runs", []) if x["mode"] != "lc1"]
    if whole:
        lines += ["", "Other engine runs (measured ms/step is the engine's own block average over the blocks run):", "",
                  "| batch | canvas | cache | mode | blocks run | steps / block | full ms | cached ms | measured ms/step | tokens/s measured |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for x in whole:
            lines.append(f"| {x['batch']} | {x['promptLength']} + {x['genLength']} | {x['cache']} | {x['mode']} | {x['blocksRun']}/{x['blocks']} | "
                         f"{fmt(x['stepsPerBlockMean'])} | {fmt(x['fullMsPerStep'])} | {fmt(x['cachedMsPerStep'])} | {fmt(x['msPerStep'])} | {fmt(x['tokensPerSecond'], 0)} |")
    growth = (en or {}).get("growth", [])
    if growth:
        lines += ["", f"Growth with the canvas (engine, batch {growth[0]['batch']}, lc1, first {growth[0]['maxBlocks'] or 'all'} blocks; plot cache-growth.svg):", "",
                  "| canvas | cache | full ms/step | cached ms/step | block avg @ TPF |", "|---|---|---|---|---|"]
        for x in sorted(growth, key=lambda x: (x["canvas"], x["cache"])):
            lines.append(f"| {x['canvas']} | {x['cache']} | {fmt(x['fullMsPerStep'])} | {fmt(x['cachedMsPerStep'])} | {fmt(x['blockAveraged']['tpf']['ms'])} |")
    lines += ["", f"Targets ({tg['shape']}):", "", "| target | value | bar | status |", "|---|---|---|---|"]
    for c in tg["checks"]:
        lines.append(f"| {c['name']} | {fmt(c['value']) if isinstance(c['value'], float) else c['value'] if c['value'] is not None else '-'} | "
                     f"{c['target']} | {c['status']}{(': ' + c['note']) if c['note'] else ''} |")
    notes = []
    for src, name in ((pt, "PyTorch"), (en, "engine")):
        if src is None:
            notes.append(f"{name}: no results")
            continue
        if src.get("skipped"):
            notes.append(f"{name} not run: " + "; ".join(f"{s.get('shape') or s.get('run')} ({s['reason']})" for s in src["skipped"]))
        if src.get("errors"):
            notes.append(f"{name} errors: " + " | ".join(src["errors"]))
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pytorch")
    ap.add_argument("--engine")
    ap.add_argument("--out")
    ap.add_argument("--json")
    a = ap.parse_args()
    pt, en = load(a.pytorch), load(a.engine)
    rows = compare_rows(pt, en)
    tg = targets(rows, pt, en)
    text = markdown(pt, en, rows, tg)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "targets": tg}, f, indent=1)
    sys.stdout.write(text)
    return 0 if (pt or en) else 1


if __name__ == "__main__":
    sys.exit(main())
