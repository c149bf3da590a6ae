"""Choosing one release asset for a target when the entry leaves `asset` out.

Pure and deterministic: the same asset names, target, distro libc, `files`
and repo always give the same answer, so a lock records it once and a locked
build never chooses again. The rules are the contract's ("Asset selection"):
first remove what can never be the program for this target (signatures,
checksum files, packages, source archives, other OSes and arches), then rank
what is left by libc, arch spelling, raw over archive, and the repo's name.
Exactly one best candidate, else an error listing every asset with the rule
that removed it or ``tie``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal

from .errors import GitHubError
from .platform import Target
from .record import Record

Libc = Literal["glibc", "musl", "unknown"]
"""The run image's C library, as far as the distro tells it."""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Companions of a program, never the program: signatures, certificates, keys,
# checksums, SBOMs, attestations and text files.
_DROPPED_SUFFIXES = _words(
    ".sig .asc .pem .pub .crt .key .sha1 .sha1sum .sha256 .sha256sum .sha512 .sha512sum"
    " .md5 .md5sum .sbom .spdx .json .jsonl .sigstore .bundle .minisig .txt"
)
_PACKAGE_SUFFIXES = _words(".deb .rpm .apk .dmg .pkg .msi .exe .appimage .whl .jar .snap")

# What the unpacker takes (it sniffs the bytes; the name tells us before the download).
_ARCHIVE_SUFFIXES = _words(".tar .tar.gz .tgz .tar.xz .txz .tar.bz2 .tbz .tbz2 .zip")
_COMPRESSED_SUFFIXES = _words(".gz .xz .bz2")
# Compressions the unpacker cannot read: choosing one would install the compressed bytes.
_UNREADABLE_SUFFIXES = _words(".zst .tzst .7z .rar .lz .lz4 .lzma .z")

# OS words by OS, token-bounded and case-insensitive. A fused word also names an arch.
_OS_WORDS = {
    "linux": _words("linux"),
    "windows": _words("windows win win32 win64 dos"),
    "darwin": _words("darwin macos osx mac apple"),
    "freebsd": _words("freebsd"),
    "openbsd": _words("openbsd"),
    "netbsd": _words("netbsd"),
    "dragonfly": _words("dragonfly"),
    "android": _words("android"),
    "illumos": _words("illumos"),
    "solaris": _words("solaris sunos"),
    "aix": _words("aix"),
}
_FUSED = {"linux64": ("linux", "amd64"), "linux32": ("linux", "386")}
_FUSED.update({"win64": ("windows", "amd64"), "win32": ("windows", "386")})

# Arch words by Go arch name. Longer spellings are tried first, so x86_64 is never
# read as x86 and arm64 never as arm.
_ARCH_WORDS = {
    "amd64": _words("amd64 x86_64 x86-64 x64 64bit 64-bit"),
    "arm64": _words("arm64 aarch64 aarch_64"),
    "386": _words("386 i386 i486 i586 i686 x86 x86_32 x86-32 x32 ia32 32bit 32-bit"),
    "arm": _words("arm arm32 armv5 armv5l armv6 armv6l armv6hf armv7 armv7l armv7a armv7hf")
    + _words("armel armhf armeb arm5 arm6 arm7"),
    "ppc64le": _words("ppc64le ppc64el powerpc64le ppcle_64"),
    "ppc64": _words("ppc64 powerpc64 ppc powerpc"),
    "s390x": _words("s390x s390_64"),
    "riscv64": _words("riscv64 riscv"),
    "mips": _words(
        "mips mipsle mipsel mips64 mips64le mips64el mipsr6 mipsr6el mips64r6 mips64r6el"
    ),
    "loong64": _words("loong64 loongarch64"),
    "sparc64": _words("sparc64 sparcv9 sparc"),
    "wasm": _words("wasm wasm32 wasi"),
    "universal": _words("universal universal2"),
}
_LIBC_WORDS = {"static": "static", "musl": "musl", "gnu": "gnu", "glibc": "gnu"}
_SOURCE_WORDS = ("src", "source")
_CHECKSUM_WORDS = ("checksums", "sha256sums")


