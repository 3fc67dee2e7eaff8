"""The causal (left-to-right) LM that localleap exports for adaptive parallel decoding (APD).

A small autoregressive model beside the diffusion LM (docs/decoding.md "APD") scores the dLLM's
draft in one causal forward. The network is model.py's, block for block and parameter for
parameter (RMSNorm, rotary in float32, SwiGLU, grouped-query attention, optional q/k/v biases
and tied LM head: the Qwen2 layout), with one difference: a query at canvas position i attends
only to keys at positions <= i. The output at position i predicts the token at i + 1.

The archive has the same methods, with the same arguments, as a format-2 diffusion archive
(docs/model-format.md "Causal-LM archives"), so the engine calls both kinds through one path:

  forward(ids)                                   logits [B, L, V] at every position
  logits_at(ids, positions)                      the outputs at `positions`
  logits_at_padded(ids, positions, left_pad)     the same for left-padded rows
  cache_full(ids, positions, left_pad, kv)       logits_at(_padded), storing the K/V of the
                                                 ids.shape[1] positions into kv[..., :L, :]
                                                 (kv may be longer: the cache's capacity)
  cache_step(ids, window, positions, left_pad, kv)
                                                 the positions `window` (ascending) run over the
                                                 cache: their K/V are written into kv, each of
                                                 them attends to the cached keys before it and to
                                                 the window's own keys up to itself; the outputs
                                                 at window[positions] come back

The causal mask is built from the query positions, so a cache_step reads nothing at or after
the window's end: the cache may hold anything there.

Left padding (left_pad[b] leading pad positions): padded keys are masked out as in model.py, and
a padded query attends to itself only (with no key at all its softmax would be NaN, and a NaN
value times a zero weight is NaN in every later row).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .model import HAS_SDPA, DiffusionLM, ModelConfig


class CausalManualCore(nn.Module):
    """softmax(q k^T / sqrt(d) + mask) v with a per-query mask [B or 1, Lq, Lk] of allowed keys;
    softmax in float32 (the op order of model.py's ManualAttentionCore)."""

    def __init__(self, head_dim: int):
        super().__init__()
        self.scale = 1.0 / float(head_dim) ** 0.5

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        scores = torch.matmul(q, k.transpose(-1, -2)).float() * self.scale
        if key_mask is not None:
            scores = scores.masked_fill(torch.logical_not(key_mask[:, None, :, :]), float("-inf"))
        return torch.matmul(torch.softmax(scores, dim=-1).to(v.dtype), v)


class CausalSdpaCore(nn.Module):
    """The same through scaled_dot_product_attention (torch >= 2.0)."""

    def __init__(self, head_dim: int):
        super().__init__()

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_mask: Optional[Tensor]) -> Tensor:
        if key_mask is None:
            return F.scaled_dot_product_attention(q, k, v)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, :, :])


class CausalLM(DiffusionLM):
    """ids [B, L] -> logits, causally. model.py's DiffusionLM with causal attention cores and
    causal masks; the methods (forward, logits_at, logits_at_padded, cache_full, cache_step) are
    DiffusionLM's, running through the hidden() / hidden_cached() below."""

    def __init__(self, cfg: ModelConfig, use_sdpa: Optional[bool] = None):
        super().__init__(cfg, use_sdpa)
        sdpa = HAS_SDPA if use_sdpa is None else use_sdpa
        for layer in self.layers:
            layer.attn.core = CausalSdpaCore(cfg.head_dim) if sdpa else CausalManualCore(cfg.head_dim)

    def allowed_keys(self, query_pos: Tensor, n_keys: int, key_mask: Optional[Tensor]) -> Tensor:
        """Bool [B or 1, Q, n_keys]: key j is visible to the query at canvas position query_pos[i]
        when j <= query_pos[i] and j is not padding; a padded query sees itself only."""
        keys = torch.arange(n_keys, device=query_pos.device, dtype=torch.int64)[None, :]
        q = query_pos[:, None]
        causal = keys <= q
        if key_mask is None:
            return causal[None, :, :]
        return causal[None, :, :] & (key_mask[:, None, :] | (keys == q)[None, :, :])

    def hidden(self, ids: Tensor, left_pad: Optional[Tensor]) -> Tensor:
        pos, key_mask = self.positions_and_mask(ids, left_pad)
        n = ids.shape[1]
        mask = self.allowed_keys(torch.arange(n, device=ids.device, dtype=torch.int64), n, key_mask)
        cos_sin = self.rotary(pos.float())
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, cos_sin[0], cos_sin[1], mask)
        return x

    def hidden_cached(self, ids: Tensor, window: Optional[Tensor], left_pad: Optional[Tensor], kv: Tensor) -> Tensor:
        """window None: the whole of ids runs, its K/V go to kv[..., :L, :] (L = ids.shape[1]; kv
        may be longer). Otherwise only the canvas positions `window` run, over kv (its length must
        be ids.shape[1]), writing their K/V there."""
        n = ids.shape[1]
        pos, key_mask = self.positions_and_mask(ids, left_pad)
        x_ids = ids
        if window is None:
            kv = kv.narrow(4, 0, n)
            mask = self.allowed_keys(torch.arange(n, device=ids.device, dtype=torch.int64), n, key_mask)
        else:
            mask = self.allowed_keys(window, n, key_mask)
            pos = pos.index_select(1, window)
            x_ids = ids.index_select(1, window)
        cos_sin = self.rotary(pos.float())
        x = self.embed(x_ids)
        i = 0
        for layer in self.layers:
            x = layer.forward_cached(x, cos_sin[0], cos_sin[1], mask, kv[i], window)
            i += 1
        return x


def build_causal_model(cfg: ModelConfig, use_sdpa: Optional[bool] = None) -> CausalLM:
    return CausalLM(cfg, use_sdpa)
