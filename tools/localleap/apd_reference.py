"""The plain reference of APD, adaptive parallel decoding (docs/decoding.md "APD"; issue 16).

A diffusion LM drafts the next masked positions from its marginals, a small causal LM with the
same tokenizer scores the draft in one causal forward, and the longest prefix on which the draft
agrees with a sample of the mixture R * dLLM logits + (1 - R) * AR logits (drawn with the draft's
own Gumbel noise) is committed, its first token always. Left to right, one cursor per row.
Israel, Van den Broeck, Grover, "Accelerating Diffusion LLMs via Adaptive Parallel Decoding"
(arXiv 2506.00413); knobs R (mixtureWeight), W (kvWindow: the dLLM's recompute window over its
KV cache) and M (maxLookahead: the masked positions the dLLM sees and drafts).

The dLLM's steps without a cache run the archive's logits_at on the canvas cut after the
lookahead; with a KV window, its first step and its window steps run the plain transformer of
reference_cache.py on the archive's weights, and every causal-LM call runs PlainCausal on the AR
archive's weights, in the shapes docs/decoding.md gives, so that a match with the engine means
something (as reference_decoder.py does for the block rule's cached steps). The choice of tokens
is float32 arithmetic bit for bit as the engine's (rule_math.py). Rows are decoded one by one:
a row decodes the same alone or in a batch by construction.
"""
import json
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from . import hash_rng, rule_math
from .commit_rule import argmax_except
from .metadata import tokenizer_tokens, validate_metadata
from .reference_cache import PlainCausal
from .reference_decoder import ReferenceModel

F32 = np.float32

# The paper demo's settings (danielmisrael/apd demo.py: R 0.7, W 16, M 100).
DEFAULT_MIXTURE_WEIGHT = 0.7
DEFAULT_KV_WINDOW = 16
DEFAULT_MAX_LOOKAHEAD = 100