def _alternation(words: Sequence[str]) -> re.Pattern[str]:
    ordered = sorted(words, key=len, reverse=True)
    body = "|".join(re.escape(w) for w in ordered)
    return re.compile(rf"(?<![a-z0-9])({body})(?![a-z0-9])")


_WORD_OS = {w: os for os, words in _OS_WORDS.items() for w in words}
_WORD_ARCH = {w: arch for arch, words in _ARCH_WORDS.items() for w in words}
_OS_RE = _alternation([*_WORD_OS, *_FUSED])
_ARCH_RE = _alternation([*_WORD_ARCH, *_FUSED])
_LIBC_RE = _alternation(list(_LIBC_WORDS))
_SOURCE_RE = _alternation(_SOURCE_WORDS)
_CHECKSUM_RE = _alternation(_CHECKSUM_WORDS)
_VERSION_RE = re.compile(r"(?<![a-z0-9])v?\d")
_SEPARATORS = re.compile(r"[-_.]+")


class Facts(Record):
    """What one asset name says about itself."""

    name: str
    kind: str  # "raw", "archive", "compressed" or "unreadable"
    oses: frozenset[str]
    arches: frozenset[str]
    fused_arch: bool  # the target arch is spelled only by a fused word (linux64)
    libc: str  # "static", "musl", "gnu" or "" (unmarked)


def _kind(lower: str) -> str:
    if lower.endswith(_ARCHIVE_SUFFIXES):
        return "archive"
    if lower.endswith(_UNREADABLE_SUFFIXES):
        return "unreadable"
    if lower.endswith(_COMPRESSED_SUFFIXES):
        return "compressed"
    return "raw"


def facts(name: str, target_arch: str) -> Facts:
    """Read an asset name's OS, arch, libc and format words."""
    lower = name.lower()
    oses = {_FUSED[w][0] if w in _FUSED else _WORD_OS[w] for w in _OS_RE.findall(lower)}
    explicit: set[str] = set()
    fused: set[str] = set()
    for word in _ARCH_RE.findall(lower):
        if word in _FUSED:
            fused.add(_FUSED[word][1])
        else:
            explicit.add(_WORD_ARCH[word])
    markers = {_LIBC_WORDS[w] for w in _LIBC_RE.findall(lower)}
    libc = next((m for m in ("static", "musl", "gnu") if m in markers), "")
    return Facts(
        name=name,
        kind=_kind(lower),
        oses=frozenset(oses),
        arches=frozenset(explicit | fused),
        fused_arch=target_arch in fused and target_arch not in explicit,
        libc=libc,
    )


def removal(f: Facts, target: Target, libc: Libc, files: bool) -> str | None:
    """The rule that removes this asset for the target, or None when it is a candidate."""
    lower = f.name.lower()
    suffix = next((s for s in _DROPPED_SUFFIXES if lower.endswith(s)), None)
    if suffix:
        return f"companion file ({suffix})"
    word = _CHECKSUM_RE.search(lower)
    if word:
        return f"checksum file ({word.group(1)})"
    suffix = next((s for s in _PACKAGE_SUFFIXES if lower.endswith(s)), None)
    if suffix:
        return f"package ({suffix})"
    word = _SOURCE_RE.search(lower)
    if word:
        return f"source archive ({word.group(1)})"
    if f.kind != "raw" and not f.oses and not f.arches:
        return "source archive (no OS, no arch)"
    others = sorted(f.oses - {target.os})
    if others:
        return f"other OS ({others[0]})"
    arches = sorted(f.arches - {target.arch})
    if arches:
        return f"other arch ({arches[0]})"
    if f.kind == "unreadable":
        return "format the buildpack cannot unpack"
    if files and f.kind != "archive":
        return "not an archive ('files' is set)"
    if libc == "musl" and f.libc == "gnu":
        return "gnu build on a musl distro"
    return None


