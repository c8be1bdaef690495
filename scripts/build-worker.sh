#!/usr/bin/env bash
# Builds the mediasoup worker from the sources inside node_modules/mediasoup against Debian's own
# libraries, and caches the binary keyed by mediasoup version. The one source it fetches is
# libsrtp2's, from the Debian archive (see below).
# Usage: scripts/build-worker.sh <output-binary-path>
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
srtp_cache="${DIEMCAU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/diemcau}/src"
src="$here/node_modules/mediasoup/worker"
[ -d "$src" ] || { echo "build-worker: $src missing (run npm ci first)" >&2; exit 1; }
work="$(mktemp -d /tmp/diemcau-worker.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/worker"
cd "$work/worker"
# Debian 12 ships meson 1.0.1; the worker builds fine with it.
sed -i "s/meson_version: '>= 1.1.0'/meson_version: '>= 1.0.0'/" meson.build

# One keyframe per switch: mediasoup's KeyFrameRequestManager, with keyFrameRequestDelay > 0,
# remembers any request made during the delay and sends a second PLI when the delay ends, even
# when the keyframe asked for arrived in between. A switch resumes 211 consumers at once, so every
# switch cost the speaker two keyframe requests 350 ms apart (bench:fanout). Patched: a keyframe
# received clears the remembered request; a consumer asking after the keyframe still gets one.
python3 - src/RTC/KeyFrameRequestManager.cpp <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = """void RTC::KeyFrameRequestManager::KeyFrameReceived(uint32_t ssrc)
{
	MS_TRACE();
"""
new = old + """
	// diemcau: the keyframe answers every request made before it.
	auto itDelayer = this->mapSsrcKeyFrameRequestDelayer.find(ssrc);

	if (itDelayer != this->mapSsrcKeyFrameRequestDelayer.end())
		itDelayer->second->SetKeyFrameRequested(false);
"""
assert s.count(old) == 1, "KeyFrameRequestManager.cpp changed: review the keyframe patch"
open(p, "w").write(s.replace(old, new))
PY

# One keyframe per switch with more than one worker: a PipeConsumer that receives a PLI/FIR for
# one stream asks the producer for a keyframe on every simulcast layer, so each switch to a
# speaker piped to the other worker cost the speaker three keyframes (L2, L0, L1; bench:fanout
# --workers 2). Patched: it asks for the layer that was asked for (the stream's mapped SSRC).
python3 - src/RTC/PipeConsumer.cpp <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = """		rtpStream->ReceiveKeyFrameRequest(messageType);

		if (IsActive())
			RequestKeyFrame();
	}
"""
new = """		rtpStream->ReceiveKeyFrameRequest(messageType);

		// diemcau: only the layer that was asked for, not every layer.
		if (IsActive() && this->kind == RTC::Media::Kind::VIDEO)
		{
			for (auto& kv : this->mapMappedSsrcSsrc)
			{
				if (kv.second == ssrc)
					this->listener->OnConsumerKeyFrameRequested(this, kv.first);
			}
		}
	}
"""
assert s.count(old) == 1, "PipeConsumer.cpp changed: review the keyframe patch"
open(p, "w").write(s.replace(old, new))
PY

