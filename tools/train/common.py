"""Shared pieces of the reference-model pipeline: special tokens, chat format, tokenizer access,
safetensors shards, logging. Imports no torch at module level (the data and tokenizer stages run
without it); functions that need torch import it themselves."""
import json
import os
import struct
import sys
import time
from typing import Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, "tools")

# Special tokens, in id order (ids 0..5 of the trained tokenizer).
EOS = "<|endoftext|>"
BOS = "<|startoftext|>"
SH = "<|start_header_id|>"
EH = "<|end_header_id|>"
EOT = "<|eot_id|>"
MASK = "<|mdm_mask|>"
SPECIAL_TOKENS = [EOS, BOS, SH, EH, EOT, MASK]

# LLaDA's chat template (Hugging Face Jinja). For one user message with the generation prompt it
# renders exactly chat_prompt(question) below.
CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}"
    "{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)

MODEL_NAME = "localleap-reference"


def chat_prompt(question: str) -> str:
    return f"{BOS}{SH}user{EH}\n\n{question.strip()}{EOT}{SH}assistant{EH}\n\n"


def answer_text(solution: str) -> str:
    """The assistant turn as trained: the worked solution, then end-of-turn (EOS padding follows)."""
    return solution + EOT


def tokenizer_config() -> Dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "unk_token": None,
        "mask_token": MASK,
        "additional_special_tokens": [SH, EH, EOT],
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 384,
        "chat_template": CHAT_TEMPLATE,
    }


# ------------------------------------------------------------------------------------------------
# Tokenizer access. Training and evaluation take any object with this interface; the CLIs load a
# Hugging Face tokenizer.json through the `tokenizers` package (imported lazily: it exists on the
# GPU machine, not necessarily where the CPU tests run).

class HFTokenizer:
    def __init__(self, path: str):
        from tokenizers import Tokenizer  # lazy: only needed where a real tokenizer is used
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        self.path = path
        self.tok = Tokenizer.from_file(path)
        self.vocab_size = self.tok.get_vocab_size(with_added_tokens=True)

    def encode_batch(self, texts: Sequence[str]) -> List[List[int]]:
        return [e.ids for e in self.tok.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, text: str) -> List[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=False)

    def token_id(self, token: str) -> int:
        i = self.tok.token_to_id(token)
        if i is None:
            raise KeyError(f"token {token!r} is not in {self.path}")
        return i


def special_ids(tok) -> Dict[str, int]:
    return {"eos": tok.token_id(EOS), "bos": tok.token_id(BOS), "eot": tok.token_id(EOT),
            "mask": tok.token_id(MASK), "sh": tok.token_id(SH), "eh": tok.token_id(EH)}


# ------------------------------------------------------------------------------------------------
# safetensors shards: model-0000k-of-0000n.safetensors + model.safetensors.index.json

def _tensor_bytes(t) -> bytes:
    import torch
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


_ST_DTYPES = {"BF16": 2, "F16": 2, "F32": 4, "I64": 8, "I32": 4}


def _st_dtype(t) -> str:
    import torch
    return {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32",
            torch.int64: "I64", torch.int32: "I32"}[t.dtype]


def write_safetensors(tensors: Dict, path: str, metadata: Optional[Dict[str, str]] = None):
    """A minimal safetensors writer (JSON header, raw little-endian bytes): the fallback when
    neither tools/localleap/safetensors_io.py nor the safetensors package is there."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name]
        b = _tensor_bytes(t)
        header[name] = {"dtype": _st_dtype(t), "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = dict(metadata)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path: str) -> Dict:
    import numpy as np
    import torch
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        s, e = info["data_offsets"]
        raw = np.frombuffer(data[s:e], dtype={"BF16": np.int16, "F16": np.float16, "F32": np.float32,
                                              "I64": np.int64, "I32": np.int32, "I8": np.int8}[info["dtype"]]).copy()
        t = torch.from_numpy(raw)
        if info["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t.reshape(info["shape"])
    return out


def _own_save_sharded(tensors: Dict, folder: str, max_shard_bytes: int):
    names = sorted(tensors)
    shards: List[List[str]] = [[]]
    size = 0
    for name in names:
        nb = tensors[name].numel() * tensors[name].element_size()
        if shards[-1] and size + nb > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += nb
    n = len(shards)
    weight_map = {}
    total = 0
    for k, group in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{n:05d}.safetensors"
        write_safetensors({g: tensors[g] for g in group}, os.path.join(folder, fname), {"format": "pt"})
        for g in group:
            weight_map[g] = fname
            total += tensors[g].numel() * tensors[g].element_size()
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)


def _package_save_sharded(tensors: Dict, folder: str, max_shard_bytes: int):
    from safetensors.torch import save_file
    tmp = os.path.join(folder, ".probe")
    os.makedirs(tmp, exist_ok=True)
    _own_save_sharded(tensors, tmp, max_shard_bytes)  # the layout (which tensor goes where)
    with open(os.path.join(tmp, "model.safetensors.index.json")) as f:
        index = json.load(f)
    files: Dict[str, Dict] = {}
    for name, fname in index["weight_map"].items():
        files.setdefault(fname, {})[name] = tensors[name].detach().contiguous().cpu()
    for fname, group in files.items():
        save_file(group, os.path.join(folder, fname), metadata={"format": "pt"})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=1)
    for fn in os.listdir(tmp):
        os.remove(os.path.join(tmp, fn))
    os.rmdir(tmp)


def save_sharded(tensors: Dict, folder: str, max_shard_bytes: int) -> str:
    """Write the shards with the repo's writer when it is there, else the safetensors package,
    else the minimal writer above; returns which one wrote them. Same layout in every case."""
    os.makedirs(folder, exist_ok=True)
    for fn in os.listdir(folder):
        if fn.startswith("model-") and fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            os.remove(os.path.join(folder, fn))
    try:
        if TOOLS not in sys.path:
            sys.path.insert(0, TOOLS)
        from localleap.safetensors_io import save_sharded as repo_save  # type: ignore
    except Exception:
        repo_save = None
    if repo_save is not None:
        try:
            repo_save(tensors, folder, max_shard_bytes)
            if os.path.exists(os.path.join(folder, "model.safetensors.index.json")):
                return "tools/localleap/safetensors_io.py"
            log("warning: tools/localleap/safetensors_io.py wrote no index; using the fallback writer")
        except Exception as e:  # a writer still being written: fall back, loudly
            log(f"warning: tools/localleap/safetensors_io.save_sharded failed ({e!r}); using the fallback writer")
    try:
        _package_save_sharded(tensors, folder, max_shard_bytes)
        return "safetensors package"
    except ImportError:
        _own_save_sharded(tensors, folder, max_shard_bytes)
        return "tools/train/common.py minimal writer"


def load_sharded(folder: str) -> Dict:
    idx = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for fn in files:
        out.update(read_safetensors(os.path.join(folder, fn)))
    return out


# ------------------------------------------------------------------------------------------------

_T0 = time.time()


def log(msg: str):
    print(f"[{time.time() - _T0:7.1f}s] {msg}", flush=True)


def read_jsonl(path: str, limit: Optional[int] = None) -> List[Dict]:
    out = []
    with open(path) as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
                if limit is not None and len(out) >= limit:
                    break
    return out


def write_jsonl(path: str, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def import_model():
    """tools/localleap/model.py (imported, never copied)."""
    if TOOLS not in sys.path:
        sys.path.insert(0, TOOLS)
    from localleap import model  # type: ignore
    return model
