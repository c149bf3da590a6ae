"""Issue 11's defects, each as a user met it: bin/detect and bin/build as real subprocesses.

Builds that must meet file permissions run as the unprivileged `cnb` user (the lifecycle
never builds as root, and root ignores modes), with the system python3.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.archives import regular, tar_bytes
from tools.github_standin import StandIn

from support import ROOT, CnbDirs, Phase, elf_bytes, tar_gz, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
ENTRY = f"project.toml: [[metadata.githubassets]] #1 (repo {REPO})"
FAST = {"BP_GITHUB_ASSETS_BACKOFF": "0.01", "BP_GITHUB_ASSETS_TIMEOUT": "5"}


def config(asset: str = "probe-{os}-{arch}", extra: str = "") -> str:
    return f'[[metadata.githubassets]]\nrepo = "{REPO}"\nasset = "{asset}"\ntag = "v1"\n' + extra


def publish(s: StandIn, assets: dict[str, bytes] | None = None) -> None:
    s.add_release(REPO, "v1", assets or {"probe-linux-amd64": elf_bytes()})


def build(s: StandIn, cnb: CnbDirs, text: str, **env: str) -> Phase:
    cnb.project(text)
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, **FAST, **env})


def assert_clean_failure(r: Phase, cnb: CnbDirs, first: str) -> None:
    """Exit 1, one first line that starts as given, no traceback, no layer, nothing half-made."""
    assert r.rc == 1, r.all
    assert "Traceback" not in r.err
    assert r.err.splitlines()[0].startswith(first), r.err
    assert not (cnb.layers / LAYER).exists() and not (cnb.layers / f"{LAYER}.toml").exists()
    assert cnb.files_outside_layers() == []


# -- #1, #8: links --------------------------------------------------------------------------


def test_link_through_a_symlink_of_the_app_dir_creates_nothing_outside(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin)
    outside = cnb.base / "outside"
    outside.mkdir()
    (cnb.app / "bin").symlink_to(outside)
    r = build(standin, cnb, config(extra='link = "bin/probe"\n'))
    assert_clean_failure(
        r, cnb, f"error: {ENTRY}: 'link' bin/probe passes through bin, a symlink in the app dir"
    )
    assert list(outside.iterdir()) == []
    assert standin.storage_requests() == []


def test_link_whose_parent_is_a_file_fails_before_anything_is_written(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin)
    (cnb.app / "bin").write_text("a file")
    r = build(standin, cnb, config(extra='link = "bin/probe"\n'))
    assert_clean_failure(
        r, cnb, f"error: {ENTRY}: 'link' bin/probe: bin in the app dir is not a directory"
    )
    assert not (cnb.layers / "launch.toml").exists()


# -- #5: process/link and no executable -------------------------------------------------------


def test_process_on_an_archive_without_executables_leaves_no_half_layer(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin, {"docs.tar.gz": tar_gz({"README": b"read me\n"}, mode=0o644)})
    r = build(standin, cnb, config("docs.tar.gz", 'process = "docs"\n'))
    assert_clean_failure(r, cnb, f"error: {ENTRY}: the asset installs no executable")


# -- #6, #10: config errors at detect ---------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        'layer = "launch"\n',
        'layer = "build"\n',
        'layer = "store"\n',
        'layer = "x.toml"\n',
        'layer = "x.sbom.cdx.json"\n',
    ],
)
def test_layer_names_that_clash_with_our_files_fail_detect(cnb: CnbDirs, extra: str) -> None:
    cnb.project(config(extra=extra))
    r = cnb.detect()
    assert r.rc == 1 and "Traceback" not in r.err
    assert "clashes with the buildpack's own files" in r.err.splitlines()[0]
    assert r.err.startswith(f"error: {ENTRY}: layer name ")


def test_a_default_layer_name_that_clashes_asks_for_layer(cnb: CnbDirs) -> None:
    cnb.project('[[metadata.githubassets]]\nrepo = "acme/tool.toml"\nasset = "x"\n')
    r = cnb.detect()
    assert r.rc == 1
    assert "layer name 'acme_tool.toml' clashes" in r.err and "set 'layer' to a name" in r.err


@pytest.mark.parametrize("key", ["destination", "link"])
def test_a_path_component_longer_than_255_bytes_fails_detect(cnb: CnbDirs, key: str) -> None:
    cnb.project(config(extra=f'{key} = "bin/{"x" * 256}"\n'))
    r = cnb.detect()
    assert r.rc == 1 and "Traceback" not in r.err
    assert f"'{key}' has a path component of 256 bytes" in r.err.splitlines()[0]


# -- #17: two builds on one layers dir ---------------------------------------------------------


def test_a_second_build_leaves_the_first_builds_work_dir_alone(
    standin: StandIn, cnb: CnbDirs
) -> None:
    big = elf_bytes() + os.urandom(3 << 20)
    publish(standin, {"probe-linux-amd64": big})
    standin.add_release("acme/other", "v1", {"other": elf_bytes()})
    standin.throttle_bytes_per_sec = 2 << 20  # the first build takes about 1.5 s
    first: list[Phase] = []
    thread = threading.Thread(target=lambda: first.append(build(standin, cnb, config())))
    thread.start()
    deadline = time.monotonic() + 10
    while not any(p.name.startswith(".github-assets-work-") for p in cnb.layers.iterdir()):
        assert time.monotonic() < deadline, "the first build never made its work dir"
        time.sleep(0.02)
    other = '[[metadata.githubassets]]\nrepo = "acme/other"\nasset = "other"\ntag = "v1"\n'
    second = build(standin, cnb, other)
    thread.join()
    assert second.rc == 0, second.all
    assert "left by an interrupted build" not in second.out
    assert first[0].rc == 0, first[0].all
    assert (cnb.layers / LAYER / "bin" / "probe").read_bytes() == big


def test_a_dead_builds_work_dir_is_removed(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    dead = cnb.layers / ".github-assets-work-deadbeef"
    (dead / "unpack").mkdir(parents=True)
    (dead / ".owner.lock").write_text("")  # nobody holds its lock
    r = build(standin, cnb, config())
    assert r.rc == 0, r.all
    assert "Removing .github-assets-work-deadbeef, left by an interrupted build" in r.out
    assert not dead.exists()


# -- #7, #8, #9: permissions, as the lifecycle's unprivileged user -----------------------------


@pytest.fixture
def user_cnb() -> Iterator[CnbDirs]:
    """CnbDirs in a dir the cnb user owns, with a copy of the buildpack it can read."""
    try:
        user = pwd.getpwnam("cnb")
    except KeyError:
        pytest.fail("no system user cnb: scripts/install-tools.sh creates it (make tools)")
    base = Path(tempfile.mkdtemp(prefix="gha-user-", dir="/tmp"))
    base.chmod(0o755)
    bp = base / "buildpack"
    for part in ("bin", "src", "vendor", "buildpack.toml"):
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, bp / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, bp / part)
    cnb = CnbDirs(base / "run", buildpack_dir=bp)
    for path in [base, *base.rglob("*")]:
        os.lchown(path, user.pw_uid, user.pw_gid)
    try:
        yield cnb
    finally:
        for path in [base, *base.rglob("*")]:
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(base)


def build_as_cnb(s: StandIn, cnb: CnbDirs, text: str, **extra: str) -> Phase:
    """bin/build as the cnb user with the system python3, like the lifecycle's builder."""
    cnb.project(text)
    write_plan(cnb)
    user = pwd.getpwnam("cnb")
    for path in (cnb.app / "project.toml", cnb.bp_plan_path):
        os.chown(path, user.pw_uid, user.pw_gid)
    env = cnb.env({"GITHUB_API_URL": s.api_url, **FAST, **extra})
    env.update(
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(cnb.base),
            "CNB_LAYERS_DIR": str(cnb.layers),
            "CNB_BP_PLAN_PATH": str(cnb.bp_plan_path),
        }
    )
    p = subprocess.run(
        ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--",
         str(cnb.buildpack / "bin" / "build"), str(cnb.layers), str(cnb.platform),
         str(cnb.bp_plan_path)],
        cwd=cnb.app, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return Phase(p.returncode, p.stdout, p.stderr)


