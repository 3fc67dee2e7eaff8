"""The bidirectional LLaMA-like transformer that localleap exports to TorchScript.

One module serves LLaDA (unshifted logits, no qkv bias) and Dream (Qwen2: qkv bias, GQA, shifted
logits; the shift is the engine's business, the module only returns logits). RMSNorm, rotary
embeddings (rotate-half layout, computed in float32), SwiGLU, no causal mask.

Scriptable with torch.jit.script on torch 1.13 (no scaled_dot_product_attention: the attention core
is written out) and on torch 2.x (SDPA core). The core is chosen when the module is built, since
TorchScript compiles every branch and 1.13 has no SDPA to compile.

Parameter names are localleap's neutral layout (see docs/model-format.md):
  embed.weight, layers.{i}.attn_norm.weight, layers.{i}.attn.{q,k,v,o}.weight (+ q,k,v .bias when
  qkv_bias), layers.{i}.ffn_norm.weight, layers.{i}.mlp.{gate,up,down}.weight, norm.weight,
  lm_head.weight.
"""
from dataclasses import dataclass, asdict, field
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


@dataclass
class ModelConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    num_kv_heads: int = 0  # 0 means num_heads (no grouped-query attention)
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    qkv_bias: bool = False
    tie_embeddings: bool = False
    max_length: int = 4096

    def __post_init__(self):
        if self.num_kv_heads == 0:
            self.num_kv_heads = self.num_heads
        problems = []
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "max_length",
                     "num_kv_heads"):
            if int(getattr(self, name)) <= 0:
                problems.append(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if problems:  # the checks below divide by these sizes
            raise ValueError("invalid model config: " + "; ".join(problems))
        if self.hidden_size % self.num_heads:
            problems.append(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        elif (self.hidden_size // self.num_heads) % 2:
            problems.append("head dimension must be even for rotary embeddings")
        if self.num_heads % self.num_kv_heads:
            problems.append(f"num_heads {self.num_heads} is not a multiple of num_kv_heads {self.num_kv_heads}")
        if problems:
            raise ValueError("invalid model config: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_dict(cls, d: Dict) -> "ModelConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**d)

    def to_dict(self) -> Dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return xf.to(x.dtype) * self.weight


def rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class ManualAttentionCore(nn.Module):
    """softmax(q k^T / sqrt(d) + mask) v, softmax in float32 (torch 1.13 has no SDPA)."""

    def __init__(self, head_dim: int):
        super().__init__()
        self.scale = 1.0 / float(head_dim) ** 0.5

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        scores = torch.matmul(q, k.transpose(-1, -2)).float() * self.scale
        if key_mask is not None:
            scores = scores.masked_fill(torch.logical_not(key_mask[:, None, None, :]), float("-inf"))
        return torch.matmul(torch.softmax(scores, dim=-1).to(v.dtype), v)


class SdpaAttentionCore(nn.Module):
    """The same function through scaled_dot_product_attention (torch >= 2.0)."""

    def __init__(self, head_dim: int):
        super().__init__()

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        if key_mask is None:
            return F.scaled_dot_product_attention(q, k, v)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, None, :])


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig, use_sdpa: bool):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.num_kv_heads = cfg.num_kv_heads
        self.head_dim = cfg.head_dim
        kv_dim = cfg.num_kv_heads * cfg.head_dim
        self.q = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=cfg.qkv_bias)
        self.k = nn.Linear(cfg.hidden_size, kv_dim, bias=cfg.qkv_bias)
        self.v = nn.Linear(cfg.hidden_size, kv_dim, bias=cfg.qkv_bias)
        self.o = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=False)
        self.core = SdpaAttentionCore(cfg.head_dim) if use_sdpa else ManualAttentionCore(cfg.head_dim)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        return self.forward_cached(x, cos, sin, key_mask, None, None)

    def forward_cached(self, x: Tensor, cos: Tensor, sin: Tensor, key_mask: Optional[Tensor],
                       kv: Optional[Tensor], window: Optional[Tensor]) -> Tensor:
        """kv: this layer's cache [2, B, Hkv, L, D] or None. window None: x is the whole canvas and
        its keys/values are stored. Otherwise x holds the canvas positions `window` (int64 [W]):
        their keys/values are written into the cache at those positions and the queries attend to
        the whole cache (stale keys/values outside the window, fresh ones inside)."""
        b, n, _ = x.shape
        q = self.q(x).view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.k(x).view(b, n, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v(x).view(b, n, self.num_kv_heads, self.head_dim).transpose(1, 2)
        # Rotary in float32, as LLaDA's reference code does.
        qf = q.float()
        kf = k.float()
        q = (qf * cos + rotate_half(qf) * sin).to(x.dtype)
        k = (kf * cos + rotate_half(kf) * sin).to(x.dtype)
        if kv is not None:
            if window is None:
                kv[0].copy_(k)
                kv[1].copy_(v)
            else:
                kv[0].index_copy_(2, window, k)
                kv[1].index_copy_(2, window, v)
                k = kv[0]
                v = kv[1]
        if self.num_kv_heads != self.num_heads:
            rep = self.num_heads // self.num_kv_heads
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        out = self.core(q, k, v, key_mask)
        return self.o(out.transpose(1, 2).reshape(b, n, self.num_heads * self.head_dim))


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, use_sdpa: bool):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.attn = Attention(cfg, use_sdpa)
        self.ffn_norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin, key_mask)
        return x + self.mlp(self.ffn_norm(x))

    def forward_cached(self, x: Tensor, cos: Tensor, sin: Tensor, key_mask: Optional[Tensor], kv: Tensor,
                       window: Optional[Tensor]) -> Tensor:
        x = x + self.attn.forward_cached(self.attn_norm(x), cos, sin, key_mask, kv, window)
        return x + self.mlp(self.ffn_norm(x))


