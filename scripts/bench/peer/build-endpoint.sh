#!/usr/bin/env bash
# Builds bench:peer's native WebRTC endpoint (endpoint.c, against Debian's OpenSSL) once per
# version of its source, into the project's cache, and prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../../env.sh"
src="$here/endpoint.c"
hash="$(sha256sum "$src" | cut -c1-12)"
bin="$DIEMCAU_CACHE/bench-peer-endpoint-$hash"
if [ ! -x "$bin" ]; then
  mkdir -p "$DIEMCAU_CACHE"
  cc -O2 -Wall -Wextra -Werror -o "$bin.tmp.$$" "$src" -lssl -lcrypto
  mv "$bin.tmp.$$" "$bin"
fi
echo "$bin"
