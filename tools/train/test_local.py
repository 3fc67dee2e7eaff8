"""CPU checks of the reference-model pipeline (torch 1.13 or 2.x; no `tokenizers` needed).

  /usr/bin/python3 tools/train/test_local.py

1. data: problems verified (every equation recomputed, operands local, final answer line), held-out
   seeds disjoint from training seeds, no held-out question among the training questions.
2. training: train.py --smoke with a char-level stand-in tokenizer built here, then the export
   (bf16 shards < 8 MiB, index, config.json) is read back.
3. evaluation: evaluate.py on the smoke model (every decoding config, a few problems).
4. decoder: the batched decoder against a literal one-row-at-a-time implementation of
   docs/decoding.md on a synthetic model with varied confidences and ties, every strategy, with and
   without stopAtEos; and, when tools/localleap/reference_decoder.py exists, a note on it.
Ends with 'N passed, N failed'.
"""
import json
import os
import re
import shutil
import sys
import tempfile
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import common  # noqa: E402
import problems  # noqa: E402
from decoder import DecodeConfig, Tokens, confidence_and_token, generate  # noqa: E402

RESULTS = []
__test__ = False  # a script, not a pytest module (its checks take arguments)


def check(name):
    def deco(fn):
        def run(*a, **k):
            try:
                fn(*a, **k)
                RESULTS.append((name, True))
                print(f"PASS {name}", flush=True)
            except Exception:  # noqa: BLE001
                RESULTS.append((name, False))
                print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
        return run
    return deco


class CharTokenizer:
    """Stand-in for the BPE tokenizer in tests: special tokens 0..5, then one id per character."""

    def __init__(self, texts):
        chars = sorted(set("".join(texts)) | set("0123456789 \n#"))
        self.specials = list(common.SPECIAL_TOKENS)
        self.itos = self.specials + chars
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.vocab_size = len(self.itos)
        self.re = re.compile("(" + "|".join(re.escape(s) for s in self.specials) + ")")

    def encode(self, text):
        out = []
        for part in self.re.split(text):
            if part in self.specials:
                out.append(self.stoi[part])
            else:
                out.extend(self.stoi.get(ch, self.stoi[" "]) for ch in part)
        return out

    def encode_batch(self, texts):
        return [self.encode(t) for t in texts]

    def decode(self, ids):
        return "".join(self.itos[i] for i in ids)

    def token_id(self, s):
        return self.stoi[s]


@check("problems: 20000 generated problems verify (arithmetic, operand locality, answer line)")
def test_problems():
    bad = 0
    fams = set()
    for i in range(20000):
        p = problems.problem(f"train:{i}")
        fams.add(p["family"])
        e = problems.verify(p)
        bad += bool(e)
        assert 2 <= p["n_ops"] <= 4, p
        for a, op, b, c in p["ops"]:  # products and quotients stay locally computable
            assert op in "+-" or (op == "*" and min(a, b) <= 9) or (op == "/" and b <= 9), (a, op, b, p)
            assert max(a, b, c) < 10000, p
    assert bad == 0, bad
    assert fams == set(problems.FAMILIES), fams
    # the checker catches a wrong equation
    p = problems.problem("train:1")
    q = dict(p)
    q["solution"] = re.sub(r"= (\d+)", lambda m: "= " + str(int(m.group(1)) + 1), p["solution"], count=1)
    assert problems.verify(q), "verify missed a wrong result"
    assert problems.extract_answer("x\n#### 42") == 42
    assert problems.extract_answer("So the answer is 7.") == 7
    assert problems.extract_answer("no answer here 5") is None


