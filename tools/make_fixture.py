#!/usr/bin/env python3
"""Create a small random-weight localleap model: a neutral-weights folder and/or an exported archive.

--architecture llada / dream: a diffusion LM; qwen2: a causal LM (kind causal, the small
autoregressive model of APD) with the same tokenizer, so that fixtures of one --vocab share it."""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out-dir", metavar="DIR", help="write the neutral-weights folder here")
    ap.add_argument("--model", metavar="FILE.pt", help="write the exported archive here")
    ap.add_argument("--architecture", default="llada", choices=["llada", "dream", "qwen2"],
                    help="dream: qkv bias, grouped-query attention, shifted logits; qwen2: a causal LM "
                         "(qkv bias, grouped-query attention)")
    ap.add_argument("--vocab", type=int, default=300)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0, help="default: heads (llada), heads / 2 (dream, qwen2)")
    ap.add_argument("--tie-embeddings", action="store_true", help="LM head tied to the embedding")
    ap.add_argument("--intermediate", type=int, default=128)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lm-scale", type=float, default=2.0, help="LM head init scale (higher: more confident)")
    ap.add_argument("--target-median", type=float, default=0.7,
                    help="rescale the LM head so that the median step-1 confidence is this (0: keep --lm-scale)")
    ap.add_argument("--row-spread", type=float, default=0.6, help="log-normal spread of LM head row norms")
    ap.add_argument("--qk-scale", type=float, default=2.0, help="q/k init scale (sharper attention)")
    ap.add_argument("--end-rate", type=float, default=0.03,
                    help="share of first-step masked positions where an end token wins (0: random end rows)")
    ap.add_argument("--name", default=None, help="model name (default: fixture-ARCH-sSEED)")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"], help="archive dtype")
    ap.add_argument("--attention", default="auto", choices=["auto", "manual", "sdpa"])
    args = ap.parse_args(argv)
    if not args.out_dir and not args.model:
        ap.error("give --out-dir and/or --model")
    try:
        import torch
        from localleap.exporter import export_model
        from localleap.fixture import step1_confidences, write_weights_folder
        from localleap.model import ModelConfig
        from localleap.weights import load_model

        torch.set_num_threads(min(2, torch.get_num_threads()))
        qwen_layout = args.architecture in ("dream", "qwen2")
        cfg = ModelConfig(vocab_size=args.vocab, hidden_size=args.hidden, num_layers=args.layers,
                          num_heads=args.heads, intermediate_size=args.intermediate,
                          num_kv_heads=args.kv_heads or (max(1, args.heads // 2) if qwen_layout else args.heads),
                          qkv_bias=qwen_layout, tie_embeddings=args.tie_embeddings, max_length=args.max_length)
        tmp = None
        out_dir = args.out_dir
        if not out_dir:
            tmp = tempfile.TemporaryDirectory()
            out_dir = tmp.name
        name = args.name or f"fixture-{args.architecture}-s{args.seed}"
        config = write_weights_folder(out_dir, cfg, args.architecture, args.seed, name, lm_scale=args.lm_scale,
                                      row_spread=args.row_spread, qk_scale=args.qk_scale, end_rate=args.end_rate,
                                      target_median=args.target_median)
        print(f"wrote {out_dir} (vocab {cfg.vocab_size}, "
              + (f"causal" if config.get("kind") == "causal" else f"mask {config['mask_id']}")
              + f", end ids {config['end_ids']})", file=sys.stderr)
        model, _, _ = load_model(out_dir)
        c = step1_confidences(model, config)
        q = torch.quantile(c, torch.tensor([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0], dtype=torch.float64))
        print("step-1 confidence quantiles 0/10/25/50/75/90/100%: " + " ".join(f"{v:.3f}" for v in q.tolist()) +
              f"; >=0.75: {float((c >= 0.75).double().mean()):.0%}, >=0.9: {float((c >= 0.9).double().mean()):.0%}",
              file=sys.stderr)
        if args.model:
            export_model(out_dir, args.model, args.dtype, "cpu", args.attention, None, 2)
        if tmp:
            tmp.cleanup()
    except (ValueError, OSError) as e:
        print(f"make_fixture: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
