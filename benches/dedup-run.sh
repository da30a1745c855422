#!/usr/bin/env bash
# setCheckDuplicateMessage at scale (issue 11): builds the addon and imsync-server in release
# (into the target directory, without replacing the work tree's debug addon) and runs
# benches/dedup.js on private copies of both. Needs only Rust, Node 18+ and npm.
#
#   bash benches/dedup-run.sh                                             # 1,000,000 stored, 20,000 pulled, 3 rounds
#   DEDUP_PREFILL=100000 DEDUP_MESSAGES=5000 bash benches/dedup-run.sh    # quick
set -euo pipefail
cd "$(dirname "$0")/.."
host="$(rustc -vV | sed -n 's/^host: //p')"
work="$(mktemp -d "${TMPDIR:-/tmp}/imsync-dedup-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [ -z "${DEDUP_SKIP_BUILD:-}" ]; then
  cargo build --release --quiet --target "$host" -p imsync -p imsync-server
fi
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s).target_directory))')"
cp "$target_dir/$host/release/libimsync.so" "$work/imsync.node"
cp "$target_dir/$host/release/imsync-server" "$work/imsync-server"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >&2
NAPI_RS_NATIVE_LIBRARY_PATH="$work/imsync.node" IMSYNC_SERVER_BIN="$work/imsync-server" node benches/dedup.js
