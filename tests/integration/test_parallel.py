"""bin/build with several assets at once, and archives unpacked while they download.

Against the loopback stand-in, as real subprocesses: downloads overlap (a throttled server
makes that visible in the wall time), the log keeps each layer's lines together in config
order, the first failure stops the others and leaves nothing half-installed, and a tar.gz
that is resumed or restarted mid-download still unpacks to exactly its content.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import time

import pytest
from tools.github_standin import StandIn

from github_assets import __version__
from github_assets.log import human_size
from support import CnbDirs, Phase, assert_secret_kept, elf_bytes, tar_gz, tree, write_plan

MiB = 1 << 20
TOKEN = "ghp_parallelTOKEN0123456789abcdefXYZ"
FAST = {"BP_GITHUB_ASSETS_BACKOFF": "0.01", "BP_GITHUB_ASSETS_TIMEOUT": "5"}
NAMES = ("alpha", "bravo", "charlie", "delta")


def payload(name: str, size: int) -> bytes:
    head = elf_bytes(size=4096)
    return head + hashlib.sha256(name.encode()).digest() * ((size - len(head)) // 32)


def publish(s: StandIn, size: int, tag: str = "v1") -> dict[str, bytes]:
    """One repo per name, each with one raw asset of `size` bytes (an amd64 ELF)."""
    data = {name: payload(f"{name} {tag}", size) for name in NAMES}
    for name, blob in data.items():
        s.add_release(f"acme/{name}", tag, {f"{name}-linux-amd64": blob})
        s.make_private(f"acme/{name}", TOKEN)
    return data


def config(tag: str = "v1", names: tuple[str, ...] = NAMES) -> str:
    return "".join(
        f'[[metadata.githubassets]]\nrepo = "acme/{n}"\nasset = "{n}-{{os}}-{{arch}}"\n'
        f'tag = "{tag}"\n\n'
        for n in names
    )


def run(s: StandIn, cnb: CnbDirs, **extra: str) -> tuple[Phase, float]:
    write_plan(cnb)
    env = {"GITHUB_API_URL": s.api_url, "GITHUB_TOKEN": TOKEN, **FAST, **extra}
    started = time.monotonic()
    r = cnb.build(env)
    return r, time.monotonic() - started


def blocks(out: str) -> list[list[str]]:
    """The log cut at each `  Layer` line, without the lines whose content varies."""
    result: list[list[str]] = []
    for line in out.splitlines():
        if line.startswith("  Layer "):
            result.append([])
        if result and not line.strip().startswith(("Done in", "ELF", "Verified", "Resolved")):
            result[-1].append(line)
    return result


def expected_block(cnb: CnbDirs, name: str, size: int) -> list[str]:
    exe = cnb.layers / f"acme_{name}" / "bin" / name
    return [
        f"  Layer acme_{name}",
        f"    Wants acme/{name} v1 {name}-{{os}}-{{arch}}",
        "    Installing: no previous layer",
        f"    Downloading {name}-linux-amd64 ({human_size(size)}) from the GitHub API",
        "    Unpacked raw: 1 file",
        f"    Installed {exe}",
    ]


def test_downloads_overlap_and_each_layer_logs_in_one_piece_in_config_order(
    standin: StandIn, cnb: CnbDirs
) -> None:
    size = 2 * MiB
    data = publish(standin, size)
    standin.throttle_bytes_per_sec = 2 * MiB  # one second per asset and connection
    cnb.project(config())
    sequential, one_at_a_time = run(standin, cnb, BP_GITHUB_ASSETS_PARALLEL="1")
    assert sequential.rc == 0, sequential.all
    for name in NAMES:
        (cnb.layers / f"acme_{name}.toml").unlink()
    parallel, at_once = run(standin, cnb)
    assert parallel.rc == 0, parallel.all
    # Four one-second downloads: one after the other, or side by side.
    assert one_at_a_time > 4.0
    assert at_once < one_at_a_time - 2.0, (at_once, one_at_a_time)
    for r in (sequential, parallel):
        assert blocks(r.out) == [expected_block(cnb, n, size) for n in NAMES]
        assert r.out.splitlines()[:2] == [
            f"GitHub Release Assets {__version__}",
            "  Target linux/amd64, 4 assets",
        ]
    for name, blob in data.items():
        assert (cnb.layers / f"acme_{name}" / "bin" / name).read_bytes() == blob
    assert cnb.files_outside_layers() == []
    assert_secret_kept(TOKEN, parallel, cnb, standin.storage_requests())


def test_a_reused_layer_and_new_ones_keep_config_order(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin, 64 * 1024)
    cnb.project(config(names=NAMES[:1]))
    first, _ = run(standin, cnb)
    assert first.rc == 0, first.all
    cnb.simulate_rebuild()
    cnb.project(config())
    r, _ = run(standin, cnb)
    assert r.rc == 0, r.all
    got = blocks(r.out)
    assert [b[0] for b in got] == [f"  Layer acme_{n}" for n in NAMES]
    assert got[0][2].startswith("    Reusing layer acme_alpha: same acme/alpha v1")
    assert got[1:] == [expected_block(cnb, n, 64 * 1024) for n in NAMES[1:]]


@pytest.mark.parametrize("value", ["0", "many", "-2", "65"])
def test_bad_parallel_value_fails_the_build(standin: StandIn, cnb: CnbDirs, value: str) -> None:
    publish(standin, 1024)
    cnb.project(config())
    r, _ = run(standin, cnb, BP_GITHUB_ASSETS_PARALLEL=value)
    assert r.rc == 1
    assert r.err.splitlines()[0] == (
        f"error: BP_GITHUB_ASSETS_PARALLEL must be a whole number from 1 to 64, got {value!r}; "
        "unset BP_GITHUB_ASSETS_PARALLEL or fix its value"
    )


def test_first_failure_stops_the_others_and_keeps_the_previous_layers(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin, 64 * 1024, "v1")
    cnb.project(config("v1"))
    r, _ = run(standin, cnb)
    assert r.rc == 0, r.all
    before = tree(cnb.layers)

    publish(standin, 8 * MiB, "v2")
    standin.throttle_bytes_per_sec = 2 * MiB  # four seconds per asset
    standin.fail("storage", 404, times=5, path_contains="/bravo-")
    cnb.project(config("v2"))
    r, took = run(standin, cnb)
    assert r.rc == 1, r.all
    storage = standin.storage_url.removeprefix("http://")
    assert r.err.splitlines()[0] == (
        "error: project.toml: [[metadata.githubassets]] #2 (repo acme/bravo): "
        f"failed to download bravo-linux-amd64: HTTP 404 from {storage}; "
        f"check that the asset still exists at {storage}"
    )
    assert "Traceback" not in r.err
    assert took < 3.0, "the other downloads were not stopped"
    assert tree(cnb.layers) == before, "a failed build changed the layers"
    assert cnb.files_outside_layers() == []
    assert_secret_kept(TOKEN, r, cnb, standin.storage_requests())


# -- archives unpacked while they download ---------------------------------------------------


def big_tar_gz() -> tuple[bytes, dict[str, bytes]]:
    members = {
        "probe-1.0/bin/probe": elf_bytes(size=4096) + os.urandom(3 * MiB),
        "probe-1.0/README": b"hello\n",
    }
    return tar_gz(members), members


def archive_config() -> str:
    return (
        '[[metadata.githubassets]]\nrepo = "acme/probe"\nasset = "probe.tar.gz"\n'
        'tag = "v1"\nstrip_components = 1\n'
    )


def installed_tree(cnb: CnbDirs) -> dict[str, bytes]:
    """The archive's files in the layer (env/ holds the buildpack's PATH env files)."""
    layer = cnb.layers / "acme_probe"
    return {
        p.relative_to(layer).as_posix(): p.read_bytes()
        for p in layer.rglob("*")
        if p.is_file() and p.relative_to(layer).parts[0] != "env"
    }


@pytest.mark.parametrize("ranges", [True, False], ids=["resume", "start-over"])
def test_tar_gz_interrupted_mid_pipeline_unpacks_exactly_once(
    standin: StandIn, cnb: CnbDirs, ranges: bool
) -> None:
    data, members = big_tar_gz()
    standin.range_supported = ranges
    standin.add_release("acme/probe", "v1", {"probe.tar.gz": data})
    standin.drop_after(2 * MiB)
    cnb.project(archive_config())
    r, _ = run(standin, cnb)
    assert r.rc == 0, r.all
    if ranges:
        assert "      Resuming at 2.0 MiB of 3.0 MiB" in r.out.splitlines()
    else:
        assert "      Starting over: the server cannot resume at 2.0 MiB of 3.0 MiB" in r.out
    assert "    Unpacked tar+gzip: 2 files" in r.out.splitlines()
    assert installed_tree(cnb) == {k.removeprefix("probe-1.0/"): v for k, v in members.items()}
    assert cnb.files_outside_layers() == []


def test_a_checksum_mismatch_wins_over_what_the_bytes_unpack_to(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """The pipelined unpack fails first (a hostile member), but the bytes are not the asset."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
        filler = tarfile.TarInfo("filler")
        filler.size = 2 * MiB
        tf.addfile(filler, io.BytesIO(os.urandom(2 * MiB)))
    standin.add_release(
        "acme/probe", "v1", {"probe.tar.gz": buf.getvalue()}, digests={"probe.tar.gz": None}
    )
    cnb.project(archive_config() + f'sha256 = "{"0" * 64}"\n')
    write_plan(cnb)
    before = tree(cnb.base)
    r = cnb.build({"GITHUB_API_URL": standin.api_url, **FAST})
    assert r.rc == 1
    assert r.err.splitlines()[0].startswith(
        "error: project.toml: [[metadata.githubassets]] #1 (repo acme/probe): "
        f"checksum mismatch for probe.tar.gz: expected sha256:{'0' * 64} (pinned)"
    )
    assert tree(cnb.base) == before, "the build left something behind"


