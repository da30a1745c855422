#!/usr/bin/env bash
# The local-database benchmark (issue 2): installs the benchmark's dependencies, builds
# better-sqlite3 from source and the imsync addon in release, then runs benches/local-db.js.
# Works on a fresh clone with only Rust, Node 20+, npm, python3, make and a C++ compiler.
#
#   npm run bench                         # the reported run: 1,000,000 messages
#   BENCH_MESSAGES=100000 npm run bench   # quick run
#   npm run bench:encryption              # only the plain-vs-encrypted comparison (100,000
#                                         # messages; BENCH_ENCRYPTION_MESSAGES=N to change)
#
# Other knobs (see benches/local-db.js): BENCH_ENCRYPTION_MESSAGES, BENCH_CONVERSATIONS, BENCH_LIST_CONVERSATIONS,
# BENCH_CALLS, BENCH_CLASS_BUDGET_MS, BENCH_OUT=results.json, BENCH_KEEP_DATA=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

echo "== addon build tools" >&2
[ -d node_modules/@napi-rs/cli ] || npm install --no-audit --no-fund

echo "== benchmark dependencies (better-sqlite3 built from source)" >&2
cd "$root/benches"
if [ -f package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund
else
  npm install --ignore-scripts --no-audit --no-fund
fi
if [ "${BENCH_ONLY:-}" = encryption ]; then
  : # the encryption comparison runs imsync against itself: no better-sqlite3 needed
elif ! node -e "new (require('better-sqlite3'))(':memory:').close()" 2>/dev/null; then
  # npm 11 runs no install scripts unless allowed, and better-sqlite3's own script would
  # first try to download a prebuilt binary; build it here from the bundled SQLite instead.
  gyp_args=(rebuild --release -j "$(nproc)")
  nodedir="$(npm config get nodedir 2>/dev/null || true)"
  if [ -n "$nodedir" ] && [ "$nodedir" != "undefined" ] && [ -f "$nodedir/include/node/node.h" ]; then
    gyp_args+=("--nodedir=$nodedir") # offline machines: use the installed Node headers
  fi
  (cd node_modules/better-sqlite3 && ../.bin/node-gyp "${gyp_args[@]}" >&2)
  node -e "new (require('better-sqlite3'))(':memory:').close()"
fi

echo "== imsync addon (release)" >&2
cd "$root"
npx napi build --platform --release >&2
# Measure a private copy, so a rebuild of the work tree during the run cannot swap the
# binary under the benchmark.
mkdir -p benches/.data/addon
cp imsync.linux-x64-gnu.node benches/.data/addon/imsync.node 2>/dev/null || cp imsync.*.node benches/.data/addon/imsync.node
export NAPI_RS_NATIVE_LIBRARY_PATH="$root/benches/.data/addon/imsync.node"

echo "== benchmark" >&2
exec node --expose-gc benches/local-db.js
