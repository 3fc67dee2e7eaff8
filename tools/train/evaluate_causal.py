"""Held-out evaluation of the small causal LM (train_causal.py; kind causal neutral weights).

Greedy left-to-right decoding of the held-out problems with the chat prompt of evaluate.py
(common.chat_prompt), batched: the prompts left-padded to the batch's longest, one cache_full over
them, then one cache_step per new token over the KV cache (--no-cache: logits_at_padded over the
whole canvas each step), up to --max-new tokens or the first end id (config.json end_ids). The
answer is scored as evaluate.py scores it: problems.extract_answer of the decoded text equal to the
problem's answer. Prompts longer than max_length - max_new are dropped, as evaluate.py drops them.
Writes eval.json (summary, accuracy by family and step count, per-row results) and eval.md.

  python3 tools/train/evaluate_causal.py --model models/reference-ar --heldout bench/data/heldout.jsonl \
      --out models/reference-ar/training-report --n 2000
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import chat_prompt, import_model, log, read_jsonl  # noqa: E402
from problems import extract_answer  # noqa: E402

import torch  # noqa: E402


def greedy_decode(model, prompts, end_ids, pad_id, max_new, device, use_cache=True):
    """Greedy continuations of prompts (lists of ids) as lists of ids, each cut before its first end
    id; and each row's finish ("eos" or "length")."""
    mm = import_model()
    B = len(prompts)
    P = max(len(p) for p in prompts)
    L = P + max_new
    ids = torch.full((B, L), pad_id, dtype=torch.long, device=device)
    for b, p in enumerate(prompts):
        ids[b, P - len(p):P] = torch.tensor(p, dtype=torch.long)
    left_pad = torch.tensor([P - len(p) for p in prompts], dtype=torch.long, device=device)
    ends = torch.tensor(list(end_ids), dtype=torch.long, device=device)
    done = torch.zeros(B, dtype=torch.bool, device=device)
    zero = torch.zeros(1, dtype=torch.long, device=device)
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        if use_cache:
            kv = torch.zeros(mm.kv_cache_shape(model.cfg, B, L), dtype=dtype, device=device)
            logits = model.cache_full(ids[:, :P], torch.tensor([P - 1], device=device), left_pad, kv)
        else:
            logits = model.logits_at_padded(ids[:, :P], torch.tensor([P - 1], device=device), left_pad)
        n = 0
        for t in range(max_new):
            nxt = logits[:, -1].float().argmax(-1)
            ids[:, P + t] = torch.where(done, torch.full_like(nxt, pad_id), nxt)
            done |= (nxt[:, None] == ends[None, :]).any(1)
            n = t + 1
            if t == max_new - 1 or bool(done.all()):
                break
            pos = torch.tensor([P + t], device=device)
            if use_cache:
                logits = model.cache_step(ids, pos, zero, left_pad, kv)
            else:
                logits = model.logits_at_padded(ids[:, :P + t + 1], pos, left_pad)
    gen = ids[:, P:P + n].cpu().tolist()
    endset = set(int(x) for x in end_ids)
    out, finish = [], []
    for row in gen:
        cut = next((i for i, x in enumerate(row) if x in endset), None)
        out.append(row if cut is None else row[:cut])
        finish.append("length" if cut is None else "eos")
    return out, finish


def evaluate_model(model, conf, tok, held, device, batch_size=500, max_new=128, use_cache=True):
    """Accuracy of greedy decodes of held (rows of make_data.py: question, answer, family, n_ops)."""
    max_prompt = int(conf.get("max_length", 4096)) - max_new
    prompts_all = tok.encode_batch([chat_prompt(p["question"]) for p in held])
    keep = [i for i, p in enumerate(prompts_all) if len(p) <= max_prompt]
    held = [held[i] for i in keep]
    prompts = [prompts_all[i] for i in keep]
    t0 = time.time()
    rows = []
    for i in range(0, len(prompts), batch_size):
        toks, finish = greedy_decode(model, prompts[i:i + batch_size], conf["end_ids"], conf["pad_id"], max_new,
                                     device, use_cache)
        for b, tk in enumerate(toks):
            p = held[i + b]
            text = tok.decode(tk)
            pred = extract_answer(text)
            rows.append({"id": p["id"], "family": p["family"], "n_ops": p["n_ops"], "gold": p["answer"], "pred": pred,
                         "correct": pred == p["answer"], "finish": finish[b], "n_tokens": len(tk), "text": text})
    if device.type == "cuda":
        torch.cuda.synchronize()
    n = len(rows)

    def mean(xs):
        return float(sum(xs) / max(1, len(xs)))

    return {
        "n": n, "dropped_long_prompts": len(prompts_all) - len(prompts), "decoding": "greedy, left to right",
        "max_new": max_new, "kv_cache": use_cache, "batch_size": batch_size,
        "accuracy": mean([x["correct"] for x in rows]), "no_answer": mean([x["pred"] is None for x in rows]),
        "finish_eos": mean([x["finish"] == "eos" for x in rows]),
        "mean_answer_tokens": mean([x["n_tokens"] for x in rows]),
        "accuracy_by_family": {k: mean([x["correct"] for x in rows if x["family"] == k])
                               for k in sorted({x["family"] for x in rows})},
        "accuracy_by_n_ops": {str(k): mean([x["correct"] for x in rows if x["n_ops"] == k])
                              for k in sorted({x["n_ops"] for x in rows})},
        "seconds": round(time.time() - t0, 2),
        "examples": [{k: x[k] for k in ("id", "gold", "pred", "text")} for x in rows[:3]],
        "rows": [[x["id"], int(x["correct"]), x["pred"], x["n_tokens"]] for x in rows],
        "rows_fields": ["id", "correct", "pred", "answer_tokens"],
    }


