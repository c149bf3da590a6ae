"""bin/build as a subprocess against the loopback stand-in: the run-image ABI check, the
SBOMs (CycloneDX and SPDX, with the Go modules of the real grpc_health_probe) on install
and on reuse, and the `Probe command:` lines; `github-assets check` prints launch paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tools.cnb_lifecycle import tools_bin
from tools.elf import elf_bytes, go_buildinfo, go_modinfo
from tools.github_standin import StandIn

from support import ROOT, CnbDirs, Phase, go_version_m, tar_gz, validate_cdx, validate_spdx

REPO = "acme/probe"
LAYER = "acme_probe"
ASSET = "probe-linux-amd64"
UBUNTU_2204 = {"CNB_TARGET_DISTRO_NAME": "ubuntu", "CNB_TARGET_DISTRO_VERSION": "22.04"}
ALPINE = {"CNB_TARGET_DISTRO_NAME": "alpine", "CNB_TARGET_DISTRO_VERSION": "3.20"}
NEEDS_238 = elf_bytes(
    interp="/lib64/ld-linux-x86-64.so.2",
    version_needs={"libc.so.6": ["GLIBC_2.2.5", "GLIBC_2.38"]},
)


def config(extra: str = "") -> str:
    return (
        f'[[metadata.githubassets]]\nrepo = "{REPO}"\nasset = "probe-{{os}}-{{arch}}"\n'
        'tag = "v1.0.0"\n' + extra
    )


def build(standin: StandIn, cnb: CnbDirs, data: bytes, extra: str = "", **env: str) -> Phase:
    standin.add_release(REPO, "v1.0.0", {ASSET: data})
    cnb.project(config(extra))
    return cnb.detect_and_build({"GITHUB_API_URL": standin.api_url, **env})


def test_a_binary_the_run_image_cannot_run_fails_the_build(standin: StandIn, cnb: CnbDirs) -> None:
    r = build(standin, cnb, NEEDS_238, **UBUNTU_2204)
    assert r.rc == 1, r.all
    first = r.err.splitlines()[0]
    assert first.startswith("error: project.toml: ")
    assert (
        f"{ASSET}: bin/probe needs glibc 2.38 (GLIBC_2.38) but ubuntu 22.04 has glibc 2.35" in first
    )
    assert "static asset" in r.err and "abi_check = false" in r.err
    assert "Traceback" not in r.all
    assert not (cnb.layers / LAYER).exists()
    assert not (cnb.layers / f"{LAYER}.toml").exists()
    assert cnb.files_outside_layers() == []


def test_abi_check_false_turns_it_into_a_warning(standin: StandIn, cnb: CnbDirs) -> None:
    r = build(standin, cnb, NEEDS_238, "abi_check = false\n", **UBUNTU_2204)
    assert r.rc == 0, r.all
    assert (
        f"    Warning: {ASSET}: bin/probe needs glibc 2.38 (GLIBC_2.38) but ubuntu 22.04 has "
        "glibc 2.35 (not enforced: abi_check = false)"
    ) in r.out.splitlines()
    assert (cnb.layers / LAYER / "bin" / "probe").read_bytes() == NEEDS_238


@pytest.mark.parametrize(
    ("data", "env", "problem"),
    [
        (elf_bytes(interp="/lib/ld-musl-x86_64.so.1"),
         {"CNB_TARGET_DISTRO_NAME": "debian", "CNB_TARGET_DISTRO_VERSION": "12"},
         "needs musl (interpreter /lib/ld-musl-x86_64.so.1) but debian 12 has glibc 2.36"),
        (NEEDS_238, ALPINE, "needs glibc 2.38 (GLIBC_2.38) but alpine 3.20 has musl"),
    ],
    ids=["musl-on-debian", "glibc-on-alpine"],
)  # fmt: skip
def test_the_wrong_libc_fails(
    standin: StandIn, cnb: CnbDirs, data: bytes, env: dict[str, str], problem: str
) -> None:
    r = build(standin, cnb, data, **env)
    assert r.rc == 1, r.all
    assert f"{ASSET}: bin/probe {problem}" in r.err.splitlines()[0]


def test_the_log_says_static_or_dynamic_and_the_interpreter(standin: StandIn, cnb: CnbDirs) -> None:
    """Each ELF file: static, dynamic with its interpreter, or (a shared library) dynamic
    with none."""
    files = {
        "bin/static": elf_bytes(),
        "bin/dynamic": NEEDS_238,
        "lib/libx.so": elf_bytes(version_needs={"libc.so.6": ["GLIBC_2.38"]}),
    }
    standin.add_release(REPO, "v1.0.0", {"probe-linux-amd64.tar.gz": tar_gz(files, mode=0o644)})
    cnb.project(config().replace('-{arch}"', '-{arch}.tar.gz"'))
    env = {"GITHUB_API_URL": standin.api_url, "CNB_TARGET_DISTRO_NAME": "ubuntu"}
    r = cnb.detect_and_build({**env, "CNB_TARGET_DISTRO_VERSION": "24.04"})
    assert r.rc == 0, r.all
    layer = cnb.layers / LAYER
    elf_lines = sorted(line.strip() for line in r.out.splitlines() if "ELF " in line)
    assert elf_lines == [
        f"ELF amd64 dynamic, interpreter /lib64/ld-linux-x86-64.so.2: {layer}/bin/dynamic",
        f"ELF amd64 dynamic, no interpreter: {layer}/lib/libx.so",
        f"ELF amd64 static: {layer}/bin/static",
    ]


def test_a_reused_layer_is_checked_against_this_builds_run_image(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """A rebuild may target another run image (a stack moved back to jammy): the layer the
    lifecycle restored is judged by its recorded needs, with no download."""
    r = build(
        standin, cnb, NEEDS_238, CNB_TARGET_DISTRO_NAME="ubuntu", CNB_TARGET_DISTRO_VERSION="24.04"
    )
    assert r.rc == 0, r.all
    assert "Warning" not in r.out
    cnb.simulate_rebuild()
    again = cnb.build({"GITHUB_API_URL": standin.api_url, **UBUNTU_2204})
    assert again.rc == 1, again.all
    assert again.err.splitlines()[0].startswith(
        f"error: project.toml: [[metadata.githubassets]] #1 (repo {REPO}): {ASSET}: bin/probe "
        "needs glibc 2.38 (GLIBC_2.38) but ubuntu 22.04 has glibc 2.35; "
    )
    assert not standin.storage_requests()[1:]  # the first build's download only
    cnb.project(config("abi_check = false\n"))
    cnb.simulate_rebuild()
    lenient = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url, **UBUNTU_2204})
    assert lenient.rc == 0, lenient.all
    assert f"Reusing layer {LAYER}" in lenient.out
    assert (
        f"    Warning: {ASSET}: bin/probe needs glibc 2.38 (GLIBC_2.38) but ubuntu 22.04 has "
        "glibc 2.35 (not enforced: abi_check = false)"
    ) in lenient.out.splitlines()


def test_an_unknown_distro_is_a_warning(standin: StandIn, cnb: CnbDirs) -> None:
    r = build(
        standin, cnb, NEEDS_238, CNB_TARGET_DISTRO_NAME="fedora", CNB_TARGET_DISTRO_VERSION="40"
    )
    assert r.rc == 0, r.all
    assert (
        f"    Warning: {ASSET}: bin/probe needs glibc 2.38 (GLIBC_2.38); the run image's distro "
        "(fedora 40) is not one whose libc is known, so it was not checked"
    ) in r.out.splitlines()


def test_without_the_platforms_distro_the_build_images_os_release_decides(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """The stand-in run image is this machine: a binary needing a newer glibc than its
    distro's fails, naming that distro (from /etc/os-release)."""
    from github_assets.platform import distro_from_env

    distro = distro_from_env({})
    if distro is None or distro.glibc is None:
        pytest.skip(f"this machine's distro ({distro}) is not in the glibc table")
    newer = f"GLIBC_{distro.glibc[0]}.{distro.glibc[1] + 1}"
    data = elf_bytes(interp="/lib64/ld-linux-x86-64.so.2", version_needs={"libc.so.6": [newer]})
    r = build(standin, cnb, data)
    assert r.rc == 1, r.all
    assert f"but {distro} has glibc" in r.err.splitlines()[0]


