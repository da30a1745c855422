#!/usr/bin/env bash
# Runs every test of the project: Rust (core, protocol, server) and JavaScript (through the
# built addon). Used by `npm test` and CI; needs only Rust, Node 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== lint: cargo fmt, clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

echo "== Rust tests"
cargo test --workspace --quiet

echo "== build the addon (debug) and check the types"
[ -d node_modules/@napi-rs/cli ] || npm install --no-audit --no-fund
npx napi build --platform >/dev/null
npx tsc -p tsconfig.json

echo "== JavaScript tests"
node --test --test-reporter=spec __test__/
