#!/usr/bin/env python3
"""Self-check of APD's Python side (issue 16): /usr/bin/python3 tools/test_apd.py

The causal LM (causal_model.py) and its archive kind, the Qwen2 Hugging Face export, the exact
float32 rule arithmetic (rule_math.py against native/kernels/rule_math.h), the vocabulary check
and the APD reference decoder (apd_reference.py). Plain asserts, no pytest; prints PASS or FAIL
for each test and exits non-zero when one fails. One CPU thread, about a minute.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_raises import raises  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from localleap.causal_model import CausalLM  # noqa: E402
from localleap.exporter import parity_check  # noqa: E402
from localleap.metadata import build_metadata, validate_metadata  # noqa: E402
from localleap.model import DiffusionLM, ModelConfig, kv_cache_shape  # noqa: E402
from localleap.reference_cache import PlainCausal  # noqa: E402
from localleap.reference_decoder import ReferenceModel  # noqa: E402
from localleap.weights import load_model  # noqa: E402

TMP = tempfile.mkdtemp(prefix="localleap-apd-test-")
T0 = time.time()
QUIET = lambda msg: None  # noqa: E731
FIXTURES = {}



def random_causal(seed, **sizes):
    cfg = ModelConfig(**dict(dict(vocab_size=300, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
                                  intermediate_size=96, qkv_bias=True), **sizes))
    torch.manual_seed(seed)
    m = CausalLM(cfg, use_sdpa=False).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)
    return m, cfg


# ---------------------------------------------------------------- the causal LM
def test_causal_model():
    """Scripted == eager; the output at i depends on ids[..i] only; cache_full == logits_at bit for
    bit and writes only its n positions of a longer cache; cache_step spans after it give the
    forward's logits whatever the canvas holds after the span; left padding."""
    cases = [random_causal(1), random_causal(2, num_kv_heads=1, tie_embeddings=True, rope_theta=500.0),
             random_causal(3, qkv_bias=False, num_kv_heads=4, num_layers=3)]
    for eager, cfg in cases:
        s = torch.jit.script(eager)
        g = torch.Generator().manual_seed(7)
        ids = torch.randint(0, cfg.vocab_size, (2, 17), generator=g)
        with torch.no_grad():
            full = eager(ids)
            assert torch.equal(s(ids), full)
            for i in (0, 5, 16):
                assert float((s(ids[:, :i + 1])[:, i] - full[:, i]).abs().max()) < 1e-5, i
            later = ids.clone()
            later[:, 9:] = (later[:, 9:] + 1) % cfg.vocab_size
            assert float((s(later)[:, :9] - full[:, :9]).abs().max()) < 1e-5
            assert float((s(later)[:, 9:] - full[:, 9:]).abs().max()) > 1e-3
            # cache_full over a prefix of 6 into a cache of 24 positions; then spans
            L = 24
            kv = torch.zeros(kv_cache_shape(cfg, 2, L))
            got = s.cache_full(ids[:, :6], torch.arange(6), None, kv)
            assert torch.equal(got, s.logits_at(ids[:, :6], torch.arange(6)))
            assert bool((kv[..., :6, :].abs().sum(-1) > 0).all()) and bool((kv[..., 6:, :] == 0).all())
            canvas = torch.randint(0, cfg.vocab_size, (2, L), generator=g)
            canvas[:, :17] = ids
            start = 6
            for n in (1, 4, 2, 4):
                window = torch.arange(start, start + n)
                canvas_junk = canvas.clone()
                canvas_junk[:, start + n:] = torch.randint(0, cfg.vocab_size, (2, L - start - n), generator=g)
                step = s.cache_step(canvas_junk, window, torch.arange(n), None, kv)
                assert float((step - full[:, start:start + n]).abs().max()) < 1e-5, (start, n)
                start += n
            # left padding: the real positions give the unpadded logits, everything is finite
            pad = torch.tensor([3, 0])
            padded = torch.zeros(2, 20, dtype=torch.int64)
            padded[0, 3:] = ids[0]
            padded[1, :17] = ids[1]
            z = s.logits_at_padded(padded, torch.arange(20), pad)
            assert bool(torch.isfinite(z).all())
            assert float((z[0, 3:] - full[0]).abs().max()) < 1e-5 and float((z[1, :17] - full[1]).abs().max()) < 1e-5
            kvp = torch.zeros(kv_cache_shape(cfg, 2, 20))
            assert torch.equal(s.cache_full(padded, torch.arange(20), pad, kvp), z)


