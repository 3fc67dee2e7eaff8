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
bf16 autocast, AdamW, linear warmup then cosine decay, torch.compile when available (falls back to
eager on any failure). Logs JSON lines and a loss plot.

Schedule: by default (v1) over the wall-clock budget (--minutes counts from the start of this stage:
encoding, compilation and export included). With --total-steps N, or --plan-later-s S (N fixed at the
end of warm-up from the measured step rate: the steps that fit in the rest of this call plus S
seconds of loop in later calls), it is over steps: warm-up, then cosine decay over the rest of the
N steps of all calls together, and the run stops at N.
A run over several commands: --checkpoint PATH writes the full state (model, AdamW, schedule, the
three RNG states that decide the data order and the masks, step, tokens, loop seconds, the log so
far) atomically every --checkpoint-every-s and when the loop stops (--max-minutes, --minutes,
--max-steps, SIGTERM); --resume PATH continues it exactly (bit for bit on CPU: test_resume.py).
--fallback-dir DIR also writes a weights-only resume point (bf16 shards < 16 MiB + resume_state.pt)
that a device call can bring back; --resume DIR continues from it with a fresh AdamW and the
learning rate re-warmed over --rewarm-steps. --data-cache keeps the encoded data between calls.

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
FALLBACK_SHARD_BYTES = (16 << 20) - (512 << 10)  # a device call brings back files of <= 16 MiB
CKPT_FORMAT = "localleap-train-checkpoint-1"
# arguments that a resumed call takes from the checkpoint (an explicit different value is an error)
RESUME_KEYS = ("seed", "hidden", "layers", "heads", "ff", "untied", "prompt_len", "gen_short", "gen_long", "max_answer",
               "p_long", "problem_frac", "max_problems", "batch_tokens", "lr", "min_lr_frac", "warmup_steps",
               "weight_decay", "clip", "eps", "total_steps", "plan_later_s", "plan_safety")