class VocabMismatch(ValueError):
    """The causal LM cannot verify this dLLM's drafts: its token ids mean other tokens, or its
    logits do not cover the dLLM's tokens. `reason` is one word for the engine's typed error."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"APD vocabulary mismatch ({reason}): {message}")
        self.reason = reason


def archive_file(path: str, name: str) -> Optional[str]:
    """The text of an extra file (localleap.json, tokenizer.json, ...) of a TorchScript archive,
    read from the zip (torch.jit.save puts it at <archive name>/extra/<name>); None when absent."""
    try:
        with zipfile.ZipFile(path) as z:
            for member in z.namelist():
                if member.endswith("/extra/" + name) and member.count("/") == 2:
                    return z.read(member).decode("utf-8")
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: cannot read the archive ({e})") from None
    return None


def archive_tokenizer(path: str) -> Optional[Dict]:
    text = archive_file(path, "tokenizer.json")
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"{path}: the embedded tokenizer.json is not JSON") from None


class CausalReference:
    """A causal-LM archive (kind causal, docs/model-format.md), read for APD."""

    def __init__(self, path: str, device: str = "cpu"):
        extra = {"localleap.json": ""}
        try:
            self.module = torch.jit.load(path, map_location=device, _extra_files=extra)
        except (RuntimeError, ValueError, OSError) as e:
            raise ValueError(f"{path}: cannot load the TorchScript archive ({str(e).strip().splitlines()[0]})") from None
        try:
            self.meta = json.loads(extra["localleap.json"])
            validate_metadata(self.meta)
        except json.JSONDecodeError:
            raise ValueError(f"{path}: localleap.json is missing or not JSON") from None
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        if self.meta.get("kind") != "causal":
            raise ValueError(f"{path}: APD's autoregressive model must be a causal LM archive (kind causal, e.g. "
                             f"tools/export_hf.py on a Qwen2.5 checkpoint); this is a diffusion LM "
                             f"({self.meta['architecture']})")
        m = self.meta
        self.path, self.device = path, device
        self.vocab, self.eos_id, self.end_ids = m["vocabSize"], m["eosId"], list(m["endIds"])
        self.max_length = m["maxLength"]
        self.tokenizer = archive_tokenizer(path)
        self._plain = None

    def plain(self) -> PlainCausal:
        if self._plain is None:
            self._plain = PlainCausal(self.module.state_dict(), self.meta["config"], self.meta["attention"])
        return self._plain


# ---------------------------------------------------------------------------------------------
# The vocabulary check

def _merges(tok: Dict) -> List[str]:
    return [m if isinstance(m, str) else " ".join(m) for m in (tok.get("model") or {}).get("merges") or []]


def _added(tok: Dict) -> Dict[str, int]:
    return {t["content"]: t["id"] for t in tok.get("added_tokens") or [] if isinstance(t, dict)
            and isinstance(t.get("content"), str) and type(t.get("id")) is int}


def check_vocab(dllm_meta: Dict, dllm_tok: Optional[Dict], ar_meta: Dict, ar_tok: Optional[Dict]) -> int:
    """The width V' of the logits APD mixes: min(dLLM vocabSize, AR vocabSize). Raises
    VocabMismatch unless the two tokenizers give the same ids the same meaning:

    - both archives embed a tokenizer.json (without one the check cannot be made);
    - the same tokenizer model type and, for BPE, the same merges;
    - every token of the AR's tokenizer (text -> id) has that id in the dLLM's;
    - the dLLM's tokens the AR lacks are added tokens (Dream's <|mask|>, <|beginoftext|>), at ids
      the AR's tokenizer does not use;
    - every dLLM token except the mask, and its eosId and endIds, lie below V' (the AR must be
      able to read and score whatever the dLLM can draft).

    The pre-tokenizer and normalizer are not compared: the AR never tokenizes text in APD, it
    reads the dLLM's ids. Logit widths may differ (Dream-v0-7B 152064, Qwen2.5-0.5B 151936 over
    the same 151667 tokens): ids from V' up are no token of either tokenizer, and APD drafts and
    mixes over [0, V') only."""
    for who, tok in (("the dLLM", dllm_tok), ("the AR model", ar_tok)):
        if tok is None:
            raise VocabMismatch("no-tokenizer", f"{who}'s archive has no tokenizer.json, so it cannot be checked "
                                                "that both models share one vocabulary (re-export it with its "
                                                "tokenizer embedded)")
    d_type = (dllm_tok.get("model") or {}).get("type")
    a_type = (ar_tok.get("model") or {}).get("type")
    if d_type != a_type:
        raise VocabMismatch("tokenizer", f"the dLLM's tokenizer is {d_type!r}, the AR model's {a_type!r}")
    if d_type == "BPE" and _merges(dllm_tok) != _merges(ar_tok):
        dm, am = _merges(dllm_tok), _merges(ar_tok)
        k = next((i for i, (x, y) in enumerate(zip(dm, am)) if x != y), min(len(dm), len(am)))
        raise VocabMismatch("tokenizer", f"the BPE merges differ ({len(dm)} and {len(am)} merges, first difference "
                                         f"at merge {k})")
    d_map, a_map = tokenizer_tokens(dllm_tok), tokenizer_tokens(ar_tok)
    for text, i in sorted(a_map.items(), key=lambda kv: kv[1]):
        j = d_map.get(text)
        if j != i:
            where = "is not in the dLLM's tokenizer" if j is None else f"is id {j} in the dLLM's tokenizer"
            raise VocabMismatch("tokenizer", f"the AR model's token {text!r} (id {i}) {where}")
    d_added = _added(dllm_tok)
    a_ids = set(a_map.values())
    extra = sorted(((i, t) for t, i in d_map.items() if t not in a_map))
    plain = [(i, t) for i, t in extra if t not in d_added]
    if plain:
        raise VocabMismatch("tokenizer", f"the dLLM's tokenizer has {len(plain)} tokens the AR model's lacks, e.g. "
                                         f"{plain[0][1]!r} (id {plain[0][0]}): not the same vocabulary")
    clash = [(i, t) for i, t in extra if i in a_ids]
    if clash:
        raise VocabMismatch("tokenizer", f"the dLLM's token {clash[0][1]!r} has id {clash[0][0]}, which is another "
                                         f"token in the AR model's tokenizer")
    vd, va = dllm_meta["vocabSize"], ar_meta["vocabSize"]
    width = min(vd, va)
    mask = dllm_meta.get("maskId")
    outside = [(i, t) for t, i in sorted(d_map.items(), key=lambda kv: kv[1]) if i >= width and i != mask]
    if outside:
        raise VocabMismatch("width", f"the dLLM's token {outside[0][1]!r} (id {outside[0][0]}) is outside the AR "
                                     f"model's {va} logits: APD mixes over ids below min({vd}, {va}) = {width}")
    for name in ("eosId", "endIds"):
        ids = dllm_meta[name] if isinstance(dllm_meta[name], list) else [dllm_meta[name]]
        bad = [i for i in ids if i >= width]
        if bad:
            raise VocabMismatch("width", f"the dLLM's {name} {bad[0]} is outside the shared {width} logits")
    return width


# ---------------------------------------------------------------------------------------------
# The rule

def mixture(z_dllm: np.ndarray, z_ar: np.ndarray, weight: float) -> np.ndarray:
    """float32 y = fmaf(r, zD, q * zA) with r = float32(R), q = 1 - r in float32; y = zD exactly
    when r = 1 and zA when r = 0 (so that an infinite logit of the unused model cannot make 0 * inf);
    NaN logits, before and after, count as -inf."""
    r = F32(weight)
    zd, za = rule_math.sanitize(z_dllm), rule_math.sanitize(z_ar)
    if r == F32(1):
        return zd
    if r == F32(0):
        return za
    q = F32(F32(1) - r)
    with np.errstate(invalid="ignore", over="ignore"):
        y = rule_math.fmaf(r, zd, (q * za).astype(F32))
    return rule_math.sanitize(y)


def choose(z: np.ndarray, noise: Optional[np.ndarray], inv_temperature: float, mask_id: int) -> np.ndarray:
    """Row-wise token: the lowest index of the highest score, the mask id excluded. Greedy
    (noise None): score = z; sampling: score = fmaf(z, 1/T, g), g the Gumbel noise."""
    z = rule_math.sanitize(z)
    score = z if noise is None else rule_math.gumbel_scores(z, inv_temperature, noise)
    return argmax_except(score, mask_id).astype(np.int64)


def accept_length(draft: np.ndarray, target: np.ndarray) -> int:
    """1 + the number of leading positions after the first where draft == target."""
    a = 1
    while a < len(draft) and draft[a] == target[a]:
        a += 1
    return a


def _check_options(gen_length: int, block_length: Optional[int], mixture_weight: float, kv_window: Optional[int],
                   max_lookahead: int, temperature: float) -> None:
    if type(gen_length) is not int or gen_length <= 0:
        raise ValueError(f"genLength must be a positive integer, got {gen_length!r}")
    if block_length is not None and block_length != gen_length:
        raise ValueError(f"APD decodes left to right in one block: blockLength must be genLength ({gen_length}) or "
                         f"left out, got {block_length!r}")
    if not (isinstance(mixture_weight, (int, float)) and 0.0 <= float(mixture_weight) <= 1.0):
        raise ValueError(f"mixtureWeight (R) must be a number in [0, 1], got {mixture_weight!r}")
    if kv_window is not None and (type(kv_window) is not int or kv_window < 1):
        raise ValueError(f"kvWindow (W) must be an integer >= 1, or null for no dLLM KV cache, got {kv_window!r}")
    if type(max_lookahead) is not int or max_lookahead < 1:
        raise ValueError(f"maxLookahead (M) must be an integer >= 1, got {max_lookahead!r}")
    if not (np.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")


def apd_decode(dllm: ReferenceModel, ar: Optional[CausalReference], prompts: Sequence[Sequence[int]],
               gen_length: int, mixture_weight: float = DEFAULT_MIXTURE_WEIGHT,
               kv_window: Optional[int] = DEFAULT_KV_WINDOW, max_lookahead: int = DEFAULT_MAX_LOOKAHEAD,
               temperature: float = 0.0, seeds: Optional[Sequence[int]] = None, stop_at_eos: bool = False,
               block_length: Optional[int] = None, trace: bool = False) -> Dict:
    """{"rows": [{"tokens", "steps", "dllmForwards", "arForwards", "acceptedPerStep",
    "finishReason"} (+ "trace" with trace=True)], "batchSteps", "vocabWidth"}.

    ar may be None only with mixtureWeight 1 (the target is then the draft: the AR never runs).
    batchSteps is the largest row's steps (a batch steps together until its last row is done)."""
    _check_options(gen_length, block_length, mixture_weight, kv_window, max_lookahead, temperature)
    if ar is None:
        if F32(mixture_weight) != F32(1):
            raise ValueError("APD needs its autoregressive model unless mixtureWeight is 1")
        width = dllm.vocab
    else:
        width = check_vocab(dllm.meta, archive_tokenizer(dllm.path), ar.meta, ar.tokenizer)
    if dllm.version < 2 and kv_window is not None:
        dllm.check_cache("apd kvWindow")
    B = len(prompts)
    if B == 0:
        raise ValueError("no prompts")
    seeds = [0] * B if seeds is None else [int(s) for s in seeds]
    if len(seeds) != B:
        raise ValueError(f"{len(seeds)} seeds for {B} prompts")
    lens = [len(p) for p in prompts]
    if min(lens) < 1:
        raise ValueError("every prompt needs at least one token")
    P = max(lens)
    for who, limit in (("dLLM", dllm.max_length), ("AR model", None if ar is None else ar.max_length)):
        if limit is not None and P + gen_length > limit:
            raise ValueError(f"prompt {P} + genLength {gen_length} exceeds the {who}'s maxLength {limit}")
    for b, p in enumerate(prompts):
        if any(not 0 <= int(t) < width for t in p):
            raise ValueError(f"prompt {b} has a token outside [0, {width})" +
                             ("" if width == dllm.vocab else " (the ids both models share)"))
        if dllm.mask_id in p:
            raise ValueError(f"prompt {b} contains the mask id {dllm.mask_id}")
    rows = [_decode_row(dllm, ar, [int(t) for t in p], gen_length, width, float(mixture_weight), kv_window,
                        max_lookahead, float(temperature), seeds[b], stop_at_eos, trace)
            for b, p in enumerate(prompts)]
    return {"rows": rows, "batchSteps": max(r["steps"] for r in rows), "vocabWidth": width}


def _kv_buffers(cfg: Dict, length: int) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    d = cfg["hidden_size"] // cfg["num_heads"]
    kvh = cfg["num_kv_heads"] or cfg["num_heads"]
    return [(torch.zeros(1, kvh, length, d), torch.zeros(1, kvh, length, d)) for _ in range(cfg["num_layers"])]


def _store(buffers, fresh, window: torch.Tensor) -> None:
    for (k, v), (fk, fv) in zip(buffers, fresh):
        k[:, :, window] = fk.to(k.dtype)
        v[:, :, window] = fv.to(v.dtype)


def _cut(buffers, end: int):
    return [(k[:, :, :end], v[:, :, :end]) for k, v in buffers]


def _decode_row(dllm: ReferenceModel, ar: Optional[CausalReference], prompt: List[int], G: int, width: int,
                R: float, W: Optional[int], M: int, T: float, seed: int, stop_at_eos: bool, trace: bool) -> Dict:
    P = len(prompt)
    L = P + G
    s = 1 if dllm.shifted else 0
    canvas = np.full(L, dllm.mask_id, dtype=np.int64)
    canvas[:P] = prompt
    inv_t = float(F32(1.0 / T)) if T > 0 else 0.0
    dbuf = _kv_buffers(dllm.meta["config"], L) if W is not None else None
    abuf = _kv_buffers(ar.meta["config"], L) if ar is not None else None
    ar_len = 0          # AR positions [0, ar_len) hold keys/values of committed tokens
    c, prev_c = P, P    # the cursor now and at the previous step's start
    steps = ar_forwards = 0
    accepted: List[int] = []
    log: List[Dict] = []
    while c < L:
        right = min(c + M, L)
        n = right - c
        ids = torch.from_numpy(canvas[None, :right].copy())
        out = torch.arange(c - s, right - s)  # the dLLM outputs that predict positions c..right-1
        left = None
        if W is None:
            z = dllm.logits(canvas[None, :right], out.numpy(), np.zeros(1, dtype=np.int64))[0]
        elif steps == 0:
            zt, fresh = dllm.plain().full(ids, out, None)
            _store(dbuf, fresh, torch.arange(right))
            z = zt[0].float().numpy()
        else:
            left = max(0, prev_c - W + 1)
            window = torch.arange(left, right)
            zt, fresh = dllm.plain().window_kv(ids, window, out - left, None, _cut(dbuf, right))
            _store(dbuf, fresh, window)
            z = zt[0].float().numpy()
        zd = np.ascontiguousarray(z[:, :width], dtype=F32)
        noise = None
        if T > 0:
            noise = rule_math.gumbel_noise(hash_rng.position_hash(seed, steps, np.arange(c, right) - P), width)
        draft = choose(zd, noise, inv_t, dllm.mask_id)
        target = None
        if n == 1 or F32(R) == F32(1):
            a = n  # one position (always accepted), or the target is the draft itself
        else:
            end = right - 1  # the AR reads the draft up to its last token but one
            row = canvas[:end].copy()
            row[c:end] = draft[:n - 1]
            ar_ids = torch.from_numpy(row[None, :])
            plain = ar.plain()
            if ar_len == 0:
                zt, fresh = plain.full(ar_ids, torch.arange(c, end), None)
                _store(abuf, fresh, torch.arange(end))
            else:
                window = torch.arange(ar_len, end)
                zt, fresh = plain.window_kv(ar_ids, window, torch.arange(c - ar_len, end - ar_len), None,
                                            _cut(abuf, end))
                _store(abuf, fresh, window)
            ar_forwards += 1
            za = np.ascontiguousarray(zt[0].float().numpy()[:, :width], dtype=F32)  # predicts c+1..right-1
            y = mixture(zd[1:], za, R)
            target = np.concatenate([draft[:1], choose(y, None if noise is None else noise[1:], inv_t, dllm.mask_id)])
            a = accept_length(draft, target)
            ar_len = min(c + a, end)
        canvas[c:c + a] = draft[:a]
        if trace:
            log.append({"cursor": c - P, "lookahead": n, "window": None if left is None else [left - P, right - P],
                        "draft": draft.tolist(), "target": None if target is None else target.tolist(),
                        "accepted": a})
        steps += 1
        accepted.append(a)
        prev_c, c = c, c + a
        if stop_at_eos and np.isin(draft[:a], dllm.end_ids).any():
            canvas[c:] = dllm.eos_id
            break
    span = canvas[P:].tolist()
    row = {"tokens": span, "steps": steps, "dllmForwards": steps, "arForwards": ar_forwards,
           "acceptedPerStep": accepted,
           "finishReason": "eos" if any(t in dllm.end_ids for t in span) else "length"}
    if trace:
        row["trace"] = log
    return row
