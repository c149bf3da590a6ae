#!/usr/bin/env bash
# Vendor the runtime dependencies as pure-Python wheels into vendor/ (hash-checked),
# so the buildpack runs on any build image's python3 >= 3.10 with no pip install.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
req="$root/requirements/runtime.txt"
stamp="$root/vendor/.requirements.sha256"
want=$(sha256sum "$req" | cut -c1-64)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "vendor/ is up to date"
  exit 0
fi
rm -rf "$root/vendor"
python3 -m pip install --quiet --disable-pip-version-check --no-compile --no-deps \
  --require-hashes --only-binary=:all: --platform any --python-version 3.10 \
  --implementation py --target "$root/vendor" -r "$req"
# Metadata and console scripts are not needed at run time.
rm -rf "$root/vendor/bin"
find "$root/vendor" -name '__pycache__' -type d -prune -exec rm -rf {} +
echo "$want" > "$stamp"
echo "vendored: $(ls "$root/vendor" | grep -v dist-info | tr '\n' ' ')"
