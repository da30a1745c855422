#!/usr/bin/env bash
# The sync-engine and IPC-bridge benchmarks (issues 4 and 5): builds the imsync addon and
# imsync-server in release, runs benches/sync.js and benches/bridge.js on private copies of
# both binaries (so a rebuild of the work tree during the run cannot swap them), and writes
# benches/SYNC-RESULTS.md. Needs only Rust, Node 18+ and npm; no benchmark dependencies.
#
#   bash benches/sync-run.sh                        # the reported sizes (about 3–4 minutes on 2 cores)
#   SYNC_MESSAGES=20000 bash benches/sync-run.sh    # quicker
#
# Knobs: SYNC_MESSAGES (100000), SYNC_PUBLISH_CONCURRENCY (32), SYNC_SENDS (2000),
# SYNC_WARMUP (200), SYNC_IDLE_MS (10000), BRIDGE_CALLS (2000), BRIDGE_WARMUP (200),
# SYNC_RESULTS (output file, default benches/SYNC-RESULTS.md), SYNC_RESULTS_JSON_DIR (raw figures,
# default benches/sync-results/), SYNC_SKIP_BUILD=1 (measure the last release build as it is).
# Regenerate the report from the kept figures:
#   SYNC_COMMIT=<commit> node benches/sync-lib/report.js benches/sync-results/sync.json benches/sync-results/bridge.json
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="${SYNC_RESULTS:-$root/benches/SYNC-RESULTS.md}"

work="$(mktemp -d "${TMPDIR:-/tmp}/imsync-sync-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).target_directory))')"
host="$(rustc -vV | sed -n 's/^host: //p')"

# What is measured: the commit, and any uncommitted changes to the sources the binaries are built from.
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git status --porcelain -- src crates Cargo.toml Cargo.lock build.rs index.js js 2>/dev/null | awk '{print $2}' | paste -sd' ' - || true)"

if [ -z "${SYNC_SKIP_BUILD:-}" ]; then
  echo "== build (release): addon and imsync-server" >&2
  [ -d node_modules/@napi-rs/cli ] || npm install --no-audit --no-fund >&2
  npx napi build --platform --release >&2
  cargo build --release -p imsync-server >&2
fi

# Private copies, taken from the release output directories (only release builds write there;
# the work tree's imsync.*.node may be replaced by anyone's debug build at any moment).
lib=""
for f in "$target_dir/$host/release/libimsync.so" "$target_dir/$host/release/libimsync.dylib" "$target_dir/$host/release/imsync.dll" \
  "$target_dir/release/libimsync.so" "$target_dir/release/libimsync.dylib" "$target_dir/release/imsync.dll"; do
  if [ -f "$f" ]; then lib="$f"; break; fi
done
[ -n "$lib" ] || { echo "no release build of the addon under $target_dir" >&2; exit 1; }
cp "$lib" "$work/imsync.node"
server="$target_dir/release/imsync-server"
[ -x "$server" ] || { echo "no release build of imsync-server at $server" >&2; exit 1; }
cp "$server" "$work/imsync-server"
export NAPI_RS_NATIVE_LIBRARY_PATH="$work/imsync.node"
export IMSYNC_SERVER_BIN="$work/imsync-server"

echo "== benches/sync.js" >&2
SYNC_OUT="$work/sync.json" node --expose-gc benches/sync.js
echo "== benches/bridge.js" >&2
BRIDGE_OUT="$work/bridge.json" node benches/bridge.js

# The raw figures are kept beside the report (regenerate it with the same command).
results="${SYNC_RESULTS_JSON_DIR:-$root/benches/sync-results}"
mkdir -p "$results"
cp "$work/sync.json" "$results/sync.json"
cp "$work/bridge.json" "$results/bridge.json"
printf '{ "commit": "%s", "dirty": "%s" }\n' "$commit" "$dirty" >"$results/build.json"
SYNC_COMMIT="$commit" SYNC_DIRTY="$dirty" node benches/sync-lib/report.js "$results/sync.json" "$results/bridge.json" >"$work/report.md"
cp "$work/report.md" "$out"
echo "== wrote ${out#"$root"/} (raw figures in ${results#"$root"/}/)" >&2
