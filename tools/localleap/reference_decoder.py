"""The plain reference decoder of docs/decoding.md, on a TorchScript model archive.

It calls the methods the engine calls (logits_at with the current block's positions, minus one for
shifted models; logits_at_padded for left-padded batches) and applies commit_rule to each row.
With a KV cache ("prefix", "dual") the later steps of a block run only a window of the canvas; the
reference computes those with its own plain transformer (reference_cache.py) on the archive's
weights, not with the archive's cache_step, so that a match with the engine means something.
"""
import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .commit_rule import STRATEGIES, check_steps, choose, commit_mask, order_keys, schedule
from .metadata import validate_metadata

CACHES = ("none", "prefix", "dual")


class ReferenceModel:
    def __init__(self, path: str, device: str = "cpu"):
        extra = {"localleap.json": "", "learned_filter.json": ""}
        try:
            self.module = torch.jit.load(path, map_location=device, _extra_files=extra)
        except (RuntimeError, ValueError, OSError) as e:
            raise ValueError(f"{path}: cannot load the TorchScript archive ({str(e).strip().splitlines()[0]})") from None
        try:
            self.meta = json.loads(extra["localleap.json"])
        except json.JSONDecodeError:
            raise ValueError(f"{path}: localleap.json is missing or not JSON") from None
        try:
            validate_metadata(self.meta)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        if self.meta.get("kind", "diffusion") != "diffusion":
            raise ValueError(f"{path}: a {self.meta['kind']} LM archive (kind {self.meta['kind']}, architecture "
                             f"{self.meta['architecture']}) is not a diffusion LM: it can only be the autoregressive "
                             "model of APD (tools/localleap/apd_reference.py)")
        self.path, self.device = path, device
        # learned_filter.json (docs/decoding.md "Learned filter"): None when the archive has none.
        self.learned_filter = None
        if extra["learned_filter.json"]:
            from .learned_filter import parse
            self.learned_filter = parse(extra["learned_filter.json"], f"{path}: learned_filter.json")
        self.version = self.meta["formatVersion"]
        self._plain = None
        m = self.meta
        self.vocab, self.mask_id, self.eos_id = m["vocabSize"], m["maskId"], m["eosId"]
        self.end_ids, self.pad_id = list(m["endIds"]), m["padId"]
        self.shifted, self.max_length = bool(m["logitsShifted"]), m["maxLength"]

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(self.device)

    def _checked(self, z: torch.Tensor, rows: int, k: int) -> np.ndarray:
        z = z.float().cpu().numpy()
        if z.shape != (rows, k, self.vocab):
            raise ValueError(f"{self.path}: logits have shape {list(z.shape)}, expected {[rows, k, self.vocab]}")
        return z

    def logits(self, canvas: np.ndarray, positions: np.ndarray, left_pad: np.ndarray) -> np.ndarray:
        """float32 [B, K, V] model outputs at `positions` (shared by all rows)."""
        ids, pos = self._tensor(canvas), self._tensor(positions)
        with torch.no_grad():
            if left_pad.any():
                z = self.module.logits_at_padded(ids, pos, self._tensor(left_pad))
            else:
                z = self.module.logits_at(ids, pos)
        return self._checked(z, canvas.shape[0], len(positions))

    def check_cache(self, cache: str) -> None:
        """The engine runs format 1 archives (no cache methods) with cache "none" only; so does this."""
        if self.version < 2:
            raise ValueError(f"{self.path}: cache {cache!r} needs a format 2 archive (this one is format "
                             f"{self.version}, without the KV-cache methods): re-export with tools/export.py "
                             "(or tools/export_hf.py)")

    def plain(self):
        """The plain transformer on this archive's weights (built on first use)."""
        if self._plain is None:
            from .reference_cache import PlainTransformer
            self._plain = PlainTransformer(self.module.state_dict(), self.meta["config"], self.meta["attention"])
        return self._plain

    def cache_full(self, canvas: np.ndarray, left_pad: np.ndarray):
        """Every position's keys/values (the plain transformer's full pass), for cache_window."""
        ids = self._tensor(canvas)
        _, kv = self.plain().full(ids, ids.new_zeros(1), self._tensor(left_pad) if left_pad.any() else None)
        return kv

    def cache_window(self, canvas: np.ndarray, window: np.ndarray, positions: np.ndarray, left_pad: np.ndarray,
                     kv) -> np.ndarray:
        """float32 [B, K, V] outputs at window[positions] when only `window` runs, over the stored kv."""
        z = self.plain().window(self._tensor(canvas), self._tensor(window), self._tensor(positions),
                                self._tensor(left_pad) if left_pad.any() else None, kv)
        return self._checked(z, canvas.shape[0], len(positions))


