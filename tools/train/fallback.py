"""train.py's weights-only resume points (--fallback-dir): inspect one, or shrink it to int8.

  /usr/bin/python3 tools/train/fallback.py info DIR
  /usr/bin/python3 tools/train/fallback.py int8 SRC DST

A fallback folder holds the model's weights in bf16 (model-0000k-of-0000n.safetensors, each
< 16 MiB so that a device call brings them back, and their index) and resume_state.pt (step,
schedule, RNG states, data position, the training log so far; no AdamW moments). `train.py
--resume DIR` continues from it with a fresh AdamW and a re-warmed learning rate.

`int8` writes a copy whose matrices are row-wise int8 (tools/localleap/quant.py; about half the
bytes: 23 MB instead of 46 MB for the 22.8M-parameter v2 model), for when the bf16 copy does not
fit next to the working tree in a device call's 64 MiB. Resuming from it starts from the int8
rounding of the weights (about 0.7 % relative error per matrix), which further training absorbs.
"""
import argparse
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import torch  # noqa: E402

from localleap import quant, safetensors_io as st  # noqa: E402

SHARD_BYTES = (16 << 20) - (512 << 10)


def info(folder):
    import train
    w, s = train.load_fallback(folder)
    sched = s["sched"]
    last = [json.loads(x) for x in s["log"] if json.loads(x)["type"] in ("train", "val")]
    tr = [r for r in last if r["type"] == "train"]
    va = [r for r in last if r["type"] == "val"]
    d = {"step": s["step"], "total_steps": sched.get("total_steps"), "tokens": s["tokens"],
         "loop_s": round(s["loop_s"], 1), "calls": s["calls"], "params": sum(v.numel() for v in w.values()),
         "model": s["model"], "last_train_loss": tr[-1]["loss"] if tr else None,
         "last_val": {k: v for k, v in va[-1].items() if k.startswith("val_")} if va else None,
         "bytes": sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))}
    print(json.dumps(d, indent=1))
    return d


def to_int8(src, dst):
    tensors = st.load(src)
    if any(t.dtype == torch.int8 for t in tensors.values()):
        raise SystemExit(f"{src} is already int8")
    step = st.read_header(os.path.join(src, sorted(set(st.read_index(src).values()))[0]))[1].get("step")
    q = quant.quantize_state(tensors)
    os.makedirs(dst, exist_ok=True)
    for fn in os.listdir(dst):
        if fn.endswith(".safetensors") or fn == st.INDEX_NAME:
            os.remove(os.path.join(dst, fn))
    meta = dict(quant.METADATA, step=step)
    st.save_sharded(q, dst, SHARD_BYTES, metadata=meta)
    shutil.copy(os.path.join(src, "resume_state.pt"), os.path.join(dst, "resume_state.pt"))
    size = sum(os.path.getsize(os.path.join(dst, f)) for f in os.listdir(dst))
    print(f"{src} -> {dst}: int8, {size / 1e6:.1f} MB")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["info", "int8"])
    ap.add_argument("src")
    ap.add_argument("dst", nargs="?")
    a = ap.parse_args(argv)
    if a.what == "info":
        return info(a.src)
    if not a.dst:
        raise SystemExit("int8 needs SRC and DST")
    return to_int8(a.src, a.dst)


if __name__ == "__main__":
    main()