@pytest.mark.parametrize("given", ["CNB_TARGET_DISTRO_NAME", "CNB_TARGET_DISTRO_VERSION"])
def test_a_distro_variable_the_platform_does_not_set_comes_from_the_build_host(
    standin: StandIn, cnb: CnbDirs, given: str
) -> None:
    """A platform that sets only one of the two: the other is this machine's (os-release),
    so the check is still made against a known glibc."""
    from github_assets.platform import distro_from_env

    distro = distro_from_env({})
    if distro is None or distro.glibc is None:
        pytest.skip(f"this machine's distro ({distro}) is not in the glibc table")
    newer = f"GLIBC_{distro.glibc[0]}.{distro.glibc[1] + 1}"
    data = elf_bytes(interp="/lib64/ld-linux-x86-64.so.2", version_needs={"libc.so.6": [newer]})
    value = distro.name if given == "CNB_TARGET_DISTRO_NAME" else distro.version
    r = build(standin, cnb, data, **{given: value})
    assert r.rc == 1, r.all
    assert f"but {distro} has glibc" in r.err.splitlines()[0]


def test_one_asset_installed_twice_in_a_layer_is_one_valid_cyclonedx_component(
    standin: StandIn, cnb: CnbDirs, tmp_path: Path
) -> None:
    """Two entries, one asset, two destinations in one layer: CycloneDX wants each bom-ref
    once, so the asset is one component naming both Go executables."""
    info = go_modinfo("github.com/acme/probe", ("github.com/acme/probe", "(devel)"), [])
    data = elf_bytes(go=go_buildinfo("go1.22.5", info))
    standin.add_release(REPO, "v1.0.0", {ASSET: data})
    twice = "".join(
        config(f'layer = "tools"\ndestination = "bin/{name}"\n') for name in ("one", "two")
    )
    cnb.project(twice)
    r = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    cdx = json.loads((cnb.layers / "tools.sbom.cdx.json").read_text())
    validate_cdx(cdx)
    validate_spdx(json.loads((cnb.layers / "tools.sbom.spdx.json").read_text()), tmp_path)
    [app] = [c for c in cdx["components"] if c["type"] == "application"]
    assert [p["value"] for p in app["properties"] if p["name"].endswith("go-executable")] == [
        "bin/one",
        "bin/two",
    ]
    assert [d["ref"] for d in cdx["dependencies"]] == [app["bom-ref"]]


