#!/usr/bin/env python3
"""Self-check of the Python tools: /usr/bin/python3 tools/test_tools.py (plain asserts, no pytest)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_raises import raises  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from localleap import commit_rule as cr  # noqa: E402
from localleap import hash_rng  # noqa: E402
from localleap import safetensors_io as st  # noqa: E402
from localleap.exporter import export_model, parity_check  # noqa: E402
from localleap.metadata import build_metadata, newline_token_ids, validate_metadata  # noqa: E402
from localleap.model import ModelConfig, build_model, kv_cache_shape  # noqa: E402
from localleap.reference_cache import PlainTransformer  # noqa: E402
from localleap.reference_decoder import ReferenceModel, adaptive_steps_per_block, cache_window, decode  # noqa: E402
from localleap.weights import load_model  # noqa: E402

TMP = tempfile.mkdtemp(prefix="localleap-test-")
T0 = time.time()
QUIET = lambda msg: None  # noqa: E731



# ---------------------------------------------------------------- safetensors
def sample_tensors():
    g = torch.Generator().manual_seed(0)
    return {
        "f32": torch.randn(3, 5, generator=g),
        "f16": torch.randn(7, generator=g).half(),
        "bf16": torch.randn(2, 3, 4, generator=g).bfloat16(),
        "i64": torch.arange(-5, 5, dtype=torch.int64),
        "i32": torch.tensor([1, -2, 2 ** 31 - 1], dtype=torch.int32),
        "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
        "strided": torch.randn(4, 6, generator=g).t(),  # non-contiguous on purpose
    }


def same(a, b):
    return a.dtype == b.dtype and list(a.shape) == list(b.shape) and torch.equal(a, b)


def test_safetensors_roundtrip():
    ts = sample_tensors()
    path = os.path.join(TMP, "a.safetensors")
    st.save_file(ts, path, {"who": "test"})
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    assert (8 + n) % 8 == 0 and header["__metadata__"] == {"who": "test"}
    assert header["bf16"]["dtype"] == "BF16" and header["bool"]["dtype"] == "BOOL"
    back = st.load_file(path)
    assert set(back) == set(ts) and all(same(back[k], ts[k]) for k in ts)
    back["f32"] += 1  # writable
    assert st.read_header(path)[1] == {"who": "test"}
    assert list(st.load_file(path, ["i32"])) == ["i32"]


def test_safetensors_foreign_file():
    # Written by hand as the reference library lays it out: unpadded header, any tensor order.
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1, 2], dtype=np.int64)
    header = {"b": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
              "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [16, 40]}}
    raw = json.dumps(header).encode()
    path = os.path.join(TMP, "foreign.safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b.tobytes() + a.tobytes())
    t = st.load_file(path)
    assert t["a"].tolist() == a.tolist() and t["b"].tolist() == [1, 2]


def test_safetensors_sharded():
    g = torch.Generator().manual_seed(1)
    ts = {f"layers.{i}.w": torch.randn(64, 64, generator=g) for i in range(10)}  # 16 KiB each
    folder = os.path.join(TMP, "sharded")
    names = st.save_sharded(ts, folder, 40_000)
    assert len(names) == 5 and names[0] == "model-00001-of-00005.safetensors", names
    for n in names:
        assert os.path.getsize(os.path.join(folder, n)) <= 40_000
    back = st.load(folder)
    assert set(back) == set(ts) and all(same(back[k], ts[k]) for k in ts)
    raises(lambda: st.save_sharded(ts, os.path.join(TMP, "tiny"), 10_000), "layers.0.w", "alone")
    # a missing shard, a shard that lacks a listed tensor
    os.rename(os.path.join(folder, names[2]), os.path.join(TMP, "moved.safetensors"))
    raises(lambda: st.load(folder), names[2], "missing")
    os.rename(os.path.join(TMP, "moved.safetensors"), os.path.join(folder, names[2]))
    idx = os.path.join(folder, st.INDEX_NAME)
    index = json.load(open(idx))
    index["weight_map"]["ghost"] = names[0]
    json.dump(index, open(idx, "w"))
    raises(lambda: st.load(folder), "ghost", names[0])
    open(idx, "w").write("{not json")
    raises(lambda: st.load(folder), st.INDEX_NAME, "JSON")


def write_raw(name, header, data=b"", header_len=None):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw) if header_len is None else header_len) + raw + data)
    return path


def test_safetensors_corrupt():
    good = os.path.join(TMP, "good.safetensors")
    st.save_file({"x": torch.ones(4), "y": torch.zeros(2, 2)}, good)
    blob = open(good, "rb").read()
    trunc = os.path.join(TMP, "trunc.safetensors")
    open(trunc, "wb").write(blob[:-3])
    raises(lambda: st.load_file(trunc), "trunc.safetensors", "truncated")
    open(trunc, "wb").write(blob[:5])
    raises(lambda: st.load_file(trunc), "trunc.safetensors", "truncated")
    raises(lambda: st.load_file(write_raw("big.safetensors", b"{}", header_len=10 ** 6)), "big.safetensors", "header length")
    raises(lambda: st.load_file(write_raw("json.safetensors", b"{oops")), "json.safetensors", "JSON")
    f32 = lambda shape, b, e: {"dtype": "F32", "shape": shape, "data_offsets": [b, e]}  # noqa: E731
    raises(lambda: st.load_file(write_raw("size.safetensors", {"w": f32([3], 0, 8)}, bytes(8))), "'w'", "shape [3]")
    raises(lambda: st.load_file(write_raw("ovl.safetensors", {"a": f32([2], 0, 8), "b": f32([2], 4, 12)}, bytes(12))),
           "'b'", "overlaps")
    raises(lambda: st.load_file(write_raw("gap.safetensors", {"a": f32([1], 0, 4), "b": f32([1], 8, 12)}, bytes(12))),
           "'b'", "gap")
    raises(lambda: st.load_file(write_raw("past.safetensors", {"a": f32([4], 0, 16)}, bytes(8))), "'a'", "past the end")
    raises(lambda: st.load_file(write_raw("trail.safetensors", {"a": f32([1], 0, 4)}, bytes(8))), "trailing")
    raises(lambda: st.load_file(write_raw("dt.safetensors", {"a": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 1]}}, bytes(1))),
           "'a'", "Q7")
    raises(lambda: st.load_file(os.path.join(TMP, "absent.safetensors")), "absent.safetensors", "not found")


# ---------------------------------------------------------------- fixture, weights, export
def make_fixture(arch):
    import make_fixture as mf
    out = os.path.join(TMP, f"fx-{arch}")
    rc = mf.main(["--out-dir", out, "--model", out + ".pt", "--architecture", arch, "--seed", "3"])
    assert rc == 0
    return out, out + ".pt"


def test_weights_validation(folder):
    cfg_path = os.path.join(folder, "config.json")
    config = json.load(open(cfg_path))
    model, cfg, _ = load_model(folder, "bfloat16")
    assert model.embed.weight.dtype == torch.bfloat16 and model.inv_freq.dtype == torch.float32
    tensors = st.load(folder)
    # the same weights sharded (every file under 100 KiB) export to the same logits
    shard_dir = os.path.join(TMP, "sharded-weights")
    st.save_sharded(tensors, shard_dir, 100 * 1024)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        open(os.path.join(shard_dir, name), "w").write(open(os.path.join(folder, name)).read())
    assert len([f for f in os.listdir(shard_dir) if f.endswith(".safetensors")]) > 1
    export_model(shard_dir, os.path.join(TMP, "sharded.pt"), log=QUIET)
    ids = torch.randint(0, cfg.vocab_size, (1, 7))
    with torch.no_grad():
        assert torch.equal(torch.jit.load(os.path.join(TMP, "sharded.pt"))(ids), load_model(folder)[0](ids))
    bad = os.path.join(TMP, "badweights")
    os.makedirs(bad, exist_ok=True)
    json.dump(config, open(os.path.join(bad, "config.json"), "w"))
    t2 = dict(tensors)
    del t2["layers.1.mlp.up.weight"]
    t2["layers.0.attn.q.weight"] = torch.zeros(3, 3)
    t2["extra.weight"] = torch.zeros(1)
    st.save_file(t2, os.path.join(bad, "model.safetensors"))
    raises(lambda: load_model(bad), "missing 1: layers.1.mlp.up.weight", "unexpected 1: extra.weight",
           f"layers.0.attn.q.weight (expected [{cfg.hidden_size}, {cfg.hidden_size}], got [3, 3])")
    # tie_embeddings: lm_head.weight absent (or equal) is fine; different is an error
    tied = dict(config, tie_embeddings=True)
    json.dump(tied, open(os.path.join(bad, "config.json"), "w"))
    t3 = {k: v for k, v in tensors.items() if k != "lm_head.weight"}
    st.save_file(t3, os.path.join(bad, "model.safetensors"))
    m, _, _ = load_model(bad)
    assert m.lm_head.weight is m.embed.weight
    st.save_file(tensors, os.path.join(bad, "model.safetensors"))
    raises(lambda: load_model(bad), "lm_head.weight differs")
    json.dump(dict(config, hiden_size=3), open(os.path.join(bad, "config.json"), "w"))
    raises(lambda: load_model(bad), "unknown keys: hiden_size")
    os.remove(os.path.join(bad, "model.safetensors"))
    json.dump(config, open(os.path.join(bad, "config.json"), "w"))
    raises(lambda: load_model(bad), "neither model.safetensors")


def test_metadata_validation():
    cfg = ModelConfig(vocab_size=100, hidden_size=8, num_layers=1, num_heads=2, intermediate_size=8)
    base = {"architecture": "llada", "mask_id": 99, "eos_id": 98, "end_ids": [98, 97]}
    md = build_metadata(base, cfg, "float32", "manual", "m")
    assert md["endIds"] == [98, 97] and md["padId"] == 98 and md["logitsShifted"] is False and md["maxLength"] == 4096
    raises(lambda: build_metadata(dict(base, end_ids=[97]), cfg, "float32", "manual", "m"), "endIds", "eosId 98")
    raises(lambda: build_metadata(dict(base, end_ids=[98, 99]), cfg, "float32", "manual", "m"), "endIds", "maskId")
    raises(lambda: build_metadata(dict(base, mask_id=100), cfg, "float32", "manual", "m"), "maskId", "[0, 100)")
    raises(lambda: build_metadata(dict(base, architecture="gpt"), cfg, "float32", "manual", "m"), "architecture")
    raises(lambda: build_metadata(dict(base, end_ids=[98] + list(range(8))), cfg, "float32", "manual", "m"), "endIds", "1 to 8")
    raises(lambda: build_metadata(dict(base, eos_id=True), cfg, "float32", "manual", "m"), "eosId")
    raises(lambda: build_metadata(dict(base, add_bos=True), cfg, "float32", "manual", "m"), "addBos")
    raises(lambda: build_metadata({"architecture": "llada", "eos_id": 1}, cfg, "float32", "manual", "m"), "mask_id")
    tc = {"chat_template": "{{x}}", "bos_token": {"content": "<s>"}, "add_bos_token": True}
    md = build_metadata(base, cfg, "float32", "manual", "m", tc, {"added_tokens": [{"id": 5, "content": "<s>"}]})
    assert md["chatTemplate"] == "{{x}}" and md["bosToken"] == "<s>" and md["addBos"] is True
    test_metadata_v2()


def test_adaptive_metadata():
    # AdaBlock's delimiterIds: the tokenizer's newline unless config.json gives them; delimiterThreshold as given.
    cfg = ModelConfig(vocab_size=100, hidden_size=8, num_layers=1, num_heads=2, intermediate_size=8)
    base = {"architecture": "llada", "mask_id": 99, "eos_id": 98}
    byte_level = {"model": {"type": "BPE", "vocab": {"a": 3, "\u010a": 7}}, "pre_tokenizer": {"type": "ByteLevel"}}
    assert newline_token_ids(byte_level) == [7]
    assert newline_token_ids({"model": {"type": "BPE", "vocab": {"<0x0A>": 12}}}) == [12]
    assert newline_token_ids({"model": {"vocab": {}}, "added_tokens": [{"id": 5, "content": "\n"}]}) == [5]
    assert newline_token_ids({"model": {"type": "BPE", "vocab": {"\u010a": 7}}}) == []  # not byte-level: "Ċ" is a letter
    assert newline_token_ids(None) == []
    md = build_metadata(base, cfg, "float32", "manual", "m", None, byte_level)
    assert md["delimiterIds"] == [7] and "delimiterThreshold" not in md, md
    assert "delimiterIds" not in build_metadata(base, cfg, "float32", "manual", "m")
    md = build_metadata(dict(base, delimiter_ids=[3, 4], delimiter_threshold=0.5), cfg, "float32", "manual", "m", None, byte_level)
    assert md["delimiterIds"] == [3, 4] and md["delimiterThreshold"] == 0.5
    for bad, needle in (([99], "maskId"), ([100], "[0, 100)"), ([], "1 to 8"), (list(range(9)), "1 to 8"), ([1.0], "integer")):
        raises(lambda: build_metadata(dict(base, delimiter_ids=bad), cfg, "float32", "manual", "m"), "delimiterIds", needle)
    raises(lambda: build_metadata(dict(base, delimiter_threshold=1.5), cfg, "float32", "manual", "m"), "delimiterThreshold")
    raises(lambda: validate_metadata(dict(md, delimiterThreshold="0.3")), "delimiterThreshold")


def test_adaptive_reference(archive):
    # The reference's adaptive blocks (docs/decoding.md "Adaptive blocks").
    model = ReferenceModel(archive)
    assert model.meta["delimiterIds"] == [10], model.meta.get("delimiterIds")  # the fixture tokenizer's newline
    rng = np.random.default_rng(2)
    prompts = [rng.integers(0, 256, size=n).tolist() for n in (3, 9)]
    configs = [dict(strategy="low-confidence", steps=8), dict(strategy="random", steps=32), dict(strategy="threshold"),
               dict(strategy="localleap", temperature=0.7), dict(strategy="threshold", stop_at_eos=True, threshold=0.7)]
    fired = 0
    for kw in configs:
        fixed = decode(model, prompts, 32, 16, seeds=[4, 5], **kw)
        # The mask id is never a chosen token: with it as the only delimiter every block has the
        # default length, and the decode is the fixed-block one (steps per block: 8 * 16 / 32 = 4).
        never = decode(model, prompts, 32, 16, seeds=[4, 5], adaptive_block={"window": 8, "delimiter_threshold": 0.0,
                                                                             "delimiter_ids": [model.mask_id]}, **kw)
        for a, b in zip(fixed["rows"], never["rows"]):
            blocks = len(b["blockLengths"])
            assert b["blockLengths"] == [16] * blocks and a["tokens"] == b["tokens"] and a["steps"] == b["steps"], (kw, a, b)
            assert a["stepsPerBlock"][:blocks] == b["stepsPerBlock"] and not any(a["stepsPerBlock"][blocks:]), (kw, a, b)
        # A delimiter the fixture predicts ends blocks early.
        common = np.bincount(np.array([t for r in fixed["rows"] for t in r["tokens"]]), minlength=model.vocab)
        ids = [int(i) for i in np.argsort(-common)[:2]]
        kw = dict(kw, steps=min(kw["steps"], 30)) if "steps" in kw else kw  # genLength 30: not a multiple of 16
        out = decode(model, prompts, 30, 16, seeds=[4, 5], adaptive_block={"window": 10, "delimiter_threshold": 0.0,
                                                                           "delimiter_ids": ids}, **kw)
        for row in out["rows"]:
            lens = row["blockLengths"]
            assert len(lens) == len(row["stepsPerBlock"]) and sum(row["stepsPerBlock"]) == row["steps"], row
            assert all(1 <= n <= 16 for n in lens) and sum(lens) <= 30, row
            if not kw.get("stop_at_eos"):
                assert sum(lens) == 30 and model.mask_id not in row["tokens"], row
            if kw["strategy"] in ("low-confidence", "random") and not kw.get("stop_at_eos"):
                assert row["stepsPerBlock"] == [adaptive_steps_per_block(n, kw["steps"], 30) for n in lens], row
            fired += sum(1 for n in lens[:-1] if n < 16)
    assert fired > 0, "a predicted delimiter should end some block early"
    assert adaptive_steps_per_block(5, 8, 32) == 1 and adaptive_steps_per_block(16, 32, 32) == 16
    assert adaptive_steps_per_block(3, 64, 64) == 3 and adaptive_steps_per_block(40, 64, 32) == 40
    # the CLI: adaptiveBlock true takes window G / 4 and the default threshold 0.3
    case = {"model": archive, "prompts": prompts, "genLength": 40, "blockLength": 16, "strategy": "threshold",
            "seed": 5, "adaptiveBlock": True}
    r = subprocess.run([sys.executable, os.path.join(HERE, "reference_decode.py")], input=json.dumps([case]),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    want = decode(model, prompts, 40, 16, "threshold", seeds=[5, 5], adaptive_block={"window": 10, "delimiter_threshold": 0.3})
    assert json.loads(r.stdout)[0] == want
    adaptive = {"window": 4, "delimiter_threshold": 0.3}
    raises(lambda: decode(model, prompts, 40, 16, adaptive_block={"window": 0, "delimiter_threshold": 0.3}), "window")
    raises(lambda: decode(model, prompts, 40, 16, adaptive_block={"window": 4, "delimiter_threshold": 1.5}), "threshold")
    raises(lambda: decode(model, prompts, 40, 16, cache="dual", adaptive_block=adaptive), "one prompt")
    raises(lambda: decode(model, prompts, 40, 16, "low-confidence", steps=41, adaptive_block=adaptive), "steps")
    saved = model.meta.pop("delimiterIds")
    try:
        raises(lambda: decode(model, prompts, 40, 16, adaptive_block=adaptive), "delimiterIds", "re-export")
    finally:
        model.meta["delimiterIds"] = saved


def test_metadata_v2():
    # format 2: kvCache from the config (GQA: kvHeads is num_kv_heads, not num_heads)
    cfg = ModelConfig(vocab_size=100, hidden_size=48, num_layers=3, num_heads=6, num_kv_heads=2, intermediate_size=8)
    base = {"architecture": "dream", "mask_id": 99, "eos_id": 98}
    md = build_metadata(base, cfg, "bfloat16", "manual", "m")
    assert md["formatVersion"] == 2 and md["kvCache"] == {"layers": 3, "kvHeads": 2, "headDim": 8}, md
    with_kv = lambda **kv: dict(md, kvCache=dict(md["kvCache"], **kv))  # noqa: E731
    raises(lambda: validate_metadata({k: v for k, v in md.items() if k != "kvCache"}), "kvCache", "layers, kvHeads")
    raises(lambda: validate_metadata(with_kv(layers=4)), "kvCache.layers", "is 4 but config gives 3")
    raises(lambda: validate_metadata(with_kv(kvHeads=6)), "kvCache.kvHeads", "config gives 2")
    raises(lambda: validate_metadata(with_kv(headDim=8.0)), "kvCache.headDim", "positive integer")
    raises(lambda: validate_metadata(with_kv(layers=0)), "kvCache.layers", "positive integer")
    raises(lambda: validate_metadata(with_kv(extra=1)), "kvCache", "exactly")
    raises(lambda: validate_metadata(dict(md, config={"num_layers": 3})), "metadata config")
    raises(lambda: validate_metadata(dict(md, formatVersion=3)), "formatVersion", "got 3")
    raises(lambda: validate_metadata(dict(md, formatVersion="2")), "formatVersion")
    raises(lambda: validate_metadata(dict(md, format="other")), "format")
    # format 1 (before the KV cache): no kvCache, still valid for reading old archives
    v1 = {k: v for k, v in md.items() if k != "kvCache"}
    v1["formatVersion"] = 1
    validate_metadata(v1)
    raises(lambda: validate_metadata(dict(v1, kvCache={"layers": 9, "kvHeads": 2, "headDim": 8})), "kvCache.layers")


def test_export_reload(folder, archive):
    extra = {"localleap.json": "", "tokenizer.json": "", "tokenizer_config.json": ""}
    m = torch.jit.load(archive, _extra_files=extra)
    md = json.loads(extra["localleap.json"])
    config = json.load(open(os.path.join(folder, "config.json")))
    for k in ("format", "formatVersion", "name", "architecture", "vocabSize", "maskId", "eosId", "endIds", "padId",
              "logitsShifted", "maxLength", "dtype", "attention", "config", "kvCache", "chatTemplate", "addBos",
              "bosToken", "exporter"):
        assert k in md, k
    assert md["formatVersion"] == 2
    assert md["maskId"] == config["mask_id"] and md["endIds"] == config["end_ids"] and md["bosToken"] == "<|startoftext|>"
    assert json.loads(extra["tokenizer.json"])["model"]["type"] == "BPE" and "chat_template" in json.loads(extra["tokenizer_config.json"])
    eager, _, _ = load_model(folder)
    ids = torch.randint(0, md["vocabSize"], (2, 9))
    pos = torch.tensor([2, 5, 8])
    with torch.no_grad():
        assert torch.equal(m(ids), eager(ids))
        assert torch.allclose(m.logits_at(ids, pos), eager(ids)[:, pos], atol=1e-5)
        padded = torch.cat([torch.zeros(2, 3, dtype=torch.int64), ids], 1)
        assert torch.allclose(m.logits_at_padded(padded, pos + 3, torch.tensor([3, 3])), eager(ids)[:, pos], atol=1e-5)
    # bfloat16 export, and the CLI's one-line errors
    md16 = export_model(folder, os.path.join(TMP, "bf16.pt"), "bfloat16", log=QUIET)
    assert md16["dtype"] == "bfloat16"
    r = subprocess.run([sys.executable, os.path.join(HERE, "export.py"), "--weights", os.path.join(TMP, "nowhere"),
                        "--out", os.path.join(TMP, "x.pt")], capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr, r.stderr


class Defective:
    """A scripted model with one defect in its cache methods, for parity_check."""

    def __init__(self, scripted, defect):
        self.m, self.defect = scripted, defect

    def __call__(self, ids):
        return self.m(ids)

    def __getattr__(self, name):
        return getattr(self.m, name)

    def cache_full(self, ids, positions, left_pad, kv):
        if self.defect == "no-store":  # the cache stays zero
            return self.m.cache_full(ids, positions, left_pad, torch.zeros_like(kv))
        z = self.m.cache_full(ids, positions, left_pad, kv)
        return z + 1e-6 * z.abs().max() if self.defect == "low-bits" else z

    def cache_step(self, ids, window, positions, left_pad, kv):
        if self.defect == "last-position":  # the logits of the window's last positions, not `positions`
            positions = positions + (len(window) - len(positions))
        return self.m.cache_step(ids, window, positions, left_pad, kv)


def test_parity_cache(folder):
    eager, cfg, _ = load_model(folder)
    scripted = torch.jit.script(eager)
    check = lambda m: parity_check(eager, m, cfg.vocab_size, cfg.max_length, "float32", "cpu", 2, QUIET)  # noqa: E731
    assert check(Defective(scripted, None)) < 1e-4
    raises(lambda: check(Defective(scripted, "low-bits")), "cache_full", "bit for bit")
    raises(lambda: check(Defective(scripted, "no-store")), "cache_step", "bound")
    raises(lambda: check(Defective(scripted, "last-position")), "cache_step prefix", "bound")


# ---------------------------------------------------------------- the rule on hand-built confidences
def rule(strategy, conf, masked=None, k=1, thr=0.9, kappa=0.9, tau=0.75, radius=2):
    conf = np.asarray(conf, dtype=np.float32)
    masked = np.ones(len(conf), bool) if masked is None else np.asarray(masked, bool)
    keys = cr.order_keys(strategy, conf, 0, 0, np.arange(len(conf)))
    return cr.commit_mask(strategy, masked, conf, keys, k, thr, kappa, tau, radius).astype(int).tolist()


def test_rule():
    # threshold: the top one always, others at >= theta (compared in float32)
    assert rule("threshold", [0.1, 0.5, 0.3, 0.2]) == [0, 1, 0, 0]  # all below: exactly one
    assert rule("threshold", [0.95, 0.91, 0.99, 0.9]) == [1, 1, 1, 1]  # all above (0.9 >= 0.9)
    below = np.nextafter(np.float32(0.9), np.float32(0))
    assert rule("threshold", [0.5, below, 0.95]) == [0, 0, 1]
    # ties go to the lower position
    assert rule("threshold", [0.4, 0.6, 0.6, 0.6]) == [0, 1, 0, 0]
    assert rule("low-confidence", [0.6, 0.6, 0.6, 0.6], k=2) == [1, 1, 0, 0]
    assert rule("low-confidence", [0.2, 0.99, 0.5, 0.98], k=2) == [0, 1, 0, 1]  # no threshold for k-rules
    # unmasked positions are neither committed nor anchors nor competitors
    assert rule("threshold", [0.99, 0.3, 0.2], masked=[0, 1, 1]) == [0, 1, 0]
    assert rule("localleap", [0.99, 0.8, 0.2, 0.2], masked=[0, 1, 1, 1]) == [0, 1, 0, 0]
    # localleap, radius 2: anchor at 3 relaxes 1..5; 0 and 6.. need kappa
    c = [0.8, 0.8, 0.1, 0.95, 0.1, 0.76, 0.8, 0.91]
    assert rule("localleap", c) == [0, 1, 0, 1, 0, 1, 1, 1]  # 6 is near anchor 7, 7 is an anchor
    c = [0.8, 0.8, 0.1, 0.95, 0.1, 0.76, 0.8, 0.5]
    assert rule("localleap", c) == [0, 1, 0, 1, 0, 1, 0, 0]
    # neighbourhood edges at block boundaries: anchor at offset 0 / last offset
    assert rule("localleap", [0.9, 0.8, 0.8, 0.8, 0.8]) == [1, 1, 1, 0, 0]
    assert rule("localleap", [0.8, 0.8, 0.8, 0.8, 0.9]) == [0, 0, 1, 1, 1]
    # no anchor: exactly the most confident one, even when others pass tau
    assert rule("localleap", [0.8, 0.85, 0.89, 0.8]) == [0, 0, 1, 0]
    assert rule("localleap", [0.3, 0.3, 0.3]) == [1, 0, 0]
    # random: k positions by the hash key, none when nothing is masked
    assert sum(rule("random", [0.1] * 8, k=3)) == 3
    assert rule("random", [0.9] * 4, masked=[0, 0, 0, 0], k=2) == [0, 0, 0, 0]
    # ranks by brute force over permutations of distinct keys
    keys = np.array([5, 1, 5, 9, 0], dtype=np.uint64)
    assert cr.ranks(np.ones(5, bool), keys).tolist() == [1, 3, 2, 0, 4]
    # steps schedule
    assert cr.schedule(32, 5) == [7, 7, 6, 6, 6] and cr.schedule(32, 32) == [1] * 32 and cr.schedule(32, 1) == [32]
    assert cr.check_steps(64, 32, 10) == 5
    raises(lambda: cr.check_steps(64, 32, 7), "multiple of")
    raises(lambda: cr.check_steps(64, 32, 66), "multiple of")
    # choose: greedy lowest index on ties, NaN as -inf, confidence rounded to float32
    z = np.array([[1.0, 3.0, 3.0, np.nan]], dtype=np.float32)
    t, c = cr.choose(z, 0.0, 0, 0, np.array([0]), -1)
    e = np.exp(np.array([1.0, 3.0, 3.0]) - 3.0)
    assert t.tolist() == [1] and c.dtype == np.float32 and c[0] == np.float32(1.0 / e.sum())


# ---------------------------------------------------------------- hash RNG
MASK64 = (1 << 64) - 1


def mix_int(z):
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def test_hash_rng():
    assert int(hash_rng.mix(0)) == 0xE220A8397B1DCDAF  # splitmix64's published first output for seed 0
    assert int(hash_rng.mix(0x9E3779B97F4A7C15)) == 0x6E789E6AA1B965F4  # and its second
    known = {(0, 0, 0): (0x238275BC38FCBE91, 0xF819E361718600B7),
             (1, 2, 3): (0x6AE515C1C0AC7E37, 0xF0B30A3A36FECF08),
             (2 ** 53 - 1, 31, 255): (0x72C51554B53F4453, 0x9CEE246ABF645159)}
    for (s, r, g), (p_want, key_want) in known.items():
        p = hash_rng.position_hash(s, r, np.array([g]))[0]
        assert int(p) == p_want and int(hash_rng.random_key(p)) == key_want
    assert abs(hash_rng.gumbel_uniform(np.uint64(0x238275BC38FCBE91), 4)[1] - 0.0009704232215881348) < 1e-12
    rng = np.random.default_rng(0)
    for _ in range(50):
        s, r = int(rng.integers(0, 2 ** 53)), int(rng.integers(0, 1000))
        gs = rng.integers(0, 4096, size=4)
        ps = hash_rng.position_hash(s, r, gs)
        for g, p in zip(gs.tolist(), ps.tolist()):
            p_int = mix_int((mix_int((mix_int(s) + r) & MASK64) + g) & MASK64)
            assert p == p_int
            assert int(hash_rng.random_key(np.uint64(p))) == mix_int(p_int ^ 0x52414E444F4D4B59)
            u = hash_rng.gumbel_uniform(np.uint64(p), 7)
            for v in range(7):
                h = mix_int((mix_int(p_int ^ 0x47554D42454C2121) + v) & MASK64)
                assert u[v] == np.float32(((h >> 41) + 0.5) / 2 ** 23) and 0 < u[v] < 1


# ---------------------------------------------------------------- reference decoder
def test_reference_decoder(archive, shifted):
    model = ReferenceModel(archive)
    assert model.shifted == shifted
    rng = np.random.default_rng(1)
    prompts = [rng.integers(0, 256, size=n).tolist() for n in (1, 5, 13)]
    configs = [dict(strategy="low-confidence", steps=8), dict(strategy="random", steps=32),
               dict(strategy="threshold"), dict(strategy="localleap", radius=4),
               dict(strategy="localleap", temperature=0.7), dict(strategy="low-confidence", steps=16, temperature=1.3),
               dict(strategy="threshold", stop_at_eos=True, threshold=0.7)]
    parallel = False
    for kw in configs:
        seeds = [11, 12, 13]
        batch = decode(model, prompts, 32, 16, seeds=seeds, **kw)
        for b, p in enumerate(prompts):
            alone = decode(model, [p], 32, 16, seeds=[seeds[b]], **kw)["rows"][0]
            assert batch["rows"][b] == alone, (kw, b, batch["rows"][b], alone)
        for row in batch["rows"]:
            assert len(row["tokens"]) == 32 and sum(row["stepsPerBlock"]) == row["steps"]
            assert model.mask_id not in row["tokens"]
            if kw["strategy"] in ("low-confidence", "random") and not kw.get("stop_at_eos"):
                assert row["stepsPerBlock"] == [kw["steps"] // 2] * 2
            parallel |= row["steps"] < 32
        assert batch["batchSteps"] >= max(r["steps"] for r in batch["rows"])
    assert parallel, "the fixture should let threshold/localleap commit several tokens per step"
    # the CLI: same result as the library call
    case = {"model": archive, "prompts": prompts, "genLength": 64, "blockLength": 16, "strategy": "localleap", "seed": 5}
    r = subprocess.run([sys.executable, os.path.join(HERE, "reference_decode.py")], input=json.dumps([case]),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0] == decode(model, prompts, 64, 16, "localleap", seeds=[5, 5, 5])
    raises(lambda: decode(model, prompts, 60, 16), "multiple of blockLength")
    raises(lambda: decode(model, [[]], 64, 16), "at least one token")
    raises(lambda: decode(model, [[1, model.mask_id]], 64, 16), "mask id")
    raises(lambda: decode(model, [[1]], 64, 16, "threshold", threshold=1.5), "threshold")
    raises(lambda: decode(model, [[1]] * 2, 64, 16, seeds=[1]), "seeds")


def test_stop_at_eos(archive):
    model = ReferenceModel(archive)
    rng = np.random.default_rng(2)
    stopped = 0
    for _ in range(8):
        p = rng.integers(0, 256, size=int(rng.integers(1, 10))).tolist()
        full = decode(model, [p], 64, 16, "threshold")["rows"][0]
        early = decode(model, [p], 64, 16, "threshold", stop_at_eos=True)["rows"][0]
        first_end = [i for i, t in enumerate(full["tokens"]) if t in model.end_ids]
        if not first_end:
            assert early == full
            continue
        blk = first_end[0] // 16
        stopped += blk < 3
        assert early["tokens"][:16 * (blk + 1)] == full["tokens"][:16 * (blk + 1)]
        assert set(early["tokens"][16 * (blk + 1):]) <= {model.eos_id}
        assert early["stepsPerBlock"] == full["stepsPerBlock"][:blk + 1] + [0] * (3 - blk)
        assert early["finishReason"] == "eos"
    print(f"  stopAtEos ended {stopped} of 8 generations early")
    return stopped


# ---------------------------------------------------------------- KV cache (format 2)
V1_ARCHIVE = os.path.join(HERE, "..", "test", "fixtures", "torch1.13", "llada.pt")


def scripted_model(seed, **sizes):
    """An in-memory float32 archive (manual attention) with random weights."""
    cfg = ModelConfig(**dict(dict(vocab_size=300, hidden_size=64, num_layers=2, num_heads=4, intermediate_size=96), **sizes))
    torch.manual_seed(seed)
    m = build_model(cfg, use_sdpa=False).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)
    return torch.jit.script(m), cfg


def cache_cases(archive_paths):
    """(name, scripted module, ModelConfig): the fixture archives (LLaDA-like; Dream-like with GQA
    and qkv bias) and two in-memory ones (tied embeddings with one kv head; GQA + bias, 3 layers)."""
    out = []
    for path in archive_paths:
        ref = ReferenceModel(path)
        out.append((os.path.basename(path), ref.module, ModelConfig.from_dict(ref.meta["config"])))
    out.append(("tied, 1 kv head", *scripted_model(5, num_kv_heads=1, tie_embeddings=True, rope_theta=500.0)))
    out.append(("gqa+bias, 3 layers", *scripted_model(6, num_layers=3, num_heads=8, num_kv_heads=2, qkv_bias=True)))
    return out


def canvas_for(cfg, padded, seed):
    """A 3-row canvas (prompt 7, two blocks of 8) with the left pads of a batch, or none."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg.vocab_size, (3, 23), generator=g)
    left = torch.tensor([0, 3, 6]) if padded else None
    if padded:
        for b, n in enumerate(left.tolist()):
            ids[b, :n] = 0
    return ids, left