sub=subprojects
stub() { # stub DIR: a folder meson uses instead of downloading the wrap
  rm -rf "$sub/$1"; mkdir -p "$sub/$1"; : > "$sub/$1/empty.c"; : > "$sub/$1/meson_options.txt"
}
stub openssl-3.0.8
cat > $sub/openssl-3.0.8/meson.build <<'M'
project('openssl', 'c')
openssl_dep = dependency('openssl')
libcrypto_dep = dependency('libcrypto')
libssl_dep = dependency('libssl')
libcrypto_lib = static_library('stub_crypto', 'empty.c')
libssl_lib = static_library('stub_ssl', 'empty.c')
M
stub nlohmann_json-3.10.5
cat > $sub/nlohmann_json-3.10.5/meson.build <<'M'
project('nlohmann_json', 'cpp')
nlohmann_json_dep = dependency('nlohmann_json')
M
stub libuv-v1.44.2
cat > $sub/libuv-v1.44.2/meson.build <<'M'
project('libuv', 'c')
libuv_dep = dependency('libuv')
libuv = static_library('stub_uv', 'empty.c')
M
cat > $sub/libuv-v1.44.2/meson_options.txt <<'M'
option('build_tests', type: 'boolean', value: false)
option('build_benchmarks', type: 'boolean', value: false)
M
# libsrtp is built from source with OpenSSL, as mediasoup builds it upstream. Debian's
# libsrtp2-1 uses NSS, whose PKCS#11 layer took ~40% of the worker's CPU per packet in
# bench:fanout (perf: libsoftokn3, libfreeblpriv3, mutexes) against ~5% for the crypto itself.
# The source is Debian's own orig tarball of libsrtp2 2.5.0 (the same bytes as upstream v2.5.0,
# the hash in mediasoup's wrap file), fetched from the Debian archive once and cached.
srtp_tar="$srtp_cache/libsrtp2_2.5.0.orig.tar.gz"
srtp_sha=8a43ef8e9ae2b665292591af62aa1a4ae41e468b6d98d8258f91478735da4e09
if ! echo "$srtp_sha  $srtp_tar" | sha256sum -c --status 2>/dev/null; then
  mkdir -p "$srtp_cache"
  curl -fsSL --retry 3 -o "$srtp_tar.tmp" http://deb.debian.org/debian/pool/main/libs/libsrtp2/libsrtp2_2.5.0.orig.tar.gz
  echo "$srtp_sha  $srtp_tar.tmp" | sha256sum -c --status || { echo "build-worker: libsrtp2 source hash mismatch" >&2; exit 1; }
  mv "$srtp_tar.tmp" "$srtp_tar"
fi
rm -rf "$sub/libsrtp-2.5.0"
tar -xzf "$srtp_tar" -C "$sub"
[ -f "$sub/libsrtp-2.5.0/meson.build" ] || { echo "build-worker: libsrtp-2.5.0/meson.build missing" >&2; exit 1; }
stub usrsctp-4e06feb01cadcd127d119486b98a4bd3d64aa1e7
cat > $sub/usrsctp-4e06feb01cadcd127d119486b98a4bd3d64aa1e7/meson.build <<'M'
project('usrsctp', 'c')
cc = meson.get_compiler('c')
usrsctp_dep = dependency('usrsctp', required: false)
if not usrsctp_dep.found()
  usrsctp_dep = cc.find_library('usrsctp')
endif
usrsctp = static_library('stub_usrsctp', 'empty.c')
M
cat > $sub/usrsctp-4e06feb01cadcd127d119486b98a4bd3d64aa1e7/meson_options.txt <<'M'
option('sctp_build_programs', type: 'boolean', value: false)
M
stub abseil-cpp-20220623.0
cat > $sub/abseil-cpp-20220623.0/meson.build <<'M'
project('abseil-cpp', 'c', 'cpp')
absl_deps = []
foreach m : ['absl_flat_hash_map', 'absl_strings', 'absl_optional', 'absl_variant', 'absl_span', 'absl_bad_optional_access', 'absl_bad_variant_access']
  absl_deps += dependency(m)
endforeach
absl_container_dep = declare_dependency(dependencies: absl_deps)
absl_strings_dep = absl_container_dep
absl_types_dep = absl_container_dep
absl_container_lib = static_library('stub_absl', 'empty.c')
M
stub Catch2-2.13.7
cat > $sub/Catch2-2.13.7/meson.build <<'M'
project('catch2', 'cpp')
catch2_dep = declare_dependency()
M

meson setup build --buildtype release -Db_ndebug=true --wrap-mode=nodownload >"$work/meson-setup.log" 2>&1 \
  || { tail -40 "$work/meson-setup.log" >&2; exit 1; }
ninja -C build mediasoup-worker >"$work/ninja.log" 2>&1 || { tail -60 "$work/ninja.log" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
cp build/mediasoup-worker "$out.tmp" && mv "$out.tmp" "$out"
echo "build-worker: built $out"
