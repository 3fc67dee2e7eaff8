"""Stage 2: train the byte-level BPE tokenizer with Hugging Face `tokenizers` (Python).

- model BPE over bytes (ByteLevel alphabet of 256 symbols, no unknown token), vocab --vocab-size
  (4096) including the special tokens, which get ids 0..5 in this order:
  <|endoftext|> <|startoftext|> <|start_header_id|> <|end_header_id|> <|eot_id|> <|mdm_mask|>
- pre-tokenizer: Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False)],
  so every digit is its own token; decoder ByteLevel; no normalizer, no post-processor (the chat
  template writes <|startoftext|> itself).
- trained on --problems problems (question and solution) of train.jsonl plus the whole corpus.
Writes tokenizer.json, tokenizer_config.json (bos/eos, LLaDA chat template) and
tokenizer_samples.json (texts and their ids, for tools/train/check_tokenizer.cjs) into --out.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (EOS, EOT, MASK, SPECIAL_TOKENS, HFTokenizer, answer_text, chat_prompt, log,  # noqa: E402
                    read_jsonl, tokenizer_config)


def build_and_train(texts_iter, vocab_size: int, length=None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts_iter, trainer=trainer, length=length)
    return tok


def check(tok_path: str, heldout, docs):
    """Round trips, special-token ids, digit splitting. Returns the samples for the JS check."""
    t = HFTokenizer(tok_path)
    for i, s in enumerate(SPECIAL_TOKENS):
        assert t.token_id(s) == i, (s, t.token_id(s))
    samples = []
    for p in heldout[:20]:
        for text in (chat_prompt(p["question"]), answer_text(p["solution"])):
            ids = t.encode(text)
            back = t.decode(ids)
            assert back == text, (text, back)
            samples.append({"text": text, "ids": ids})
    for d in docs[:5]:
        text = d["text"][:2000]
        ids = t.encode(text)
        assert t.decode(ids) == text, "round trip failed on corpus text"
        samples.append({"text": text, "ids": ids})
    ids = t.encode("12345 + 678 = 13023")
    digits = [t.decode([i]) for i in ids if t.decode([i]).strip().isdigit()]
    assert all(len(x.strip()) == 1 for x in digits) and len(digits) == 13, digits
    pr = t.encode(chat_prompt("How many?"))
    assert pr[0] == t.token_id("<|startoftext|>") and t.token_id(EOT) in pr, pr
    assert t.encode(MASK + "x")[0] == t.token_id(MASK)
    return samples


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="folder of make_data.py's output")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--problems", type=int, default=60000)
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    probs = read_jsonl(os.path.join(a.work, "train.jsonl"), limit=a.problems)
    docs = read_jsonl(os.path.join(a.work, "corpus.jsonl"))
    held = read_jsonl(os.path.join(a.work, "heldout.jsonl"), limit=50)

    def texts():
        for p in probs:
            yield p["question"]
            yield p["solution"]
        for d in docs:
            yield d["text"]

    tok = build_and_train(texts(), a.vocab_size, length=2 * len(probs) + len(docs))
    path = os.path.join(a.out, "tokenizer.json")
    tok.save(path)
    with open(os.path.join(a.out, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config(), f, indent=1)
    samples = check(path, held, docs)
    with open(os.path.join(a.out, "tokenizer_samples.json"), "w") as f:
        json.dump({"specials": {s: i for i, s in enumerate(SPECIAL_TOKENS)}, "samples": samples}, f)
    log(f"tokenizer: vocab {tok.get_vocab_size()} ({len(probs)} problems + {len(docs)} corpus files), "
        f"{time.time() - t0:.1f}s -> {path}")
    if tok.get_vocab_size() != a.vocab_size:
        log(f"warning: vocab size {tok.get_vocab_size()} != requested {a.vocab_size} (too little text?)")
    assert tok.token_to_id(EOS) == 0


if __name__ == "__main__":
    main()
