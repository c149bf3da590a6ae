"""A public asset resolved through the API without a token downloads from its
browser_download_url (contract, "GitHub"): one API request per release instead of one
per file, against the 60 an hour a tokenless CI runner shares between its jobs."""

from __future__ import annotations

from tools.archives import executable, tar_bytes
from tools.example_app import BLOG_PROJECT
from tools.github_standin import StandIn

from support import CnbDirs, Phase, elf_bytes, write_plan

TOKEN = "ghp_publicTOKEN0123456789abcdefXYZ"
TOOL = elf_bytes(size=64 * 1024)


def build(s: StandIn, cnb: CnbDirs, text: str, **env: str) -> Phase:
    cnb.project(text)
    write_plan(cnb)
    r = cnb.build({"GITHUB_API_URL": s.api_url, **env})
    assert r.rc == 0, r.all
    return r


def downloading(r: Phase, name: str) -> str:
    """The log line of that asset's download."""
    return next(line for line in r.out.splitlines() if f"Downloading {name} (" in line)


def asset_downloads_through_the_api(s: StandIn) -> list[str]:
    return [r.path for r in s.api_requests() if "/releases/assets/" in r.path]


def test_the_blog_project_cold_without_a_lock_makes_five_api_requests(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """Three public assets: their release each; the private one: its release and its
    download through the API (the token goes to the API host only)."""
    youtubedr = tar_bytes([executable("youtubedr", TOOL)])
    standin.add_release(
        "kkdai/youtube", "v2.7.0", {"youtubedr_2.7.0_linux_amd64.tar.gz": youtubedr}
    )
    standin.add_release(
        "qeek-dev/apitest-toolchain", "v0.1.0", {"apitest-toolchain-linux-amd64": TOOL}
    )
    standin.make_private("qeek-dev/apitest-toolchain", TOKEN)
    standin.add_release("stedolan/jq", "jq-1.6", {"jq-linux64": TOOL})
    standin.add_release("grpc-ecosystem/grpc-health-probe", "v0.4.40",
                        {"grpc_health_probe-linux-amd64": TOOL})  # fmt: skip
    r = build(standin, cnb, BLOG_PROJECT, APITEST_TOOLCHAIN_TOKEN=TOKEN)
    assert len(standin.api_requests()) == 5, [q.path for q in standin.api_requests()]
    [private] = asset_downloads_through_the_api(standin)
    assert "qeek-dev/apitest-toolchain" in private
    storage = standin.storage_url
    for name in (
        "youtubedr_2.7.0_linux_amd64.tar.gz",
        "jq-linux64",
        "grpc_health_probe-linux-amd64",
    ):
        assert downloading(r, name).endswith(f" from {storage} (direct)"), r.out
    assert downloading(r, "apitest-toolchain-linux-amd64").endswith(" from the GitHub API")
    for q in standin.storage_requests():
        assert "authorization" not in q.headers, q.path


def test_a_public_release_s_checksum_file_comes_from_its_browser_url_too(
    standin: StandIn, cnb: CnbDirs
) -> None:
    import hashlib

    sums = f"{hashlib.sha256(TOOL).hexdigest()}  probe-linux-amd64\n".encode()
    standin.add_release("acme/probe", "v1", {"probe-linux-amd64": TOOL, "checksums.txt": sums})
    config = (
        '[[metadata.githubassets]]\nrepo = "acme/probe"\nasset = "probe-{os}-{arch}"\n'
        'checksums = "checksums.txt"\n'  # no tag: latest, which only the API resolves
    )
    r = build(standin, cnb, config)
    assert len(standin.api_requests()) == 1  # the release, nothing else
    assert asset_downloads_through_the_api(standin) == []
    paths = [q.path for q in standin.storage_requests()]
    assert any(p.endswith("/checksums.txt") for p in paths), paths
    assert any(p.endswith("/probe-linux-amd64") for p in paths), paths
    assert "checksums.txt" in r.out and "Verified sha256:" in r.out


def test_with_a_token_the_download_stays_on_the_api(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("acme/probe", "v1", {"probe-linux-amd64": TOOL})
    config = (
        '[[metadata.githubassets]]\nrepo = "acme/probe"\nasset = "probe-{os}-{arch}"\ntag = "v1"\n'
    )
    r = build(standin, cnb, config, GITHUB_TOKEN=TOKEN)
    assert len(asset_downloads_through_the_api(standin)) == 1
    assert "from the GitHub API" in r.out


def test_a_404_at_the_browser_url_falls_back_to_the_api(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("acme/probe", "v1", {"probe-linux-amd64": TOOL})
    standin.fail("storage", 404, path_contains="/releases/download/")
    config = (
        '[[metadata.githubassets]]\nrepo = "acme/probe"\nasset = "probe-{os}-{arch}"\ntag = "v1"\n'
    )
    r = build(standin, cnb, config)
    assert "(HTTP 404); asking the GitHub API" in r.out, r.out
    assert len(asset_downloads_through_the_api(standin)) == 1
    assert (cnb.layers / "acme_probe" / "bin" / "probe").read_bytes() == TOOL
