"""checksums, files, version_prefix, targets and BP_GITHUB_ASSETS_REQUIRE_CHECKSUM, as a user
meets them: bin/detect and bin/build as subprocesses against the loopback stand-in."""

from __future__ import annotations

import hashlib
import stat

import pytest
from tools.archives import executable, regular, tar_bytes
from tools.github_standin import StandIn

from support import CnbDirs, Phase, elf_bytes, write_plan

REPO = "acme/tool"
LAYER = "acme_tool"
ENTRY = f"project.toml: [[metadata.githubassets]] #1 (repo {REPO})"
FAST = {"BP_GITHUB_ASSETS_BACKOFF": "0.01"}
AMD = elf_bytes(size=3000)
ARM = elf_bytes(183, size=3000)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def config(asset: str = "tool-{os}-{arch}", extra: str = "", tag: str = "v1") -> str:
    return f'[[metadata.githubassets]]\nrepo = "{REPO}"\nasset = "{asset}"\ntag = "{tag}"\n' + extra


def build(s: StandIn, cnb: CnbDirs, text: str, **env: str) -> Phase:
    cnb.project(text)
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, **FAST, **env})


def failed(r: Phase, cnb: CnbDirs) -> str:
    assert r.rc == 1 and "Traceback" not in r.err, r.all
    assert not (cnb.layers / LAYER).exists() and not (cnb.layers / f"{LAYER}.toml").exists()
    return r.err.splitlines()[0]


def raw_release(s: StandIn, **extra: bytes) -> None:
    assets = {"tool-linux-amd64": AMD, "tool-linux-arm64": ARM, **extra}
    s.add_release(REPO, "v1", assets, null_digest=list(assets))


# -- checksums --------------------------------------------------------------------------


def test_auto_finds_the_checksum_file_and_the_log_names_every_authority(
    standin: StandIn, cnb: CnbDirs
) -> None:
    sums = f"{sha(ARM)}  tool-linux-arm64\n{sha(AMD)} *dist/tool-linux-amd64\n".encode()
    raw_release(standin, **{"tool_1_checksums.txt": sums})
    # latest: resolved through the API, which lists the release's checksum file
    r = build(standin, cnb, config(tag="latest", extra=f'sha256 = "{sha(AMD)}"\n'))
    assert r.rc == 0, r.all
    assert f"Verified sha256:{sha(AMD)} (pinned, tool_1_checksums.txt, 2.9 KiB)" in r.out


def test_auto_order_and_notes_for_candidates_without_a_line(standin: StandIn, cnb: CnbDirs) -> None:
    raw_release(
        standin,
        **{
            "checksums.txt": f"{sha(ARM)}  tool-linux-arm64\n".encode(),  # no line for amd64
            "SHA256SUMS": f"SHA256 (tool-linux-amd64) = {sha(AMD)}\n".encode(),
        },
    )
    r = build(standin, cnb, config())
    assert r.rc == 0, r.all
    assert "Note: checksums.txt has no line for tool-linux-amd64" in r.out
    assert "(SHA256SUMS, 2.9 KiB)" in r.out


def test_sidecar_of_a_lone_hex_and_sha512(standin: StandIn, cnb: CnbDirs) -> None:
    sha512 = hashlib.sha512(AMD).hexdigest()
    raw_release(
        standin,
        **{
            "tool-linux-amd64.sha256": f"{sha(AMD)}\n".encode(),
            "tool-linux-amd64.sha512": f"SHA512 (tool-linux-amd64) = {sha512}\n".encode(),
        },
    )
    r = build(standin, cnb, config())
    assert r.rc == 0 and "(tool-linux-amd64.sha256, 2.9 KiB)" in r.out, r.all
    cnb.simulate_rebuild()
    r = build(standin, cnb, config(extra='checksums = "{asset}.sha512"\n'))
    assert r.rc == 0 and "Installing: checksums changed (auto -> {asset}.sha512)" in r.out, r.all
    assert "(tool-linux-amd64.sha512, 2.9 KiB)" in r.out


def test_a_checksum_file_that_disagrees_installs_nothing_and_names_both(
    standin: StandIn, cnb: CnbDirs
) -> None:
    wrong = "0" * 64
    raw_release(standin, **{"checksums.txt": f"{wrong}  tool-linux-amd64\n".encode()})
    first = failed(build(standin, cnb, config()), cnb)
    assert first == (
        f"error: {ENTRY}: checksum mismatch for tool-linux-amd64: expected sha256:{wrong} "
        f"(checksums.txt), got sha256:{sha(AMD)} (downloaded bytes); nothing was installed; "
        "what the release publishes and the bytes GitHub served disagree: retry the build, "
        "and if it persists, tell the release's maintainers (checksums = false skips a wrong "
        "checksum file)"
    )


