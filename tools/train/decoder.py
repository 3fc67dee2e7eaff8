"""Batched greedy decoder implementing the rules of docs/decoding.md (for fast evaluation).

Same rules as tools/localleap/reference_decoder.py, written for a batch on one device:
- canvas = left-padded prompt + G masks; blocks of Lb finished left to right; only masked
  positions of the current block are committed; committed tokens are never re-masked; the model is
  asked for the logits of the current block only (`logits_at_padded`, unshifted: LLaDA layout).
- per position (greedy): logits upcast to float32, NaN -> -inf, t = lowest index of the highest
  logit among the tokens other than the mask id; confidence c = float32(q(z_t - M) / S) with
  q(d) = trunc(exp(d) * 2^44) as int64 (0 when d < -31), S the exact int64 sum of q (chunks of 8192
  tokens), M the maximum over every token (torch.exp stands in for det_exp: the same value to the
  last bit or so).
- rank_i = number of masked j != i with c_j > c_i, or c_j = c_i and j < i (ties to the lower position);
  commit_i = masked_i and (rank_i < k or c_i >= thr_i), float32 `>=` comparisons:
  low-confidence: k from the steps schedule (n div s, plus 1 for the first n mod s steps), thr = +inf;
  threshold: k = 1, thr = theta; localleap: k = 1, thr_i = tau when some anchor a (masked, c_a >= kappa)
  has |i - a| <= W, else kappa.
- a row whose current block has no masked position takes no step (steps are counted per row);
  rows of a batch finish their blocks independently.
- stopAtEos: when a row's block is finished and holds an end token, every later position is set to
  eosId and the row takes no further steps.
- result tokens stop before the first end token of the generated span; finish reason "eos" when the
  span holds an end token, else "length".
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch

STRATEGIES = ("low-confidence", "threshold", "localleap")


@dataclass
class DecodeConfig:
    strategy: str = "low-confidence"
    gen_length: int = 128
    block_length: int = 32
    steps: Optional[int] = None  # low-confidence only; default gen_length (one token per step)
    threshold: float = 0.9
    kappa: float = 0.9
    tau: float = 0.75
    window: int = 4
    stop_at_eos: bool = False

    def check(self):
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy}")
        if self.gen_length % self.block_length:
            raise ValueError("block length must divide gen length")
        nb = self.gen_length // self.block_length
        if self.strategy == "low-confidence":
            s = self.steps if self.steps is not None else self.gen_length
            if s % nb or not nb <= s <= self.gen_length:
                raise ValueError("steps must be a multiple of the number of blocks, within [blocks, gen length]")


@dataclass
class Tokens:
    mask_id: int
    eos_id: int
    end_ids: List[int]
    pad_id: int


def confidence_and_token(logits: torch.Tensor, mask_id: int = -1, chunk: int = 8192):
    """(token, confidence) for logits [..., V], by the rule of docs/decoding.md (greedy): NaN -> -inf;
    M = max over every token; t = lowest index of the highest logit among the tokens other than the
    mask id; per chunk of 8192 tokens S_c = sum of q(z - M_c), q(d) = trunc(exp(d) 2^44) as int64
    (0 when d < -31); S = sum_c trunc(S_c exp(M_c - M)) (0 when M_c - M < -31);
    c = float32(q(z_t - M) / S), 0 when S = 0. torch.exp stands in for det_exp."""
    z = logits.float()
    z = torch.where(torch.isnan(z), torch.full_like(z, float("-inf")), z)
    V = z.shape[-1]
    M = z.max(-1, keepdim=True).values
    if 0 <= mask_id < V:
        zc = z.clone()
        zc[..., mask_id] = float("-inf")
        t = zc.argmax(-1)
    else:
        t = z.argmax(-1)

    def q(d):
        v = torch.trunc(torch.exp(d) * float(2 ** 44)).to(torch.int64)
        return torch.where(d < -31.0, torch.zeros_like(v), v)

    if V <= chunk:
        S = q(z - M).sum(-1)
    else:
        S = torch.zeros(z.shape[:-1], dtype=torch.int64, device=z.device)
        for lo in range(0, V, chunk):
            zz = z[..., lo:lo + chunk]
            Mc = zz.max(-1, keepdim=True).values
            Sc = q(zz - Mc).sum(-1)
            dm = (Mc - M).squeeze(-1)
            part = torch.trunc(Sc.double() * torch.exp(dm).double()).to(torch.int64)
            S = S + torch.where(dm < -31.0, torch.zeros_like(part), part)
    qt = q(z.gather(-1, t.unsqueeze(-1)) - M).squeeze(-1)
    c = (qt.double() / S.double().clamp(min=1.0)).float()
    c = torch.where(S == 0, torch.zeros_like(c), c)
    return t, c


def commit_mask(c: torch.Tensor, masked: torch.Tensor, k: torch.Tensor, cfg: DecodeConfig) -> torch.Tensor:
    """c float32 [b, Lb], masked bool [b, Lb], k int64 [b] -> commit bool [b, Lb]."""
    Lb = c.shape[1]
    dev = c.device
    ar = torch.arange(Lb, device=dev)
    ci = c[:, :, None]
    cj = c[:, None, :]
    lower = (ar[None, :] < ar[:, None])[None]  # [1, i, j]: j < i
    beats = masked[:, None, :] & ((cj > ci) | ((cj == ci) & lower))
    rank = beats.sum(-1)
    by_rank = rank < k[:, None]
    if cfg.strategy == "low-confidence":
        return masked & by_rank
    if cfg.strategy == "threshold":
        thr = torch.tensor(cfg.threshold, dtype=torch.float32, device=dev)
        return masked & (by_rank | (c >= thr))
    kappa = torch.tensor(cfg.kappa, dtype=torch.float32, device=dev)
    tau = torch.tensor(cfg.tau, dtype=torch.float32, device=dev)
    anchors = masked & (c >= kappa)
    close = ((ar[:, None] - ar[None, :]).abs() <= cfg.window)[None]  # [1, i, a]
    near = (anchors[:, None, :] & close).any(-1)
    thr = torch.where(near, tau, kappa)
    return masked & (by_rank | (c >= thr))


@torch.no_grad()
def generate(model, prompts: Sequence[Sequence[int]], cfg: DecodeConfig, toks: Tokens, device,
             record_first_step: bool = False) -> Dict:
    """Decode a batch of prompts (lists of ids). Returns per-row generated spans, tokens before the
    first end token, finish reasons, steps and steps per block (and, on request, the confidences of
    the masked positions at the first step)."""
    cfg.check()
    B = len(prompts)
    P = max(len(p) for p in prompts)
    G, Lb = cfg.gen_length, cfg.block_length
    nb = G // Lb
    s = (cfg.steps if cfg.steps is not None else G) // nb
    canvas = torch.full((B, P + G), toks.pad_id, dtype=torch.long)
    left_pad = torch.zeros(B, dtype=torch.long)
    for b, p in enumerate(prompts):
        left_pad[b] = P - len(p)
        canvas[b, P - len(p):P] = torch.tensor(list(p), dtype=torch.long)
    canvas[:, P:] = toks.mask_id
    canvas = canvas.to(device)
    left_pad = left_pad.to(device)
    end_ids = torch.tensor(list(toks.end_ids), dtype=torch.long, device=device)
    steps = torch.zeros(B, dtype=torch.long, device=device)
    spb = torch.zeros(B, nb, dtype=torch.long, device=device)
    n_start = torch.zeros(B, dtype=torch.long, device=device)
    stopped = torch.zeros(B, dtype=torch.bool, device=device)
    first_conf = None
    first_tok = None
    for k in range(nb):
        lo = P + k * Lb
        pos = torch.arange(lo, lo + Lb, device=device)
        while True:
            blk = canvas[:, lo:lo + Lb]
            masked = (blk == toks.mask_id) & ~stopped[:, None]
            rows = masked.any(1).nonzero().squeeze(1)
            if rows.numel() == 0:
                break
            all_rows = rows.numel() == B
            ids = canvas if all_rows else canvas.index_select(0, rows)
            lp = left_pad if all_rows else left_pad.index_select(0, rows)
            logits = model.logits_at_padded(ids, pos, lp)
            tok, c = confidence_and_token(logits, toks.mask_id)
            m = masked.index_select(0, rows)
            j = spb[rows, k]
            if cfg.strategy == "low-confidence":
                n = torch.where(j == 0, m.sum(1), n_start[rows])
                n_start[rows] = n
                kk = n // s + (j < (n % s)).long()
            else:
                kk = torch.ones_like(j)
            commit = commit_mask(c, m, kk, cfg)
            if record_first_step and first_conf is None and k == 0:
                first_conf = c.masked_select(m).cpu()
                first_tok = tok.masked_select(m).cpu()
            old = blk.index_select(0, rows)
            canvas[rows, lo:lo + Lb] = torch.where(commit, tok, old)
            steps[rows] += 1
            spb[rows, k] += 1
        if cfg.stop_at_eos:
            blk = canvas[:, lo:lo + Lb]
            has_end = torch.isin(blk, end_ids).any(1) & ~stopped
            if k < nb - 1 and bool(has_end.any()):
                r = has_end.nonzero().squeeze(1)
                canvas[r, lo + Lb:] = toks.eos_id
            stopped |= has_end
    gen = canvas[:, P:].cpu()
    ends = set(int(x) for x in toks.end_ids)
    out_tokens, finish = [], []
    for b in range(B):
        row = gen[b].tolist()
        cut = next((i for i, x in enumerate(row) if x in ends), None)
        out_tokens.append(row if cut is None else row[:cut])
        finish.append("length" if cut is None else "eos")
    skipped = (spb == 0).long().cpu()
    res = {"span": gen, "tokens": out_tokens, "finish": finish, "steps": steps.cpu().tolist(),
           "steps_per_block": spb.cpu().tolist(),
           "committed_by_steps": [G - Lb * int(skipped[b].sum()) for b in range(B)]}
    if record_first_step:
        res["first_step_conf"] = first_conf
        res["first_step_tok"] = first_tok
    return res


@torch.no_grad()
def span_confidence(model, prompts: Sequence[Sequence[int]], gen_length: int, toks: Tokens, device):
    """Confidence and chosen token of every position of a fully masked span (one forward per row
    batch): the whole-span view of the first step."""
    B = len(prompts)
    P = max(len(p) for p in prompts)
    canvas = torch.full((B, P + gen_length), toks.pad_id, dtype=torch.long)
    left_pad = torch.zeros(B, dtype=torch.long)
    for b, p in enumerate(prompts):
        left_pad[b] = P - len(p)
        canvas[b, P - len(p):P] = torch.tensor(list(p), dtype=torch.long)
    canvas[:, P:] = toks.mask_id
    pos = torch.arange(P, P + gen_length, device=device)
    logits = model.logits_at_padded(canvas.to(device), pos, left_pad.to(device))
    tok, c = confidence_and_token(logits, toks.mask_id)
    return tok.cpu(), c.cpu()
