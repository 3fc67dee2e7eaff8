#!/usr/bin/env python3
"""Writes the hostile model archives of test/reliability/ into OUT_DIR (with torch.jit.script +
torch.jit.save, as anyone could): archives that read or write files, re-point their input, raise in
the probe, or carry an extra file that inflates past localleap's limits. Each is otherwise a valid
tiny localleap model (vocab 64, mask 63). The files they would touch are under OUT_DIR.

usage: make_hostile_archives.py OUT_DIR   (prints the archive names, one a line)
"""
import json
import os
import sys
import zipfile
from typing import List, Optional

import torch
from torch import Tensor

VOCAB, MASK = 64, 63
METADATA = {
    "format": "localleap", "formatVersion": 1, "name": "hostile", "architecture": "llada",
    "vocabSize": VOCAB, "maskId": MASK, "eosId": 0, "endIds": [0], "padId": 0, "logitsShifted": False,
    "maxLength": 64, "dtype": "float32", "attention": "manual", "config": {}, "chatTemplate": None,
    "addBos": False, "bosToken": None, "exporter": {"tool": "test/support/make_hostile_archives.py"},
}


class Tiny(torch.nn.Module):
    """A valid model: token embedding -> LM head; the engine's three methods."""

    def __init__(self, path: str = ""):
        super().__init__()
        self.path = path  # the file a hostile variant touches (TorchScript closes over no globals)
        torch.manual_seed(0)
        self.embed = torch.nn.Embedding(VOCAB, 16)
        self.head = torch.nn.Linear(16, VOCAB, bias=False)

    def forward(self, ids: Tensor) -> Tensor:
        return self.head(self.embed(ids))

    @torch.jit.export
    def logits_at(self, ids: Tensor, positions: Tensor) -> Tensor:
        return self.head(self.embed(ids.index_select(1, positions)))

    @torch.jit.export
    def logits_at_padded(self, ids: Tensor, positions: Tensor, left_pad: Tensor) -> Tensor:
        return self.logits_at(ids, positions)


class TinyCache(Tiny):
    """A valid format-v2 model: the cache methods store the embeddings as keys and values."""

    @torch.jit.export
    def cache_full(self, ids: Tensor, positions: Tensor, left_pad: Optional[Tensor], kv: Tensor) -> Tensor:
        h = self.embed(ids)
        kv[0, 0].copy_(h[:, None, :, :])
        kv[0, 1].copy_(h[:, None, :, :])
        return self.head(h.index_select(1, positions))

    @torch.jit.export
    def cache_step(self, ids: Tensor, window: Tensor, positions: Tensor, left_pad: Optional[Tensor], kv: Tensor) -> Tensor:
        h = self.embed(ids.index_select(1, window))
        kv[0, 0].index_copy_(2, window, h[:, None, :, :])
        return self.head(h.index_select(1, positions))


CACHE_METADATA = dict(METADATA, formatVersion=2, kvCache={"layers": 1, "kvHeads": 1, "headDim": 16})


def cache_classes():
    class ResizeCache(TinyCache):
        # Shrinks the engine's cache tensor (a captured graph would then write past it).
        @torch.jit.export
        def cache_step(self, ids: Tensor, window: Tensor, positions: Tensor, left_pad: Optional[Tensor], kv: Tensor) -> Tensor:
            kv.resize_([1])
            return self.head(self.embed(ids.index_select(1, window)).index_select(1, positions))

    class RepointCache(TinyCache):
        # Points the cache tensor at memory of its own.
        @torch.jit.export
        def cache_full(self, ids: Tensor, positions: Tensor, left_pad: Optional[Tensor], kv: Tensor) -> Tensor:
            kv.set_(torch.zeros(kv.size(), dtype=kv.dtype))
            return self.head(self.embed(ids).index_select(1, positions))

    return {"valid-cache": TinyCache(), "resize-cache": ResizeCache(), "repoint-cache": RepointCache()}


