#!/usr/bin/env python3
"""The reference model's calibration prompts (issue 14): training-split problems only.

Writes JSONL rows {"id", "question", "answer"} (what `localleap calibrate --prompts` reads) from
make_data.py's train.jsonl: the first --n-train "train:<i>" problems (2-4 steps) and the first
--n-train1 "train1:<i>" (one step), minus any whose question equals a held-out one's (make_data.py
drops those). Never held-out seeds: the benchmark reports on those.

  python3 tools/train/make_calibration_set.py --out bench/data/calibration-train.jsonl
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-train", type=int, default=400)
    ap.add_argument("--n-train1", type=int, default=100)
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([sys.executable, os.path.join(here, "make_data.py"), "--work", work,
                        "--n-train", str(args.n_train), "--n-train1", str(args.n_train1),
                        "--n-heldout", "2000", "--n-heldout1", "500", "--corpus-mb", "0.01"],
                       check=True, stdout=subprocess.DEVNULL)
        rows = [json.loads(line) for line in open(os.path.join(work, "train.jsonl"), encoding="utf-8")]
    with open(args.out, "w", encoding="utf-8") as f:
        for r in rows:
            assert r["id"].startswith(("train:", "train1:")), r["id"]
            f.write(json.dumps({"id": r["id"], "question": r["question"], "answer": r["answer"]}) + "\n")
    print(f"{len(rows)} training-split prompts -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
