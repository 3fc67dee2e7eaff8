"""Neutral weights -> one TorchScript archive with localleap.json and the tokenizer files."""
import json
import os
import sys
import time
from typing import Callable, Dict, Optional, Tuple

import torch

from .metadata import build_metadata, tokenizer_files
from .model import HAS_SDPA
from .weights import DTYPES, load_model, read_config

# Allowed max |scripted - eager| relative to max(1, max |eager logit|); 0 is expected on CPU,
# fused kernels of the profiling executor may move low bits on GPUs.
PARITY_TOLERANCE = {"float32": 1e-4, "float16": 4e-3, "bfloat16": 3e-2}
# cache_step on an unchanged canvas recomputes the window with other matrix shapes, so it differs
# from the full forward by the dtype's own rounding: measured up to 5.9e-2 in bfloat16 (8 layers x
# 512, CPU), as far as bfloat16 logits_at is from the float32 forward. Bounds as
# hf/export.py's HF_PARITY_TOLERANCE; a cache left empty gave 0.16 to 0.26 on the 2-layer fixtures.
CACHE_STEP_TOLERANCE = {"float32": 1e-4, "float16": 2e-2, "bfloat16": 1e-1}


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def resolve_attention(attention: str) -> str:
    if attention == "auto":
        return "sdpa" if HAS_SDPA else "manual"
    if attention not in ("manual", "sdpa"):
        raise ValueError(f"attention must be auto, manual or sdpa, got {attention!r}")
    if attention == "sdpa" and not HAS_SDPA:
        raise ValueError(f"attention sdpa needs torch >= 2.0 (this is torch {torch.__version__})")
    return attention


def _cpu_half_matmul() -> bool:
    try:
        torch.ones(2, 2, dtype=torch.float16) @ torch.ones(2, 2, dtype=torch.float16)
        return True
    except RuntimeError:
        return False


def _cache_for(eager, batch: int, length: int, device: str) -> torch.Tensor:
    """A zeroed KV cache as the engine allocates it (model.py kv_cache_shape) for the eager model."""
    attn = eager.layers[0].attn
    shape = [len(eager.layers), 2, batch, attn.num_kv_heads, length, attn.head_dim]
    return torch.zeros(shape, dtype=eager.embed.weight.dtype, device=device)


def _cache_steps(scripted, canvas: torch.Tensor, kv: torch.Tensor, pad: int, left: Optional[torch.Tensor],
                 ref: torch.Tensor, gen: torch.Generator, device: str) -> Dict[str, torch.Tensor]:
    """cache_step on the canvas that cache_full just stored in kv, vs the eager logits ref, for a
    random block [lo, hi): dual and prefix windows, unshifted and shifted (s = 1 reads the outputs
    at lo-1..hi-2). Each step writes its window into kv, as the engine's later steps do; on an
    unchanged canvas that changes nothing beyond rounding."""
    n = ref.shape[1]
    lo = int(torch.randint(1, n, (1,), generator=gen)) if n > 1 else 0
    hi = int(torch.randint(lo + 1, n + 1, (1,), generator=gen))
    out: Dict[str, torch.Tensor] = {}
    for s in (0, 1) if lo >= 1 else (0,):
        for kind, end in (("dual", hi), ("prefix", n)):
            window = torch.arange(pad + lo - s, pad + end, device=device)
            got = scripted.cache_step(canvas, window, torch.arange(hi - lo, device=device), left, kv)
            out[f"cache_step {kind} s={s}" + (" padded" if pad else "")] = got.float() - ref[:, lo - s:hi - s]
    return out