def test_plain_causal_exact():
    """The reference's plain causal transformer equals the archive bit for bit on float32: full
    pass (logits, stored keys/values) vs cache_full, window passes vs cache_step, on a canvas
    holding junk after the window, unpadded and padded."""
    n_checked = 0
    for eager, cfg in (random_causal(4), random_causal(5, num_kv_heads=1, tie_embeddings=True)):
        s = torch.jit.script(eager)
        plain = PlainCausal(s.state_dict(), cfg.to_dict(), "manual")
        g = torch.Generator().manual_seed(3)
        for left in (None, torch.tensor([0, 2])):
            L = 20
            ids = torch.randint(0, cfg.vocab_size, (2, L), generator=g)
            kv = torch.zeros(kv_cache_shape(cfg, 2, L))
            with torch.no_grad():
                want = s.cache_full(ids[:, :7], torch.arange(2, 7), left, kv)
            got, stored = plain.full(ids[:, :7], torch.arange(2, 7), left)
            assert torch.equal(got, want)
            for i, (k, v) in enumerate(stored):
                assert torch.equal(k, kv[i, 0, :, :, :7]) and torch.equal(v, kv[i, 1, :, :, :7])
            cache = [(torch.zeros(2, cfg.num_kv_heads, L, cfg.head_dim), torch.zeros(2, cfg.num_kv_heads, L, cfg.head_dim))
                     for _ in range(cfg.num_layers)]
            for i, (k, v) in enumerate(stored):
                cache[i][0][:, :, :7] = k
                cache[i][1][:, :, :7] = v
            start = 7
            for n in (3, 1, 5):
                window = torch.arange(start, start + n)
                with torch.no_grad():
                    want = s.cache_step(ids, window, torch.arange(n), left, kv)
                got, fresh = plain.window_kv(ids, window, torch.arange(n), left, cache)
                assert torch.equal(got, want), (start, n, float((got - want).abs().max()))
                for i, (k, v) in enumerate(fresh):
                    cache[i][0][:, :, window] = k
                    cache[i][1][:, :, window] = v
                n_checked += 1
                start += n
    print(f"  {n_checked} causal window passes identical to cache_step")


# ---------------------------------------------------------------- exact float32 rule arithmetic
RULE_HARNESS = r"""
#include <cstdio>
#include <cstdint>
#include "rule_math.h"
using namespace localleap::rule;
int main() {
  char op[8]; unsigned a, b, c; unsigned long long base; long long v;
  while (std::scanf("%7s", op) == 1) {
    if (op[0] == 'f') { std::scanf("%x %x %x", &a, &b, &c);
      std::printf("%08x\n", floatToBits(fmaf(bitsToFloat(a), bitsToFloat(b), bitsToFloat(c)))); }
    else if (op[0] == 'l') { std::scanf("%x", &a); std::printf("%08x\n", floatToBits(detLog(bitsToFloat(a)))); }
    else { std::scanf("%x %x %llx %lld", &a, &b, &base, &v);
      std::printf("%08x\n", floatToBits(gumbelScore(bitsToFloat(a), bitsToFloat(b), base, v))); }
  }
  return 0;
}
"""


