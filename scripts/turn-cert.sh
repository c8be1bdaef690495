#!/usr/bin/env bash
# A self-signed certificate for TURN over TLS (tests, trials): scripts/turn-cert.sh DIR [NAME]
# writes DIR/turn.crt and DIR/turn.key (kept if they exist), and DIR/turn.spki: the base64 SHA-256
# of its public key, for a test browser's --ignore-certificate-errors-spki-list (browsers check the
# TURN server's certificate like a web site's). NAME is the address or host name in
# the hall's `turns:` URL (default: this host's name). A deployment uses a real certificate for
# that name instead (DIEMCAU_TURN_CERT, DIEMCAU_TURN_KEY), e.g. the TLS proxy's Let's Encrypt one.
set -euo pipefail
dir="${1:?usage: turn-cert.sh DIR [NAME]}"
name="${2:-$(hostname -f 2>/dev/null || hostname)}"
mkdir -p "$dir"
spki() { openssl x509 -in "$dir/turn.crt" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64 > "$dir/turn.spki"; }
if [ -s "$dir/turn.crt" ] && [ -s "$dir/turn.key" ]; then
  [ -s "$dir/turn.spki" ] || spki
  exit 0
fi
if [[ "$name" =~ ^[0-9]+(\.[0-9]+){3}$ ]]; then san="IP:$name"; else san="DNS:$name"; fi
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
  -subj "/CN=$name" -addext "subjectAltName=$san" \
  -keyout "$dir/turn.key.tmp" -out "$dir/turn.crt.tmp" 2>/dev/null
mv "$dir/turn.key.tmp" "$dir/turn.key"
mv "$dir/turn.crt.tmp" "$dir/turn.crt"
chmod 644 "$dir/turn.crt"
spki
