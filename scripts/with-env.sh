#!/usr/bin/env bash
# Runs a command with the project's environment (mediasoup worker path, Chromium path).
set -euo pipefail
source "$(dirname "$0")/env.sh"
export PATH="$DIEMCAU_ROOT/node_modules/.bin:$PATH"
exec "$@"