def test_explicit_checksums_missing_or_without_a_line_are_errors(
    standin: StandIn, cnb: CnbDirs
) -> None:
    raw_release(standin, **{"checksums.txt": f"{sha(ARM)}  tool-linux-arm64\n".encode()})
    first = failed(build(standin, cnb, config(extra='checksums = "SHA256SUMS"\n')), cnb)
    assert first.startswith(
        f"error: {ENTRY}: 'checksums' names SHA256SUMS, which is not an asset of release v1"
    )
    first = failed(build(standin, cnb, config(extra='checksums = "checksums.txt"\n')), cnb)
    assert first.startswith(
        f"error: {ENTRY}: checksum file checksums.txt has no line for tool-linux-amd64"
    )


def test_checksums_false_reads_no_file(standin: StandIn, cnb: CnbDirs) -> None:
    raw_release(standin, **{"checksums.txt": f"{'0' * 64}  tool-linux-amd64\n".encode()})
    r = build(standin, cnb, config(extra="checksums = false\n"))
    assert r.rc == 0, r.all
    assert "(size only, 2.9 KiB)" in r.out
    assert not any("checksums.txt" in q.path for q in standin.storage_requests())


def test_size_only_is_a_warning_and_an_error_with_the_require_knob(
    standin: StandIn, cnb: CnbDirs
) -> None:
    raw_release(standin)
    r = build(standin, cnb, config())
    assert r.rc == 0
    lines = r.out.splitlines()
    verified = next(i for i, line in enumerate(lines) if "Verified sha256:" in line)
    assert lines[verified].endswith("(size only, 2.9 KiB)")
    assert lines[verified + 1].startswith(
        "    Warning: only the size of tool-linux-amd64 was checked; pin it with sha256 = "
    )
    # the knob also refuses to reuse what only its size verified (the image's metadata alone)
    cnb.simulate_rebuild(from_cache=False)
    r = build(standin, cnb, config(), BP_GITHUB_ASSETS_REQUIRE_CHECKSUM="true")
    assert "Installing: verified by its size only, and BP_GITHUB_ASSETS_REQUIRE_CHECKSUM" in r.out
    (cnb.layers / f"{LAYER}.toml").unlink()  # the restored toml stays when the build fails
    first = failed(r, cnb)
    assert first.startswith(f"error: {ENTRY}: only the size of tool-linux-amd64 could be checked")


# -- files --------------------------------------------------------------------------------

YQ = tar_bytes(
    [
        executable("./yq_linux_amd64", AMD),
        regular("yq.1", b"man page\n"),
        executable("install-man-page.sh", b"#!/bin/sh\n"),
        regular("bomb", bytes(3 << 20)),  # never written: unlisted
    ]
)


