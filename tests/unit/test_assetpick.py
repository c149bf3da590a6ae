"""The contract's "Asset selection" rules, one case each, on the asset names a release lists."""

from __future__ import annotations

import random

import pytest

from github_assets.assetpick import choose, consider, derived_name
from github_assets.errors import GitHubError
from github_assets.platform import Target

AMD64 = Target("linux", "amd64")
ARM64 = Target("linux", "arm64")


def pick(names: list[str], target: Target = AMD64, **kw: object) -> str:
    options = {"libc": "glibc", "files": False, "repo": "owner/tool", **kw}
    return choose(names, target, **options).name  # type: ignore[arg-type]


def outcome(names: list[str], name: str, target: Target = AMD64, **kw: object) -> str:
    options = {"libc": "glibc", "files": False, "repo": "owner/tool", **kw}
    got = {c.name: c.outcome for c in consider(names, target, **options)}  # type: ignore[arg-type]
    return got[name]


@pytest.mark.parametrize(
    "suffix",
    [
        ".sig",
        ".asc",
        ".pem",
        ".pub",
        ".crt",
        ".key",
        ".sha1",
        ".sha1sum",
        ".sha256",
        ".sha256sum",
        ".sha512",
        ".sha512sum",
        ".md5",
        ".md5sum",
        ".sbom",
        ".spdx",
        ".json",
        ".jsonl",
        ".sigstore",
        ".bundle",
        ".minisig",
        ".txt",
    ],
)
def test_companion_suffixes_are_dropped(suffix: str) -> None:
    names = ["tool-linux-amd64", f"tool-linux-amd64{suffix}"]
    assert outcome(names, names[1]) == f"companion file ({suffix})"
    assert pick(names) == "tool-linux-amd64"


@pytest.mark.parametrize(
    "name",
    ["tool_checksums", "checksums-bsd", "tool-1.0-SHA256SUMS", "checksums_hashes_order"],
)
def test_checksum_tokens_are_dropped(name: str) -> None:
    assert outcome(["tool-linux-amd64", name], name).startswith("checksum file")


@pytest.mark.parametrize(
    "suffix",
    [".deb", ".rpm", ".apk", ".dmg", ".pkg", ".msi", ".exe", ".AppImage", ".whl", ".jar", ".snap"],
)
def test_packages_are_dropped(suffix: str) -> None:
    name = f"tool_1.0_linux_amd64{suffix}"
    assert outcome(["tool_1.0_linux_amd64.tar.gz", name], name) == f"package ({suffix.lower()})"


def test_source_archives_are_dropped() -> None:
    names = ["tool-1.0.tar.gz", "tool-1.0.zip", "tool_1.0_src.tar.gz", "tool-source.tar.gz"]
    names.append("tool-linux-amd64")
    for name in names[:2]:
        assert outcome(names, name) == "source archive (no OS, no arch)"
    assert outcome(names, "tool_1.0_src.tar.gz") == "source archive (src)"
    assert outcome(names, "tool-source.tar.gz") == "source archive (source)"
    assert pick(names) == "tool-linux-amd64"


@pytest.mark.parametrize(
    "word",
    [
        "windows",
        "win",
        "win32",
        "win64",
        "darwin",
        "macos",
        "osx",
        "mac",
        "apple",
        "freebsd",
        "openbsd",
        "netbsd",
        "dragonfly",
        "android",
        "illumos",
        "solaris",
        "sunos",
        "aix",
        "dos",
    ],
)
def test_other_os_tokens_remove(word: str) -> None:
    name = f"tool-{word.upper() if word == 'aix' else word}-amd64"
    assert outcome([name, "tool-linux-amd64"], name).startswith("other OS")


@pytest.mark.parametrize("word", ["amd64", "x86_64", "x86-64", "x64", "64bit", "64-bit", "AMD64"])
def test_amd64_spellings(word: str) -> None:
    assert pick([f"tool-linux-{word}", "tool-linux-arm64"]) == f"tool-linux-{word}"


@pytest.mark.parametrize("word", ["arm64", "aarch64", "aarch_64", "ARM64"])
def test_arm64_spellings(word: str) -> None:
    names = [f"tool-linux-{word}", "tool-linux-amd64", "tool-linux-arm", "tool-linux-armv7"]
    assert pick(names, ARM64) == f"tool-linux-{word}"


def test_arch_tokens_are_token_bounded() -> None:
    # arm64 is not arm, x86_64 is not x86, and a word merely containing an arch is no arch.
    names = ["tool-linux-arm", "tool-linux-x86", "tool-linux-arm64", "tool-linux-x86_64"]
    assert pick(names, ARM64) == "tool-linux-arm64"
    assert pick(names, AMD64) == "tool-linux-x86_64"
    assert outcome(names, "tool-linux-arm", ARM64) == "other arch (arm)"
    assert outcome(["armory-linux-amd64"], "armory-linux-amd64") == "chosen"


