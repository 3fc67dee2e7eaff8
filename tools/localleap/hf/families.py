"""The Hugging Face model families localleap exports: how each reads its config.json, the tensors
its checkpoint must hold (Hugging Face names and shapes), and the map onto localleap's neutral
layout (tools/localleap/model.py).

LLaDA (GSAI-ML/LLaDA-8B-Instruct / -Base, `model_type: llada`, LLaDAModelLM): OLMo-style config
keys (d_model, n_layers, n_heads, n_kv_heads, mlp_hidden_size, ...), tensors under
`model.transformer.`; the MLP is `ff_out(act(ff_proj(x)) * up_proj(x))`, so ff_proj is the gate.
Logits unshifted: the output at position i predicts token i.

Dream (Dream-org/Dream-v0-Instruct-7B, `model_type: Dream`, DreamModel): Qwen2 keys and tensor
names (q/k/v biases, grouped-query attention). Logits shifted: Dream's generation code uses the
output at i - 1 for position i.

Qwen2 / Qwen2.5 (e.g. Qwen/Qwen2.5-0.5B, `model_type: qwen2`, Qwen2ForCausalLM): a causal LM,
exported as a kind "causal" archive, the small autoregressive model of APD (docs/decoding.md).
Dream's keys and tensor names (Dream is a Qwen2 network), causal attention; the output at i
predicts token i + 1. No mask token.

Every value read here is checked; an unsupported option fails naming its config.json key.
docs/hf-export.md lists where each fact was verified.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from ..model import ModelConfig

_REQUIRED = object()


@dataclass
class HFModel:
    """What the export needs from a checkpoint's config.json, in neutral terms."""
    family: "Family"
    vocab_size: int          # rows of the embedding and of the LM head (the logits' width)
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    rope_theta: float
    norm_eps: float
    qkv_bias: bool
    tied: bool
    max_length: int
    mask_id: Optional[int]
    eos_ids: List[int]       # config.json eos_token_id (an int or a list)
    pad_id: Optional[int]
    bos_id: Optional[int]
    notes: List[str] = field(default_factory=list)  # assumptions made for absent keys

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def model_config(self, max_length: Optional[int] = None) -> ModelConfig:
        return ModelConfig(vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_layers=self.num_layers,
                           num_heads=self.num_heads, intermediate_size=self.intermediate_size,
                           num_kv_heads=self.num_kv_heads, rope_theta=float(self.rope_theta),
                           norm_eps=float(self.norm_eps), qkv_bias=self.qkv_bias, tie_embeddings=self.tied,
                           max_length=int(max_length or self.max_length))


class ConfigReader:
    """Typed access to config.json values; errors name the key."""

    def __init__(self, cfg: Dict, where: str):
        self.cfg, self.where = cfg, where
        self.notes: List[str] = []

    def fail(self, key: str, msg: str) -> ValueError:
        return ValueError(f"{self.where}: {key} {msg}")

    def int(self, key: str, default=_REQUIRED, minimum: int = 1, alt: Tuple[str, ...] = ()) -> Optional[int]:
        for k in (key,) + alt:
            if self.cfg.get(k) is not None:
                v = self.cfg[k]
                if type(v) is not int or v < minimum:
                    raise self.fail(k, f"must be an integer >= {minimum}, got {v!r}")
                return v
        if default is _REQUIRED:
            raise self.fail(key, "is missing" + (f" (also looked for {', '.join(alt)})" if alt else ""))
        return default

    def float(self, key: str, default) -> float:
        v = self.cfg.get(key)
        if v is None:
            self.notes.append(f"{key} absent: using {default}")
            return default
        if type(v) not in (int, float) or not v > 0:
            raise self.fail(key, f"must be a positive number, got {v!r}")
        return float(v)

    def flag(self, key: str, allowed: Tuple, assumed, why: str) -> object:
        """A setting the export supports only at the values in `allowed`."""
        if key not in self.cfg:
            self.notes.append(f"{key} absent: assuming {assumed!r}")
            return assumed
        v = self.cfg[key]
        if not any(v == a and type(v) is type(a) for a in allowed):  # 1 is not True here
            shown = " or ".join(repr(a) for a in allowed)
            raise self.fail(key, f"is {v!r}; localleap supports only {shown} ({why})")
        return v

    def ids(self, key: str) -> List[int]:
        v = self.cfg.get(key)
        if v is None:
            return []
        items = v if isinstance(v, list) else [v]
        if not all(type(i) is int and i >= 0 for i in items):
            raise self.fail(key, f"must be a token id or a list of token ids, got {v!r}")
        return list(items)