def test_one_asset_into_two_layers(standin: StandIn, cnb: CnbDirs) -> None:
    """Two entries differ only in their layer: the same download, twice, side by side."""
    data = publish(standin, 256 * 1024)["alpha"]
    entry = '[[metadata.githubassets]]\nrepo = "acme/alpha"\nasset = "alpha-{os}-{arch}"\n'
    cnb.project(f'{entry}tag = "v1"\nlayer = "one"\n\n{entry}tag = "v1"\nlayer = "two"\n')
    r, _ = run(standin, cnb)
    assert r.rc == 0, r.all
    for layer in ("one", "two"):
        assert (cnb.layers / layer / "bin" / "alpha").read_bytes() == data
    assert cnb.files_outside_layers() == []


def test_one_session_per_build_reuses_connections_across_assets_and_stages(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """A rebuild with `latest` asks the API about every layer first (two threads), then
    installs what changed: that install reuses an API connection the check opened, where a
    session per thread opened one more. A single-asset build opens one per host."""
    publish(standin, 64 * 1024)
    cnb.project(config(tag="latest", names=("alpha",)))
    api, storage = standin.connections_accepted("api"), standin.connections_accepted("storage")
    r, _ = run(standin, cnb)
    assert r.rc == 0, r.all
    assert standin.connections_accepted("api") - api == 1  # release, then the asset's URL
    assert standin.connections_accepted("storage") - storage == 1

    cnb.project(config(tag="latest", names=("alpha", "bravo")))
    assert run(standin, cnb)[0].rc == 0
    cnb.simulate_rebuild()
    standin.add_release("acme/alpha", "v2", {"alpha-linux-amd64": payload("alpha v2", 4096)})
    api = standin.connections_accepted("api")
    r, _ = run(standin, cnb)
    assert r.rc == 0, r.all
    assert "Reusing layer acme_bravo" in r.out
    assert "Installing: latest release of acme/alpha is now v2 (was v1)" in r.out
    assert standin.connections_accepted("api") - api <= 2  # two checks at once, at most
