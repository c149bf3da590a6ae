#!/usr/bin/env bash
# Build dist/github-assets-<version>.tgz (scripts/package.py) and, when `pack` is
# available (make tools builds it), the OCI buildpackage dist/github-assets-<version>.cnb
# with `pack buildpack package --format file` (no Docker engine needed).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
./scripts/vendor.sh >/dev/null
tgz=$(python3 scripts/package.py "$out" | cut -d' ' -f1)
echo "$tgz"
pack_bin=$(command -v pack || true)
tools_pack="${GITHUB_ASSETS_TOOLS:-$HOME/.cache/github-assets-buildpack/tools}/bin/pack"
[ -z "$pack_bin" ] && [ -x "$tools_pack" ] && pack_bin=$tools_pack
if [ -z "$pack_bin" ]; then
  echo "pack not found: skipped the .cnb (run make tools to build pack)"
  exit 0
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tar -xzf "$tgz" -C "$stage"
printf '[buildpack]\nuri = "%s"\n\n[platform]\nos = "linux"\n' "$stage" > "$stage.package.toml"
cnb="${tgz%.tgz}.cnb"
rm -f "$cnb"
"$pack_bin" buildpack package "$cnb" --config "$stage.package.toml" --format file >/dev/null
rm -f "$stage.package.toml"
echo "$cnb"