def test_fused_aliases() -> None:
    names = ["jq-linux32", "jq-linux64", "jq-win32.exe", "jq-win64.exe", "jq-osx-amd64"]
    assert pick(names) == "jq-linux64"
    assert outcome(names, "jq-linux32") == "other arch (386)"
    with pytest.raises(GitHubError, match="none of its 5 assets fits"):
        pick(names, ARM64)


@pytest.mark.parametrize(
    "word", ["386", "i686", "armv7", "armhf", "ppc64le", "s390x", "riscv64", "mips64le", "loong64"]
)
def test_any_other_arch_token_removes(word: str) -> None:
    name = f"tool-{word}"
    assert outcome([name, "tool"], name).startswith("other arch")
    assert pick([name, "tool"]) == "tool"


def test_files_set_admits_only_archives() -> None:
    names = ["yq_linux_amd64", "yq_linux_amd64.tar.gz", "yq_linux_amd64.gz"]
    assert pick(names, files=True, repo="mikefarah/yq") == "yq_linux_amd64.tar.gz"
    assert outcome(names, "yq_linux_amd64", files=True) == "not an archive ('files' is set)"
    assert pick(names, repo="mikefarah/yq") == "yq_linux_amd64"


def test_static_beats_gnu_and_unmarked() -> None:
    assert pick(["tini-amd64", "tini-static-amd64"]) == "tini-static-amd64"
    assert pick(["tool-gnu-amd64", "tool-static-amd64"]) == "tool-static-amd64"


@pytest.mark.parametrize("libc", ["glibc", "unknown"])
def test_musl_beats_gnu_on_glibc_or_unknown(libc: str) -> None:
    names = ["bat-x86_64-unknown-linux-gnu.tar.gz", "bat-x86_64-unknown-linux-musl.tar.gz"]
    assert pick(names, libc=libc) == names[1]


def test_gnu_is_never_chosen_on_a_musl_distro() -> None:
    names = ["rg-aarch64-unknown-linux-gnu.tar.gz", "rg-x86_64-unknown-linux-musl.tar.gz"]
    assert outcome(names, names[0], ARM64, libc="musl") == "gnu build on a musl distro"
    with pytest.raises(GitHubError, match="none of its 2 assets fits"):
        pick(names, ARM64, libc="musl")
    assert pick(names, ARM64, libc="glibc") == names[0]


def test_carrying_the_arch_beats_carrying_none() -> None:
    assert pick(["tini-static", "tini-static-amd64"]) == "tini-static-amd64"
    assert pick(["gosu", "gosu-amd64"], ARM64) == "gosu"


def test_explicit_arch_beats_fused_alias() -> None:
    assert pick(["jq-linux64", "jq-linux-amd64"]) == "jq-linux-amd64"


def test_raw_beats_archive_or_compressed_copy() -> None:
    assert pick(["dasel_linux_amd64.gz", "dasel_linux_amd64"]) == "dasel_linux_amd64"
    assert pick(["yq_linux_amd64.tar.gz", "yq_linux_amd64"]) == "yq_linux_amd64"
    assert pick(["restic_0.16.2_linux_amd64.bz2", "restic_0.16.2.tar.gz"]) == (
        "restic_0.16.2_linux_amd64.bz2"
    )


def test_repo_name_breaks_the_remaining_tie() -> None:
    names = ["kubens_v0.9.5_linux_x86_64.tar.gz", "kubectx_v0.9.5_linux_x86_64.tar.gz"]
    assert pick(names, repo="ahmetb/kubectx") == names[1]
    # separators do not matter: grpc-health-probe is in grpc_health_probe-linux-amd64
    names = ["other-linux-amd64", "grpc_health_probe-linux-amd64"]
    assert pick(names, repo="grpc-ecosystem/grpc-health-probe") == names[1]


def test_precedence_order_libc_first() -> None:
    # libc before arch: a static build without an arch word beats an unmarked one with it
    assert pick(["tool-static", "tool-amd64"]) == "tool-static"
    # arch before raw-over-archive
    assert pick(["tool", "tool-linux-amd64.tar.gz"]) == "tool-linux-amd64.tar.gz"
    # raw-over-archive before the repo name
    assert pick(["other-linux-amd64", "tool-linux-amd64.tar.gz"]) == "other-linux-amd64"


def test_unreadable_compressions_are_never_chosen() -> None:
    names = ["goreleaser-1.22.1-1-x86_64.pkg.tar.zst", "goreleaser_Linux_x86_64.tar.gz"]
    assert pick(names, files=True, repo="goreleaser/goreleaser") == names[1]


