#!/usr/bin/env bash
# One setup path for the README, the tests and CI. Idempotent; fast the second time.
#  1. Debian packages: Chromium, redis-server, ffmpeg, the mediasoup worker's build dependencies.
#  2. npm ci (the worker path comes from the environment, so mediasoup downloads nothing).
#  3. The mediasoup worker, built from the npm package against Debian's libraries (libsrtp from
#     Debian's source tarball, against OpenSSL), cached by version.
#  4. The browser bundle.
#  5. The benchmarks' native helpers (scripts/bench/native: rtp-gen, rtp-sink), cached by source hash.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

APT_PACKAGES=(chromium fonts-liberation redis-server ffmpeg meson ninja-build pkg-config g++ libuv1-dev libssl-dev
  libabsl-dev libusrsctp-dev nlohmann-json3-dev curl ca-certificates util-linux procps tcpdump gcc valgrind)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp=node_modules/.diemcau-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

if [ ! -x "$MEDIASOUP_WORKER_BIN" ]; then
  echo "setup: building mediasoup worker $MEDIASOUP_VERSION (about 3 minutes on 2 cores)"
  bash scripts/build-worker.sh "$MEDIASOUP_WORKER_BIN"
fi

node scripts/build-client.mjs
echo "setup: bench helpers in $(bash scripts/bench/native/build.sh)"
echo "setup: ready (worker: $MEDIASOUP_WORKER_BIN)"