class Family(ABC):
    name = ""
    architecture = ""          # localleap.json architecture
    kind = "diffusion"         # localleap.json kind: "diffusion" (no field written) or "causal"
    logits_shifted = False
    model_types: Tuple[str, ...] = ()
    class_names: Tuple[str, ...] = ()
    mask_token = ""            # token text of the mask, looked up when config.json has no mask_token_id
    end_of_turn_tokens: Tuple[str, ...] = ()  # end the assistant's turn: added to endIds
    # The released checkpoints' ids, used only when the tokenizer lacks the token and the vocab
    # size is the released one (a fine-tune with the same tokenizer).
    released_vocab = 0
    released_ids: Dict[str, int] = {}
    ignorable_suffixes: Tuple[str, ...] = ("rotary_emb.inv_freq",)

    def matches(self, cfg: Dict) -> bool:
        mt = str(cfg.get("model_type", "")).lower()
        archs = cfg.get("architectures") or []
        return mt in self.model_types or any(a in self.class_names for a in archs if isinstance(a, str))

    @abstractmethod
    def read(self, cfg: Dict, where: str) -> HFModel:
        """The family's config.json, checked, as an HFModel."""

    @abstractmethod
    def hf_shapes(self, m: HFModel) -> Dict[str, List[int]]:
        """Hugging Face tensor name -> shape, from the family's modeling code."""

    @abstractmethod
    def name_map(self, m: HFModel) -> Dict[str, str]:
        """Neutral parameter name (tools/localleap/model.py) -> Hugging Face tensor name."""