def _causal_checks(eager, scripted, ids: torch.Tensor, ref: torch.Tensor, gen: torch.Generator,
                   device: str) -> Dict[str, torch.Tensor]:
    """What makes a causal archive causal, against the eager logits ref of ids [B, n]: the outputs
    before a position k do not change when the tokens from k on do, and a cache_step over a
    window [a, b) after cache_full of the first a positions (into a longer cache) reads the
    cached keys before a and nothing from b on (the canvas holds other tokens there)."""
    b_, n = ids.shape
    out: Dict[str, torch.Tensor] = {}
    if n < 2:
        return out
    k = int(torch.randint(1, n, (1,), generator=gen))
    changed = ids.clone()
    changed[:, k:] = torch.randint(0, ref.shape[-1], (b_, n - k), generator=gen).to(device)
    out[f"causal: outputs before {k} with the tokens from {k} on changed"] = scripted(changed)[:, :k].float() - ref[:, :k]
    a = int(torch.randint(1, n, (1,), generator=gen))
    b = int(torch.randint(a + 1, n + 1, (1,), generator=gen))
    attn = eager.layers[0].attn
    kv = torch.zeros([len(eager.layers), 2, b_, attn.num_kv_heads, n + 3, attn.head_dim],
                     dtype=eager.embed.weight.dtype, device=device)
    try:
        scripted.cache_full(ids[:, :a], torch.arange(a, device=device), None, kv)
    except RuntimeError as e:
        raise ValueError(f"parity check failed: causal: cache_full of {a} positions into a cache of {n + 3} raised "
                         f"({str(e).strip().splitlines()[-1]}); a causal archive writes kv[..., :n, :] only") from None
    canvas = torch.cat([changed, changed[:, :3]], dim=1)
    canvas[:, :b] = ids[:, :b]
    got = scripted.cache_step(canvas, torch.arange(a, b, device=device), torch.arange(b - a, device=device), None, kv)
    out[f"causal: cache_step [{a}, {b}) after cache_full of [0, {a})"] = got.float() - ref[:, a:b]
    return out


def _exact(what: str, got: torch.Tensor, want: torch.Tensor, where: str) -> None:
    if not torch.equal(got, want):
        diff = float((got.float() - want.float()).abs().max())
        raise ValueError(f"parity check failed: {what} differs by {diff:.3g} (must be bit for bit on CPU float32; {where})")