class DiffusionLM(nn.Module):
    """ids [B, L] -> logits. The methods are the model format's interface (docs/model-format.md)."""

    def __init__(self, cfg: ModelConfig, use_sdpa: Optional[bool] = None):
        super().__init__()
        if use_sdpa is None:
            use_sdpa = HAS_SDPA
        if use_sdpa and not HAS_SDPA:
            raise ValueError("this torch has no scaled_dot_product_attention")
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([Block(cfg, use_sdpa) for _ in range(cfg.num_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float64) / cfg.head_dim))
        self.register_buffer("inv_freq", inv_freq.float(), persistent=False)

    def rotary(self, positions: Tensor) -> List[Tensor]:
        # positions: float32 [B or 1, L] -> cos, sin [B or 1, 1, L, head_dim]
        freqs = positions[:, :, None] * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)[:, None, :, :]
        return [emb.cos(), emb.sin()]

    def positions_and_mask(self, ids: Tensor, left_pad: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """Rotary positions [B or 1, L] (from each row's first real token) and the key mask
        [B, L] of left-padded rows (None without padding)."""
        n = ids.shape[1]
        pos = torch.arange(n, device=ids.device, dtype=torch.int64)[None, :]
        key_mask: Optional[Tensor] = None
        if left_pad is not None:
            pos = pos - left_pad[:, None]
            key_mask = pos >= 0
            pos = pos.clamp(min=0)
        return pos, key_mask

    def hidden(self, ids: Tensor, left_pad: Optional[Tensor]) -> Tensor:
        pos, key_mask = self.positions_and_mask(ids, left_pad)
        cos_sin = self.rotary(pos.float())
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, cos_sin[0], cos_sin[1], key_mask)
        return x

    def hidden_cached(self, ids: Tensor, window: Optional[Tensor], left_pad: Optional[Tensor], kv: Tensor) -> Tensor:
        """hidden() through the KV cache kv [layers, 2, B, Hkv, L, D]: window None runs the whole
        canvas and stores every position's keys/values; a window runs only those positions."""
        pos, key_mask = self.positions_and_mask(ids, left_pad)
        x_ids = ids
        if window is not None:
            pos = pos.index_select(1, window)
            x_ids = ids.index_select(1, window)
        cos_sin = self.rotary(pos.float())
        x = self.embed(x_ids)
        i = 0
        for layer in self.layers:
            x = layer.forward_cached(x, cos_sin[0], cos_sin[1], key_mask, kv[i], window)
            i += 1
        return x

    def forward(self, ids: Tensor) -> Tensor:
        """logits [B, L, V] for every position."""
        return self.lm_head(self.norm(self.hidden(ids, None)))

    @torch.jit.export
    def logits_at(self, ids: Tensor, positions: Tensor) -> Tensor:
        """logits [B, K, V] of the model outputs at `positions` (int64 [K], shared by all rows)."""
        h = self.hidden(ids, None).index_select(1, positions)
        return self.lm_head(self.norm(h))

    @torch.jit.export
    def logits_at_padded(self, ids: Tensor, positions: Tensor, left_pad: Tensor) -> Tensor:
        """As logits_at for left-padded rows: left_pad int64 [B] leading pad positions per row."""
        h = self.hidden(ids, left_pad).index_select(1, positions)
        return self.lm_head(self.norm(h))

    # Format v2: the KV-cache methods (docs/model-format.md). kv is the engine's cache
    # [layers, 2, B, Hkv, L, D] in the model's dtype, written in place; nothing else is allocated
    # outside the caching allocator and nothing synchronises, so both can be graph-captured.

    @torch.jit.export
    def cache_full(self, ids: Tensor, positions: Tensor, left_pad: Optional[Tensor], kv: Tensor) -> Tensor:
        """logits_at / logits_at_padded (left_pad None: no padding), storing every position's K/V."""
        h = self.hidden_cached(ids, None, left_pad, kv).index_select(1, positions)
        return self.lm_head(self.norm(h))

    @torch.jit.export
    def cache_step(self, ids: Tensor, window: Tensor, positions: Tensor, left_pad: Optional[Tensor],
                   kv: Tensor) -> Tensor:
        """logits [B, K, V] at window[positions]: only the canvas positions `window` (int64 [W],
        ascending) run; they attend to the cache, whose entries at `window` they overwrite."""
        h = self.hidden_cached(ids, window, left_pad, kv).index_select(1, positions)
        return self.lm_head(self.norm(h))