def test_a_tie_is_an_error_listing_every_asset_with_its_rule() -> None:
    names = ["cosign-linux-amd64", "cosign-linux-pivkey-pkcs11key-amd64", "cosign.sig"]
    names.append("cosign-darwin-amd64")
    with pytest.raises(GitHubError) as caught:
        choose(names, AMD64, libc="glibc", files=False, repo="sigstore/cosign", release="s/c v2")
    err = caught.value
    assert err.first_line().startswith("failed to choose an asset of s/c v2 for linux/amd64")
    assert "2 assets tie (cosign-linux-amd64, cosign-linux-pivkey-pkcs11key-amd64)" in str(err)
    assert err.details.splitlines() == [
        "  cosign-linux-amd64: tie",
        "  cosign-linux-pivkey-pkcs11key-amd64: tie",
        "  cosign.sig: companion file (.sig)",
        "  cosign-darwin-amd64: other OS (darwin)",
    ]


def test_the_choice_says_why() -> None:
    got = choose(
        ["tini-amd64", "tini-static-amd64"], AMD64, libc="glibc", files=False, repo="k/tini"
    )
    assert got.why == "over tini-amd64: static beats unmarked"
    only = choose(["a.sig", "tini-amd64"], AMD64, libc="glibc", files=False, repo="k/tini")
    assert only.why == "the only candidate among 2 assets"


def test_choice_does_not_depend_on_the_order_of_assets() -> None:
    names = [
        "jq-linux64",
        "jq-linux-amd64",
        "jq-1.7.tar.gz",
        "jq-macos-amd64",
        "sha256sum.txt",
        "jq-linux-arm64",
    ]
    want = pick(names)
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(names)
        assert pick(names) == want == "jq-linux-amd64"


@pytest.mark.parametrize(
    ("asset", "name"),
    [
        ("grpc_health_probe-linux-amd64", "grpc_health_probe"),
        ("hadolint-Linux-x86_64", "hadolint"),
        ("dumb-init_1.2.5_x86_64", "dumb-init"),
        ("sops-v3.8.1.linux.amd64", "sops"),
        ("jq-linux64", "jq"),
        ("tini-static-amd64", "tini-static"),
        ("dasel_linux_amd64.gz", "dasel"),
        ("protoc-gen-openapiv2-v2.18.1-linux-x86_64", "protoc-gen-openapiv2"),
        ("k9s_Linux_amd64", "k9s"),
        ("gosu-arm64", "gosu"),
        ("linux-amd64-tool", "linux-amd64-tool"),
    ],
)
def test_derived_name(asset: str, name: str) -> None:
    assert derived_name(asset) == name


@pytest.mark.parametrize(
    ("env", "os_release", "libc"),
    [
        ({"CNB_TARGET_DISTRO_NAME": "alpine"}, "", "musl"),
        ({"CNB_TARGET_DISTRO_NAME": "ubuntu"}, "ID=alpine\n", "glibc"),
        ({}, 'NAME="Alpine Linux"\nID=alpine\n', "musl"),
        ({}, 'ID="debian"\n', "glibc"),
        ({}, "ID=nixos\n", "unknown"),
        ({}, None, "unknown"),
    ],
)
def test_distro_libc(
    tmp_path: object, env: dict[str, str], os_release: str | None, libc: str
) -> None:
    from pathlib import Path

    from github_assets.assetpick import distro_libc

    path = Path(str(tmp_path)) / "os-release"
    if os_release is not None:
        path.write_text(os_release)
    assert distro_libc(env, str(path)) == libc


def test_template_for_turns_os_arch_and_tag_words_into_placeholders() -> None:
    from github_assets.assetpick import template_for

    got = template_for({AMD64: "hadolint-Linux-x86_64", ARM64: "hadolint-Linux-arm64"}, "v2")
    assert got == ("hadolint-{os}-{arch}", {"linux": "Linux", "amd64": "x86_64"})
    names = {AMD64: "t_1.9.1_linux_x86_64.tar.gz", ARM64: "t_1.9.1_linux_arm64.tar.gz"}
    assert template_for(names, "v1.9.1") == ("t_{version}_{os}_{arch}.tar.gz", {"amd64": "x86_64"})
    assert template_for({AMD64: "p-v2.1-linux-amd64"}, "v2.1") == ("p-{tag}-{os}-{arch}", {})
    # names that differ by more than their OS/arch words, or a fused alias: no template
    assert template_for({AMD64: "a-amd64-linux", ARM64: "a-linux-arm64"}, "v1") is None
    assert template_for({AMD64: "jq-linux64"}, "jq-1.6") is None
    assert template_for({AMD64: "gosu"}, "1.17") is None
