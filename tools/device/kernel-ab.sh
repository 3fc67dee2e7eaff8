#!/usr/bin/env bash
# A/B of commit-kernel variants on the GPU machine, in one call (METHOD.md: side by side, each
# timed twice). Builds bench/kernel_ab/commit_ab.cu against each variant's kernel sources, runs the
# variants interleaved, compares their output checksums, profiles [8, 32, 126464] with ncu and
# dumps the SASS. Writes ab.log, ncu-NAME.txt and NAME.sass into $OUT.
#   VARIANTS="v2:.device/kernels-v2 v5:native/kernels v5-6cta:native/kernels:-DLL_COMMIT_MIN_CTAS=6" \
#     bash tools/device/kernel-ab.sh
# A variant is NAME:DIR[:EXTRA_NVCC_FLAGS]; DIR holds commit_kernel.cu and the headers it includes.
# NCU_SHAPES="8 1": the batch sizes to profile (default 8); EAGER=1 also times eager PyTorch's
# decision on the same shapes (bench/eager_decision.py), so the ratios come from one run.
set -uo pipefail
OUT="${OUT:-/tmp/kernel-ab}"
mkdir -p "$OUT"
cd "$(dirname "$0")/../.."
exec > >(tee -a "$OUT/ab.log") 2>&1
VARIANTS="${VARIANTS:-v5:native/kernels}"
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader
date -u +%Y-%m-%dT%H:%M:%SZ
names=()
for spec in $VARIANTS; do
  IFS=: read -r name dir flags <<<"$spec"
  echo "== build $name from $dir ${flags:-}"
  # shellcheck disable=SC2086
  nvcc -O3 --fmad=false -std=c++17 -arch=sm_90 -Xptxas -v ${flags:-} -I "$dir" bench/kernel_ab/commit_ab.cu \
    "$dir/commit_kernel.cu" -o "/tmp/ab-$name" 2>&1 | grep -A2 "bfloat16Lb0" | grep -E "registers|spill" || true
  [ -x "/tmp/ab-$name" ] || { echo "BUILD FAILED: $name"; exit 1; }
  # The SASS of the bf16 greedy instantiation only (the one the benchmark shapes run).
  cuobjdump -sass "/tmp/ab-$name" | awk '/Function : .*bfloat16Lb0/{f=1} /Function : /&&!/bfloat16Lb0/{f=0} f' > "$OUT/$name.sass" || true
  names+=("$name")
done
for round in 1 2; do
  for name in "${names[@]}"; do
    echo "== round $round: $name"
    "/tmp/ab-$name" > "/tmp/ab-$name-round$round.txt"
    cat "/tmp/ab-$name-round$round.txt"
  done
done
echo "== checksums (equal across variants when they compute the same outputs)"
for name in "${names[@]}"; do sed -E 's/.*(\[[0-9,]+\]).*checksum ([0-9a-f]+).*/\1 \2/' "/tmp/ab-$name-round1.txt" | paste -sd' ' | sed "s/^/$name: /"; done
for batch in ${NCU_SHAPES:-8}; do
  for name in "${names[@]}"; do
    echo "== ncu $name [$batch,32,126464]"
    ncu --clock-control none --kernel-name regex:commitStepKernel --launch-skip 30 --launch-count 1 \
      --section SpeedOfLight --section Occupancy --section WarpStateStats --section SchedulerStats \
      --section ComputeWorkloadAnalysis --section LaunchStats "/tmp/ab-$name" --shapes "$batch" --iterations 40 \
      > "$OUT/ncu-$name-b$batch.txt" 2>&1
    grep -E "Duration|Elapsed Cycles|Compute \(SM\) Throughput|Memory Throughput|Achieved Occupancy|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Registers Per|Executed Ipc Elapsed" "$OUT/ncu-$name-b$batch.txt" | head -12
  done
done
if [ "${EAGER:-0}" = 1 ]; then
  echo "== eager PyTorch decision on the same shapes (bench/eager_decision.py)"
  python3 bench/eager_decision.py "$OUT/eager.json"
fi
