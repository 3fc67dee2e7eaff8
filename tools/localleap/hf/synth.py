"""Random-weight checkpoints in the exact Hugging Face layout of LLaDA, Dream and Qwen2 / Qwen2.5
(the causal LM of APD), for tests and benchmarks (tools/make_hf_checkpoint.py).

The layouts here are written out independently of families.py (which the exporter uses), from
the released checkpoints' files: config.json keys, tensor names, shard index, tokenizer files with
the released special tokens at the positions the released tokenizers give them, the released chat
templates. docs/hf-export.md says which of these facts were verified against the released files.
"""
import json
import math
import os
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .. import safetensors_io as st
from ..fixture_tokenizer import _merge_candidates, bytes_to_unicode

GIB = 2 ** 30

# ---------------------------------------------------------------------------------------------
# Presets. "8b" is the released size of each family (LLaDA-8B; Dream-v0-7B), "tiny" a few layers.
PRESETS = {
    "llada": {
        "tiny": {"d_model": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4, "mlp_hidden_size": 128,
                 "vocab_size": 384, "special_base": 320, "reserved": 16, "mask_slot": 12, "shards": 3},
        "8b": {"d_model": 4096, "n_layers": 32, "n_heads": 32, "n_kv_heads": 32, "mlp_hidden_size": 12288,
               "vocab_size": 126464, "special_base": 126080, "reserved": 256, "mask_slot": 252, "shards": 6},
    },
    "dream": {
        "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "intermediate_size": 128, "vocab_size": 384, "special_base": 320, "shards": 3},
        "8b": {"hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28, "num_key_value_heads": 4,
               "intermediate_size": 18944, "vocab_size": 152064, "special_base": 151643, "shards": 4},
    },
    # Qwen2.5-0.5B-Instruct's sizes (the small model beside Dream in the APD paper): a single
    # model.safetensors, LM head tied to the embedding, a logits width (151936) narrower than
    # Dream's (152064) over the same tokenizer. "tiny" keeps that shape: Dream tiny's 320-token
    # base and Qwen2.5's added tokens at 320.., width 352 against Dream tiny's 384.
    "qwen2": {
        "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "intermediate_size": 128, "vocab_size": 352, "special_base": 320, "shards": 1, "tied": True},
        "0.5b": {"hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
                 "intermediate_size": 4864, "vocab_size": 151936, "special_base": 151643, "shards": 1, "tied": True},
    },
}

# LLaDA-8B-Instruct's tokenizer_config.json chat_template, verbatim.
LLADA_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
)

# Qwen2.5's ChatML template with a neutral default system prompt (Dream's is of this form).
DREAM_CHAT_TEMPLATE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# Qwen2.5's added tokens from <|endoftext|> (Dream: 151643) on, and whether each is "special".
QWEN_SPECIALS = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
                 ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
                 ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True), ("<|vision_start|>", True),
                 ("<|vision_end|>", True), ("<|vision_pad|>", True), ("<|image_pad|>", True), ("<|video_pad|>", True),
                 ("<tool_call>", False), ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
                 ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False), ("<|file_sep|>", False)]
DREAM_ADDED = [("<|beginoftext|>", True), ("<|mask|>", True)]  # 151665, 151666 in Dream-v0


def llada_special_tokens(p: Dict) -> List[Tuple[str, int]]:
    """LLaDA's added tokens: <|startoftext|> at the base (126080), ..., <|eot_id|> (126348)."""
    names = ["<|startoftext|>", "<|endoftext|>", "[CLS]", "[gMASK]"]
    names += ["<|mdm_mask|>" if k == p["mask_slot"] else f"<|reserved_token_{k}|>" for k in range(p["reserved"])]
    names += ["<role>", "</role>", "<|arithmetic_start|>", "<|arithmetic_end|>", "<|number_start|>",
              "<|number_end|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    return [(n, p["special_base"] + i) for i, n in enumerate(names)]


def dream_special_tokens(p: Dict) -> List[Tuple[str, int, bool]]:
    return [(n, p["special_base"] + i, s) for i, (n, s) in enumerate(QWEN_SPECIALS + DREAM_ADDED)]


def byte_bpe(n_tokens: int) -> Tuple[Dict[str, int], List[str]]:
    """A byte-level BPE vocabulary: the 256 byte symbols, then merges, up to n_tokens entries (or
    as many merges as the candidate list gives: larger vocabularies keep a gap before the added
    tokens, which the tokenizer never emits)."""
    chars = bytes_to_unicode()
    vocab = {chars[b]: b for b in range(256)}
    merges = []
    for a, b in _merge_candidates():
        if len(vocab) >= n_tokens:
            break
        if a in vocab and b in vocab and a + b not in vocab:
            vocab[a + b] = len(vocab)
            merges.append(f"{a} {b}")
    return vocab, merges


def _added(content: str, i: int, special: bool) -> Dict:
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": special}


def _decoder_entry(content: str, special: bool) -> Dict:
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
            "special": special}


