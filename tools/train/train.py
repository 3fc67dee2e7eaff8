"""Stage 3: train the reference masked-diffusion LM (LLaDA objective) and write its weights.

Model: tools/localleap/model.py (ModelConfig, DiffusionLM), imported, never copied.

Objective (LLaDA): per row t ~ U(0, 1) (stratified over the batch), p = (1 - eps) t + eps; every
maskable token is replaced by the mask id with probability p; loss = sum over masked tokens of
CE / p, divided by the row's number of maskable tokens, averaged over the rows of the batch.
- Problem rows (chat format): prompt = chat template of the question (never masked); answer = the
  worked solution, <|eot_id|>, then <|endoftext|> padding up to the row's generation length; the
  answer and all of its EOS padding are maskable (LLaDA SFT). Rows are laid out as the evaluation
  canvas is: the prompt is right-aligned in --prompt-len columns (left padding is masked out of
  attention and rotary positions start at the first real token, `DiffusionLM.hidden(ids, left_pad)`)
  and followed by a generation span of --gen-short (128) or --gen-long (256) tokens; half the rows
  are shifted left so that the span grows by up to the prompt's padding.
- Corpus rows: windows of the Python-source token stream (documents separated by EOS), all tokens
  maskable (pretraining).
- Each step draws one shape: short (prompt-len + gen-short) or, with probability --p-long, long;
  --problem-frac of the rows are problems.
bf16 autocast, AdamW, linear warmup then cosine decay over the wall-clock budget (--minutes counts
from the start of this stage: encoding, compilation and export included), torch.compile when
available (falls back to eager on any failure). Logs JSON lines and a loss plot.

--smoke: a tiny config on CPU for a few steps (used by the local tests).
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CHAT_TEMPLATE, EOT, MODEL_NAME, BOS, HFTokenizer, answer_text, chat_prompt, import_model, log,  # noqa: E402
                    read_jsonl, save_sharded, load_sharded, special_ids)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MAX_SHARD_BYTES = 7 << 20  # each shard stays under 8 MiB, the largest file the repository keeps


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="make_data.py output (train.jsonl, heldout.jsonl, corpus.jsonl)")
    ap.add_argument("--tokenizer", help="folder or tokenizer.json (Hugging Face); default: --out")
    ap.add_argument("--out", required=True, help="ship folder: config.json, shards, index, tokenizer, log")
    ap.add_argument("--logdir", help="extra logs and the plot (default: --out)")
    ap.add_argument("--minutes", type=float, default=9.0, help="wall-clock budget of this stage")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--device", default=None)
    ap.add_argument("--seed", type=int, default=1234)
    # model
    ap.add_argument("--hidden", type=int, default=320)
    ap.add_argument("--layers", type=int, default=7)
    ap.add_argument("--heads", type=int, default=5)
    ap.add_argument("--ff", type=int, default=832)
    ap.add_argument("--untied", action="store_true", help="separate lm_head (default: tied to embed)")
    # layout
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--gen-short", type=int, default=128)
    ap.add_argument("--gen-long", type=int, default=256)
    ap.add_argument("--max-answer", type=int, default=120, help="longest answer kept (tokens, with <|eot_id|>)")
    ap.add_argument("--p-long", type=float, default=0.35)
    ap.add_argument("--problem-frac", type=float, default=0.8)
    ap.add_argument("--max-problems", type=int, default=0)
    # optimisation
    ap.add_argument("--batch-tokens", type=int, default=98304)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.05)
    ap.add_argument("--warmup-steps", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--eps", type=float, default=1e-3)
    ap.add_argument("--compile", choices=["auto", "regional", "full", "off"], default="auto",
                    help="auto: regional on CUDA (each transformer block compiled once and reused), "
                         "full: the whole loss function, off: eager")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--val-every-s", type=float, default=45.0)
    ap.add_argument("--val-n", type=int, default=384)
    ap.add_argument("--export-reserve-s", type=float, default=12.0)
    a = ap.parse_args(argv)
    if a.smoke:
        a.device = a.device or "cpu"
        a.hidden, a.layers, a.heads, a.ff = 64, 2, 2, 128
        a.batch_tokens = 8 * (a.prompt_len + a.gen_long) if a.batch_tokens == 98304 else a.batch_tokens
        a.max_steps = a.max_steps or 6
        a.warmup_steps = min(a.warmup_steps, 2)
        a.log_every = 1
        a.val_every_s = 0.0
        a.val_n = 16
        a.export_reserve_s = 0.0
        a.compile = "off" if a.compile == "auto" else a.compile
    return a


# ------------------------------------------------------------------------------------------------
# Data

class Data:
    """Encoded problems and corpus as tensors on the training device."""

    def __init__(self, a, tok, probs, docs, held, device):
        ids = special_ids(tok)
        self.eos, self.eot, self.mask, self.bos = ids["eos"], ids["eot"], ids["mask"], ids["bos"]
        self.pad = self.eos
        self.PL = a.prompt_len
        self.AM = a.max_answer
        t0 = time.time()
        self.train = self._encode_problems(tok, probs, "train")
        self.held = self._encode_problems(tok, held, "held-out")
        n_corpus = 0
        stream = []
        for d, enc in zip(docs, _batched(tok.encode_batch, [d["text"] for d in docs])):
            stream.append(np.asarray(enc, dtype=np.int32))
            stream.append(np.asarray([self.eos], dtype=np.int32))
            n_corpus += len(enc)
        corpus = np.concatenate(stream) if stream else np.zeros(0, np.int32)
        need = a.prompt_len + a.gen_long + 1
        if len(corpus) < need:  # tiny corpora (tests): repeat
            corpus = np.tile(corpus if len(corpus) else np.asarray([self.eos], np.int32), need // max(1, len(corpus)) + 1)
        self.corpus = torch.from_numpy(corpus).to(device)
        self.n_corpus_tokens = n_corpus
        self.device = device
        log(f"encoded {self.train['n']} train / {self.held['n']} held-out problems "
            f"(dropped as too long: {self.train['dropped']} / {self.held['dropped']}), "
            f"corpus {n_corpus / 1e6:.2f}M tokens, {time.time() - t0:.1f}s")
        self.train = {k: (torch.from_numpy(v).to(device) if isinstance(v, np.ndarray) else v)
                      for k, v in self.train.items()}

    def _encode_problems(self, tok, probs, what):
        prompts = _batched(tok.encode_batch, [chat_prompt(p["question"]) for p in probs])
        answers = _batched(tok.encode_batch, [answer_text(p["solution"]) for p in probs])
        keep = [i for i in range(len(probs)) if len(prompts[i]) <= self.PL and len(answers[i]) <= self.AM]
        n = len(keep)
        pr = np.full((n, self.PL), self.pad, dtype=np.int32)
        an = np.full((n, self.AM), self.eos, dtype=np.int32)
        pl = np.zeros(n, dtype=np.int32)
        al = np.zeros(n, dtype=np.int32)
        for r, i in enumerate(keep):
            p, q = prompts[i], answers[i]
            pr[r, self.PL - len(p):] = p
            an[r, :len(q)] = q
            pl[r], al[r] = len(p), len(q)
        lens_p = [len(x) for x in prompts]
        lens_a = [len(x) for x in answers]
        stats = {"prompt_tokens_mean": float(np.mean(lens_p)) if lens_p else 0.0,
                 "prompt_tokens_max": int(max(lens_p)) if lens_p else 0,
                 "answer_tokens_mean": float(np.mean(lens_a)) if lens_a else 0.0,
                 "answer_tokens_p99": float(np.percentile(lens_a, 99)) if lens_a else 0.0,
                 "answer_tokens_max": int(max(lens_a)) if lens_a else 0}
        log(f"{what} problems: {stats}")
        return {"prompt": pr, "answer": an, "plen": pl, "alen": al, "n": n, "dropped": len(probs) - n,
                "keep": keep, "stats": stats}

    def problem_rows(self, idx, G, shift, src=None):
        """Rows of length PL + G for problems idx, shifted left by `shift` (<= PL - plen)."""
        src = src or self.train
        PL = self.PL
        L = PL + G
        dev = idx.device
        pr = src["prompt"][idx].long()
        an = src["answer"][idx].long()
        plen = src["plen"][idx].long()
        alen = src["alen"][idx].long()
        f = shift[:, None] + torch.arange(L, device=dev)[None, :]
        is_p = f < PL
        ptok = pr.gather(1, f.clamp(max=PL - 1))
        a_pos = f - PL
        atok = an.gather(1, a_pos.clamp(0, self.AM - 1))
        atok = torch.where(a_pos < alen[:, None], atok, torch.full_like(atok, self.eos))
        ids = torch.where(is_p, ptok, atok)
        left_pad = PL - plen - shift
        maskable = ~is_p
        denom = (G + shift).float()
        return ids, left_pad, maskable, denom

    def corpus_rows(self, n, L, gen):
        starts = torch.randint(0, self.corpus.numel() - L, (n,), device=self.device, generator=gen)
        ids = self.corpus[starts[:, None] + torch.arange(L, device=self.device)[None, :]].long()
        return (ids, torch.zeros(n, dtype=torch.long, device=self.device),
                torch.ones(n, L, dtype=torch.bool, device=self.device),
                torch.full((n,), float(L), device=self.device))


def _batched(fn, items, size=20000):
    out = []
    for i in range(0, len(items), size):
        out.extend(fn(items[i:i + size]))
    return out


def make_batch(data: Data, a, G, rows, gen):
    dev = data.device
    n_prob = max(1, int(round(rows * a.problem_frac))) if data.train["n"] else 0
    n_corp = rows - n_prob
    parts = []
    if n_prob:
        idx = torch.randint(0, data.train["n"], (n_prob,), device=dev, generator=gen)
        room = (data.PL - data.train["plen"][idx].long())
        u = torch.rand(n_prob, device=dev, generator=gen)
        shifted = torch.rand(n_prob, device=dev, generator=gen) < 0.5
        shift = torch.where(shifted, (u * (room + 1).float()).floor().long().clamp(max=room), torch.zeros_like(room))
        parts.append(data.problem_rows(idx, G, shift))
    if n_corp:
        parts.append(data.corpus_rows(n_corp, data.PL + G, gen))
    ids, left_pad, maskable, denom = (torch.cat([p[k] for p in parts]) for k in range(4))
    is_prob = torch.zeros(rows, dtype=torch.bool, device=dev)
    is_prob[:n_prob] = True
    # stratified t per row, mask draws
    t = (torch.arange(rows, device=dev).float() + torch.rand(1, device=dev, generator=gen)) / rows
    t = t[torch.randperm(rows, device=dev, generator=gen)]
    r = torch.rand(ids.shape, device=dev, generator=gen)
    return ids, left_pad, maskable, denom, t, r, is_prob


def masked_diffusion_loss(model, ids, left_pad, maskable, denom, t, r, is_prob, mask_id: int, eps: float):
    """LLaDA loss; returns (loss, sum over problem rows, sum over corpus rows) of per-row losses."""
    p = ((1.0 - eps) * t + eps)[:, None]
    masked = maskable & (r < p)
    noisy = torch.where(masked, torch.full_like(ids, mask_id), ids)
    h = model.hidden(noisy, left_pad)
    logits = model.lm_head(model.norm(h))
    V = logits.shape[-1]
    ce = F.cross_entropy(logits.float().reshape(-1, V), ids.reshape(-1), reduction="none").view(ids.shape)
    w = masked.float() / p / denom[:, None]
    per_row = (ce * w).sum(1)
    loss = per_row.sum() / ids.shape[0]
    pf = is_prob.float()
    return loss, (per_row * pf).sum().detach(), (per_row * (1 - pf)).sum().detach()


# ------------------------------------------------------------------------------------------------

def init_weights(model, cfg):
    for name, p in model.named_parameters():
        if p.dim() == 2:
            std = 0.02
            if name.endswith("attn.o.weight") or name.endswith("mlp.down.weight"):
                std = 0.02 / math.sqrt(2 * cfg.num_layers)
            torch.nn.init.normal_(p, mean=0.0, std=std)
        elif name.endswith(".bias"):
            torch.nn.init.zeros_(p)


def make_optimizer(model, a, device):
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        (decay if p.dim() >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    kw = dict(lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    if device.type == "cuda":
        try:
            return torch.optim.AdamW(groups, fused=True, **kw), "fused"
        except (TypeError, RuntimeError):
            pass
    return torch.optim.AdamW(groups, **kw), "default"


def validation(model, data: Data, a, device, amp, rows):
    """Masked-diffusion loss and masked-token accuracy on held-out problems, fixed masks, layout of
    the short training rows (gen-short, prompt right-aligned). Runs with autograd on, in the training
    shape and mode, so compiled blocks are reused instead of compiled again for inference."""
    h = data.held
    if h["n"] == 0:
        return {}
    n = rows
    sel = np.arange(n) % min(h["n"], a.val_n)
    src = {k: (torch.from_numpy(v[sel]).to(device) if isinstance(v, np.ndarray) else v) for k, v in h.items()}
    g = torch.Generator(device="cpu").manual_seed(0)
    idx = torch.arange(n, device=device)
    ids, left_pad, maskable, denom = data.problem_rows(idx, a.gen_short, torch.zeros(n, dtype=torch.long, device=device), src)
    t = ((torch.arange(n).float() + 0.5) / n).to(device)
    r = torch.rand(ids.shape, generator=g).to(device)
    p = ((1 - a.eps) * t + a.eps)[:, None]
    masked = maskable & (r < p)
    noisy = torch.where(masked, torch.full_like(ids, data.mask), ids)
    with amp():
        logits = model.lm_head(model.norm(model.hidden(noisy, left_pad))).float().detach()
    with torch.no_grad():
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids.reshape(-1), reduction="none").view(ids.shape)
        loss = ((ce * masked.float() / p).sum(1) / denom).mean().item()
        pred = logits.argmax(-1)
        content = masked & (ids != data.eos)
        acc = ((pred == ids) & content).sum().item() / max(1, content.sum().item())
        eosm = masked & (ids == data.eos)
        acc_eos = ((pred == ids) & eosm).sum().item() / max(1, eosm.sum().item())
    return {"val_loss": loss, "val_acc_content": acc, "val_acc_eos": acc_eos}


def lr_at(a, step, progress):
    warm = min(1.0, (step + 1) / max(1, a.warmup_steps))
    progress = min(max(progress, 0.0), 1.0)
    cos = a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress))
    return a.lr * warm * cos


def plot_log(log_path, png_path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # optional
        log(f"no plot ({e!r})")
        return False
    rows = [json.loads(x) for x in open(log_path) if x.strip()]
    tr = [r for r in rows if r.get("type") == "train"]
    va = [r for r in rows if r.get("type") == "val"]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    if tr:
        s = [r["step"] for r in tr]
        ax[0].plot(s, [r["loss"] for r in tr], label="train (all rows)")
        ax[0].plot(s, [r["loss_problems"] for r in tr], label="train problems", alpha=0.7)
        ax[0].plot(s, [r["loss_corpus"] for r in tr], label="train corpus", alpha=0.7)
    if va:
        ax[0].plot([r["step"] for r in va], [r["val_loss"] for r in va], "o-", label="held-out problems")
        ax[1].plot([r["step"] for r in va], [r["val_acc_content"] for r in va], "o-", label="masked content tokens")
        ax[1].plot([r["step"] for r in va], [r["val_acc_eos"] for r in va], "o-", label="masked EOS padding")
    ax[0].set_yscale("log")
    ax[0].set_xlabel("step")
    ax[0].set_ylabel("masked-diffusion loss (LLaDA normalisation)")
    ax[0].legend()
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("held-out masked-token accuracy")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return True


def export(model, cfg, data: Data, a, tok_dir, out, log_path, extra):
    """bf16 weights as shards (< 8 MiB each) + config.json + tokenizer files + training log."""
    mm = import_model()
    shapes = mm.parameter_shapes(cfg)
    sd = model.state_dict()
    tensors = {}
    for name, shape in shapes.items():
        t = sd[name].detach().to(torch.bfloat16).cpu().contiguous()
        assert list(t.shape) == shape, (name, t.shape, shape)
        tensors[name] = t
    os.makedirs(out, exist_ok=True)
    writer = save_sharded(tensors, out, MAX_SHARD_BYTES)
    back = load_sharded(out)
    assert set(back) == set(tensors), "shards do not hold the expected tensors"
    for k, v in tensors.items():
        assert torch.equal(back[k].view(torch.int16), v.view(torch.int16)), k
    for fn in os.listdir(out):
        if fn.endswith(".safetensors"):
            size = os.path.getsize(os.path.join(out, fn))
            assert size < 8 << 20, f"{fn} is {size} bytes, not < 8 MiB"
    conf = dict(cfg.to_dict())
    conf.update({"name": MODEL_NAME, "architecture": "llada", "mask_id": data.mask, "eos_id": data.eos,
                 "end_ids": [data.eos, data.eot], "pad_id": data.pad, "logits_shifted": False,
                 "dtype": "bfloat16", "bos_token": BOS, "add_bos": False, "chat_template": CHAT_TEMPLATE,
                 "training": {k: extra.get(k) for k in ("steps", "tokens", "train_loop_s", "stage_s", "device", "torch")}})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    if tok_dir and os.path.abspath(tok_dir) != os.path.abspath(out):
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            src = os.path.join(tok_dir, fn)
            if os.path.exists(src):
                shutil.copy(src, os.path.join(out, fn))
    if os.path.abspath(log_path) != os.path.abspath(os.path.join(out, "training_log.jsonl")):
        shutil.copy(log_path, os.path.join(out, "training_log.jsonl"))
    n_bytes = sum(t.numel() * 2 for t in tensors.values())
    log(f"exported {len(tensors)} tensors, {n_bytes / 1e6:.2f} MB bf16, writer: {writer} -> {out}")
    return {"weights_bytes_bf16": n_bytes, "writer": writer}


def main(argv=None, tokenizer=None):
    a = parse_args(argv)
    t_begin = time.time()
    deadline = t_begin + a.minutes * 60.0
    device = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    logdir = a.logdir or a.out
    os.makedirs(logdir, exist_ok=True)
    os.makedirs(a.out, exist_ok=True)
    tok_dir = a.tokenizer or a.out
    if tokenizer is None:
        tokenizer = HFTokenizer(tok_dir)
    mm = import_model()

    probs = read_jsonl(os.path.join(a.work, "train.jsonl"), limit=a.max_problems or None)
    held = read_jsonl(os.path.join(a.work, "heldout.jsonl"))
    docs = read_jsonl(os.path.join(a.work, "corpus.jsonl"))
    data = Data(a, tokenizer, probs, docs, held, device)
    if data.train["n"] == 0:
        raise SystemExit("no training problem fits --prompt-len/--max-answer")
    del probs

    cfg = mm.ModelConfig(vocab_size=tokenizer.vocab_size, hidden_size=a.hidden, num_layers=a.layers,
                         num_heads=a.heads, intermediate_size=a.ff, tie_embeddings=not a.untied,
                         max_length=a.prompt_len + a.gen_long)
    model = mm.DiffusionLM(cfg).to(device)
    init_weights(model, cfg)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model {cfg.to_dict()}: {n_params / 1e6:.2f}M parameters, {2 * n_params / 1e6:.2f} MB in bf16, "
        f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), torch {torch.__version__}")
    opt, opt_kind = make_optimizer(model, a, device)
    use_amp = device.type == "cuda"

    def amp():
        if use_amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return torch.autocast(device_type="cpu", enabled=False) if hasattr(torch, "autocast") else _null()

    def loss_fn(*xs):
        return masked_diffusion_loss(model, *xs, mask_id=data.mask, eps=a.eps)

    step_loss = loss_fn
    compiled = False
    mode = a.compile
    if mode == "auto":
        mode = "regional" if device.type == "cuda" and hasattr(torch, "compile") else "off"
    if mode == "regional" and not hasattr(torch.nn.Module, "compile"):
        mode = "full" if hasattr(torch, "compile") else "off"
    if mode == "full" and not hasattr(torch, "compile"):
        mode = "off"
    want_compile = mode != "off"
    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed)
    shapes = [("short", a.gen_short, a.batch_tokens // (a.prompt_len + a.gen_short)),
              ("long", a.gen_long, a.batch_tokens // (a.prompt_len + a.gen_long))]
    for name, G, rows in shapes:
        if rows < 2:
            raise SystemExit(f"--batch-tokens {a.batch_tokens} is too small for {name} rows")

    def warm(fn):
        for name, G, rows in shapes:
            b = make_batch(data, a, G, rows, gen)
            with amp():
                loss, _, _ = fn(*b)
            loss.backward()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()

    t_c = time.time()
    if want_compile:
        try:
            import torch._dynamo as dynamo  # (a plain `import torch._dynamo` would make torch local here)
            for knob in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit",
                         "accumulated_cache_size_limit"):
                try:
                    if hasattr(dynamo.config, knob):
                        setattr(dynamo.config, knob, max(64, int(getattr(dynamo.config, knob))))
                except Exception:  # noqa: BLE001 - a knob renamed or read-only: not needed
                    pass
            if mode == "regional":
                for layer in model.layers:
                    layer.compile(dynamic=False)
            else:
                step_loss = torch.compile(loss_fn, dynamic=False)
            warm(step_loss)
            compiled = True
        except Exception as e:  # noqa: BLE001
            log(f"warning: torch.compile ({mode}) failed, training eagerly: {type(e).__name__}: {str(e)[:400]}")
            for layer in model.layers:
                if getattr(layer, "_compiled_call_impl", None) is not None:
                    layer._compiled_call_impl = None
            step_loss = loss_fn
            opt.zero_grad(set_to_none=True)
    if not compiled:
        warm(step_loss)
    compile_s = time.time() - t_c
    log(f"warm-up ({mode + ' compile' if compiled else 'eager'}) {compile_s:.1f}s; optimizer AdamW ({opt_kind}); "
        f"rows/step short {shapes[0][2]}, long {shapes[1][2]}; budget left {deadline - time.time():.0f}s")

    log_path = os.path.join(logdir, "training_log.jsonl")
    flog = open(log_path, "w")

    def write(rec):
        flog.write(json.dumps(rec) + "\n")
        flog.flush()

    write({"type": "config", "args": vars(a), "model": cfg.to_dict(), "n_params": n_params,
           "data": {"train_problems": data.train["n"], "heldout_problems": data.held["n"],
                    "train_dropped": data.train["dropped"], "corpus_tokens": data.n_corpus_tokens,
                    "train_stats": data.train["stats"], "heldout_stats": data.held["stats"]},
           "torch": torch.__version__, "device": str(device), "compiled": compiled, "compile_mode": mode,
           "compile_s": compile_s})

    t_sched0 = time.time()
    t_end = deadline - a.export_reserve_s
    rng = np.random.default_rng(a.seed)
    step = 0
    tokens = 0
    acc = torch.zeros(3, device=device)
    n_rows_p = 0
    n_rows_c = 0
    n_acc = 0
    last_val = time.time()
    last_print = 0.0
    t_log = time.time()
    tok_log = 0
    while True:
        now = time.time()
        if now >= t_end or (a.max_steps and step >= a.max_steps):
            break
        progress = (now - t_sched0) / max(1e-6, t_end - t_sched0)
        lr = lr_at(a, step, progress)
        for g in opt.param_groups:
            g["lr"] = lr
        name, G, rows = shapes[1] if rng.random() < a.p_long else shapes[0]
        b = make_batch(data, a, G, rows, gen)
        with amp():
            loss, lp, lc = step_loss(*b)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        ntok = rows * (a.prompt_len + G)
        tokens += ntok
        tok_log += ntok
        acc += torch.stack([loss.detach().float() * rows, lp.float(), lc.float()])
        n_rows_p += int(round(rows * a.problem_frac)) if data.train["n"] else 0
        n_rows_c += rows - (int(round(rows * a.problem_frac)) if data.train["n"] else 0)
        n_acc += rows
        if step % a.log_every == 0:
            v = acc.tolist()
            dt = time.time() - t_log
            rec = {"type": "train", "step": step, "time": round(time.time() - t_begin, 2), "lr": lr,
                   "loss": v[0] / max(1, n_acc), "loss_problems": v[1] / max(1, n_rows_p),
                   "loss_corpus": v[2] / max(1, n_rows_c), "tokens": tokens,
                   "tokens_per_s": tok_log / max(1e-6, dt)}
            if not math.isfinite(rec["loss"]):
                raise SystemExit(f"loss is not finite at step {step}: {rec}")
            write(rec)
            acc.zero_()
            n_rows_p = n_rows_c = n_acc = 0
            t_log = time.time()
            tok_log = 0
            if time.time() - last_print > (0 if a.smoke else 10):
                last_print = time.time()
                log(f"step {step} loss {rec['loss']:.4f} (problems {rec['loss_problems']:.4f}, corpus "
                    f"{rec['loss_corpus']:.4f}) lr {lr:.2e} {rec['tokens_per_s'] / 1e3:.0f}k tok/s, "
                    f"{t_end - time.time():.0f}s left")
        if a.val_every_s and time.time() - last_val > a.val_every_s:
            last_val = time.time()
            vrec = validation(model, data, a, device, amp, shapes[0][2])
            vrec.update({"type": "val", "step": step, "time": round(time.time() - t_begin, 2)})
            write(vrec)
            log(f"held-out: loss {vrec.get('val_loss', float('nan')):.4f}, masked content-token accuracy "
                f"{vrec.get('val_acc_content', 0):.3f}, EOS {vrec.get('val_acc_eos', 0):.3f}")
    train_s = time.time() - t_sched0
    vrec = validation(model, data, a, device, amp, shapes[0][2])
    vrec.update({"type": "val", "step": step, "time": round(time.time() - t_begin, 2)})
    write(vrec)
    summary = {"type": "summary", "steps": step, "tokens": tokens, "train_loop_s": round(train_s, 1),
               "stage_s": round(time.time() - t_begin, 1), "compile_s": round(compile_s, 1), "compiled": compiled,
               "tokens_per_s": tokens / max(1e-6, train_s), "n_params": n_params, "final_val": vrec,
               "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "torch": torch.__version__}
    write(summary)
    flog.close()
    log(f"trained {step} steps, {tokens / 1e6:.1f}M tokens in {train_s:.0f}s; final held-out {vrec}")
    model.eval()
    info = export(model, cfg, data, a, tok_dir, a.out, log_path, summary)
    png = os.path.join(logdir, "loss.png")
    plot_log(log_path, png)
    summary.update(info)
    with open(os.path.join(logdir, "train_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *x):
        return False


if __name__ == "__main__":
    main()
