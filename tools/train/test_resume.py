"""CPU checks of train.py's checkpoints and resume (torch 1.13 or 2.x; about a minute).

  /usr/bin/python3 tools/train/test_resume.py

- exact resume: 8 steps straight against 4 steps, stop (checkpoint), resume for the other 4, with
  a tiny config on CPU: the final weights, AdamW moments and RNG states are equal bit for bit, and
  so is every logged loss and learning rate of the 8 steps (the schedule is over the total steps:
  the resumed call neither restarts the warm-up nor the decay); the schedule's shape;
- the checkpoint is written atomically (no temporary file left), holds the log so far, and a resume
  with an explicitly different model or optimisation argument is refused;
- weights-only resume (--fallback-dir, what comes back from a device call): bf16 shards under
  16 MiB, resume_state.pt; resuming from it continues the data order and the schedule with a fresh
  AdamW and a re-warmed learning rate; an int8 copy of the fallback (fallback.py) resumes too;
- --max-minutes stops the loop cleanly before the deadline (checkpoint at the stopping step, a
  'stop' record, no summary record), and --plan-later-s fixes the total steps at the end of warm-up.
Ends with 'N passed, N failed'.
"""
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import common  # noqa: E402
import make_data  # noqa: E402
import train  # noqa: E402
from checks import check, summary  # noqa: E402
from test_local import SMOKE_LAYOUT, CharTokenizer  # noqa: E402

__test__ = False  # a script, not a pytest module


def tokenizer(work):
    texts = [p["question"] + p["solution"] for p in common.read_jsonl(os.path.join(work, "train.jsonl"))]
    texts += [p["question"] + p["solution"] for p in common.read_jsonl(os.path.join(work, "heldout.jsonl"))]
    texts += [d["text"] for d in common.read_jsonl(os.path.join(work, "corpus.jsonl"))]
    return CharTokenizer(texts)


def base(work, out):
    # --smoke: 64 x 2 layers, 2 warm-up steps, CPU, eager, log every step; 2 rows per step
    return ["--work", work, "--out", out, "--smoke", "--max-problems", "1500", "--minutes", "20",
            "--checkpoint-every-s", "0", "--batch-tokens", "1600"] + SMOKE_LAYOUT


def run(args, tok):
    return train.main(args, tokenizer=tok)


def log_rows(out):
    return [json.loads(x) for x in open(os.path.join(out, "training_log.jsonl"))]


def same_tree(x, y, where="state"):
    """Bitwise equality of nested dicts / lists of tensors and plain values."""
    if isinstance(x, torch.Tensor):
        assert isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape, where
        assert torch.equal(x.view(torch.uint8) if x.dtype == torch.bool else x, y.view(torch.uint8) if y.dtype == torch.bool else y), where
    elif isinstance(x, dict):
        assert set(x) == set(y), (where, set(x) ^ set(y))
        for k in x:
            same_tree(x[k], y[k], f"{where}.{k}")
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y), where
        for i, (u, v) in enumerate(zip(x, y)):
            same_tree(u, v, f"{where}[{i}]")
    else:
        assert x == y, (where, x, y)


def train_records(rows):
    return [(r["step"], r["lr"], r["loss"], r["loss_problems"], r["loss_corpus"], r["tokens"])
            for r in rows if r["type"] == "train"]