def bits(x):
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def test_rule_math_exact():
    """rule_math.py against native/kernels/rule_math.h compiled here (g++, contraction off): fmaf
    (random operands, and products that land exactly on a float32 midpoint with a tiny addend of
    either sign, where float64 emulation alone rounds the wrong way), detLog over (0, 17], and
    gumbelScore for hash streams, every result bit for bit."""
    from localleap import hash_rng, rule_math
    gxx = shutil.which("g++")
    if gxx is None:
        print("  (no g++: the comparison with rule_math.h is skipped)")
        return
    src = os.path.join(TMP, "rule_harness.cc")
    exe = os.path.join(TMP, "rule_harness")
    open(src, "w").write(RULE_HARNESS)
    r = subprocess.run([gxx, "-O2", "-ffp-contract=off", "-I", os.path.join(HERE, "..", "native", "kernels"),
                        src, "-o", exe], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rng = np.random.default_rng(0)
    n = 20000
    a = (rng.standard_normal(n) * np.exp(rng.uniform(-8, 8, n))).astype(np.float32)
    b = (rng.standard_normal(n) * np.exp(rng.uniform(-8, 8, n))).astype(np.float32)
    c = (rng.standard_normal(n) * np.exp(rng.uniform(-8, 8, n))).astype(np.float32)
    # midpoint cases: (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 lies halfway between two float32 values
    k = np.arange(1, 201, dtype=np.float64)
    ma = (1.0 + k * 2.0 ** -12).astype(np.float32)
    mc = np.concatenate([np.full(100, 2.0 ** -60), np.full(100, -2.0 ** -60)]).astype(np.float32)
    a, b, c = np.concatenate([a, ma, ma]), np.concatenate([b, ma, ma]), np.concatenate([c, mc, -mc])
    logs = np.concatenate([rng.uniform(0, 1, n), rng.uniform(0, 17, n), 2.0 ** rng.uniform(-24, 4, n)]).astype(np.float32)
    logs = logs[logs > 0]
    streams = hash_rng.position_hash(12345, 3, np.arange(8))
    vocab = 700
    z = (rng.standard_normal((8, vocab)) * 6).astype(np.float32)
    inv_t = np.float32(1.0 / 0.7)
    lines = [f"f {x:08x} {y:08x} {w:08x}" for x, y, w in zip(bits(a), bits(b), bits(c))]
    lines += [f"l {x:08x}" for x in bits(logs)]
    bases = hash_rng.mix(np.asarray(streams, dtype=np.uint64) ^ hash_rng.GUMBEL_SALT)
    for i in range(8):
        lines += [f"g {x:08x} {int(bits(inv_t)):08x} {int(bases[i]):x} {v}" for v, x in enumerate(bits(z[i]))]
    out = subprocess.run([exe], input="\n".join(lines) + "\n", capture_output=True, text=True, check=True).stdout.split()
    got = np.array([int(h, 16) for h in out], dtype=np.uint32)
    nf, nl = len(a), len(logs)
    want_f = bits(rule_math.fmaf(a, b, c))
    assert np.array_equal(got[:nf], want_f), int((got[:nf] != want_f).sum())
    naive = bits((a.astype(np.float64) * b + c).astype(np.float32))
    wrong = int((naive != got[:nf]).sum())
    assert wrong >= 50, f"the midpoint cases should defeat plain float64 emulation ({wrong})"
    want_l = bits(rule_math.det_log(logs))
    assert np.array_equal(got[nf:nf + nl], want_l), int((got[nf:nf + nl] != want_l).sum())
    want_g = bits(rule_math.gumbel_scores(z, inv_t, rule_math.gumbel_noise(streams, vocab))).reshape(-1)
    assert np.array_equal(got[nf + nl:], want_g), int((got[nf + nl:] != want_g).sum())
    close = np.abs(rule_math.det_log(logs).astype(np.float64) - np.log(logs.astype(np.float64)))
    assert float(close.max()) < 1e-6 * max(1.0, float(np.abs(np.log(logs)).max()))
    print(f"  {nf} fmaf ({wrong} where float64 emulation alone is off), {nl} detLog, {8 * vocab} gumbelScore results "
          "identical to rule_math.h")


def make_fixture(name, arch, seed, *extra):
    import make_fixture as mf
    out = os.path.join(TMP, name)
    rc = mf.main(["--out-dir", out, "--model", out + ".pt", "--architecture", arch, "--seed", str(seed), *extra])
    assert rc == 0
    FIXTURES[name] = out + ".pt"
    return out, out + ".pt"


class NotCausal:
    """A bidirectional module with a causal model's weights: parity_check must refuse it."""

    def __init__(self, cfg, eager):
        m = DiffusionLM(cfg, use_sdpa=False).eval()
        m.load_state_dict(eager.state_dict())
        self.m = torch.jit.script(m)

    def __call__(self, ids):
        return self.m(ids)

    def __getattr__(self, name):
        return getattr(self.m, name)


def test_causal_export():
    """tools/export.py on a qwen2 fixture (kind causal): metadata, reload, the parity check's
    causal checks, the metadata rules of the kind, and the dLLM reader's refusal."""
    folder, archive = make_fixture("ar", "qwen2", 3)
    extra = {"localleap.json": "", "tokenizer.json": ""}
    m = torch.jit.load(archive, _extra_files=extra)
    md = json.loads(extra["localleap.json"])
    assert md["kind"] == "causal" and md["architecture"] == "qwen2" and md["formatVersion"] == 2
    assert "maskId" not in md and "logitsShifted" not in md and md["kvCache"]["kvHeads"] == 2
    eager, cfg, meta = load_model(folder)
    assert isinstance(eager, CausalLM) and meta["kind"] == "causal"
    ids = torch.randint(0, cfg.vocab_size, (2, 11))
    with torch.no_grad():
        assert torch.equal(m(ids), eager(ids))
    # the parity check refuses a bidirectional network with the same weights
    raises(lambda: parity_check(eager, NotCausal(cfg, eager), cfg.vocab_size, cfg.max_length, "float32", "cpu", 2, QUIET),
           "causal")
    assert parity_check(eager, torch.jit.script(eager), cfg.vocab_size, cfg.max_length, "float32", "cpu", 2, QUIET) < 1e-4
    # metadata rules of kind causal
    validate_metadata(md)
    raises(lambda: validate_metadata(dict(md, maskId=5)), "maskId", "causal")
    raises(lambda: validate_metadata(dict(md, logitsShifted=False)), "logitsShifted")
    raises(lambda: validate_metadata(dict(md, architecture="llada")), "architecture", "qwen2")
    raises(lambda: validate_metadata(dict(md, kind="autoregressive")), "kind")
    raises(lambda: validate_metadata(dict(md, formatVersion=1)), "formatVersion", "causal")
    dllm_md = dict(md)
    del dllm_md["kind"]
    raises(lambda: validate_metadata(dllm_md), "architecture")  # qwen2 is not a diffusion family
    base = {"kind": "causal", "architecture": "qwen2", "eos_id": 5}
    raises(lambda: build_metadata(dict(base, mask_id=7), cfg, "float32", "manual", "m"), "mask_id", "causal")
    raises(lambda: build_metadata(dict(base, kind="x"), cfg, "float32", "manual", "m"), "kind")
    assert "maskId" not in build_metadata(base, cfg, "float32", "manual", "m")
    raises(lambda: ReferenceModel(archive), "kind causal", "autoregressive model of APD")


# ---------------------------------------------------------------- the APD reference decoder
def apd_fixtures():
    """dLLMs (llada, dream: seed 3), causal LMs of the same vocabulary (seeds 3 and 5; one with a
    zero LM head, whose logits are all equal), one whose tokenizer has one more token (vocab 301),
    one whose logits are wider (320) over the same 300-token tokenizer."""
    from localleap import safetensors_io as st
    if "ar-wide" in FIXTURES:
        return
    if "llada" not in FIXTURES:
        make_fixture("llada", "llada", 3)
        make_fixture("dream", "dream", 3)
    if "ar" not in FIXTURES:
        make_fixture("ar", "qwen2", 3)
    make_fixture("ar5", "qwen2", 5)
    make_fixture("ar301", "qwen2", 6, "--vocab", "301")
    from localleap.exporter import export_model
    ar_dir = os.path.join(TMP, "ar")
    flat = os.path.join(TMP, "ar-flat")
    shutil.copytree(ar_dir, flat)
    w = st.load_file(os.path.join(flat, "model.safetensors"))
    w["lm_head.weight"] = torch.zeros_like(w["lm_head.weight"])
    st.save_file(w, os.path.join(flat, "model.safetensors"))
    export_model(flat, flat + ".pt", log=QUIET)
    FIXTURES["ar-flat"] = flat + ".pt"
    wide = os.path.join(TMP, "ar-wide")
    shutil.copytree(ar_dir, wide)
    cfg = json.load(open(os.path.join(wide, "config.json")))
    json.dump(dict(cfg, vocab_size=320), open(os.path.join(wide, "config.json"), "w"))
    w = st.load_file(os.path.join(wide, "model.safetensors"))
    g = torch.Generator().manual_seed(9)
    w["embed.weight"] = torch.cat([w["embed.weight"], torch.randn(20, w["embed.weight"].shape[1], generator=g)])
    w["lm_head.weight"] = torch.cat([w["lm_head.weight"], 3.0 * torch.randn(20, w["lm_head.weight"].shape[1], generator=g)])
    st.save_file(w, os.path.join(wide, "model.safetensors"))
    export_model(wide, wide + ".pt", log=QUIET)
    FIXTURES["ar-wide"] = wide + ".pt"


def prompts_for(seed, lens=(1, 5, 13)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=n).tolist() for n in lens]


