"""CPU checks of the int8 neutral weights (tools/localleap/quant.py, tools/train/quantize.py).

  /usr/bin/python3 tools/train/test_quant.py [--prompts 20]

1. round trip: |w - dequant(quant(w))| <= max|w[row]| / 254 (+ float rounding) on random and
   outlier-heavy matrices, zero rows exact, int8 range -127..127, malformed pairs rejected;
2. models/reference quantized to int8 (quantize.py) loads through tools/localleap/weights.py (the
   loader of tools/export.py) and tools/train/evaluate.py; logits on held-out prompts against the
   source folder: max |diff| / max |logit| and the argmax agreement of the masked positions;
3. greedy decoding (localleap-128-stop, the decoder of evaluate.py) of N held-out prompts with both
   weight sets: accuracies within max(2, N/10) of each other; identical decodes counted (tokenizer: bpe_lite, no `tokenizers` needed).
Since model v2 the shipped folder is itself int8 (its bf16 source stays on the GPU machine), so the
source of 2-3 is that folder expanded to float32 (a temporary bf16-free copy): the checks then
also show that quantizing is idempotent on int8 values (quantize(dequantize(q)) == q exactly, the
scales within float rounding). The accuracy cost of int8 against bf16 for v2 is not measured here.
Ends with 'N passed, N failed' and the measured figures.
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import torch  # noqa: E402

import common  # noqa: E402
import problems  # noqa: E402
import quantize  # noqa: E402
from bpe_lite import BPELite  # noqa: E402
from checks import run_check, summary  # noqa: E402
from decoder import DecodeConfig, Tokens, generate  # noqa: E402
from localleap import quant, weights  # noqa: E402

REF = os.path.join(common.REPO, "models", "reference")
FIGURES = {}


def round_trip():
    g = torch.Generator().manual_seed(0)
    cases = [torch.randn(64, 320, generator=g), torch.randn(64, 320, generator=g) * 1e-3,
             torch.randn(33, 17, generator=g).pow(3) * 5]  # heavy tails
    z = torch.randn(8, 16, generator=g)
    z[3] = 0
    cases.append(z)
    for w in cases:
        q, s = quant.quantize_rowwise(w)
        assert q.dtype == torch.int8 and s.dtype == torch.float32 and list(s.shape) == [w.shape[0]]
        assert int(q.abs().max()) <= 127
        back = quant.dequantize_rowwise(q, s)
        bound = w.abs().amax(1, keepdim=True) / 254 * (1 + 1e-5) + 1e-12
        assert bool(((back - w).abs() <= bound).all()), float(((back - w).abs() / bound).max())
    assert torch.equal(quant.dequantize_rowwise(*quant.quantize_rowwise(z))[3], torch.zeros(16))
    # bf16 source values, as in the shipped model
    wb = torch.randn(128, 320, generator=g).to(torch.bfloat16)
    back = quant.dequantize_rowwise(*quant.quantize_rowwise(wb))
    rel = float((back - wb.float()).norm() / wb.float().norm())
    assert rel < 0.01, rel
    FIGURES["gaussian_rel_l2"] = rel
    sd = {"a.weight": torch.randn(4, 8), "n.weight": torch.ones(8)}
    qs = quant.quantize_state(sd)
    assert qs["a.weight"].dtype == torch.int8 and qs["n.weight"] is sd["n.weight"] and "a.weight.scale" in qs
    for bad in ({"a.weight": qs["a.weight"]}, {"a.weight": sd["a.weight"], "a.weight.scale": qs["a.weight.scale"]},
                {"a.weight": qs["a.weight"], "a.weight.scale": torch.ones(3)}):
        try:
            quant.dequantize_state(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted a malformed int8 pair: {list(bad)}")
    assert quant.dequantize_state(sd) is sd


def float_source(folder, dst):
    """`folder` as float32 safetensors (an int8 folder expanded), with its config and tokenizer."""
    import json
    import shutil
    from localleap import safetensors_io as st
    tensors = quant.dequantize_state(st.load(folder))
    os.makedirs(dst, exist_ok=True)
    st.save_sharded(tensors, dst, 64 << 20)
    conf = json.load(open(os.path.join(folder, "config.json")))
    conf.pop("_quantization", None)
    json.dump(conf, open(os.path.join(dst, "config.json"), "w"), indent=1)
    for fn in quantize.COPY:
        if os.path.exists(os.path.join(folder, fn)):
            shutil.copy(os.path.join(folder, fn), os.path.join(dst, fn))
    return dst


def reference_int8(dst, n_prompts):
    from localleap import safetensors_io as st
    t = time.time()
    shipped = st.load(REF)
    src = REF
    if any(v.dtype == torch.int8 for v in shipped.values()):
        try:
            quantize.quantize_folder(REF, dst + "-refused")
        except SystemExit as e:
            assert "already int8" in str(e), e
        else:
            raise AssertionError("quantize.py re-quantized an int8 folder")
        src = float_source(REF, dst + "-float32")
        FIGURES["source"] = "models/reference (int8) expanded to float32"
    sizes = quantize.quantize_folder(src, dst)
    if src != REF:
        again = st.load(dst)
        for name, v in shipped.items():
            if v.dtype == torch.int8:
                assert torch.equal(again[name], v), f"{name}: quantize(dequantize(q)) != q"
            elif name.endswith(quant.SCALE_SUFFIX):
                assert torch.allclose(again[name], v, rtol=1e-6, atol=0), name
        FIGURES["requantize_identical"] = True
    REFSRC = src
    FIGURES.update(sizes)
    FIGURES["quantize_s"] = round(time.time() - t, 1)
    assert sizes["dst_bytes"] < (0.53 if src == REF else 0.27) * sizes["src_bytes"], sizes  # float32 source: a quarter
    m16, cfg, meta = weights.load_model(REFSRC, "float32")
    m8, cfg8, _ = weights.load_model(dst, "float32")
    assert cfg == cfg8
    import evaluate
    m8e, _, _ = evaluate.load_model(dst, torch.device("cpu"), torch.float32)  # evaluate.py's loader too
    tok = BPELite(REF)
    held = [problems.problem(f"heldout:{i}") for i in range(n_prompts // 2)] + \
           [problems.problem(f"heldout1:{i}") for i in range(n_prompts - n_prompts // 2)]
    prompts = [tok.encode(common.chat_prompt(p["question"])) for p in held]
    mask = meta["mask_id"]
    rel_max, agree, tot = 0.0, 0, 0
    with torch.no_grad():
        for pr in prompts[:8]:
            ids = torch.tensor([pr + [mask] * 64])
            a, b, c = m16(ids)[0, len(pr):].float(), m8(ids)[0, len(pr):].float(), m8e(ids)[0, len(pr):].float()
            assert torch.allclose(b, c, atol=1e-4, rtol=1e-4), "weights.py and evaluate.py expand differently"
            rel_max = max(rel_max, float((a - b).abs().max() / a.abs().max()))
            agree += int((a.argmax(-1) == b.argmax(-1)).sum())
            tot += a.shape[0]
    FIGURES["logits_max_rel_diff"] = rel_max
    FIGURES["masked_argmax_agreement"] = agree / tot
    assert rel_max < 0.05, rel_max
    toks = Tokens(meta["mask_id"], meta["eos_id"], list(meta["end_ids"]), meta["pad_id"])
    dc = DecodeConfig("localleap", 128, 32, stop_at_eos=True)
    t = time.time()
    r16 = generate(m16, prompts, dc, toks, torch.device("cpu"))
    r8 = generate(m8, prompts, dc, toks, torch.device("cpu"))
    FIGURES["decode_s"] = round(time.time() - t, 1)
    same = sum(x == y for x, y in zip(r16["tokens"], r8["tokens"]))
    acc16 = sum(problems.extract_answer(tok.decode(x)) == p["answer"] for x, p in zip(r16["tokens"], held))
    acc8 = sum(problems.extract_answer(tok.decode(x)) == p["answer"] for x, p in zip(r8["tokens"], held))
    FIGURES.update({"decode_prompts": len(prompts), "decode_identical": same, "correct_bf16": acc16, "correct_int8": acc8,
                    "steps_bf16": sum(r16["steps"]), "steps_int8": sum(r8["steps"])})
    print("  sample int8 decode:", repr(tok.decode(r8["tokens"][-1])[:200]))
    # Not asserted: identical decodes. localleap commits by confidence thresholds, so int8's small
    # logit changes reorder commits on many rows (the answers stay as often right); see the report.
    assert abs(acc16 - acc8) <= max(2, len(prompts) // 10), FIGURES


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=20, help="held-out prompts decoded (half heldout:, half heldout1:)")
    a = ap.parse_args()
    t0 = time.time()
    run_check(round_trip)
    with tempfile.TemporaryDirectory() as d:
        run_check(reference_int8, os.path.join(d, "ref-int8"), a.prompts)
    print("figures:", FIGURES)
    sys.exit(summary(t0))
