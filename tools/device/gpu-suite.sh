#!/usr/bin/env bash
# Runs on the GPU machine (CUDA, PyTorch with libtorch inside, no node, no network), from the
# repository root, after tools/device/pack.sh prepared .device/ and dist/ here:
#   build the linux-x64-cuda prebuilt binary (prebuildify + cmake-js against Python's libtorch),
#   run the GPU test suite, compute-sanitizer (memcheck, racecheck) and the kernel and step
#   benchmarks. Everything it prints goes to $OUT/suite.log; JSON results to $OUT.
# Knobs: SKIP_BUILD=1 (the committed prebuild), SUITE=kernel (kernel exactness only), SANITIZE=0,
# KERNEL_BENCH=0, STEP_BENCH=0 (skip those stages), GPU_TEST_SKIP=a,b (test files left out, test/gpu/run.js).
set -uo pipefail
OUT="${OUT:-/tmp/localleap-out}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
exec > >(tee -a "$OUT/suite.log") 2>&1
stage() { echo; echo "== $(date -u +%H:%M:%S) $*"; }
status=0

stage "environment"
xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node
mkdir -p /tmp/bin && ln -sf /tmp/node /tmp/bin/node && export PATH="/tmp/bin:$PATH"
tar xJf .device/node_modules.tar.xz
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
node --version
export CMAKE_PREFIX_PATH="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
export LOCALLEAP_PYTHON="$(command -v python3)"  # the tests' Python tools need this torch, not /usr/bin/python3's
variant="$(python3 -c 'import torch; v = torch.__version__.split("+")[0].split("."); print(f"cuda{torch.version.cuda}-torch{v[0]}.{v[1]}")')"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  stage "build prebuilds/linux-x64/localleap-$variant (prebuildify + cmake-js)"
  chmod +x tools/prebuild/cmake-js-as-node-gyp.js  # the exec bit may not survive a copy
  rm -rf build prebuilds/linux-x64/localleap-cuda*
  node node_modules/prebuildify/bin.js --napi --tag-libc --strip --name "localleap-$variant" \
    --node-gyp "$PWD/tools/prebuild/cmake-js-as-node-gyp.js" || { echo "BUILD FAILED"; exit 1; }
  ls -la prebuilds/linux-x64/
  cp prebuilds/linux-x64/localleap-cuda*.node "$OUT/"
fi

stage "fixture models (float32, manual attention, exported by this torch)"
for arch in llada dream; do
  python3 tools/make_fixture.py --architecture $arch --out-dir test/fixtures/generated/$arch \
    --model test/fixtures/generated/$arch.pt --attention manual | tail -1
done
# APD's causal LM (test/support/fixtures.ts ensureApdFixtures' CAUSAL_FIXTURE, same arguments), for sanitize.js too
python3 tools/make_fixture.py --architecture qwen2 --seed 3 --vocab 300 --out-dir test/fixtures/generated/causal \
  --model test/fixtures/generated/causal.pt --attention manual | tail -1

stage "embedded model (models/reference/model.pt: float32, manual attention, as prepack exports it; here with this torch)"
python3 tools/export.py --weights models/reference --out models/reference/model.pt --dtype float32 --attention manual | tail -2

stage "GPU test suite"
if [ "${SUITE:-all}" = kernel ]; then
  # Kernel iteration: only the exactness tests (the decode tests do not depend on the kernel's speed).
  node --test dist/test/gpu/kernelExactness.test.js || status=1
else
  LOCALLEAP_TEST_MODEL=test/fixtures/generated/llada.pt node test/gpu/run.js || status=1
fi

if [ "${SANITIZE:-1}" = 1 ]; then
stage "compute-sanitizer memcheck"
compute-sanitizer --tool memcheck --error-exitcode 9 node test/gpu/sanitize.js test/fixtures/generated/llada.pt test/fixtures/generated/causal.pt 2>&1 | tail -5 || status=1
stage "compute-sanitizer racecheck"
compute-sanitizer --tool racecheck --error-exitcode 9 node test/gpu/sanitize.js test/fixtures/generated/dream.pt test/fixtures/generated/causal.pt 2>&1 | tail -5 || status=1
fi

if [ "${KERNEL_BENCH:-1}" = 1 ]; then
stage "kernel benchmark: fused kernel vs eager PyTorch decision"
node dist/bench/kernelBench.js "$OUT/kernel.json" && python3 bench/eager_decision.py "$OUT/eager.json" \
  && python3 bench/compare_kernel.py "$OUT/kernel.json" "$OUT/eager.json" | tee "$OUT/kernel-table.md"
if [ -n "${KERNEL_AB:-}" ]; then
  stage "kernel A/B: LOCALLEAP_KERNEL_MIN_CTAS=2"
  LOCALLEAP_KERNEL_MIN_CTAS=2 node dist/bench/kernelBench.js "$OUT/kernel-2ctas.json"
fi
fi

if [ "${STEP_BENCH:-1}" = 1 ]; then
stage "step overhead: engine step vs bare forward (fixture model)"
node dist/bench/stepOverhead.js test/fixtures/generated/llada.pt "$OUT/step-fixture.json" 128 256 32 1
fi

stage "done (status $status)"
exit $status
