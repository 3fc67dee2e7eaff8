#!/usr/bin/env python3
"""Self-check of the learned-filter tools (docs/decoding.md "Learned filter"): validation of
learned_filter.json, the float32 filter arithmetic, tools/add_filter.py, the exporter's embedding,
the reference decoder's strategy "learned" and tools/train_filter.py end to end on the small
random-weight fixture. /usr/bin/python3 tools/test_learned_filter.py (plain asserts)."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from check_raises import raises  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from add_filter import add_filter  # noqa: E402
from localleap import learned_filter as lf  # noqa: E402
from localleap.exporter import export_model  # noqa: E402
from localleap.reference_decoder import ReferenceModel, decode  # noqa: E402

TMP = tempfile.mkdtemp(prefix="localleap-filter-test-")
FIXTURE = os.path.join(ROOT, "test", "fixtures", "generated", "llada")
PROV = {"model": "m", "date": "d", "genLength": 16, "problems": {"source": "s", "split": "train", "count": 0, "ids": []}}



def small(**over):
    obj = json.loads(lf.to_json(np.eye(3, 4) * 10, np.zeros(3), np.eye(4, 3), np.full(4, -5.0), 0.9, PROV))
    obj.update(over)
    return obj


def test_validation():
    lf.validate(small())
    raises(lambda: lf.validate(dict(small(), extra=1)), "unknown keys extra")
    o = small()
    del o["b2"]
    raises(lambda: lf.validate(o), "lacks b2")
    raises(lambda: lf.validate(small(format=2)), "format must be 1")
    raises(lambda: lf.validate(small(hidden=4)), "w1 must be a list of 4 rows")
    raises(lambda: lf.validate(small(b1=[0.1, 0, 0])), "float32")
    raises(lambda: lf.validate(small(b1=[float("nan"), 0, 0])), "float32")
    raises(lambda: lf.validate(small(blockLength=2000)), "blockLength")
    raises(lambda: lf.validate(small(acceptThreshold=1.5)), "acceptThreshold")
    raises(lambda: lf.validate(small(provenance={"model": "m"})), "provenance")
    raises(lambda: lf.parse("{oops"), "not JSON")
    # to_json round-trips float32 weights exactly
    w = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    back = lf.parse(lf.to_json(w, np.zeros(3), np.zeros((4, 3)), np.zeros(4), 0.5, PROV))
    assert np.array_equal(back.w1, w)


def test_arithmetic():
    f = lf.LearnedFilter(small())
    # x = conf where masked, else 1.0; a block of 3 under a filter of 4: x_3 = 1.0
    x = f.inputs(np.array([0.2, 0.7, 0.4], np.float32), np.array([1, 0, 1], bool))
    assert x.tolist() == [np.float32(0.2), 1.0, np.float32(0.4), 1.0]
    out = f.logits(np.array([0.2, 0.7, 0.4], np.float32), np.array([1, 0, 1], bool))
    assert out.dtype == np.float32 and len(out) == 3
    assert out.tolist() == [np.float32(np.float32(10) * np.float32(0.2)) - 5, 5.0, np.float32(np.float32(10) * np.float32(0.4)) - 5]
    # the fmaf order: bias first, then products in index order, one rounding each
    rng = np.random.default_rng(3)
    obj = json.loads(lf.to_json(rng.normal(size=(5, 6)), rng.normal(size=5), rng.normal(size=(6, 5)), rng.normal(size=6), 0.5, PROV))
    g = lf.LearnedFilter(obj)
    conf = rng.random(6).astype(np.float32)
    masked = rng.random(6) < 0.7
    xs = g.inputs(conf, masked)
    h = []
    for j in range(5):
        a = float(g.b1[j])
        for k in range(6):
            a = float(np.float32(a + float(g.w1[j, k]) * float(xs[k])))  # exact product, one rounding (float64 sum of float32s)
        h.append(max(a, 0.0))
    want = []
    for i in range(6):
        o = float(g.b2[i])
        for j in range(5):
            o = float(np.float32(o + float(g.w2[i, j]) * h[j]))
        want.append(o)
    # float64 sum then one rounding equals fmaf except at rare double-rounding ties
    assert np.allclose(g.logits(conf, masked), np.array(want, np.float32), rtol=0, atol=1e-6)
    assert lf.logit_threshold(1.0) == np.inf and lf.logit_threshold(0.0) == -np.inf
    assert lf.logit_threshold(0.5) == 0.0 and lf.logit_threshold(0.96) == np.float32(math.log(0.96 / 0.04))


def test_archive_and_decode():
    folder = os.path.join(TMP, "weights")
    shutil.copytree(FIXTURE, folder)
    text = lf.random_filter(8, 16, 1, PROV)
    with open(os.path.join(folder, "learned_filter.json"), "w") as f:
        f.write(text)
    archive = os.path.join(TMP, "model.pt")
    export_model(folder, archive, "float32", "cpu", "manual", None, 0, log=lambda m: None)
    assert lf.read_from_archive(archive) == text  # the exporter embeds the folder's filter
    model = ReferenceModel(archive)
    assert model.learned_filter.block_length == 8 and model.learned_filter.accept_threshold == 0.9
    prompts = [[5, 6, 7], [9, 10]]
    one = decode(model, prompts, 32, 8, "learned", accept_threshold=1.0)
    assert all(r["steps"] == 32 for r in one["rows"])  # t = 1: one token per step
    low = decode(model, prompts, 32, 8, "learned", accept_threshold=0.0)
    assert all(r["stepsPerBlock"] == [1, 1, 1, 1] for r in low["rows"])  # t = 0: a block per step
    mid = decode(model, prompts, 32, 8, "learned")
    assert any(r["steps"] < 32 for r in mid["rows"]), "the random filter must accept beyond the top-1"
    raises(lambda: decode(model, prompts, 32, 16, "learned"), "longer than the learned filter")
    # add_filter replaces the filter and keeps the model's records
    other = lf.random_filter(16, 4, 2, PROV)
    copy = os.path.join(TMP, "copy.pt")
    add_filter(archive, other, copy)
    assert lf.read_from_archive(copy) == other
    assert ReferenceModel(copy).learned_filter.block_length == 16
    raises(lambda: add_filter(archive, "{}", copy), "lacks")
    # an archive without a filter cannot decode with strategy learned
    plain = os.path.join(TMP, "plain.pt")
    os.remove(os.path.join(folder, "learned_filter.json"))
    export_model(folder, plain, "float32", "cpu", "manual", None, 0, log=lambda m: None)
    raises(lambda: decode(ReferenceModel(plain), prompts, 32, 8, "learned"), "no learned_filter.json")
    return plain


def test_train_filter(plain):
    prompts = os.path.join(TMP, "prompts.jsonl")
    with open(prompts, "w") as f:
        for i in range(6):
            f.write(json.dumps({"id": f"train:{i}", "ids": [5 + i, 6, 7 + 2 * i]}) + "\n")
    out = os.path.join(TMP, "trained.json")
    r = subprocess.run([sys.executable, os.path.join(HERE, "train_filter.py"), "--model", plain, "--prompts", prompts,
                        "--gen-length", "16", "--block-length", "8", "--hidden", "8", "--batch", "3", "--epochs", "3",
                        "--threads", "1", "--out", out, "--into", plain], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    trained = lf.parse(open(out).read())
    p = trained.provenance
    assert p["problems"]["ids"] == [f"train:{i}" for i in range(6)] and p["problems"]["count"] == 6
    assert p["genLength"] == 16 and p["problems"]["split"] == "train" and trained.block_length == 8
    assert ReferenceModel(plain).learned_filter.block_length == 8  # --into added it


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    test_validation()
    print("ok test_validation")
    test_arithmetic()
    print("ok test_arithmetic")
    plain = test_archive_and_decode()
    print("ok test_archive_and_decode")
    test_train_filter(plain)
    print("ok test_train_filter")
    shutil.rmtree(TMP, ignore_errors=True)
    print("learned filter tools: all passed")


if __name__ == "__main__":
    main()
