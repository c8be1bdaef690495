#!/usr/bin/env bash
# Sets everything up and runs the system on its embedded default (Lạng Sơn 2021, in-memory state).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bash scripts/with-env.sh node --import tsx server/main.ts "$@"
