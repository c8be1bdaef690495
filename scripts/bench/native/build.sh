#!/usr/bin/env bash
# Builds the benchmarks' native helpers (rtp-sink, rtp-gen, slow-clock.so for bench:instructions) with Debian's C compiler against OpenSSL's
# libcrypto, into the cache, keyed by a hash of its sources so that a changed source rebuilds.
# Prints the directory that holds them. Called by scripts/setup.sh and, if the binary is missing, by the
# harness (scripts/bench/fanout/native-sink.ts).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${DIEMCAU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diemcau}/bench-native"
hash="$(cat "$here"/*.c "$here"/*.h "$here/build.sh" | sha256sum | cut -c1-12)"
out="$cache/$hash"
if [ ! -x "$out/rtp-sink" ] || [ ! -x "$out/rtp-gen" ] || [ ! -f "$out/slow-clock.so" ]; then
  mkdir -p "$out"
  for prog in rtp-sink rtp-gen; do
    cc -O2 -g -std=gnu11 -Wall -Wextra -Wno-deprecated-declarations -o "$out/$prog.tmp.$$" "$here/$prog.c" "$here/srtp.c" -lcrypto -lm
    mv "$out/$prog.tmp.$$" "$out/$prog"
  done
  cc -O2 -shared -fPIC -Wall -o "$out/slow-clock.so.tmp.$$" "$here/slow-clock.c" -ldl
  mv "$out/slow-clock.so.tmp.$$" "$out/slow-clock.so"
fi
echo "$out"
