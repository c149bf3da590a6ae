"""What the build makes reachable for other users and processes: the layer's executables on
PATH (env files the lifecycle applies) and the app-dir link's directories, through bin/build."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import toml
from tools.github_standin import StandIn

from support import CnbDirs, tar_gz, write_plan

UMASK_077 = ["sh", "-c", 'umask 077 && exec "$0" "$@"']


def test_the_link_directories_in_the_app_dir_are_0755_under_umask_077(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """A hardened runner (umask 077) must not make the link's parents 0700: the image's run
    user is not the build user and could not reach /workspace/<link> through them."""
    standin.add_release("acme/tool", "v1", {"tool": b"#!/bin/sh\necho hi\n"})
    cnb.prefix = UMASK_077
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/tool"\nasset = "tool"\ntag = "v1"\n'
        'link = "probes/deep/tool"\n'
    )
    write_plan(cnb)
    r = cnb.build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    modes = {d: stat.S_IMODE((cnb.app / d).stat().st_mode) for d in ("probes", "probes/deep")}
    assert modes == {"probes": 0o755, "probes/deep": 0o755}
    assert (
        cnb.app / "probes" / "deep" / "tool"
    ).resolve() == cnb.layers / "acme_tool" / "bin" / "tool"


SCRIPT = b"#!/bin/sh\necho ran $0\n"
# kustomize's layout (the binary at the archive root, so at the layer root by default), plus
# a top directory of its own (gh's) and a bin/ (the lifecycle's own PATH entry).
ARCHIVE = {"kustomize": SCRIPT, "gh_1.0_linux_amd64/bin/gh": SCRIPT, "bin/helper": SCRIPT}
LAYER = "acme_tools"


def _tools(
    standin: StandIn, cnb: CnbDirs, *, extra: str = "", members: dict[str, bytes] = ARCHIVE
) -> None:
    standin.add_release("acme/tools", "v1", {"tools.tar.gz": tar_gz(members)})
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/tools"\nasset = "tools.tar.gz"\ntag = "v1"\n'
        + extra
    )
    write_plan(cnb)


def _lifecycle_path(layer: Path, path: str = "/usr/bin:/bin") -> str:
    """PATH as the lifecycle makes it for a layer (spec, "Layer Paths" then the env files:
    <layer>/bin prepended, then env/PATH.prepend with its delimiter)."""
    prepend = (layer / "env" / "PATH.prepend").read_text()
    delim = (layer / "env" / "PATH.delim").read_text()
    return f"{prepend}{delim}{layer / 'bin'}:{path}"


def test_executables_outside_bin_are_put_on_path_by_env_files(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """The lifecycle adds only <layer>/bin to PATH: every other directory holding an installed
    executable goes into env/PATH.prepend (applied at build for a build layer, at launch for a
    launch layer), bin/ first so that it keeps precedence. Under umask 077 too."""
    _tools(standin, cnb, extra="build = true\n")
    cnb.prefix = UMASK_077
    r = cnb.build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    layer = cnb.layers / LAYER
    env = layer / "env"
    assert sorted(p.name for p in env.iterdir()) == ["PATH.delim", "PATH.prepend"]
    assert (env / "PATH.prepend").read_text() == (
        f"{layer / 'bin'}:{layer}:{layer / 'gh_1.0_linux_amd64' / 'bin'}"
    )
    assert (env / "PATH.delim").read_text() == ":"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (env, *env.iterdir())}
    assert modes == {"env": 0o755, "PATH.delim": 0o644, "PATH.prepend": 0o644}
    assert cnb.layer_toml(LAYER)["metadata"]["path"] == ["bin", ".", "gh_1.0_linux_amd64/bin"]
    assert cnb.layer_toml(LAYER)["types"] == {"launch": True, "build": True, "cache": True}
    assert f"On PATH from layer {LAYER}: {layer / 'bin'}:{layer}:" in r.out
    for tool in ("kustomize", "gh", "helper"):
        ran = subprocess.run(
            [tool], env={"PATH": _lifecycle_path(layer)}, capture_output=True, text=True
        )
        assert ran.returncode == 0 and ran.stdout.startswith(f"ran {layer}/"), (tool, ran)


def test_a_layer_with_executables_only_in_bin_gets_no_env_files(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release("acme/tool", "v1", {"tool": SCRIPT})
    cnb.project('[[metadata.githubassets]]\nrepo = "acme/tool"\nasset = "tool"\ntag = "v1"\n')
    write_plan(cnb)
    r = cnb.build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    assert sorted(p.name for p in (cnb.layers / "acme_tool").iterdir()) == ["bin"]
    assert "path" not in cnb.layer_toml("acme_tool")["metadata"]
    assert "On PATH" not in r.out


def test_a_reused_layer_keeps_its_env_files_and_creates_nothing(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """Restored from the cache the layer dir comes back with env/; restored from the previous
    image (toml only) nothing is created: the image's layer, env files and all, stays."""
    _tools(standin, cnb)
    env = {"GITHUB_API_URL": standin.api_url}
    assert cnb.build(env).rc == 0
    prepend = cnb.layers / LAYER / "env" / "PATH.prepend"
    before = prepend.read_text()
    downloads = len(standin.storage_requests())

    cnb.simulate_rebuild()
    r = cnb.build(env)
    assert r.rc == 0, r.all
    assert f"Reusing layer {LAYER}" in r.out
    assert prepend.read_text() == before
    assert cnb.layer_toml(LAYER)["metadata"]["path"] == ["bin", ".", "gh_1.0_linux_amd64/bin"]

    cnb.simulate_rebuild(from_cache=False)
    r = cnb.build(env)
    assert r.rc == 0, r.all
    assert f"Reusing layer {LAYER}" in r.out
    assert not (cnb.layers / LAYER).exists(), "a metadata-only reuse creates no layer dir"
    assert cnb.layer_toml(LAYER)["metadata"]["path"] == ["bin", ".", "gh_1.0_linux_amd64/bin"]
    assert len(standin.storage_requests()) == downloads


