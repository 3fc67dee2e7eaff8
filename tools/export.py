#!/usr/bin/env python3
"""Export localleap neutral weights to a TorchScript model archive (docs/model-format.md)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CONFIG_HELP = """\
config.json: the ModelConfig fields of tools/localleap/model.py (vocab_size, hidden_size,
num_layers, num_heads, intermediate_size, num_kv_heads, rope_theta, norm_eps, qkv_bias,
tie_embeddings, max_length) and the metadata fields, each in snake_case or camelCase:
architecture (llada|dream, required), mask_id (required), eos_id (required), end_ids
(default [eos_id]), pad_id (default eos_id), logits_shifted (default: architecture == dream),
name (default: folder name), chat_template, add_bos, bos_token (defaults from
tokenizer_config.json's chat_template, add_bos_token, bos_token), decoding_defaults (the
archive's decodingDefaults, docs/model-format.md). Keys starting with "_" are ignored.
A learned_filter.json in the weights folder (tools/train_filter.py) is validated and embedded as
the archive's learned filter (strategy "learned", docs/decoding.md "Learned filter").
A causal LM (the small autoregressive model of APD) has kind "causal" and architecture qwen2, and
no mask_id or logits_shifted (docs/model-format.md "Causal-LM archives").
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, epilog=CONFIG_HELP,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, metavar="DIR",
                    help="folder with config.json and model.safetensors (or sharded + index.json)")
    ap.add_argument("--out", required=True, metavar="FILE.pt", help="archive to write")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to run scripting and parity")
    ap.add_argument("--attention", default="auto", choices=["auto", "manual", "sdpa"],
                    help="auto = sdpa when this torch has scaled_dot_product_attention, else manual")
    ap.add_argument("--tokenizer", metavar="DIR", default=None,
                    help="folder with tokenizer.json / tokenizer_config.json to embed (default: --weights)")
    ap.add_argument("--parity-prompts", type=int, default=3, metavar="N",
                    help="random prompts for the scripted-vs-eager check (0 skips it)")
    args = ap.parse_args(argv)  # LOCALLEAP_DEBUG=1 in the environment shows tracebacks
    from localleap.cli import run_reporting_errors

    def export() -> None:
        from localleap.exporter import export_model
        export_model(args.weights, args.out, args.dtype, args.device, args.attention,
                     args.tokenizer, args.parity_prompts)

    return run_reporting_errors("export", export)


if __name__ == "__main__":
    sys.exit(main())
