#!/usr/bin/env bash
# Control run of BENCHMARKS.md "Encryption cost": the same plain-SQLite workload (100,000 rows
# in 500-row transactions into a table + a trigram FTS5 index, then 400 MATCH queries) on
# stock SQLite (libsqlite3-sys's bundled amalgamation) and on SQLCipher's amalgamation built
# the way libsqlite3-sys builds it, without and with a key — so a difference in imsync's plain
# figures can be told apart from the switch to SQLCipher. Needs gcc and the crates' sources
# in the cargo registry (any cargo build has fetched them) and a release build of the addon
# (for the vendored OpenSSL): npx napi build --platform --release.
set -euo pipefail
cd "$(dirname "$0")/.."
reg="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/ | head -1)"
stock="$(ls -d "$reg"libsqlite3-sys-0.39.*/sqlite3 | tail -1)"
cipher="$(ls -d "$reg"sqlcipher-src-*/sqlcipher | tail -1)"
ossl="$(ls -d target/*/release/build/openssl-sys-*/out/openssl-build/install target/release/build/openssl-sys-*/out/openssl-build/install 2>/dev/null | head -1 || true)"
[ -n "$ossl" ] || { echo "no vendored OpenSSL build: run npx napi build --platform --release first" >&2; exit 1; }
out="${TMPDIR:-/tmp}/imsync-sqlcipher-control"
mkdir -p "$out/stock" "$out/cipher"
cp "$stock/sqlite3.h" "$out/stock/"
cp "$cipher/sqlite3.h" "$out/cipher/"
flags=(-O3 -DSQLITE_CORE -DSQLITE_DEFAULT_FOREIGN_KEYS=1 -DSQLITE_ENABLE_API_ARMOR
  -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_FTS3
  -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_JSON1
  -DSQLITE_ENABLE_LOAD_EXTENSION=1 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_STAT4 -DSQLITE_SOUNDEX
  -DSQLITE_THREADSAFE=1 -DSQLITE_USE_URI -DHAVE_USLEEP=1 -DHAVE_ISNAN -D_POSIX_THREAD_SAFE_FUNCTIONS)
gcc "${flags[@]}" -I"$out/stock" benches/sqlcipher-control.c "$stock/sqlite3.c" -o "$out/bench-stock" -lpthread -ldl -lm
gcc "${flags[@]}" -DSQLITE_HAS_CODEC -DSQLITE_TEMP_STORE=2 -DSQLITE_EXTRA_INIT=sqlcipher_extra_init \
  -DSQLITE_EXTRA_SHUTDOWN=sqlcipher_extra_shutdown -DHAVE_STDINT_H=1 -DSQLCIPHER_CRYPTO_OPENSSL \
  -I"$out/cipher" -I"$ossl/include" benches/sqlcipher-control.c "$cipher/sqlcipher.c" \
  -o "$out/bench-cipher" "$ossl"/lib*/libcrypto.a -lpthread -ldl -lm
for run in 1 2 3; do
  echo "== run $run (load $(cut -d' ' -f1 /proc/loadavg))"
  echo -n "stock SQLite     "; "$out/bench-stock" "$out/s.db" 100000
  echo -n "SQLCipher, plain "; "$out/bench-cipher" "$out/c.db" 100000
  echo -n "SQLCipher, key   "; "$out/bench-cipher" "$out/k.db" 100000 control-passphrase
done
rm -rf "$out"