def build_parser(description=__doc__):
    """The argument parser (train_causal.py takes it and changes defaults)."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    # schedule over steps, checkpoints, resume (a run spread over several commands)
    ap.add_argument("--total-steps", type=int, default=0,
                    help="learning-rate schedule over this many steps in all (warm-up, then cosine decay over the "
                         "rest) and stop there; 0: the v1 schedule over this stage's wall-clock --minutes")
    ap.add_argument("--plan-later-s", type=float, default=None,
                    help="with --total-steps 0: fix the total at the end of warm-up from the measured step rate, "
                         "as the steps that fit in the rest of this call plus this many seconds of training loop in "
                         "later (resumed) calls")
    ap.add_argument("--plan-safety", type=float, default=0.97, help="factor on the planned steps (validation, saves)")
    ap.add_argument("--max-minutes", type=float, default=0.0,
                    help="stop cleanly before this wall-clock budget of this call (counted like --minutes), saving "
                         "the checkpoint; never changes the schedule")
    ap.add_argument("--checkpoint", help="full checkpoint (model, AdamW, schedule, RNG states, step, log), written "
                                         "atomically periodically and when the loop stops")
    ap.add_argument("--checkpoint-every-s", type=float, default=150.0)
    ap.add_argument("--checkpoint-every-steps", type=int, default=0)
    ap.add_argument("--checkpoint-reserve-s", type=float, default=8.0,
                    help="seconds kept before the deadline for the final checkpoint / fallback")
    ap.add_argument("--fallback-dir", help="also write a weights-only resume point here (bf16 shards <= 15.5 MiB, "
                                           "resume_state.pt: step, schedule, RNG states, log), with each checkpoint")
    ap.add_argument("--resume", help="a --checkpoint file (exact continuation) or a --fallback-dir folder "
                                     "(weights-only: fresh AdamW, learning rate re-warmed over --rewarm-steps)")
    ap.add_argument("--rewarm-steps", type=int, default=100)
    ap.add_argument("--fit-total", action="store_true",
                    help="with --resume: when the planned steps left do not fit in this call at the rate measured "
                         "when they were planned, lower the total to what fits (the cosine decay is compressed; for "
                         "a resume that is not exact anyway, e.g. weights-only on a cold machine)")
    ap.add_argument("--data-cache", help="encoded problems and corpus (.npz): read when it matches the data files, "
                                         "tokenizer and layout, else written (saves the encoding in a resumed call)")
    return ap


def parse_args(argv=None, ap=None):
    ap = ap or build_parser()
    a = ap.parse_args(argv)
    a._defaults = {k: ap.get_default(k) for k in RESUME_KEYS}
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

    def __init__(self, a, tok, probs, docs, held, device, encoded=None):
        ids = special_ids(tok)
        self.eos, self.eot, self.mask, self.bos = ids["eos"], ids["eot"], ids["mask"], ids["bos"]
        self.pad = self.eos
        self.PL = a.prompt_len
        self.AM = a.max_answer
        t0 = time.time()
        if encoded is not None:  # --data-cache
            self.train, self.held, corpus, n_corpus = encoded
        else:
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
        self.encoded = (dict(self.train), dict(self.held), corpus, n_corpus)
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


def data_cache_key(a, tok_dir):
    """What the encoded arrays depend on: the data files (size, mtime), the tokenizer, the layout."""
    parts = [a.prompt_len, a.max_answer, a.gen_long, a.max_problems]
    for fn in ("train.jsonl", "heldout.jsonl", "corpus.jsonl"):
        st_ = os.stat(os.path.join(a.work, fn))
        parts += [fn, st_.st_size, st_.st_mtime_ns]
    tj = os.path.join(tok_dir, "tokenizer.json") if tok_dir and os.path.isdir(tok_dir) else tok_dir
    if tj and os.path.isfile(tj):
        import hashlib
        parts.append(hashlib.sha256(open(tj, "rb").read()).hexdigest())
    else:
        parts.append("no-tokenizer-file")
    return json.dumps(parts)


def save_encoded(path, key, encoded):
    train, held, corpus, n_corpus = encoded
    arrays = {"corpus": corpus}
    meta = {"key": key, "n_corpus": n_corpus}
    for split, d in (("train", train), ("held", held)):
        for k, v in d.items():
            if isinstance(v, np.ndarray):
                arrays[f"{split}.{k}"] = v
            elif k == "keep":
                arrays[f"{split}.keep"] = np.asarray(v, dtype=np.int64)
            else:
                meta[f"{split}.{k}"] = v
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_encoded(path, key):
    """The arrays of save_encoded, or None when the file is missing or was made from other inputs."""
    if not os.path.exists(path):
        return None
    try:
        z = np.load(path)
        meta = json.loads(bytes(z["meta"]).decode())
        if meta["key"] != key:
            log(f"--data-cache {path}: made from other data or tokenizer, encoding again")
            return None
        out = []
        for split in ("train", "held"):
            d = {k.split(".", 1)[1]: v for k, v in meta.items() if k.startswith(split + ".")}
            for name in z.files:
                if name.startswith(split + "."):
                    d[name.split(".", 1)[1]] = z[name]
            d["keep"] = d["keep"].tolist()
            out.append(d)
        return out[0], out[1], z["corpus"], meta["n_corpus"]
    except Exception as e:  # noqa: BLE001 - a damaged cache is only a cache
        log(f"--data-cache {path}: unreadable ({type(e).__name__}: {e}), encoding again")
        return None


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


def lr_steps(a, step, total_steps):
    """Step schedule: linear warm-up over --warmup-steps, then cosine decay to --min-lr-frac over the
    remaining steps of the total (all calls together: a resumed run continues the same curve).
    While the total is not fixed yet (--plan-later-s) only the warm-up applies; it is fixed by the
    end of the warm-up, so the curve never depends on when it was fixed."""
    W = max(1, a.warmup_steps)
    warm = min(1.0, (step + 1) / W)
    if total_steps is None or step < W:
        return a.lr * warm
    progress = min(1.0, (step - W) / max(1, total_steps - W))
    return a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


def args_dict(a):
    return {k: v for k, v in vars(a).items() if not k.startswith("_")}


def _atomic_torch_save(obj, path):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = os.path.join(d, f".{os.path.basename(path)}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def torch_load(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=False)  # our own file (RNG states, args)
    except TypeError:  # torch without weights_only
        return torch.load(path, map_location="cpu")


def rng_states(gen, rng, device):
    st = {"gen": gen.get_state(), "numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_states(st, gen, rng, device):
    gen.set_state(st["gen"])
    rng.bit_generator.state = st["numpy"]
    torch.set_rng_state(st["torch"])
    if device.type == "cuda" and st.get("cuda") is not None:
        torch.cuda.set_rng_state_all(st["cuda"])


def save_fallback(folder, model, state):
    """Weights-only resume point: bf16 shards (<= 15.5 MiB each, so that a device call brings them
    back) + index + resume_state.pt (everything of the checkpoint but the fp32 weights and AdamW).
    Written into folder/.partial/w first (two levels down: a device call brings back nothing that
    deep from $OUT/fallback, so a save cut off midway adds no files), then moved file by file."""
    part = os.path.join(folder, ".partial", "w")
    shutil.rmtree(os.path.dirname(part), ignore_errors=True)
    os.makedirs(part)
    import_model()
    tensors = {n: p.detach().to(torch.bfloat16).cpu().contiguous() for n, p in model.named_parameters()}
    from localleap import safetensors_io as st  # noqa: E402 - tools/ is on sys.path after import_model()
    shards = st.save_sharded(tensors, part, FALLBACK_SHARD_BYTES, metadata={"step": str(state["step"])})
    torch.save(state, os.path.join(part, "resume_state.pt"))
    keep = set(shards) | {st.INDEX_NAME, "resume_state.pt"}
    for fn in os.listdir(folder):
        if fn.endswith(".safetensors") and fn not in keep:
            os.remove(os.path.join(folder, fn))
    for fn in shards + ["resume_state.pt", st.INDEX_NAME]:  # the index last: it names the new shards
        os.replace(os.path.join(part, fn), os.path.join(folder, fn))
    shutil.rmtree(os.path.dirname(part), ignore_errors=True)


def load_fallback(folder):
    """(float32 weights by neutral name, resume state) of a save_fallback folder (bf16 or int8 shards)."""
    import_model()
    from localleap import quant, safetensors_io as st
    state = torch_load(os.path.join(folder, "resume_state.pt"))
    tensors = quant.dequantize_state(st.load(folder), where=folder)
    steps = {st.read_header(os.path.join(folder, f))[1].get("step") for f in sorted(set(st.read_index(folder).values()))}
    if steps != {str(state["step"])}:
        raise SystemExit(f"{folder}: shards of steps {sorted(map(str, steps))} next to resume_state.pt of step "
                         f"{state['step']} (a save was interrupted)")
    return {k: v.float() for k, v in tensors.items()}, state


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


def export_weights(model, cfg, out):
    """The bf16 shards (< 8 MiB each) and index of model in out, read back and checked;
    returns (tensors, writer)."""
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
    return tensors, writer


def copy_side_files(tok_dir, out, log_path):
    """tokenizer.json, tokenizer_config.json of tok_dir and the training log into out."""
    if tok_dir and os.path.abspath(tok_dir) != os.path.abspath(out):
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            src = os.path.join(tok_dir, fn)
            if os.path.exists(src):
                shutil.copy(src, os.path.join(out, fn))
    if os.path.abspath(log_path) != os.path.abspath(os.path.join(out, "training_log.jsonl")):
        shutil.copy(log_path, os.path.join(out, "training_log.jsonl"))


def export(model, cfg, data: Data, a, tok_dir, out, log_path, extra):
    """bf16 weights as shards (< 8 MiB each) + config.json + tokenizer files + training log."""
    tensors, writer = export_weights(model, cfg, out)
    conf = dict(cfg.to_dict())
    conf.update({"name": MODEL_NAME, "architecture": "llada", "mask_id": data.mask, "eos_id": data.eos,
                 "end_ids": [data.eos, data.eot], "pad_id": data.pad, "logits_shifted": False,
                 "dtype": "bfloat16", "bos_token": BOS, "add_bos": False, "chat_template": CHAT_TEMPLATE,
                 "training": {k: extra.get(k) for k in ("steps", "tokens", "train_loop_s", "stage_s", "device", "torch")}})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    copy_side_files(tok_dir, out, log_path)
    n_bytes = sum(t.numel() * 2 for t in tensors.values())
    log(f"exported {len(tensors)} tensors, {n_bytes / 1e6:.2f} MB bf16, writer: {writer} -> {out}")
    return {"weights_bytes_bf16": n_bytes, "writer": writer}


def resume_source(a):
    """Reads --resume (a checkpoint file or a fallback folder) and takes RESUME_KEYS from it."""
    if os.path.isdir(a.resume):
        weights, state = load_fallback(a.resume)
        kind = "weights"
    else:
        state = torch_load(a.resume)
        weights = None
        kind = "full"
    if state.get("format") != CKPT_FORMAT:
        raise SystemExit(f"{a.resume}: not a train.py checkpoint ({state.get('format')!r})")
    old = state["args"]
    for k in RESUME_KEYS:
        mine, theirs = getattr(a, k), old.get(k)
        if mine != theirs and mine != a._defaults.get(k) and not (a.smoke and k in ("hidden", "layers", "heads", "ff",
                                                                                     "batch_tokens", "warmup_steps")):
            raise SystemExit(f"--resume: --{k.replace('_', '-')} {mine} differs from the checkpoint's {theirs}")
        setattr(a, k, theirs)
    log(f"resuming from {a.resume} ({kind}): step {state['step']} of {state['sched'].get('total_steps')}, "
        f"{state['tokens'] / 1e6:.1f}M tokens, {state['loop_s']:.0f}s of training loop so far")
    return {"kind": kind, "state": state, "weights": weights}


def load_data(a, tokenizer, tok_dir, device):
    """Data of --work (or of --data-cache when it matches), on device."""
    key = data_cache_key(a, tok_dir) if a.data_cache else None
    encoded = load_encoded(a.data_cache, key) if a.data_cache else None
    if encoded is not None:
        log(f"encoded data from --data-cache {a.data_cache}")
        data = Data(a, tokenizer, None, None, None, device, encoded=encoded)
    else:
        probs = read_jsonl(os.path.join(a.work, "train.jsonl"), limit=a.max_problems or None)
        held = read_jsonl(os.path.join(a.work, "heldout.jsonl"))
        docs = read_jsonl(os.path.join(a.work, "corpus.jsonl"))
        data = Data(a, tokenizer, probs, docs, held, device)
        del probs, held, docs
        if a.data_cache:
            t = time.time()
            save_encoded(a.data_cache, key, data.encoded)
            log(f"wrote --data-cache {a.data_cache} in {time.time() - t:.1f}s")
    data.encoded = None
    if data.train["n"] == 0:
        raise SystemExit("no training problem fits --prompt-len/--max-answer")
    return data


def make_amp(device):
    """The autocast context of training: bf16 on CUDA, none elsewhere."""
    use_amp = device.type == "cuda"

    def amp():
        if use_amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return torch.autocast(device_type="cpu", enabled=False) if hasattr(torch, "autocast") else _null()
    return amp


def compile_loss(model, loss_fn, a, device, data, shapes, gen, amp, opt, batch_fn=None):
    """--compile: the step's loss function, compiled (each block, or all of it) when asked and
    possible, else eager, after a warm-up step of every shape (batches from batch_fn, default
    make_batch); returns (loss function, compiled, mode, seconds)."""
    batch_fn = batch_fn or make_batch
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

    def warm(fn):
        for name, G, rows in shapes:
            b = batch_fn(data, a, G, rows, gen)
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
    return step_loss, compiled, mode, compile_s


def describe_model(model, cfg, device, kind):
    """The parameter count, logged with the configuration, size and device (train.py, train_causal.py)."""
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{kind} {cfg.to_dict()}: {n_params / 1e6:.2f}M parameters, {2 * n_params / 1e6:.2f} MB in bf16, "
        f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}), torch {torch.__version__}")
    return n_params


def optimizer_step(model, opt, a, step_loss, batch, amp):
    """One update: the loss under autocast, backward, gradient clipping, the optimizer step.
    Returns step_loss's (loss, problem part, corpus part)."""
    with amp():
        loss, lp, lc = step_loss(*batch)
    loss.backward()
    if a.clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss, lp, lc


