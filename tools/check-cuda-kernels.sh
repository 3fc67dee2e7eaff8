#!/usr/bin/env bash
# Compiles the CUDA kernel sources for sm_90 with the flags of native/sources.json, without
# libtorch or a GPU: a quick check on machines that have nvcc but no CUDA libtorch.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=$(node -p "require('./native/sources.json').cudaflags.join(' ')")
for src in $(node -p "require('./native/sources.json').cuda.filter(f => f.endsWith('.cu')).join(' ')"); do
  echo "nvcc $src"
  nvcc $flags -arch=sm_90 -Xptxas -v -c "$src" -o /dev/null 2>&1 | grep -E "error|registers|spill" || true
done
