"""A tiny hand-written Hugging Face byte-level BPE tokenizer with LLaDA's special tokens.

Ids: 0..255 the GPT-2 byte alphabet, then a few merges, then the special tokens.
"""
from typing import Dict, List, Tuple

SPECIAL_TOKENS = ["<|startoftext|>", "<|endoftext|>", "<|eot_id|>", "<|mdm_mask|>",
                  "<|start_header_id|>", "<|end_header_id|>"]
# Merges (GPT-2 byte alphabet: "Ġ" is the space byte, "Ċ" the newline byte).
MERGES: List[Tuple[str, str]] = [
    ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "n"), ("e", "r"), ("o", "n"), ("r", "e"),
    ("l", "l"), ("o", "r"), ("Ġ", "w"), ("Ġw", "or"), ("l", "d"), ("Ġwor", "ld"), ("H", "e"),
    ("He", "ll"), ("Hell", "o"), ("Ċ", "Ċ"), ("Ġ", "s"), ("a", "n"),
]
# LLaDA-8B-Instruct's template (Llama-3 style headers, BOS before the first message).
CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + "
    "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte -> printable character map, used by the ByteLevel components."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def _merge_candidates():
    yield from MERGES
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    for c in letters + letters.upper() + "0123456789":
        yield ("Ġ", c)
    for a in letters:
        for b in letters:
            yield (a, b)


def build_tokenizer(vocab_size: int = 0) -> Tuple[Dict, Dict[str, int]]:
    """(tokenizer.json object, {special token: id}). With vocab_size, merges (then reserved
    special tokens) fill the vocabulary so that every id the model can emit decodes to something."""
    byte_chars = bytes_to_unicode()
    vocab: Dict[str, int] = {byte_chars[b]: b for b in range(256)}
    target = max(vocab_size, 256 + len(MERGES) + len(SPECIAL_TOKENS)) - len(SPECIAL_TOKENS)
    merges = []
    for a, b in _merge_candidates():
        if len(vocab) >= target:
            break
        if a in vocab and b in vocab and a + b not in vocab:
            vocab[a + b] = len(vocab)
            merges.append((a, b))
    names = list(SPECIAL_TOKENS) + [f"<|reserved_special_token_{k}|>" for k in range(target - len(vocab))]
    special = {t: len(vocab) + i for i, t in enumerate(names)}
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t, i in special.items()],
        "normalizer": None,
        "pre_tokenizer": byte_level,
        "post_processor": None,  # BOS is added by localleap (addBos), not by the tokenizer
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    return tok, special


def build_tokenizer_config() -> Dict:
    return {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "add_bos_token": True,
        "add_eos_token": False,
        "model_max_length": 4096,
        "clean_up_tokenization_spaces": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": CHAT_TEMPLATE,
    }