def full_logits(module, ids, positions, left):
    return module.logits_at(ids, positions) if left is None else module.logits_at_padded(ids, positions, left)


def test_cache_full_exact(cases):
    """(a) cache_full gives logits_at(_padded)'s logits bit for bit and writes every position."""
    for name, module, cfg in cases:
        for padded in (False, True):
            ids, left = canvas_for(cfg, padded, 1)
            positions = torch.arange(7, 15)
            for _ in range(3):  # the profiling executor optimises from the second call on
                kv = torch.zeros(kv_cache_shape(cfg, 3, ids.shape[1]))
                with torch.no_grad():
                    got = module.cache_full(ids, positions, left, kv)
                    want = full_logits(module, ids, positions, left)
                assert torch.equal(got, want), (name, padded, float((got - want).abs().max()))
                assert bool((kv.abs().sum(-1) > 0).all()), (name, "a position's keys/values were not written")


def test_plain_window_exact(cases):
    """(b) the reference's plain transformer equals the archive bit for bit on float32: its full pass
    (logits and stored keys/values) and its window pass vs cache_step, for dual and prefix windows,
    unshifted and shifted, unpadded and padded, on a canvas changed since the full step."""
    n = 0
    for name, module, cfg in cases:
        plain = PlainTransformer(module.state_dict(), cfg.to_dict(), "manual")
        for padded in (False, True):
            ids, left = canvas_for(cfg, padded, 2)
            L = ids.shape[1]
            for shift in (0, 1):
                lo, hi = 15, 23  # the second block: the first one has been committed
                positions = torch.arange(lo, hi) - shift
                kv = torch.zeros(kv_cache_shape(cfg, 3, L))
                with torch.no_grad():
                    want = module.cache_full(ids, positions, left, kv)
                got, stored = plain.full(ids, positions, left)
                assert torch.equal(got, want), (name, "full pass", float((got - want).abs().max()))
                for i, (k, v) in enumerate(stored):
                    assert torch.equal(k, kv[i, 0]) and torch.equal(v, kv[i, 1]), (name, "stored K/V", i)
                ids2 = ids.clone()
                ids2[:, lo:lo + 3] = torch.randint(0, cfg.vocab_size - 3, (3, 3))  # tokens committed since
                for cache in ("dual", "prefix"):
                    window, wpos = (torch.from_numpy(a) for a in cache_window(cache, lo, hi, L, shift))
                    kv_step = kv.clone()
                    for _ in range(2):  # the second step reads the cache the first one wrote into
                        with torch.no_grad():
                            want = module.cache_step(ids2, window, wpos, left, kv_step)
                        got = plain.window(ids2, window, wpos, left, stored)
                        assert torch.equal(got, want), (name, cache, shift, padded, float((got - want).abs().max()))
                        n += 1
                    fresh = full_logits(module, ids2, positions, left)
                    assert not torch.allclose(got, fresh, atol=1e-4), (name, cache, "the window step saw no stale keys")
    print(f"  {n} window passes identical to cache_step")


