#!/usr/bin/env bash
# Exports the embedded default model, models/reference/model.pt, from the shipped neutral weights
# when it is missing or older than them. float32, manual attention: libtorch 1.13 (Debian) and
# 2.x both load and run it, so the archive made here ships in the npm package (tools/prepack.sh).
# Needs a python3 with torch (Debian: python3-torch); LOCALLEAP_PYTHON picks one.
set -euo pipefail
cd "$(dirname "$0")/.."
out=models/reference/model.pt
if [ -f "$out" ] && [ -z "$(find models/reference -maxdepth 1 -newer "$out" \( -name '*.safetensors' -o -name '*.json' \) | head -1)" ]; then
  exit 0
fi
python="${LOCALLEAP_PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import torch' >/dev/null 2>&1; then python="$candidate"; break; fi
  done
fi
[ -n "$python" ] || { echo "export-default-model: no python3 with torch found: install python3-torch or set LOCALLEAP_PYTHON" >&2; exit 1; }
echo "[setup] exporting the default model (models/reference)" >&2
"$python" tools/export.py --weights models/reference --out "$out" --dtype float32 --attention manual