@check("data stage: held-out seeds disjoint, no held-out question in train, corpus deterministic")
def test_data(work):
    import make_data
    make_data.main(["--work", work, "--n-train", "30000", "--n-heldout", "1000", "--corpus-mb", "2", "--workers", "2",
                    "--n-train1", "6000", "--n-heldout1", "200"])
    train = common.read_jsonl(os.path.join(work, "train.jsonl"))
    held = common.read_jsonl(os.path.join(work, "heldout.jsonl"))
    assert len(held) == 1000
    assert all(p["id"].startswith(("train:", "train1:")) for p in train) and all(p["id"].startswith("heldout:") for p in held)
    held1 = common.read_jsonl(os.path.join(work, "heldout1.jsonl"))
    assert len(held1) == 200 and all(p["id"].startswith("heldout1:") for p in held1)
    assert not ({p["question"] for p in train} & {p["question"] for p in held1})
    assert not ({p["question"] for p in train} & {p["question"] for p in held})
    assert len({p["question"] for p in held}) >= 990, "held-out questions should be (nearly) all distinct"
    for p in held:
        full = problems.problem(p["id"])
        assert full["solution"] == p["solution"] and not problems.verify(full)
    import corpus
    d1 = corpus.collect(max_bytes=1 << 20, exclude=[common.REPO])
    d2 = corpus.collect(max_bytes=1 << 20, exclude=[common.REPO])
    assert [x["path"] for x in d1] == [x["path"] for x in d2] and len(d1) > 5
    assert not any(common.REPO in x["path"] for x in d1)
    stats = json.load(open(os.path.join(work, "data_stats.json")))
    print("  data stats:", {k: stats[k] for k in ("n_train", "n_heldout", "train_n_ops", "corpus_files", "corpus_bytes")})


def smoke_tokenizer(work):
    texts = [p["question"] + p["solution"] for p in common.read_jsonl(os.path.join(work, "train.jsonl"), 3000)]
    texts += [p["question"] + p["solution"] for p in common.read_jsonl(os.path.join(work, "heldout.jsonl"))]
    texts += [d["text"] for d in common.read_jsonl(os.path.join(work, "corpus.jsonl"))]
    return CharTokenizer(texts)


SMOKE_LAYOUT = ["--prompt-len", "400", "--gen-short", "256", "--gen-long", "384", "--max-answer", "250"]


@check("train.py --smoke (char-level stand-in tokenizer) and the export read back")
def test_smoke_train(work, out, tok):
    import train
    summary = train.main(["--work", work, "--out", out, "--smoke", "--max-problems", "2000", "--max-steps", "6",
                          "--minutes", "5"] + SMOKE_LAYOUT, tokenizer=tok)
    assert summary["steps"] == 6, summary
    files = sorted(os.listdir(out))
    print("  exported:", files)
    idx = json.load(open(os.path.join(out, "model.safetensors.index.json")))
    assert set(idx["weight_map"].values()) <= set(files)
    for fn in files:
        if fn.endswith(".safetensors"):
            assert os.path.getsize(os.path.join(out, fn)) < 8 << 20
            assert re.fullmatch(r"model-\d{5}-of-\d{5}\.safetensors", fn), fn
    conf = json.load(open(os.path.join(out, "config.json")))
    for k in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size", "architecture",
              "mask_id", "eos_id", "end_ids", "pad_id", "logits_shifted", "max_length", "name", "tie_embeddings"):
        assert k in conf, k
    assert conf["mask_id"] == tok.token_id(common.MASK) and conf["end_ids"] == [tok.token_id(common.EOS), tok.token_id(common.EOT)]
    assert conf["logits_shifted"] is False and conf["architecture"] == "llada"
    sd = common.load_sharded(out)
    assert all(v.dtype == torch.bfloat16 for v in sd.values())
    mm = common.import_model()
    cfg = mm.ModelConfig.from_dict({k: v for k, v in conf.items() if k in mm.ModelConfig.__dataclass_fields__})
    assert {k: list(v.shape) for k, v in sd.items()} == mm.parameter_shapes(cfg)
    rows = [json.loads(x) for x in open(os.path.join(out, "training_log.jsonl"))]
    assert rows[0]["type"] == "config" and rows[-1]["type"] == "summary"
    assert all(np.isfinite(r["loss"]) for r in rows if r["type"] == "train")


