#!/usr/bin/env bash
# Builds the CPU addon with AddressSanitizer + UBSan into build-asan/ and runs the hostile-archive
# suite (test/reliability/) against it, with libasan preloaded into node.
#   tools/sanitize-cpu.sh            build and run
#   tools/sanitize-cpu.sh --build    build only
set -euo pipefail
cd "$(dirname "$0")/.."
npx --no-install cmake-js build --out build-asan --log-level warn -p "$(nproc)" --CDLOCALLEAP_SANITIZE=ON --CDLOCALLEAP_CUDA=OFF
addon=build-asan/Release/localleap.node
[ "$(nm -D "$addon" | grep -c __asan_)" -gt 0 ] || { echo "sanitize-cpu: $addon has no __asan symbols" >&2; exit 1; }
[ "${1:-}" = "--build" ] && exit 0
libasan=$(g++ -print-file-name=libasan.so)
libubsan=$(g++ -print-file-name=libubsan.so)
# node itself leaks by design at exit; the reports that matter are heap errors in the addon.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:print_stacktrace=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
LOCALLEAP_BINARY="$PWD/$addon" LD_PRELOAD="$libasan $libubsan" npx --no-install jest --selectProjects reliability --runInBand "$@"
