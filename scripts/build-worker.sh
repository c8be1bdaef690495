#!/usr/bin/env bash
# Builds the mediasoup worker from the sources inside node_modules/mediasoup against Debian's own
# libraries (no downloads), and caches the binary keyed by mediasoup version.
# Usage: scripts/build-worker.sh <output-binary-path>
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
src="$here/node_modules/mediasoup/worker"
[ -d "$src" ] || { echo "build-worker: $src missing (run npm ci first)" >&2; exit 1; }
work="$(mktemp -d /tmp/diemcau-worker.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/worker"
cd "$work/worker"
# Debian 12 ships meson 1.0.1; the worker builds fine with it.
sed -i "s/meson_version: '>= 1.1.0'/meson_version: '>= 1.0.0'/" meson.build

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
stub libsrtp-2.5.0
cat > $sub/libsrtp-2.5.0/meson.build <<'M'
project('libsrtp2', 'c')
libsrtp2_dep = declare_dependency(dependencies: dependency('libsrtp2'), compile_args: ['-I/usr/include/srtp2'])
libsrtp2 = static_library('stub_srtp', 'empty.c')
M
cat > $sub/libsrtp-2.5.0/meson_options.txt <<'M'
option('crypto-library', type: 'combo', choices: ['none', 'openssl', 'nss', 'mbedtls'], value: 'none')
option('crypto-library-kdf', type: 'feature', value: 'auto')
option('tests', type: 'feature', value: 'auto')
M
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
