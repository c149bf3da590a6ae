#!/usr/bin/env bash
# Build the real Go tools the tests use, from the Go module proxy only, into
#   ${GITHUB_ASSETS_TOOLS:-$HOME/.cache/github-assets-buildpack/tools}/bin
#
#   lifecycle (+ detector analyzer restorer builder exporter creator symlinks),
#   launcher                        github.com/buildpacks/lifecycle
#   grpc_health_probe (+ -linux-arm64 copy)
#                                   github.com/grpc-ecosystem/grpc-health-probe
#   pack (optional)                 github.com/buildpacks/pack
#   crane (test_publish: a registry on loopback and what is in it)
#                                   github.com/google/go-containerregistry
#   actionlint (make lint: .github/workflows)
#                                   github.com/rhysd/actionlint
#   system user `cnb` (root only: detector/builder refuse to run as root;
#   name overridable with CNB_USER)
#
# Idempotent and non-interactive: a tool whose <name>.version file and binary
# check out is reused ("cached"). INSTALL_TOOLS_FORCE=1 rebuilds everything.
# Candidate versions can be overridden with LIFECYCLE_VERSIONS, PROBE_VERSIONS,
# PACK_VERSIONS, CRANE_VERSIONS and ACTIONLINT_VERSIONS (space separated, tried
# in order, without the leading v).
# Notes, versions and known failures: scripts/README-tools.md.
#
# Why not `go install mod/cmd@vX`: here the proxy answers 403 to @v/list, and
# `go install pkg@version` reads it to check deprecation, so it always fails.
# Instead each module is fetched with `go mod download mod@vX` (one explicit
# version, no listing) and built with `go build` inside its own read-only
# module directory in the module cache, i.e. as the main module with its own
# go.mod/go.sum (and replace directives), exactly like the project's Makefile
# does from a checkout. No code is patched and nothing is copied into the repo.
set -euo pipefail

CACHE="${GITHUB_ASSETS_TOOLS:-$HOME/.cache/github-assets-buildpack/tools}"
BIN="$CACHE/bin"
STAGE="$CACHE/stage"
LOGS="$CACHE/logs"

# 0.21.17 is the reference version (shared/docs/testing.md) and is tried
# first; the others are the fallbacks verified to build here, newest first.
# Left out (README-tools.md has the errors): 0.21.15-0.21.20, whose kaniko
# 1.28.x (or the lifecycle module itself) the proxy refuses, and 0.21.12,
# which the checksum database does not answer for (we keep checksums on).
LIFECYCLE_VERSIONS="${LIFECYCLE_VERSIONS:-0.21.17 0.21.14 0.21.13 0.21.11}"
PROBE_VERSIONS="${PROBE_VERSIONS:-0.4.53 0.4.40}"
PACK_VERSIONS="${PACK_VERSIONS:-0.40.9}"
CRANE_VERSIONS="${CRANE_VERSIONS:-0.22.1}"
ACTIONLINT_VERSIONS="${ACTIONLINT_VERSIONS:-1.7.12}"
FORCE="${INSTALL_TOOLS_FORCE:-0}"
CNB_USER="${CNB_USER:-cnb}" # the unprivileged user the lifecycle runs as

LIFECYCLE_MOD=github.com/buildpacks/lifecycle
PROBE_MOD=github.com/grpc-ecosystem/grpc-health-probe
PACK_MOD=github.com/buildpacks/pack
CRANE_MOD=github.com/google/go-containerregistry
ACTIONLINT_MOD=github.com/rhysd/actionlint
PHASES="detector analyzer restorer builder exporter creator"

say() { printf '%s\n' "$*"; }
die() {
    printf 'install-tools: FAILED: %s\n' "$*" >&2
    exit 1
}
now() { date +%s; }

# --- Go toolchain and a Go environment private to this cache ----------------
GO="$(command -v go 2>/dev/null || true)"
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
[ -n "$GO" ] || die "Go not found (looked in PATH and /usr/local/go/bin); install Go >= 1.26"

mkdir -p "$BIN" "$STAGE" "$LOGS"

# One run at a time per cache dir (tests or make targets may race).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/.lock"
    flock 9
fi