class Recording:
    """A ReferenceModel whose forward calls are logged: ("full", first position) for logits_at,
    ("store",) for the stored keys/values, ("window", first, last + 1) for a cached step."""

    def __init__(self, model):
        self.m, self.calls = model, []

    def __getattr__(self, name):
        return getattr(self.m, name)

    def logits(self, canvas, positions, left_pad):
        self.calls.append(("full", int(positions[0])))
        return self.m.logits(canvas, positions, left_pad)

    def cache_full(self, canvas, left_pad):
        self.calls.append(("store",))
        return self.m.cache_full(canvas, left_pad)

    def cache_window(self, canvas, window, positions, left_pad, kv):
        assert positions.tolist() == list(range(len(positions)))
        self.calls.append(("window", int(window[0]), int(window[-1]) + 1))
        return self.m.cache_window(canvas, window, positions, left_pad, kv)


def test_cached_decode(archive):
    """(c) cached decodes: each block's first step is a full step and its later ones the windows
    of the spec; the results differ from cache "none" (the stale keys/values are used) except
    with one step per block, where every step is a full one."""
    model = ReferenceModel(archive)
    s = 1 if model.shifted else 0
    rng = np.random.default_rng(3)
    prompts = [rng.integers(0, 256, size=n).tolist() for n in (1, 5, 13)]
    P, G, blk = 13, 48, 16
    differs = {"prefix": 0, "dual": 0}
    for kw in (dict(strategy="low-confidence", steps=12), dict(strategy="threshold", threshold=0.7),
               dict(strategy="localleap"), dict(strategy="random", steps=24, temperature=0.8),
               dict(strategy="threshold", stop_at_eos=True, threshold=0.6)):
        none = decode(model, prompts, G, blk, seeds=[1, 2, 3], **kw)
        for cache in ("prefix", "dual"):
            rec = Recording(model)
            got = decode(rec, prompts, G, blk, seeds=[1, 2, 3], cache=cache, **kw)
            want_calls = []
            for b in range(G // blk):
                lo, hi = P + b * blk, P + (b + 1) * blk
                steps = max(r["stepsPerBlock"][b] for r in got["rows"])
                end = hi if cache == "dual" else P + G
                want_calls += [("full", lo - s), ("store",)] * (steps > 0) + [("window", lo - s, end)] * (steps - 1)
            assert rec.calls == want_calls, (kw, cache, rec.calls)
            assert got["batchSteps"] == sum(c[0] != "store" for c in rec.calls)
            for row in got["rows"]:
                assert model.mask_id not in row["tokens"] and sum(row["stepsPerBlock"]) == row["steps"]
            differs[cache] += got["rows"] != none["rows"]
        for b, p in enumerate(prompts[:2]):  # a batch's row decodes as alone, cached too
            alone = decode(model, [p], G, blk, seeds=[b + 1], cache="dual", **kw)["rows"][0]
            assert alone == decode(model, prompts, G, blk, seeds=[1, 2, 3], cache="dual", **kw)["rows"][b], (kw, b)
    assert differs["prefix"] > 0 and differs["dual"] > 0, differs
    for cache in ("prefix", "dual"):  # one step per block: nothing is ever read from the cache
        for kw in (dict(strategy="low-confidence", steps=G // blk), dict(strategy="random", steps=G // blk)):
            assert decode(model, prompts, G, blk, cache=cache, **kw) == decode(model, prompts, G, blk, **kw), (cache, kw)
    print(f"  cached decodes that differ from cache none: {differs} of 5 each")


def test_format1_archive(archive_v2):
    """(d) a format 1 archive decodes with cache none and refuses prefix/dual with a hint."""
    model = ReferenceModel(V1_ARCHIVE)
    assert model.version == 1 and not hasattr(model.module, "cache_full")
    out = decode(model, [[5, 6, 7], [9]], 32, 16, "threshold")
    assert all(len(r["tokens"]) == 32 and model.mask_id not in r["tokens"] for r in out["rows"])
    for cache in ("prefix", "dual"):
        raises(lambda: decode(model, [[5]], 32, 16, cache=cache), "format 1", "re-export with tools/export.py")
    raises(lambda: decode(ReferenceModel(archive_v2), [[5]], 32, 16, cache="full"), "cache must be one of")
    # the CLI: key "cache"; the same result as the library call; a one-line error for format 1
    case = {"model": archive_v2, "prompts": [[5, 6], [7]], "genLength": 32, "blockLength": 16,
            "strategy": "threshold", "cache": "dual"}
    r = subprocess.run([sys.executable, os.path.join(HERE, "reference_decode.py")], input=json.dumps([case]),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0] == decode(ReferenceModel(archive_v2), [[5, 6], [7]], 32, 16, "threshold", cache="dual")
    r = subprocess.run([sys.executable, os.path.join(HERE, "reference_decode.py")],
                       input=json.dumps([dict(case, model=V1_ARCHIVE)]), capture_output=True, text=True)
    assert r.returncode == 1 and "re-export with tools/export.py" in r.stderr and "Traceback" not in r.stderr, r.stderr


def main():
    torch.manual_seed(0)
    tests = [test_safetensors_roundtrip, test_safetensors_foreign_file, test_safetensors_sharded,
             test_safetensors_corrupt, test_metadata_validation, test_adaptive_metadata, test_rule, test_hash_rng]
    for t in tests:
        t()
        print(f"ok {t.__name__} ({time.time() - T0:.0f} s)")
    llada, llada_pt = make_fixture("llada")
    dream, dream_pt = make_fixture("dream")
    test_weights_validation(llada)
    print(f"ok test_weights_validation ({time.time() - T0:.0f} s)")
    test_export_reload(llada, llada_pt)
    test_export_reload(dream, dream_pt)
    test_parity_cache(dream)
    print(f"ok test_export_reload ({time.time() - T0:.0f} s)")
    test_reference_decoder(llada_pt, False)
    test_reference_decoder(dream_pt, True)
    print(f"ok test_reference_decoder, batch == single ({time.time() - T0:.0f} s)")
    test_adaptive_reference(llada_pt)
    test_adaptive_reference(dream_pt)
    print(f"ok test_adaptive_reference ({time.time() - T0:.0f} s)")
    assert test_stop_at_eos(llada_pt) + test_stop_at_eos(dream_pt) > 0, "no generation ended early"
    print(f"ok test_stop_at_eos ({time.time() - T0:.0f} s)")
    cases = cache_cases([llada_pt, dream_pt])
    test_cache_full_exact(cases)
    print(f"ok test_cache_full_exact ({time.time() - T0:.0f} s)")
    test_plain_window_exact(cases)
    print(f"ok test_plain_window_exact ({time.time() - T0:.0f} s)")
    test_cached_decode(llada_pt)
    test_cached_decode(dream_pt)
    print(f"ok test_cached_decode ({time.time() - T0:.0f} s)")
    test_format1_archive(llada_pt)
    print(f"ok test_format1_archive ({time.time() - T0:.0f} s)")
    shutil.rmtree(TMP, ignore_errors=True)
    print("all passed")


if __name__ == "__main__":
    main()
