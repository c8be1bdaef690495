#!/usr/bin/env bash
# Sets everything up and runs all tests: typecheck, unit, integration (real mediasoup), e2e (Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
export PATH="$DIEMCAU_ROOT/node_modules/.bin:$PATH"
echo "== typecheck"
tsc -p tsconfig.json --noEmit
echo "== tests"
mocha 'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' 'test/e2e/**/*.test.ts'
