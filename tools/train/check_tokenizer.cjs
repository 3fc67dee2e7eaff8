#!/usr/bin/env node
// Checks that a trained reference tokenizer loads and behaves in @huggingface/tokenizers (the JS
// library the Node package uses) and that its chat template renders in @huggingface/jinja.
//
//   node tools/train/check_tokenizer.cjs MODEL_DIR [tokenizer_samples.json]
//   node tools/train/check_tokenizer.cjs --selftest
//
// MODEL_DIR holds tokenizer.json and tokenizer_config.json. tokenizer_samples.json (written by
// tools/train/train_tokenizer.py, packed in the run's report.tar.gz) holds texts with the ids the
// Python `tokenizers` gave them: the JS ids must be the same. --selftest builds a small tokenizer.json
// with the structure train_tokenizer.py writes (BPE, Sequence[Digits, ByteLevel], ByteLevel decoder,
// special tokens 0..5) and runs the same checks on it.
"use strict";
const fs = require("fs");
const path = require("path");
const { Tokenizer } = require("@huggingface/tokenizers");
const { Template } = require("@huggingface/jinja");

const SPECIALS = ["<|endoftext|>", "<|startoftext|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|mdm_mask|>"];
const CHAT_TEMPLATE =
  "{% set loop_messages = messages %}" +
  "{% for message in loop_messages %}" +
  "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}" +
  "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}" +
  "{{ content }}" +
  "{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

function bytesToUnicode() {
  const bs = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++; }
  }
  const m = {};
  bs.forEach((b, i) => { m[b] = String.fromCharCode(cs[i]); });
  return m;
}

function selftestFiles() {
  const b2u = bytesToUnicode();
  const vocab = {};
  SPECIALS.forEach((s, i) => { vocab[s] = i; });
  let id = SPECIALS.length;
  for (let b = 0; b < 256; b++) vocab[b2u[b]] = id++;
  const merges = [["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["a", "n"], ["Ġ", "a"], ["Ġa", "n"], ["s", "h"]];
  for (const [x, y] of merges) vocab[x + y] = id++;
  const tok = {
    version: "1.0", truncation: null, padding: null,
    added_tokens: SPECIALS.map((s, i) => ({ id: i, content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true }] },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  const config = {
    tokenizer_class: "PreTrainedTokenizerFast", bos_token: "<|startoftext|>", eos_token: "<|endoftext|>", pad_token: "<|endoftext|>",
    unk_token: null, mask_token: "<|mdm_mask|>", additional_special_tokens: SPECIALS.slice(2, 5), add_bos_token: false,
    add_eos_token: false, clean_up_tokenization_spaces: false, model_max_length: 384, chat_template: CHAT_TEMPLATE,
  };
  return { tok, config };
}

function main() {
  const args = process.argv.slice(2);
  let tokJson, config, samples = null;
  if (args[0] === "--selftest") {
    ({ tok: tokJson, config } = selftestFiles());
  } else if (args[0]) {
    tokJson = JSON.parse(fs.readFileSync(path.join(args[0], "tokenizer.json"), "utf8"));
    config = JSON.parse(fs.readFileSync(path.join(args[0], "tokenizer_config.json"), "utf8"));
    if (args[1]) samples = JSON.parse(fs.readFileSync(args[1], "utf8"));
  } else {
    console.error("usage: node tools/train/check_tokenizer.cjs MODEL_DIR [tokenizer_samples.json] | --selftest");
    process.exit(2);
  }
  let passed = 0, failed = 0;
  const check = (name, fn) => {
    try { fn(); passed++; console.log(`PASS ${name}`); } catch (e) { failed++; console.log(`FAIL ${name}: ${e.message}`); }
  };
  const eq = (a, b, what) => { if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`); };
  let tok;
  check("loads in @huggingface/tokenizers", () => { tok = new Tokenizer(tokJson, config); });
  if (!tok) { console.log(`${passed} passed, ${failed} failed`); process.exit(1); }
  const ids = (text) => tok.encode(text, { add_special_tokens: false }).ids;
  check("special tokens are ids 0..5, one token each", () => {
    SPECIALS.forEach((s, i) => eq(ids(s), [i], s));
  });
  let prompt;
  check("chat template renders LLaDA's prompt", () => {
    prompt = new Template(config.chat_template).render({
      messages: [{ role: "user", content: "Tom has 12 apples. How many?" }], add_generation_prompt: true, bos_token: config.bos_token,
    });
    eq(prompt, "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nTom has 12 apples. How many?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", "prompt");
  });
  check("prompt encodes with the special tokens as single ids", () => {
    const p = ids(prompt);
    eq(p[0], 1, "first id (<|startoftext|>)");
    eq(p[1], 2, "second id (<|start_header_id|>)");
    if (!p.includes(4)) throw new Error("no <|eot_id|> id in the prompt");
  });
  check("digits are split one per token", () => {
    const p = ids("48 + 27 = 75 and 12345");
    const digits = p.map((i) => tok.decode([i])).filter((s) => /\d/.test(s));
    eq(digits, ["4", "8", "2", "7", "7", "5", "1", "2", "3", "4", "5"], "digit tokens");
  });
  const texts = ["Maria has 48 apples.\nShe buys 27 more, so she has 48 + 27 = 75 apples.\n#### 75<|eot_id|>",
    "def f(x):\n    \"\"\"Docstring.\"\"\"\n    return x ** 2  # ünïcödé ✓\n", "  leading spaces and\ttabs\n\n"];
  check("decode(encode(text)) == text", () => {
    for (const t of texts.concat(samples ? samples.samples.map((s) => s.text) : [])) eq(tok.decode(ids(t)), t, "round trip");
  });
  if (samples) {
    check(`ids equal to Python's on ${samples.samples.length} samples`, () => {
      let bad = 0;
      for (const s of samples.samples) if (JSON.stringify(ids(s.text)) !== JSON.stringify(s.ids)) bad++;
      if (bad) throw new Error(`${bad} samples differ`);
    });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
