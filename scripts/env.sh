# Sourced by the project's scripts: where the mediasoup worker binary lives (built once, cached by version).
DIEMCAU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MEDIASOUP_VERSION="$(node -p "require('$DIEMCAU_ROOT/package.json').dependencies.mediasoup")"
DIEMCAU_CACHE="${DIEMCAU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diemcau}"
# The flavour names what scripts/build-worker.sh changes from upstream (the recipe's hash below
# keeps a changed build from running an old binary; the flavour is the name people read):
# d2 = libsrtp from source against OpenSSL (not Debian's NSS build) + one keyframe request per switch;
# d3 = d2 + a pipe consumer asks for the keyframe of the layer asked for only (not all layers);
# d4 = d3 + cheaper forwarding: libsrtp's AES-GCM IV and tag, the RTC logger's fills compiled
#      out, retransmission buffer items from a free list (docs/benchmarks.md, bench:instructions).
# d5 = d4 + receive and send buffers of DIEMCAU_UDP_BUFFER_BYTES on the worker's UDP sockets
#      (scripts/worker-patches/udp-socket-buffers.patch).
# d7 = d5 + a pipe producer's keyframe request leaves with a receiver report, and the pipe consumer
#      drops a request made before the keyframe it sent arrived (one keyframe per switch across a
#      pipe; scripts/worker-patches/pipe-keyframe-request-report.patch).
# (d6, not built: d5 + a loop turn's datagrams leave in one sendmmsg() per socket instead of
#  one sendmsg() each, scripts/worker-patches/candidates/udp-socket-sendmmsg.patch. Measured on
#  2026-12-07 against d5 (docs/benchmarks.md): no clear saving in bench:fanout, whose consumers
#  each have a socket of their own, and 42 MB more memory. To try it now: copy the patch into
#  scripts/worker-patches/ and name the flavour d8 (d7 + sendmmsg: every patch file there is
#  applied), then run scripts/setup.sh.)
DIEMCAU_WORKER_FLAVOUR=d7
# The worker's UDP socket buffers (SO_RCVBUF and SO_SNDBUF, each; the kernel caps them at
# net.core.rmem_max / wmem_max, which scripts/setup.sh raises to this where they are lower).
# Compiled into the worker by scripts/build-worker.sh.
export DIEMCAU_UDP_BUFFER_BYTES=4194304
# The binary's cache key also carries a hash of what builds it (the build script, its patch files
# and the buffer size), so that a changed recipe never runs an old binary from the cache: a clean
# clone, another branch, CI.
DIEMCAU_WORKER_RECIPE="$( { cat "$DIEMCAU_ROOT/scripts/build-worker.sh" "$DIEMCAU_ROOT"/scripts/worker-patches/*.patch; echo "udp-buffer-bytes=$DIEMCAU_UDP_BUFFER_BYTES"; } | sha256sum | cut -c1-12)"
export MEDIASOUP_WORKER_BIN="${MEDIASOUP_WORKER_BIN:-$DIEMCAU_CACHE/mediasoup-worker-$MEDIASOUP_VERSION-$DIEMCAU_WORKER_FLAVOUR-$DIEMCAU_WORKER_RECIPE}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
