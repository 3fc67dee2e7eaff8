"""CPU checks of the small AR model's training (train_causal.py) and evaluation (evaluate_causal.py).

  /usr/bin/python3 tools/train/test_causal.py

- the objective's targets: in a problem row the answer up to and including its <|eot_id|> (not the
  prompt, not the EOS padding), in a corpus row every token;
- training: a few steps on tiny data (make_data.py, the reference tokenizer through bpe_lite.py
  when `tokenizers` is missing) with the same batch repeated: the loss goes down; the output
  folder is the neutral format of kind causal (config.json: kind causal, architecture qwen2, the
  dLLM's end/pad ids and chat template; shards; tokenizer.json identical to models/reference's);
- evaluation: greedy decoding with the KV cache gives the same tokens as the plain forward (left
  padding, a batch of varied prompt lengths), and the report files are written;
- the folder exports with tools/export.py as a causal archive that check_causal_archive.py accepts.
Ends with 'N passed, N failed'.
"""
import filecmp
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import common  # noqa: E402
import make_data  # noqa: E402
import train_causal  # noqa: E402
from checks import check, summary  # noqa: E402

REF = os.path.join(common.REPO, "models", "reference")


@check
def targets():
    eot = 4
    tgt = torch.tensor([[7, 8, 9, 4, 0, 0], [7, 4, 8, 4, 9, 9]])
    in_answer = torch.tensor([[False, True, True, True, True, True], [True] * 6])
    w = train_causal.target_weights(tgt, in_answer, torch.tensor([True, False]), eot)
    assert w.tolist() == [[0, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], w


@check
def train_export_eval(tmp):
    work = os.path.join(tmp, "work")
    make_data.main(["--work", work, "--n-train", "300", "--n-heldout", "12", "--n-train1", "40", "--n-heldout1", "4",
                    "--corpus-mb", "0.05", "--workers", "1"])
    out = os.path.join(tmp, "ar")
    s = train_causal.main(["--work", work, "--out", out, "--smoke", "--max-steps", "12", "--lr", "3e-3",
                           "--eval-n", "6", "--eval-batch", "4", "--eval-max-new", "12", "--seed", "3"])
    rows = [json.loads(x) for x in open(os.path.join(out, "training_log.jsonl")) if x.strip()]
    losses = [r["loss"] for r in rows if r["type"] == "train"]
    assert len(losses) == 12 and all(x == x for x in losses), losses
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.3, f"the loss did not go down: {losses}"
    conf = json.load(open(os.path.join(out, "config.json")))
    ref = json.load(open(os.path.join(REF, "config.json")))
    assert conf["kind"] == "causal" and conf["architecture"] == "qwen2" and "mask_id" not in conf, conf
    for k in ("eos_id", "end_ids", "pad_id", "chat_template", "bos_token", "vocab_size"):
        assert conf[k] == ref[k], k
    assert filecmp.cmp(os.path.join(out, "tokenizer.json"), os.path.join(REF, "tokenizer.json"), shallow=False)
    for fn in ("model.safetensors.index.json", "tokenizer_config.json", "training-report/eval.json",
               "training-report/eval.md", "training-report/train_summary.json"):
        assert os.path.exists(os.path.join(out, fn)), fn
    assert s["heldout_eval"]["n"] == 6 and 0 <= s["heldout_eval"]["accuracy"] <= 1, s["heldout_eval"]
    # the archive
    common.import_model()
    from localleap.exporter import export_model
    pt = os.path.join(tmp, "ar.pt")
    export_model(out, pt, "float32", "cpu", "auto", None, 2)
    import check_causal_archive
    assert check_causal_archive.check(pt, out, REF, os.path.join(work, "heldout.jsonl"), max_new=8) == 4096


@check
def cache_equals_plain():
    mm = common.import_model()
    from localleap.causal_model import CausalLM
    import evaluate_causal
    torch.manual_seed(0)
    cfg = mm.ModelConfig(vocab_size=50, hidden_size=32, num_layers=2, num_heads=4, num_kv_heads=2,
                         intermediate_size=64, qkv_bias=True, tie_embeddings=True, max_length=64)
    model = CausalLM(cfg).eval()
    for p in model.parameters():
        p.data.normal_(0, 0.3)
    model.cfg = cfg
    prompts = [[1, 2, 3], [5, 6, 7, 8, 9, 10, 11], [12], [13, 14, 15, 16]]
    dev = torch.device("cpu")
    a = evaluate_causal.greedy_decode(model, prompts, [0, 4], 0, 16, dev, use_cache=True)
    b = evaluate_causal.greedy_decode(model, prompts, [0, 4], 0, 16, dev, use_cache=False)
    assert a == b, (a, b)
    assert len({tuple(x) for x in a[0]}) > 1, a  # varied continuations: the check means something
    alone = [evaluate_causal.greedy_decode(model, [p], [0, 4], 0, 16, dev)[0][0] for p in prompts]
    assert alone == a[0], (alone, a[0])


def main():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    t = time.time()
    targets()
    with tempfile.TemporaryDirectory(prefix="causal-test-") as tmp:
        train_export_eval(tmp)
    cache_equals_plain()
    return summary(t)


if __name__ == "__main__":
    sys.exit(main())