# -- the real grpc_health_probe ------------------------------------------------------------


@pytest.fixture
def real_probe() -> Path:
    probe = tools_bin() / "grpc_health_probe"
    if not probe.is_file():
        pytest.skip(f"{probe} is missing: run `make tools` (scripts/install-tools.sh)")
    return probe


@pytest.mark.parametrize("env", [ALPINE, UBUNTU_2204, {"CNB_TARGET_DISTRO_NAME": "fedora"}])
def test_the_real_probe_is_static_and_builds_on_every_run_image(
    standin: StandIn, cnb: CnbDirs, real_probe: Path, env: dict[str, str]
) -> None:
    r = build(standin, cnb, real_probe.read_bytes(), **env)
    assert r.rc == 0, r.all
    assert f"ELF amd64 static: {cnb.layers / LAYER / 'bin' / 'probe'}" in r.out
    assert "Warning" not in r.out


def test_the_real_probes_sboms_list_its_go_modules_on_install_and_on_reuse(
    standin: StandIn, cnb: CnbDirs, real_probe: Path, tmp_path: Path
) -> None:
    data = real_probe.read_bytes()
    r = build(standin, cnb, data, 'process = "health"\n')
    assert r.rc == 0, r.all
    cdx_path = cnb.layers / f"{LAYER}.sbom.cdx.json"
    spdx_path = cnb.layers / f"{LAYER}.sbom.spdx.json"
    cdx, doc = json.loads(cdx_path.read_text()), json.loads(spdx_path.read_text())
    validate_cdx(cdx)
    validate_spdx(doc, tmp_path)
    version, _, main, deps = go_version_m(real_probe)
    golang = {c["purl"] for c in cdx["components"] if c["purl"].startswith("pkg:golang/")}
    modules = {p.rsplit("@", 1)[0].removeprefix("pkg:golang/") for p in golang}
    assert modules == {main[0], "stdlib", *(path for path, _ in deps)}
    assert f"pkg:golang/stdlib@{version.removeprefix('go')}" in golang
    for path, dep_version in deps:
        assert f"pkg:golang/{path}@{dep_version}" in golang
    [asset] = [p for p in doc["packages"] if p["name"] == ASSET]
    # public, resolved without a token: from the release's browser_download_url
    assert f"downloaded from {standin.storage_url} (direct)" in asset["sourceInfo"]
    contained = {
        r["relatedSpdxElement"]
        for r in doc["relationships"]
        if r["spdxElementId"] == asset["SPDXID"]
    }
    assert contained == {p["SPDXID"] for p in doc["packages"] if p is not asset}
    before = (cdx_path.read_bytes(), spdx_path.read_bytes())

    # A rebuild restores the layer toml alone: the SBOMs come back from what it records.
    cnb.simulate_rebuild()
    for path in (cdx_path, spdx_path):
        path.unlink(missing_ok=True)
    again = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url})
    assert again.rc == 0, again.all
    assert f"Reusing layer {LAYER}" in again.out
    assert (cdx_path.read_bytes(), spdx_path.read_bytes()) == before