def parity_check(eager, scripted, vocab: int, max_length: int, dtype: str, device: str, prompts: int,
                 log: Callable[[str], None] = _stderr, seed: int = 1234) -> float:
    """Scripted vs eager logits, logits_at vs forward sliced, logits_at_padded vs unpadded,
    cache_full vs logits_at(_padded) (bit for bit on CPU float32) and cache_step after cache_full
    vs forward sliced (padded on every other round); for a causal model (causal_model.py) also
    _causal_checks. Returns the largest difference relative to the logit scale; raises ValueError
    above the bound."""
    from .causal_model import CausalLM
    causal = isinstance(eager, CausalLM)
    gen = torch.Generator().manual_seed(seed)
    worst = {"methods": 0.0, "cache_step": 0.0}
    bounds = {"methods": PARITY_TOLERANCE[dtype], "cache_step": CACHE_STEP_TOLERANCE[dtype]}
    with torch.no_grad():
        for p in range(prompts):
            n = int(torch.randint(1, min(max_length, 48) + 1, (1,), generator=gen))
            ids = torch.randint(0, vocab, (2, n), generator=gen).to(device)
            ref = eager(ids).float()
            scale = max(1.0, float(ref.abs().max()))
            pos = torch.randperm(n, generator=gen)[: max(1, n // 2)].sort().values.to(device)
            pad = int(torch.randint(1, 5, (1,), generator=gen))
            padded = torch.cat([torch.zeros(2, pad, dtype=ids.dtype, device=device), ids], dim=1)
            left = torch.tensor([pad, pad], device=device)
            where = f"prompt {p}, length {n}"
            for r in range(3):  # the profiling executor optimises from the second call on
                at = scripted.logits_at(ids, pos)
                at_padded = scripted.logits_at_padded(padded, pos + pad, left)
                kv, kv_padded = _cache_for(eager, 2, n, device), _cache_for(eager, 2, n + pad, device)
                full = scripted.cache_full(ids, pos, None, kv)
                full_padded = scripted.cache_full(padded, pos + pad, left, kv_padded)
                if device == "cpu" and dtype == "float32":  # the same ops on the same shapes
                    _exact("cache_full vs logits_at", full, at, where)
                    _exact("cache_full vs logits_at_padded", full_padded, at_padded, where)
                checks = {
                    "forward": scripted(ids).float() - ref,
                    "logits_at": at.float() - ref.index_select(1, pos),
                    "logits_at_padded": at_padded.float() - ref.index_select(1, pos),
                    "cache_full": full.float() - ref.index_select(1, pos),
                    "cache_full padded": full_padded.float() - ref.index_select(1, pos),
                }
                steps = _cache_steps(scripted, padded, kv_padded, pad, left, ref, gen, device) if r % 2 else \
                    _cache_steps(scripted, ids, kv, 0, None, ref, gen, device)
                if causal:
                    steps.update(_causal_checks(eager, scripted, ids, ref, gen, device))
                for what, d in list(checks.items()) + list(steps.items()):
                    group = "cache_step" if what in steps else "methods"
                    rel = float(d.abs().max()) / scale
                    worst[group] = max(worst[group], rel)
                    if not rel <= bounds[group]:  # also catches NaN
                        raise ValueError(f"parity check failed: {what} differs from eager forward by {rel:.3g} "
                                         f"x logit scale {scale:.3g} ({where}, bound {bounds[group]})")
    log(f"parity{' (causal)' if causal else ''}: {prompts} prompts, max |scripted - eager| = {worst['methods']:.3g} x logit scale (bound "
        f"{bounds['methods']}), cache_step {worst['cache_step']:.3g} (bound {bounds['cache_step']})")
    return max(worst.values())


def check_export_options(dtype: str, device: str, attention: str, parity_prompts: int) -> Tuple[str, str]:
    """The checks every export does before reading any weights; returns (device, attention) with
    'auto' resolved: CUDA when this torch sees a GPU, SDPA when this torch has it."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be cpu, cuda or auto, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but this torch sees no CUDA device")
    if parity_prompts < 0:
        raise ValueError("parity prompts must be >= 0")
    attention = resolve_attention(attention)
    if device == "cpu" and dtype == "float16" and not _cpu_half_matmul():
        raise ValueError(f"this torch ({torch.__version__}) cannot run float16 matmuls on the CPU: use --device cuda")
    return device, attention


def learned_filter_file(weights_dir: str) -> Dict[str, str]:
    """{"learned_filter.json": text} when the weights folder has one (validated), else {}: the archive
    carries its learned filter (docs/decoding.md "Learned filter")."""
    from .learned_filter import FILE_NAME, MAX_BYTES, parse
    path = os.path.join(weights_dir, FILE_NAME)
    if not os.path.isfile(path):
        return {}
    if os.path.getsize(path) > MAX_BYTES:
        raise ValueError(f"{path} is over the limit of {MAX_BYTES >> 20} MiB")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    parse(text, path)
    return {FILE_NAME: text}


def export_model(weights_dir: str, out_path: str, dtype: str = "float32", device: str = "cpu",
                 attention: str = "auto", tokenizer_dir: Optional[str] = None, parity_prompts: int = 3,
                 log: Callable[[str], None] = _stderr) -> Dict:
    """Writes out_path; returns the localleap.json object."""
    t0 = time.time()
    device, attention = check_export_options(dtype, device, attention, parity_prompts)
    if not os.path.isdir(weights_dir):
        raise ValueError(f"weights folder not found: {weights_dir}")
    tok = tokenizer_files(tokenizer_dir or weights_dir, required=tokenizer_dir is not None)
    cfg, meta = read_config(weights_dir)  # metadata errors before reading gigabytes of weights
    md = build_metadata(meta, cfg, dtype, attention, os.path.basename(os.path.abspath(weights_dir)),
                        json.loads(tok["tokenizer_config.json"]) if "tokenizer_config.json" in tok else None,
                        json.loads(tok["tokenizer.json"]) if "tokenizer.json" in tok else None)
    log(f"loading weights from {weights_dir} ({dtype}, {device}, attention {attention})")
    model, cfg, _ = load_model(weights_dir, dtype, device, use_sdpa=attention == "sdpa")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"scripting ({n_params / 1e6:.2f}M parameters)")
    scripted = torch.jit.script(model)
    if parity_prompts:
        parity_check(model, scripted, cfg.vocab_size, cfg.max_length, dtype, device, parity_prompts, log)
    log(f"saving {out_path}" + (f" with {', '.join(sorted(tok))}" if tok else " (no tokenizer files)"))
    extra = {"localleap.json": json.dumps(md, indent=2)}
    extra.update(tok)
    extra.update(learned_filter_file(weights_dir))
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    torch.jit.save(scripted, tmp, _extra_files=extra)
    os.replace(tmp, out_path)
    size = os.path.getsize(out_path)
    log(f"done: {out_path} ({size / 2**20:.1f} MiB) in {time.time() - t0:.1f} s")
    return md
