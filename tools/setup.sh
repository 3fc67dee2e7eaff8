#!/usr/bin/env bash
# Set-up for a fresh clone on Debian/Ubuntu (CI runs it through `npm test`): system packages
# (libtorch and torch for Python, from Debian), npm packages, the native addon, the TypeScript
# build, the default model and the test fixtures. Each step is skipped when its output is up to
# date, so running it again is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[setup] %s\n' "$*" >&2; }

# 1. System packages: Debian's libtorch-dev and python3-torch (libtorch/PyTorch 1.13, CPU), and
#    OpenBLAS: without it, --no-install-recommends leaves the reference BLAS, ~35x slower. nginx
#    for the load-balancer test (test/reliability/loadBalancer.test.ts runs its own, on loopback);
#    any nginx binary will do, so it is installed only when there is none.
missing=()
for pkg in libtorch-dev python3-torch libopenblas0-pthread cmake g++ make; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
new_nginx=0
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] && [ -z "${LOCALLEAP_NGINX:-}" ]; then
  missing+=(nginx)
  new_nginx=1
fi
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${missing[*]} (apt)"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Debian starts the system nginx service on port 80 when it can: the tests do not use it.
  if ((new_nginx)) && command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    $sudo systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
fi

# A python3 that has torch (on Debian /usr/bin/python3; the first python3 on PATH may have none).
python="${LOCALLEAP_PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import torch' >/dev/null 2>&1; then python="$candidate"; break; fi
  done
fi
[ -n "$python" ] || { say "no python3 with torch found: install python3-torch or set LOCALLEAP_PYTHON"; exit 1; }

# 2. npm packages.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund
fi

# 3. The native addon (cmake-js, incremental).
say "building the native addon"
npx --no-install cmake-js build --log-level warn -p "$(nproc)"

# 4. TypeScript -> dist/.
say "compiling TypeScript"
npx --no-install tsc -p tsconfig.json
chmod +x dist/lib/cli/cli.js  # tsc drops the executable bit; npx localleap needs it in a checkout

# 5. The default model: export the shipped weights with this machine's torch.
LOCALLEAP_PYTHON="$python" bash tools/export-default-model.sh

# 6. Test fixtures: small random-weight models in the LLaDA and Dream layouts.
mkdir -p test/fixtures/generated
for arch in llada dream; do
  if [ ! -f "test/fixtures/generated/$arch.pt" ]; then
    say "exporting the $arch test fixture"
    "$python" tools/make_fixture.py --architecture "$arch" --out-dir "test/fixtures/generated/$arch" \
      --model "test/fixtures/generated/$arch.pt" --attention manual >/dev/null
  fi
done
say "ready"
