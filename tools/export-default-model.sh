#!/usr/bin/env bash
# Exports the embedded default model, models/reference/model.pt, and its causal LM for strategy
# apd, models/reference-ar/model.pt, from the shipped neutral weights when missing or older than
# them. float32, manual attention: libtorch 1.13 (Debian) and 2.x both load and run them, so the
# archives made here ship in the npm package (tools/prepack.sh).
# Needs a python3 with torch (Debian: python3-torch); LOCALLEAP_PYTHON picks one.
set -euo pipefail
cd "$(dirname "$0")/.."
python=""
find_python() {
  [ -n "$python" ] && return 0
  python="${LOCALLEAP_PYTHON:-}"
  if [ -z "$python" ]; then
    for candidate in /usr/bin/python3 python3; do
      if "$candidate" -c 'import torch' >/dev/null 2>&1; then python="$candidate"; break; fi
    done
  fi
  [ -n "$python" ] || { echo "export-default-model: no python3 with torch found: install python3-torch or set LOCALLEAP_PYTHON" >&2; exit 1; }
}
# export_folder FOLDER: FOLDER/model.pt from FOLDER's weights, unless it is newer than all of them.
export_folder() {
  local folder="$1" out="$1/model.pt"
  if [ -f "$out" ] && [ -z "$(find "$folder" -maxdepth 1 -newer "$out" \( -name '*.safetensors' -o -name '*.json' \) | head -1)" ]; then
    return 0
  fi
  find_python
  echo "[setup] exporting $folder" >&2
  "$python" tools/export.py --weights "$folder" --out "$out" --dtype float32 --attention manual
}
export_folder models/reference
export_folder models/reference-ar
