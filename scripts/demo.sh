#!/usr/bin/env bash
# The README's main job: build the addon if needed, then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/@napi-rs/cli ] || npm install --no-audit --no-fund
npx napi build --platform --release >/dev/null
node examples/demo.js
