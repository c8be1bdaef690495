#!/usr/bin/env bash
# Builds the mediasoup worker from the sources inside node_modules/mediasoup against Debian's own
# libraries, with diemcau's patches (inline below, and the files in scripts/worker-patches/). The
# binary is cached by scripts/env.sh's key: mediasoup version, flavour, and a hash of this script,
# the patch files and the socket buffer size. The one source it fetches is libsrtp2's, from the
# Debian archive (see below).
# Usage: scripts/build-worker.sh <output-binary-path>
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
source "$here/scripts/env.sh" # DIEMCAU_UDP_BUFFER_BYTES
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

# The patch files (scripts/worker-patches/*.patch, against the worker's sources), each applied once:
# one already in the tree is left as it is (`git apply` works outside a repository too).
for patch in "$here"/scripts/worker-patches/*.patch; do
  if git apply --reverse --check "$patch" 2>/dev/null; then
    echo "build-worker: $(basename "$patch") already applied"
  else
    git apply "$patch" || { echo "build-worker: $(basename "$patch") does not apply: review it against this mediasoup" >&2; exit 1; }
    echo "build-worker: $(basename "$patch") applied"
  fi
done

# Cheaper forwarding, each counted by bench:instructions (docs/benchmarks.md has the before and
# after). The RTC logger: mediasoup 3.12 fills its per-packet trace record (five std::string
# copies and clears per packet sent) even when it is compiled out (MS_RTC_LOGGER_RTP, off);
# the fills are guarded by the same macro, as mediasoup's later releases do.
python3 - <<'PY'
import re, sys
root = "."
files = ["Transport.cpp", "Router.cpp", "Producer.cpp", "SimpleConsumer.cpp", "SimulcastConsumer.cpp", "SvcConsumer.cpp", "PipeConsumer.cpp"]
stmt = re.compile(r"^([ \t]*)(packet->logger\.[^;]*;)[ \t]*\n", re.M)
total = 0
for name in files:
    p = f"{root}/src/RTC/{name}"
    s = open(p).read()
    def wrap(m):
        before = s[:m.start()].rstrip().splitlines()[-1].strip()
        assert before.endswith(("{", ";", "}")) or before.startswith("//"), f"{name}: logger call after {before!r}: review the RtcLogger patch"
        return f"#ifdef MS_RTC_LOGGER_RTP\n{m.group(1)}{m.group(2)}\n#endif\n"
    s2, n = stmt.subn(wrap, s)
    assert n > 0, f"{name}: no RtcLogger call found: review the RtcLogger patch"
    total += n
    open(p, "w").write(s2)
assert "packet->logger." not in re.sub(r"#ifdef MS_RTC_LOGGER_RTP\n.*?\n#endif\n", "", "".join(open(f"{root}/src/RTC/{f}").read() for f in files), flags=re.S), "an RtcLogger call left unguarded"
print(f"RtcLogger: {total} calls guarded")
PY

# The retransmission buffer: one Item allocated and one freed per packet sent to a consumer;
# they now come from a free list.
python3 - src/RTC/RtpRetransmissionBuffer.cpp <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
anchor = """namespace RTC
{
	/* Instance methods. */