def kv_cache_shape(cfg: ModelConfig, batch: int, length: int) -> List[int]:
    """The shape of the cache tensor the cache methods take."""
    return [cfg.num_layers, 2, batch, cfg.num_kv_heads, length, cfg.head_dim]


def build_model(cfg: ModelConfig, use_sdpa: Optional[bool] = None) -> DiffusionLM:
    return DiffusionLM(cfg, use_sdpa)


def parameter_shapes(cfg: ModelConfig) -> Dict[str, List[int]]:
    """The neutral layout's tensor names and shapes, for validating a weights file."""
    shapes: Dict[str, List[int]] = {"embed.weight": [cfg.vocab_size, cfg.hidden_size]}
    kv = cfg.num_kv_heads * cfg.head_dim
    for i in range(cfg.num_layers):
        p = f"layers.{i}."
        shapes[p + "attn_norm.weight"] = [cfg.hidden_size]
        shapes[p + "attn.q.weight"] = [cfg.hidden_size, cfg.hidden_size]
        shapes[p + "attn.k.weight"] = [kv, cfg.hidden_size]
        shapes[p + "attn.v.weight"] = [kv, cfg.hidden_size]
        if cfg.qkv_bias:
            shapes[p + "attn.q.bias"] = [cfg.hidden_size]
            shapes[p + "attn.k.bias"] = [kv]
            shapes[p + "attn.v.bias"] = [kv]
        shapes[p + "attn.o.weight"] = [cfg.hidden_size, cfg.hidden_size]
        shapes[p + "ffn_norm.weight"] = [cfg.hidden_size]
        shapes[p + "mlp.gate.weight"] = [cfg.intermediate_size, cfg.hidden_size]
        shapes[p + "mlp.up.weight"] = [cfg.intermediate_size, cfg.hidden_size]
        shapes[p + "mlp.down.weight"] = [cfg.hidden_size, cfg.intermediate_size]
    shapes["norm.weight"] = [cfg.hidden_size]
    if not cfg.tie_embeddings:
        shapes["lm_head.weight"] = [cfg.vocab_size, cfg.hidden_size]
    return shapes