# -- probe commands --------------------------------------------------------------------------


def probe_commands(out: str) -> list[list[str]]:
    prefix = "  Probe command: "
    return [json.loads(line[len(prefix) :]) for line in out.splitlines() if line.startswith(prefix)]


def test_probe_command_lines_use_the_link_else_the_layer_path(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release("acme/other", "v2", {"other-linux-amd64": elf_bytes(note=b"other")})
    standin.add_release("acme/quiet", "v3", {"quiet-linux-amd64": elf_bytes(note=b"quiet")})
    text = config(
        'link = "bin/grpc_health_probe"\nprocess = "health"\n'
        'args = ["-addr=:5000", "-connect-timeout=250ms"]\n'
    )
    text += (
        '[[metadata.githubassets]]\nrepo = "acme/other"\nasset = "other-{os}-{arch}"\n'
        'tag = "v2"\nprocess = "other"\nargs = ["-v"]\n'
        '[[metadata.githubassets]]\nrepo = "acme/quiet"\nasset = "quiet-{os}-{arch}"\ntag = "v3"\n'
    )
    standin.add_release(REPO, "v1.0.0", {ASSET: elf_bytes()})
    cnb.project(text)
    r = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    assert probe_commands(r.out) == [
        [str(cnb.app / "bin" / "grpc_health_probe"), "-addr=:5000", "-connect-timeout=250ms"],
        [str(cnb.layers / "acme_other" / "bin" / "other"), "-v"],
    ]
    # The link path is a real path to the probe.
    assert os.path.realpath(cnb.app / "bin" / "grpc_health_probe") == str(
        cnb.layers / LAYER / "bin" / "probe"
    )


def test_args_with_a_link_and_no_process_go_into_the_probe_command(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """`Probe command` is the launch path and the entry's args, for an entry with process
    or link: a link alone (no process type in the image) takes args for it too."""
    standin.add_release(REPO, "v1.0.0", {ASSET: elf_bytes()})
    cnb.project(config('link = "bin/grpc_health_probe"\nargs = ["-addr=:5000"]\n'))
    r = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    assert probe_commands(r.out) == [[str(cnb.app / "bin" / "grpc_health_probe"), "-addr=:5000"]]
    assert "processes" not in cnb.launch_toml()


def test_check_prints_the_launch_paths_known_before_a_download(cnb: CnbDirs) -> None:
    cnb.project(
        config('link = "bin/grpc_health_probe"\nprocess = "health"\nargs = ["-addr=:5000"]\n')
        + '[[metadata.githubassets]]\nrepo = "acme/tools"\nasset = "tools_{os}_{arch}.tar.gz"\n'
        + '[[metadata.githubassets]]\nrepo = "acme/yq"\nasset = "yq_{os}_{arch}.tar.gz"\n'
        + 'process = "yq"\nfiles = { "bin/yq" = "yq_{os}_{arch}" }\n'
    )
    r = subprocess.run(
        [sys.executable, "-m", "github_assets", "check"],
        cwd=cnb.app,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    layers = "/layers/probe-assets_github-assets"
    assert f"  layer path: {layers}/{LAYER}/bin/probe" in lines
    assert "  link: /workspace/bin/grpc_health_probe" in lines
    assert '  probe command: ["/workspace/bin/grpc_health_probe", "-addr=:5000"]' in lines
    assert f"  layer path: {layers}/acme_tools/... (known once unpacked)" in lines
    assert f"  layer path: {layers}/acme_yq/bin/yq" in lines
    assert f'  probe command: ["{layers}/acme_yq/bin/yq"]' in lines
