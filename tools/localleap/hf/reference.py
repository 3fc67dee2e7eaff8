"""Plain eager forwards of LLaDA, Dream and Qwen2, written from their Hugging Face modeling code and
reading the checkpoint's own tensor names. They share nothing with tools/localleap/model.py or the
name maps of families.py, so the export's parity check compares the exported network against an
independent statement of each family's computation: a wrong name map (gate and up swapped, the
norms crossed), a wrong head layout or a wrong logits convention shows up as a large difference,
not only TorchScript drift.

Everything is computed in float32 whatever the weights' dtype (each weight is upcast where it is
used), so the reference is the model's exact function up to float32 rounding.
"""
import math
from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor

from .families import HFModel


def _w(t: Dict[str, Tensor], name: str) -> Tensor:
    return t[name].float()


def _linear(t: Dict[str, Tensor], x: Tensor, name: str) -> Tensor:
    bias = t.get(name + ".bias")
    return F.linear(x, _w(t, name + ".weight"), None if bias is None else bias.float())


def _rms(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    return weight.float() * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def _attend(q: Tensor, k: Tensor, v: Tensor, n_heads: int) -> Tensor:
    """Full (non-causal) softmax attention, [B, H, L, hd] -> [B, L, H * hd]; kv heads are shared by
    consecutive query heads (repeat_kv / repeat_interleave in both families' code)."""
    rep = n_heads // k.shape[1]
    k = k[:, :, None].expand(-1, -1, rep, -1, -1).reshape(q.shape[0], n_heads, k.shape[2], k.shape[3])
    v = v[:, :, None].expand(-1, -1, rep, -1, -1).reshape(q.shape[0], n_heads, v.shape[2], v.shape[3])
    w = torch.softmax(torch.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.shape[-1]), dim=-1)
    out = torch.einsum("bhqk,bhkd->bhqd", w, v)
    return out.transpose(1, 2).reshape(q.shape[0], q.shape[2], -1)