def check_rows(out, dllm, G):
    for row in out["rows"]:
        assert len(row["tokens"]) == G and dllm.mask_id not in row["tokens"], row
        assert row["steps"] == row["dllmForwards"] == len(row["acceptedPerStep"]) and row["arForwards"] <= row["steps"]
        assert all(a >= 1 for a in row["acceptedPerStep"])
        if row["finishReason"] == "length":
            assert sum(row["acceptedPerStep"]) == G


def recompute(dllm, ar, prompt, row, R, T, seed, width, G):
    """Replays a row's trace (W null) with the archives' own full forwards, no caches: the dLLM's
    logits_at on the canvas cut after the lookahead, the AR's forward on the prefix and draft,
    float64 mixture (the engine's is float32; a different rounding would show only on a near
    tie); checks each step's draft, target and accepted length."""
    from localleap import hash_rng, rule_math
    from localleap.commit_rule import argmax_except
    P = len(prompt)
    canvas = np.full(P + G, dllm.mask_id, dtype=np.int64)
    canvas[:P] = prompt
    s = 1 if dllm.shifted else 0
    c = P
    inv_t = np.float32(1.0 / T) if T > 0 else None
    for r, st in enumerate(row["trace"]):
        assert st["cursor"] == c - P
        right = min(c + st["lookahead"], P + G)
        with torch.no_grad():
            zd = dllm.module.logits_at(torch.from_numpy(canvas[None, :right].copy()),
                                       torch.arange(c - s, right - s))[0, :, :width].double().numpy()
        g = None
        if T > 0:
            g = rule_math.gumbel_noise(hash_rng.position_hash(seed, r, np.arange(c, right) - P), width).astype(np.float64)
        score = zd if g is None else zd * float(inv_t) + g
        draft = argmax_except(score, dllm.mask_id)
        assert draft.tolist() == st["draft"], (r, draft.tolist(), st["draft"])
        n = right - c
        if n > 1 and R < 1:
            seq = canvas[:right].copy()
            seq[c:right] = draft
            with torch.no_grad():
                za = ar.module(torch.from_numpy(seq[None, :right - 1].copy()))[0, c:right - 1, :width].double().numpy()
            y = R * zd[1:] + (1 - R) * za
            target = argmax_except(y if g is None else y * float(inv_t) + g[1:], dllm.mask_id)
            assert target.tolist() == st["target"][1:], (r, target.tolist(), st["target"])
            a = 1
            while a < n and draft[a] == target[a - 1]:
                a += 1
        else:
            a = n
        assert a == st["accepted"], (r, a, st["accepted"])
        canvas[c:c + a] = draft[:a]
        c += a
    assert canvas[P:].tolist() == row["tokens"]