@check
def exact_resume(tmp, work, tok):
    a_out, b_out = os.path.join(tmp, "A"), os.path.join(tmp, "B")
    ca, cb = os.path.join(tmp, "ckA", "a.pt"), os.path.join(tmp, "ckB", "b.pt")
    sa = run(base(work, a_out) + ["--total-steps", "8", "--max-steps", "8", "--checkpoint", ca], tok)
    assert sa["complete"] and sa["steps"] == 8, sa
    cache = os.path.join(tmp, "enc.npz")
    s1 = run(base(work, b_out) + ["--total-steps", "8", "--max-steps", "4", "--checkpoint", cb,
                                  "--fallback-dir", os.path.join(tmp, "fbB"), "--data-cache", cache], tok)
    assert os.path.exists(cache)
    assert not s1["complete"] and s1["steps"] == 4 and s1["stop_reason"] == "max-steps", s1
    rows1 = log_rows(b_out)
    assert rows1[-1]["type"] == "stop" and not any(r["type"] == "summary" for r in rows1), rows1[-1]
    half = train.torch_load(cb)
    assert half["step"] == 4 and half["sched"] == {"kind": "steps", "total_steps": 8}, (half["step"], half["sched"])
    assert [json.loads(x)["type"] for x in half["log"]][:1] == ["config"]
    assert os.listdir(os.path.dirname(cb)) == ["b.pt"], os.listdir(os.path.dirname(cb))  # atomic: no temp file
    shutil.copy(cb, os.path.join(tmp, "half.pt"))
    # the resumed call reads the encoded data from the cache (which must not change anything)
    import train as tr
    calls = []
    orig = tr.load_encoded
    tr.load_encoded = lambda *x: calls.append(1) or orig(*x)
    try:
        s2 = run(base(work, b_out) + ["--resume", cb, "--checkpoint", cb, "--max-steps", "8", "--data-cache", cache], tok)
    finally:
        tr.load_encoded = orig
    assert calls and orig(cache, tr.data_cache_key(tr.parse_args(base(work, b_out)), b_out)) is not None
    assert s2["complete"] and s2["steps"] == 8 and s2["calls"] == 2 and s2["this_call"]["steps"] == 4, s2
    A, B = train.torch_load(ca), train.torch_load(cb)
    same_tree(A["model_state"], B["model_state"], "model")
    same_tree(A["opt"]["state"], B["opt"]["state"], "adamw")
    same_tree(A["rng"], B["rng"], "rng")
    assert A["tokens"] == B["tokens"] and A["step"] == B["step"] == 8
    ra, rb = log_rows(a_out), log_rows(b_out)
    assert train_records(ra) == train_records(rb), (train_records(ra), train_records(rb))
    assert [r["type"] for r in rb].count("resume") == 1 and rb[-1]["type"] == "summary"
    # the exported bf16 shards are the same too
    wa, wb = common.load_sharded(a_out), common.load_sharded(b_out)
    assert set(wa) == set(wb) and all(torch.equal(wa[k].view(torch.int16), wb[k].view(torch.int16)) for k in wa)
    print(f"  8 steps straight == 4 + resume 4: {len(A['model_state'])} tensors, AdamW state, RNG states, "
          f"{len(train_records(ra))} logged losses/learning rates identical")


@check
def schedule_shape(tmp, work, tok):
    class A:
        lr, warmup_steps, min_lr_frac = 1e-3, 10, 0.05
    lrs = [train.lr_steps(A, s, 110) for s in range(111)]
    assert abs(lrs[0] - 1e-4) < 1e-12 and abs(lrs[9] - 1e-3) < 1e-12 and abs(lrs[10] - 1e-3) < 1e-12
    assert all(x >= y for x, y in zip(lrs[10:], lrs[11:])) and abs(lrs[110] - 5e-5) < 1e-12
    assert train.lr_steps(A, 5, None) == train.lr_steps(A, 5, 110) == train.lr_steps(A, 5, 9999)  # warm-up: no total
    # the logged rates of the 8-step runs follow lr_steps over the total (warm-up 2 in --smoke)
    rows = log_rows(os.path.join(tmp, "B"))
    lr = {r["step"]: r["lr"] for r in rows if r["type"] == "train"}

    class S:
        lr, warmup_steps, min_lr_frac = 1.5e-3, 2, 0.05
    assert all(abs(lr[s + 1] - train.lr_steps(S, s, 8)) < 1e-15 for s in range(8)), lr


@check
def resume_refuses_other_args(tmp, work, tok):
    half = os.path.join(tmp, "half.pt")
    for extra in (["--lr", "3e-3"], ["--total-steps", "9"]):
        try:
            run(base(work, os.path.join(tmp, "R")) + ["--resume", half] + extra, tok)
        except SystemExit as e:
            assert "differs from the checkpoint" in str(e), e
        else:
            raise AssertionError(f"resume with {extra} was accepted")


@check
def weights_only_resume(tmp, work, tok):
    fb = os.path.join(tmp, "fbB")
    files = sorted(os.listdir(fb))
    assert files == ["model-00001-of-00001.safetensors", "model.safetensors.index.json", "resume_state.pt"], files
    assert all(os.path.getsize(os.path.join(fb, f)) < 16 << 20 for f in files)
    w, state = train.load_fallback(fb)
    half = train.torch_load(os.path.join(tmp, "half.pt"))
    assert state["step"] == 4 and "model_state" not in state and "opt" not in state
    same_tree(state["rng"], half["rng"], "rng")
    for k, v in w.items():  # bf16 of the fp32 weights at step 4
        assert torch.equal(v, half["model_state"][k].to(torch.bfloat16).float()), k
    out = os.path.join(tmp, "W")
    s = run(base(work, out) + ["--resume", fb, "--max-steps", "8", "--rewarm-steps", "3"], tok)
    assert s["complete"] and s["steps"] == 8, s
    rows = log_rows(out)
    res = [r for r in rows if r["type"] == "resume"]
    assert len(res) == 1 and res[0]["mode"] == "weights" and res[0]["rewarm_steps"] == 3, res
    ref = {r["step"]: r for r in log_rows(os.path.join(tmp, "A")) if r["type"] == "train"}
    got = {r["step"]: r for r in rows if r["type"] == "train"}
    for s_ in range(5, 9):  # steps 4..7 (logged as 5..8): the rate ramps back to the schedule's over 3 steps
        want = ref[s_]["lr"] * min(1.0, (s_ - 4) / 3)
        assert abs(got[s_]["lr"] - want) < 1e-15, (s_, got[s_]["lr"], want)
        assert got[s_]["tokens"] == ref[s_]["tokens"]  # the same batch shapes: the data order continues
    # an int8 copy of the fallback (fallback.py int8) resumes as well
    import fallback
    fb8 = os.path.join(tmp, "fb8")
    fallback.main(["int8", fb, fb8])
    hdr = common.read_safetensors(os.path.join(fb8, sorted(f for f in os.listdir(fb8) if f.endswith(".safetensors"))[0]))
    assert any(t.dtype == torch.int8 for t in hdr.values())
    s8 = run(base(work, os.path.join(tmp, "W8")) + ["--resume", fb8, "--max-steps", "6"], tok)
    assert s8["steps"] == 6 and not s8["complete"], s8


