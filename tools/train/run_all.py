"""The one-command reference-model pipeline (run through tools/train/run_all.sh).

  bash tools/train/run_all.sh OUTDIR [--total-minutes 9.3] [--train-minutes M] [--eval-n 1000] ...

Stages (each a subprocess, output echoed and kept in WORK/logs/<stage>.log; any failure stops the
run with a non-zero exit after packing what exists):
  data       make_data.py: problems (train + held-out) and the Python-source corpus -> WORK
  tokenizer  train_tokenizer.py: byte-level BPE -> WORK/tokenizer
  train      train.py: the model -> WORK/model (ship folder), logs and plot -> WORK/logs
  eval       evaluate.py on the held-out set -> WORK/logs/eval.json, eval.md
  (quantize) with --ship-int8: quantize.py -> WORK/model-int8, which eval and ship then use
  ship       OUTDIR/reference/ (the 7 ship-ready files), OUTDIR/report.tar.gz (everything else),
             and a copy of the ship-ready files in models/reference/ of this checkout
Time: --total-minutes bounds the whole run (default 9.3, so that it fits one 10-minute command);
the training stage gets what is left after data and tokenizer minus --eval-reserve-s and
--ship-reserve-s, unless --train-minutes is given. The evaluation skips its remaining decoding
configurations once its share is spent.
OUTDIR ends with at most 8 files (<= 16 MiB each): reference/{config.json,
model.safetensors.index.json, model-0000k-of-0000n.safetensors (2), tokenizer.json,
tokenizer_config.json, training_log.jsonl} and report.tar.gz.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHIP_FILES = ("config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
              "training_log.jsonl")
T0 = time.time()


def say(msg):
    print(f"[run_all {time.time() - T0:6.1f}s] {msg}", flush=True)


def run_stage(name, cmd, logdir):
    say(f"stage {name}: {' '.join(cmd)}")
    t = time.time()
    os.makedirs(logdir, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(os.path.join(logdir, f"{name}.log"), "w") as flog:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO,
                             universal_newlines=True, bufsize=1)
        for line in p.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            flog.write(line)
        rc = p.wait()
    if rc != 0:
        raise RuntimeError(f"stage {name} failed with exit code {rc} (log: {logdir}/{name}.log)")
    say(f"stage {name} done in {time.time() - t:.1f}s")


def ship_files(model_dir):
    files = [f for f in SHIP_FILES if os.path.exists(os.path.join(model_dir, f))]
    files += sorted(f for f in os.listdir(model_dir) if f.startswith("model-") and f.endswith(".safetensors"))
    return files


def pack(out, work, model_dir, failed):
    """OUTDIR/reference/* and OUTDIR/report.tar.gz; never raises (runs after failures too)."""
    extra_tar = []
    try:
        ref = os.path.join(out, "reference")
        if model_dir and os.path.isdir(model_dir) and os.path.exists(os.path.join(model_dir, "config.json")):
            os.makedirs(ref, exist_ok=True)
            files = ship_files(model_dir)
            if len(files) > 7 and "training_log.jsonl" in files:  # OUTDIR: 8 files, the tar included
                files.remove("training_log.jsonl")
                extra_tar.append(os.path.join(model_dir, "training_log.jsonl"))
                say("training_log.jsonl goes into report.tar.gz (reference/ would exceed 7 files)")
            for f in files:
                shutil.copy(os.path.join(model_dir, f), os.path.join(ref, f))
        tar_path = os.path.join(out, "report.tar.gz")
        with tarfile.open(tar_path, "w:gz") as tar:
            logs = os.path.join(work, "logs")
            if os.path.isdir(logs):
                for f in sorted(os.listdir(logs)):
                    tar.add(os.path.join(logs, f), arcname=f"report/{f}")
            for f in ("data_stats.json", "data_samples.txt"):
                p = os.path.join(work, f)
                if os.path.exists(p):
                    tar.add(p, arcname=f"report/{f}")
            for p in extra_tar:
                tar.add(p, arcname=f"report/ship-{os.path.basename(p)}")
            p = os.path.join(work, "tokenizer", "tokenizer_samples.json")
            if os.path.exists(p):
                tar.add(p, arcname="report/tokenizer_samples.json")
            if failed:
                with open(os.path.join(work, "FAILED.txt"), "w") as f:
                    f.write(failed + "\n")
                tar.add(os.path.join(work, "FAILED.txt"), arcname="report/FAILED.txt")
        n = 0
        for root, _, files in os.walk(out):
            for f in files:
                n += 1
                size = os.path.getsize(os.path.join(root, f))
                if size > 16 << 20:
                    say(f"WARNING: {os.path.join(root, f)} is {size} bytes (> 16 MiB: it will not come back)")
        if n > 8:
            say(f"WARNING: {n} files under {out} (more than 8)")
        say(f"packed {n} files under {out}")
    except Exception as e:  # noqa: BLE001
        say(f"WARNING: packing failed: {e!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="output folder (OUTDIR)")
    ap.add_argument("--stages", default="data,tokenizer,train,eval,ship")
    ap.add_argument("--work", default=os.path.join(REPO, ".cache", "reference-train"))
    ap.add_argument("--model", default=None, help="model folder to evaluate/ship (default WORK/model)")
    ap.add_argument("--total-minutes", type=float, default=9.3)
    ap.add_argument("--train-minutes", type=float, default=None)
    ap.add_argument("--eval-reserve-s", type=float, default=90.0)
    ap.add_argument("--ship-reserve-s", type=float, default=10.0)
    ap.add_argument("--eval-n", type=int, default=1000)
    ap.add_argument("--eval-configs", default=None)
    ap.add_argument("--n-train", type=int, default=500000)
    ap.add_argument("--n-heldout", type=int, default=2000)
    ap.add_argument("--n-train1", type=int, default=100000, help="one-step training problems")
    ap.add_argument("--n-heldout1", type=int, default=500, help="one-step held-out problems (0: no one-step eval)")
    ap.add_argument("--eval1-configs", default="localleap-128-stop,lc-128",
                    help="decoding configs of the one-step held-out evaluation (logs/onestep/)")
    ap.add_argument("--corpus-mb", type=float, default=24.0)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--ship-int8", action="store_true",
                    help="quantize the trained model to int8 (quantize.py) and evaluate and ship that")
    ap.add_argument("--no-repo-copy", action="store_true", help="do not copy the ship files into models/reference/")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap.epilog = "Arguments after -- go to train.py."
    a = ap.parse_args(argv)
    stages = [s for s in a.stages.split(",") if s]
    for s in stages:
        if s not in ("data", "tokenizer", "train", "eval", "ship"):
            raise SystemExit(f"unknown stage {s}")
    py = sys.executable
    out = os.path.abspath(a.out)
    work = os.path.abspath(a.work)
    logs = os.path.join(work, "logs")
    model_dir = os.path.abspath(a.model) if a.model else os.path.join(work, "model")
    os.makedirs(out, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    budget = a.total_minutes * 60.0
    say(f"python {sys.version.split()[0]} at {py}; out {out}; work {work}; stages {stages}; budget {budget:.0f}s")
    failed = None
    served = model_dir  # the folder evaluated and shipped (WORK/model-int8 with --ship-int8)
    try:
        if "data" in stages:
            run_stage("data", [py, os.path.join(HERE, "make_data.py"), "--work", work, "--n-train", str(a.n_train),
                               "--n-heldout", str(a.n_heldout), "--corpus-mb", str(a.corpus_mb),
                               "--n-train1", str(a.n_train1), "--n-heldout1", str(a.n_heldout1)], logs)
        if "tokenizer" in stages:
            run_stage("tokenizer", [py, os.path.join(HERE, "train_tokenizer.py"), "--work", work,
                                    "--out", os.path.join(work, "tokenizer"), "--vocab-size", str(a.vocab_size)], logs)
        if "train" in stages:
            if a.train_minutes is not None:
                minutes = a.train_minutes
            else:
                left = budget - (time.time() - T0) - (a.eval_reserve_s if "eval" in stages else 0) - a.ship_reserve_s
                minutes = left / 60.0
            if minutes < 1.0:
                raise RuntimeError(f"only {minutes:.2f} minutes left for training")
            run_stage("train", [py, os.path.join(HERE, "train.py"), "--work", work, "--tokenizer",
                                os.path.join(work, "tokenizer"), "--out", model_dir, "--logdir", logs,
                                "--minutes", f"{minutes:.3f}"] + extra, logs)
        if a.ship_int8 and ("eval" in stages or "ship" in stages):
            served = os.path.join(work, "model-int8")
            run_stage("quantize", [py, os.path.join(HERE, "quantize.py"), "--src", model_dir, "--dst", served], logs)
        if "eval" in stages:
            if not os.path.exists(os.path.join(work, "heldout.jsonl")):
                run_stage("heldout", [py, os.path.join(HERE, "make_data.py"), "--work", work, "--n-train", "0",
                                      "--n-heldout", str(a.n_heldout), "--corpus-mb", "0", "--n-train1", "0",
                                      "--n-heldout1", str(a.n_heldout1)], logs)
            left = budget - (time.time() - T0) - a.ship_reserve_s
            cmd = [py, os.path.join(HERE, "evaluate.py"), "--model", served, "--work", work, "--out", logs,
                   "--n", str(a.eval_n), "--budget-s", f"{max(30.0, left - 15):.0f}", "--quiet"]
            if a.eval_configs:
                cmd += ["--configs", a.eval_configs]
            run_stage("eval", cmd, logs)
            if a.n_heldout1 and os.path.exists(os.path.join(work, "heldout1.jsonl")):
                left = budget - (time.time() - T0) - a.ship_reserve_s
                run_stage("eval-onestep", [py, os.path.join(HERE, "evaluate.py"), "--model", served, "--work", work,
                                           "--heldout", "heldout1.jsonl", "--out", os.path.join(logs, "onestep"),
                                           "--n", str(a.n_heldout1), "--configs", a.eval1_configs, "--quiet",
                                           "--budget-s", f"{max(20.0, left - 10):.0f}"], logs)
        if "ship" in stages:
            dest = os.path.join(REPO, "models", "reference")
            if not a.no_repo_copy and os.path.abspath(dest) != served:
                os.makedirs(dest, exist_ok=True)
                for f in os.listdir(dest):  # old shards (another count or dtype) must not stay behind
                    if f.startswith("model-") and f.endswith(".safetensors"):
                        os.remove(os.path.join(dest, f))
                for f in ship_files(served):
                    shutil.copy(os.path.join(served, f), os.path.join(dest, f))
                say(f"copied the ship files into {dest}")
    except Exception as e:  # noqa: BLE001
        failed = str(e)
        say(f"FAILED: {failed}")
    finally:
        pack(out, work, served if "ship" in stages or failed else None, failed)
        summ = os.path.join(logs, "train_summary.json")
        if os.path.exists(summ) and "train" in stages:
            import json
            d = json.load(open(summ))
            say("training: " + ", ".join(f"{k} {d.get(k)}" for k in (
                "steps", "tokens", "tokens_per_s", "train_loop_s", "compile_s", "n_params", "final_val")))
        md = os.path.join(logs, "eval.md")
        if os.path.exists(md) and "eval" in stages:
            say("evaluation summary:\n" + open(md).read())
        for root, _, files in os.walk(out):
            for f in sorted(files):
                say(f"  {os.path.relpath(os.path.join(root, f), out)}: {os.path.getsize(os.path.join(root, f))} bytes")
    say(f"total {time.time() - T0:.1f}s")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
