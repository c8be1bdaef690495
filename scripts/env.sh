# Sourced by the project's scripts: where the mediasoup worker binary lives (built once, cached by version).
DIEMCAU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MEDIASOUP_VERSION="$(node -p "require('$DIEMCAU_ROOT/package.json').dependencies.mediasoup")"
DIEMCAU_CACHE="${DIEMCAU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diemcau}"
# The flavour names what scripts/build-worker.sh changes from upstream; bump it when that changes:
# d2 = libsrtp from source against OpenSSL (not Debian's NSS build) + one keyframe request per switch;
# d3 = d2 + a pipe consumer asks for the keyframe of the layer asked for only (not all layers);
# d4 = d3 + cheaper forwarding: libsrtp's AES-GCM IV and tag, the RTC logger's fills compiled
#      out, retransmission buffer items from a free list (docs/benchmarks.md, bench:instructions).
DIEMCAU_WORKER_FLAVOUR=d4
export MEDIASOUP_WORKER_BIN="${MEDIASOUP_WORKER_BIN:-$DIEMCAU_CACHE/mediasoup-worker-$MEDIASOUP_VERSION-$DIEMCAU_WORKER_FLAVOUR}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