export GOPATH="$CACHE/go"
export GOMODCACHE="$CACHE/go/pkg/mod"
export GOCACHE="$CACHE/go-build"
# Only the module proxy is reachable here: use Go's configured proxy list
# minus its "direct" fallback, so a 404 fails at once instead of trying git
# against a VCS host that cannot be reached.
GOPROXY="$("$GO" env GOPROXY)"
case "$GOPROXY" in
*direct) [ "$GOPROXY" = direct ] || GOPROXY="${GOPROXY%[,|]direct}" ;;
esac
export GOPROXY
# Checksums stay fully verified: each build runs in its module's own directory,
# so its go.sum covers every dependency, and the one module we download by
# name is checked against the Go checksum database (reached through the
# proxy). No GONOSUMDB/GOSUMDB/GOPRIVATE relaxation is needed or used.
# -mod=readonly: never rewrite go.mod/go.sum; -buildvcs=false: the module
# cache is not a VCS checkout (and GITHUB_ASSETS_TOOLS may sit inside one).
export GOFLAGS="-mod=readonly -buildvcs=false"
# Use the installed Go; do not fetch another toolchain.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED=0

# --- helpers ----------------------------------------------------------------
# json_field NAME  (reads `go mod download -json` output on stdin)
json_field() {
    sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" | head -n1
}

# one_line_reason LOGFILE: the first error go printed (skipping its
# "go: downloading" progress lines), with its indented continuation, as one line.
one_line_reason() {
    local r
    r="$(grep -v -E '^go: (downloading|finding|extracting) ' "$1" 2>/dev/null |
        awk 'n == 0 && NF { print; n = 1; next } n == 1 && /^[ \t]/ { print; exit } n == 1 { exit }' |
        tr '\t\n' '  ' | sed 's/  */ /g; s/ $//')"
    printf '%s' "${r:-unknown error (see $1)}"
}

# mod_download MOD VERSION LOG -> prints the module dir; on failure returns 1
# with the reason in LOG.
mod_download() {
    local mod="$1" ver="$2" log="$3" json dir err
    json="$("$GO" mod download -json "$mod@v$ver" 2>>"$log" || true)"
    dir="$(printf '%s\n' "$json" | json_field Dir)"
    if [ -z "$dir" ] || [ ! -f "$dir/go.mod" ]; then
        err="$(printf '%s\n' "$json" | json_field Error)"
        [ -z "$err" ] || printf '%s\n' "$err" | sed 's/\\n/\n/g; s/\\t/\t/g' >>"$log"
        return 1
    fi
    printf '%s' "$dir"
}

# commit_of MOD VERSION: short commit hash recorded by the proxy (.info Origin)
commit_of() {
    local info="$GOMODCACHE/cache/download/$1/@v/v$2.info"
    sed -n 's/.*"Hash"[[:space:]]*:[[:space:]]*"\([0-9a-f]\{7\}\).*/\1/p' "$info" 2>/dev/null | head -n1
}

# in_list WORD "LIST": is WORD one of the space separated LIST?
in_list() {
    local v
    for v in $2; do [ "$v" = "$1" ] && return 0; done
    return 1
}

# --- 1. lifecycle + launcher ------------------------------------------------
lifecycle_cached() {
    [ "$FORCE" = 1 ] && return 1
    local v out
    v="$(cat "$BIN/lifecycle.version" 2>/dev/null || true)"
    [ -n "$v" ] && in_list "$v" "$LIFECYCLE_VERSIONS" || return 1
    [ -x "$BIN/lifecycle" ] && [ -x "$BIN/launcher" ] || return 1
    out="$("$BIN/lifecycle" -version 2>/dev/null || true)"
    [ "${out%%+*}" = "$v" ] || return 1
    printf '%s' "$v"
}

link_phases() {
    local p
    for p in $PHASES; do ln -sfn lifecycle "$BIN/$p"; done
}

build_lifecycle() {
    local v="$1" log="$LOGS/lifecycle-$1.log" dir commit ldflags st="$STAGE/lifecycle-$1"
    : >"$log"
    dir="$(mod_download "$LIFECYCLE_MOD" "$v" "$log")" || return 1
    commit="$(commit_of "$LIFECYCLE_MOD" "$v")"
    # Same flags as the lifecycle Makefile (CGO off, -s -w, version stamps).
    ldflags="-s -w -X '$LIFECYCLE_MOD/cmd.Version=$v' -X '$LIFECYCLE_MOD/cmd.SCMRepository=$LIFECYCLE_MOD'"
    [ -z "$commit" ] || ldflags="$ldflags -X '$LIFECYCLE_MOD/cmd.SCMCommit=$commit'"
    rm -rf "$st" && mkdir -p "$st"
    (cd "$dir" && "$GO" build -trimpath -ldflags "$ldflags" -o "$st/lifecycle" ./cmd/lifecycle) >>"$log" 2>&1 || return 1
    (cd "$dir" && "$GO" build -trimpath -ldflags "$ldflags" -o "$st/launcher" ./cmd/launcher) >>"$log" 2>&1 || return 1
    "$st/lifecycle" -version >>"$log" 2>&1 || return 1
    mv -f "$st/lifecycle" "$BIN/lifecycle" || return 1
    mv -f "$st/launcher" "$BIN/launcher" || return 1
    rm -rf "$st"
    link_phases
    printf '%s\n' "$v" >"$BIN/lifecycle.version"
}