@pytest.mark.parametrize("mode", [0o000, 0o200])
def test_archive_members_without_read_permission_install_readable(
    standin: StandIn, user_cnb: CnbDirs, mode: int
) -> None:
    """As the unprivileged build user: a member without read permission is readable once
    installed; an ELF file is an executable, so 0755 (every executable is)."""
    data = elf_bytes()
    archive = tar_bytes([regular("tool/probe", data, mode), regular("tool/notes", b"x\n", mode)])
    publish(standin, {"probe.tar.gz": archive})
    r = build_as_cnb(standin, user_cnb, config("probe.tar.gz", "strip_components = 1\n"))
    assert r.rc == 0, r.all
    installed = user_cnb.layers / LAYER / "probe"
    assert installed.read_bytes() == data
    assert installed.stat().st_mode & 0o777 == 0o755
    notes = user_cnb.layers / LAYER / "notes"
    assert notes.read_bytes() == b"x\n"
    assert notes.stat().st_mode & 0o777 == (mode | 0o400)


def test_read_only_app_dir_fails_the_link_before_anything_is_written(
    standin: StandIn, user_cnb: CnbDirs
) -> None:
    publish(standin)
    user_cnb.project(config(extra='link = "probe"\n'))
    user_cnb.app.chmod(0o555)
    r = build_as_cnb(standin, user_cnb, config(extra='link = "probe"\n'))
    assert_clean_failure(r, user_cnb, f"error: {ENTRY}: 'link' probe: the app dir ")
    assert "is not writable" in r.err
    assert standin.storage_requests() == []


