#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for a GPU machine that has no node and no network: the node
# binary, the runtime and build node_modules (compressed), and dist/ compiled here.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device
cp -u ../shared/device/node-v20.20.2-linux-x64.xz .device/node.xz
tmp=$(mktemp -d)
cp package.json package-lock.json "$tmp/"
# Runtime dependencies only, plus prebuildify (a devDependency) with its own dependencies nested
# under it: installing it into the tree directly would bring every devDependency (TypeScript,
# esbuild, jest: ~11 MB compressed) into the 64 MiB the device call carries.
(cd "$tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null 2>&1 \
  && mkdir pb && (cd pb && npm init -y >/dev/null && npm install --ignore-scripts --no-audit --no-fund prebuildify@6 >/dev/null 2>&1) \
  && mv pb/node_modules/prebuildify node_modules/prebuildify && mkdir -p node_modules/prebuildify/node_modules \
  && mv pb/node_modules/* pb/node_modules/.bin node_modules/prebuildify/node_modules/ 2>/dev/null; \
  test -f node_modules/prebuildify/bin.js && tar cJf node_modules.tar.xz node_modules)
mv "$tmp/node_modules.tar.xz" .device/
rm -rf "$tmp"
npx --no-install tsc -p tsconfig.test.json
du -sh .device dist