class LLaDA(Family):
    name = "llada"
    architecture = "llada"
    logits_shifted = False
    model_types = ("llada",)
    class_names = ("LLaDAModelLM",)
    mask_token = "<|mdm_mask|>"
    end_of_turn_tokens = ("<|eot_id|>",)
    released_vocab = 126464
    released_ids = {"<|mdm_mask|>": 126336, "<|endoftext|>": 126081, "<|eot_id|>": 126348}

    def read(self, cfg: Dict, where: str) -> HFModel:
        r = ConfigReader(cfg, where)
        # LLaDAModelLM (OLMo's code) supports more than the released checkpoints use; only the
        # LLaMA-style block of LLaDA-8B maps onto localleap's network.
        r.flag("block_type", ("llama",), "llama", "LLaDA-8B's LLaMA-style block: separate q/k/v, SwiGLU MLP")
        r.flag("layer_norm_type", ("rms",), "rms", "RMSNorm")
        r.flag("activation_type", ("silu",), "silu", "SwiGLU: silu(ff_proj(x)) * up_proj(x)")
        r.flag("rope", (True,), True, "rotary position embeddings")
        r.flag("alibi", (False,), False, "no ALiBi")
        r.flag("include_bias", (False,), False, "no biases in the linear layers")
        r.flag("attention_layer_norm", (False,), False, "no q/k norm")
        r.flag("input_emb_norm", (False,), False, "embeddings not scaled")
        r.flag("scale_logits", (False,), False, "logits not scaled")
        r.flag("block_group_size", (1,), 1, "tensors named model.transformer.blocks.{i}")
        r.flag("layer_norm_with_affine", (True,), True, "norms have a weight")
        r.flag("bias_for_layer_norm", (False, None), None, "norms have no bias")
        if cfg.get("rope_full_precision") is False:
            r.notes.append("rope_full_precision is false: localleap computes rotary in float32 anyway")
        qkv_bias = bool(r.flag("include_qkv_bias", (False, True), False, "q/k/v biases"))
        d = r.int("d_model")
        heads = r.int("n_heads")
        kv = r.int("n_kv_heads", default=None)
        if kv is None:  # OLMo's effective_n_kv_heads
            kv = 1 if cfg.get("multi_query_attention") else heads
        elif cfg.get("multi_query_attention") and kv != 1:
            raise r.fail("multi_query_attention", f"is true but n_kv_heads is {kv}")
        mlp = r.int("mlp_hidden_size", default=None)
        if mlp is None:
            mlp = r.int("mlp_ratio") * d
            r.notes.append(f"mlp_hidden_size absent: mlp_ratio x d_model = {mlp}")
        vocab = r.int("vocab_size")
        emb = r.int("embedding_size", default=None)
        if emb is not None and emb < vocab:
            raise r.fail("embedding_size", f"({emb}) is smaller than vocab_size ({vocab})")
        tied = bool(r.flag("weight_tying", (False, True), False, "LM head tied to the embedding"))
        eos = r.ids("eos_token_id")
        pad = r.ids("pad_token_id")
        bos = r.ids("bos_token_id")
        mask = r.int("mask_token_id", default=None, minimum=0)
        m = HFModel(self, vocab_size=emb or vocab, hidden_size=d, num_layers=r.int("n_layers"), num_heads=heads,
                    num_kv_heads=kv, intermediate_size=mlp, rope_theta=r.float("rope_theta", 10000.0),
                    norm_eps=r.float("rms_norm_eps", 1e-5), qkv_bias=qkv_bias, tied=tied,
                    max_length=r.int("max_sequence_length", default=4096), mask_id=mask, eos_ids=eos,
                    pad_id=pad[0] if pad else None, bos_id=bos[0] if bos else None, notes=r.notes)
        _check_heads(m, where, "d_model", "n_heads", "n_kv_heads")
        return m

    def hf_shapes(self, m: HFModel) -> Dict[str, List[int]]:
        d, kv, h, v = m.hidden_size, m.num_kv_heads * m.head_dim, m.intermediate_size, m.vocab_size
        s = {"model.transformer.wte.weight": [v, d]}
        for i in range(m.num_layers):
            b = f"model.transformer.blocks.{i}."
            s[b + "attn_norm.weight"] = [d]
            s[b + "q_proj.weight"] = [d, d]
            s[b + "k_proj.weight"] = [kv, d]
            s[b + "v_proj.weight"] = [kv, d]
            if m.qkv_bias:
                s[b + "q_proj.bias"] = [d]
                s[b + "k_proj.bias"] = [kv]
                s[b + "v_proj.bias"] = [kv]
            s[b + "attn_out.weight"] = [d, d]
            s[b + "ff_norm.weight"] = [d]
            s[b + "ff_proj.weight"] = [h, d]
            s[b + "up_proj.weight"] = [h, d]
            s[b + "ff_out.weight"] = [d, h]
        s["model.transformer.ln_f.weight"] = [d]
        if not m.tied:
            s["model.transformer.ff_out.weight"] = [v, d]
        return s

    def name_map(self, m: HFModel) -> Dict[str, str]:
        out = {"embed.weight": "model.transformer.wte.weight", "norm.weight": "model.transformer.ln_f.weight"}
        for i in range(m.num_layers):
            b, n = f"model.transformer.blocks.{i}.", f"layers.{i}."
            out[n + "attn_norm.weight"] = b + "attn_norm.weight"
            for ours, theirs in (("q", "q_proj"), ("k", "k_proj"), ("v", "v_proj")):
                out[f"{n}attn.{ours}.weight"] = f"{b}{theirs}.weight"
                if m.qkv_bias:
                    out[f"{n}attn.{ours}.bias"] = f"{b}{theirs}.bias"
            out[n + "attn.o.weight"] = b + "attn_out.weight"
            out[n + "ffn_norm.weight"] = b + "ff_norm.weight"
            out[n + "mlp.gate.weight"] = b + "ff_proj.weight"  # activated: silu(ff_proj(x)) * up_proj(x)
            out[n + "mlp.up.weight"] = b + "up_proj.weight"
            out[n + "mlp.down.weight"] = b + "ff_out.weight"
        if not m.tied:
            out["lm_head.weight"] = "model.transformer.ff_out.weight"
        return out


