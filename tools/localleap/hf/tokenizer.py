"""The tokenizer files of a Hugging Face checkpoint, as localleap embeds them.

localleap's Node side reads a `tokenizer.json` (the `tokenizers` library's format) and
`tokenizer_config.json` (chat template, BOS/EOS texts). A checkpoint that ships only the slow
Qwen2-style files (`vocab.json` + `merges.txt`, as a `DreamTokenizer` does) gets a tokenizer.json
built from them: byte-level BPE with Qwen2's pre-tokenizer regex and NFC normalisation, the added
tokens from tokenizer_config.json's `added_tokens_decoder`.
"""
import json
import os
from typing import Dict, List, Optional, Tuple

from ..metadata import read_json, tokenizer_tokens

# Qwen2's pre-tokenization pattern (the `PRETOKENIZE_REGEX` of Qwen2's and Dream's slow tokenizers).
QWEN2_PRETOKENIZE_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                           r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}


def added_tokens_from_config(tc: Dict) -> List[Dict]:
    """tokenizer.json `added_tokens` entries from tokenizer_config.json's added_tokens_decoder."""
    atd = tc.get("added_tokens_decoder") or {}
    out = []
    for key, e in atd.items():
        if not (isinstance(e, dict) and isinstance(e.get("content"), str) and str(key).isdigit()):
            raise ValueError(f"tokenizer_config.json: added_tokens_decoder[{key!r}] is not a token entry")
        out.append({"id": int(key), "content": e["content"], "single_word": bool(e.get("single_word", False)),
                    "lstrip": bool(e.get("lstrip", False)), "rstrip": bool(e.get("rstrip", False)),
                    "normalized": bool(e.get("normalized", False)), "special": bool(e.get("special", False))})
    return sorted(out, key=lambda e: e["id"])


def qwen2_tokenizer_json(vocab: Dict[str, int], merges: List[str], added: List[Dict]) -> Dict:
    """The tokenizer.json of a Qwen2-style byte-level BPE tokenizer (what HF's converter writes)."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PRETOKENIZE_REGEX}, "behavior": "Isolated", "invert": False},
            dict(_BYTE_LEVEL)]},
        "post_processor": dict(_BYTE_LEVEL),
        "decoder": dict(_BYTE_LEVEL),
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def _read_merges(path: str) -> List[str]:
    out = []
    with open(path, "r", encoding="utf-8") as f:
        for i, line in enumerate(f):
            line = line.rstrip("\n").rstrip("\r")
            if (i == 0 and line.startswith("#version")) or not line.strip():
                continue
            if len(line.split(" ")) != 2:
                raise ValueError(f"{path}: line {i + 1} is not a merge (two symbols separated by a space): {line!r}")
            out.append(line)
    return out


class Tokenizer:
    """The tokenizer files found in a checkpoint: texts to embed and token lookups."""

    def __init__(self, folder: str, family_name: str):
        self.folder = folder
        self.files: Dict[str, str] = {}      # file name -> text, to embed / copy
        self.converted = False
        self.config: Optional[Dict] = None
        tj = os.path.join(folder, "tokenizer.json")
        tc = os.path.join(folder, "tokenizer_config.json")
        if os.path.isfile(tc):
            self.config = read_json(tc, "tokenizer_config.json")
            self.files["tokenizer_config.json"] = _read_text(tc)
        if os.path.isfile(tj):
            self.json = read_json(tj, "tokenizer.json")
            self.files["tokenizer.json"] = _read_text(tj)
        elif os.path.isfile(os.path.join(folder, "vocab.json")) and os.path.isfile(os.path.join(folder, "merges.txt")):
            if family_name != "dream":
                raise ValueError(f"{folder}: no tokenizer.json (only vocab.json + merges.txt, which localleap converts "
                                 f"for Qwen2-style Dream tokenizers only)")
            vocab = read_json(os.path.join(folder, "vocab.json"), "vocab.json")
            if not all(type(v) is int for v in vocab.values()):
                raise ValueError(f"{folder}/vocab.json: values must be token ids")
            added = added_tokens_from_config(self.config or {})
            if not added:
                raise ValueError(f"{folder}: tokenizer_config.json has no added_tokens_decoder, so the special "
                                 f"tokens of vocab.json + merges.txt are unknown")
            self.json = qwen2_tokenizer_json(vocab, _read_merges(os.path.join(folder, "merges.txt")), added)
            self.files["tokenizer.json"] = json.dumps(self.json, ensure_ascii=False)
            self.converted = True
        else:
            raise ValueError(f"{folder}: no tokenizer.json (nor vocab.json + merges.txt): localleap needs the "
                             f"checkpoint's tokenizer files")
        self.ids = tokenizer_tokens(self.json)
        for e in added_tokens_from_config(self.config or {}):
            self.ids.setdefault(e["content"], e["id"])
        jinja = os.path.join(folder, "chat_template.jinja")
        self.chat_template: Optional[str] = None
        if (self.config or {}).get("chat_template") is None and os.path.isfile(jinja):
            self.chat_template = _read_text(jinja)  # newer transformers save the template on its own

    def token_id(self, text: str) -> Optional[int]:
        return self.ids.get(text)

    def token_text(self, key: str) -> Optional[str]:
        v = (self.config or {}).get(key)
        if isinstance(v, dict):
            v = v.get("content")
        return v if isinstance(v, str) else None

    def adds_bos(self) -> Tuple[bool, str]:
        """Whether Hugging Face's tokenizer(text) starts with BOS, and why: a post-processor template
        that begins with the BOS token, else tokenizer_config.json's add_bos_token."""
        bos = self.token_text("bos_token")
        pp = self.json.get("post_processor") or {}
        procs = pp.get("processors", []) if pp.get("type") == "Sequence" else [pp]
        for p in procs:
            if isinstance(p, dict) and p.get("type") == "TemplateProcessing":
                first = (p.get("single") or [{}])[0]
                tok = first.get("SpecialToken", {}).get("id") if isinstance(first, dict) else None
                return (tok is not None and tok == bos,
                        f"tokenizer.json post_processor single template starts with {tok!r}")
        v = (self.config or {}).get("add_bos_token")
        return bool(v) and bos is not None, f"tokenizer_config.json add_bos_token {v!r}"


def _read_text(path: str) -> str:
    with open(path, "r", encoding="utf-8") as f:
        return f.read()
