"""Train the small autoregressive model beside the reference dLLM (APD, issue 16) and write its weights.

Model: tools/localleap/causal_model.py's CausalLM (model.py's layers with causal attention, the
Qwen2 layout: q/k/v biases, grouped-query attention, tied LM head), imported, never copied.
Default: hidden 192, 4 layers, 3 query heads over 1 key/value head, SwiGLU 512, vocabulary of the
reference tokenizer (4096), max_length 384: 2.37 M parameters, 4.7 MB in bf16.

Data and layout: train.py's, taken from it (Data, make_batch): the problems and the Python-source
corpus of make_data.py, the prompt right-aligned in --prompt-len columns (left-padded rows: the
padding is masked out of attention and rotary positions start at the first real token), the
answer after it, --problem-frac of the rows problems. The tokenizer is the dLLM's (--tokenizer,
default models/reference): read, never trained, so that the two models' ids mean the same tokens.

Objective: next-token cross-entropy. Problem rows: the targets are the answer's tokens up to and
including its end token <|eot_id|> (the prompt and the EOS padding after the answer are context
only); corpus rows: every token. Per row the mean over its targets, then the mean over the rows.

Schedule: train.py's (AdamW, linear warm-up, cosine decay over the wall-clock budget: --minutes
counts from the start of this stage, encoding and compilation included; --max-loop-s caps the
training loop), bf16 autocast on CUDA, torch.compile as train.py's --compile (regional on CUDA).
Then the bf16 shards, config.json (kind causal, architecture qwen2; end ids, pad id, BOS and chat
template from the dLLM's config.json), tokenizer files and training log go to --out, and with
--eval-n N the greedy held-out evaluation of the written weights (evaluate_causal.py) goes to the
report folder (--report, default OUT/training-report) with train_summary.json and loss.png.

--smoke: a tiny config on CPU for a few steps (used by test_causal.py).
"""
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BOS, CHAT_TEMPLATE, REPO, import_model, log  # noqa: E402
from train import (args_dict, build_parser, compile_loss, copy_side_files, describe_model, export_weights,  # noqa: E402
                   init_weights, load_data, lr_at, make_amp, make_batch, make_optimizer, optimizer_step, parse_args,
                   plot_log)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

AR_NAME = "localleap-reference-ar"
# train.py's options that a run over several calls needs; this one is a single call
NOT_HERE = ("checkpoint", "resume", "fallback_dir", "plan_later_s", "total_steps", "max_minutes", "fit_total")


def parse(argv=None):
    ap = build_parser(__doc__)
    ap.set_defaults(hidden=192, layers=4, heads=3, ff=512, p_long=0.0, lr=2e-3, warmup_steps=200, minutes=6.0,
                    tokenizer=os.path.join(REPO, "models", "reference"), val_every_s=30.0)
    ap.add_argument("--kv-heads", type=int, default=1, help="key/value heads (grouped-query attention)")
    ap.add_argument("--no-qkv-bias", action="store_true", help="no q/k/v biases (default: biases, as Qwen2)")
    ap.add_argument("--max-loop-s", type=float, default=0.0, help="cap on the training loop's seconds (0: none)")
    ap.add_argument("--report", help="training report folder (default: OUT/training-report)")
    ap.add_argument("--eval-n", type=int, default=0, help="held-out problems to decode greedily at the end (0: none)")
    ap.add_argument("--eval-heldout", help="held-out file (default: WORK/heldout.jsonl)")
    ap.add_argument("--eval-batch", type=int, default=500)
    ap.add_argument("--eval-max-new", type=int, default=128)
    ap.add_argument("--memory-fraction", type=float, default=0.0,
                    help="CUDA: cap this process's share of the GPU memory (another job may share the GPU)")
    a = parse_args(argv, ap)
    for k in NOT_HERE:
        if getattr(a, k) not in (None, 0, 0.0, False):
            raise SystemExit(f"--{k.replace('_', '-')} is train.py's (a run over several calls); train_causal.py is one call")
    if a.smoke:
        a.kv_heads = 1
        a.val_every_s = 0.0
    return a


