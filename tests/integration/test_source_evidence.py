"""Which source may be trusted with which evidence, and what a layer must hold (issue 20:
1, 2, 4, 5, 7), at the level users see it: bin/build and the github-assets command as
subprocesses against the loopback stand-in, mirrors being a second stand-in.

- no source vouches for its own bytes: a mirror serving a forged checksum file and a
  forged binary never gets them installed;
- the lock's resolved tag and sha256 are wanted content: a re-lock reinstalls;
- a private pinned asset from a mirror needs no token; an entry's own api_url gives its
  web base;
- wrong bytes from a mirror name it and never advise updating the pin; a stale lock's
  size is not a network fault; a direct download answered 429 advises no token;
- `latest` with version_prefix records the ETag.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from tools.github_standin import WEB, StandIn

from support import ROOT, CnbDirs, Phase, elf_bytes, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
AMD = elf_bytes(size=40_000)
AMD2 = elf_bytes(size=41_000)
FORGED = elf_bytes(size=40_000, note=b"forged by the mirror")
TOKEN = "ghp_sourceEvidenceTOKEN0123456789"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sums(data: bytes) -> bytes:
    return f"{sha(data)}  probe-linux-amd64\n".encode()


def entry(tag: str = "v1", **keys: str) -> str:
    text = f'[[metadata.githubassets]]\nrepo = "{REPO}"\nasset = "probe-{{os}}-{{arch}}"\n'
    text += f'tag = "{tag}"\n'
    return text + "".join(f'{k} = "{v}"\n' for k, v in keys.items())


def build(s: StandIn, cnb: CnbDirs, text: str | None = None, **env: str) -> Phase:
    if text is not None:
        cnb.project(text)
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, "BP_GITHUB_ASSETS_BACKOFF": "0.01", **env})


def command(s: StandIn, cnb: CnbDirs, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "GITHUB_API_URL": s.api_url, "PYTHONPATH": str(ROOT / "src"), **env}
    return subprocess.run(
        [sys.executable, "-m", "github_assets", *args],
        cwd=cnb.app, env=full, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def installed(cnb: CnbDirs) -> bytes:
    return (cnb.layers / LAYER / "bin" / "probe").read_bytes()


def first_line(r: Phase) -> str:
    assert r.rc == 1 and "Traceback" not in r.err, r.all
    return r.err.splitlines()[0]


# -- 20.1 no source vouches for its own bytes -------------------------------------------------


def test_a_mirror_serving_a_forged_checksum_file_and_binary_never_gets_them_installed(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD, "checksums.txt": sums(AMD)})
    with StandIn() as mirror:
        mirror.add_release(REPO, "v1", {"probe-linux-amd64": FORGED, "checksums.txt": sums(FORGED)})
        text = entry(checksums="checksums.txt")
        r = build(
            standin, cnb, text, BP_DEPENDENCY_MIRROR=mirror.storage_url,
            GITHUB_SERVER_URL=standin.web_url,
        )  # fmt: skip
        assert r.rc == 0, r.all
        assert installed(cnb) == AMD
        assert f"Verified sha256:{sha(AMD)} (checksums.txt, " in r.out
        assert (
            "Skipping the offline package, bindings and mirrors: the sha256 of probe-linux-amd64 "
            "is not known before the download" in r.out
        )
        assert mirror.requests == []
        # GitHub's web host down: the build fails; the mirror is still not asked.
        cnb.layers.joinpath(f"{LAYER}.toml").unlink()
        standin.down.add(WEB)
        r = build(
            standin, cnb, BP_DEPENDENCY_MIRROR=mirror.storage_url,
            GITHUB_SERVER_URL=standin.web_url,
        )  # fmt: skip
        assert r.rc == 1 and "Traceback" not in r.err, r.all
        assert mirror.requests == []
        assert FORGED not in [p.read_bytes() for p in cnb.layers.rglob("probe") if p.is_file()]


def test_a_mirror_is_used_once_the_lock_vouches_and_its_forgery_is_refused(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """With the lock's sha256 (taken from GitHub), a mirror may serve: its forged bytes fail
    naming it, and the error does not advise updating the pin."""
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD, "checksums.txt": sums(AMD)})
    cnb.project(entry(checksums="checksums.txt"))
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    standin.requests.clear()
    with StandIn() as mirror:
        mirror.add_release(REPO, "v1", {"probe-linux-amd64": FORGED})
        r = build(standin, cnb, BP_DEPENDENCY_MIRROR=mirror.storage_url)
        line = first_line(r)
        host = mirror.storage_url.removeprefix("http://")
        assert "checksum mismatch for probe-linux-amd64" in line, line
        assert f"(from mirror http://{host}" in line, line
        assert "correct or remove it there" in line and "update the sha256 pin" not in r.err
        assert not (cnb.layers / LAYER).exists()
        assert not [q for q in standin.requests if q.path.endswith("/probe-linux-amd64")]


# -- 20.2 the lock is wanted content ---------------------------------------------------------


def test_a_re_lock_after_an_upstream_re_upload_reinstalls(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    cnb.project(entry())
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    assert build(standin, cnb).rc == 0 and installed(cnb) == AMD
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD2})  # re-uploaded, same tag
    (cnb.app / "github-assets.lock").unlink()
    relock = command(standin, cnb, "lock", "--target", "linux/amd64")
    assert relock.returncode == 0 and f"sha256:{sha(AMD2)}" in relock.stdout, relock.stdout
    standin.requests.clear()
    r = build(standin, cnb)
    assert r.rc == 0, r.all
    assert "Reusing layer" not in r.out
    assert (
        f"Installing: the lock now says sha256:{sha(AMD2)} for probe-linux-amd64 "
        f"(the layer holds sha256:{sha(AMD)})" in r.out
    )
    assert installed(cnb) == AMD2
    assert f"Reusing layer {LAYER}" in build(standin, cnb).out  # and then it is the same


def test_latest_with_a_lock_follows_the_lock_without_a_request(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    cnb.project(entry("latest"))
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    assert build(standin, cnb).rc == 0
    standin.add_release(REPO, "v2", {"probe-linux-amd64": AMD2})
    standin.requests.clear()
    r = build(standin, cnb)  # the lock still says v1: reused, and not a request
    assert f"Reusing layer {LAYER}: same {REPO} v1" in r.out, r.all
    assert standin.api_requests() == []
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    r = build(standin, cnb, GITHUB_SERVER_URL=standin.web_url)
    assert f"Installing: the lock now says {REPO} v2 (the layer holds v1)" in r.out, r.all
    assert installed(cnb) == AMD2
    # Re-uploaded under the latest tag and re-locked: the new sha256 reinstalls too.
    standin.add_release(REPO, "v2", {"probe-linux-amd64": AMD})
    (cnb.app / "github-assets.lock").unlink()
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    r = build(standin, cnb, GITHUB_SERVER_URL=standin.web_url)
    assert f"Installing: the lock now says sha256:{sha(AMD)}" in r.out, r.all
    assert installed(cnb) == AMD


# -- 20.4 what a source needs: no token for places that get none; an entry's own web base ---

PRIVATE_TOKEN_ENV = "PROBE_TOKEN"


def test_a_private_pinned_asset_from_a_mirror_needs_no_token(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    standin.make_private(REPO, TOKEN)
    text = entry(sha256=sha(AMD), token_env=PRIVATE_TOKEN_ENV)
    with StandIn() as mirror:
        mirror.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
        r = build(standin, cnb, text, BP_DEPENDENCY_MIRROR=mirror.storage_url)
        assert r.rc == 0, r.all
        assert "from mirror http://" in r.out and installed(cnb) == AMD
        assert standin.requests == []
        assert all("authorization" not in q.headers for q in mirror.requests)
    # Without a mirror only the API can serve it, and then the token is missing.
    cnb.layers.joinpath(f"{LAYER}.toml").unlink()
    line = first_line(build(standin, cnb))
    assert line == (
        "error: project.toml: [[metadata.githubassets]] #1 (repo acme/probe): 'token_env' names "
        f"{PRIVATE_TOKEN_ENV}, which is not set; pass it to the build (e.g. pack build --env "
        f"{PRIVATE_TOKEN_ENV}), or give the token in a binding of type github (kpack: a Secret "
        "in the Image's services)"
    )
    assert standin.requests == []


def test_an_entry_with_its_own_api_url_downloads_from_its_web_base(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """GITHUB_SERVER_URL (github.com in Actions) is for entries without an api_url."""
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    text = entry(sha256=sha(AMD), api_url=standin.api_url)
    r = build(standin, cnb, text, GITHUB_SERVER_URL="http://github.invalid")
    assert r.rc == 0, r.all
    assert f"from {standin.api_url} (direct)" in r.out and "github.invalid" not in r.out
    assert installed(cnb) == AMD
    # the API base serves web downloads too (a stand-in or proxy that serves both)
    first = standin.requests[0]
    assert (first.host, first.path) == (
        WEB,
        f"/{REPO}/releases/download/v1/probe-linux-amd64",
    )
    assert standin.api_requests() == []


# -- 20.5 an error names the place that failed, and advises what helps ---------------------


def mapping_binding(cnb: CnbDirs, uri: str, digest: str) -> None:
    binding = cnb.platform / "bindings" / "probes"
    binding.mkdir(parents=True)
    (binding / "type").write_text("dependency-mapping\n")
    (binding / digest).write_text(uri + "\n")


def test_wrong_bytes_from_a_binding_name_it_and_never_advise_the_pin(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    (cnb.base / "probe").write_bytes(FORGED)
    mapping_binding(cnb, (cnb.base / "probe").as_uri(), sha(AMD))
    line = first_line(build(standin, cnb, entry(sha256=sha(AMD))))
    assert "checksum mismatch for probe-linux-amd64" in line
    assert "(from dependency-mapping binding probes)" in line, line
    assert "correct or remove it there" in line, line
    assert "update the sha256 pin" not in line


def test_wrong_bytes_in_an_offline_package_name_it_and_never_advise_the_pin(
    standin: StandIn, cnb: CnbDirs
) -> None:
    bp = cnb.base / "buildpack"
    bp.mkdir()
    for name in ("bin", "src", "vendor", "buildpack.toml"):
        (bp / name).symlink_to(ROOT / name)
    (bp / "dependencies" / sha(AMD)).mkdir(parents=True)
    (bp / "dependencies" / sha(AMD) / "probe-linux-amd64").write_bytes(FORGED)
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    offline = CnbDirs(cnb.base / "run", buildpack_dir=bp)
    line = first_line(build(standin, offline, entry(sha256=sha(AMD))))
    assert "checksum mismatch for probe-linux-amd64" in line
    assert "(from the offline package)" in line and "correct or remove it there" in line, line
    assert "update the sha256 pin" not in line


def test_a_stale_lock_whose_size_disagrees_is_not_a_network_fault(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    cnb.project(entry())
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD2})  # re-uploaded since
    standin.requests.clear()
    r = build(standin, cnb, GITHUB_SERVER_URL=standin.web_url)
    line = first_line(r)
    assert "probe-linux-amd64" in line and "github-assets.lock" in line, line
    assert f"{len(AMD)} bytes" in line and f"{len(AMD2)}" in line, line
    assert "re-run github-assets lock" in line, line
    assert "network" not in line and "retry" not in line.lower(), line
    assert len([q for q in standin.web_requests() if "probe-linux-amd64" in q.path]) == 1


def test_a_stale_lock_of_a_private_asset_is_caught_before_the_download(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """Through the API (a token_env entry): the release's size differs from the lock's."""
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    standin.make_private(REPO, TOKEN)
    cnb.project(entry(token_env=PRIVATE_TOKEN_ENV))
    env = {PRIVATE_TOKEN_ENV: TOKEN}
    assert command(standin, cnb, "lock", "--target", "linux/amd64", **env).returncode == 0
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD2})
    standin.make_private(REPO, TOKEN)
    line = first_line(build(standin, cnb, **env))
    assert (
        f"probe-linux-amd64 of {REPO} v1 is {len(AMD2)} bytes now, but github-assets.lock says "
        f"{len(AMD)} bytes" in line
    ), line
    assert "re-run github-assets lock" in line
    assert standin.storage_requests() == []


# -- 20.7 `latest` with version_prefix records the ETag ------------------------------------


def test_latest_with_a_version_prefix_records_the_etag_and_a_304_reuses(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "probe/v1", {"probe-linux-amd64": AMD})
    standin.add_release(REPO, "other/v9", {"other": b"x"})
    text = entry("latest", version_prefix="probe/")
    assert build(standin, cnb, text).rc == 0
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    assert meta["resolved_tag"] == "probe/v1" and meta["etag"].startswith('"'), meta
    standin.requests.clear()
    r = build(standin, cnb)
    assert f"Reusing layer {LAYER}" in r.out, r.all
    [asked] = standin.api_requests()
    assert asked.headers.get("if-none-match") == meta["etag"]
    assert standin.storage_requests() == []
    standin.add_release(REPO, "probe/v2", {"probe-linux-amd64": AMD2})
    r = build(standin, cnb)
    assert "latest release of acme/probe is now probe/v2 (was probe/v1)" in r.out, r.all
    assert installed(cnb) == AMD2


# -- a mismatch says what to do about the authority it failed against -------------------------


def test_a_digest_that_disagrees_advises_no_pin(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release(
        REPO, "v1", {"probe-linux-amd64": AMD}, digests={"probe-linux-amd64": "sha256:" + "3" * 64}
    )
    line = first_line(build(standin, cnb, entry()))
    assert f"expected sha256:{'3' * 64} (GitHub digest), got sha256:{sha(AMD)}" in line, line
    assert line.endswith(
        "nothing was installed; what the release publishes and the bytes GitHub served "
        "disagree: retry the build, and if it persists, tell the release's maintainers"
    ), line


def test_bytes_changed_since_the_lock_advise_relocking(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    cnb.project(entry())
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    standin.add_release(REPO, "v1", {"probe-linux-amd64": FORGED})  # re-uploaded, same size
    line = first_line(build(standin, cnb, GITHUB_SERVER_URL=standin.web_url))
    assert f"expected sha256:{sha(AMD)} (lock), got sha256:{sha(FORGED)}" in line, line
    assert line.endswith(
        "if the release asset was replaced on purpose, delete its entry from "
        "github-assets.lock and run github-assets lock"
    ), line
    assert not (cnb.layers / LAYER).exists()
