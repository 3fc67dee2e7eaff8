"""Small random-weight models for tests (tools/make_fixture.py): diffusion LMs (llada, dream) and
causal LMs (qwen2, kind "causal": the small autoregressive model of APD) with the same fixture
tokenizer, so that a dLLM fixture and a causal fixture of the same vocab size share a vocabulary."""
import json
import os
from typing import Dict

import torch

from . import safetensors_io as st
from .fixture_tokenizer import build_tokenizer, build_tokenizer_config
from .model import ModelConfig, parameter_shapes


def random_weights(cfg: ModelConfig, seed: int, lm_scale: float = 2.0, row_spread: float = 0.6,
                   qk_scale: float = 2.0, mask_id=None) -> Dict[str, torch.Tensor]:
    """Deterministic float32 weights, shaped so that greedy confidences spread from ~0.2 to ~1:
    the LM head gets lm_scale x the usual 1/sqrt(hidden) init times log-normal row norms
    (exp(row_spread * N(0,1)), a few tokens dominate when the hidden state points their way),
    q and k get qk_scale (sharper attention, so masked positions differ from each other).
    Embedding dimension 0 is a constant 8 for every token, which keeps the final hidden state's
    dimension 0 around +2..+4 everywhere, so the mask token's row (-50 there) never wins."""
    gen = torch.Generator().manual_seed(seed)
    out: Dict[str, torch.Tensor] = {}
    for name, shape in parameter_shapes(cfg).items():
        if name.endswith("norm.weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        elif name == "embed.weight":
            t = torch.randn(shape, generator=gen)
            t[:, 0] = 8.0  # a feature every position carries (see the mask row below)
        elif name.endswith(".bias"):
            t = 0.1 * torch.randn(shape, generator=gen)
        else:
            t = torch.randn(shape, generator=gen) / shape[1] ** 0.5
            if name.endswith(("attn.q.weight", "attn.k.weight")):
                t = t * qk_scale
            if name == "lm_head.weight":
                t = t * lm_scale * torch.exp(row_spread * torch.randn(shape[0], 1, generator=gen))
                if mask_id is not None:
                    # The engine would commit a chosen mask token and leave the position masked
                    # (undefined in docs/decoding.md): keep its logit far below every other one.
                    t[mask_id] = 0.0
                    t[mask_id, 0] = -50.0
        out[name] = t.contiguous()
    return out


def _masked_hidden(cfg: ModelConfig, weights: Dict[str, torch.Tensor], mask_id: int, seed: int,
                   causal: bool = False) -> torch.Tensor:
    """Final normed hidden states [N, hidden] (float64) of masked positions after random prompts
    (causal: of the positions after the prompts of random text, which is what such a model reads)."""
    from .weights import build_with_weights
    model = build_with_weights(cfg, weights, torch.float32, causal=causal)
    gen = torch.Generator().manual_seed(seed + 1)
    tail = torch.randint(0, 256, (16, 32), generator=gen) if causal else torch.full((16, 32), mask_id)
    canvas = torch.cat([torch.randint(0, 256, (16, 12), generator=gen), tail], dim=1)
    with torch.no_grad():
        return model.norm(model.hidden(canvas, None))[:, 12:].reshape(-1, cfg.hidden_size).double()


def calibrate_lm_scale(h: torch.Tensor, weights: Dict[str, torch.Tensor], target_median: float) -> float:
    """Scales the LM head so that the median greedy confidence of h is target_median (how peaked
    random logits are depends a lot on the seed; logits are linear in the head's scale)."""
    z = h @ weights["lm_head.weight"].double().T
    lo, hi = 1e-3, 1e3
    for _ in range(60):  # bisection in log space; the median confidence grows with the scale
        mid = (lo * hi) ** 0.5
        if float(torch.softmax(mid * z, dim=-1).max(dim=-1).values.median()) < target_median:
            lo = mid
        else:
            hi = mid
    weights["lm_head.weight"].mul_((lo * hi) ** 0.5)
    return (lo * hi) ** 0.5


def calibrate_end_rows(h: torch.Tensor, weights: Dict[str, torch.Tensor], mask_id: int, end_ids, rate: float) -> None:
    """Points the end tokens' LM-head rows along +-the main direction of h, scaled so that an end
    token wins about `rate` of the positions at step 1 (random rows almost never win, and
    stopAtEos needs text that ends)."""
    d = torch.linalg.svd(h - h.mean(0), full_matrices=False)[2][0]
    others = h @ weights["lm_head.weight"].double().T
    others[:, list(end_ids) + [mask_id]] = -float("inf")
    best = others.max(1).values
    proj = h @ d
    for k, e in enumerate(end_ids):
        sgn = 1.0 if k % 2 == 0 else -1.0
        s = sgn * proj
        need = torch.where(s > 0, best / s, torch.full_like(s, float("inf")))  # scale at which e wins
        beta = float(torch.quantile(need, min(1.0, rate / max(1, len(end_ids)))))
        weights["lm_head.weight"][e] = (sgn * beta * 1.001 * d).float()


CAUSAL_ARCHITECTURES = ("qwen2",)


def write_weights_folder(out_dir: str, cfg: ModelConfig, architecture: str, seed: int, name: str,
                         **init) -> Dict:
    """config.json, model.safetensors, tokenizer.json, tokenizer_config.json; returns config.json.
    architecture qwen2 writes a causal model (kind causal: no mask_id, no logits_shifted); its LM
    head's row of the mask token is pushed down as for the dLLMs (the token is in the shared
    tokenizer, but a causal model never predicts it)."""
    tok, special = build_tokenizer(cfg.vocab_size)
    n_tok = max(special.values()) + 1
    if cfg.vocab_size < n_tok:
        raise ValueError(f"vocab size {cfg.vocab_size} is smaller than the tokenizer's {n_tok} tokens")
    eos, eot, mask = special["<|endoftext|>"], special["<|eot_id|>"], special["<|mdm_mask|>"]
    causal = architecture in CAUSAL_ARCHITECTURES
    config = dict(cfg.to_dict())
    if causal:
        config.update({"name": name, "kind": "causal", "architecture": architecture, "eos_id": eos,
                       "end_ids": [eos, eot], "pad_id": eos})
    else:
        config.update({
            "name": name, "architecture": architecture, "mask_id": mask, "eos_id": eos,
            "end_ids": [eos, eot], "pad_id": eos, "logits_shifted": architecture == "dream",
        })
    os.makedirs(out_dir, exist_ok=True)
    end_rate = init.pop("end_rate", 0.0)
    target_median = init.pop("target_median", 0.0)
    weights = random_weights(cfg, seed, mask_id=mask, **init)
    if cfg.tie_embeddings:  # the calibrations below rescale LM-head rows, which a tied head does not have
        target_median = end_rate = 0.0
    if target_median > 0:
        calibrate_lm_scale(_masked_hidden(cfg, weights, mask, seed, causal), weights, target_median)
    if end_rate > 0:
        calibrate_end_rows(_masked_hidden(cfg, weights, mask, seed, causal), weights, mask, (eos, eot), end_rate)
    st.save_file(weights, os.path.join(out_dir, "model.safetensors"), {"format": "pt", "seed": str(seed)})
    for fname, obj in (("config.json", config), ("tokenizer.json", tok),
                       ("tokenizer_config.json", build_tokenizer_config())):
        with open(os.path.join(out_dir, fname), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")
    return config


def step1_confidences(model, config: Dict, prompts: int = 8, prompt_len: int = 12, block: int = 32,
                      seed: int = 0) -> torch.Tensor:
    """Greedy confidences of a fully masked first block after random prompts (float64, flat);
    for a causal model, of its next-token predictions along random text."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 256, (prompts, prompt_len), generator=gen)
    if config.get("kind") == "causal":
        text = torch.cat([ids, torch.randint(0, 256, (prompts, block), generator=gen)], dim=1)
        with torch.no_grad():
            z = model.logits_at(text, torch.arange(prompt_len - 1, prompt_len - 1 + block)).double()
        return torch.softmax(z, dim=-1).max(dim=-1).values.flatten()
    canvas = torch.cat([ids, torch.full((prompts, block), config["mask_id"])], dim=1)
    shift = 1 if config["logits_shifted"] else 0
    pos = torch.arange(prompt_len, prompt_len + block) - shift
    with torch.no_grad():
        z = model.logits_at(canvas, pos).double()
    return torch.softmax(z, dim=-1).max(dim=-1).values.flatten()
