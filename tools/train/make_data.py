"""Stage 1: generate the training data on this machine (nothing is downloaded).

Writes into --work:
  train.jsonl    problems from seeds "train:<i>" (2-4 step families) and "train1:<i>" (one-step
                 families, --n-train1 of them) (question, solution, answer, family, n_ops), minus
                 any problem whose normalized question (lowercased, final punctuation dropped)
                 equals a held-out question's
  heldout.jsonl  problems from seeds "heldout:<i>" (a disjoint seed space), the baseline set
  heldout1.jsonl one-step problems from seeds "heldout1:<i>" (evaluate.py --heldout heldout1.jsonl)

Mixing: train.py samples training problems uniformly, so the one-step share of the problem rows
is n_train1 / (n_train + n_train1): 100k / 600k = 1/6 by default. One-step answers are short (one
line and the final line, ~25 tokens against ~70), so they cost ~7% of the answer tokens; enough to
learn the plain phrasings (a single operation is easy) without diluting the 2-4 step families
the baseline measures.
  corpus.jsonl   Python source documents from this machine's sys.path (see corpus.py)
  data_stats.json, data_samples.txt
Every problem is checked with problems.verify (equations recomputed); any failure aborts.
"""
import argparse
import collections
import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import problems  # noqa: E402
from common import REPO, log, write_jsonl  # noqa: E402


def _gen(args):
    split, lo, hi = args
    out = []
    for i in range(lo, hi):
        p = problems.problem(f"{split}:{i}")
        errs = problems.verify(p)
        if errs:
            raise RuntimeError(f"problem {split}:{i} failed verification: {errs}\n{p}")
        out.append({"id": f"{split}:{i}", "question": p["question"], "solution": p["solution"],
                    "answer": p["answer"], "family": p["family"], "n_ops": p["n_ops"]})
    return out


def norm_q(q: str) -> str:
    """Question text compared for disjointness: case and final punctuation do not make it new."""
    return " ".join(q.lower().rstrip("?. ").split())


def generate(split: str, n: int, workers: int):
    chunk = 5000
    jobs = [(split, lo, min(n, lo + chunk)) for lo in range(0, n, chunk)]
    if workers <= 1 or len(jobs) == 1:
        res = [_gen(j) for j in jobs]
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            res = pool.map(_gen, jobs)
    return [p for r in res for p in r]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--n-train", type=int, default=500_000)
    ap.add_argument("--n-heldout", type=int, default=2000)
    ap.add_argument("--n-train1", type=int, default=100_000, help="one-step training problems (train1:<i>)")
    ap.add_argument("--n-heldout1", type=int, default=500, help="one-step held-out problems (heldout1:<i>)")
    ap.add_argument("--corpus-mb", type=float, default=24.0)
    ap.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    a = ap.parse_args(argv)
    os.makedirs(a.work, exist_ok=True)
    t0 = time.time()

    held = generate("heldout", a.n_heldout, a.workers)
    held1 = generate("heldout1", a.n_heldout1, a.workers)
    held_q = {norm_q(p["question"]) for p in held + held1}
    train = generate("train", a.n_train, a.workers) + generate("train1", a.n_train1, a.workers)
    n0 = len(train)
    train = [p for p in train if norm_q(p["question"]) not in held_q]
    dropped = n0 - len(train)
    assert not ({norm_q(p["question"]) for p in train} & held_q)
    assert not ({p["id"] for p in train} & {p["id"] for p in held + held1})
    n_one = sum(p["n_ops"] == 1 and p["id"].startswith("train1:") for p in train)
    log(f"problems: {len(train)} train ({n_one} one-step; {dropped} dropped as held-out duplicates), "
        f"{len(held)} held-out, {len(held1)} held-out one-step, {time.time() - t0:.1f}s")
    write_jsonl(os.path.join(a.work, "train.jsonl"), train)
    write_jsonl(os.path.join(a.work, "heldout.jsonl"), held)
    write_jsonl(os.path.join(a.work, "heldout1.jsonl"), held1)

    t1 = time.time()
    docs = corpus.collect(max_bytes=int(a.corpus_mb * (1 << 20)), exclude=[REPO])
    write_jsonl(os.path.join(a.work, "corpus.jsonl"), docs)
    pk = collections.Counter()
    for d in docs:
        pk[d["package"]] += len(d["text"].encode())
    log(f"corpus: {len(docs)} files, {sum(pk.values()) / 1e6:.1f} MB from {len(pk)} packages, {time.time() - t1:.1f}s")

    def dist(rows, key):
        c = collections.Counter(r[key] for r in rows)
        return {str(k): v for k, v in sorted(c.items())}

    stats = {
        "n_train": len(train), "n_heldout": len(held), "train_dropped_as_heldout_duplicates": dropped,
        "train_seeds": f"train:0..train:{a.n_train - 1}", "heldout_seeds": f"heldout:0..heldout:{a.n_heldout - 1}",
        "n_train_onestep": n_one, "n_heldout1": len(held1),
        "train1_seeds": f"train1:0..train1:{a.n_train1 - 1}", "heldout1_seeds": f"heldout1:0..heldout1:{a.n_heldout1 - 1}",
        "onestep_share_of_train": n_one / max(1, len(train)), "heldout1_families": dist(held1, "family"),
        "train_families": dist(train, "family"), "train_n_ops": dist(train, "n_ops"),
        "heldout_families": dist(held, "family"), "heldout_n_ops": dist(held, "n_ops"),
        "question_chars_mean": sum(len(p["question"]) for p in train) / max(1, len(train)),
        "solution_chars_mean": sum(len(p["solution"]) for p in train) / max(1, len(train)),
        "corpus_files": len(docs), "corpus_bytes": sum(pk.values()), "corpus_packages": len(pk),
        "corpus_top_packages": dict(pk.most_common(25)),
        "python": sys.version.split()[0], "sys_path": [p for p in sys.path if p],
        "seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(a.work, "data_stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    with open(os.path.join(a.work, "data_samples.txt"), "w") as f:
        for p in train[:12] + train[-6:] + held[:4] + held1[:4]:
            f.write(f"=== {p['id']} [{p['family']}] answer {p['answer']}\nQ: {p['question']}\nA: {p['solution']}\n\n")
        for d in docs[:3]:
            f.write(f"=== corpus {d['path']}\n{d['text'][:600]}\n\n")
    log(f"data stage done in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
