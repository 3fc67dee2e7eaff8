#!/usr/bin/env bash
# Builds the CPU prebuilt binary, prebuilds/linux-x64/localleap-cpu-torch1.13.glibc.node, against
# Debian 12's libtorch 1.13 (apt: libtorch-dev), the libtorch CI and `apt install libtorch1.13`
# users have. The same cmake-js build as `npm run build:native` (incremental), then named and
# stripped as prebuildify would; commit the result with the native sources it was built from
# (test/unit/prebuilds.test.ts checks the hash compiled into it).
set -euo pipefail
cd "$(dirname "$0")/../.."
LOCALLEAP_CUDA=OFF npx --no-install cmake-js build --log-level warn -p "$(nproc)" --CDLOCALLEAP_CUDA=OFF
built=build/Release/localleap.node
info=$(node -e "
  const i = require('./$built').buildInfo();
  if (i.variant !== 'cpu' || !i.torchVersion.startsWith('1.13.')) { console.error('cpu.sh: expected a CPU build against libtorch 1.13, got', i); process.exit(1); }
  console.log(i.variant, 'torch', i.torchVersion, 'sources', i.sourceHash);")
out=prebuilds/linux-x64/localleap-cpu-torch1.13.glibc.node
mkdir -p "$(dirname "$out")"
strip --strip-unneeded -o "$out" "$built"
echo "wrote $out ($(du -h "$out" | cut -f1)): $info"