def llada_logits(t: Dict[str, Tensor], m: HFModel, ids: Tensor) -> Tensor:
    """LLaDAModelLM.forward(ids).logits with block_type llama (modeling_llada.py): RMSLayerNorm,
    RotaryEmbedding (sin/cos of cat(freqs, freqs); rotate_half splits the head dimension in two
    halves), LLaDALlamaBlock: x + attn_out(att(q_proj, k_proj, v_proj of attn_norm(x))), then
    x + ff_out(silu(ff_proj(h)) * up_proj(h)) with h = ff_norm(x); ln_f; ff_out (or wte when tied)."""
    b, n = ids.shape
    d, nh, nkv, hd = m.hidden_size, m.num_heads, m.num_kv_heads, m.head_dim
    x = F.embedding(ids, t["model.transformer.wte.weight"]).float()
    inv_freq = 1.0 / (m.rope_theta ** (torch.arange(0, hd, 2, device=ids.device, dtype=torch.float) / hd))
    seq = torch.arange(n, device=ids.device, dtype=torch.float)
    pos = torch.cat([torch.outer(seq, inv_freq)] * 2, dim=-1)
    sin, cos = pos.sin()[None, None], pos.cos()[None, None]

    def rotate_half(u: Tensor) -> Tensor:
        u1, u2 = u.view(u.shape[0], u.shape[1], u.shape[2], 2, hd // 2).unbind(dim=-2)
        return torch.cat((-u2, u1), dim=-1)

    for i in range(m.num_layers):
        p = f"model.transformer.blocks.{i}."
        h = _rms(x, t[p + "attn_norm.weight"], m.norm_eps)
        q = _linear(t, h, p + "q_proj").view(b, n, nh, hd).transpose(1, 2)
        k = _linear(t, h, p + "k_proj").view(b, n, nkv, hd).transpose(1, 2)
        v = _linear(t, h, p + "v_proj").view(b, n, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        x = x + F.linear(_attend(q, k, v, nh), _w(t, p + "attn_out.weight"))
        h = _rms(x, t[p + "ff_norm.weight"], m.norm_eps)
        g = F.silu(F.linear(h, _w(t, p + "ff_proj.weight"))) * F.linear(h, _w(t, p + "up_proj.weight"))
        x = x + F.linear(g, _w(t, p + "ff_out.weight"))
    x = _rms(x, t["model.transformer.ln_f.weight"], m.norm_eps)
    head = "model.transformer.wte.weight" if m.tied else "model.transformer.ff_out.weight"
    return F.linear(x, _w(t, head))


def dream_logits(t: Dict[str, Tensor], m: HFModel, ids: Tensor) -> Tensor:
    """DreamModel.forward(ids).logits (modeling_dream.py, Qwen2 layers without a causal mask):
    DreamRMSNorm, default rotary (inv_freq over arange(0, hd, 2)), DreamSdpaAttention with q/k/v
    biases and repeat_kv, DreamMLP down(silu(gate(x)) * up(x)), model.norm, lm_head."""
    b, n = ids.shape
    nh, nkv, hd = m.num_heads, m.num_kv_heads, m.head_dim
    x = F.embedding(ids, t["model.embed_tokens.weight"]).float()
    inv_freq = 1.0 / (m.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64, device=ids.device).float() / hd))
    freqs = torch.arange(n, device=ids.device, dtype=torch.float)[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]

    def rotate_half(u: Tensor) -> Tensor:
        return torch.cat((-u[..., hd // 2:], u[..., : hd // 2]), dim=-1)

    for i in range(m.num_layers):
        p = f"model.layers.{i}."
        h = _rms(x, t[p + "input_layernorm.weight"], m.norm_eps)
        q = _linear(t, h, p + "self_attn.q_proj").view(b, n, nh, hd).transpose(1, 2)
        k = _linear(t, h, p + "self_attn.k_proj").view(b, n, nkv, hd).transpose(1, 2)
        v = _linear(t, h, p + "self_attn.v_proj").view(b, n, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        x = x + F.linear(_attend(q, k, v, nh), _w(t, p + "self_attn.o_proj.weight"))
        h = _rms(x, t[p + "post_attention_layernorm.weight"], m.norm_eps)
        g = F.silu(F.linear(h, _w(t, p + "mlp.gate_proj.weight"))) * F.linear(h, _w(t, p + "mlp.up_proj.weight"))
        x = x + F.linear(g, _w(t, p + "mlp.down_proj.weight"))
    x = _rms(x, t["model.norm.weight"], m.norm_eps)
    return F.linear(x, _w(t, "model.embed_tokens.weight" if m.tied else "lm_head.weight"))


def qwen2_logits(t: Dict[str, Tensor], m: HFModel, ids: Tensor) -> Tensor:
    """Qwen2ForCausalLM.forward(ids).logits, from the Qwen2 formulas (transformers'
    modeling_qwen2.py): Qwen2RMSNorm (float32, x * rsqrt(mean(x^2) + eps), times the weight),
    default rotary with rope_theta (inv_freq = 1 / theta^(arange(0, hd, 2) / hd); cos and sin of
    cat(freqs, freqs); rotate_half over the two halves), Qwen2Attention with q/k/v biases and
    repeat_kv for the key/value heads, the causal mask (a query at i sees keys 0..i), softmax in
    float32, o_proj without bias; Qwen2MLP down(silu(gate(x)) * up(x)); model.norm; lm_head, or
    embed_tokens when tie_word_embeddings. Written out here, not shared with dream_logits."""
    b, n = ids.shape
    nh, nkv, hd, eps = m.num_heads, m.num_kv_heads, m.head_dim, m.norm_eps

    def rms(x: Tensor, name: str) -> Tensor:
        return t[name].float() * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))

    def repeat_kv(u: Tensor) -> Tensor:  # [B, Hkv, L, hd] -> [B, H, L, hd], kv head j serves query heads j*rep..
        rep = nh // nkv
        return u[:, :, None, :, :].expand(b, nkv, rep, n, hd).reshape(b, nh, n, hd)

    x = t["model.embed_tokens.weight"].float()[ids]
    inv_freq = 1.0 / (m.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64, device=ids.device).float() / hd))
    freqs = torch.outer(torch.arange(n, device=ids.device, dtype=torch.float), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.full((n, n), float("-inf"), device=ids.device).triu(1)

    def rope(u: Tensor) -> Tensor:
        half = torch.cat((-u[..., hd // 2:], u[..., : hd // 2]), dim=-1)
        return u * cos + half * sin

    for i in range(m.num_layers):
        p = f"model.layers.{i}."
        h = rms(x, p + "input_layernorm.weight")
        q = rope(_linear(t, h, p + "self_attn.q_proj").reshape(b, n, nh, hd).permute(0, 2, 1, 3))
        k = rope(_linear(t, h, p + "self_attn.k_proj").reshape(b, n, nkv, hd).permute(0, 2, 1, 3))
        v = _linear(t, h, p + "self_attn.v_proj").reshape(b, n, nkv, hd).permute(0, 2, 1, 3)
        w = torch.softmax(q @ repeat_kv(k).transpose(2, 3) / math.sqrt(hd) + causal, dim=-1)
        a = (w @ repeat_kv(v)).permute(0, 2, 1, 3).reshape(b, n, nh * hd)
        x = x + a @ _w(t, p + "self_attn.o_proj.weight").t()
        h = rms(x, p + "post_attention_layernorm.weight")
        g = F.silu(h @ _w(t, p + "mlp.gate_proj.weight").t()) * (h @ _w(t, p + "mlp.up_proj.weight").t())
        x = x + g @ _w(t, p + "mlp.down_proj.weight").t()
    x = rms(x, "model.norm.weight")
    return x @ _w(t, "model.embed_tokens.weight" if m.tied else "lm_head.weight").t()


def reference_logits(t: Dict[str, Tensor], m: HFModel, ids: Tensor) -> Tensor:
    """Raw logits [B, L, V] (float32) of the family's own forward."""
    with torch.no_grad():
        if m.family.name == "qwen2":
            return qwen2_logits(t, m, ids)
        return llada_logits(t, m, ids) if m.family.name == "llada" else dream_logits(t, m, ids)


def predictions_at(t: Dict[str, Tensor], m: HFModel, ids: Tensor, positions: Tensor) -> Tensor:
    """The logits each family's own generation code uses to fill the masked positions
    [B, K, V]: LLaDA's generate() takes logits[:, p]; Dream's diffusion_generate() shifts them,
    torch.cat([logits[:, :1], logits[:, :-1]], 1), so position p uses the output at p - 1.
    Qwen2 (causal): the outputs at p themselves (each predicts the token at p + 1)."""
    z = reference_logits(t, m, ids)
    if m.family.name == "dream":
        z = torch.cat([z[:, :1], z[:, :-1]], dim=1)
    return z.index_select(1, positions)
