"""The github-assets command as a CI user runs it (a subprocess against the loopback
GitHub stand-in): add an entry, build it, see it fall behind, upgrade it, and the
command's rough edges (--version, --config anywhere, check's placeholders, --json, lock
that keeps what did not change and the targets it was not asked about)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import toml
from tools.github_standin import StandIn
from tools.releases import get, gnu_sums, publish

from github_assets import __version__
from support import ROOT, CnbDirs

COMMENTED = """# The app's probe, and nothing else.
[[metadata.githubassets]]
repo = "hadolint/hadolint"   # linter used by the probe's own CI
tag = "v2.12.0"
sha256 = { amd64 = "%s", arm64 = "%s" }

[metadata.other]
keep = "this table"
"""


def command(s: StandIn, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "GITHUB_API_URL": s.api_url, "PYTHONPATH": str(ROOT / "src"), **env}
    return subprocess.run(
        [sys.executable, "-m", "github_assets", *args],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def next_release(standin: StandIn, key: str, tag: str) -> dict[str, bytes]:
    """The copy's assets again under a newer tag, the programs' bytes changed."""
    copy = get(key)
    programs = {*copy.asset_names("linux/amd64"), *copy.asset_names("linux/arm64")}
    assets = {n: d + b"\n# " + tag.encode() if n in programs else d for n, d in copy.assets.items()}
    for name in list(assets):
        if name.endswith(".sha256"):
            assets[name] = gnu_sums(assets, [name.removesuffix(".sha256")], sep=" *")
    standin.add_release(copy.repo, tag, assets, null_digest=list(assets))
    return assets


def test_version() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "github_assets", "--version"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 0 and r.stdout == f"github-assets {__version__}\n"


def test_add_appends_an_entry_that_builds(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin, get("hadolint"))
    publish(standin, get("grpc_health_probe"))
    before = (
        "# our tools\n[[metadata.githubassets]]\n"
        'repo = "grpc-ecosystem/grpc-health-probe"  # the probe\n'
        'asset = "grpc_health_probe-{os}-{arch}"\ntag = "v0.4.40"\n'
    )
    (cnb.app / "project.toml").write_text(before)
    r = command(standin, cnb.app, "add", "hadolint/hadolint", "--link", "hadolint")
    assert r.returncode == 0, r.stderr
    text = (cnb.app / "project.toml").read_text()
    assert text == before + (
        '\n[[metadata.githubassets]]\nrepo = "hadolint/hadolint"\ntag = "v2.12.0"\n'
        'link = "hadolint"\n'
    ), "appended as text: the rest of the file is untouched, latest's tag written"
    assert r.stdout.splitlines() == [
        "added hadolint/hadolint v2.12.0 to project.toml: hadolint-Linux-x86_64, "
        "hadolint-Linux-arm64",
        "probe path: /workspace/hadolint",
    ]
    lock = toml.loads((cnb.app / "github-assets.lock").read_text())
    assert len(lock["assets"]) == 4
    b = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url, "CNB_TARGET_ARCH": "amd64"})
    assert b.rc == 0, b.all
    assert "Selected" not in b.out, "the lock holds the choice"
    assert (cnb.app / "hadolint").resolve() == (
        cnb.layers / "hadolint_hadolint" / "bin" / "hadolint"
    )


def test_add_writes_a_template_where_selection_ties(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin, get("cosign"))
    (cnb.app / "project.toml").write_text("# nothing yet\n")
    r = command(standin, cnb.app, "add", "sigstore/cosign@v2.2.1")
    assert r.returncode == 0, r.stderr
    assert (cnb.app / "project.toml").read_text() == (
        '# nothing yet\n\n[[metadata.githubassets]]\nrepo = "sigstore/cosign"\n'
        'asset = "cosign-{os}-{arch}"\ntag = "v2.2.1"\n'
    )
    assert r.stdout.splitlines() == [
        "added sigstore/cosign v2.2.1 to project.toml: cosign-linux-amd64, cosign-linux-arm64 "
        "(asset = 'cosign-{os}-{arch}': selection alone ties)",
        "probe path: /layers/probe-assets_github-assets/sigstore_cosign/bin/cosign",
    ]


def test_add_of_a_release_no_template_fits_leaves_the_file_as_it_was(
    standin: StandIn, cnb: CnbDirs
) -> None:
    names = ["tool-amd64-linux", "tool-linux-amd64", "tool-linux-arm64"]
    standin.add_release("acme/tool", "v1", {n: n.encode() for n in names}, null_digest=names)
    (cnb.app / "project.toml").write_text("# nothing yet\n")
    r = command(standin, cnb.app, "add", "acme/tool@v1")
    assert r.returncode == 1
    assert r.stderr.startswith(
        "error: failed to choose an asset of acme/tool for linux/amd64: 2 assets tie "
        "(tool-amd64-linux, tool-linux-amd64)"
    ), r.stderr
    assert (cnb.app / "project.toml").read_text() == "# nothing yet\n"


def test_outdated_and_upgrade_move_the_tag_and_pins_in_place(
    standin: StandIn, cnb: CnbDirs
) -> None:
    copy = get("hadolint")
    publish(standin, copy)
    old = [copy.assets["hadolint-Linux-x86_64"], copy.assets["hadolint-Linux-arm64"]]
    import hashlib

    pins = tuple(hashlib.sha256(d).hexdigest() for d in old)
    (cnb.app / "project.toml").write_text(COMMENTED % pins)
    assert command(standin, cnb.app, "lock").returncode == 0
    assert command(standin, cnb.app, "outdated").returncode == 0
    new = next_release(standin, "hadolint", "v2.12.1")

    r = command(standin, cnb.app, "outdated")
    assert (r.returncode, r.stdout) == (1, "hadolint/hadolint v2.12.0 -> v2.12.1\n")
    j = command(standin, cnb.app, "outdated", "--json")
    assert j.returncode == 1
    assert json.loads(j.stdout)["entries"][0] | {"entry": ""} == {
        "entry": "",
        "repo": "hadolint/hadolint",
        "tag": "v2.12.0",
        "newest": "v2.12.1",
        "behind": True,
    }

    up = command(standin, cnb.app, "upgrade", "hadolint/hadolint")
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines() == [
        "upgraded hadolint/hadolint v2.12.0 -> v2.12.1",
        "  updated the sha256 pin of hadolint/hadolint (amd64, arm64)",
    ]
    want = tuple(hashlib.sha256(new[n]).hexdigest() for n in copy.asset_names("linux/amd64"))
    want += tuple(hashlib.sha256(new[n]).hexdigest() for n in copy.asset_names("linux/arm64"))
    assert (cnb.app / "project.toml").read_text() == (COMMENTED % want).replace(
        'tag = "v2.12.0"', 'tag = "v2.12.1"'
    ), "only the values changed: comments, layout and the other table stay"
    lock = toml.loads((cnb.app / "github-assets.lock").read_text())
    assert {e["resolved_tag"] for e in lock["assets"]} == {"v2.12.1"}
    assert command(standin, cnb.app, "outdated").returncode == 0
    assert command(standin, cnb.app, "lock", "--check").returncode == 0


def test_check_says_what_needs_the_release(standin: StandIn, cnb: CnbDirs) -> None:
    (cnb.app / "project.toml").write_text(
        '[[metadata.githubassets]]\nrepo = "a/grpcurl"\n'
        'asset = "grpcurl_{version}_{os}_{arch}.tar.gz"\n'
        'replacements = { amd64 = "x86_64" }\n\n'
        '[[metadata.githubassets]]\nrepo = "hadolint/hadolint"\ntag = "v2.12.0"\n'
    )
    r = command(standin, cnb.app, "check")
    assert r.returncode == 0, r.stderr
    assert (
        "  linux/amd64: grpcurl_{version}_linux_x86_64.tar.gz ({version} from the latest release)\n"
        in r.stdout
    )
    assert "  linux/arm64: chosen from the release's assets (asset left out)\n" in r.stdout
    j = json.loads(command(standin, cnb.app, "check", "--json").stdout)
    assert j["entries"][0]["targets"]["linux/amd64"] == {
        "asset": "grpcurl_{version}_linux_x86_64.tar.gz",
        "needs_release": "{version} from the latest release",
    }
    assert j["entries"][1]["targets"]["linux/amd64"]["asset"] is None


def test_config_takes_any_path(standin: StandIn, cnb: CnbDirs, tmp_path: Path) -> None:
    publish(standin, get("hadolint"))
    elsewhere = tmp_path / "ci" / "assets.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text('[[metadata.githubassets]]\nrepo = "hadolint/hadolint"\ntag = "v2.12.0"\n')
    r = command(standin, cnb.app, "check", "--config", str(elsewhere))
    assert r.returncode == 0, r.stderr
    assert "GITHUB_ASSETS_PATH" not in r.stderr
    made = command(standin, cnb.app, "lock", "--config", str(elsewhere))
    assert made.returncode == 0, made.stderr
    assert (elsewhere.parent / "github-assets.lock").is_file()


def test_lock_keeps_unchanged_entries_and_other_targets(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin, get("hadolint"))
    publish(standin, get("grpc_health_probe"))
    (cnb.app / "project.toml").write_text(
        '[[metadata.githubassets]]\nrepo = "hadolint/hadolint"\ntag = "v2.12.0"\n\n'
        '[[metadata.githubassets]]\nrepo = "grpc-ecosystem/grpc-health-probe"\ntag = "v0.4.40"\n'
    )
    first = command(standin, cnb.app, "lock", "--json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert [c["change"] for c in doc["changes"]] == ["added"] * 4
    assert "[4/4]" in first.stderr, "progress on stderr"
    text = (cnb.app / "github-assets.lock").read_text()

    asked = len(standin.api_requests()) + len(standin.storage_requests())
    again = command(standin, cnb.app, "lock")
    assert again.returncode == 0
    assert again.stdout == "wrote github-assets.lock (4 assets)\n"
    assert len(standin.api_requests()) + len(standin.storage_requests()) == asked, (
        "concrete tags whose inputs did not change: no request, no download"
    )
    one = command(standin, cnb.app, "lock", "--target", "linux/amd64")
    assert one.returncode == 0
    assert (cnb.app / "github-assets.lock").read_text() == text, "arm64 entries kept"
    ok = command(standin, cnb.app, "lock", "--check", "--json")
    assert (ok.returncode, json.loads(ok.stdout)["up_to_date"]) == (0, True)
    (cnb.app / "project.toml").write_text(
        (cnb.app / "project.toml").read_text().replace("v0.4.40", "v0.4.39")
    )
    stale = command(standin, cnb.app, "lock", "--check", "--json")
    assert stale.returncode == 1
    assert json.loads(stale.stdout)["missing"] == [
        "grpc-ecosystem/grpc-health-probe (asset chosen per target) on linux/amd64",
        "grpc-ecosystem/grpc-health-probe (asset chosen per target) on linux/arm64",
    ]


def test_lock_says_how_far_a_download_it_hashes_got(standin: StandIn, cnb: CnbDirs) -> None:
    big = bytes(range(256)) * (4 * 4096)  # 4 MiB, no checksum published: lock hashes it
    standin.add_release("acme/big", "v1", {"big-linux-amd64": big}, null_digest=["big-linux-amd64"])
    (cnb.app / "project.toml").write_text(
        '[[metadata.githubassets]]\nrepo = "acme/big"\ntag = "v1"\ntargets = ["linux/amd64"]\n'
    )
    r = command(standin, cnb.app, "lock")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == "downloading acme/big big-linux-amd64 (linux/amd64) (4.0 MiB) to hash it"
    assert [line.split(": ")[1] for line in lines[1:-1]] == [
        "25% of 4.0 MiB",
        "50% of 4.0 MiB",
        "75% of 4.0 MiB",
    ]
    assert lines[-1].startswith("[1/1] acme/big big-linux-amd64 (linux/amd64): v1, sha256 of")
    assert r.stdout.endswith("wrote github-assets.lock (1 assets)\n")


def test_lock_locks_assets_in_parallel(standin: StandIn, cnb: CnbDirs) -> None:
    import time

    from tools.github_standin import STORAGE

    entries = ""
    for repo in ("acme/one", "acme/two"):
        names = [f"{repo[5:]}-linux-{a}" for a in ("amd64", "arm64")]
        standin.add_release(repo, "v1", {n: n.encode() * 64 for n in names}, null_digest=names)
        entries += f'[[metadata.githubassets]]\nrepo = "{repo}"\ntag = "v1"\n\n'
    (cnb.app / "project.toml").write_text(entries)
    standin.delay(STORAGE, 1.5, times=4)  # each download waits 1.5 s: 6 s one after another
    started = time.monotonic()
    r = command(standin, cnb.app, "lock")
    took = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("wrote github-assets.lock (4 assets)\n")
    assert 1.5 < took < 4.5, f"4 downloads of 1.5 s each took {took:.1f} s"


def test_a_latest_entry_is_resolved_with_one_api_call_and_kept_while_its_tag_holds(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """Contract: a `latest` entry is resolved again (one API call); the same tag keeps its
    sha256 (a re-upload is picked up by deleting the entry), so nothing is downloaded."""
    names = ["tool-linux-amd64", "tool-linux-arm64"]
    standin.add_release(
        "acme/tool", "v3", {n: n.encode() * 64 for n in names}, null_digest=names
    )  # no digest: the first lock hashes the downloads
    (cnb.app / "project.toml").write_text('[[metadata.githubassets]]\nrepo = "acme/tool"\n')
    first = command(standin, cnb.app, "lock")
    assert first.returncode == 0, first.stderr
    latest = "/repos/acme/tool/releases/latest"
    assert [q.path for q in standin.api_requests()].count(latest) == 1, "one per entry"
    text = (cnb.app / "github-assets.lock").read_text()

    standin.requests.clear()
    again = command(standin, cnb.app, "lock")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "wrote github-assets.lock (2 assets)\n"
    assert [q.path for q in standin.requests] == [latest]
    assert (cnb.app / "github-assets.lock").read_text() == text

    newer = {n: n.encode() * 65 for n in names}
    standin.add_release("acme/tool", "v4", newer, null_digest=names)
    standin.requests.clear()
    moved = command(standin, cnb.app, "lock")
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.splitlines() == [
        "changed acme/tool tool-linux-amd64 (linux/amd64): v3 -> v4",
        "changed acme/tool tool-linux-arm64 (linux/arm64): v3 -> v4",
        "wrote github-assets.lock (2 assets)",
    ]
    assert [q.path for q in standin.api_requests()].count(latest) == 1


def test_lock_and_outdated_name_a_renamed_repository(standin: StandIn, cnb: CnbDirs) -> None:
    """Contract, GitHub: a renamed repo is followed on the API host and its new name said,
    so the user can update `repo`: the commands say it too (once), not only builds."""
    names = ["probe-linux-amd64", "probe-linux-arm64"]
    for tag in ("v1", "v2"):
        standin.add_release("acme/probe", tag, {n: n.encode() + tag.encode() for n in names})
    standin.rename("acme/probe", "acme/newprobe")
    (cnb.app / "project.toml").write_text(
        '[[metadata.githubassets]]\nrepo = "acme/probe"\ntag = "v1"\n'
    )
    moved = "Moved: acme/probe is now acme/newprobe; update 'repo'"
    locked = command(standin, cnb.app, "lock")
    assert locked.returncode == 0, locked.stderr
    assert locked.stderr.splitlines().count(moved) == 1, locked.stderr
    behind = command(standin, cnb.app, "outdated")
    assert (behind.returncode, behind.stdout) == (1, "acme/probe v1 -> v2\n")
    assert behind.stderr.splitlines() == [moved]


def test_add_takes_process_args_that_start_with_a_dash(standin: StandIn, cnb: CnbDirs) -> None:
    """`--args ...` as the contract writes it: grpc_health_probe's own arguments start with
    '-' and run up to the next option of add (argparse took them for options: exit 2)."""
    publish(standin, get("grpc_health_probe"))
    (cnb.app / "project.toml").write_text("")
    r = command(
        standin, cnb.app, "add", "grpc-ecosystem/grpc-health-probe@v0.4.40",
        "--process", "health", "--args", "-addr=:50051", "-connect-timeout", "2s",
        "--link", "probe",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    entry = toml.loads((cnb.app / "project.toml").read_text())["metadata"]["githubassets"][0]
    assert (entry["process"], entry["link"]) == ("health", "probe")
    assert entry["args"] == ["-addr=:50051", "-connect-timeout", "2s"]
