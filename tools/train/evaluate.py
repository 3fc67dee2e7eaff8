"""Stage 4: held-out evaluation of a reference model folder (config.json, shards, tokenizer).

Accuracy by exact final answer (`#### N` / `answer is N`, problems.extract_answer) of the greedy
decodes of tools/train/decoder.py (the rules of docs/decoding.md), block length 32:
  lc-128 / lc-256          low-confidence, one token per step (steps = gen length)
  threshold-G              threshold 0.9
  localleap-G              localleap kappa 0.9, tau 0.75, W 4
  localleap-G-stop         the same with stopAtEos
with mean steps and tokens committed per step, plus the step-1 confidence distribution (the
confidences of the masked positions of the first block at the first step, and of every position
of a fully masked 256-token span). Writes eval.json and eval.md into --out.
"""
import argparse
import collections
import json
import os
import sys
import time
from typing import Dict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import HFTokenizer, chat_prompt, import_model, load_sharded, log, read_jsonl  # noqa: E402
from decoder import DecodeConfig, Tokens, generate, span_confidence  # noqa: E402
from problems import extract_answer  # noqa: E402

import torch  # noqa: E402

ALL_CONFIGS = {
    "lc-128": DecodeConfig("low-confidence", 128, 32, steps=128),
    "lc-256": DecodeConfig("low-confidence", 256, 32, steps=256),
    "localleap-256": DecodeConfig("localleap", 256, 32),
    "localleap-256-stop": DecodeConfig("localleap", 256, 32, stop_at_eos=True),
    "threshold-256": DecodeConfig("threshold", 256, 32),
    "localleap-128": DecodeConfig("localleap", 128, 32),
    "localleap-128-stop": DecodeConfig("localleap", 128, 32, stop_at_eos=True),
    "threshold-128": DecodeConfig("threshold", 128, 32),
    "threshold-256-stop": DecodeConfig("threshold", 256, 32, stop_at_eos=True),
}
DEFAULT_ORDER = list(ALL_CONFIGS)
HIST_EDGES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99, 1.0000001]
QUANTILES = [0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0]


def load_model(folder: str, device, dtype):
    mm = import_model()
    with open(os.path.join(folder, "config.json")) as f:
        conf = json.load(f)
    fields = set(mm.ModelConfig.__dataclass_fields__)
    cfg = mm.ModelConfig.from_dict({k: v for k, v in conf.items() if k in fields})
    model = mm.DiffusionLM(cfg)
    sd = load_sharded(folder)
    if any(v.dtype == torch.int8 for v in sd.values()):  # int8 neutral weights (tools/localleap/quant.py)
        from common import TOOLS
        if TOOLS not in sys.path:
            sys.path.insert(0, TOOLS)
        from localleap.quant import dequantize_state
        sd = dequantize_state(sd, folder)
    sd = {k: v.float() for k, v in sd.items()}
    if cfg.tie_embeddings and "lm_head.weight" not in sd:
        sd["lm_head.weight"] = sd["embed.weight"]
    model.load_state_dict(sd, strict=True)
    model = model.to(device=device, dtype=dtype).eval()
    # .to(dtype) also rounds the rotary inv_freq buffer; keep it float32 as in training.
    hd = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    model.inv_freq = inv.float().to(device)
    return model, cfg, conf


def conf_stats(c: np.ndarray) -> Dict:
    if c.size == 0:
        return {"n": 0}
    hist, _ = np.histogram(c, bins=HIST_EDGES)
    return {"n": int(c.size), "mean": float(c.mean()),
            "quantiles": {str(q): float(np.quantile(c, q)) for q in QUANTILES},
            "histogram": {"edges": [round(e, 4) for e in HIST_EDGES[:-1]] + [1.0], "counts": hist.tolist()},
            "frac_ge_0.9": float((c >= np.float32(0.9)).mean()), "frac_ge_0.75": float((c >= np.float32(0.75)).mean())}



