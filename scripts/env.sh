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
#  scripts/worker-patches/ and name the flavour d9 (d8 + sendmmsg: every patch file there is
#  applied), then run scripts/setup.sh.)
# d8 = d7 + a producer's receiver reports tell the sender what it lost on its uplink, soon: a hall
#      reads its microphone's uplink losses from them (client/shared/audioFirst.ts), and losses
#      reported after its link recovered failed its trial back to video (bench:weaklink
#      2026-12-07 19:51: video back 13.86 s after the recovery, goal 10). An audio producer's
#      reports go every 1-1.5 s like a video producer's, not every 5-6 s
#      (audio-receiver-report-interval.patch); their cumulative count is the SFU's own losses,
#      no longer raised by a listener's stale fraction lost, which kept it rising 10 s after the
#      SFU's own count had stopped (receiver-report-own-losses.patch; docs/benchmarks.md).
DIEMCAU_WORKER_FLAVOUR=d8
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
