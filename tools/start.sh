#!/usr/bin/env bash
# The README's main command (`npm start`): set up (tools/setup.sh), then answer a word problem with
# the embedded reference model on the CPU. Arguments, when given, go to `localleap generate`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
if [ $# -eq 0 ]; then
  set -- --chat --device cpu \
    "Mia has 48 stickers. She buys 3 packs with 12 stickers in each pack. Then she gives 20 stickers to her brother. How many stickers does Mia have now?"
fi
exec node dist/lib/cli/cli.js generate "$@"