"""
pool = """namespace RTC
{
	/* diemcau: items come from a free list instead of operator new/delete: every packet sent
	 * to a consumer is stored once and one older item is dropped, so one allocation and one
	 * free per forwarded packet were 2-3 % of the worker's instructions (bench:instructions).
	 * Items are reset before they are released; the list keeps at most MaxFreeItems. */
	namespace
	{
		constexpr size_t MaxFreeItems{ 16384u };
		thread_local std::vector<RtpRetransmissionBuffer::Item*> FreeItems;

		inline RtpRetransmissionBuffer::Item* NewItem()
		{
			if (FreeItems.empty())
				return new RtpRetransmissionBuffer::Item();

			auto* item = FreeItems.back();

			FreeItems.pop_back();

			return item;
		}

		inline void ReleaseItem(RtpRetransmissionBuffer::Item* item)
		{
			if (FreeItems.size() < MaxFreeItems)
				FreeItems.push_back(item);
			else
				delete item;
		}
	} // namespace

	/* Instance methods. */
"""
assert s.count(anchor) == 1 and s.count("new Item()") == 6 and s.count("delete item;") == 2, "RtpRetransmissionBuffer.cpp changed: review the item pool patch"
s = s.replace("new Item()", "NewItem()").replace("delete item;", "ReleaseItem(item);").replace(anchor, pool)
if "#include <vector>" not in s:
    s = s.replace('#include "RTC/SeqManager.hpp"\n', '#include "RTC/SeqManager.hpp"\n#include <vector>\n')
open(p, "w").write(s)
print("RtpRetransmissionBuffer: items from a free list")
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
# libsrtp's AES-GCM on OpenSSL 3 (bench:instructions): per packet it set the IV length and
# re-initialised the cipher with the IV (OpenSSL then asks the provider for the IV length through
# its parameter lookup), and read the tag through a legacy control. Patched: the IV alone is set
# when key and direction are unchanged; the tag is read from the provider directly.
python3 - "$sub/libsrtp-2.5.0/crypto/cipher/aes_gcm_ossl.c" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old_inc = '#include <openssl/evp.h>\n'
new_inc = old_inc + '#include <openssl/core_names.h>\n#include <openssl/params.h>\n'
old = """    c->dir = direction;

    debug_print(srtp_mod_aes_gcm, "setting iv: %s",
                srtp_octet_string_hex_string(iv, 12));

    if (!EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_IVLEN, 12, 0)) {
"""
new = """
    debug_print(srtp_mod_aes_gcm, "setting iv: %s",
                srtp_octet_string_hex_string(iv, 12));

    /* diemcau: the same key and direction as the last packet: only the IV
     * changes. OpenSSL 3's EVP_CipherInit_ex asks the provider for the IV
     * length through its parameter lookup on every call, and the IV length
     * was set again on every packet: a third of the worker's AES-GCM cost per
     * packet. The whole 12-byte IV given as the fixed IV with length -1 (the
     * provider's special case: restore the whole IV) is buffered and applied
     * at the next update, as EVP_CipherInit_ex does. */
    if (c->dir == direction) {
        OSSL_PARAM params[2];
        params[0] = OSSL_PARAM_construct_octet_string(
            OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, iv, (size_t)-1);
        params[1] = OSSL_PARAM_construct_end();
        if (!EVP_CIPHER_CTX_set_params(c->ctx, params)) {
            return (srtp_err_status_init_fail);
        }
        return (srtp_err_status_ok);
    }
    c->dir = direction;

    if (!EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_SET_IVLEN, 12, 0)) {
"""
assert s.count(old_inc) == 1 and s.count(old) == 1, "aes_gcm_ossl.c changed: review the GCM IV patch"
s = s.replace(old_inc, new_inc).replace(old, new)
open(p, "w").write(s)
print("libsrtp: GCM IV without re-initialising the cipher")
PY
python3 - "$sub/libsrtp-2.5.0/crypto/cipher/aes_gcm_ossl.c" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
old = """    /*
     * Retreive the tag
     */
    if (!EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_GCM_GET_TAG, c->tag_len, buf)) {
        return (srtp_err_status_algo_fail);
    }
"""
new = """    /*
     * Retreive the tag (diemcau: from the provider directly, without the
     * legacy control's translation into the same parameter)
     */
    {
        OSSL_PARAM params[2];
        params[0] = OSSL_PARAM_construct_octet_string(
            OSSL_CIPHER_PARAM_AEAD_TAG, buf, c->tag_len);
        params[1] = OSSL_PARAM_construct_end();
        if (!EVP_CIPHER_CTX_get_params(c->ctx, params)) {
            return (srtp_err_status_algo_fail);
        }
    }
"""
assert s.count(old) == 1 and "openssl/core_names.h" in s, "aes_gcm_ossl.c changed: review the GCM tag patch"
open(p, "w").write(s.replace(old, new))
print("libsrtp: GCM tag read from the provider")
PY
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

# The socket buffer size the UDP patch sets, from scripts/env.sh (the patch refuses to build without it).
meson setup build --buildtype release -Db_ndebug=true --wrap-mode=nodownload "-Dcpp_args=-DDIEMCAU_UDP_BUFFER_BYTES=$DIEMCAU_UDP_BUFFER_BYTES" >"$work/meson-setup.log" 2>&1 \
  || { tail -40 "$work/meson-setup.log" >&2; exit 1; }
ninja -C build mediasoup-worker >"$work/ninja.log" 2>&1 || { tail -60 "$work/ninja.log" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
cp build/mediasoup-worker "$out.tmp" && mv "$out.tmp" "$out"
echo "build-worker: built $out"
