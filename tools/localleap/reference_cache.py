"""A plain eager transformer for the reference decoder's KV-cached steps (docs/model-format.md).

It does not run the archive's code: it takes the archive's tensors (state_dict) and the config of
its localleap.json and redoes the math of model.py in the same op order and on the same shapes,
so that on float32 CPU its logits equal the archive's bit for bit. Keys and values are ordinary
per-layer tensors handed back to the caller, not a cache written in place, so a window pass
cannot change what a later one reads.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .model import ModelConfig, parameter_shapes

KV = List[Tuple[Tensor, Tensor]]  # per layer: keys, values [B, Hkv, L, D] (after rotary)


class PlainTransformer:
    def __init__(self, tensors: Dict[str, Tensor], config: Dict, attention: str = "manual"):
        self.cfg = cfg = ModelConfig.from_dict(config)
        want = parameter_shapes(cfg)
        missing = sorted(n for n in want if n not in tensors)
        wrong = sorted(n for n in want if n in tensors and list(tensors[n].shape) != want[n])
        if missing or wrong:
            raise ValueError(f"the archive's tensors do not match its config: missing {missing}, wrong shape {wrong}")
        self.w = {n: tensors[n] for n in want}
        self.w["lm_head.weight"] = tensors["embed.weight" if cfg.tie_embeddings else "lm_head.weight"]
        self.inv_freq = tensors["inv_freq"] if "inv_freq" in tensors else _inv_freq(cfg)
        self.sdpa = attention == "sdpa"  # such archives load only in torch >= 2.0, which has SDPA

    @torch.no_grad()
    def full(self, ids: Tensor, positions: Tensor, left_pad: Optional[Tensor]) -> Tuple[Tensor, KV]:
        """(logits [B, K, V] at positions, every position's keys/values): logits_at(_padded)."""
        pos, key_mask = _positions(ids, left_pad)
        n = ids.shape[1]
        x, kv = self._layers(ids, pos, self._window_mask(key_mask, torch.arange(n, device=ids.device), n), None, None)
        return self._logits(x, positions), kv

    @torch.no_grad()
    def window(self, ids: Tensor, window: Tensor, positions: Tensor, left_pad: Optional[Tensor], kv: KV) -> Tensor:
        """logits [B, K, V] at window[positions] when only the canvas positions `window` run: their
        fresh keys/values replace the stored ones there, and they attend to all L positions."""
        return self.window_kv(ids, window, positions, left_pad, kv)[0]

    @torch.no_grad()
    def window_kv(self, ids: Tensor, window: Tensor, positions: Tensor, left_pad: Optional[Tensor],
                  kv: KV) -> Tuple[Tensor, KV]:
        """window()'s logits and the window's fresh keys/values (per layer [B, Hkv, W, D]), for a
        caller that keeps its own cache (APD writes them back into it)."""
        pos, key_mask = _positions(ids, left_pad)  # the key mask stays over all L positions
        x, fresh = self._layers(ids.index_select(1, window), pos.index_select(1, window),
                                self._window_mask(key_mask, window, ids.shape[1]), kv, window)
        return self._logits(x, positions), fresh

    def _window_mask(self, key_mask: Optional[Tensor], window: Tensor, n_keys: int) -> Optional[Tensor]:
        """What _core masks for queries at `window`: the [B, L] key mask (bidirectional)."""
        return key_mask

    def _layers(self, ids: Tensor, pos: Tensor, key_mask: Optional[Tensor], stored: Optional[KV],
                window: Optional[Tensor]) -> Tuple[Tensor, KV]:
        cos, sin = _rotary(pos.float(), self.inv_freq)
        x = F.embedding(ids, self.w["embed.weight"])
        fresh: KV = []
        for i in range(self.cfg.num_layers):
            p = f"layers.{i}."
            h, kv = self._attention(p + "attn.", self._norm(x, p + "attn_norm.weight"), cos, sin, key_mask,
                                    None if stored is None else stored[i], window)
            x = x + h
            x = x + self._mlp(p + "mlp.", self._norm(x, p + "ffn_norm.weight"))
            fresh.append(kv)
        return x, fresh

    def _attention(self, p: str, x: Tensor, cos: Tensor, sin: Tensor, key_mask: Optional[Tensor],
                   stored: Optional[Tuple[Tensor, Tensor]], window: Optional[Tensor]) -> Tuple[Tensor, Tuple[Tensor, Tensor]]:
        cfg = self.cfg
        b, n, _ = x.shape
        q = self._linear(x, p + "q").view(b, n, cfg.num_heads, cfg.head_dim).transpose(1, 2)
        k = self._linear(x, p + "k").view(b, n, cfg.num_kv_heads, cfg.head_dim).transpose(1, 2)
        v = self._linear(x, p + "v").view(b, n, cfg.num_kv_heads, cfg.head_dim).transpose(1, 2)
        q = _rope(q, cos, sin)
        k = _rope(k, cos, sin)
        # Stored dense, as the engine's cache is, so that the attention matmuls see the same layout.
        kv = (k.contiguous(), v.contiguous())
        if stored is not None:
            k = _replaced(stored[0], window, k)
            v = _replaced(stored[1], window, v)
        if cfg.num_kv_heads != cfg.num_heads:
            rep = cfg.num_heads // cfg.num_kv_heads
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        out = self._core(q, k, v, key_mask)
        out = out.transpose(1, 2).reshape(b, n, cfg.num_heads * cfg.head_dim)
        return F.linear(out, self.w[p + "o.weight"]), kv

    def _core(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        if self.sdpa:
            mask = None if key_mask is None else key_mask[:, None, None, :]
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        # model.py ManualAttentionCore: softmax in float32
        scores = torch.matmul(q, k.transpose(-1, -2)).float() * (1.0 / float(self.cfg.head_dim) ** 0.5)
        if key_mask is not None:
            scores = scores.masked_fill(torch.logical_not(key_mask[:, None, None, :]), float("-inf"))
        return torch.matmul(torch.softmax(scores, dim=-1).to(v.dtype), v)

    def _mlp(self, p: str, x: Tensor) -> Tensor:
        w = self.w
        return F.linear(F.silu(F.linear(x, w[p + "gate.weight"])) * F.linear(x, w[p + "up.weight"]), w[p + "down.weight"])

    def _linear(self, x: Tensor, p: str) -> Tensor:
        return F.linear(x, self.w[p + ".weight"], self.w.get(p + ".bias"))

    def _norm(self, x: Tensor, name: str) -> Tensor:
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.cfg.norm_eps)
        return xf.to(x.dtype) * self.w[name]

    def _logits(self, x: Tensor, positions: Tensor) -> Tensor:
        # Slice before the head, as the archive does: the head's GEMM bits depend on its row count.
        return F.linear(self._norm(x.index_select(1, positions), "norm.weight"), self.w["lm_head.weight"])


def _positions(ids: Tensor, left_pad: Optional[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
    """Rotary positions [1 or B, L] (from the first real token) and the key mask [B, L] or None."""
    pos = torch.arange(ids.shape[1], device=ids.device, dtype=torch.int64)[None, :]
    if left_pad is None:
        return pos, None
    pos = pos - left_pad[:, None]
    return pos.clamp(min=0), pos >= 0


def _inv_freq(cfg: ModelConfig) -> Tensor:
    d = cfg.head_dim
    return (1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))).float()


def _rotary(pos: Tensor, inv_freq: Tensor) -> Tuple[Tensor, Tensor]:
    freqs = pos[:, :, None] * inv_freq.to(pos.device)[None, None, :]
    emb = torch.cat((freqs, freqs), dim=-1)[:, None, :, :]
    return emb.cos(), emb.sin()


def _rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate-half rotary embedding, computed in float32 and rounded back to x's dtype."""
    xf = x.float()
    half = xf.shape[-1] // 2
    rotated = torch.cat((-xf[..., half:], xf[..., :half]), dim=-1)
    return (xf * cos + rotated * sin).to(x.dtype)


def _replaced(stored: Tensor, window: Tensor, fresh: Tensor) -> Tensor:
    """A copy of stored [B, H, L, D] whose positions `window` hold fresh [B, H, W, D]."""
    out = stored.clone()
    out[:, :, window] = fresh
    return out


class PlainCausal(PlainTransformer):
    """The same plain transformer with causal attention, for a causal archive (causal_model.py,
    kind causal): the query at canvas position p sees the keys at positions <= p that are not
    padding, and a padded query sees itself only. full() is cache_full / logits_at(_padded) of
    the ids given; window_kv() is cache_step over stored keys/values of ids.shape[1] positions
    (whatever is stored at or after a query's position is never read)."""

    def _window_mask(self, key_mask: Optional[Tensor], window: Tensor, n_keys: int) -> Optional[Tensor]:
        keys = torch.arange(n_keys, device=window.device, dtype=torch.int64)[None, :]
        q = window[:, None]
        causal = keys <= q
        if key_mask is None:
            return causal[None, :, :]
        return causal[None, :, :] & (key_mask[:, None, :] | (keys == q)[None, :, :])

    def _core(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        if self.sdpa:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, :, :])
        # causal_model.py CausalManualCore: softmax in float32
        scores = torch.matmul(q, k.transpose(-1, -2)).float() * (1.0 / float(self.cfg.head_dim) ** 0.5)
        scores = scores.masked_fill(torch.logical_not(key_mask[:, None, :, :]), float("-inf"))
        return torch.matmul(torch.softmax(scores, dim=-1).to(v.dtype), v)
