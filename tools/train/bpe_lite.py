"""A pure-Python encoder/decoder for the reference tokenizer.json (byte-level BPE with the
individual-digits pre-tokenizer, as tools/train/train_tokenizer.py builds it), for CPU checks on
machines without the `tokenizers` package. ASCII-oriented: letters are [^\\W\\d_] (Python `re`
has no \\p{L}); enough for the generated problems. Same interface as common.HFTokenizer."""
import json
import os
import re
from typing import Dict, List, Sequence

from localleap.fixture_tokenizer import bytes_to_unicode  # needs tools/ on sys.path, as its users set

_PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+""")


class BPELite:
    def __init__(self, path: str):
        if os.path.isdir(path):
            path = os.path.join(path, "tokenizer.json")
        d = json.load(open(path, encoding="utf-8"))
        assert d["model"]["type"] == "BPE"
        self.vocab = d["model"]["vocab"]
        self.ranks = {tuple(m if isinstance(m, list) else m.split(" ")): i for i, m in enumerate(d["model"]["merges"])}
        self.added = {t["content"]: t["id"] for t in d["added_tokens"]}
        self.inv = {i: s for s, i in self.vocab.items()}
        self.inv.update({i: s for s, i in self.added.items()})
        self.b2u = bytes_to_unicode()
        self.u2b = {u: b for b, u in self.b2u.items()}
        self.special_re = re.compile("(" + "|".join(re.escape(s) for s in sorted(self.added, key=len, reverse=True)) + ")")
        self.vocab_size = max(self.inv) + 1
        self._cache: Dict[str, List[int]] = {}

    def _bpe(self, word: str) -> List[int]:
        if word in self._cache:
            return self._cache[word]
        parts = list(word)
        while len(parts) > 1:
            best = min(((self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))))
            if best[0] == 1 << 30:
                break
            i = best[1]
            parts[i:i + 2] = [parts[i] + parts[i + 1]]
        ids = [self.vocab[p] for p in parts]
        self._cache[word] = ids
        return ids

    def encode(self, text: str) -> List[int]:
        out: List[int] = []
        for chunk in self.special_re.split(text):
            if not chunk:
                continue
            if chunk in self.added:
                out.append(self.added[chunk])
                continue
            for piece in re.split(r"(\d)", chunk):  # Digits(individual_digits=True)
                if not piece:
                    continue
                for w in _PAT.findall(piece):
                    out.extend(self._bpe("".join(self.b2u[b] for b in w.encode("utf-8"))))
        return out

    def encode_batch(self, texts: Sequence[str]) -> List[List[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        s = "".join(self.inv[i] for i in ids)
        out, buf = [], bytearray()
        for ch in s:
            if ch in self.u2b:
                buf.append(self.u2b[ch])
            else:
                out.append(buf.decode("utf-8", "replace"))
                buf = bytearray()
                out.append(ch)
        out.append(buf.decode("utf-8", "replace"))
        return "".join(out)

    def token_id(self, token: str) -> int:
        if token in self.added:
            return self.added[token]
        if token in self.vocab:
            return self.vocab[token]
        raise KeyError(f"token {token!r} is not in the tokenizer")
