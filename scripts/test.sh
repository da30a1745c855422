#!/usr/bin/env bash
# Runs every test of the project: Rust (core, protocol, server) and JavaScript (through the
# built addon). Used by `npm test` and CI; needs only Rust, Node 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== format check (clippy runs with npm run lint: a second full compile CI need not pay for)"
cargo fmt --all -- --check

echo "== Rust tests"
# The same --target the napi CLI passes, so the tests and the addon build share one set of
# compiled dependencies (target/<triple>/debug) instead of compiling everything twice.
HOST="$(rustc -vV | sed -n 's/^host: //p')"
cargo test --workspace --quiet --target "$HOST"

echo "== build the addon (debug) and check the types"
[ -d node_modules/@napi-rs/cli ] || npm install --no-audit --no-fund
npx napi build --platform >/dev/null
npx tsc -p tsconfig.json

echo "== JavaScript tests"
node --test --test-reporter=spec __test__/