@check
def deadline_and_plan(tmp, work, tok):
    out = os.path.join(tmp, "D")
    ck = os.path.join(tmp, "ckD", "d.pt")
    # a budget that ends during the set-up (6 ms: 0.6 s no longer did on a fast CPU): the loop stops at once, cleanly, with a checkpoint
    s = run(base(work, out) + ["--total-steps", "50", "--max-minutes", "0.0001", "--checkpoint", ck,
                               "--checkpoint-reserve-s", "0"], tok)
    assert s["stop_reason"] == "deadline" and not s["complete"] and s["steps"] == 0, s
    rows = log_rows(out)
    assert train.torch_load(ck)["step"] == 0 and rows[-1]["type"] == "stop" and rows[-1]["reason"] == "deadline"
    assert not any(r["type"] == "summary" for r in rows)
    # a budget that ends in the loop (set-up time measured above, plus ~8 s of steps)
    budget = s["stage_s"] + 8.0
    s = run(base(work, out) + ["--total-steps", "500", "--max-minutes", f"{budget / 60:.4f}", "--checkpoint", ck,
                               "--checkpoint-reserve-s", "0", "--max-steps", "100000"], tok)  # (--smoke: 6)
    assert s["stop_reason"] == "deadline" and 0 < s["steps"] < 500 and s["stage_s"] < budget + 30, s
    assert train.torch_load(ck)["step"] == s["steps"]
    print(f"  --max-minutes {budget / 60:.3f}: stopped cleanly at step {s['steps']} of 500")
    # --plan-later-s: the total is fixed at the end of warm-up (step 2 in --smoke) from the step rate
    s = run(base(work, out) + ["--plan-later-s", "30", "--max-steps", "4", "--checkpoint", ck], tok)
    rows = log_rows(out)
    plan = [r for r in rows if r["type"] == "plan"]
    assert len(plan) == 1 and plan[0]["step"] == 2 and plan[0]["total_steps"] > 2, plan
    sched = train.torch_load(ck)["sched"]
    assert sched["total_steps"] == plan[0]["total_steps"] and sched["fixed_at_step"] == 2, sched
    print(f"  planned {plan[0]['total_steps']} steps at {plan[0]['steps_per_s']:.2f} steps/s "
          f"({plan[0]['loop_s_left']:.0f} s of loop left)")
    # --fit-total: a resumed call with less time than planned lowers the total to what fits
    s = run(base(work, out) + ["--resume", ck, "--checkpoint", ck, "--fit-total", "--checkpoint-reserve-s", "0",
                               "--max-minutes", f"{(s['stage_s'] + 3) / 60:.4f}", "--max-steps", "6"], tok)
    refit = [r for r in log_rows(out) if r["type"] == "refit"]
    assert len(refit) == 1 and refit[0]["total_steps"] < plan[0]["total_steps"] == refit[0]["was"], refit
    assert train.torch_load(ck)["sched"]["total_steps"] == refit[0]["total_steps"]
    print(f"  --fit-total: {refit[0]['was']} -> {refit[0]['total_steps']} steps")


def main():
    tmp = tempfile.mkdtemp(prefix="resume-test-")
    try:
        work = os.path.join(tmp, "work")
        make_data.main(["--work", work, "--n-train", "1500", "--n-heldout", "40", "--n-train1", "300",
                        "--n-heldout1", "10", "--corpus-mb", "0.3", "--workers", "2"])
        tok = tokenizer(work)
        torch.set_num_threads(min(2, torch.get_num_threads()))
        exact_resume(tmp, work, tok)
        schedule_shape(tmp, work, tok)
        resume_refuses_other_args(tmp, work, tok)
        weights_only_resume(tmp, work, tok)
        deadline_and_plan(tmp, work, tok)
    finally:
        if os.environ.get("KEEP_TMP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
