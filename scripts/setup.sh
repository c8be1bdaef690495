#!/usr/bin/env bash
# One setup path for the README, the tests and CI. Idempotent; fast the second time.
#  1. Debian packages: Chromium, redis-server, ffmpeg, the mediasoup worker's build dependencies,
#     the network rig's tools (iproute2, nftables) and the TURN server (coturn, openssl for its certificate),
#     a font with every Vietnamese letter (Noto Sans, for the pages and the feed's burned-in text),
#     GStreamer (an RTP and SRTP sender other than ffmpeg, for the hardware-hall tests) and Prometheus's
#     promtool (the /metrics test), Janus and valgrind (bench:peer).
#  2. npm ci (the worker path comes from the environment, so mediasoup downloads nothing), and the
#     better-sqlite3 addon built against this Node (cached by version).
#  3. The mediasoup worker, built from the npm package against Debian's libraries (libsrtp from
#     Debian's source tarball, against OpenSSL), cached by version and recipe (scripts/env.sh);
#     net.core.rmem_max / wmem_max raised to the worker's UDP socket buffers where lower.
#  4. bench:peer's native WebRTC endpoint (a small C program against OpenSSL), and the browser bundle.
#  5. The benchmarks' native helpers (scripts/bench/native: rtp-gen, rtp-sink), cached by source hash.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

APT_PACKAGES=(chromium fonts-liberation redis-server ffmpeg meson ninja-build pkg-config g++ libuv1-dev libssl-dev
  libabsl-dev libusrsctp-dev nlohmann-json3-dev curl ca-certificates util-linux procps tcpdump
  iproute2 nftables coturn openssl make python3 fonts-noto-core gstreamer1.0-tools gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad prometheus janus gcc valgrind git strace)
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The project starts its own coturn (DIEMCAU_COTURN=1) with its own configuration: the system
  # service Debian enables on install would hold port 3478 with an unconfigured one.
  if [[ " ${missing[*]} " == *" coturn "* ]] && [ -d /run/systemd/system ]; then
    echo "setup: disabling the coturn system service (the server starts its own when asked)"
    $SUDO systemctl disable --now coturn >/dev/null 2>&1 || true
  fi
  # Only promtool is used (the tests lint /metrics); the Prometheus server Debian enables is not.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  # bench:peer runs Janus as a plain process of its own; not the service the package may start.
  if [[ " ${missing[*]} " == *" janus "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now janus >/dev/null 2>&1 || true
  fi
fi

# The mediasoup worker asks for DIEMCAU_UDP_BUFFER_BYTES (scripts/env.sh) of receive and send
# buffer on each UDP socket (scripts/worker-patches/udp-socket-buffers.patch); the kernel gives a
# socket at most net.core.rmem_max / wmem_max (Debian's default: 208 KB, about 90 datagrams).
# Raised here where lower, until the next boot (a deployment's media hosts set it in
# /etc/sysctl.d: README, "Deploying on several hosts"); where it cannot be, the worker runs with less.
for key in net.core.rmem_max net.core.wmem_max; do
  now="$(sysctl -n "$key" 2>/dev/null || echo 0)"
  if [ "$now" -lt "$DIEMCAU_UDP_BUFFER_BYTES" ]; then
    echo "setup: raising $key from $now to $DIEMCAU_UDP_BUFFER_BYTES (the mediasoup worker's UDP socket buffers)"
    $SUDO sysctl -q -w "$key=$DIEMCAU_UDP_BUFFER_BYTES" || echo "setup: could not raise $key: the worker's UDP sockets get $now bytes" >&2
  fi
done

stamp=node_modules/.diemcau-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# better-sqlite3 (the embedded durable store) is a native addon: npm may skip its install script,
# and its prebuilt binaries come from outside the registry. Built here against this Node's headers
# (Debian's nodejs ships them), cached by version and Node ABI.
SQLITE_ADDON=node_modules/better-sqlite3/build/Release/better_sqlite3.node
SQLITE_CACHE="$DIEMCAU_CACHE/better_sqlite3-$(node -p "require('./node_modules/better-sqlite3/package.json').version")-abi$(node -p process.versions.modules).node"
if ! node -e "new (require('better-sqlite3'))(':memory:').close()" >/dev/null 2>&1; then
  if [ -f "$SQLITE_CACHE" ]; then
    mkdir -p "$(dirname "$SQLITE_ADDON")" && cp "$SQLITE_CACHE" "$SQLITE_ADDON"
  else
    echo "setup: building better-sqlite3 (about 2 minutes on 2 cores)"
    build_log="$(mktemp)"
    (cd node_modules/better-sqlite3 && npm run build-release --loglevel=error) >"$build_log" 2>&1 || { cat "$build_log"; exit 1; }
    rm -f "$build_log"
  fi
  node -e "new (require('better-sqlite3'))(':memory:').close()"
fi
if [ ! -f "$SQLITE_CACHE" ]; then mkdir -p "$DIEMCAU_CACHE" && cp "$SQLITE_ADDON" "$SQLITE_CACHE"; fi

if [ ! -x "$MEDIASOUP_WORKER_BIN" ]; then
  echo "setup: building mediasoup worker $MEDIASOUP_VERSION (about 3 minutes on 2 cores)"
  bash scripts/build-worker.sh "$MEDIASOUP_WORKER_BIN"
fi

bash scripts/bench/peer/build-endpoint.sh >/dev/null
node scripts/build-client.mjs
echo "setup: bench helpers in $(bash scripts/bench/native/build.sh)"
echo "setup: ready (worker: $MEDIASOUP_WORKER_BIN)"