def test_read_only_layers_dir_is_one_line(standin: StandIn, user_cnb: CnbDirs) -> None:
    publish(standin)
    user_cnb.layers.chmod(0o555)
    r = build_as_cnb(standin, user_cnb, config())
    assert r.rc == 1 and "Traceback" not in r.err
    first = r.err.splitlines()[0]
    assert first.startswith(
        f"error: failed to create a work dir in the layers dir {user_cnb.layers}"
    )
    assert "Permission denied" in first and "check the owner and mode" in first
    assert list(user_cnb.layers.iterdir()) == []


def test_an_unreadable_file_mirror_path_names_it_never_a_write(
    standin: StandIn, user_cnb: CnbDirs
) -> None:
    """#20.5: the mirror's file exists but the build user cannot read it."""
    import hashlib

    data = elf_bytes()
    standin.down = {"api", "storage", "web"}
    tree = user_cnb.base / "mirror" / REPO / "releases" / "download" / "v1"
    tree.mkdir(parents=True)
    path = tree / "probe-linux-amd64"
    path.write_bytes(data)
    path.chmod(0)
    pin = f'sha256 = "{hashlib.sha256(data).hexdigest()}"\n'
    mirror = (user_cnb.base / "mirror").as_uri()
    r = build_as_cnb(standin, user_cnb, config(extra=pin), BP_DEPENDENCY_MIRROR=mirror)
    assert r.rc == 1 and "Traceback" not in r.err, r.all
    first = r.err.splitlines()[0]
    assert first == (
        f"error: {ENTRY}: mirror {mirror}: cannot read {path} for "
        "probe-linux-amd64: Permission denied; make it readable for the build user, or fix "
        "the mirror or binding"
    )
    assert not (user_cnb.layers / LAYER).exists()


@pytest.mark.parametrize("python", [True, False], ids=["python", "sh"])
def test_an_unreadable_config_fails_detect_on_both_paths(user_cnb: CnbDirs, python: bool) -> None:
    """The sh path must not take a config it cannot read for no config (the assets would be
    skipped without a word): exit 1 and one line, as the Python path says it."""
    user = pwd.getpwnam("cnb")
    tools = user_cnb.base / "nopython"
    tools.mkdir()
    for tool in ("sh", "grep", "sed", "cat", "realpath", "readlink"):
        found = shutil.which(tool, path="/usr/bin:/bin")
        assert found, tool
        (tools / tool).symlink_to(found)
    user_cnb.project(config())
    project = user_cnb.app / "project.toml"
    os.chown(project, user.pw_uid, user.pw_gid)
    project.chmod(0o000)
    env = user_cnb.env({"PATH": "/usr/local/bin:/usr/bin:/bin" if python else str(tools)})
    env.update({"HOME": str(user_cnb.base), "CNB_BUILD_PLAN_PATH": str(user_cnb.plan_path)})
    p = subprocess.run(
        [shutil.which("setpriv") or "setpriv", f"--reuid={user.pw_uid}",
         f"--regid={user.pw_gid}", "--init-groups", "--",
         str(user_cnb.buildpack / "bin" / "detect"), str(user_cnb.platform),
         str(user_cnb.plan_path)],
        cwd=user_cnb.app, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stderr.splitlines() == ["error: failed to read project.toml: Permission denied"], (
        p.stderr
    )
