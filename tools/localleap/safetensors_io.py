"""Read and write the safetensors format without pickle and without the safetensors package.

File layout: 8-byte little-endian header length N, N bytes of JSON
({name: {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__": {str: str}}),
then the raw little-endian tensor bytes; offsets are relative to the end of the header.
A sharded set is a folder with `model.safetensors.index.json` ({"weight_map": {name: file}}).
"""
import json
import os
import struct
import sys
from typing import Dict, List, Optional, Tuple

import torch

INDEX_NAME = "model.safetensors.index.json"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the reference implementation's limit

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
ITEM_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
# Same-size integer views used to get raw bytes through numpy (numpy has no bfloat16).
_RAW_VIEW = {8: torch.int64, 4: torch.int32, 2: torch.int16, 1: torch.uint8}

if sys.byteorder != "little":  # raw bytes are written and read as they lie in memory
    raise ImportError("safetensors_io needs a little-endian host")


class TensorInfo:
    __slots__ = ("name", "dtype", "shape", "begin", "end")

    def __init__(self, name: str, dtype: str, shape: List[int], begin: int, end: int):
        self.name, self.dtype, self.shape, self.begin, self.end = name, dtype, shape, begin, end


def _numel(shape: List[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def read_header(path: str) -> Tuple[Dict[str, TensorInfo], Dict[str, str], int]:
    """Validated header of one file: ({name: TensorInfo}, metadata, byte offset of the data)."""
    def bad(msg: str) -> ValueError:
        return ValueError(f"{path}: {msg}")

    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise bad(f"truncated file ({size} bytes, no header length)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER_BYTES or n > size - 8:
                raise bad(f"header length {n} does not fit in the file ({size} bytes)")
            raw = f.read(n)
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ValueError(f"{path}: is a directory, not a safetensors file") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise bad("__metadata__ must map strings to strings")
    data_start = 8 + n
    data_size = size - data_start
    infos: Dict[str, TensorInfo] = {}
    for name, e in header.items():
        where = f"tensor {name!r}"
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"{where}: entry must have exactly dtype, shape and data_offsets")
        dtype, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if dtype not in DTYPES:
            raise bad(f"{where}: unsupported dtype {dtype!r}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise bad(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(type(o) is int for o in offs)):
            raise bad(f"{where}: data_offsets must be two integers, got {offs!r}")
        begin, end = offs
        if not 0 <= begin <= end:
            raise bad(f"{where}: bad data_offsets {offs}")
        if end > data_size:
            raise bad(f"{where}: data_offsets {offs} run past the end of the data ({data_size} bytes; truncated file?)")
        if end - begin != _numel(shape) * ITEM_BYTES[dtype]:
            raise bad(f"{where}: {end - begin} bytes do not match shape {shape} x {dtype} "
                      f"({_numel(shape) * ITEM_BYTES[dtype]} bytes)")
        infos[name] = TensorInfo(name, dtype, shape, begin, end)
    # The data must be covered exactly, in order: no gap, no overlap, nothing trailing.
    pos = 0
    for info in sorted(infos.values(), key=lambda i: (i.begin, i.end)):
        if info.begin != pos:
            kind = "overlaps the previous tensor" if info.begin < pos else "leaves a gap before it"
            raise bad(f"tensor {info.name!r}: data_offsets [{info.begin}, {info.end}] {kind} (expected begin {pos})")
        pos = info.end
    if pos != data_size:
        raise bad(f"{data_size - pos} trailing bytes after the last tensor")
    return infos, metadata, data_start


def _read_tensors(path: str, infos: Dict[str, TensorInfo], data_start: int, names) -> Dict[str, torch.Tensor]:
    out: Dict[str, torch.Tensor] = {}
    with open(path, "rb") as f:
        for name in names:
            info = infos[name]
            nbytes = info.end - info.begin
            dtype = DTYPES[info.dtype]
            if nbytes == 0:
                out[name] = torch.empty(info.shape, dtype=dtype)
                continue
            # A fresh bytearray is writable and malloc-aligned; frombuffer shares it (no second copy).
            buf = bytearray(nbytes)
            f.seek(data_start + info.begin)
            if f.readinto(buf) != nbytes:
                raise ValueError(f"{path}: tensor {name!r}: file ended early (truncated file?)")
            out[name] = torch.frombuffer(buf, dtype=dtype).reshape(info.shape)
    return out


def load_file(path: str, names: Optional[List[str]] = None) -> Dict[str, torch.Tensor]:
    """All tensors of one file (or those in `names`), as writable CPU tensors."""
    infos, _, data_start = read_header(path)
    if names is None:
        names = sorted(infos, key=lambda n: infos[n].begin)
    missing = [n for n in names if n not in infos]
    if missing:
        raise ValueError(f"{path}: no tensor named {', '.join(map(repr, missing))}")
    return _read_tensors(path, infos, data_start, names)


def index_shards(folder: str) -> Dict[str, List[str]]:
    """{shard file name: [tensor names]} from a sharded folder's index, sorted by shard; every
    shard must exist (the error names a tensor it should hold, so a partial download is obvious)."""
    index_path = os.path.join(folder, INDEX_NAME)
    try:
        with open(index_path, "r", encoding="utf-8") as f:
            index = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{index_path}: file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{index_path}: not valid JSON ({e})") from None
    wm = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(wm, dict) or not all(isinstance(v, str) for v in wm.values()):
        raise ValueError(f"{index_path}: needs a \"weight_map\" object mapping tensor names to file names")
    by_file: Dict[str, List[str]] = {}
    for name, fname in wm.items():
        if os.path.basename(fname) != fname:
            raise ValueError(f"{index_path}: tensor {name!r}: shard {fname!r} must be a plain file name")
        by_file.setdefault(fname, []).append(name)
    missing = [f for f in sorted(by_file) if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        names = by_file[missing[0]]
        raise ValueError(f"{folder}: shard {missing[0]} is missing ({len(missing)} of {len(by_file)} shards missing); "
                         f"{INDEX_NAME} puts {len(names)} tensors there, e.g. {sorted(names)[0]!r}. "
                         f"Download or write the whole set of shards")
    return dict(sorted(by_file.items()))


def read_index(folder: str) -> Dict[str, str]:
    """{tensor name: shard path} of a sharded folder, validated against the shards' headers."""
    result: Dict[str, str] = {}
    for fname, names in index_shards(folder).items():
        shard = os.path.join(folder, fname)
        infos, _, _ = read_header(shard)
        missing = [n for n in names if n not in infos]
        if missing:
            raise ValueError(f"{shard}: tensor {missing[0]!r} listed in {INDEX_NAME} is not in this shard")
        extra = sorted(set(infos) - set(names))
        if extra:
            raise ValueError(f"{shard}: tensor {extra[0]!r} is not listed for this shard in {INDEX_NAME}")
        for n in names:
            result[n] = shard
    return result


def read_headers(source: str) -> Dict[str, Tuple[str, TensorInfo]]:
    """{name: (file, info)} for a .safetensors file or a folder (index.json, else model.safetensors)."""
    if os.path.isdir(source):
        if os.path.isfile(os.path.join(source, INDEX_NAME)):
            files = sorted(set(read_index(source).values()))
        elif os.path.isfile(os.path.join(source, "model.safetensors")):
            files = [os.path.join(source, "model.safetensors")]
        else:
            raise ValueError(f"{source}: holds neither model.safetensors nor {INDEX_NAME}")
    else:
        files = [source]
    out: Dict[str, Tuple[str, TensorInfo]] = {}
    for path in files:
        for name, info in read_header(path)[0].items():
            if name in out:
                raise ValueError(f"{path}: tensor {name!r} also appears in {out[name][0]}")
            out[name] = (path, info)
    return out


def load(source: str, names: Optional[List[str]] = None) -> Dict[str, torch.Tensor]:
    """Tensors of a file or of a (possibly sharded) folder; see read_headers."""
    headers = read_headers(source)
    if names is None:
        names = list(headers)
    missing = [n for n in names if n not in headers]
    if missing:
        raise ValueError(f"{source}: no tensor named {', '.join(map(repr, missing))}")
    by_file: Dict[str, List[str]] = {}
    for n in names:
        by_file.setdefault(headers[n][0], []).append(n)
    out: Dict[str, torch.Tensor] = {}
    for path, ns in by_file.items():
        infos, _, data_start = read_header(path)
        out.update(_read_tensors(path, infos, data_start, ns))
    return out


def _raw_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    if t.numel() == 0:
        return b""
    return t.view(_RAW_VIEW[t.element_size()]).numpy().tobytes()


def _prepare(tensors: Dict[str, torch.Tensor]) -> List[Tuple[str, str, List[int], torch.Tensor]]:
    items = []
    for name in sorted(tensors):
        t = tensors[name]
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"tensor {name!r}: not a torch.Tensor")
        if t.dtype not in DTYPE_NAMES:
            raise ValueError(f"tensor {name!r}: dtype {t.dtype} is not supported by safetensors_io")
        items.append((name, DTYPE_NAMES[t.dtype], list(t.shape), t))
    return items


def _header_bytes(items, metadata: Optional[Dict[str, str]]) -> bytes:
    header: Dict = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("safetensors metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    pos = 0
    for name, dt, shape, t in items:
        nbytes = t.numel() * ITEM_BYTES[dt]
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return raw + b" " * (-len(raw) % 8)  # pad so the data starts 8-byte aligned


def save_file(tensors: Dict[str, torch.Tensor], path: str, metadata: Optional[Dict[str, str]] = None) -> int:
    """Writes one safetensors file (atomically, via a temporary file); returns its size in bytes."""
    items = _prepare(tensors)
    header = _header_bytes(items, metadata)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for _, _, _, t in items:
            f.write(_raw_bytes(t))
    os.replace(tmp, path)
    return os.path.getsize(path)


def save_sharded(tensors: Dict[str, torch.Tensor], folder: str, max_shard_bytes: int,
                 metadata: Optional[Dict[str, str]] = None) -> List[str]:
    """Writes model-0000k-of-0000n.safetensors files of at most max_shard_bytes each, plus the index."""
    items = _prepare(tensors)
    shards: List[List] = [[]]
    for item in items:
        if _shard_size(shards[-1] + [item], metadata) > max_shard_bytes:
            if not shards[-1] or _shard_size([item], metadata) > max_shard_bytes:
                raise ValueError(f"tensor {item[0]!r} alone needs more than {max_shard_bytes} bytes")
            shards.append([])
        shards[-1].append(item)
    os.makedirs(folder, exist_ok=True)
    n = len(shards)
    weight_map: Dict[str, str] = {}
    names = []
    for k, shard in enumerate(shards, 1):
        fname = f"model-{k:05d}-of-{n:05d}.safetensors"
        save_file({name: t for name, _, _, t in shard}, os.path.join(folder, fname), metadata)
        weight_map.update({name: fname for name, _, _, _ in shard})
        names.append(fname)
    total = sum(t.numel() * ITEM_BYTES[dt] for _, dt, _, t in items)
    with open(os.path.join(folder, INDEX_NAME), "w", encoding="utf-8") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    return names


def _shard_size(items, metadata) -> int:
    return 8 + len(_header_bytes(items, metadata)) + sum(t.numel() * ITEM_BYTES[dt] for _, dt, _, t in items)