def test_apd_reference():
    """The APD reference on the tiny fixtures (LLaDA-like and Dream-like dLLMs, causal LMs of the
    same vocabulary): each step replayed with the archives' own forwards; the exact special cases
    R = 1, M = 1, R = 0, W >= L, a flat AR; more accepted as R grows; a stale dLLM cache changes
    the result; seeded sampling deterministic; batch == single; stopAtEos."""
    from localleap.apd_reference import CausalReference, apd_decode
    apd_fixtures()
    ar, ar5, flat = (CausalReference(FIXTURES[k]) for k in ("ar", "ar5", "ar-flat"))
    G = 40
    summary = []
    totals = {"checked": 0, "stopped": 0}
    for name in ("llada", "dream"):
        dllm = ReferenceModel(FIXTURES[name])
        V = dllm.vocab
        prompts = prompts_for(1)
        # every step replayed independently: greedy and seeded, several R and M
        for R, M, T in ((0.6, 8, 0.0), (0.3, 5, 0.0), (0.8, 12, 0.9), (0.0, 6, 1.3)):
            out = apd_decode(dllm, ar, prompts, G, R, None, M, T, seeds=[4, 5, 6], trace=True)
            check_rows(out, dllm, G)
            for b, p in enumerate(prompts):
                recompute(dllm, ar, p, out["rows"][b], R, T, [4, 5, 6][b], V, G)
        # R = 1: the target is the draft; ceil(G / M) steps, no AR call, any AR (or none) gives the same
        for M, W, other in ((3, None, ar), (8, 4, ar5), (7, 2, ar)):
            base = apd_decode(dllm, None, prompts, G, 1.0, W, M)
            check_rows(base, dllm, G)
            for row in base["rows"]:
                assert row["steps"] == -(-G // M) and row["arForwards"] == 0, row
                assert row["acceptedPerStep"] == [M] * (G // M) + ([G % M] if G % M else []), row
            assert apd_decode(dllm, other, prompts, G, 1.0, W, M) == base
        # M = 1: one token per step, the dLLM's own whatever the AR and R; equal to R = 1, M = 1
        m1 = apd_decode(dllm, None, prompts, G, 1.0, None, 1)
        for R, other in ((0.0, ar), (0.5, ar5)):
            got = apd_decode(dllm, other, prompts, G, R, None, 1)
            assert got == m1 and all(r["steps"] == G and r["arForwards"] == 0 for r in got["rows"]), (name, R)
        # the M = 1 tokens by hand: the dLLM's argmax given the committed prefix and one mask
        s = 1 if dllm.shifted else 0
        p = prompts[1]
        seq = list(p)
        for j in range(G):
            canvas = torch.tensor([seq + [dllm.mask_id]])
            with torch.no_grad():
                z = dllm.module.logits_at(canvas, torch.tensor([len(seq) - s]))[0, 0].clone()
            z[dllm.mask_id] = -float("inf")
            seq.append(int(z.argmax()))
        assert seq[len(p):] == m1["rows"][1]["tokens"], name
        # R = 0, greedy: every token but a step's first is the AR's greedy next token
        r0 = apd_decode(dllm, ar, prompts, G, 0.0, 4, 6)
        checked = 0
        for b, p in enumerate(prompts):
            row = r0["rows"][b]
            full = torch.tensor([p + row["tokens"]])
            with torch.no_grad():
                za = ar.module(full)[0]
            za[:, dllm.mask_id] = -float("inf")
            starts, c = set(), 0
            for a in row["acceptedPerStep"]:
                starts.add(c)
                c += a
            for j in range(G):
                if j not in starts:
                    assert int(za[len(p) + j - 1].argmax()) == row["tokens"][j], (name, b, j)
                    checked += 1
        # W >= L: the window covers the whole input, bit for bit as W null; a short W differs somewhere
        for R, T in ((0.6, 0.0), (0.7, 0.8)):
            none = apd_decode(dllm, ar, prompts, G, R, None, 8, T, seeds=[1, 2, 3])
            assert apd_decode(dllm, ar, prompts, G, R, 13 + G, 8, T, seeds=[1, 2, 3]) == none
        stale = sum(apd_decode(dllm, ar, prompts, G, 0.6, W, 8)["rows"] != apd_decode(dllm, ar, prompts, G, 0.6, None, 8)["rows"]
                    for W in (1, 3))
        assert stale > 0, "a short kvWindow should read stale keys/values"
        # a flat AR (all logits equal): the mixture's argmax is the dLLM's, every draft is accepted
        for R in (0.3, 0.7):
            got = apd_decode(dllm, flat, prompts, G, R, 4, 8)
            assert [r["tokens"] for r in got["rows"]] == [r["tokens"] for r in apd_decode(dllm, None, prompts, G, 1.0, 4, 8)["rows"]]
            assert all(r["steps"] == G // 8 and r["arForwards"] == G // 8 for r in got["rows"])
        # more of the draft is accepted as R grows (summed over prompts)
        many = prompts_for(2, (3, 7, 11, 2))
        steps = [sum(r["steps"] for r in apd_decode(dllm, ar, many, G, R, 8, 10)["rows"]) for R in (0.0, 0.5, 0.9, 1.0)]
        assert steps == sorted(steps, reverse=True) and steps[0] > steps[-1], steps
        # seeds: deterministic, seed-dependent; a batch's row decodes as alone
        kw = dict(mixture_weight=0.7, kv_window=4, max_lookahead=8, temperature=1.0)
        one = apd_decode(dllm, ar, prompts, G, seeds=[7, 8, 9], **kw)
        assert apd_decode(dllm, ar, prompts, G, seeds=[7, 8, 9], **kw) == one
        assert apd_decode(dllm, ar, prompts, G, seeds=[17, 18, 19], **kw)["rows"] != one["rows"]
        for b, p in enumerate(prompts):
            assert apd_decode(dllm, ar, [p], G, seeds=[7 + b], **kw)["rows"][0] == one["rows"][b]
        # stopAtEos: the same text up to the step that commits an end token, eosId after it
        stopped = 0
        for p in prompts_for(3, (2, 4, 6, 8, 3, 9)):
            full = apd_decode(dllm, ar, [p], G, 0.7, 4, 8)["rows"][0]
            early = apd_decode(dllm, ar, [p], G, 0.7, 4, 8, stop_at_eos=True)["rows"][0]
            ends = [j for j, t in enumerate(full["tokens"]) if t in dllm.end_ids]
            if not ends:
                assert early == full
                continue
            c = k = 0
            while c <= ends[0]:
                c += full["acceptedPerStep"][k]
                k += 1
            assert early["tokens"][:c] == full["tokens"][:c] and set(early["tokens"][c:]) <= {dllm.eos_id}
            assert early["acceptedPerStep"] == full["acceptedPerStep"][:k] and early["finishReason"] == "eos"
            stopped += c < G
        summary.append(f"{name}: {checked} R=0 tokens checked, steps by R {steps}, {stopped} early stops")
        totals["checked"] += checked
        totals["stopped"] += stopped
    assert totals["checked"] > 0 and totals["stopped"] > 0, totals
    print("  " + "; ".join(summary))


def test_vocab_check():
    """check_vocab: the same tokenizer (also with wider AR logits) passes with V' = the narrower
    width; a missing tokenizer, other merges, an id moved, a token the dLLM lacks, a plain token
    the AR lacks and a dLLM token outside the AR's logits are refused; so is the vocab-301 AR
    end to end, and a dLLM archive as the AR or a causal one as the dLLM."""
    import copy
    from localleap.apd_reference import CausalReference, VocabMismatch, apd_decode, archive_tokenizer, check_vocab
    apd_fixtures()
    dllm = ReferenceModel(FIXTURES["llada"])
    d_tok = archive_tokenizer(dllm.path)
    ar = CausalReference(FIXTURES["ar"])
    assert check_vocab(dllm.meta, d_tok, ar.meta, ar.tokenizer) == 300
    wide = CausalReference(FIXTURES["ar-wide"])
    assert wide.vocab == 320 and check_vocab(dllm.meta, d_tok, wide.meta, wide.tokenizer) == 300
    out = apd_decode(dllm, wide, prompts_for(4), 24, 0.5, 4, 6)
    assert out["vocabWidth"] == 300 and all(max(r["tokens"]) < 300 for r in out["rows"])

    def refused(reason, *needles, d_meta=dllm.meta, dt=d_tok, a_meta=ar.meta, at=ar.tokenizer):
        try:
            check_vocab(d_meta, dt, a_meta, at)
        except VocabMismatch as e:
            assert e.reason == reason and "APD vocabulary mismatch" in str(e), (reason, str(e))
            for n in needles:
                assert n in str(e), (n, str(e))
            return
        raise AssertionError(f"not refused ({reason})")

    refused("no-tokenizer", "the AR model", at=None)
    refused("no-tokenizer", "the dLLM", dt=None)
    t = copy.deepcopy(ar.tokenizer)
    t["model"]["merges"] = t["model"]["merges"][::-1]
    refused("tokenizer", "merges", at=t)
    t = copy.deepcopy(ar.tokenizer)
    t["model"]["type"] = "WordPiece"
    refused("tokenizer", "WordPiece", at=t)
    t = copy.deepcopy(ar.tokenizer)
    v = t["model"]["vocab"]
    v["Ġt"], v["he"] = v["he"], v["Ġt"]  # two ids swapped
    refused("tokenizer", "'he'", at=t)
    t = copy.deepcopy(ar.tokenizer)
    t["added_tokens"].append({"id": 299, "content": "<|only_here|>", "special": True})
    refused("tokenizer", "<|only_here|>", "is not in the dLLM's tokenizer", at=t)
    t = copy.deepcopy(ar.tokenizer)  # a plain BPE token the AR lacks
    last = max(v2 for v2 in t["model"]["vocab"].values())
    t["model"]["vocab"] = {k: v2 for k, v2 in t["model"]["vocab"].items() if v2 != last}
    refused("tokenizer", "lacks", at=t)
    t = copy.deepcopy(ar.tokenizer)  # an added token of the dLLM only (as Dream's <|mask|>) is fine...
    mask_text = next(a["content"] for a in t["added_tokens"] if a["id"] == dllm.mask_id)
    t["added_tokens"] = [a for a in t["added_tokens"] if a["id"] != dllm.mask_id]
    assert check_vocab(dllm.meta, d_tok, ar.meta, t) == 300 and mask_text == "<|mdm_mask|>"
    narrow = dict(ar.meta, vocabSize=296)  # ...but not one the AR's logits do not reach
    refused("width", "outside the AR model's 296 logits", a_meta=narrow)
    below = lambda tok, keep=(): {**tok, "added_tokens": [a for a in tok["added_tokens"] if a["id"] < 296 or a["id"] in keep]}  # noqa: E731
    refused("width", "endIds 298", a_meta=narrow, at=below(ar.tokenizer), d_meta=dict(dllm.meta, endIds=[295, 298]),
            dt=below(d_tok, (dllm.mask_id,)))
    ar301 = CausalReference(FIXTURES["ar301"])
    try:
        apd_decode(dllm, ar301, [[1, 2]], 8, 0.5, 4, 4)
        raise AssertionError("the vocab-301 AR model was accepted")
    except VocabMismatch as e:
        assert e.reason == "tokenizer" and "merges differ" in str(e), str(e)  # its BPE has one merge more
    raises(lambda: CausalReference(FIXTURES["llada"]), "causal LM archive", "diffusion LM")
    raises(lambda: ReferenceModel(FIXTURES["ar"]), "kind causal")


def test_apd_options():
    """The options' checks and the CLI: tools/reference_decode.py with strategy apd gives the
    library's result; block-rule options, a bad R, W, M or blockLength, a mask in the prompt, a
    token outside the shared ids and a missing AR model are refused."""
    from localleap.apd_reference import CausalReference, apd_decode
    apd_fixtures()
    dllm = ReferenceModel(FIXTURES["llada"])
    ar = CausalReference(FIXTURES["ar"])
    prompts = prompts_for(5)
    case = {"model": FIXTURES["llada"], "arModel": FIXTURES["ar"], "prompts": prompts, "genLength": 24,
            "strategy": "apd", "mixtureWeight": 0.6, "kvWindow": 3, "maxLookahead": 5, "temperature": 0.5, "seed": 3}
    r = subprocess.run([sys.executable, os.path.join(HERE, "reference_decode.py")], input=json.dumps([case, dict(case, kvWindow=None)]),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    for res, w in zip(got, (3, None)):
        want = apd_decode(dllm, ar, prompts, 24, 0.6, w, 5, 0.5, seeds=[3, 3, 3])
        for row in want["rows"]:
            row["stepsPerBlock"] = [row["steps"]]
        assert res == want
    for bad, needle in ((dict(case, steps=8), "do not apply to strategy apd"),
                        (dict(case, blockLength=8), "blockLength must be genLength"),
                        (dict(case, strategy="threshold"), "need strategy apd")):
        r = subprocess.run([sys.executable, os.path.join(HERE, "reference_decode.py")], input=json.dumps([bad]),
                           capture_output=True, text=True)
        assert r.returncode == 1 and needle in r.stderr and "Traceback" not in r.stderr, r.stderr
    raises(lambda: apd_decode(dllm, ar, prompts, 24, 1.5), "mixtureWeight")
    raises(lambda: apd_decode(dllm, ar, prompts, 24, 0.5, 0), "kvWindow")
    raises(lambda: apd_decode(dllm, ar, prompts, 24, 0.5, 4, 0), "maxLookahead")
    raises(lambda: apd_decode(dllm, ar, prompts, 24, 0.5, 4, 4, -1.0), "temperature")
    raises(lambda: apd_decode(dllm, ar, prompts, 24, block_length=8), "blockLength")
    assert apd_decode(dllm, ar, prompts, 24, block_length=24) == apd_decode(dllm, ar, prompts, 24)
    raises(lambda: apd_decode(dllm, ar, [[1, dllm.mask_id]], 24), "mask id")
    raises(lambda: apd_decode(dllm, CausalReference(FIXTURES["ar-wide"]), [[1, 305]], 24), "outside [0, 300)")
    raises(lambda: apd_decode(dllm, None, prompts, 24, 0.5), "autoregressive model")
    raises(lambda: apd_decode(dllm, ar, [[]], 24), "at least one token")
    raises(lambda: apd_decode(dllm, ar, [[1] * 500], 24), "maxLength")


def test_apd_hf_pair():
    """The paper's pairing in miniature: the tiny Dream export (logits 384 wide) and the tiny Qwen2
    export (352, the same tokenizer without Dream's <|beginoftext|> and <|mask|>) pass the check
    with V' = 352 and decode."""
    from localleap.apd_reference import CausalReference, apd_decode, archive_tokenizer, check_vocab
    dream_ck = hf_checkpoint("dream", os.path.join(TMP, "Dream-tiny"))
    dream_pt = os.path.join(TMP, "dream-out", "model.pt")
    export_hf_quiet(dream_ck, dream_pt)
    if "hf-qwen2" not in FIXTURES:
        ck = hf_checkpoint("qwen2", os.path.join(TMP, "Qwen2.5-tiny"))
        FIXTURES["hf-qwen2"] = os.path.join(TMP, "qwen-out", "model.pt")
        export_hf_quiet(ck, FIXTURES["hf-qwen2"])
    dllm = ReferenceModel(dream_pt)
    ar = CausalReference(FIXTURES["hf-qwen2"])
    assert dllm.vocab == 384 and ar.vocab == 352
    assert check_vocab(dllm.meta, archive_tokenizer(dream_pt), ar.meta, ar.tokenizer) == 352
    prompts = prompts_for(6)
    out = apd_decode(dllm, ar, prompts, 32, 0.7, 16, 10, 0.5, seeds=[1, 2, 3])
    check_rows(out, dllm, 32)
    assert out["vocabWidth"] == 352 and all(max(r["tokens"]) < 352 for r in out["rows"])
    assert sum(r["arForwards"] for r in out["rows"]) > 0
    # bench/apd_step_profile.py on the pair: its cached pieces hold to the full forwards (--check)
    # and every piece is timed (no CUDA here: no graph column).
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
    import apd_step_profile
    report = apd_step_profile.main(["--dllm", dream_pt, "--ar", FIXTURES["hf-qwen2"], "--out", os.path.join(TMP, "profile.json"),
                                    "--device", "cpu", "--prompt", "6", "--committed", "3", "--window", "2",
                                    "--lookahead", "5", "--reps", "2", "--check"])
    assert report["shapes"]["vocabWidth"] == 352 and len(report["rows"]) == 7
    assert all(r["eagerMs"] > 0 and r["graphMs"] is None for r in report["rows"])


# ---------------------------------------------------------------- Hugging Face Qwen2
def hf_checkpoint(family, out, *extra):
    import make_hf_checkpoint as mh
    assert mh.main(["--family", family, "--preset", "tiny", "--out", out, "--device", "cpu", *extra]) == 0
    return out


def export_hf_quiet(checkpoint, out, **kw):
    from localleap.hf.export import export_hf
    return export_hf(checkpoint, out, kw.pop("dtype", "float32"), "cpu", "manual", kw.pop("parity_prompts", 2),
                     log=QUIET, **kw)


def test_hf_qwen2():
    """make_hf_checkpoint.py --family qwen2 (Qwen2.5-0.5B's layout, tiny) through export_hf: kind
    causal metadata, the exported logits against the independent Qwen2 forward, crossed tensors
    and a non-causal network caught by the parity check, the unsupported options named, and the
    0.5b preset's sizes (Qwen2.5-0.5B's 0.49 B parameters, 0.36 B without the embedding)."""
    from localleap import safetensors_io as st
    from localleap.hf.checkpoint import read_checkpoint_config, stream_weights, plan_weights
    from localleap.hf.export import hf_parity
    from localleap.hf.reference import qwen2_logits
    from localleap.hf.synth import expected_ids
    ck = hf_checkpoint("qwen2", os.path.join(TMP, "Qwen2.5-tiny"))
    assert os.path.isfile(os.path.join(ck, "model.safetensors")) and not os.path.exists(os.path.join(ck, st.INDEX_NAME))
    out = os.path.join(TMP, "qwen-out", "model.pt")
    report = export_hf_quiet(ck, out)
    md = report["metadata"]
    ids = expected_ids("qwen2", "tiny")
    assert md["kind"] == "causal" and md["architecture"] == "qwen2" and "maskId" not in md and "logitsShifted" not in md
    assert md["vocabSize"] == 352 and md["eosId"] == ids["<|im_end|>"] and md["endIds"] == [ids["<|im_end|>"], ids["<|endoftext|>"]]
    assert md["config"]["tie_embeddings"] is True and md["config"]["qkv_bias"] is True and md["addBos"] is False
    assert md["exporter"]["parity"]["maxRelDiff"] < 1e-4
    FIXTURES["hf-qwen2"] = out
    # the archive against the independent forward, on fresh ids
    _, fam, m = read_checkpoint_config(ck)
    t = stream_weights(plan_weights(ck, fam, m), torch.float32, "cpu", QUIET)
    archive = torch.jit.load(out)
    x = torch.randint(0, m.vocab_size, (2, 19))
    with torch.no_grad():
        want = qwen2_logits(t, m, x)
        assert float((archive(x) - want).abs().max()) < 1e-4 * max(1.0, float(want.abs().max()))
        # the reference is causal too: changing later tokens leaves earlier logits alone
        y = x.clone()
        y[:, 10:] = 0
        assert float((qwen2_logits(t, m, y)[:, :10] - want[:, :10]).abs().max()) < 1e-5
    # a bidirectional network with these weights fails the parity check against the reference
    cfg = m.model_config()
    neutral = {ours: t[theirs] for ours, theirs in fam.name_map(m).items()}
    bidir = DiffusionLM(cfg, use_sdpa=False).eval()
    bidir.load_state_dict(dict(neutral, **{"lm_head.weight": neutral["embed.weight"]}), strict=False)
    raises(lambda: hf_parity(t, m, torch.jit.script(bidir), False, None, "float32", "cpu", 2, QUIET),
           "parity check failed", "qwen2 reference")
    # a crossed name map (gate and up of layer 0 swapped) is caught
    from localleap.hf import families
    original = families.Qwen2.name_map

    def crossed(self, m):
        out = original(self, m)
        out["layers.0.mlp.gate.weight"], out["layers.0.mlp.up.weight"] = \
            out["layers.0.mlp.up.weight"], out["layers.0.mlp.gate.weight"]
        return out
    families.Qwen2.name_map = crossed
    try:
        raises(lambda: export_hf_quiet(ck, os.path.join(TMP, "crossed.pt")), "parity check failed", "qwen2")
    finally:
        families.Qwen2.name_map = original
    # options localleap cannot express, named by their key
    bad = os.path.join(TMP, "Qwen2.5-bad")
    shutil.copytree(ck, bad)
    cfg_path = os.path.join(bad, "config.json")
    base = json.load(open(cfg_path))
    for change, needles in (({"use_sliding_window": True}, ("use_sliding_window",)),
                            ({"layer_types": ["full_attention", "sliding_attention"]}, ("layer_types", "full_attention")),
                            ({"rope_scaling": {"type": "yarn", "factor": 4.0}}, ("rope_scaling",)),
                            ({"head_dim": 8}, ("head_dim",)),
                            ({"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"]},
                             ("unsupported architecture", "Qwen2ForCausalLM", "causal"))):
        json.dump(dict(base, **change), open(cfg_path, "w"))
        raises(lambda: export_hf_quiet(bad, os.path.join(TMP, "bad.pt")), *needles)
    # the released size, from its config alone
    big = os.path.join(TMP, "Qwen2.5-0.5B-config")
    import make_hf_checkpoint as mh
    assert mh.main(["--family", "qwen2", "--preset", "0.5b", "--out", big, "--tokenizer-only"]) == 0
    _, fam, m = read_checkpoint_config(big)
    shapes = fam.hf_shapes(m)
    total = sum(int(np.prod(s)) for s in shapes.values())
    assert "lm_head.weight" not in shapes and round(total / 1e9, 2) == 0.49, total
    assert round((total - int(np.prod(shapes["model.embed_tokens.weight"]))) / 1e9, 2) == 0.36
    print(f"  Qwen2.5-0.5B preset: {total} parameters; tiny export parity {md['exporter']['parity']['maxRelDiff']:.2g}")


def main():
    torch.set_num_threads(1)
    tests = [test_causal_model, test_plain_causal_exact, test_rule_math_exact, test_causal_export, test_hf_qwen2,
             test_apd_reference, test_vocab_check, test_apd_options, test_apd_hf_pair]
    failed = []
    for t in tests:
        try:
            t()
            print(f"PASS {t.__name__} ({time.time() - T0:.0f} s)", flush=True)
        except Exception:  # noqa: BLE001 - report every failure, then exit non-zero
            traceback.print_exc()
            print(f"FAIL {t.__name__} ({time.time() - T0:.0f} s)", flush=True)
            failed.append(t.__name__)
    shutil.rmtree(TMP, ignore_errors=True)
    if failed:
        print(f"FAIL: {len(failed)} of {len(tests)}: {', '.join(failed)}")
        return 1
    print(f"PASS: all {len(tests)} tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