def main(argv=None, tokenizer=None):
    a = parse_args(argv)
    t_begin = time.time()
    resumed = resume_source(a) if a.resume else None
    deadline = t_begin + a.minutes * 60.0
    if a.max_minutes:
        deadline = min(deadline, t_begin + a.max_minutes * 60.0)
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

    data = load_data(a, tokenizer, tok_dir, device)

    cfg = mm.ModelConfig(vocab_size=tokenizer.vocab_size, hidden_size=a.hidden, num_layers=a.layers,
                         num_heads=a.heads, intermediate_size=a.ff, tie_embeddings=not a.untied,
                         max_length=a.prompt_len + a.gen_long)
    model = mm.DiffusionLM(cfg).to(device)
    init_weights(model, cfg)
    model.train()
    n_params = describe_model(model, cfg, device, "model")
    opt, opt_kind = make_optimizer(model, a, device)
    amp = make_amp(device)

    def loss_fn(*xs):
        return masked_diffusion_loss(model, *xs, mask_id=data.mask, eps=a.eps)

    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed)
    shapes = [("short", a.gen_short, a.batch_tokens // (a.prompt_len + a.gen_short)),
              ("long", a.gen_long, a.batch_tokens // (a.prompt_len + a.gen_long))]
    for name, G, rows in shapes:
        if rows < 2:
            raise SystemExit(f"--batch-tokens {a.batch_tokens} is too small for {name} rows")

    step_loss, compiled, mode, compile_s = compile_loss(model, loss_fn, a, device, data, shapes, gen, amp, opt)
    log(f"warm-up ({mode + ' compile' if compiled else 'eager'}) {compile_s:.1f}s; optimizer AdamW ({opt_kind}); "
        f"rows/step short {shapes[0][2]}, long {shapes[1][2]}; budget left {deadline - time.time():.0f}s")

    log_path = os.path.join(logdir, "training_log.jsonl")
    flog = open(log_path, "w")
    lines = []  # the whole log, kept for the checkpoints

    def write(rec):
        line = json.dumps(rec)
        lines.append(line)
        flog.write(line + "\n")
        flog.flush()

    rng = np.random.default_rng(a.seed)
    st = {"step": 0, "tokens": 0, "loop_s": 0.0, "calls": 1, "acc": [0.0, 0.0, 0.0], "n_rows": [0, 0, 0]}
    if a.total_steps:
        sched = {"kind": "steps", "total_steps": a.total_steps}
    elif a.plan_later_s is not None:
        sched = {"kind": "steps", "total_steps": None, "plan_later_s": a.plan_later_s}
    else:
        sched = {"kind": "time", "budget_s": None}
    data_info = {"train_problems": data.train["n"], "heldout_problems": data.held["n"],
                 "train_dropped": data.train["dropped"], "corpus_tokens": data.n_corpus_tokens,
                 "train_stats": data.train["stats"], "heldout_stats": data.held["stats"]}
    rewarm_from = None
    if resumed:
        rs = resumed["state"]
        if rs["model"] != cfg.to_dict():
            raise SystemExit(f"--resume: model {rs['model']} differs from {cfg.to_dict()}")
        if rs["data"]["train_problems"] != data.train["n"] or rs["data"]["corpus_tokens"] != data.n_corpus_tokens:
            log(f"WARNING: the data differ from the checkpoint's ({rs['data']['train_problems']} problems, "
                f"{rs['data']['corpus_tokens']} corpus tokens): training continues, not exactly")
        with torch.no_grad():
            if resumed["kind"] == "full":
                model.load_state_dict(rs["model_state"])
                opt.load_state_dict(rs["opt"])
            else:
                params = dict(model.named_parameters())
                if set(params) != set(resumed["weights"]):
                    raise SystemExit(f"--resume {a.resume}: tensors {sorted(set(params) ^ set(resumed['weights']))[:4]} "
                                     "do not match the model")
                for n, p in params.items():
                    p.copy_(resumed["weights"][n].to(p.device))
                rewarm_from = rs["step"]
        set_rng_states(rs["rng"], gen, rng, device)
        st = {k: rs[k] for k in st}
        st["calls"] += 1
        sched = dict(rs["sched"])
        for line in rs["log"]:
            lines.append(line)
            flog.write(line + "\n")
        write({"type": "resume", "step": st["step"], "from": os.path.abspath(a.resume), "mode": resumed["kind"],
               "rewarm_steps": a.rewarm_steps if rewarm_from is not None else 0, "args": args_dict(a),
               "torch": torch.__version__, "device": str(device), "compiled": compiled, "compile_s": compile_s,
               "call": st["calls"]})
    else:
        write({"type": "config", "args": args_dict(a), "model": cfg.to_dict(), "n_params": n_params,
               "data": data_info, "torch": torch.__version__, "device": str(device), "compiled": compiled,
               "compile_mode": mode, "compile_s": compile_s, "schedule": sched})

    t_sched0 = time.time()
    stop_reserve = a.export_reserve_s + (a.checkpoint_reserve_s if (a.checkpoint or a.fallback_dir) else 0.0)
    t_stop = deadline - stop_reserve
    if sched["kind"] == "time" and sched["budget_s"] is None:  # v1: over this call's --minutes
        sched["budget_s"] = max(1e-6, t_begin + a.minutes * 60.0 - stop_reserve - t_sched0)
    loop_s0 = st["loop_s"]
    if resumed and a.fit_total and sched["kind"] == "steps" and sched.get("total_steps") and sched.get("steps_per_s"):
        fit = st["step"] + int(sched["steps_per_s"] * max(0.0, t_stop - t_sched0) * a.plan_safety)
        if fit < sched["total_steps"]:
            write({"type": "refit", "step": st["step"], "total_steps": fit, "was": sched["total_steps"],
                   "steps_per_s": sched["steps_per_s"], "loop_s_left": t_stop - t_sched0})
            log(f"--fit-total: {sched['total_steps'] - st['step']} planned steps left, {fit - st['step']} fit in "
                f"{t_stop - t_sched0:.0f}s at {sched['steps_per_s']:.2f} steps/s: total {sched['total_steps']} -> {fit}")
            sched["total_steps"] = fit
    acc = torch.tensor(st["acc"], device=device)
    n_rows_p, n_rows_c, n_acc = st["n_rows"]
    step, tokens = st["step"], st["tokens"]
    cal0, cal1 = plan_window(a)
    t_cal0 = None
    last_val = time.time()
    last_ckpt = time.time()
    last_print = 0.0
    t_log = time.time()
    tok_log = 0
    lr = float("nan")
    stop_flag = []
    old_handler = None
    if a.checkpoint or a.fallback_dir:
        try:
            import signal
            old_handler = signal.signal(signal.SIGTERM, lambda *_: stop_flag.append("signal"))
        except ValueError:  # not the main thread
            old_handler = None

    def snapshot():
        return {"format": CKPT_FORMAT, "step": step, "tokens": tokens, "loop_s": loop_s0 + time.time() - t_sched0,
                "calls": st["calls"], "acc": acc.tolist(), "n_rows": [n_rows_p, n_rows_c, n_acc], "sched": dict(sched),
                "rng": rng_states(gen, rng, device), "log": list(lines), "args": args_dict(a), "model": cfg.to_dict(),
                "data": data_info, "torch": torch.__version__, "device": str(device)}

    def save_all(reason):
        t = time.time()
        state = snapshot()
        if a.checkpoint:
            full = dict(state, model_state=model.state_dict(), opt=opt.state_dict())
            _atomic_torch_save(full, a.checkpoint)
        if a.fallback_dir:
            save_fallback(a.fallback_dir, model, state)
        log(f"saved ({reason}) step {step}: " + ", ".join(x for x in (a.checkpoint, a.fallback_dir) if x)
            + f" in {time.time() - t:.1f}s")

    def is_done(now):
        if sched["kind"] == "steps":
            return sched["total_steps"] is not None and step >= sched["total_steps"]
        return loop_s0 + now - t_sched0 >= sched["budget_s"]

    while True:
        now = time.time()
        if is_done(now):
            reason = "done"
            break
        if a.max_steps and step >= a.max_steps:
            reason = "max-steps"
            break
        if now >= t_stop:
            reason = "deadline"
            break
        if stop_flag:
            reason = "signal"
            break
        if sched["kind"] == "steps":
            lr = lr_steps(a, step, sched["total_steps"])
        else:
            lr = lr_at(a, step, (loop_s0 + now - t_sched0) / sched["budget_s"])
        if rewarm_from is not None:  # weights-only resume: fresh AdamW moments, ramp the rate back up
            lr *= min(1.0, (step - rewarm_from + 1) / max(1, a.rewarm_steps))
        for g in opt.param_groups:
            g["lr"] = lr
        name, G, rows = shapes[1] if rng.random() < a.p_long else shapes[0]
        loss, lp, lc = optimizer_step(model, opt, a, step_loss, make_batch(data, a, G, rows, gen), amp)
        step += 1
        ntok = rows * (a.prompt_len + G)
        tokens += ntok
        tok_log += ntok
        acc += torch.stack([loss.detach().float() * rows, lp.float(), lc.float()])
        n_rows_p += int(round(rows * a.problem_frac)) if data.train["n"] else 0
        n_rows_c += rows - (int(round(rows * a.problem_frac)) if data.train["n"] else 0)
        n_acc += rows
        if sched["kind"] == "steps" and sched["total_steps"] is None and step >= cal0 and (t_cal0 is None or step >= cal1):
            if device.type == "cuda":
                torch.cuda.synchronize()
            if t_cal0 is None:  # (after a resume inside the window: measured from its first step)
                t_cal0 = (step, time.time())
            else:
                rate = (step - t_cal0[0]) / max(1e-6, time.time() - t_cal0[1])
                left = max(0.0, t_stop - time.time()) + sched["plan_later_s"]
                sched["total_steps"] = max(step + 1, step + int(rate * left * a.plan_safety))
                sched.update({"fixed_at_step": step, "steps_per_s": rate, "planned_loop_s": left})
                write({"type": "plan", "step": step, "total_steps": sched["total_steps"], "steps_per_s": rate,
                       "tokens_per_s": rate * a.batch_tokens, "loop_s_left": left, "this_call_s": t_stop - time.time(),
                       "later_s": sched["plan_later_s"]})
                log(f"planned {sched['total_steps']} steps in all: {rate:.2f} steps/s measured over steps "
                    f"{t_cal0[0]}-{step}, {left:.0f}s of training loop left ({t_stop - time.time():.0f}s in this call)")
        if step % a.log_every == 0:
            v = acc.tolist()
            dt = time.time() - t_log
            rec = {"type": "train", "step": step, "time": round(time.time() - t_begin, 2), "lr": lr,
                   "loss": v[0] / max(1, n_acc), "loss_problems": v[1] / max(1, n_rows_p),
                   "loss_corpus": v[2] / max(1, n_rows_c), "tokens": tokens,
                   "tokens_per_s": tok_log / max(1e-6, dt)}
            if st["calls"] > 1:
                rec["call"] = st["calls"]
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
                    f"{t_stop - time.time():.0f}s left in this call")
        if a.val_every_s and time.time() - last_val > a.val_every_s:
            last_val = time.time()
            vrec = validation(model, data, a, device, amp, shapes[0][2])
            vrec.update({"type": "val", "step": step, "time": round(time.time() - t_begin, 2)})
            write(vrec)
            log(f"held-out: loss {vrec.get('val_loss', float('nan')):.4f}, masked content-token accuracy "
                f"{vrec.get('val_acc_content', 0):.3f}, EOS {vrec.get('val_acc_eos', 0):.3f}")
        if (a.checkpoint or a.fallback_dir) and (
                (a.checkpoint_every_steps and step % a.checkpoint_every_steps == 0)
                or (a.checkpoint_every_s and time.time() - last_ckpt > a.checkpoint_every_s)):
            save_all("periodic")
            last_ckpt = time.time()
    if old_handler is not None:
        import signal
        signal.signal(signal.SIGTERM, old_handler)
    train_s = time.time() - t_sched0
    complete = reason == "done" or (reason == "max-steps" and sched["kind"] == "time")
    vrec = validation(model, data, a, device, amp, shapes[0][2])
    vrec.update({"type": "val", "step": step, "time": round(time.time() - t_begin, 2)})
    write(vrec)
    loop_total = loop_s0 + train_s
    if not complete:
        write({"type": "stop", "reason": reason, "step": step, "total_steps": sched.get("total_steps"),
               "tokens": tokens, "loop_s": round(loop_total, 1), "call": st["calls"]})
    if a.checkpoint or a.fallback_dir:
        save_all(f"stop: {reason}")
    summary = {"type": "summary", "steps": step, "tokens": tokens, "train_loop_s": round(loop_total, 1),
               "stage_s": round(time.time() - t_begin, 1), "compile_s": round(compile_s, 1), "compiled": compiled,
               "tokens_per_s": tokens / max(1e-6, loop_total), "n_params": n_params, "final_val": vrec,
               "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "torch": torch.__version__, "complete": complete, "stop_reason": reason, "calls": st["calls"],
               "schedule": sched, "this_call": {"steps": step - st["step"], "tokens": tokens - st["tokens"],
                                                "train_loop_s": round(train_s, 1)}}
    if complete:
        write(summary)
    flog.close()
    log(f"{'trained' if complete else 'stopped (' + reason + ') after'} {step} steps"
        f"{'' if sched.get('total_steps') is None else ' of ' + str(sched['total_steps'])}, {tokens / 1e6:.1f}M tokens "
        f"in {loop_total:.0f}s of training loop ({st['calls']} call(s)); final held-out {vrec}")
    model.eval()
    info = export(model, cfg, data, a, tok_dir, a.out, log_path, summary)
    png = os.path.join(logdir, "loss.png")
    plot_log(log_path, png)
    summary.update(info)
    with open(os.path.join(logdir, "train_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def plan_window(a):
    """Steps between which --plan-later-s measures the step rate (the second one is where the total
    is fixed: the end of the warm-up, when the schedule starts to depend on it)."""
    w = max(1, a.warmup_steps)
    c0 = min(20, max(1, w // 4))
    return c0, max(w, c0 + 1)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *x):
        return False


if __name__ == "__main__":
    main()