class Dream(Family):
    name = "dream"
    architecture = "dream"
    logits_shifted = True
    model_types = ("dream",)
    class_names = ("DreamModel",)
    mask_token = "<|mask|>"
    end_of_turn_tokens = ("<|im_end|>",)
    released_vocab = 152064
    released_ids = {"<|mask|>": 151666, "<|endoftext|>": 151643, "<|im_end|>": 151645}

    def read(self, cfg: Dict, where: str) -> HFModel:
        r = ConfigReader(cfg, where)
        r.flag("hidden_act", ("silu",), "silu", "SwiGLU MLP")
        r.flag("rope_scaling", (None,), None, "plain rotary embeddings")
        r.flag("use_sliding_window", (False,), False, "full bidirectional attention")
        # DreamAttention creates q/k/v with bias=True whatever the config says; a conversion
        # that sets attention_bias false is taken at its word (its biases must then be absent).
        qkv_bias = cfg.get("attention_bias", True) is not False
        d = r.int("hidden_size")
        heads = r.int("num_attention_heads")
        kv = r.int("num_key_value_heads", default=heads)
        hd = cfg.get("head_dim")
        if hd is not None and hd != d // heads:
            raise r.fail("head_dim", f"is {hd!r}; localleap needs hidden_size / num_attention_heads ({d // heads})")
        eos = r.ids("eos_token_id")
        pad = r.ids("pad_token_id")
        bos = r.ids("bos_token_id")
        m = HFModel(self, vocab_size=r.int("vocab_size"), hidden_size=d, num_layers=r.int("num_hidden_layers"),
                    num_heads=heads, num_kv_heads=kv, intermediate_size=r.int("intermediate_size"),
                    rope_theta=r.float("rope_theta", 10000.0), norm_eps=r.float("rms_norm_eps", 1e-6),
                    qkv_bias=qkv_bias, tied=bool(cfg.get("tie_word_embeddings", False)),
                    max_length=r.int("max_position_embeddings", default=32768),
                    mask_id=r.int("mask_token_id", default=None, minimum=0), eos_ids=eos,
                    pad_id=pad[0] if pad else None, bos_id=bos[0] if bos else None, notes=r.notes)
        _check_heads(m, where, "hidden_size", "num_attention_heads", "num_key_value_heads")
        return m

    def hf_shapes(self, m: HFModel) -> Dict[str, List[int]]:
        d, q, kv, i_, v = (m.hidden_size, m.num_heads * m.head_dim, m.num_kv_heads * m.head_dim,
                           m.intermediate_size, m.vocab_size)
        s = {"model.embed_tokens.weight": [v, d]}
        for i in range(m.num_layers):
            b = f"model.layers.{i}."
            s[b + "input_layernorm.weight"] = [d]
            for proj, rows in (("q_proj", q), ("k_proj", kv), ("v_proj", kv)):
                s[f"{b}self_attn.{proj}.weight"] = [rows, d]
                if m.qkv_bias:
                    s[f"{b}self_attn.{proj}.bias"] = [rows]
            s[b + "self_attn.o_proj.weight"] = [d, q]
            s[b + "post_attention_layernorm.weight"] = [d]
            s[b + "mlp.gate_proj.weight"] = [i_, d]
            s[b + "mlp.up_proj.weight"] = [i_, d]
            s[b + "mlp.down_proj.weight"] = [d, i_]
        s["model.norm.weight"] = [d]
        if not m.tied:
            s["lm_head.weight"] = [v, d]
        return s

    def name_map(self, m: HFModel) -> Dict[str, str]:
        out = {"embed.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight"}
        for i in range(m.num_layers):
            b, n = f"model.layers.{i}.", f"layers.{i}."
            out[n + "attn_norm.weight"] = b + "input_layernorm.weight"
            for ours in ("q", "k", "v"):
                out[f"{n}attn.{ours}.weight"] = f"{b}self_attn.{ours}_proj.weight"
                if m.qkv_bias:
                    out[f"{n}attn.{ours}.bias"] = f"{b}self_attn.{ours}_proj.bias"
            out[n + "attn.o.weight"] = b + "self_attn.o_proj.weight"
            out[n + "ffn_norm.weight"] = b + "post_attention_layernorm.weight"
            out[n + "mlp.gate.weight"] = b + "mlp.gate_proj.weight"
            out[n + "mlp.up.weight"] = b + "mlp.up_proj.weight"
            out[n + "mlp.down.weight"] = b + "mlp.down_proj.weight"
        if not m.tied:
            out["lm_head.weight"] = "lm_head.weight"
        return out


class Qwen2(Dream):
    """Qwen2 / Qwen2.5 causal LMs: Dream's keys and tensor names (Qwen2Model's), causal attention.
    Qwen2Attention creates q/k/v with bias=True; Qwen2.5-0.5B / 1.5B tie the LM head to the
    embedding (tie_word_embeddings true, no lm_head.weight in the checkpoint)."""
    name = "qwen2"
    architecture = "qwen2"
    kind = "causal"
    logits_shifted = False
    model_types = ("qwen2",)
    class_names = ("Qwen2ForCausalLM",)
    mask_token = ""
    end_of_turn_tokens = ("<|im_end|>",)
    released_vocab = 151936  # Qwen2.5-0.5B / 1.5B (the 7B's is 152064)
    released_ids = {"<|endoftext|>": 151643, "<|im_end|>": 151645}

    def read(self, cfg: Dict, where: str) -> HFModel:
        types = cfg.get("layer_types")  # newer transformers write one entry per layer
        if types is not None and (not isinstance(types, list) or any(t != "full_attention" for t in types)):
            raise ValueError(f"{where}: layer_types is {types!r}; localleap supports only full_attention layers "
                             f"(no sliding-window attention)")
        m = super().read(cfg, where)
        if m.mask_id is not None:
            m.notes.append(f"mask_token_id {m.mask_id} ignored: a causal model has no mask token")
            m.mask_id = None
        return m


