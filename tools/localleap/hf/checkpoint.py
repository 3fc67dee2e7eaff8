"""A Hugging Face checkpoint folder: its config and its safetensors weights, read without pickle.

The weights are validated from the headers alone (every expected tensor present, no unknown one,
every shape right) before any data is read, then streamed shard by shard and tensor by tensor:
each tensor is read into its own buffer and converted to the target dtype and device at once, so
the peak host memory is the converted model (nothing when the device is CUDA) plus one tensor.
"""
import json
import os
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch

from .. import safetensors_io as st
from .families import Family, HFModel, detect

GIB = 2 ** 30


def read_checkpoint_config(folder: str) -> Tuple[Dict, Family, HFModel]:
    """(config.json, family, HFModel); errors for a missing folder, config or architecture."""
    if not os.path.isdir(folder):
        raise ValueError(f"checkpoint folder not found: {folder}")
    path = os.path.join(folder, "config.json")
    if not os.path.isfile(path):
        present = sorted(os.listdir(folder))[:8]
        raise ValueError(f"{folder}: no config.json, so this is not a Hugging Face checkpoint folder (expected "
                         f"config.json, model.safetensors.index.json with its *.safetensors shards, tokenizer.json "
                         f"and tokenizer_config.json; found: {', '.join(present) or 'nothing'})")
    cfg = read_optional_json(folder, "config.json")  # present: checked above
    fam = detect(cfg, path)
    return cfg, fam, fam.read(cfg, path)


def weight_files(folder: str) -> Tuple[List[str], Dict[str, str]]:
    """(shard paths in order, {tensor name: shard path}); shards must all exist."""
    index = os.path.join(folder, st.INDEX_NAME)
    single = os.path.join(folder, "model.safetensors")
    if os.path.isfile(index):
        by_shard = st.index_shards(folder)
        paths = {s: os.path.join(folder, s) for s in by_shard}
        return list(paths.values()), {n: paths[s] for s, names in by_shard.items() for n in names}
    if os.path.isfile(single):
        return [single], {}
    pickles = sorted(f for f in os.listdir(folder) if f.endswith((".bin", ".pt", ".pth", ".ckpt")))
    if pickles:
        raise ValueError(f"{folder}: only pickle weights ({', '.join(pickles[:3])}); localleap reads safetensors only "
                         f"(it never unpickles). Convert them to safetensors first")
    raise ValueError(f"{folder}: no weights: neither {st.INDEX_NAME} nor model.safetensors")


class Plan:
    """Validated headers: what will be read from where, in file order."""

    def __init__(self, shards: List[str], tensors: Dict[str, Tuple[str, st.TensorInfo, int]], ignored: List[str]):
        self.shards = shards
        self.tensors = tensors      # name -> (shard, info, data offset of the shard)
        self.ignored = ignored      # present but not needed (e.g. rotary inv_freq buffers)

    def bytes(self) -> int:
        return sum(info.end - info.begin for _, info, _ in self.tensors.values())


def plan_weights(folder: str, fam: Family, m: HFModel) -> Plan:
    """Reads every shard's header and checks it against the family's expected names and shapes."""
    shards, index_map = weight_files(folder)
    expected = fam.hf_shapes(m)
    found: Dict[str, Tuple[str, st.TensorInfo, int]] = {}
    for shard in shards:
        infos, _, data_start = st.read_header(shard)
        for name, info in infos.items():
            if name in found:
                raise ValueError(f"{shard}: tensor {name!r} also appears in {os.path.basename(found[name][0])}")
            if index_map and index_map.get(name) != shard:
                listed = index_map.get(name)
                raise ValueError(f"{shard}: holds tensor {name!r}, which {st.INDEX_NAME} "
                                 + (f"puts in {os.path.basename(listed)}" if listed else "does not list"))
            found[name] = (shard, info, data_start)
    for name, shard in index_map.items():
        if name not in found:
            raise ValueError(f"{shard}: tensor {name!r} listed in {st.INDEX_NAME} is not in this shard "
                             f"(incomplete download?)")
    ignored = sorted(n for n in found if n not in expected and n.endswith(fam.ignorable_suffixes))
    unexpected = sorted(n for n in found if n not in expected and n not in ignored)
    if m.tied and fam.name_map(m).get("lm_head.weight") is None:
        # A tied head saved anyway is ignored (the embedding is the head).
        for n in ("lm_head.weight", "model.transformer.ff_out.weight"):
            if n in unexpected:
                unexpected.remove(n)
                ignored.append(n)
    if unexpected:
        hint = ""
        if any(n.endswith(".bias") for n in unexpected):
            hint = " (biases the config does not announce: include_bias / include_qkv_bias / attention_bias?)"
        raise ValueError(f"{folder}: {len(unexpected)} tensors a {fam.name} checkpoint with this config.json does not "
                         f"have: {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}{hint}")
    missing = [n for n in expected if n not in found]
    if missing:
        raise ValueError(f"{folder}: {len(missing)} tensors missing from the checkpoint: "
                         f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    for name, shape in expected.items():
        shard, info, _ = found[name]
        if list(info.shape) != shape:
            raise ValueError(f"{os.path.basename(shard)}: tensor {name!r} has shape {list(info.shape)}, config.json "
                             f"implies {shape}")
        if info.dtype not in ("F32", "F16", "BF16"):
            raise ValueError(f"{os.path.basename(shard)}: tensor {name!r} has dtype {info.dtype}; expected a float type")
    return Plan(shards, {n: found[n] for n in expected}, ignored)


def stream_weights(plan: Plan, dtype: torch.dtype, device: str, log: Callable[[str], None]) -> Dict[str, torch.Tensor]:
    """Reads the planned tensors shard by shard; returns {Hugging Face name: tensor in dtype on device}."""
    out: Dict[str, torch.Tensor] = {}
    total = plan.bytes()
    done = 0
    t_all = time.time()
    by_shard: Dict[str, List[str]] = {}
    for name, (shard, _, _) in plan.tensors.items():
        by_shard.setdefault(shard, []).append(name)
    for k, shard in enumerate(plan.shards, 1):
        names = sorted(by_shard.get(shard, []), key=lambda n: plan.tensors[n][1].begin)
        if not names:
            continue
        t0 = time.time()
        nbytes = 0
        with open(shard, "rb") as f:
            for name in names:
                _, info, data_start = plan.tensors[name]
                n = info.end - info.begin
                buf = bytearray(n)
                f.seek(data_start + info.begin)
                if f.readinto(buf) != n:
                    raise ValueError(f"{shard}: tensor {name!r}: file ended early (truncated download?)")
                t = torch.frombuffer(buf, dtype=st.DTYPES[info.dtype]).reshape(info.shape)
                out[name] = t.to(device=device, dtype=dtype)
                del t, buf
                nbytes += n
        done += nbytes
        dt = max(time.time() - t0, 1e-6)
        log(f"  [{k}/{len(plan.shards)}] {os.path.basename(shard)}: {len(names)} tensors, {nbytes / GIB:.2f} GiB in "
            f"{dt:.1f} s ({nbytes / GIB / dt:.2f} GiB/s); {done / max(total, 1):.0%} of the weights")
    log(f"  read {total / GIB:.2f} GiB in {time.time() - t_all:.1f} s")
    return out


def read_optional_json(folder: str, name: str) -> Optional[Dict]:
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "r", encoding="utf-8") as f:
            v = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(v, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return v
