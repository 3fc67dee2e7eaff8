#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for a GPU machine that has no node and no network: the node
# binary, the runtime and build node_modules (compressed), and dist/ compiled here.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .device
cp -u ../shared/device/node-v20.20.2-linux-x64.xz .device/node.xz
tmp=$(mktemp -d)
cp package.json package-lock.json "$tmp/"
(cd "$tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null 2>&1 \
  && npm install --no-save --ignore-scripts --no-audit --no-fund prebuildify@6 >/dev/null 2>&1 \
  && tar cJf node_modules.tar.xz node_modules)
mv "$tmp/node_modules.tar.xz" .device/
rm -rf "$tmp"
npx --no-install tsc -p tsconfig.test.json
du -sh .device dist
