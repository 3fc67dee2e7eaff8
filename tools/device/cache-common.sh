# Shared by tools/device/cache8b.sh, cache8b-engine.sh, cache-accuracy.sh, calibrate-v2.sh, decoders-bench.sh, apd-bench.sh and apd-shapes.sh (sourced after they
# set OUT, DEADLINE_S and T_START and define die): the stage log, the time budget, node and
# node_modules from .device/ (tools/device/pack.sh), the CUDA binary built from native/ with
# prebuildify (SKIP_BUILD=1: the committed prebuild). DEVICE=cpu skips the GPU checks (CPU rehearsals).

elapsed() { echo $(( $(date +%s) - T_START )); }
stage() { echo; echo "== $(date -u +%H:%M:%S) (+$(elapsed) s) $*"; }
# Seconds a stage may take: at most $1, and never past the deadline minus a reserve of $2 s.
budget() { local left=$(( DEADLINE_S - $(elapsed) - ${2:-0} )); [ "$left" -lt 1 ] && left=1; [ "$left" -lt "$1" ] && echo "$left" || echo "$1"; }

# device_env DIST_FILE: node on PATH, node_modules, DIST_FILE present, and what the machine is.
device_env() {
  stage "environment"
  if ! command -v node >/dev/null 2>&1; then
    [ -f .device/node.xz ] || die "no node on PATH and no .device/node.xz (run tools/device/pack.sh here first, carry .device)"
    xz -dc .device/node.xz > /tmp/node && chmod +x /tmp/node
    mkdir -p /tmp/bin && ln -sf /tmp/node /tmp/bin/node && export PATH="/tmp/bin:$PATH"
  fi
  if [ ! -d node_modules/@huggingface/tokenizers ] || [ ! -d node_modules/prebuildify ]; then
    [ -f .device/node_modules.tar.xz ] || die "no node_modules and no .device/node_modules.tar.xz"
    tar xJf .device/node_modules.tar.xz
  fi
  [ -f "$1" ] || die "no $1 (compile with tools/device/pack.sh or npx tsc -p tsconfig.test.json; carry dist)"
  if [ "${DEVICE:-cuda}" = cpu ]; then  # a CPU rehearsal of a device script (calibrate-v2.sh)
    "${PYTHON:-python3}" -c 'import torch; print("torch", torch.__version__, "(CPU rehearsal)")' || die "python3 with torch"
  else
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || die "nvidia-smi"
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())' || die "python3 torch with CUDA"
  fi
  node --version
  df -h /tmp | tail -1
  git log --oneline -1 2>/dev/null || true
}

# device_build: the CUDA binary from native/ (about 35 s on an H100), copied to $OUT.
device_build() {
  if [ "${SKIP_BUILD:-0}" = 1 ]; then
    echo "SKIP_BUILD=1: the committed prebuild"; ls -la prebuilds/linux-x64/
    return
  fi
  stage "build the CUDA binary from native/ (prebuildify + cmake-js, timeout $(budget 150))"
  export CMAKE_PREFIX_PATH="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  local variant
  variant="$(python3 -c 'import torch; v = torch.__version__.split("+")[0].split("."); print(f"cuda{torch.version.cuda}-torch{v[0]}.{v[1]}")')"
  chmod +x tools/prebuild/cmake-js-as-node-gyp.js
  rm -rf build prebuilds/linux-x64/localleap-cuda*
  timeout "$(budget 150)" node node_modules/prebuildify/bin.js --napi --tag-libc --strip --name "localleap-$variant" \
    --node-gyp "$PWD/tools/prebuild/cmake-js-as-node-gyp.js" > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; die "build (log: build.log)"; }
  ls -la prebuilds/linux-x64/
  cp prebuilds/linux-x64/localleap-cuda*.node "$OUT/"
}