def causal_lm_loss(model, ids, left_pad, maskable, denom, t, r, is_prob, eot: int):
    """Next-token CE of make_batch's rows (t, r, denom: the diffusion draws, unused); returns
    (loss, sum over problem rows, sum over corpus rows) of per-row mean losses."""
    logits = model.lm_head(model.norm(model.hidden(ids, left_pad)[:, :-1]))
    tgt = ids[:, 1:]
    w = target_weights(tgt, maskable[:, 1:], is_prob, eot)
    V = logits.shape[-1]
    ce = F.cross_entropy(logits.float().reshape(-1, V), tgt.reshape(-1), reduction="none").view(tgt.shape)
    per_row = (ce * w).sum(1) / w.sum(1).clamp(min=1.0)
    loss = per_row.mean()
    pf = is_prob.float()
    return loss, (per_row * pf).sum().detach(), (per_row * (1 - pf)).sum().detach()


def target_weights(tgt, in_answer, is_prob, eot: int):
    """1.0 where a target counts: in a problem row an answer token up to and including the answer's
    first <|eot_id|>; in a corpus row (all of it maskable) every token."""
    is_eot = (tgt == eot) & in_answer
    n_eot = is_eot.long()
    before_end = (torch.cumsum(n_eot, 1) - n_eot) == 0
    return (in_answer & (before_end | ~is_prob[:, None])).float()


def validation(model, data, a, device, amp, rows):
    """Teacher-forced next-token loss and accuracy on the first --val-n held-out problems (answer
    content tokens and the end token apart), in the training shape with autograd on (as train.py's
    validation, so compiled blocks are reused). Keys as train.py's, for plot_log."""
    h = data.held
    if h["n"] == 0:
        return {}
    sel = np.arange(rows) % min(h["n"], a.val_n)
    src = {k: (torch.from_numpy(v[sel]).to(device) if isinstance(v, np.ndarray) else v) for k, v in h.items()}
    idx = torch.arange(rows, device=device)
    ids, left_pad, maskable, _ = data.problem_rows(idx, a.gen_short, torch.zeros(rows, dtype=torch.long, device=device), src)
    with amp():
        logits = model.lm_head(model.norm(model.hidden(ids, left_pad)[:, :-1])).float().detach()
    with torch.no_grad():
        tgt = ids[:, 1:]
        w = target_weights(tgt, maskable[:, 1:], torch.ones(rows, dtype=torch.bool, device=device), data.eot) > 0
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none").view(tgt.shape)
        loss = ((ce * w.float()).sum(1) / w.float().sum(1).clamp(min=1)).mean().item()
        hit = logits.argmax(-1) == tgt
        content = w & (tgt != data.eot)
        end = w & (tgt == data.eot)
        acc = (hit & content).sum().item() / max(1, content.sum().item())
        acc_end = (hit & end).sum().item() / max(1, end.sum().item())
    return {"val_loss": loss, "val_acc_content": acc, "val_acc_eos": acc_end}


def dllm_meta(tok_dir, data):
    """End ids, pad id, BOS and chat template: the dLLM's config.json next to its tokenizer when there
    is one (the two models must agree), else the tokenizer's special ids."""
    meta = {"eos_id": data.eos, "end_ids": [data.eos, data.eot], "pad_id": data.pad, "bos_token": BOS,
            "add_bos": False, "chat_template": CHAT_TEMPLATE}
    path = os.path.join(tok_dir, "config.json") if os.path.isdir(tok_dir) else None
    if path and os.path.exists(path):
        with open(path) as f:
            ref = json.load(f)
        for k in meta:
            if k in ref:
                meta[k] = ref[k]
        if meta["eos_id"] != data.eos or meta["pad_id"] != data.pad:
            raise SystemExit(f"{path}: eos/pad ids {meta['eos_id']}/{meta['pad_id']} are not the tokenizer's "
                             f"{data.eos}/{data.pad}")
    return meta