def decode(model: ReferenceModel, prompts: Sequence[Sequence[int]], gen_length: int, block_length: int = 32,
           strategy: str = "low-confidence", steps: Optional[int] = None, threshold: float = 0.9,
           anchor_threshold: float = 0.9, relaxed_threshold: float = 0.75, radius: int = 4,
           temperature: float = 0.0, seeds: Optional[Sequence[int]] = None, stop_at_eos: bool = False,
           cache: str = "none", end_of_text: bool = False, adaptive_block: Optional[Dict] = None,
           accept_threshold: Optional[float] = None, observer=None) -> Dict:
    """{"rows": [{"tokens", "steps", "stepsPerBlock", "finishReason"}], "batchSteps"}.

    cache "prefix" / "dual": a block's first batch step runs the whole canvas and stores every
    position's keys/values; its later steps run only a window (see block_logits).
    end_of_text: a row stops right after the step that commits an end token with every position
    before it decoded (end_of_text_offset); the rest of its canvas becomes EOS.
    adaptive_block {"window", "delimiter_threshold"}: AdaBlock's adaptive block lengths
    (docs/decoding.md "Adaptive blocks"; see decode_adaptive): rows also carry "blockLengths".
    strategy "learned": the archive's learned filter with accept_threshold t (default: the filter's
    stored acceptThreshold); blockLength at most the filter's.
    observer(row, block, masked, tokens, conf): called at every step of every row with the block's
    mask, chosen tokens and confidences before the commit (tools/train_filter.py records them)."""
    if adaptive_block is not None:
        return decode_adaptive(model, prompts, gen_length, block_length, strategy, steps, threshold,
                               anchor_threshold, relaxed_threshold, radius, temperature, seeds, stop_at_eos,
                               cache, adaptive_block, end_of_text, accept_threshold)
    B = len(prompts)
    if B == 0:
        raise ValueError("no prompts")
    if cache not in CACHES:
        raise ValueError(f"cache must be one of {', '.join(CACHES)}, got {cache!r}")
    if cache != "none":
        model.check_cache(cache)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if gen_length <= 0 or block_length <= 0 or gen_length % block_length:
        raise ValueError(f"genLength {gen_length} must be a positive multiple of blockLength {block_length}")
    for name, v in (("threshold", threshold), ("anchorThreshold", anchor_threshold),
                    ("relaxedThreshold", relaxed_threshold)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
    if strategy == "learned":
        if model.learned_filter is None:
            raise ValueError(f"{model.path}: strategy 'learned' needs a learned filter and the archive has no "
                             "learned_filter.json (add one with tools/add_filter.py)")
        if block_length > model.learned_filter.block_length:
            raise ValueError(f"blockLength {block_length} is longer than the learned filter's "
                             f"{model.learned_filter.block_length}")
        if accept_threshold is None:
            accept_threshold = model.learned_filter.accept_threshold
        if not 0.0 <= accept_threshold <= 1.0:
            raise ValueError(f"acceptThreshold must be a number in [0, 1], got {accept_threshold!r}")
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
        kv = None  # this block's stored keys/values, from its first step
        while True:
            todo = [b for b in range(B) if not stopped[b] and (canvas[b, lo:hi] == model.mask_id).any()]
            if not todo:
                break
            z, kv = block_logits(model, cache, canvas, lo, hi, left_pad, kv)
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
                if observer is not None:
                    observer(b, blk, masked.copy(), t, c)
                commit = commit_mask(strategy, masked, c, keys, k, threshold, anchor_threshold,
                                     relaxed_threshold, radius, model.learned_filter,
                                     0.96 if accept_threshold is None else accept_threshold)
                assert commit.any(), "every step commits at least one token"
                canvas[b, lo:hi] = np.where(commit, t, block)
                row_steps[b] += 1
                per_block[b][blk] += 1
                at = end_of_text_offset(canvas[b, lo:hi], model.mask_id, model.end_ids) if end_of_text else None
                if at is not None:
                    canvas[b, lo + at + 1:] = model.eos_id
                    stopped[b] = True
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


def end_of_text_offset(block: np.ndarray, mask_id: int, end_ids: Sequence[int]) -> Optional[int]:
    """Offset of the block's first end token when nothing before it is masked, else None (earlier
    blocks are decoded and hold no end token, or the row would have stopped)."""
    for i, t in enumerate(block.tolist()):
        if t == mask_id:
            return None
        if t in end_ids:
            return i
    return None


def cache_window(cache: str, lo: int, hi: int, length: int, shift: int) -> Tuple[np.ndarray, np.ndarray]:
    """(window, positions) of a block's cached step: the block (and, shifted, the position before
    it, whose output predicts the block's first token) for "dual", everything from there to the
    canvas end for "prefix"; positions index the window at the block's outputs."""
    end = hi if cache == "dual" else length
    return np.arange(lo - shift, end), np.arange(hi - lo)


def block_logits(model, cache: str, canvas: np.ndarray, lo: int, hi: int, left_pad: np.ndarray, kv):
    """(logits [B, hi - lo, V] of the block's outputs, kv for the block's next step). Without a cache,
    or at the block's first step (kv None), the whole canvas runs (the archive's logits_at); the
    cache also takes every position's keys/values then, from the plain transformer. Later steps
    run the window only, over those keys/values."""
    shift = 1 if model.shifted else 0
    if cache == "none" or kv is None:
        z = model.logits(canvas, np.arange(lo, hi) - shift, left_pad)
        return z, (None if cache == "none" else model.cache_full(canvas, left_pad))
    window, positions = cache_window(cache, lo, hi, canvas.shape[1], shift)
    return model.cache_window(canvas, window, positions, left_pad, kv), kv


def adaptive_block_length(tokens: np.ndarray, conf: np.ndarray, masked: np.ndarray, delimiter_ids: Sequence[int],
                          delimiter_threshold: float, fallback: int) -> int:
    """AdaBlock's length at a block's first step, over the window's offsets: the most confident masked
    offset whose chosen token is a delimiter (ties: the lowest offset); when its confidence >= the
    threshold (float32 comparison) the block ends there, inclusive, else `fallback`."""
    best, best_conf = -1, np.float32(0)
    for i in range(len(tokens)):
        if masked[i] and int(tokens[i]) in delimiter_ids and (best < 0 or conf[i] > best_conf):
            best, best_conf = i, np.float32(conf[i])
    if best >= 0 and best_conf >= np.float32(delimiter_threshold):
        return best + 1
    return fallback


def adaptive_steps_per_block(length: int, steps: int, gen_length: int) -> int:
    """Steps of an adaptive block (low-confidence, random): max(1, floor(length * steps / G)) <= length."""
    return min(length, max(1, length * steps // gen_length))


def decode_adaptive(model: ReferenceModel, prompts: Sequence[Sequence[int]], gen_length: int, block_length: int,
                    strategy: str, steps: Optional[int], threshold: float, anchor_threshold: float,
                    relaxed_threshold: float, radius: int, temperature: float, seeds: Optional[Sequence[int]],
                    stop_at_eos: bool, cache: str, adaptive: Dict, end_of_text: bool = False,
                    accept_threshold: Optional[float] = None) -> Dict:
    """decode() with adaptive blocks. Rows are independent (each has its own blocks), so each decodes
    alone, unpadded (the engine's padded batches give the same logits on CPU float32)."""
    if not isinstance(adaptive, dict) or set(adaptive) - {"window", "delimiter_threshold", "delimiter_ids"}:
        raise ValueError("adaptive_block must be a dict with keys window, delimiter_threshold (and delimiter_ids, "
                         "which overrides the archive's delimiterIds)")
    delimiter_ids = adaptive.get("delimiter_ids") or model.meta.get("delimiterIds")
    if not delimiter_ids:
        raise ValueError(f"{model.path}: adaptive blocks need localleap.json delimiterIds; re-export the archive")
    window = adaptive.get("window")
    window = max(1, gen_length // 4) if window is None else window
    delimiter_threshold = adaptive.get("delimiter_threshold")
    if delimiter_threshold is None:
        delimiter_threshold = model.meta.get("delimiterThreshold", 0.3)
    if int(window) != window or not 1 <= window <= 1024:
        raise ValueError(f"adaptive window must be an integer in [1, 1024], got {window!r}")
    if not 0.0 <= delimiter_threshold <= 1.0:
        raise ValueError(f"delimiter threshold must be a number in [0, 1], got {delimiter_threshold!r}")
    if cache not in CACHES:
        raise ValueError(f"cache must be one of {', '.join(CACHES)}, got {cache!r}")
    if cache != "none":
        model.check_cache(cache)
        if len(prompts) > 1:
            raise ValueError("adaptive blocks with a cache take one prompt per call")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if gen_length <= 0 or block_length <= 0:
        raise ValueError("genLength and blockLength must be positive")
    schedule_steps = gen_length if steps is None else steps
    if strategy in ("low-confidence", "random") and not 1 <= schedule_steps <= gen_length:
        raise ValueError(f"steps must be between 1 and genLength {gen_length}, got {schedule_steps}")
    for name, v in (("threshold", threshold), ("anchorThreshold", anchor_threshold),
                    ("relaxedThreshold", relaxed_threshold)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be a number in [0, 1], got {v!r}")
    if int(radius) != radius or radius < 0:
        raise ValueError(f"radius must be a non-negative integer, got {radius!r}")
    if not (np.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if strategy == "learned":
        f = model.learned_filter
        if f is None:
            raise ValueError(f"{model.path}: strategy 'learned' needs a learned filter (tools/add_filter.py)")
        if block_length > f.block_length or window > f.block_length:
            raise ValueError(f"blockLength {block_length} and the adaptive window {window} must be at most the "
                             f"learned filter's block length {f.block_length}")
        if accept_threshold is None:
            accept_threshold = f.accept_threshold
    seeds = [0] * len(prompts) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != len(prompts) or not prompts:
        raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
    rows = [_decode_adaptive_row(model, list(p), gen_length, block_length, strategy, schedule_steps, threshold,
                                 anchor_threshold, relaxed_threshold, radius, temperature, seed, stop_at_eos, cache,
                                 int(window), float(delimiter_threshold), [int(d) for d in delimiter_ids], end_of_text,
                                 accept_threshold)
            for p, seed in zip(prompts, seeds)]
    # Free rows (cache none) share every forward in the engine: the call takes max(steps) forwards.
    return {"rows": rows, "batchSteps": max(r["steps"] for r in rows)}


def _decode_adaptive_row(model, prompt, G, Lb, strategy, steps, threshold, anchor_threshold, relaxed_threshold,
                         radius, temperature, seed, stop_at_eos, cache, window, delimiter_threshold, delimiter_ids,
                         end_of_text=False, accept_threshold=None):
    P = len(prompt)
    if P < 1:
        raise ValueError("every prompt needs at least one token")
    if P + G > model.max_length:
        raise ValueError(f"prompt {P} + genLength {G} exceeds the model's maxLength {model.max_length}")
    if any(not 0 <= int(t) < model.vocab for t in prompt) or model.mask_id in prompt:
        raise ValueError("a prompt has a token outside the vocabulary or the mask id")
    canvas = np.full((1, P + G), model.mask_id, dtype=np.int64)
    canvas[0, :P] = np.asarray(prompt, dtype=np.int64)
    left_pad = np.zeros(1, dtype=np.int64)
    schedule_rule = strategy in ("low-confidence", "random")
    row_steps, per_block, lengths = 0, [], []
    start = 0
    ended = False  # end_of_text stopped the row mid-block
    while start < G and not ended:
        lo = P + start
        span = min(max(Lb, window), G - start)  # what the block's first step computes
        length = None
        kv = None
        n_first = 0
        j = 0
        while True:
            hi = lo + (span if length is None else length)
            masked_all = canvas[0, lo:hi] == model.mask_id
            if length is not None and not masked_all.any():
                break
            z, kv = block_logits(model, cache, canvas, lo, hi, left_pad, kv)
            gen_pos = np.arange(lo, hi) - P
            t, c = choose(z[0], temperature, seed, row_steps, gen_pos, model.mask_id)
            if length is None:
                wl = min(window, G - start)
                length = adaptive_block_length(t[:wl], c[:wl], masked_all[:wl], delimiter_ids,
                                               delimiter_threshold, min(Lb, G - start))
                hi = lo + length
                t, c, gen_pos, masked_all = t[:length], c[:length], gen_pos[:length], masked_all[:length]
                n_first = int(masked_all.sum())
            spb = adaptive_steps_per_block(length, steps, G) if schedule_rule else None
            if j >= (spb or length):
                raise ValueError(f"block at {start}: still masked after {j} steps (the mask token was committed)")
            k = schedule(n_first, spb)[j] if spb else 1
            keys = order_keys(strategy, c, seed, row_steps, gen_pos)
            commit = commit_mask(strategy, masked_all, c, keys, k, threshold, anchor_threshold, relaxed_threshold,
                                 radius, model.learned_filter, 0.96 if accept_threshold is None else accept_threshold)
            assert commit.any(), "every step commits at least one token"
            canvas[0, lo:hi] = np.where(commit, t, canvas[0, lo:hi])
            row_steps += 1
            j += 1
            at = end_of_text_offset(canvas[0, lo:hi], model.mask_id, model.end_ids) if end_of_text else None
            if at is not None:
                canvas[0, lo + at + 1:] = model.eos_id
                ended = True
                break
        per_block.append(j)
        lengths.append(length)
        hi = lo + length
        start += length
        if stop_at_eos and np.isin(canvas[0, lo:hi], model.end_ids).any():
            canvas[0, hi:] = model.eos_id
            break
    span_tokens = canvas[0, P:].tolist()
    return {"tokens": span_tokens, "steps": row_steps, "stepsPerBlock": per_block, "blockLengths": lengths,
            "finishReason": "eos" if any(t in model.end_ids for t in span_tokens) else "length"}
