#!/usr/bin/env python3
"""Write a random-weight checkpoint in the exact Hugging Face layout of LLaDA, Dream or Qwen2.

config.json with the family's keys, sharded *.safetensors + model.safetensors.index.json,
generation_config.json, and the tokenizer files with the family's special tokens at the released
positions and its chat template: LLaDA ships tokenizer.json + tokenizer_config.json; Dream the slow
tokenizer's vocab.json + merges.txt + tokenizer_config.json (add --tokenizer-json for a tokenizer.json);
Qwen2 (Qwen2.5, a causal LM: the small model of APD) tokenizer.json, vocab.json, merges.txt,
tokenizer_config.json and a single model.safetensors with the LM head tied, as Qwen2.5-0.5B.

Presets: tiny (2 layers, hidden 64, vocab 384 (qwen2: 352), for tests), 8b (the released size:
LLaDA-8B, 32 layers x 4096, 8.0 B parameters, ~15 GiB in bf16; Dream-v0-7B, 28 layers x 3584) and,
for qwen2, 0.5b (Qwen2.5-0.5B: 24 layers x 896). Weights are drawn on --device tensor by tensor
and written shard by shard.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", required=True, choices=["llada", "dream", "qwen2"])
    ap.add_argument("--preset", default="tiny", choices=["tiny", "8b", "0.5b"],
                    help="8b: llada and dream only; 0.5b: qwen2 only")
    ap.add_argument("--out", required=True, metavar="DIR")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                    help="where to draw the weights (auto: cuda when available)")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"],
                    help="dtype of the stored weights (the released checkpoints are bfloat16)")
    ap.add_argument("--tokenizer-json", action="store_true", help="Dream: also write a fast tokenizer.json")
    ap.add_argument("--tokenizer-only", action="store_true", help="write the config and tokenizer files, no weights")
    args = ap.parse_args(argv)
    from localleap.cli import run_reporting_errors

    def make() -> None:
        import torch
        from localleap.hf.synth import write_checkpoint
        device = args.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device cuda requested but this torch sees no CUDA device")
        r = write_checkpoint(args.out, args.family, args.preset, args.seed, device, getattr(torch, args.dtype),
                             args.tokenizer_json, args.tokenizer_only)
        print(f"wrote {args.out}: {len(r['files'])} files, {r['bytes'] / 2**30:.2f} GiB of weights in "
              f"{r['seconds']:.1f} s", file=sys.stderr)

    return run_reporting_errors("make_hf_checkpoint", make, torch_errors=False)


if __name__ == "__main__":
    sys.exit(main())