FAMILIES: Tuple[Family, ...] = (LLaDA(), Dream(), Qwen2())


def _check_heads(m: HFModel, where: str, hidden: str, heads: str, kv: str) -> None:
    if m.hidden_size % m.num_heads:
        raise ValueError(f"{where}: {hidden} {m.hidden_size} is not a multiple of {heads} {m.num_heads}")
    if m.head_dim % 2:
        raise ValueError(f"{where}: head dimension {m.head_dim} ({hidden} / {heads}) must be even for rotary embeddings")
    if m.num_heads % m.num_kv_heads:
        raise ValueError(f"{where}: {heads} {m.num_heads} is not a multiple of {kv} {m.num_kv_heads}")


def detect(cfg: Dict, where: str) -> Family:
    """The family of a config.json; a clear error for anything else."""
    for fam in FAMILIES:
        if fam.matches(cfg):
            return fam
    supported = "; ".join(f"{f.name}: model_type {f.model_types[0]!r} / {', '.join(f.class_names)}"
                          + (" (causal, the autoregressive model of APD)" if f.kind == "causal" else "")
                          for f in FAMILIES)
    raise ValueError(f"{where}: unsupported architecture: model_type {cfg.get('model_type')!r}, architectures "
                     f"{cfg.get('architectures')!r}. localleap exports bidirectional diffusion LMs and causal LMs of "
                     f"these families: {supported}")


def resolve_special_ids(m: HFModel, token_id: Callable[[str], Optional[int]], generation_config: Optional[Dict],
                        tokenizer_config: Optional[Dict], log: Callable[[str], None]) -> Dict:
    """maskId, eosId, endIds, padId and where each came from (config.json first, then the
    tokenizer's token texts, then the released checkpoint's ids when the vocab is the released one).
    A causal family has no mask: mask_id is None."""
    fam = m.family
    released = m.vocab_size == fam.released_vocab
    sources: Dict[str, str] = {}

    def by_text(text: Optional[str], what: str) -> Optional[int]:
        if not text:
            return None
        i = token_id(text)
        if i is not None:
            sources[what] = f"tokenizer token {text}"
            return i
        if released and text in fam.released_ids:
            sources[what] = f"released {fam.name} id of {text} (the tokenizer lacks the token)"
            return fam.released_ids[text]
        return None

    mask = m.mask_id
    if fam.kind == "causal":
        mask = None  # a causal model has no mask token (maskId is absent from its metadata)
    elif mask is not None:
        sources["maskId"] = "config.json mask_token_id"
    else:
        mask = by_text(fam.mask_token, "maskId")
    if mask is None and fam.kind != "causal":
        raise ValueError(f"config.json: mask_token_id is missing and the tokenizer has no {fam.mask_token} token")

    gen_eos: List[int] = []
    if generation_config:
        v = generation_config.get("eos_token_id")
        gen_eos = [i for i in (v if isinstance(v, list) else [v]) if type(i) is int]
    eos: Optional[int] = None
    if m.eos_ids:
        eos = m.eos_ids[0]
        sources["eosId"] = "config.json eos_token_id"
    elif gen_eos:
        eos = gen_eos[0]
        sources["eosId"] = "generation_config.json eos_token_id"
    else:
        tc_eos = (tokenizer_config or {}).get("eos_token")
        eos = by_text(tc_eos.get("content") if isinstance(tc_eos, dict) else tc_eos, "eosId")
    if eos is None:
        raise ValueError("config.json: eos_token_id is missing (and neither generation_config.json nor "
                         "tokenizer_config.json names an end-of-text token)")
    ends = [eos]
    for i in m.eos_ids[1:] + gen_eos:
        if i not in ends:
            ends.append(i)
    for text in fam.end_of_turn_tokens:
        i = by_text(text, f"endIds {text}")
        if i is None:
            log(f"warning: the tokenizer has no {text} token: generation stops only at end-of-text")
        elif i not in ends:
            ends.append(i)
    ends = [i for i in ends if i != mask]
    pad = m.pad_id if m.pad_id is not None else eos
    return {"mask_id": mask, "eos_id": eos, "end_ids": ends, "pad_id": pad, "sources": sources}
