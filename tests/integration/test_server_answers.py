"""What the build makes of hostile or odd server answers and slow links, and how its log
names where the bytes came from: bin/build as a subprocess against the loopback stand-in.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from tools.github_standin import API, StandIn

from support import CnbDirs, Phase, elf_bytes, write_plan

REPO = "acme/probe"
ASSET = "probe-linux-amd64"
ENTRY = f"project.toml: [[metadata.githubassets]] #1 (repo {REPO}): "
FAST = {"BP_GITHUB_ASSETS_BACKOFF": "0.01", "BP_GITHUB_ASSETS_TIMEOUT": "10"}
NESTED = b"[" * 100_000 + b"]" * 100_000
"""JSON nested past Python's recursion limit, as a hostile server may answer."""
TOOL = elf_bytes(size=30_000)
NOT_AN_API = "check GITHUB_API_URL / api_url points at a GitHub API"


def build(s: StandIn, cnb: CnbDirs, text: str, **env: str) -> Phase:
    cnb.project(text)
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, **FAST, **env})


def entry(**keys: str) -> str:
    lines = [f'repo = "{REPO}"', 'asset = "probe-{os}-{arch}"', *keys.values()]
    return "[[metadata.githubassets]]\n" + "\n".join(lines) + "\n"


def one_error(r: Phase) -> str:
    errors = [line for line in r.err.splitlines() if line.startswith("error: ")]
    assert r.rc == 1 and len(errors) == 1, r.all
    assert "Traceback" not in r.all
    return errors[0]


# -- JSON a server answers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "path", "what"),
    [
        (entry(), "/releases/latest", f"{REPO} latest release"),
        (entry(tag='tag = "v1"'), "/releases/tags/", f"{REPO} tag v1"),
        (entry(prefix='version_prefix = "v"'), "/releases?", f"{REPO} releases"),
    ],
    ids=["latest", "tag", "releases list"],
)
def test_json_nested_past_any_limit_is_one_line(
    standin: StandIn, cnb: CnbDirs, config: str, path: str, what: str
) -> None:
    standin.add_release(REPO, "v1", {ASSET: TOOL})
    standin.fail(API, 200, path_contains=path, body=NESTED)
    error = one_error(build(standin, cnb, config))
    host = standin.api_url.removeprefix("http://").split("/")[0]
    assert error == (
        f"error: {ENTRY}unexpected answer from {host} for {what}: JSON nested too deeply to "
        f"read; {NOT_AN_API}"
    )