# Precedence, strongest first: each maps a candidate to a number, higher wins.
_LIBC_RANK = {"static": 3, "musl": 2, "": 1, "gnu": 0}
_LIBC_LABEL = {"static": "static", "musl": "musl", "": "unmarked", "gnu": "gnu"}


def _normal(text: str) -> str:
    return _SEPARATORS.sub("-", text.lower())


def _rank(f: Facts, target: Target, repo_name: str) -> tuple[int, int, int, int]:
    arch = 0 if target.arch not in f.arches else (1 if f.fused_arch else 2)
    return (
        _LIBC_RANK[f.libc],
        arch,
        1 if f.kind == "raw" else 0,
        1 if repo_name and repo_name in _normal(f.name) else 0,
    )


def _why(best: Facts, other: Facts, target: Target, repo_name: str) -> str:
    """The precedence rule that puts best ahead of other, in words."""
    a, b = _rank(best, target, repo_name), _rank(other, target, repo_name)
    arch_label = {0: "no arch", 1: "a fused arch alias", 2: "an explicit arch"}
    if a[0] != b[0]:
        return f"{_LIBC_LABEL[best.libc]} beats {_LIBC_LABEL[other.libc]}"
    if a[1] != b[1]:
        return f"{arch_label[a[1]]} beats {arch_label[b[1]]}"
    if a[2] != b[2]:
        return "a raw executable beats an archive"
    return "it carries the repo's name"


class Choice(Record):
    """The chosen asset and why, for the build log."""

    name: str
    why: str


class Considered(Record):
    """One asset of the release and what became of it: the rule that removed it,
    the precedence rule it lost on (``lost: ...``), ``tie``, or ``chosen``."""

    name: str
    outcome: str


def consider(
    names: Sequence[str], target: Target, *, libc: Libc, files: bool, repo: str
) -> list[Considered]:
    """Every asset with its outcome, in the release's order."""
    return _evaluate(names, target, libc, files, repo)[0]


def _evaluate(
    names: Sequence[str], target: Target, libc: Libc, files: bool, repo: str
) -> tuple[list[Considered], str]:
    """The outcomes, and why the chosen one (if any) won over the runner-up."""
    repo_name = _normal(repo.rsplit("/", 1)[-1])
    all_facts = [facts(n, target.arch) for n in names]
    removed = {f.name: removal(f, target, libc, files) for f in all_facts}
    ranked = sorted(
        (
            (_rank(f, target, repo_name), i, f)
            for i, f in enumerate(all_facts)
            if not removed[f.name]
        ),
        key=lambda item: item[0],
        reverse=True,
    )
    top = [f for rank, _, f in ranked if rank == ranked[0][0]] if ranked else []
    outcomes = []
    for f in all_facts:
        rule = removed[f.name]
        if rule is None:
            if f in top:
                rule = "chosen" if len(top) == 1 else "tie"
            else:
                rule = "lost: " + _why(top[0], f, target, repo_name)
        outcomes.append(Considered(f.name, rule))
    if len(top) != 1:
        return outcomes, ""
    if len(ranked) == 1:
        return outcomes, f"the only candidate among {len(names)} assets"
    runner = ranked[1][2]
    return outcomes, f"over {runner.name}: {_why(top[0], runner, target, repo_name)}"


def choose(
    names: Sequence[str],
    target: Target,
    *,
    libc: Libc,
    files: bool,
    repo: str,
    release: str = "",
) -> Choice:
    """The one asset of a release to install on target; a GitHubError when not exactly one.

    ``release`` names the release in the error (``owner/repo tag``); the error's
    details list every asset with the rule that removed it or ``tie``.
    """
    outcomes, why = _evaluate(names, target, libc, files, repo)
    chosen = [c.name for c in outcomes if c.outcome == "chosen"]
    if chosen:
        return Choice(chosen[0], why)
    tied = [c.name for c in outcomes if c.outcome == "tie"]
    if tied:
        what = f"{len(tied)} assets tie ({', '.join(tied)})"
        hint = "set 'asset' in the entry to the one you want"
    else:
        what = f"none of its {len(outcomes)} assets fits" if outcomes else "it has no assets"
        hint = f"set 'asset' in the entry, or 'targets' if the tool is not built for {target}"
    raise GitHubError(
        f"failed to choose an asset of {release or repo} for {target}: {what}",
        hint=hint,
        details="".join(f"  {c.name}: {c.outcome}\n" for c in outcomes),
    )


