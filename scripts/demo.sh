#!/usr/bin/env bash
# The README's main job: build the addon and the reference server (release), then run the
# end-to-end demo (server + two users + offline pull + local search).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/@napi-rs/cli ] || npm install --no-audit --no-fund
npx napi build --platform --release >/dev/null
cargo build --release -q -p imsync-server
node examples/demo.js "$@" # --encrypt: the same demo with encrypted databases