def hostile_classes(out: str):
    written = os.path.join(out, "written-by-forward.bin")
    secret = os.path.join(out, "secret.txt")
    victim = os.path.join(out, "victim.txt")
    setstate_file = os.path.join(out, "written-by-setstate.bin")

    class SaveInForward(Tiny):
        def forward(self, ids: Tensor) -> Tensor:
            torch.save(ids, self.path)
            return self.head(self.embed(ids))

    class ReadSecret(Tiny):
        # The secret's bytes come back as the generated tokens.
        @torch.jit.export
        def logits_at(self, ids: Tensor, positions: Tensor) -> Tensor:
            data = torch.from_file(self.path, False, 8, dtype=torch.uint8).long() % 63
            k = positions.size(0)
            hot = torch.nn.functional.one_hot(data[:k], 64).float() * 100.0
            return hot.unsqueeze(0).expand(ids.size(0), k, 64).contiguous()

    class OverwriteShared(Tiny):
        def forward(self, ids: Tensor) -> Tensor:
            mapped = torch.from_file(self.path, True, 8, dtype=torch.uint8)
            mapped.fill_(88)
            return self.head(self.embed(ids)) + mapped.sum().float() * 0.0

    class WriteInSetstate(Tiny):
        @torch.jit.export
        def __getstate__(self) -> List[int]:
            return [1]

        @torch.jit.export
        def __setstate__(self, state: List[int]) -> None:
            torch.save(torch.zeros([1]), self.path)

    class SetInput(Tiny):
        # Re-points the engine's canvas at a one-element storage (the rule then indexed past it).
        @torch.jit.export
        def logits_at(self, ids: Tensor, positions: Tensor) -> Tensor:
            b = ids.size(0)
            ids.set_(torch.zeros([1], dtype=torch.long))
            return self.head(self.embed(torch.zeros([b, positions.size(0)], dtype=torch.long)))

    class WriteHugeIds(Tiny):
        # Writes ids beyond int32 into its input (the engine's canvas before it passed copies).
        @torch.jit.export
        def logits_at(self, ids: Tensor, positions: Tensor) -> Tensor:
            logits = self.head(self.embed(ids.index_select(1, positions)))
            ids.fill_(2 ** 40 + 5)
            return logits

    class ProbeRaises(Tiny):
        def forward(self, ids: Tensor) -> Tensor:
            raise RuntimeError("hostile probe")

    class ProbeLoops(Tiny):
        # A forward that never returns (x only grows): no signal can interrupt it natively.
        def forward(self, ids: Tensor) -> Tensor:
            x = ids.sum()
            while bool(x >= 0):
                x = x + 1
            return self.head(self.embed(ids))

    class WrongShapeLater(Tiny):
        # Right at the 8-token probe, wrong on longer canvases: caught at generate.
        @torch.jit.export
        def logits_at(self, ids: Tensor, positions: Tensor) -> Tensor:
            logits = self.head(self.embed(ids.index_select(1, positions)))
            if ids.size(1) > 8:
                return logits[:, :1, :]
            return logits

    class IntLogits(Tiny):
        @torch.jit.export
        def logits_at(self, ids: Tensor, positions: Tensor) -> Tensor:
            return ids.index_select(1, positions).unsqueeze(-1).expand(-1, -1, 64)

    return {
        "save-in-forward": SaveInForward(written), "read-secret": ReadSecret(secret),
        "overwrite-shared": OverwriteShared(victim), "write-in-setstate": WriteInSetstate(setstate_file),
        "set-input": SetInput(), "write-huge-ids": WriteHugeIds(), "probe-raises": ProbeRaises(), "probe-loops": ProbeLoops(),
        "wrong-shape-later": WrongShapeLater(), "int-logits": IntLogits(), "valid": Tiny(),
    }


def save(module: torch.nn.Module, path: str, metadata=None) -> None:
    extra = {"localleap.json": json.dumps(metadata or METADATA)}
    torch.jit.save(torch.jit.script(module), path, _extra_files=extra)


def rewrite(src: str, dst: str, edit) -> None:
    """Copies an archive entry by entry; edit(name, data) returns the new data, or
    (data, compress_type) to store it compressed."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info.filename))
            kind = zipfile.ZIP_STORED
            if isinstance(data, tuple):
                data, kind = data
            zout.writestr(info.filename, data, compress_type=kind)


def inflated(json_text: str, megabytes: int) -> bytes:
    # Valid JSON followed by whitespace: small deflated, megabytes inflated.
    return (json_text + " " * (megabytes << 20)).encode()


def main() -> int:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    names = []
    for name, module in hostile_classes(out).items():
        save(module, os.path.join(out, name + ".pt"))
        names.append(name)
    for name, module in cache_classes().items():
        save(module, os.path.join(out, name + ".pt"), CACHE_METADATA)
        names.append(name)
    valid = os.path.join(out, "valid.pt")

    def code_edit(old: str, new: str):
        def edit(name: str, data: bytes):
            if name.endswith("code/__torch__.py"):
                return data.decode().replace(old, new).encode()
            return data
        return edit

    # Calls a custom-namespace operator (no scripting needed: the code is plain text).
    rewrite(valid, os.path.join(out, "custom-op.pt"), code_edit("torch.index_select(", "ops.mylib.index_select("))
    names.append("custom-op")
    # An operator libtorch 1.13 lacks (what an sdpa export is to it).
    rewrite(valid, os.path.join(out, "missing-op.pt"),
            code_edit("    _1 = torch.index_select(",
                      "    _9 = torch.scaled_dot_product_attention(embed.weight, embed.weight, embed.weight)\n"
                      "    _1 = torch.index_select("))
    names.append("missing-op")

    metadata_text = json.dumps(METADATA)
    rewrite(valid, os.path.join(out, "inflated-metadata.pt"),
            lambda n, d: (inflated(metadata_text, 8), zipfile.ZIP_DEFLATED) if n.endswith("extra/localleap.json") else d)
    names.append("inflated-metadata")
    with zipfile.ZipFile(valid) as z:
        base = [n for n in z.namelist() if "/" in n][0].split("/")[0]
    src_tok = os.path.join(out, "inflated-tokenizer.tmp.pt")
    with zipfile.ZipFile(valid) as zin, zipfile.ZipFile(src_tok, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        zout.writestr(base + "/extra/tokenizer.json", inflated("{}", 65), compress_type=zipfile.ZIP_DEFLATED)
    os.replace(src_tok, os.path.join(out, "inflated-tokenizer.pt"))
    names.append("inflated-tokenizer")

    bad = dict(METADATA, vocabSize=2 ** 31)
    save(Tiny(), os.path.join(out, "huge-vocab.pt"), bad)
    names.append("huge-vocab")
    print("\n".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
