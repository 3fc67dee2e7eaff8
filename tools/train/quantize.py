"""Write an int8 copy of a neutral-weights folder (row-wise symmetric, tools/localleap/quant.py).

  /usr/bin/python3 tools/train/quantize.py --src models/reference --dst DIR [--keep-embed]

Every 2-D weight (attention and MLP projections, and the tied embedding / lm_head unless
--keep-embed) becomes `<name>` I8 + `<name>.scale` F32 per output row; the 1-D norm weights stay
as stored (bf16). config.json (with an informational "_quantization" entry, ignored by the
loaders), tokenizer files and training_log.jsonl are copied. Shards stay < 8 MiB each (filled
to 8 MiB - 64 KiB, so a 23 MB model takes 3 shards: run_all.py's OUTDIR holds at most 8 files).
tools/export.py and tools/train/evaluate.py read the result unchanged (expanded on load).
"""
import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE)))

import torch  # noqa: E402

from localleap import quant, safetensors_io as st  # noqa: E402

MAX_SHARD_BYTES = (8 << 20) - (64 << 10)  # < 8 MiB (the repository's largest file), few shards
COPY = ("tokenizer.json", "tokenizer_config.json", "training_log.jsonl")


def quantize_folder(src: str, dst: str, keep_embed: bool = False) -> dict:
    tensors = st.load(src)
    if any(t.dtype == torch.int8 for t in tensors.values()):
        raise SystemExit(f"{src} is already int8")
    keep = {"embed.weight", "lm_head.weight"} if keep_embed else set()
    q = quant.quantize_state(tensors, keep)
    os.makedirs(dst, exist_ok=True)
    for fn in os.listdir(dst):
        if fn.endswith(".safetensors") or fn == st.INDEX_NAME:
            os.remove(os.path.join(dst, fn))
    st.save_sharded(q, dst, MAX_SHARD_BYTES, metadata=quant.METADATA)
    with open(os.path.join(src, "config.json")) as f:
        conf = json.load(f)
    qn = sorted(n for n, t in q.items() if t.dtype == torch.int8)
    conf["_quantization"] = {"scheme": quant.METADATA["localleap_quant"], "int8_tensors": len(qn),
                             "float_tensors": sorted(n for n, t in q.items() if t.dtype != torch.int8
                                                     and not n.endswith(quant.SCALE_SUFFIX)),
                             "source_dtype": str(next(iter(tensors.values())).dtype).replace("torch.", "")}
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    for fn in COPY:
        if os.path.exists(os.path.join(src, fn)):
            shutil.copy(os.path.join(src, fn), os.path.join(dst, fn))
    size = lambda d: sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".safetensors"))
    sizes = {"src_bytes": size(src), "dst_bytes": size(dst), "int8_tensors": len(qn),
             "params": sum(t.numel() for t in tensors.values())}
    for fn in os.listdir(dst):
        if fn.endswith(".safetensors"):
            assert os.path.getsize(os.path.join(dst, fn)) < 8 << 20, fn
    return sizes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--keep-embed", action="store_true", help="keep the (tied) embedding in its float dtype")
    a = ap.parse_args(argv)
    s = quantize_folder(a.src, a.dst, a.keep_embed)
    print(f"{a.src} ({s['params'] / 1e6:.2f}M parameters, {s['src_bytes'] / 1e6:.2f} MB) -> {a.dst} "
          f"({s['dst_bytes'] / 1e6:.2f} MB, {s['int8_tensors']} int8 tensors)")
    return s


if __name__ == "__main__":
    main()