@check("train.py loss: LLaDA normalisation on a hand-made batch")
def test_loss():
    import train
    mm = common.import_model()
    cfg = mm.ModelConfig(vocab_size=11, hidden_size=16, num_layers=1, num_heads=2, intermediate_size=32)
    torch.manual_seed(0)
    model = mm.DiffusionLM(cfg, use_sdpa=False)
    ids = torch.randint(0, 10, (2, 6))
    left_pad = torch.tensor([1, 0])
    maskable = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], dtype=torch.bool)
    denom = torch.tensor([4.0, 6.0])
    t = torch.tensor([0.5, 0.25])
    r = torch.tensor([[0.1, 0.1, 0.1, 0.9, 0.2, 0.9], [0.1, 0.9, 0.9, 0.9, 0.9, 0.2]])
    is_prob = torch.tensor([True, False])
    loss, lp, lc = train.masked_diffusion_loss(model, ids, left_pad, maskable, denom, t, r, is_prob, mask_id=10, eps=1e-3)
    p = (1 - 1e-3) * t + 1e-3
    masked = maskable & (r < p[:, None])
    assert masked.tolist() == [[False, False, True, False, True, False], [True, False, False, False, False, True]]
    noisy = torch.where(masked, torch.full_like(ids, 10), ids)
    logits = model.lm_head(model.norm(model.hidden(noisy, left_pad)))
    lsm = torch.log_softmax(logits.float(), -1)
    want = 0.0
    for b in range(2):
        s = sum(-lsm[b, i, ids[b, i]] / p[b] for i in range(6) if masked[b, i])
        want = want + s / denom[b]
    want = want / 2
    assert torch.allclose(loss, want, rtol=1e-5), (loss, want)
    assert torch.allclose(lp + lc, loss * 2, rtol=1e-5)


@check("evaluate.py on the smoke model (the gen-length-128 configs, 4 problems)")
def test_eval(work, out, tok, evout):
    import evaluate
    configs = ["lc-128", "localleap-128", "localleap-128-stop", "threshold-128"]  # the CPU here is slow
    res = evaluate.main(["--model", out, "--work", work, "--out", evout, "--n", "4", "--device", "cpu",
                         "--prompt-len", "400", "--batch-size", "3", "--configs", ",".join(configs)], tokenizer=tok)
    names = [c["name"] for c in res["configs"]]
    assert names == configs, names
    for c in res["configs"]:
        assert c["n"] == 4
        G, Lb = c["gen_length"], c["block_length"]
        if c["strategy"] == "low-confidence":
            assert c["mean_steps"] == G, c["mean_steps"]  # one token per step
        else:
            assert G // Lb <= c["mean_steps"] <= G
    assert res["first_step_block0"]["all"]["n"] == 4 * 32
    assert res["first_step_span"]["all"]["n"] == 4 * 256
    assert os.path.exists(os.path.join(evout, "eval.md"))


# ------------------------------------------------------------------------------------------------
# The decoder against a literal one-row implementation of docs/decoding.md