def main(argv=None, tokenizer=None):
    a = parse(argv)
    t_begin = time.time()
    deadline = t_begin + a.minutes * 60.0
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        if hasattr(torch.backends.cuda, "enable_cudnn_sdp"):  # masked bf16 batches: the cuDNN kernel failed (BENCHMARKS)
            torch.backends.cuda.enable_cudnn_sdp(False)
        if a.memory_fraction:
            # It takes a device with an index ("cuda" alone raised ValueError on the 2026-12-02 run).
            index = device.index if device.index is not None else torch.cuda.current_device()
            torch.cuda.set_per_process_memory_fraction(a.memory_fraction, index)
    report = a.report or os.path.join(a.out, "training-report")
    os.makedirs(report, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    tok_dir = a.tokenizer
    if tokenizer is None:
        tokenizer = load_tokenizer(tok_dir)
    mm = import_model()
    from localleap.causal_model import CausalLM

    data = load_data(a, tokenizer, tok_dir, device)
    cfg = mm.ModelConfig(vocab_size=tokenizer.vocab_size, hidden_size=a.hidden, num_layers=a.layers,
                         num_heads=a.heads, num_kv_heads=a.kv_heads, intermediate_size=a.ff,
                         qkv_bias=not a.no_qkv_bias, tie_embeddings=not a.untied, max_length=a.prompt_len + a.gen_long)
    model = CausalLM(cfg).to(device)
    init_weights(model, cfg)
    model.train()
    n_params = describe_model(model, cfg, device, "causal model")
    opt, opt_kind = make_optimizer(model, a, device)
    amp = make_amp(device)

    def loss_fn(*xs):
        return causal_lm_loss(model, *xs, eot=data.eot)

    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed)
    shapes = [("short", a.gen_short, a.batch_tokens // (a.prompt_len + a.gen_short))]
    if a.p_long > 0:
        shapes.append(("long", a.gen_long, a.batch_tokens // (a.prompt_len + a.gen_long)))
    for name, G, rows in shapes:
        if rows < 2:
            raise SystemExit(f"--batch-tokens {a.batch_tokens} is too small for {name} rows")
    step_loss, compiled, mode, compile_s = compile_loss(model, loss_fn, a, device, data, shapes, gen, amp, opt)
    log(f"warm-up ({mode + ' compile' if compiled else 'eager'}) {compile_s:.1f}s; optimizer AdamW ({opt_kind}); "
        f"rows/step {', '.join(f'{n} {r}' for n, _, r in shapes)}; budget left {deadline - time.time():.0f}s")

    log_path = os.path.join(a.out, "training_log.jsonl")
    flog = open(log_path, "w")

    def write(rec):
        flog.write(json.dumps(rec) + "\n")
        flog.flush()

    data_info = {"train_problems": data.train["n"], "heldout_problems": data.held["n"],
                 "train_dropped": data.train["dropped"], "corpus_tokens": data.n_corpus_tokens,
                 "train_stats": data.train["stats"], "heldout_stats": data.held["stats"]}
    write({"type": "config", "args": args_dict(a), "model": cfg.to_dict(), "n_params": n_params, "kind": "causal",
           "data": data_info, "torch": torch.__version__, "device": str(device), "compiled": compiled,
           "compile_mode": mode, "compile_s": compile_s})
    rng = np.random.default_rng(a.seed)
    t0 = time.time()
    budget = max(1e-6, deadline - a.export_reserve_s - t0)
    if a.max_loop_s:
        budget = min(budget, a.max_loop_s)
    acc = torch.zeros(3, device=device)
    n_rows_p = n_rows_c = n_acc = 0
    step = tokens = tok_log = 0
    t_log = last_val = t0
    last_print = 0.0
    lr = float("nan")
    while True:
        el = time.time() - t0
        if el >= budget:
            reason = "done"
            break
        if a.max_steps and step >= a.max_steps:
            reason = "max-steps"
            break
        lr = lr_at(a, step, el / budget)
        for g in opt.param_groups:
            g["lr"] = lr
        name, G, rows = shapes[1] if len(shapes) > 1 and rng.random() < a.p_long else shapes[0]
        loss, lp, lc = optimizer_step(model, opt, a, step_loss, make_batch(data, a, G, rows, gen), amp)
        step += 1
        ntok = rows * (a.prompt_len + G)
        tokens += ntok
        tok_log += ntok
        acc += torch.stack([loss.detach().float() * rows, lp.float(), lc.float()])
        n_prob = int(round(rows * a.problem_frac))
        n_rows_p += n_prob
        n_rows_c += rows - n_prob
        n_acc += rows
        if step % a.log_every == 0:
            v = acc.tolist()
            rec = {"type": "train", "step": step, "time": round(time.time() - t_begin, 2), "lr": lr,
                   "loss": v[0] / max(1, n_acc), "loss_problems": v[1] / max(1, n_rows_p),
                   "loss_corpus": v[2] / max(1, n_rows_c), "tokens": tokens,
                   "tokens_per_s": tok_log / max(1e-6, time.time() - t_log)}
            if not math.isfinite(rec["loss"]):
                raise SystemExit(f"loss is not finite at step {step}: {rec}")
            write(rec)
            acc.zero_()
            n_rows_p = n_rows_c = n_acc = tok_log = 0
            t_log = time.time()
            if time.time() - last_print > (0 if a.smoke else 10):
                last_print = time.time()
                log(f"step {step} loss {rec['loss']:.4f} (problems {rec['loss_problems']:.4f}, corpus "
                    f"{rec['loss_corpus']:.4f}) lr {lr:.2e} {rec['tokens_per_s'] / 1e3:.0f}k tok/s, "
                    f"{budget - (time.time() - t0):.0f}s of loop left")
        if a.val_every_s and time.time() - last_val > a.val_every_s:
            last_val = time.time()
            vrec = validation(model, data, a, device, amp, shapes[0][2])
            vrec.update({"type": "val", "step": step, "time": round(time.time() - t_begin, 2)})
            write(vrec)
            log(f"held-out (teacher-forced): loss {vrec.get('val_loss', float('nan')):.4f}, next-token accuracy "
                f"content {vrec.get('val_acc_content', 0):.3f}, end token {vrec.get('val_acc_eos', 0):.3f}")
    train_s = time.time() - t0
    vrec = validation(model, data, a, device, amp, shapes[0][2])
    vrec.update({"type": "val", "step": step, "time": round(time.time() - t_begin, 2)})
    write(vrec)
    summary = {"type": "summary", "kind": "causal", "steps": step, "tokens": tokens, "train_loop_s": round(train_s, 1),
               "stage_s": round(time.time() - t_begin, 1), "compile_s": round(compile_s, 1), "compiled": compiled,
               "tokens_per_s": tokens / max(1e-6, train_s), "n_params": n_params, "final_val": vrec,
               "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "torch": torch.__version__, "stop_reason": reason, "data": data_info}
    if device.type == "cuda":
        summary["max_memory_allocated_gb"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 2)
    write(summary)
    flog.close()
    log(f"trained {step} steps, {tokens / 1e6:.1f}M tokens in {train_s:.0f}s of loop ({reason}); final held-out {vrec}")

    model.eval()
    tensors, writer = export_weights(model, cfg, a.out)
    conf = dict(cfg.to_dict())
    conf.update({"name": AR_NAME, "kind": "causal", "architecture": "qwen2"})
    conf.update(dllm_meta(tok_dir, data))
    conf.update({"dtype": "bfloat16",
                 "training": {k: summary.get(k) for k in ("steps", "tokens", "train_loop_s", "stage_s", "device", "torch")}})
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    copy_side_files(tok_dir, a.out, log_path)
    summary.update({"weights_bytes_bf16": sum(t.numel() * 2 for t in tensors.values()), "writer": writer})
    log(f"exported {len(tensors)} tensors, {summary['weights_bytes_bf16'] / 1e6:.2f} MB bf16 -> {a.out}")
    plot_log(log_path, os.path.join(report, "loss.png"))
    if a.eval_n:
        import evaluate_causal
        del model, opt
        heldout = a.eval_heldout or os.path.join(a.work, "heldout.jsonl")
        res = evaluate_causal.evaluate_folder(a.out, heldout, report, a.eval_n, device, tokenizer=tokenizer,
                                              batch_size=a.eval_batch, max_new=a.eval_max_new)
        summary["heldout_eval"] = {k: res[k] for k in ("n", "accuracy", "no_answer", "finish_eos", "seconds", "heldout")}
    with open(os.path.join(report, "train_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def load_tokenizer(path):
    """The `tokenizers` package when present, else bpe_lite.py (the same tokenizer.json, pure Python)."""
    try:
        from common import HFTokenizer
        return HFTokenizer(path)
    except ImportError:
        import_model()  # bpe_lite needs tools/ on sys.path
        from bpe_lite import BPELite
        log("no `tokenizers` package: tokenizing with bpe_lite.py")
        return BPELite(path)


if __name__ == "__main__":
    main()
