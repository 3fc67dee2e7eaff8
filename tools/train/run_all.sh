#!/usr/bin/env bash
# Train, evaluate and package the reference model in one command (see tools/train/run_all.py):
#   bash tools/train/run_all.sh OUTDIR [--total-minutes 9.3] [--train-minutes M] [--eval-n 1000] [--stages ...]
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash tools/train/run_all.sh OUTDIR [options]  (python3 tools/train/run_all.py --help)" >&2
  exit 2
fi
export PYTHONUNBUFFERED=1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
"$PY" -c 'import torch, numpy, tokenizers; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "| tokenizers", tokenizers.__version__)' \
  || { echo "run_all.sh: $PY lacks torch/numpy/tokenizers" >&2; exit 1; }
exec "$PY" "$HERE/run_all.py" "$@"