def test_files_installs_only_the_mapped_members_renamed(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release(REPO, "v1", {"yq_linux_amd64.tar.gz": YQ})
    text = config(
        "yq_{os}_{arch}.tar.gz",
        'files = { "bin/yq" = "yq_{os}_{arch}", "share/man/man1/" = "*.1" }\n'
        'process = "yq"\nlink = "bin/yq"\n',
    )
    r = build(standin, cnb, text, BP_GITHUB_ASSETS_MAX_BYTES="1048576")
    assert r.rc == 0, r.all
    files = sorted(
        str(p.relative_to(cnb.layers / LAYER))
        for p in (cnb.layers / LAYER).rglob("*")
        if p.is_file()
    )
    assert files == ["bin/yq", "share/man/man1/yq.1"]
    assert stat.S_IMODE((cnb.layers / LAYER / "bin" / "yq").stat().st_mode) == 0o755
    assert cnb.launch_toml()["processes"][0]["command"] == [str(cnb.layers / LAYER / "bin" / "yq")]
    assert (cnb.app / "bin" / "yq").resolve() == cnb.layers / LAYER / "bin" / "yq"


def test_a_files_value_that_matches_nothing_lists_the_archive(
    standin: StandIn, cnb: CnbDirs
) -> None:
    members = [executable(f"tool-{i:02}", AMD) for i in range(25)]
    standin.add_release(REPO, "v1", {"t.tar.gz": tar_bytes(members)})
    first = failed(build(standin, cnb, config("t.tar.gz", 'files = { "bin/x" = "nope" }\n')), cnb)
    assert first == (
        f"error: {ENTRY}: 'files' value 'nope' (for bin/x) matches no member of the archive; "
        "set it to a member path after strip_components, as listed"
    )
    details = build(standin, cnb, config("t.tar.gz", 'files = { "bin/x" = "nope" }\n')).err
    shown = ", ".join(f"tool-{i:02}" for i in range(20))
    assert f"the archive has {shown} and 5 more" in details


def test_files_with_destination_fails_detect(cnb: CnbDirs) -> None:
    cnb.project(config("t.tar.gz", 'destination = "bin"\nfiles = { "bin/x" = "x" }\n'))
    r = cnb.detect()
    assert r.rc == 1
    assert r.err.startswith(f"error: {ENTRY}: 'files' and 'destination' are both set")


def test_files_on_a_single_file_is_a_build_error(standin: StandIn, cnb: CnbDirs) -> None:
    raw_release(standin)
    first = failed(build(standin, cnb, config(extra='files = { "bin/x" = "x" }\n')), cnb)
    assert first.startswith(
        f"error: {ENTRY}: 'files' picks members of an archive, but tool-linux-amd64 is a "
        "single file (raw)"
    )


def test_a_file_key_matching_several_members_asks_for_a_directory(
    standin: StandIn, cnb: CnbDirs
) -> None:
    members = [executable("bin/a", AMD), executable("bin/b", AMD)]
    standin.add_release(REPO, "v1", {"t.tar.gz": tar_bytes(members)})
    first = failed(build(standin, cnb, config("t.tar.gz", 'files = { "bin/x" = "bin/*" }\n')), cnb)
    assert "'files' value 'bin/*' matches 2 members, but bin/x is one file" in first
    r = build(standin, cnb, config("t.tar.gz", 'files = { "tools/" = "bin/*" }\n'))
    assert r.rc == 0, r.all
    assert sorted(p.name for p in (cnb.layers / LAYER / "tools").iterdir()) == ["a", "b"]


# -- version_prefix, targets ----------------------------------------------------------------


def test_version_prefix_finds_the_components_latest_across_pages(
    standin: StandIn, cnb: CnbDirs
) -> None:
    asset = "kustomize_v5.3.0_linux_amd64.tar.gz"
    standin.add_release(
        REPO, "kustomize/v5.3.0", {asset: tar_bytes([executable("kustomize", AMD)])}
    )
    standin.add_release(REPO, "kustomize/v5.4.0-rc.1", {}, prerelease=True)
    for n in range(130):  # other components, newer: two pages of 100 to read
        standin.add_release(REPO, f"api/v0.{n}.0", {})
    text = config(
        "kustomize_v{version}_{os}_{arch}.tar.gz",
        'version_prefix = "kustomize/"\nfiles = { "bin/kustomize" = "kustomize" }\n',
        tag="latest",
    )
    r = build(standin, cnb, text)
    assert r.rc == 0, r.all
    assert "Resolved acme/tool kustomize/v5.3.0: kustomize_v5.3.0_linux_amd64.tar.gz" in r.out
    pages = [q.path for q in standin.api_requests() if "/releases?" in q.path]
    assert len(pages) == 2 and "page=2" in pages[1]


def test_targets_skip_other_targets_but_detect_still_requires(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"jq-linux64": AMD}, null_digest=["jq-linux64"])
    text = config("jq-linux64", 'targets = ["linux/amd64"]\ndestination = "bin/jq"\n')
    cnb.project(text)
    d = cnb.detect({"CNB_TARGET_ARCH": "arm64"})
    assert d.rc == 0 and "acme/tool" in cnb.plan_path.read_text()
    r = build(standin, cnb, text, CNB_TARGET_ARCH="arm64")
    assert r.rc == 0, r.all
    assert "  Skipping acme/tool jq-linux64: not available for linux/arm64 (targets)" in r.out
    assert not (cnb.layers / LAYER).exists()
    assert standin.requests == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('targets = ["amd64"]\n', "'targets' has 'amd64', which is not \"os/arch\""),
        ("targets = []\n", "'targets' must be a non-empty array"),
        ("checksums = true\n", "'checksums' must be \"auto\", false or a file name"),
        ('checksums = "{sha}.txt"\n', "'checksums' has an unknown placeholder {sha}"),
        ('files = { "/abs" = "x" }\n', "'files./abs' must be a relative path"),
        ('files = { "bin/x" = "../x" }\n', "'files.bin/x' must be a relative member path"),
        ("version_prefix = 3\n", "'version_prefix' must be a string"),
    ],
)
def test_bad_values_of_the_new_keys_fail_detect(cnb: CnbDirs, extra: str, message: str) -> None:
    cnb.project(config(extra=extra))
    r = cnb.detect()
    assert r.rc == 1 and "Traceback" not in r.err
    assert r.err.startswith(f"error: {ENTRY}: {message}"), r.err


def test_another_buildpacks_plan_entry_takes_the_new_keys(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release(REPO, "v1", {"yq_linux_amd64.tar.gz": YQ})
    cnb.project("")
    assert cnb.detect().rc == 0
    cnb.bp_plan_from_detect(
        [
            {
                "name": "github-assets",
                "metadata": {
                    "repo": REPO,
                    "asset": "yq_{os}_{arch}.tar.gz",
                    "tag": "v1",
                    "files": {"bin/yq": "yq_{os}_{arch}"},
                    "checksums": False,
                    "targets": ["linux/amd64"],
                    "version_prefix": "",
                },
            }
        ]
    )
    r = cnb.build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    assert sorted(p.name for p in (cnb.layers / LAYER).rglob("*") if p.is_file()) == ["yq"]


def test_a_checksum_file_too_large_is_refused_while_it_comes(
    standin: StandIn, cnb: CnbDirs
) -> None:
    huge = b"0" * (2 << 20)
    standin.add_release(REPO, "v1", {"tool-linux-amd64": AMD, "checksums.txt": huge})
    text = config(extra=f'sha256 = "{sha(AMD)}"\nchecksums = "checksums.txt"\n')
    r = build(standin, cnb, text, GITHUB_SERVER_URL=standin.web_url)  # direct: no size known
    first = failed(r, cnb)
    assert first.startswith(f"error: {ENTRY}: checksum file checksums.txt is larger than 1048576")