def test_an_api_answer_that_is_not_utf8_is_one_line(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release(REPO, "v1", {ASSET: TOOL})
    standin.fail(API, 200, path_contains="/releases/latest", body=b'{"tag_name": "\xff"}')
    assert one_error(build(standin, cnb, entry())).endswith(
        f"for {REPO} latest release: not UTF-8 text; {NOT_AN_API}"
    )


# -- the attestation list -----------------------------------------------------------------

DATA = Path(__file__).resolve().parents[1] / "data" / "provenance" / "gh-cli"
ATTESTATION = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "artifact"
tag = "v1"
provenance = {{ github_attestation = true, signer_workflow = "{REPO}/.github/workflows/r.yml" }}
"""
_MAXRSS = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[2:]).returncode\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(rc)\n"
)


def test_an_attestation_list_nested_past_any_limit_is_one_line(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"artifact": (DATA / "custom-issuer-artifact").read_bytes()})
    standin.fail(API, 200, path_contains="/attestations/", body=NESTED)
    assert one_error(build(standin, cnb, ATTESTATION)).endswith(
        "the API's answer is JSON nested too deeply to read"
    )


def test_a_huge_attestation_list_is_refused_without_reading_it(
    standin: StandIn, cnb: CnbDirs, tmp_path: Path
) -> None:
    """The list is read streamed, at most 16 MiB: a 96 MiB answer never sits in memory."""
    standin.add_release(REPO, "v1", {"artifact": (DATA / "custom-issuer-artifact").read_bytes()})
    body = b'{"attestations": [' + b" " * (96 << 20) + b"]}"
    standin.fail(API, 200, path_contains="/attestations/", body=body)
    del body
    rss = tmp_path / "maxrss"
    cnb.prefix = [sys.executable, "-c", _MAXRSS, str(rss)]
    error = one_error(build(standin, cnb, ATTESTATION))
    assert f"answered more than {16 << 20} bytes for the attestations of sha256:" in error
    assert int(rss.read_text()) < 80_000, "KiB: the build held the answer in memory"


# -- the source, as the log, the layer metadata and the SBOMs name it ---------------------

LAYER = "acme_probe"
TOKEN = "ghp_answersTOKEN0123456789abcdef"


def downloading(r: Phase) -> str:
    [line] = [x.strip() for x in r.out.splitlines() if x.strip().startswith("Downloading ")]
    return line


def recorded_sources(cnb: CnbDirs) -> set[str]:
    """The source as the layer toml and both SBOMs record it."""
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    cdx = json.loads((cnb.layers / f"{LAYER}.sbom.cdx.json").read_text())
    props = [p for c in cdx["components"] for p in c.get("properties", [])]
    spdx = (cnb.layers / f"{LAYER}.sbom.spdx.json").read_text()
    [said] = {p["value"] for p in props if p["name"] == "github-assets:source"}
    assert f"downloaded from {said}" in spdx
    return {meta["source"], said}


@pytest.mark.parametrize("where", ["api", "mirror", "direct"])
def test_the_source_reads_as_the_contract_spells_it(
    standin: StandIn, cnb: CnbDirs, where: str
) -> None:
    standin.add_release(REPO, "v1", {ASSET: TOOL})
    pin = f'sha256 = "{hashlib.sha256(TOOL).hexdigest()}"'
    env: dict[str, str] = {}
    if where == "api":
        standin.make_private(REPO, TOKEN)
        config, env["GITHUB_TOKEN"], label = entry(tag='tag = "v1"'), TOKEN, "the GitHub API"
    elif where == "mirror":
        standin.down = {API}
        config, label = entry(tag='tag = "v1"', pin=pin), f"mirror {standin.web_url}"
        env["BP_DEPENDENCY_MIRROR"] = standin.web_url.replace("://", "://user:pw@")
    else:
        standin.down = {API}
        config, label = entry(tag='tag = "v1"', pin=pin), f"{standin.web_url} (direct)"
        env["GITHUB_SERVER_URL"] = standin.web_url
    r = build(standin, cnb, config, **env)
    assert r.rc == 0, r.all
    line = downloading(r)
    assert line.startswith(f"Downloading {ASSET} (") and line.endswith(f") from {label}"), line
    assert recorded_sources(cnb) == {label}


# -- hints name where the token came from --------------------------------------------------


@pytest.mark.parametrize("path", ["/releases/tags/", "/releases/assets/"], ids=["API", "asset"])
def test_a_rejected_token_from_a_binding_names_the_binding(
    standin: StandIn, cnb: CnbDirs, path: str
) -> None:
    standin.add_release(REPO, "v1", {ASSET: TOOL})
    standin.make_private(REPO, TOKEN)
    bound = cnb.platform / "bindings" / "gh-token"
    bound.mkdir(parents=True)
    (bound / "type").write_text("github\n")
    (bound / "token").write_text(TOKEN + "\n")
    standin.fail(API, 401, path_contains=path, body=b'{"message": "Bad credentials"}')
    error = one_error(build(standin, cnb, entry(tag='tag = "v1"'), GITHUB_TOKEN="ghp_unused"))
    assert error.endswith(
        "; check the token in the github binding gh-token; it may be expired or revoked"
    ), error
    assert TOKEN not in error


# -- progress on a slow link ----------------------------------------------------------------


def test_a_slow_download_reports_progress_every_few_seconds(standin: StandIn, cnb: CnbDirs) -> None:
    """100 KB/s, as a congested link: a line about every 3 s, well before 1 MiB arrived."""
    data = elf_bytes(size=500_000)
    standin.add_release(REPO, "v1", {ASSET: data})
    standin.throttle_bytes_per_sec = 100_000
    r = build(standin, cnb, entry(tag='tag = "v1"'))
    assert r.rc == 0, r.all
    lines = [x.strip() for x in r.out.splitlines() if x.strip().startswith(f"{ASSET}: ")]
    assert lines, r.out
    pct = int(lines[0].removeprefix(f"{ASSET}: ").split("%")[0])
    assert 40 <= pct <= 90, lines  # about 3 s of 5
    assert lines[0].endswith(" KiB/s") and " of 488.3 KiB, " in lines[0], lines


def test_a_pinned_direct_download_says_its_size_is_not_known_before_it(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {ASSET: TOOL})
    standin.down = {API}
    pin = f'sha256 = "{hashlib.sha256(TOOL).hexdigest()}"'
    r = build(standin, cnb, entry(tag='tag = "v1"', pin=pin), GITHUB_SERVER_URL=standin.web_url)
    assert r.rc == 0, r.all
    assert downloading(r) == (
        f"Downloading {ASSET} (size not known before the download) from {standin.web_url} (direct)"
    )
    [verified] = [x.strip() for x in r.out.splitlines() if x.strip().startswith("Verified ")]
    assert verified.endswith("(pinned, 29.3 KiB)"), verified
