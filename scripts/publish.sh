#!/usr/bin/env bash
# Publish the buildpack to a registry as an OCI image index with one image per
# buildpack.toml [[targets]] arch (linux/amd64, linux/arm64), with pack and no
# Docker engine:
#
#   make publish IMAGE=ghcr.io/OWNER/github-assets:0.2.0
#   scripts/publish.sh IMAGE [more pack flags, e.g. --tag ghcr.io/OWNER/github-assets:latest]
#
# The images hold the same files as `make package`'s .tgz (the code is pure
# Python, so both arches get the same layer). Registry credentials come from
# the Docker config pack reads (~/.docker/config.json or $DOCKER_CONFIG, e.g.
# written by `docker login`); a loopback registry (127.0.0.1, localhost) is
# spoken to over plain HTTP.
set -euo pipefail
image=${1:-}
if [ -z "$image" ]; then
  echo "error: IMAGE is not set; run make publish IMAGE=<registry>/<name>:<tag> (e.g. IMAGE=ghcr.io/OWNER/github-assets:0.2.0)" >&2
  exit 2
fi
shift
cd "$(dirname "$0")/.."
pack_bin=$(command -v pack || true)
tools_pack="${GITHUB_ASSETS_TOOLS:-$HOME/.cache/github-assets-buildpack/tools}/bin/pack"
[ -z "$pack_bin" ] && [ -x "$tools_pack" ] && pack_bin=$tools_pack
if [ -z "$pack_bin" ]; then
  echo "error: pack not found; run make tools (scripts/install-tools.sh builds it) or put pack on PATH" >&2
  exit 1
fi
./scripts/vendor.sh >/dev/null
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
tgz=$(python3 scripts/package.py "$stage" | cut -d' ' -f1)
mkdir "$stage/bp"
tar -xzf "$tgz" -C "$stage/bp"
# pack makes an image index only when the buildpack.toml it packages lists
# several targets; with one it would quietly push a single image.
python3 - "$stage/bp/buildpack.toml" <<'EOF'
import sys

import toml

targets = toml.load(sys.argv[1]).get("targets", [])
have = {f"{t.get('os')}/{t.get('arch')}" for t in targets}
missing = sorted({"linux/amd64", "linux/arm64"} - have)
if missing:
    sys.exit(f"error: buildpack.toml [[targets]] lack {', '.join(missing)}; add them to publish an index for both")
EOF
# --path (not --config): pack reads [[targets]] from <path>/buildpack.toml.
"$pack_bin" buildpack package "$image" --path "$stage/bp" --publish "$@"
