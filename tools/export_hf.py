#!/usr/bin/env python3
"""Export a Hugging Face LLaDA or Dream checkpoint to a localleap model archive, or a Qwen2 / Qwen2.5
causal LM to a causal-LM archive for APD (docs/hf-export.md).

Reads config.json, the sharded *.safetensors (never pickle) with model.safetensors.index.json,
tokenizer.json (or Dream's vocab.json + merges.txt), tokenizer_config.json and generation_config.json;
writes FILE.pt (weights, the TorchScript network with its block-logits method, localleap.json, the
tokenizer files) and copies the tokenizer files next to it. Before saving, the exported network is
compared with an independent forward written from the family's Hugging Face modeling code.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

EPILOG = """\
examples:
  tools/export_hf.py --checkpoint ~/models/LLaDA-8B-Instruct --out ~/models/llada/model.pt --device cuda
  tools/export_hf.py --checkpoint ~/models/Dream-v0-Instruct-7B --out ~/models/dream/model.pt --device cuda
  tools/export_hf.py --checkpoint ~/models/Qwen2.5-0.5B --out ~/models/qwen2.5-0.5b/model.pt --device cuda

LOCALLEAP_DEBUG=1 in the environment shows Python tracebacks.
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, metavar="DIR", help="Hugging Face checkpoint folder")
    ap.add_argument("--out", required=True, metavar="FILE.pt", help="archive to write (tokenizer files go next to it)")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"],
                    help="dtype of the weights and logits (default bfloat16)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                    help="where to convert, script and check (auto: cuda when available)")
    ap.add_argument("--attention", default="auto", choices=["auto", "manual", "sdpa"],
                    help="auto = sdpa when this torch has scaled_dot_product_attention (torch >= 2.0), else manual")
    ap.add_argument("--parity-prompts", type=int, default=3, metavar="N",
                    help="canvases for the parity check against the reference forward (0 skips it)")
    ap.add_argument("--max-length", type=int, default=None, metavar="N",
                    help="longest canvas (prompt + generation) to accept; default: the config's "
                         "max_sequence_length (LLaDA) / max_position_embeddings (Dream)")
    ap.add_argument("--report", metavar="FILE.json", default=None,
                    help="also write timings, peak GPU memory and parity figures as JSON")
    args = ap.parse_args(argv)
    from localleap.cli import run_reporting_errors

    def export() -> None:
        from localleap.hf.export import export_hf
        report = export_hf(args.checkpoint, args.out, args.dtype, args.device, args.attention,
                           args.parity_prompts, args.max_length)
        if args.report:
            with open(args.report, "w", encoding="utf-8") as f:
                json.dump({k: v for k, v in report.items() if k != "metadata"}, f, indent=2)

    return run_reporting_errors("export_hf", export)


if __name__ == "__main__":
    sys.exit(main())
