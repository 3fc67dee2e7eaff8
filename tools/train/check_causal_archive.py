"""Checks an exported causal-LM archive (tools/export.py of train_causal.py's folder) as APD reads it:
it loads as apd_reference.CausalReference (kind causal, metadata valid), its tokenizer passes
apd_reference.check_vocab against the dLLM's folder (config.json + tokenizer.json, default
models/reference), and its greedy continuation of a held-out prompt through the archive's cache
methods equals the one through the neutral weights' plain forward (float32 on CPU: the same tokens).

  python3 tools/train/check_causal_archive.py ARCHIVE.pt --weights models/reference-ar [--dllm models/reference]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO, chat_prompt, import_model, read_jsonl  # noqa: E402

import torch  # noqa: E402


def check(archive, weights, dllm, heldout, max_new=24):
    import_model()
    from localleap.apd_reference import CausalReference, check_vocab
    from localleap.weights import load_model
    from evaluate_causal import greedy_decode
    from train_causal import load_tokenizer
    ar = CausalReference(archive)
    with open(os.path.join(dllm, "config.json")) as f:
        d = json.load(f)
    with open(os.path.join(dllm, "tokenizer.json"), encoding="utf-8") as f:
        d_tok = json.load(f)
    d_meta = {"vocabSize": d["vocab_size"], "maskId": d["mask_id"], "eosId": d["eos_id"], "endIds": d["end_ids"]}
    width = check_vocab(d_meta, d_tok, ar.meta, ar.tokenizer)
    tok = load_tokenizer(weights)
    prompt = tok.encode(chat_prompt(read_jsonl(heldout, limit=1)[0]["question"]))
    model, cfg, meta = load_model(weights, "float32", "cpu")
    model.cfg = cfg
    eager, _ = greedy_decode(model, [prompt], meta["end_ids"], meta["pad_id"], max_new, torch.device("cpu"),
                             use_cache=False)

    class Scripted:  # the archive's methods behind greedy_decode's interface
        def __init__(self, m):
            self.m, self.cfg = m, cfg

        def parameters(self):
            return iter([torch.zeros(1)])

        def cache_full(self, *a):
            return self.m.cache_full(*a)

        def cache_step(self, *a):
            return self.m.cache_step(*a)

    scripted, _ = greedy_decode(Scripted(ar.module), [prompt], meta["end_ids"], meta["pad_id"], max_new,
                                torch.device("cpu"), use_cache=True)
    if scripted != eager:
        raise SystemExit(f"{archive}: the archive's cached greedy decode {scripted} differs from the weights' {eager}")
    print(f"{archive}: kind {ar.meta['kind']}, architecture {ar.meta['architecture']}, vocabulary shared with "
          f"{os.path.relpath(dllm, REPO)} over {width} logits, cached greedy decode of a held-out prompt == "
          f"plain forward ({len(eager[0])} tokens: {tok.decode(eager[0])[:60]!r})", flush=True)
    return width


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("archive")
    ap.add_argument("--weights", required=True)
    ap.add_argument("--dllm", default=os.path.join(REPO, "models", "reference"))
    ap.add_argument("--heldout", default=os.path.join(REPO, "bench", "data", "heldout.jsonl"))
    a = ap.parse_args(argv)
    torch.set_num_threads(min(4, torch.get_num_threads()))
    check(a.archive, a.weights, a.dllm, a.heldout)


if __name__ == "__main__":
    main()
