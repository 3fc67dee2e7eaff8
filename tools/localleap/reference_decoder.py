"""The plain reference decoder of docs/decoding.md, on a TorchScript model archive.

It calls the methods the engine calls (logits_at with the current block's positions, minus one for
shifted models; logits_at_padded for left-padded batches) and applies commit_rule to each row.
"""
import json
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .commit_rule import STRATEGIES, check_steps, choose, commit_mask, order_keys, schedule


class ReferenceModel:
    def __init__(self, path: str, device: str = "cpu"):
        extra = {"localleap.json": ""}
        try:
            self.module = torch.jit.load(path, map_location=device, _extra_files=extra)
        except (RuntimeError, ValueError, OSError) as e:
            raise ValueError(f"{path}: cannot load the TorchScript archive ({str(e).strip().splitlines()[0]})") from None
        try:
            self.meta = json.loads(extra["localleap.json"])
        except json.JSONDecodeError:
            raise ValueError(f"{path}: localleap.json is missing or not JSON") from None
        self.path, self.device = path, device
        m = self.meta
        self.vocab, self.mask_id, self.eos_id = m["vocabSize"], m["maskId"], m["eosId"]
        self.end_ids, self.pad_id = list(m["endIds"]), m["padId"]
        self.shifted, self.max_length = bool(m["logitsShifted"]), m["maxLength"]

    def logits(self, canvas: np.ndarray, positions: np.ndarray, left_pad: np.ndarray) -> np.ndarray:
        """float32 [B, K, V] model outputs at `positions` (shared by all rows)."""
        ids = torch.from_numpy(np.ascontiguousarray(canvas, dtype=np.int64)).to(self.device)
        pos = torch.from_numpy(np.ascontiguousarray(positions, dtype=np.int64)).to(self.device)
        with torch.no_grad():
            if left_pad.any():
                pad = torch.from_numpy(np.ascontiguousarray(left_pad, dtype=np.int64)).to(self.device)
                z = self.module.logits_at_padded(ids, pos, pad)
            else:
                z = self.module.logits_at(ids, pos)
        z = z.float().cpu().numpy()
        if z.shape != (canvas.shape[0], len(positions), self.vocab):
            raise ValueError(f"{self.path}: logits have shape {list(z.shape)}, expected "
                             f"{[canvas.shape[0], len(positions), self.vocab]}")
        return z


def decode(model: ReferenceModel, prompts: Sequence[Sequence[int]], gen_length: int, block_length: int = 32,
           strategy: str = "low-confidence", steps: Optional[int] = None, threshold: float = 0.9,
           anchor_threshold: float = 0.9, relaxed_threshold: float = 0.75, radius: int = 4,
           temperature: float = 0.0, seeds: Optional[Sequence[int]] = None, stop_at_eos: bool = False) -> Dict:
    """{"rows": [{"tokens", "steps", "stepsPerBlock", "finishReason"}], "batchSteps"}."""
    B = len(prompts)
    if B == 0:
        raise ValueError("no prompts")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if gen_length <= 0 or block_length <= 0 or gen_length % block_length:
        raise ValueError(f"genLength {gen_length} must be a positive multiple of blockLength {block_length}")
    for name, v in (("threshold", threshold), ("anchorThreshold", anchor_threshold),
                    ("relaxedThreshold", relaxed_threshold)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
    if int(radius) != radius or radius < 0:
        raise ValueError(f"radius must be a non-negative integer, got {radius!r}")
    if not (np.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    num_blocks = gen_length // block_length
    steps_per_block = check_steps(gen_length, block_length, gen_length if steps is None else steps) \
        if strategy in ("low-confidence", "random") else None
    seeds = [0] * B if seeds is None else [int(s) for s in seeds]
    if len(seeds) != B:
        raise ValueError(f"{len(seeds)} seeds for {B} prompts")
    lens = [len(p) for p in prompts]
    if min(lens) < 1:
        raise ValueError("every prompt needs at least one token")
    P = max(lens)
    if P + gen_length > model.max_length:
        raise ValueError(f"prompt {P} + genLength {gen_length} exceeds the model's maxLength {model.max_length}")
    for b, p in enumerate(prompts):
        if any(not 0 <= int(t) < model.vocab for t in p):
            raise ValueError(f"prompt {b} has a token outside [0, {model.vocab})")
        if model.mask_id in p:
            raise ValueError(f"prompt {b} contains the mask id {model.mask_id}")  # as the engine

    # Left-padded canvas: every row's generation span is columns P..P+G-1.
    canvas = np.full((B, P + gen_length), model.mask_id, dtype=np.int64)
    left_pad = np.array([P - n for n in lens], dtype=np.int64)
    for b, p in enumerate(prompts):
        canvas[b, :left_pad[b]] = model.pad_id
        canvas[b, left_pad[b]:P] = np.asarray(p, dtype=np.int64)
    row_steps = [0] * B
    per_block = [[0] * num_blocks for _ in range(B)]
    stopped = [False] * B
    n_first = [0] * B  # masked positions at the block's first step (the schedule's n)
    batch_steps = 0
    for blk in range(num_blocks):
        lo, hi = P + blk * block_length, P + (blk + 1) * block_length
        positions = np.arange(lo, hi) - (1 if model.shifted else 0)
        if positions[0] < 0:
            raise ValueError("shifted logits need a prompt of at least one token")
        while True:
            todo = [b for b in range(B) if not stopped[b] and (canvas[b, lo:hi] == model.mask_id).any()]
            if not todo:
                break
            z = model.logits(canvas, positions, left_pad)
            batch_steps += 1
            for b in todo:
                block = canvas[b, lo:hi]
                masked = block == model.mask_id
                j = per_block[b][blk]
                if j == 0:
                    n_first[b] = int(masked.sum())
                if j >= (steps_per_block or block_length):
                    # Only possible when the model commits the mask token itself (position stays masked).
                    raise ValueError(f"row {b}, block {blk}: still masked after {j} steps because the mask "
                                     "token was committed; docs/decoding.md does not cover this")
                k = schedule(n_first[b], steps_per_block)[j] if steps_per_block else 1
                gen_pos = np.arange(lo, hi) - P
                t, c = choose(z[b], temperature, seeds[b], row_steps[b], gen_pos, model.mask_id)
                keys = order_keys(strategy, c, seeds[b], row_steps[b], gen_pos)
                commit = commit_mask(strategy, masked, c, keys, k, threshold, anchor_threshold,
                                     relaxed_threshold, radius)
                assert commit.any(), "every step commits at least one token"
                canvas[b, lo:hi] = np.where(commit, t, block)
                row_steps[b] += 1
                per_block[b][blk] += 1
        for b in range(B):
            if stop_at_eos and not stopped[b] and np.isin(canvas[b, lo:hi], model.end_ids).any():
                canvas[b, hi:] = model.eos_id
                stopped[b] = True
        if all(stopped):
            break
    rows = []
    for b in range(B):
        span = canvas[b, P:].tolist()
        rows.append({"tokens": span, "steps": row_steps[b], "stepsPerBlock": per_block[b],
                     "finishReason": "eos" if any(t in model.end_ids for t in span) else "length"})
    return {"rows": rows, "batchSteps": batch_steps}
