#!/usr/bin/env bash
# Build dist/github-assets-<version>.tgz (scripts/package.py) and, when `pack` is
# available (make tools builds it), the OCI buildpackage dist/github-assets-<version>.cnb
# with `pack buildpack package --format file` (no Docker engine needed).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
./scripts/vendor.sh >/dev/null
# LOCK=path/to/github-assets.lock makes the offline package (-offline.tgz/.cnb).
tgz=$(python3 scripts/package.py "$out" ${LOCK:+--lock "$LOCK"} | cut -d' ' -f1)
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
mkdir "$stage/bp" "$stage/cfg"
tar -xzf "$tgz" -C "$stage/bp"
printf '[buildpack]\nuri = "%s"\n\n[platform]\nos = "linux"\n' "$stage/bp" > "$stage/cfg/package.toml"
cnb="$(cd "$(dirname "$tgz")" && pwd)/$(basename "${tgz%.tgz}.cnb")"
rm -f "$cnb"
# One arch-neutral .cnb (the code is pure Python; pack reads only the OS of a
# .cnb). pack takes [[targets]] from ./buildpack.toml of its working dir, and
# with two arches there it would write one -linux-<arch>.cnb per target, so it
# runs in a dir without one. The per-arch image index is `make publish`.
(cd "$stage/cfg" && "$pack_bin" buildpack package "$cnb" --config package.toml --format file >/dev/null)
echo "$cnb"
