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


def raises(fn, *needles):
    """fn() must raise ValueError whose message contains every needle."""
    try:
        fn()
    except ValueError as e:
        for n in needles:
            assert n in str(e), f"{n!r} not in error: {e}"
        return str(e)
    raise AssertionError(f"no ValueError (wanted {needles})")


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
    tests = [test_causal_model, test_plain_causal_exact, test_rule_math_exact, test_causal_export, test_hf_qwen2]
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
