#!/usr/bin/env bash
# npm's prepack (npm pack / npm publish): everything the package ships that git does not hold is
# made here, and packing stops when a piece is missing rather than shipping without it.
# - dist/: the compiled TypeScript, with the CLI executable;
# - models/reference/model.pt: the embedded default model, and models/reference-ar/model.pt, its
#   causal LM for strategy apd, exported with this machine's torch (Debian's 1.13, which libtorch
#   2.x also loads), so that users need no Python;
# - prebuilds/linux-x64: the committed CPU and CUDA binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[prepack] %s\n' "$*" >&2; }
[ -d node_modules ] || { say "run npm ci (or npm test) first"; exit 1; }
say "compiling TypeScript"
rm -rf dist/lib
npx --no-install tsc -p tsconfig.json
chmod +x dist/lib/cli/cli.js
bash tools/export-default-model.sh
for required in dist/lib/index.js dist/lib/index.d.ts models/reference/model.pt models/reference-ar/model.pt \
  prebuilds/linux-x64/localleap-cpu-torch1.13.glibc.node prebuilds/linux-x64/localleap-cuda13.0-torch2.11.glibc.node; do
  [ -s "$required" ] || { say "missing $required: not packing without it"; exit 1; }
done
say "ready to pack"