install_lifecycle() {
    local v t0 reasons=""
    if v="$(lifecycle_cached)"; then
        # A version preferred to the cached one (0.21.17) is retried: while
        # the proxy refuses its dependency this fails in about a second, and
        # the day it is served the script moves to it by itself.
        local p
        for p in $LIFECYCLE_VERSIONS; do
            [ "$p" = "$v" ] && break
            t0="$(now)"
            if build_lifecycle "$p"; then
                say "installed lifecycle $p  $BIN/lifecycle (+ $PHASES, launcher)  [$(($(now) - t0))s, replaces $v]"
                return 0
            fi
            say "note      lifecycle $p still not buildable: $(one_line_reason "$LOGS/lifecycle-$p.log")"
        done
        link_phases
        say "cached    lifecycle $v  $BIN/lifecycle (+ $PHASES, launcher)"
        return 0
    fi
    for v in $LIFECYCLE_VERSIONS; do
        say "building  lifecycle $v (go mod download + go build; first time takes minutes) ..."
        t0="$(now)"
        if build_lifecycle "$v"; then
            say "installed lifecycle $v  $BIN/lifecycle (+ $PHASES, launcher)  [$(($(now) - t0))s]"
            return 0
        fi
        local r
        r="$(one_line_reason "$LOGS/lifecycle-$v.log")"
        say "skipped   lifecycle $v [$(($(now) - t0))s]: $r"
        reasons="$reasons; $v: $r"
    done
    die "lifecycle: none of [$LIFECYCLE_VERSIONS] builds from the module proxy${reasons} (logs in $LOGS)"
}

# --- 2. grpc_health_probe ---------------------------------------------------
probe_cached() {
    [ "$FORCE" = 1 ] && return 1
    local v out
    v="$(cat "$BIN/grpc_health_probe.version" 2>/dev/null || true)"
    [ -n "$v" ] && in_list "$v" "$PROBE_VERSIONS" || return 1
    [ -x "$BIN/grpc_health_probe" ] && [ -f "$BIN/grpc_health_probe-linux-arm64" ] || return 1
    out="$("$BIN/grpc_health_probe" -version 2>/dev/null || true)"
    [ "${out%%;*}" = "$v" ] || return 1
    printf '%s' "$v"
}

build_probe() {
    local v="$1" log="$LOGS/grpc_health_probe-$1.log" dir st="$STAGE/probe-$1"
    # As the project's .goreleaser.yml: CGO_ENABLED=0, -tags=netgo, version
    # stamp (goreleaser's {{.Version}} has no "v"); plus -trimpath and -s -w.
    local flags=(-trimpath -tags=netgo -ldflags "-s -w -X main.versionTag=$v")
    : >"$log"
    dir="$(mod_download "$PROBE_MOD" "$v" "$log")" || return 1
    rm -rf "$st" && mkdir -p "$st"
    (cd "$dir" && GOOS=linux GOARCH=amd64 "$GO" build "${flags[@]}" -o "$st/grpc_health_probe-linux-amd64" .) >>"$log" 2>&1 || return 1
    (cd "$dir" && GOOS=linux GOARCH=arm64 "$GO" build "${flags[@]}" -o "$st/grpc_health_probe-linux-arm64" .) >>"$log" 2>&1 || return 1
    local host
    host="$("$GO" env GOARCH)"
    [ -f "$st/grpc_health_probe-linux-$host" ] || {
        echo "no build for host arch $host" >>"$log"
        return 1
    }
    cp -f "$st/grpc_health_probe-linux-$host" "$BIN/grpc_health_probe" || return 1
    mv -f "$st/grpc_health_probe-linux-arm64" "$BIN/grpc_health_probe-linux-arm64" || return 1
    rm -rf "$st"
    printf '%s\n' "$v" >"$BIN/grpc_health_probe.version"
}