def llada_files(p: Dict) -> Dict[str, object]:
    """config.json, generation_config.json, tokenizer.json, tokenizer_config.json of LLaDA."""
    specials = llada_special_tokens(p)
    ids = dict(specials)
    vocab, merges = byte_bpe(p["special_base"])
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    bos = "<|startoftext|>"
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [_added(n, i, True) for n, i in specials],
        "normalizer": None, "pre_tokenizer": byte_level,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                    {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {bos: {"id": bos, "ids": [ids[bos]], "tokens": [bos]}}},
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    tokenizer_config = {
        "add_bos_token": False, "add_eos_token": False,
        "added_tokens_decoder": {str(i): _decoder_entry(n, True) for n, i in specials},
        "additional_special_tokens": ["<role>", "</role>", "<|arithmetic_start|>", "<|arithmetic_end|>",
                                      "<|number_start|>", "<|number_end|>"],
        "bos_token": bos, "chat_template": LLADA_CHAT_TEMPLATE, "clean_up_tokenization_spaces": False,
        "cls_token": "[CLS]", "eos_token": "<|endoftext|>", "fast_tokenizer": True, "gmask_token": "[gMASK]",
        "merges_file": None, "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 1000000000000000019884624838656, "pad_token": "<|endoftext|>",
        "tokenizer_class": "PreTrainedTokenizerFast", "trust_remote_code": True, "vocab_file": None,
    }
    eos, mask = ids["<|endoftext|>"], ids["<|mdm_mask|>"]
    config = {
        "activation_type": "silu", "alibi": False, "alibi_bias_max": 8.0, "architectures": ["LLaDAModelLM"],
        "attention_dropout": 0.0, "attention_layer_norm": False, "attention_layer_norm_with_affine": True,
        "auto_map": {"AutoConfig": "configuration_llada.LLaDAConfig",
                     "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM", "AutoModel": "modeling_llada.LLaDAModelLM"},
        "bias_for_layer_norm": False, "block_group_size": 1, "block_type": "llama", "d_model": p["d_model"],
        "embedding_dropout": 0.0, "embedding_size": p["vocab_size"], "eos_token_id": eos, "flash_attention": False,
        "include_bias": False, "include_qkv_bias": False, "init_cutoff_factor": None, "init_device": "meta",
        "init_fn": "mitchell", "init_std": 0.02, "input_emb_norm": False, "layer_norm_type": "rms",
        "layer_norm_with_affine": True, "mask_token_id": mask, "max_sequence_length": 4096,
        "mlp_hidden_size": p["mlp_hidden_size"], "mlp_ratio": 4, "model_type": "llada", "multi_query_attention": None,
        "n_heads": p["n_heads"], "n_kv_heads": p["n_kv_heads"], "n_layers": p["n_layers"], "pad_token_id": eos,
        "precision": "amp_bf16", "residual_dropout": 0.0, "rms_norm_eps": 1e-05, "rope": True,
        "rope_full_precision": True, "rope_theta": 500000.0, "scale_logits": False, "transformers_version": "4.46.3",
        "use_cache": False, "vocab_size": p["vocab_size"], "weight_tying": False,
    }
    generation_config = {"_from_model_config": True, "bos_token_id": ids[bos], "eos_token_id": eos,
                         "pad_token_id": eos, "transformers_version": "4.46.3"}
    return {"config.json": config, "generation_config.json": generation_config, "tokenizer.json": tokenizer,
            "tokenizer_config.json": tokenizer_config}