def test_a_previous_layer_without_the_env_files_is_installed_again(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """A layer an older version wrote (no env files, no `path` in its toml) would leave the
    executables off PATH forever if reused, whether the cache or only the image has it; a
    restored dir whose env file was lost is not reused either."""
    _tools(standin, cnb)
    env = {"GITHUB_API_URL": standin.api_url}
    assert cnb.build(env).rc == 0
    toml_path = cnb.layers / f"{LAYER}.toml"

    def older_version(*, from_cache: bool) -> None:
        data = toml.loads(toml_path.read_text())
        del data["metadata"]["path"]
        toml_path.write_text(toml.dumps(data))
        shutil.rmtree(cnb.layers / LAYER / "env")
        cnb.simulate_rebuild(from_cache=from_cache)

    for from_cache in (True, False):
        older_version(from_cache=from_cache)
        r = cnb.build(env)
        assert r.rc == 0, r.all
        assert (
            "Installing: the previous layer does not put its executables outside bin/ on PATH"
            in r.out
        )
        assert (cnb.layers / LAYER / "env" / "PATH.prepend").is_file()

    (cnb.layers / LAYER / "env" / "PATH.prepend").unlink()
    cnb.simulate_rebuild()
    r = cnb.build(env)
    assert r.rc == 0, r.all
    assert "Installing: the restored layer lacks env/PATH.prepend as wanted" in r.out
    assert (cnb.layers / LAYER / "env" / "PATH.prepend").is_file()


def test_an_archive_that_brings_its_own_path_env_file_is_refused(
    standin: StandIn, cnb: CnbDirs
) -> None:
    _tools(standin, cnb, members={"kustomize": SCRIPT, "env/PATH.prepend": b"/evil\n"})
    r = cnb.build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 1, r.all
    [line] = [x for x in r.all.splitlines() if x.startswith("error: ")]
    assert line == (
        f"error: project.toml: [[metadata.githubassets]] #1 (repo acme/tools): layer {LAYER}: the "
        "asset has env/PATH.prepend, which the buildpack writes to put its executables on "
        "PATH; unpack it into a 'destination' directory"
    )
    assert "Traceback" not in r.all
    assert not (cnb.layers / LAYER).exists()
    assert not (cnb.layers / f"{LAYER}.toml").exists()