install_probe() {
    local v t0 reasons=""
    if v="$(probe_cached)"; then
        say "cached    grpc_health_probe $v  $BIN/grpc_health_probe (+ grpc_health_probe-linux-arm64)"
        return 0
    fi
    for v in $PROBE_VERSIONS; do
        say "building  grpc_health_probe $v (amd64 + arm64) ..."
        t0="$(now)"
        if build_probe "$v"; then
            say "installed grpc_health_probe $v  $BIN/grpc_health_probe (+ grpc_health_probe-linux-arm64)  [$(($(now) - t0))s]"
            return 0
        fi
        local r
        r="$(one_line_reason "$LOGS/grpc_health_probe-$v.log")"
        say "skipped   grpc_health_probe $v: $r"
        reasons="$reasons; $v: $r"
    done
    die "grpc_health_probe: none of [$PROBE_VERSIONS] builds from the module proxy${reasons} (logs in $LOGS)"
}

# --- 3. pack (optional) -----------------------------------------------------
pack_cached() {
    [ "$FORCE" = 1 ] && return 1
    local v
    v="$(cat "$BIN/pack.version" 2>/dev/null || true)"
    [ -n "$v" ] && in_list "$v" "$PACK_VERSIONS" || return 1
    [ -x "$BIN/pack" ] && "$BIN/pack" version >/dev/null 2>&1 || return 1
    printf '%s' "$v"
}

build_pack() {
    local v="$1" log="$LOGS/pack-$1.log" dir st="$STAGE/pack-$1" pkg=.
    : >"$log"
    dir="$(mod_download "$PACK_MOD" "$v" "$log")" || return 1
    # main package: module root since pack 0.3x, cmd/pack before.
    [ -f "$dir/main.go" ] || pkg=./cmd/pack
    rm -rf "$st" && mkdir -p "$st"
    # Same flags as pack's Makefile.
    (cd "$dir" && "$GO" build -trimpath -ldflags "-s -w -X '$PACK_MOD/pkg/client.Version=$v'" -o "$st/pack" "$pkg") >>"$log" 2>&1 || return 1
    "$st/pack" version >>"$log" 2>&1 || return 1
    mv -f "$st/pack" "$BIN/pack" || return 1
    rm -rf "$st"
    printf '%s\n' "$v" >"$BIN/pack.version"
}

install_pack() {
    local v t0
    if v="$(pack_cached)"; then
        say "cached    pack $v  $BIN/pack"
        return 0
    fi
    for v in $PACK_VERSIONS; do
        say "building  pack $v (optional) ..."
        t0="$(now)"
        if build_pack "$v"; then
            say "installed pack $v  $BIN/pack  [$(($(now) - t0))s]"
            return 0
        fi
        say "skipped   pack $v: $(one_line_reason "$LOGS/pack-$v.log")"
    done
    # Optional: leave nothing named pack behind, so tests see it is absent.
    rm -rf "$BIN/pack" "$BIN/pack.version" "$STAGE"/pack-*
    say "missing   pack: not built (optional; tests needing it must skip with this reason)"
}

# --- 4. the unprivileged user for detector/builder --------------------------
ensure_cnb_user() {
    local u="$CNB_USER"
    if id -u "$u" >/dev/null 2>&1; then
        say "cached    user $u uid=$(id -u "$u") gid=$(id -g "$u")"
    elif [ "$(id -u)" != 0 ]; then
        say "skipped   user $u: not root, cannot create it (detector/builder refuse to run as root only)"
        return 0
    else
        if ! getent group "$u" >/dev/null; then
            if getent group 1000 >/dev/null; then groupadd "$u"; else groupadd -g 1000 "$u"; fi ||
                die "groupadd $u failed"
        fi
        if getent passwd 1000 >/dev/null; then
            useradd -g "$u" -m -s /bin/sh "$u"
        else
            useradd -u 1000 -g "$u" -m -s /bin/sh "$u"
        fi || die "useradd $u failed"
        say "installed user $u uid=$(id -u "$u") gid=$(id -g "$u")"
    fi
    # The lifecycle runs as this user: say so if it cannot reach the binaries
    # (e.g. the default cache under /root, which is mode 0700).
    if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1 &&
        ! runuser -u "$u" -- test -x "$BIN/lifecycle" 2>/dev/null; then
        say "note      user $u cannot execute $BIN/lifecycle (a parent dir is not traversable): copy the binaries somewhere $u can read, or set GITHUB_ASSETS_TOOLS to such a dir"
    fi
}