# Qwen2's pre-tokenizer regex, spelled out here (not imported from the exporter's converter).
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def dream_files(p: Dict, tokenizer_json: bool) -> Dict[str, object]:
    """config.json, generation_config.json, vocab.json, merges.txt, tokenizer_config.json (the slow
    DreamTokenizer's files) and, with tokenizer_json, the equivalent fast tokenizer.json."""
    specials = dream_special_tokens(p)
    ids = {n: i for n, i, _ in specials}
    vocab, merges = byte_bpe(p["special_base"])
    tokenizer_config = {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {str(i): _decoder_entry(n, s) for n, i, s in specials},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                                      "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>",
                                      "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",
                                      "<|video_pad|>"],
        "auto_map": {"AutoTokenizer": ["tokenization_dream.DreamTokenizer", None]},
        "bos_token": "<|beginoftext|>", "chat_template": DREAM_CHAT_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>", "errors": "replace", "mask_token": "<|mask|>", "model_max_length": 131072,
        "pad_token": "<|endoftext|>", "split_special_tokens": False, "tokenizer_class": "DreamTokenizer",
        "unk_token": None,
    }
    eos = ids["<|endoftext|>"]
    config = {
        "architectures": ["DreamModel"], "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"},
        "bos_token_id": eos, "eos_token_id": eos, "hidden_act": "silu", "hidden_size": p["hidden_size"],
        "initializer_range": 0.02, "intermediate_size": p["intermediate_size"], "mask_token_id": ids["<|mask|>"],
        "max_position_embeddings": 131072, "max_window_layers": p["num_hidden_layers"], "model_type": "Dream",
        "num_attention_heads": p["num_attention_heads"], "num_hidden_layers": p["num_hidden_layers"],
        "num_key_value_heads": p["num_key_value_heads"], "pad_token_id": eos, "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": None, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.46.2", "use_cache": False, "use_sliding_window": False,
        "vocab_size": p["vocab_size"],
    }
    generation_config = {"_from_model_config": True, "alg": "origin", "alg_temp": None, "bos_token_id": eos,
                         "eos_token_id": eos, "eps": 0.001, "mask_token_id": None, "output_history": False,
                         "pad_token_id": eos, "steps": 512, "temperature": 0.0, "top_k": None, "top_p": None,
                         "transformers_version": "4.46.2"}
    files: Dict[str, object] = {"config.json": config, "generation_config.json": generation_config,
                                "vocab.json": vocab, "merges.txt": "#version: 0.2\n" + "\n".join(merges) + "\n",
                                "tokenizer_config.json": tokenizer_config}
    if tokenizer_json:
        bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
        files["tokenizer.json"] = {
            "version": "1.0", "truncation": None, "padding": None,
            "added_tokens": [_added(n, i, s) for n, i, s in specials],
            "normalizer": {"type": "NFC"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": _QWEN2_SPLIT}, "behavior": "Isolated", "invert": False}, bl]},
            "post_processor": bl, "decoder": bl,
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": merges},
        }
    return files


def qwen2_special_tokens(p: Dict) -> List[Tuple[str, int, bool]]:
    """Qwen2.5's added tokens (<|endoftext|> 151643 .. <|file_sep|> 151664), without Dream's."""
    return [(n, p["special_base"] + i, s) for i, (n, s) in enumerate(QWEN_SPECIALS)]


def qwen2_files(p: Dict) -> Dict[str, object]:
    """config.json (Qwen2.5-0.5B-Instruct's keys), generation_config.json, tokenizer.json (the fast
    tokenizer, as Qwen ships it), vocab.json + merges.txt, tokenizer_config.json."""
    specials = qwen2_special_tokens(p)
    ids = {n: i for n, i, _ in specials}
    vocab, merges = byte_bpe(p["special_base"])
    eos, im_end = ids["<|endoftext|>"], ids["<|im_end|>"]
    tokenizer_config = {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {str(i): _decoder_entry(n, s) for n, i, s in specials},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
                                      "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>",
                                      "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",
                                      "<|video_pad|>"],
        "bos_token": None, "chat_template": DREAM_CHAT_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": 131072, "pad_token": "<|endoftext|>",
        "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
    }
    config = {
        "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": eos, "eos_token_id": im_end,
        "hidden_act": "silu", "hidden_size": p["hidden_size"], "initializer_range": 0.02,
        "intermediate_size": p["intermediate_size"], "max_position_embeddings": 32768,
        "max_window_layers": min(21, p["num_hidden_layers"]), "model_type": "qwen2",
        "num_attention_heads": p["num_attention_heads"], "num_hidden_layers": p["num_hidden_layers"],
        "num_key_value_heads": p["num_key_value_heads"], "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "sliding_window": 32768, "tie_word_embeddings": p["tied"], "torch_dtype": "bfloat16",
        "transformers_version": "4.43.1", "use_cache": True, "use_sliding_window": False,
        "vocab_size": p["vocab_size"],
    }
    generation_config = {"bos_token_id": eos, "do_sample": True, "eos_token_id": [im_end, eos], "pad_token_id": eos,
                         "repetition_penalty": 1.1, "temperature": 0.7, "top_k": 20, "top_p": 0.8,
                         "transformers_version": "4.37.0"}
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [_added(n, i, s) for n, i, s in specials],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": _QWEN2_SPLIT}, "behavior": "Isolated", "invert": False}, bl]},
        "post_processor": bl, "decoder": bl,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    return {"config.json": config, "generation_config.json": generation_config, "tokenizer.json": tokenizer,
            "vocab.json": vocab, "merges.txt": "#version: 0.2\n" + "\n".join(merges) + "\n",
            "tokenizer_config.json": tokenizer_config}