class FakeModel:
    """Logits that depend on the row's real tokens (relative positions, so left padding changes
    nothing), with confidences spread over (0, 1], frequent exact ties and end tokens."""

    def __init__(self, V=13, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.V = V
        self.base = torch.randn(64, V, generator=g)
        self.scale = torch.rand(64, generator=g) * 6
        self.mix = torch.randn(V, V, generator=g)

    def logits_at_padded(self, ids, positions, left_pad):
        out = []
        for b in range(ids.shape[0]):
            lp = int(left_pad[b])
            row = ids[b, lp:]
            counts = torch.bincount(row, minlength=self.V).float()
            rows = []
            for p in positions.tolist():
                r = p - lp
                z = self.base[r % 64] * self.scale[r % 64] + 0.3 * (self.mix @ counts) / (1 + counts.sum())
                if r % 7 == 3:  # exact ties between positions: the same logits
                    z = self.base[0] * 4
                if r % 11 == 5:  # a tie inside a row of logits: two equal maxima
                    z = z.clone()
                    z[2] = z.max()
                    z[5] = z[2]
                if r % 13 == 6:  # the mask id has the highest logit: never chosen, still in the sum
                    z = z.clone()
                    z[self.V - 1] = z.max() + 0.7
                rows.append(z)
            out.append(torch.stack(rows))
        return torch.stack(out)


def literal_decode(model, prompt, cfg: DecodeConfig, toks: Tokens):
    """docs/decoding.md, written out for one row with Python loops."""
    P, G, Lb = len(prompt), cfg.gen_length, cfg.block_length
    canvas = list(prompt) + [toks.mask_id] * G
    nb = G // Lb
    s = (cfg.steps or G) // nb
    steps = 0
    spb = [0] * nb
    f32 = np.float32
    for k in range(nb):
        lo = P + k * Lb
        j = 0
        n0 = None
        while True:
            masked = [canvas[lo + i] == toks.mask_id for i in range(Lb)]
            if not any(masked):
                break
            ids = torch.tensor([canvas])
            z_all = model.logits_at_padded(ids, torch.arange(lo, lo + Lb), torch.tensor([0]))[0].float().numpy()
            t, c = [], []
            for i in range(Lb):
                z = np.where(np.isnan(z_all[i]), -np.inf, z_all[i]).astype(np.float32)
                M = z.max()
                zm = z.copy()
                zm[toks.mask_id] = -np.inf
                ti = int(np.nonzero(zm == zm.max())[0][0])
                d = (z - M).astype(np.float32)
                e = np.exp(d).astype(np.float32)
                q = [0 if dv < -31 else int(np.trunc(np.float32(ev) * np.float32(2 ** 44))) for dv, ev in zip(d, e)]
                S = sum(q)
                t.append(ti)
                c.append(f32(float(q[ti]) / float(S)) if S else f32(0))
            if n0 is None:
                n0 = sum(masked)
            if cfg.strategy == "low-confidence":
                kk = n0 // s + (1 if j < n0 % s else 0)
            else:
                kk = 1
            A = [a for a in range(Lb) if masked[a] and c[a] >= f32(cfg.kappa)]
            commit = []
            for i in range(Lb):
                if not masked[i]:
                    commit.append(False)
                    continue
                rank = sum(1 for jj in range(Lb) if jj != i and masked[jj] and (c[jj] > c[i] or (c[jj] == c[i] and jj < i)))
                if cfg.strategy == "low-confidence":
                    thr = None
                elif cfg.strategy == "threshold":
                    thr = f32(cfg.threshold)
                else:
                    thr = f32(cfg.tau) if (A and any(abs(i - a) <= cfg.window for a in A)) else f32(cfg.kappa)
                commit.append(rank < kk or (thr is not None and c[i] >= thr))
            for i in range(Lb):
                if commit[i]:
                    canvas[lo + i] = t[i]
            steps += 1
            spb[k] += 1
            j += 1
        if cfg.stop_at_eos and any(x in toks.end_ids for x in canvas[lo:lo + Lb]):
            for q in range(lo + Lb, P + G):
                canvas[q] = toks.eos_id
            break
    return canvas[P:], steps, spb


@check("decoder: batched decoder == literal docs/decoding.md decoder (all strategies, ties, stopAtEos)")
def test_decoder():
    toks = Tokens(mask_id=12, eos_id=0, end_ids=[0, 4], pad_id=0)
    prompts = [[1, 7, 3, 9, 2], [1, 2], [1, 5, 5, 6, 8, 9, 10, 3], [1, 11, 3]]
    n_checked = 0
    for seed in range(3):
        model = FakeModel(seed=seed)
        configs = [DecodeConfig("low-confidence", 64, 16, steps=64), DecodeConfig("low-confidence", 64, 16, steps=12),
                   DecodeConfig("threshold", 64, 16, threshold=0.5), DecodeConfig("threshold", 64, 16),
                   DecodeConfig("localleap", 64, 16, kappa=0.6, tau=0.3, window=2),
                   DecodeConfig("localleap", 64, 16, kappa=0.9, tau=0.75, window=4),
                   DecodeConfig("localleap", 64, 16, kappa=0.5, tau=0.2, window=3, stop_at_eos=True),
                   DecodeConfig("low-confidence", 64, 16, steps=16, stop_at_eos=True)]
        for cfg in configs:
            res = generate(model, prompts, cfg, toks, torch.device("cpu"))
            for b, p in enumerate(prompts):
                span, steps, spb = literal_decode(model, p, cfg, toks)
                assert res["span"][b].tolist() == span, (cfg, b, res["span"][b].tolist(), span)
                assert res["steps"][b] == steps and res["steps_per_block"][b] == spb, (cfg, b, res["steps"][b], steps)
                n_checked += 1
    # an exact tie inside the logits goes to the lower index; NaN counts as -inf; the mask id is
    # never chosen but counts in the sum
    z = torch.tensor([[1.0, 3.0, 3.0, float("nan")]])
    t, c = confidence_and_token(z)
    assert t.item() == 1 and abs(c.item() - float(np.exp(0) / (np.exp(-2) + 2))) < 1e-6
    t, c = confidence_and_token(torch.tensor([[1.0, 2.0, 5.0]]), mask_id=2)
    assert t.item() == 1 and abs(c.item() - float(np.exp(-3) / (np.exp(-4) + np.exp(-3) + 1))) < 1e-6
    # chunked sums (V > chunk) agree with the one-chunk sum
    zz = torch.randn(3, 5, 50) * 4
    t1, c1 = confidence_and_token(zz, 7)
    t2, c2 = confidence_and_token(zz, 7, chunk=16)
    assert torch.equal(t1, t2) and torch.allclose(c1, c2, rtol=1e-6)
    print(f"  {n_checked} row decodes identical")


class RefAdapter:
    """tools/localleap/reference_decoder's model interface over FakeModel."""

    def __init__(self, fake, toks):
        self.fake = fake
        self.vocab, self.mask_id, self.eos_id = fake.V, toks.mask_id, toks.eos_id
        self.end_ids, self.pad_id = list(toks.end_ids), toks.pad_id
        self.shifted, self.max_length = False, 4096
        self.learned_filter = None  # the strategies this test compares need none

    def logits(self, canvas, positions, left_pad):
        z = self.fake.logits_at_padded(torch.from_numpy(np.asarray(canvas)), torch.from_numpy(np.asarray(positions)),
                                       torch.from_numpy(np.asarray(left_pad)))
        return z.float().numpy()


@check("decoder: batched decoder == tools/localleap/reference_decoder.py (when present)")
def test_against_reference():
    try:
        if common.TOOLS not in sys.path:
            sys.path.insert(0, common.TOOLS)
        from localleap import reference_decoder as rd  # type: ignore
    except Exception as e:  # noqa: BLE001
        print(f"  skipped: tools/localleap/reference_decoder.py not importable ({e!r})")
        return
    toks = Tokens(mask_id=12, eos_id=0, end_ids=[0, 4], pad_id=0)
    prompts = [[1, 7, 3, 9, 2], [1, 2], [1, 5, 5, 6, 8, 9, 10, 3], [1, 11, 3]]
    n = 0
    for seed in range(3):
        fake = FakeModel(seed=seed)
        ref = RefAdapter(fake, toks)
        for cfg in [DecodeConfig("low-confidence", 64, 16, steps=64), DecodeConfig("low-confidence", 64, 16, steps=8),
                    DecodeConfig("threshold", 64, 16, threshold=0.5),
                    DecodeConfig("localleap", 64, 16, kappa=0.6, tau=0.3, window=2),
                    DecodeConfig("localleap", 64, 16, kappa=0.5, tau=0.2, window=3, stop_at_eos=True)]:
            mine = generate(fake, prompts, cfg, toks, torch.device("cpu"))
            theirs = rd.decode(ref, prompts, cfg.gen_length, cfg.block_length, cfg.strategy, steps=cfg.steps,
                               threshold=cfg.threshold, anchor_threshold=cfg.kappa, relaxed_threshold=cfg.tau,
                               radius=cfg.window, stop_at_eos=cfg.stop_at_eos)
            for b in range(len(prompts)):
                row = theirs["rows"][b]
                assert mine["span"][b].tolist() == row["tokens"], (cfg, b)
                assert mine["steps"][b] == row["steps"] and mine["steps_per_block"][b] == row["stepsPerBlock"], (cfg, b)
                assert mine["finish"][b] == row["finishReason"], (cfg, b)
                n += 1
    print(f"  {n} row decodes identical to the reference decoder")


@check("export loads through tools/localleap/weights.py (when present)")
def test_repo_loader(out):
    try:
        if common.TOOLS not in sys.path:
            sys.path.insert(0, common.TOOLS)
        from localleap import weights  # type: ignore
    except Exception as e:  # noqa: BLE001
        print(f"  skipped: tools/localleap/weights.py not importable ({e!r})")
        return
    model, cfg, meta = weights.load_model(out, dtype="bfloat16")
    assert meta["mask_id"] == json.load(open(os.path.join(out, "config.json")))["mask_id"]
    assert model.inv_freq.dtype == torch.float32


@check("decoder: batched smoke-model decode == one row at a time (left padding)")
def test_padding(out, tok):
    import evaluate
    model, cfg, conf = evaluate.load_model(out, torch.device("cpu"), torch.float32)
    toks = Tokens(conf["mask_id"], conf["eos_id"], conf["end_ids"], conf["pad_id"])
    held = common.read_jsonl(os.path.join(WORK, "heldout.jsonl"), 4)
    prompts = [tok.encode(common.chat_prompt(p["question"])) for p in held]
    dc = DecodeConfig("localleap", 64, 32, kappa=0.02, tau=0.01)
    res = generate(model, prompts, dc, toks, torch.device("cpu"))
    same = 0
    for b, p in enumerate(prompts):
        r1 = generate(model, [p], dc, toks, torch.device("cpu"))
        same += r1["span"][0].tolist() == res["span"][b].tolist()
    assert same >= 3, same  # float32 batched vs single matmuls may differ in the last bit
    print(f"  {same}/4 rows identical batched vs alone")


FAKE_TOKENIZERS = r"""
# A char-level stand-in for the Hugging Face `tokenizers` package, for the CPU pipeline test only.
import json, re
__version__ = "test-stand-in"

class _Enc:
    def __init__(self, ids):
        self.ids = ids

class Tokenizer:
    def __init__(self, model=None):
        self.itos, self.specials = [], []
        self.pre_tokenizer = self.decoder = None

    @classmethod
    def from_file(cls, path):
        t = cls()
        d = json.load(open(path))
        t._set(d["itos"], d["specials"])
        return t

    def _set(self, itos, specials):
        self.itos, self.specials = itos, specials
        self.stoi = {s: i for i, s in enumerate(itos)}
        self.re = re.compile("(" + "|".join(re.escape(s) for s in specials) + ")")

    def train_from_iterator(self, it, trainer=None, length=None):
        chars = set("0123456789")
        for text in it:
            chars.update(text)
        self._set(list(trainer.special_tokens) + sorted(chars), list(trainer.special_tokens))

    def save(self, path):
        json.dump({"itos": self.itos, "specials": self.specials}, open(path, "w"))

    def get_vocab_size(self, with_added_tokens=True):
        return len(self.itos)

    def token_to_id(self, s):
        return self.stoi.get(s)

    def encode(self, text, add_special_tokens=True):
        ids = []
        for part in self.re.split(text):
            if part in self.specials:
                ids.append(self.stoi[part])
            else:
                ids.extend(self.stoi.get(c, self.stoi[" "]) for c in part)
        return _Enc(ids)

    def encode_batch(self, texts, add_special_tokens=True):
        return [self.encode(t) for t in texts]

    def decode(self, ids, skip_special_tokens=True):
        return "".join(self.itos[i] for i in ids)

class _Any:
    def __init__(self, *a, **k):
        self.__dict__.update(k)

class models:
    BPE = _Any

class decoders:
    ByteLevel = _Any

class trainers:
    BpeTrainer = _Any

class pre_tokenizers:
    Sequence = _Any
    Digits = _Any

    class ByteLevel(_Any):
        @staticmethod
        def alphabet():
            return []
"""


@check("run_all.py end to end on CPU (stand-in `tokenizers`, smoke training, one eval config)")
def test_pipeline(tmp):
    import subprocess
    import tarfile
    fake = os.path.join(tmp, "fakemods", "tokenizers")
    os.makedirs(fake)
    with open(os.path.join(fake, "__init__.py"), "w") as f:
        f.write(FAKE_TOKENIZERS)
    out = os.path.join(tmp, "OUT")
    env = dict(os.environ, PYTHONPATH=os.path.join(tmp, "fakemods"), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, os.path.join(HERE, "run_all.py"), out, "--work", os.path.join(tmp, "pwork"),
           "--n-train", "3000", "--n-heldout", "40", "--n-train1", "600", "--n-heldout1", "8", "--corpus-mb", "1", "--eval-n", "3",
           "--eval-configs", "localleap-128-stop", "--eval1-configs", "localleap-128-stop",
           "--train-minutes", "3", "--no-repo-copy", "--ship-int8",
           "--", "--smoke", "--max-steps", "3", "--max-answer", "250"] + SMOKE_LAYOUT[:6]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    tail = "\n".join(p.stdout.splitlines()[-25:])
    assert p.returncode == 0, tail
    files = sorted(os.path.relpath(os.path.join(r, f), out) for r, _, fs in os.walk(out) for f in fs)
    print("  OUTDIR:", files)
    assert len(files) <= 8 and "report.tar.gz" in files, files
    for f in ("config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "training_log.jsonl"):
        assert os.path.join("reference", f) in files, f
    shards = [f for f in files if f.endswith(".safetensors")]
    hdr = common.read_safetensors(os.path.join(out, shards[0]))
    assert any(t.dtype == torch.int8 for t in hdr.values()), "--ship-int8 shipped no int8 tensor"
    with tarfile.open(os.path.join(out, "report.tar.gz")) as tar:
        names = tar.getnames()
    for f in ("eval.json", "eval.md", "train_summary.json", "data_stats.json", "train.log", "eval.log",
              "quantize.log", "eval-onestep.log"):
        assert f"report/{f}" in names, (f, names)
    # a failing stage fails the run, loudly, and still packs the logs
    bad = subprocess.run([sys.executable, os.path.join(HERE, "run_all.py"), os.path.join(tmp, "OUT2"), "--work",
                          os.path.join(tmp, "pwork"), "--stages", "train", "--train-minutes", "2", "--",
                          "--no-such-option"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    assert bad.returncode != 0 and "FAILED" in bad.stdout, bad.stdout[-2000:]
    assert os.path.exists(os.path.join(tmp, "OUT2", "report.tar.gz"))


def main():
    global WORK
    tmp = tempfile.mkdtemp(prefix="refmodel-test-")
    WORK = os.path.join(tmp, "work")
    out = os.path.join(tmp, "model")
    evout = os.path.join(tmp, "eval")
    try:
        test_problems()
        test_data(WORK)
        tok = smoke_tokenizer(WORK)
        test_loss()
        test_smoke_train(WORK, out, tok)
        test_eval(WORK, out, tok, evout)
        test_decoder()
        test_against_reference()
        test_repo_loader(out)
        test_padding(out, tok)
        if not os.environ.get("SKIP_PIPELINE"):
            test_pipeline(tmp)
    finally:
        if os.environ.get("KEEP_TMP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    passed = sum(ok for _, ok in RESULTS)
    print(f"{passed} passed, {len(RESULTS) - passed} failed")
    return 0 if passed == len(RESULTS) else 1


WORK = None

if __name__ == "__main__":
    sys.exit(main())
