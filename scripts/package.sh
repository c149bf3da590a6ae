#!/usr/bin/env bash
# Build dist/github-assets-<version>.tgz (see scripts/package.py).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/vendor.sh >/dev/null
python3 scripts/package.py "$@"