def _shown(path):
    from common import REPO
    full = os.path.abspath(path)
    return os.path.relpath(full, REPO) if full.startswith(REPO + os.sep) else full


def markdown(r) -> str:
    lines = [f"# Held-out evaluation: {r['model']} (causal LM)", "",
             f"{r['n']} held-out problems of {r['heldout']}, greedy left-to-right decoding (KV cache: {r['kv_cache']}), "
             f"at most {r['max_new']} new tokens, chat prompt and answer extraction of tools/train/evaluate.py; "
             f"device {r['device']}, dtype {r['dtype']}, torch {r['torch']}.", "",
             "| accuracy | no answer | end token reached | mean answer tokens | seconds |", "|---|---|---|---|---|",
             f"| {100 * r['accuracy']:.1f}% | {100 * r['no_answer']:.1f}% | {100 * r['finish_eos']:.0f}% | "
             f"{r['mean_answer_tokens']:.1f} | {r['seconds']:.0f} |", "",
             "| family | accuracy |", "|---|---|"]
    lines += [f"| {k} | {100 * v:.1f}% |" for k, v in r["accuracy_by_family"].items()]
    lines += ["", "| steps in the problem | accuracy |", "|---|---|"]
    lines += [f"| {k} | {100 * v:.1f}% |" for k, v in r["accuracy_by_n_ops"].items()]
    return "\n".join(lines) + "\n"


def evaluate_folder(folder, heldout, out, n, device, tokenizer=None, dtype=None, batch_size=500, max_new=128,
                    use_cache=True):
    """Loads the neutral weights of folder (kind causal) in dtype (default bf16 on CUDA, float32
    elsewhere), evaluates the first n problems of heldout, writes out/eval.json and eval.md."""
    import_model()
    from localleap.weights import load_model
    dtype = dtype or ("bfloat16" if device.type == "cuda" else "float32")
    if device.type == "cuda" and hasattr(torch.backends.cuda, "enable_cudnn_sdp"):
        torch.backends.cuda.enable_cudnn_sdp(False)  # as train_causal.py: masked bf16 batches
    model, cfg, meta = load_model(folder, dtype, str(device))
    if meta.get("kind") != "causal":
        raise SystemExit(f"{folder}: config.json kind is {meta.get('kind')!r}, not causal")
    model.cfg = cfg
    with open(os.path.join(folder, "config.json")) as f:
        conf = json.load(f)
    if tokenizer is None:
        from train_causal import load_tokenizer
        tokenizer = load_tokenizer(folder)
    held = read_jsonl(heldout, limit=n or None)
    log(f"evaluating {len(held)} held-out problems of {heldout} with {folder} on {device} ({dtype})")
    r = evaluate_model(model, conf, tokenizer, held, device, batch_size, max_new, use_cache)
    r.update({"model": conf.get("name", folder), "heldout": _shown(heldout), "device": str(device) + (
        f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""), "dtype": dtype,
              "torch": torch.__version__})
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "eval.json"), "w") as f:
        json.dump(r, f, indent=1)
    with open(os.path.join(out, "eval.md"), "w") as f:
        f.write(markdown(r))
    log(f"held-out accuracy {100 * r['accuracy']:.1f}% on {r['n']} problems (no answer {100 * r['no_answer']:.1f}%, "
        f"end token reached {100 * r['finish_eos']:.0f}%), {r['seconds']:.1f}s")
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="neutral-weights folder of kind causal")
    ap.add_argument("--heldout", required=True, help="held-out problems (make_data.py's heldout.jsonl)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--max-new", type=int, default=128)
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--device", default=None)
    ap.add_argument("--dtype", choices=["bfloat16", "float32"], default=None)
    a = ap.parse_args(argv)
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return evaluate_folder(a.model, a.heldout, a.out, a.n, device, dtype=a.dtype, batch_size=a.batch_size,
                           max_new=a.max_new, use_cache=not a.no_cache)


if __name__ == "__main__":
    main()
