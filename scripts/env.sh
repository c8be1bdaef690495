# Sourced by the project's scripts: where the mediasoup worker binary lives (built once, cached by version).
DIEMCAU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MEDIASOUP_VERSION="$(node -p "require('$DIEMCAU_ROOT/package.json').dependencies.mediasoup")"
DIEMCAU_CACHE="${DIEMCAU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diemcau}"
# "-srtp-openssl": libsrtp built from source against OpenSSL (scripts/build-worker.sh), not Debian's NSS one.
export MEDIASOUP_WORKER_BIN="${MEDIASOUP_WORKER_BIN:-$DIEMCAU_CACHE/mediasoup-worker-$MEDIASOUP_VERSION-srtp-openssl}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
