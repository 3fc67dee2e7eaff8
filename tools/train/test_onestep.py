"""CPU checks of the one-step problem families and the one-step held-out split (a few seconds).

  /usr/bin/python3 tools/train/test_onestep.py

- the multi-step seeds train:/heldout: give exactly the problems they gave before the one-step
  families were added (digest of 600 problems), so the baseline held-out set is unchanged;
- one-step problems are deterministic per seed, verify (equation recomputed, operands from the
  question, final-answer line), have one operation, and their answer recomputed from the numbers
  of the question is the stated answer;
- phrasing variety: every family in every style, many distinct question openings, first-person
  ("I have ..."), third-person (names) and bare ("What is 48 minus 19?") questions, casual typing;
- make_data.py: heldout1.jsonl written, training one-step problems disjoint from both held-out
  sets by normalized question text and by seed, the one-step share of train.jsonl as configured.
Ends with 'N passed, N failed'.
"""
import collections
import hashlib
import json
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402
import make_data  # noqa: E402
import problems  # noqa: E402
from checks import run_check, summary  # noqa: E402

MULTI_DIGEST = "2fd78017c99b51bf318d0999cc5185f5ae664ac7e5ec2a0b950ae3c8ec3423bf"  # train:/heldout: 0..299


def multistep_unchanged():
    h = hashlib.sha256()
    for s in ("train", "heldout"):
        for i in range(300):
            p = problems.problem(f"{s}:{i}")
            h.update(json.dumps([p["question"], p["solution"], p["answer"]]).encode())
    assert h.hexdigest() == MULTI_DIGEST, "multi-step problems changed: the baseline held-out set would move"


def _recompute(p):
    """The answer from the two numbers of the question and the family alone (any phrasing order:
    "2 less than 8", "Subtract 5 from 12", "How many times does 4 go into 36")."""
    nums = [int(v) for v in re.findall(r"\d+", p["question"])]
    assert len(nums) == 2, (nums, p["question"])
    hi, lo = max(nums), min(nums)
    op = p["family"]
    if op == "one-add":
        return hi + lo
    if op == "one-sub":
        return hi - lo
    if op == "one-mul":
        return hi * lo
    assert hi % lo == 0, p  # dividend and divisor are in the question; the dividend is the larger
    return hi // lo


def onestep_correct_and_deterministic():
    for i in range(20000):
        seed = f"train1:{i}" if i % 2 else f"heldout1:{i}"
        p = problems.problem(seed)
        assert p["family"] in problems.ONESTEP_FAMILIES and p["n_ops"] == 1, p
        e = problems.verify(p)
        assert not e, (seed, e, p)
        assert _recompute(p) == p["answer"] == problems.extract_answer(p["solution"]), p
        assert p["answer"] >= 0
        if i < 500:
            assert problems.problem(seed) == p, "not deterministic"
    a, b = problems.problem("train1:7"), problems.problem("heldout1:7")
    assert a != b


def phrasing_variety():
    by = collections.Counter()
    openings = set()
    qs = []
    for i in range(5000):
        p = problems.problem(f"train1:{i}")
        by[(p["family"], p["style"])] += 1
        q = p["question"]
        qs.append(q)
        openings.add(" ".join(re.sub(r"\d+", "N", q).split()[:3]).lower())
    assert len(by) == 12 and min(by.values()) > 150, by
    assert len(openings) > 60, len(openings)
    low = [q for q in qs if q.startswith("I ") or q.startswith("I've")]
    assert len(low) > 1000, len(low)
    assert any(q.startswith("What is") and "minus" in q for q in qs)
    assert any(q.startswith("I have") and "How many do I have?" in q for q in qs)
    assert any(q == q.lower() for q in qs), "no casual lowercase question"
    assert any(not q.endswith(("?", ".")) for q in qs), "no question without final punctuation"
    assert len(set(qs)) > 0.9 * len(qs)
    sols = {problems.problem(f"train1:{i}")["solution"].split("\n")[-1].split()[0] for i in range(400)}
    assert len(sols) >= 3, sols  # several final-line formats


def make_data_split():
    with tempfile.TemporaryDirectory() as work:
        make_data.main(["--work", work, "--n-train", "6000", "--n-heldout", "500", "--n-train1", "30000",
                        "--n-heldout1", "500", "--corpus-mb", "0", "--workers", "2"])
        train = common.read_jsonl(os.path.join(work, "train.jsonl"))
        held = common.read_jsonl(os.path.join(work, "heldout.jsonl"))
        held1 = common.read_jsonl(os.path.join(work, "heldout1.jsonl"))
        stats = json.load(open(os.path.join(work, "data_stats.json")))
    assert len(held1) == 500 and all(p["id"].startswith("heldout1:") and p["n_ops"] == 1 for p in held1)
    assert all(p["id"].startswith("heldout:") and p["n_ops"] >= 2 for p in held)
    assert {p["id"].split(":")[0] for p in train} == {"train", "train1"}
    hq = {make_data.norm_q(p["question"]) for p in held + held1}
    assert not any(make_data.norm_q(p["question"]) in hq for p in train)
    n1 = sum(p["id"].startswith("train1:") for p in train)
    assert 29000 < n1 <= 30000, n1  # a few dropped as held-out duplicates
    assert stats["n_train_onestep"] == n1 and stats["n_heldout1"] == 500
    for p in held1[:100] + [p for p in train if p["id"].startswith("train1:")][:100]:
        full = problems.problem(p["id"])
        assert full["solution"] == p["solution"] and not problems.verify(full)
    print("  dropped as held-out duplicates:", stats["train_dropped_as_heldout_duplicates"],
          "heldout1 families:", stats["heldout1_families"])


if __name__ == "__main__":
    t0 = time.time()
    for f in (multistep_unchanged, onestep_correct_and_deterministic, phrasing_variety, make_data_split):
        run_check(f)
    sys.exit(summary(t0))