def run_config(model, name, cfg, prompts, held, tok, toks, device, batch_size, record_first=False):
    t0 = time.time()
    rows = []
    first_c, first_t = [], []
    for i in range(0, len(prompts), batch_size):
        r = generate(model, prompts[i:i + batch_size], cfg, toks, device, record_first_step=record_first)
        if record_first:
            first_c.append(r["first_step_conf"].numpy())
            first_t.append(r["first_step_tok"].numpy())
        for b in range(len(r["tokens"])):
            text = tok.decode(r["tokens"][b])
            p = held[i + b]
            pred = extract_answer(text)
            rows.append({"id": p["id"], "family": p["family"], "n_ops": p["n_ops"], "gold": p["answer"],
                         "pred": pred, "correct": pred == p["answer"], "steps": r["steps"][b],
                         "steps_per_block": r["steps_per_block"][b], "committed": r["committed_by_steps"][b],
                         "finish": r["finish"][b], "n_tokens": len(r["tokens"][b]), "text": text})
    if device.type == "cuda":
        torch.cuda.synchronize()
    secs = time.time() - t0
    n = len(rows)
    steps = np.array([x["steps"] for x in rows], dtype=np.float64)
    committed = np.array([x["committed"] for x in rows], dtype=np.float64)
    content_steps = []
    for x in rows:  # steps spent on blocks up to the one holding the end of the answer
        last = min(len(x["steps_per_block"]) - 1, x["n_tokens"] // cfg.block_length)
        content_steps.append(sum(x["steps_per_block"][:last + 1]))
    res = {
        "name": name, "strategy": cfg.strategy, "gen_length": cfg.gen_length, "block_length": cfg.block_length,
        "steps_setting": cfg.steps if cfg.strategy == "low-confidence" else None,
        "threshold": cfg.threshold if cfg.strategy == "threshold" else None,
        "kappa": cfg.kappa if cfg.strategy == "localleap" else None,
        "tau": cfg.tau if cfg.strategy == "localleap" else None,
        "window": cfg.window if cfg.strategy == "localleap" else None,
        "stop_at_eos": cfg.stop_at_eos, "n": n,
        "accuracy": sum(x["correct"] for x in rows) / max(1, n),
        "no_answer": sum(x["pred"] is None for x in rows) / max(1, n),
        "mean_steps": float(steps.mean()), "median_steps": float(np.median(steps)),
        "tokens_per_step": float(committed.sum() / max(1.0, steps.sum())),
        "tokens_per_step_row_mean": float((committed / np.maximum(steps, 1)).mean()),
        "mean_answer_tokens": float(np.mean([x["n_tokens"] for x in rows])),
        "answer_tokens_per_content_step": float(np.sum([x["n_tokens"] + 1 for x in rows]) / max(1, np.sum(content_steps))),
        "finish_eos": sum(x["finish"] == "eos" for x in rows) / max(1, n),
        "mean_steps_per_block": np.mean([x["steps_per_block"] for x in rows], axis=0).tolist(),
        "accuracy_by_family": {k: float(np.mean([x["correct"] for x in rows if x["family"] == k]))
                               for k in sorted({x["family"] for x in rows})},
        "accuracy_by_n_ops": {str(k): float(np.mean([x["correct"] for x in rows if x["n_ops"] == k]))
                              for k in sorted({x["n_ops"] for x in rows})},
        "seconds": round(secs, 2),
        "examples": [{k: x[k] for k in ("id", "gold", "pred", "steps", "text")} for x in rows[:3]],
        "rows": [{"id": x["id"], "correct": x["correct"], "steps": x["steps"], "pred": x["pred"]} for x in rows],
    }
    if record_first:
        c = np.concatenate(first_c) if first_c else np.zeros(0)
        t = np.concatenate(first_t) if first_t else np.zeros(0)
        ends = np.isin(t, np.array(toks.end_ids))
        res["first_step_block0"] = {"all": conf_stats(c), "content": conf_stats(c[~ends]), "end_tokens": conf_stats(c[ends])}
    return res


def markdown(result) -> str:
    lines = [f"# Held-out evaluation: {result['model']}", "",
             f"{result['n']} held-out problems (seeds heldout:*), greedy, block length 32, device {result['device']}, "
             f"dtype {result['dtype']}, torch {result['torch']}.", "",
             "| config | gen | accuracy | mean steps | tokens/step | answer tokens / content step | EOS finish | no answer | seconds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["configs"]:
        if r.get("skipped"):
            lines.append(f"| {r['name']} | | skipped: {r['skipped']} | | | | | | |")
            continue
        lines.append(f"| {r['name']} | {r['gen_length']} | {100 * r['accuracy']:.1f}% | {r['mean_steps']:.1f} | "
                     f"{r['tokens_per_step']:.2f} | {r['answer_tokens_per_content_step']:.2f} | "
                     f"{100 * r['finish_eos']:.0f}% | {100 * r['no_answer']:.1f}% | {r['seconds']:.0f} |")
    lines += ["", "tokens/step: positions committed by steps / forward passes (all blocks that took steps); "
              "answer tokens / content step: (answer tokens + end token) / steps of the blocks up to the answer's end.", ""]
    for key, title in (("first_step_block0", "Step-1 confidence, masked positions of the first block (32 per problem, "
                                             f"{result.get('first_step_block0', {}).get('config', '')} canvas)"),
                       ("first_step_span", "Step-1 confidence, every position of a fully masked 256-token span")):
        fs = result.get(key)
        if not fs:
            continue
        lines += [f"## {title}", "", "| subset | n | mean | q05 | q25 | median | q75 | q95 | >= 0.9 | >= 0.75 |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for sub in ("all", "content", "end_tokens"):
            s = fs.get(sub, {})
            if not s.get("n"):
                continue
            q = s["quantiles"]
            lines.append(f"| {sub} | {s['n']} | {s['mean']:.3f} | {q['0.05']:.3f} | {q['0.25']:.3f} | {q['0.5']:.3f} | "
                         f"{q['0.75']:.3f} | {q['0.95']:.3f} | {100 * s['frac_ge_0.9']:.1f}% | {100 * s['frac_ge_0.75']:.1f}% |")
        h = fs["all"]["histogram"]
        lines += ["", "histogram (all): " + ", ".join(f"[{h['edges'][i]:.2f}, {h['edges'][i + 1]:.2f}): {c}"
                                                     for i, c in enumerate(h["counts"])), ""]
    best = next((r for r in result["configs"] if r["name"] == "lc-256" and not r.get("skipped")), None)
    if best:
        lines += ["## lc-256 accuracy by family", "", "| family | accuracy |", "|---|---|"]
        lines += [f"| {k} | {100 * v:.1f}% |" for k, v in best["accuracy_by_family"].items()]
        lines += ["", "| steps in the problem | accuracy |", "|---|---|"]
        lines += [f"| {k} | {100 * v:.1f}% |" for k, v in best["accuracy_by_n_ops"].items()]
        lines.append("")
    return "\n".join(lines)


def main(argv=None, tokenizer=None, model=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="folder with config.json, shards, tokenizer.json")
    ap.add_argument("--work", required=True, help="folder with heldout.jsonl")
    ap.add_argument("--heldout", default="heldout.jsonl",
                    help="held-out file in --work (heldout1.jsonl: the one-step set of make_data.py)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=1000, help="held-out problems to use (first n)")
    ap.add_argument("--configs", default=",".join(DEFAULT_ORDER))
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--budget-s", type=float, default=0.0, help="skip the remaining configs past this many seconds")
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", choices=["bfloat16", "float32"], default=None)
    ap.add_argument("--quiet", action="store_true", help="do not print the markdown summary")
    ap.add_argument("--prompt-len", type=int, default=None,
                    help="drop problems with longer prompts (default: the model's max_length minus the longest gen length)")
    a = ap.parse_args(argv)
    t0 = time.time()
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = getattr(torch, a.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    os.makedirs(a.out, exist_ok=True)
    if tokenizer is None:
        tokenizer = HFTokenizer(a.model)
    if model is None:
        model, cfg, conf = load_model(a.model, device, dtype)
    else:
        with open(os.path.join(a.model, "config.json")) as f:
            conf = json.load(f)
    toks = Tokens(conf["mask_id"], conf["eos_id"], list(conf["end_ids"]), conf["pad_id"])
    names = [x for x in a.configs.split(",") if x]
    for name in names:
        if name not in ALL_CONFIGS:
            raise SystemExit(f"unknown config {name}; known: {', '.join(ALL_CONFIGS)}")
    max_prompt = a.prompt_len
    if max_prompt is None:
        max_prompt = int(conf.get("max_length", 4096)) - max(ALL_CONFIGS[x].gen_length for x in names)
    held = read_jsonl(os.path.join(a.work, a.heldout))
    prompts_all = tokenizer.encode_batch([chat_prompt(p["question"]) for p in held])
    keep = [i for i, p in enumerate(prompts_all) if len(p) <= max_prompt][: a.n]
    held = [held[i] for i in keep]
    prompts = [prompts_all[i] for i in keep]
    log(f"evaluating {len(held)} held-out problems (prompts <= {max_prompt} tokens) on {device} ({dtype}); configs {a.configs}")
    if not held:
        raise SystemExit("no held-out problem fits")
    result = {"model": conf.get("name", a.model), "n": len(held), "device": str(device) + (
        f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
              "dtype": str(dtype).replace("torch.", ""), "torch": torch.__version__, "configs": []}
    # step-1 confidence over a whole fully masked span
    cs, ts = [], []
    for i in range(0, len(prompts), 128):
        t, c = span_confidence(model, prompts[i:i + 128], 256, toks, device)
        cs.append(c.flatten().numpy())
        ts.append(t.flatten().numpy())
    c = np.concatenate(cs)
    t = np.concatenate(ts)
    ends = np.isin(t, np.array(toks.end_ids))
    result["first_step_span"] = {"all": conf_stats(c), "content": conf_stats(c[~ends]), "end_tokens": conf_stats(c[ends])}
    first_name = next((x for x in names if ALL_CONFIGS[x].gen_length == 256), names[0])
    for name in names:
        cfg = ALL_CONFIGS[name]
        if a.budget_s and time.time() - t0 > a.budget_s:
            result["configs"].append({"name": name, "skipped": "time budget"})
            log(f"{name}: skipped (time budget)")
            continue
        r = run_config(model, name, cfg, prompts, held, tokenizer, toks, device, a.batch_size,
                       record_first=name == first_name)
        if "first_step_block0" in r:
            result["first_step_block0"] = r.pop("first_step_block0")
            result["first_step_block0"]["config"] = name
        result["configs"].append(r)
        log(f"{name}: accuracy {100 * r['accuracy']:.1f}%, mean steps {r['mean_steps']:.1f}, "
            f"tokens/step {r['tokens_per_step']:.2f}, {r['seconds']:.1f}s")
    result["seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(a.out, "eval.json"), "w") as f:
        json.dump(result, f, indent=1)
    md = markdown(result)
    with open(os.path.join(a.out, "eval.md"), "w") as f:
        f.write(md)
    if not a.quiet:
        print(md, flush=True)
    return result


if __name__ == "__main__":
    main()