# ---------------------------------------------------------------------------------------------
# Tensors, in the order the released index groups them.

def llada_tensors(p: Dict) -> List[Tuple[str, List[int]]]:
    d, h, v, L = p["d_model"], p["mlp_hidden_size"], p["vocab_size"], p["n_layers"]
    kv = p["n_kv_heads"] * (d // p["n_heads"])
    per_layer = [("attn_out", [d, d]), ("ff_out", [d, h]), ("attn_norm", [d]), ("ff_norm", [d]), ("q_proj", [d, d]),
                 ("k_proj", [kv, d]), ("v_proj", [kv, d]), ("ff_proj", [h, d]), ("up_proj", [h, d])]
    out = [("model.transformer.wte.weight", [v, d]), ("model.transformer.ln_f.weight", [d])]
    for kind, shape in per_layer:  # LLaDA-8B's index groups the shards by kind, not by layer
        out += [(f"model.transformer.blocks.{i}.{kind}.weight", shape) for i in range(L)]
        if kind == "ff_out":
            out.append(("model.transformer.ff_out.weight", [v, d]))
    return out


def dream_tensors(p: Dict) -> List[Tuple[str, List[int]]]:
    d, i_, v, L = p["hidden_size"], p["intermediate_size"], p["vocab_size"], p["num_hidden_layers"]
    hd = d // p["num_attention_heads"]
    q, kv = p["num_attention_heads"] * hd, p["num_key_value_heads"] * hd
    out = [("model.embed_tokens.weight", [v, d])]
    for i in range(L):  # module order, as save_pretrained writes it
        b = f"model.layers.{i}."
        out += [(b + "self_attn.q_proj.weight", [q, d]), (b + "self_attn.q_proj.bias", [q]),
                (b + "self_attn.k_proj.weight", [kv, d]), (b + "self_attn.k_proj.bias", [kv]),
                (b + "self_attn.v_proj.weight", [kv, d]), (b + "self_attn.v_proj.bias", [kv]),
                (b + "self_attn.o_proj.weight", [d, q]), (b + "mlp.gate_proj.weight", [i_, d]),
                (b + "mlp.up_proj.weight", [i_, d]), (b + "mlp.down_proj.weight", [d, i_]),
                (b + "input_layernorm.weight", [d]), (b + "post_attention_layernorm.weight", [d])]
    out.append(("model.norm.weight", [d]))
    return out if p.get("tied") else out + [("lm_head.weight", [v, d])]


def _random(name: str, shape: List[int], gen: torch.Generator, device: str, dtype: torch.dtype) -> torch.Tensor:
    """Every tensor distinct and non-trivial, so that a crossed name map changes the function:
    norms 1 + 0.1 N(0,1), biases 0.1 N(0,1), the embedding N(0,1), matrices N(0,1)/sqrt(fan_in)
    (the LM head twice that, for confident random predictions)."""
    t = torch.randn(shape, generator=gen, device=device, dtype=torch.float32)
    if name.endswith("norm.weight") or name.endswith("ln_f.weight"):
        t.mul_(0.1).add_(1.0)
    elif name.endswith(".bias"):
        t.mul_(0.1)
    elif name in ("model.transformer.wte.weight", "model.embed_tokens.weight"):
        pass
    else:
        scale = 1.0 / math.sqrt(shape[1])
        if name in ("lm_head.weight", "model.transformer.ff_out.weight"):
            scale *= 2.0
        t.mul_(scale)
    return t.to(dtype)


def _save(tensors: Dict[str, torch.Tensor], path: str) -> None:
    try:
        from safetensors.torch import save_file  # faster when installed; same format
        save_file(tensors, path, metadata={"format": "pt"})
    except ImportError:
        st.save_file(tensors, path, {"format": "pt"})


def write_checkpoint(out: str, family: str, preset: str, seed: int = 0, device: str = "cpu",
                     dtype: torch.dtype = torch.bfloat16, tokenizer_json: bool = False, tokenizer_only: bool = False,
                     log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True)) -> Dict:
    """Writes the checkpoint folder; returns {"files": [...], "bytes": weights bytes, "seconds": ...}."""
    if family not in PRESETS:
        raise ValueError(f"family must be one of {', '.join(PRESETS)}, got {family!r}")
    if preset not in PRESETS[family]:
        raise ValueError(f"preset must be one of {', '.join(PRESETS[family])}, got {preset!r}")
    p = PRESETS[family][preset]
    t0 = time.time()
    os.makedirs(out, exist_ok=True)
    files = llada_files(p) if family == "llada" else qwen2_files(p) if family == "qwen2" else dream_files(p, tokenizer_json)
    if dtype != torch.bfloat16 and "config.json" in files:
        cfg = files["config.json"]
        if "torch_dtype" in cfg:
            cfg["torch_dtype"] = str(dtype).replace("torch.", "")
    for name, obj in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            if isinstance(obj, str):
                f.write(obj)
            else:
                json.dump(obj, f, indent=2, ensure_ascii=False)
                f.write("\n")
    written = sorted(files)
    if tokenizer_only:
        return {"files": written, "bytes": 0, "seconds": time.time() - t0}

    layout = llada_tensors(p) if family == "llada" else dream_tensors(p)  # qwen2: Dream's (Qwen2Model's) names
    item = torch.tensor([], dtype=dtype).element_size()
    sizes = [math.prod(s) * item for _, s in layout]
    total = sum(sizes)
    # Contiguous runs of the layout, cut where the running byte count crosses k/shards of the total.
    shards: List[List[int]] = [[] for _ in range(p["shards"])]
    start = 0
    for k, nbytes in enumerate(sizes):
        shards[min(p["shards"] - 1, int((start + nbytes / 2) * p["shards"] / total))].append(k)
        start += nbytes
    shards = [s for s in shards if s]
    n = len(shards)
    weight_map: Dict[str, str] = {}
    log(f"{family} {preset}: {len(layout)} tensors, {_count(sum(math.prod(s) for _, s in layout))} parameters, "
        f"{total / GIB:.2f} GiB {str(dtype).replace('torch.', '')} in {n} shards, generated on {device}")
    for j, members in enumerate(shards, 1):
        t1 = time.time()
        fname = "model.safetensors" if n == 1 else f"model-{j:05d}-of-{n:05d}.safetensors"  # one file: no index
        tensors = {}
        for k in members:
            name, shape = layout[k]
            gen = torch.Generator(device=device).manual_seed(seed * 1000003 + k)
            tensors[name] = _random(name, shape, gen, device, dtype).cpu()
            weight_map[name] = fname
        _save(tensors, os.path.join(out, fname))
        nbytes = sum(sizes[k] for k in members)
        del tensors
        log(f"  [{j}/{n}] {fname}: {len(members)} tensors, {nbytes / GIB:.2f} GiB in {time.time() - t1:.1f} s")
        written.append(fname)
    if n > 1:
        with open(os.path.join(out, st.INDEX_NAME), "w", encoding="utf-8") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
            f.write("\n")
        written.append(st.INDEX_NAME)
    return {"files": written, "bytes": total, "seconds": time.time() - t0}


def _count(n: int) -> str:
    return f"{n / 1e9:.3f} B" if n >= 1e9 else f"{n / 1e6:.3f} M"


def expected_ids(family: str, preset: str) -> Dict[str, int]:
    """The special ids of a preset's tokenizer (for tests)."""
    p = PRESETS[family][preset]
    if family == "llada":
        return dict(llada_special_tokens(p))
    return {n: i for n, i, _ in (qwen2_special_tokens(p) if family == "qwen2" else dream_special_tokens(p))}


def preset_of(family: str, preset: str) -> Optional[Dict]:
    return PRESETS.get(family, {}).get(preset)