def derived_name(asset: str) -> str:
    """<name> of a chosen raw asset: cut before its first OS, arch or version word.

    Trailing ``-``, ``_`` and ``.`` go too (``hadolint-Linux-x86_64`` -> ``hadolint``);
    a name that starts with such a word keeps its whole self (without a .gz/.xz/.bz2).
    """
    lower = asset.lower()
    starts = [m.start() for rx in (_OS_RE, _ARCH_RE, _VERSION_RE) if (m := rx.search(lower))]
    cut = asset[: min(starts)].rstrip("-_.") if starts else ""
    if cut:
        return cut
    for suffix in _COMPRESSED_SUFFIXES:
        if lower.endswith(suffix) and len(asset) > len(suffix):
            return asset[: -len(suffix)]
    return asset


def template_for(chosen: Mapping[Target, str], tag: str) -> tuple[str, dict[str, str]] | None:
    """An `asset` template (and its `replacements`) that renders to each target's chosen
    name at tag, or None when the names differ by more than their OS and arch words.

    For `github-assets add`, which writes a template where selection alone cannot decide:
    the OS word becomes {os}, the arch word {arch}, the tag {tag} (or {version} when the
    name carries it without its v), and a word that is not Go's name a replacement.
    """
    from .platform import render

    version = tag[1:] if tag[:1] in ("v", "V") and tag[1:2].isdigit() else tag
    templates = set()
    replacements: dict[str, str] = {}
    for target, name in chosen.items():
        lower = name.lower()
        spans = []
        for rx, key, go in ((_OS_RE, "os", target.os), (_ARCH_RE, "arch", target.arch)):
            m = rx.search(lower)
            if m is None:
                if key == "arch":
                    return None
                continue
            word = name[m.start() : m.end()]
            if word in _FUSED or word.lower() in _FUSED:
                return None  # linux64 names the OS and the arch at once
            spans.append((m.start(), m.end(), key))
            if word != go:
                if replacements.get(go, word) != word:
                    return None
                replacements[go] = word
        template = name
        for start, end, key in sorted(spans, reverse=True):
            template = template[:start] + "{" + key + "}" + template[end:]
        if tag and tag in template:
            template = template.replace(tag, "{tag}")
        elif version and version in template:
            template = template.replace(version, "{version}")
        templates.add(template)
    if len(templates) != 1:
        return None
    template = templates.pop()
    for target, name in chosen.items():
        if render(template, target, tag, replacements) != name:
            return None
    return template, replacements


# Distros whose C library is musl; the ones named glibc are those the ELF check knows.
_MUSL_DISTROS = frozenset({"alpine", "chimera", "postmarketos"})
_GLIBC_DISTROS = frozenset(
    {"ubuntu", "debian", "rhel", "centos", "fedora", "rocky", "almalinux", "amzn", "ol"}
    | {"sles", "opensuse-leap", "opensuse-tumbleweed", "azurelinux", "mariner", "wolfi"}
)


def distro_libc(env: Mapping[str, str], os_release: str = "/etc/os-release") -> Libc:
    """The run image's libc: from CNB_TARGET_DISTRO_NAME, else the build image's os-release ID."""
    name = env.get("CNB_TARGET_DISTRO_NAME", "").strip().lower()
    if not name:
        try:
            with open(os_release, encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, _, value = line.strip().partition("=")
                    if key == "ID":
                        name = value.strip().strip("\"'").lower()
        except OSError:
            return "unknown"
    if name in _MUSL_DISTROS:
        return "musl"
    return "glibc" if name in _GLIBC_DISTROS else "unknown"