# --- 5. crane and actionlint ------------------------------------------------
# Plain single-binary tools, required: tests/e2e/test_publish.py serves a
# registry with crane and reads what `make publish` pushed; `make lint` runs
# actionlint on .github/workflows (its PyPI wrapper downloads a release binary
# from GitHub, which is unreachable here).
# Version stamps as in the projects' .goreleaser files ({{.Version}}: no "v").
crane_ldflags() {
    printf '%s' "-s -w -X '$CRANE_MOD/cmd/crane/cmd.Version=$1' -X '$CRANE_MOD/pkg/v1/remote/transport.Version=$1'"
}
actionlint_ldflags() {
    printf '%s' "-s -w -X '$ACTIONLINT_MOD.version=$1' -X '$ACTIONLINT_MOD.installedFrom=built from the Go module proxy by scripts/install-tools.sh'"
}

# go_tool_version BINARY: the version the tool prints (bare, as in NAME.version)
go_tool_version() {
    case "${1##*/}" in
    crane) "$1" version 2>/dev/null ;;
    actionlint) "$1" -version 2>/dev/null | head -n1 ;;
    esac
}

go_tool_cached() {
    [ "$FORCE" = 1 ] && return 1
    local name="$1" v
    v="$(cat "$BIN/$name.version" 2>/dev/null || true)"
    [ -n "$v" ] && in_list "$v" "$2" || return 1
    [ -x "$BIN/$name" ] && [ "$(go_tool_version "$BIN/$name")" = "$v" ] || return 1
    printf '%s' "$v"
}

# build_go_tool NAME MOD VERSION PKG: go build MOD@vVERSION's PKG into bin/NAME
build_go_tool() {
    local name="$1" mod="$2" v="$3" pkg="$4" log="$LOGS/$1-$3.log" dir st="$STAGE/$1-$3"
    : >"$log"
    dir="$(mod_download "$mod" "$v" "$log")" || return 1
    rm -rf "$st" && mkdir -p "$st"
    (cd "$dir" && "$GO" build -trimpath -ldflags "$("${name}_ldflags" "$v")" -o "$st/$name" "$pkg") >>"$log" 2>&1 || return 1
    [ "$(go_tool_version "$st/$name")" = "$v" ] || {
        echo "$name built but does not print version $v" >>"$log"
        return 1
    }
    mv -f "$st/$name" "$BIN/$name" || return 1
    rm -rf "$st"
    printf '%s\n' "$v" >"$BIN/$name.version"
}

# install_go_tool NAME MOD PKG "VERSIONS"
install_go_tool() {
    local name="$1" mod="$2" pkg="$3" versions="$4" v t0 r reasons=""
    if v="$(go_tool_cached "$name" "$versions")"; then
        say "cached    $name $v  $BIN/$name"
        return 0
    fi
    for v in $versions; do
        say "building  $name $v ..."
        t0="$(now)"
        if build_go_tool "$name" "$mod" "$v" "$pkg"; then
            say "installed $name $v  $BIN/$name  [$(($(now) - t0))s]"
            return 0
        fi
        r="$(one_line_reason "$LOGS/$name-$v.log")"
        say "skipped   $name $v: $r"
        reasons="$reasons; $v: $r"
    done
    die "$name: none of [$versions] builds from the module proxy${reasons} (logs in $LOGS)"
}

# --- 5. minisign, the reference the minisign verifier is compared with ---------
# tests/unit/test_minisign.py signs with the real command (jedisct1's C minisign); Debian
# packages it (bookworm: 0.11-1). Root and apt-get only; elsewhere that test says why it skips.
MINISIGN_DEB="${MINISIGN_DEB:-minisign=0.11-1}"
ensure_minisign() {
    if command -v minisign >/dev/null 2>&1; then
        say "cached    minisign $(command -v minisign)"
    elif [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "skipped   minisign: not root or no apt-get (install it to run its cross-check)"
    elif DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "$MINISIGN_DEB" >"$LOGS/minisign.log" 2>&1 ||
        { apt-get update >>"$LOGS/minisign.log" 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                "$MINISIGN_DEB" >>"$LOGS/minisign.log" 2>&1; }; then
        say "installed minisign $(command -v minisign)"
    else
        say "skipped   minisign: apt-get failed: $(one_line_reason "$LOGS/minisign.log")"
    fi
}

T0="$(now)"
install_lifecycle
install_probe
install_pack
install_go_tool crane "$CRANE_MOD" ./cmd/crane "$CRANE_VERSIONS"
install_go_tool actionlint "$ACTIONLINT_MOD" ./cmd/actionlint "$ACTIONLINT_VERSIONS"
ensure_cnb_user
ensure_minisign
say "done in $(($(now) - T0))s; cache $CACHE"
say "export PATH=$BIN:\$PATH"
