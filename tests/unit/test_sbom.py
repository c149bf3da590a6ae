"""The layer SBOMs, validated as scanners and SBOM tools read them: CycloneDX 1.5 by
cyclonedx-python-lib's JSON schema validator, SPDX 2.3 by the SPDX JSON schema and by
spdx-tools' validator (the specification's rules the schema cannot say)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from tools.cnb_lifecycle import tools_bin

from github_assets.cnb.sbom import (
    Component,
    cyclonedx,
    download_location,
    iri,
    path_purl,
    quote,
    spdx,
    write_sboms,
)
from github_assets.elf import check
from github_assets.gobuildinfo import GoBuild, Module
from support import go_version_m, validate_cdx, validate_spdx

SHA = "ab" * 32
GO = GoBuild(
    "go1.22.4",
    "github.com/grpc-ecosystem/grpc-health-probe",
    Module("github.com/grpc-ecosystem/grpc-health-probe", "(devel)"),
    (
        Module("google.golang.org/grpc", "v1.64.0", "h1:x="),
        Module("github.com/x/y", "v0.0.0-20240101000000-abcdefabcdef+incompatible"),
    ),
)
PROBE = Component(
    "grpc-ecosystem/grpc-health-probe",
    "v0.4.28",
    "grpc_health_probe-linux-amd64",
    SHA,
    "https://github.com/grpc-ecosystem/grpc-health-probe/releases/tag/v0.4.28",
    "the GitHub API",
    (("bin/grpc_health_probe", GO),),
)
PLAIN = Component(
    "kubernetes-sigs/kustomize",
    "kustomize/v5.4.2",
    "kustomize_v5.4.2_linux_amd64.tar.gz",
    "cd" * 32,
    "https://github.com/kubernetes-sigs/kustomize/releases/tag/kustomize%2Fv5.4.2",
    "mirror https://mirror.example.com",
)


@pytest.mark.parametrize(
    "components", [[PROBE], [PLAIN], [PROBE, PLAIN]], ids=["go", "plain", "both"]
)
def test_both_documents_are_valid(components: list[Component], tmp_path: Path) -> None:
    validate_cdx(cyclonedx("probe-assets/github-assets", "0.3.0", components))
    validate_spdx(spdx("probe-assets/github-assets", "0.3.0", "layer", components), tmp_path)


def test_each_names_the_github_origin_and_the_source(tmp_path: Path) -> None:
    write_sboms(tmp_path, "layer", "probe-assets/github-assets", "0.3.0", [PROBE, PLAIN])
    cdx = json.loads((tmp_path / "layer.sbom.cdx.json").read_text())
    [probe, *_] = cdx["components"]
    assert probe["purl"] == "pkg:github/grpc-ecosystem/grpc-health-probe@v0.4.28"
    assert (probe["group"], probe["name"], probe["version"]) == (
        PROBE.repo,
        PROBE.asset,
        PROBE.tag,
    )
    assert probe["hashes"] == [{"alg": "SHA-256", "content": SHA}]
    assert {"name": "github-assets:source", "value": "the GitHub API"} in probe["properties"]
    kustomize = next(c for c in cdx["components"] if c["name"] == PLAIN.asset)
    assert kustomize["purl"] == "pkg:github/kubernetes-sigs/kustomize@kustomize%2Fv5.4.2"

    doc = json.loads((tmp_path / "layer.sbom.spdx.json").read_text())
    packages = {p["name"]: p for p in doc["packages"]}
    asset = packages[PROBE.asset]
    assert asset["checksums"] == [{"algorithm": "SHA256", "checksumValue": SHA}]
    assert asset["externalRefs"][0]["referenceLocator"] == PROBE.purl
    assert asset["downloadLocation"] == PROBE.release_url
    assert "downloaded from the GitHub API" in asset["sourceInfo"]
    assert (
        "downloaded from mirror https://mirror.example.com" in packages[PLAIN.asset]["sourceInfo"]
    )
    described = {
        r["relatedSpdxElement"]
        for r in doc["relationships"]
        if r["relationshipType"] == "DESCRIBES"
    }
    assert described == {asset["SPDXID"], packages[PLAIN.asset]["SPDXID"]}


def test_go_modules_main_module_and_stdlib_as_syft_names_them() -> None:
    cdx = cyclonedx("bp", "1", [PROBE])
    golang = {c["purl"]: c for c in cdx["components"] if c["purl"].startswith("pkg:golang/")}
    assert set(golang) == {
        # A release built in its checkout says (devel): the release tag is its version.
        "pkg:golang/github.com/grpc-ecosystem/grpc-health-probe@v0.4.28",
        "pkg:golang/google.golang.org/grpc@v1.64.0",
        "pkg:golang/github.com/x/y@v0.0.0-20240101000000-abcdefabcdef%2Bincompatible",
        "pkg:golang/stdlib@1.22.4",
    }
    stdlib = golang["pkg:golang/stdlib@1.22.4"]
    assert (stdlib["name"], stdlib["version"], stdlib["type"]) == ("stdlib", "go1.22.4", "library")
    [deps] = [d for d in cdx["dependencies"] if d["ref"].startswith("pkg:github/")]
    assert sorted(deps["dependsOn"]) == sorted(golang)


def test_a_main_module_of_another_repository_keeps_its_own_version() -> None:
    other = PROBE._replace(
        go=(("bin/x", GO._replace(main=Module("example.com/elsewhere", "(devel)"))),)
    )
    names = {c["name"]: c for c in cyclonedx("bp", "1", [other])["components"]}
    assert names["example.com/elsewhere"]["version"] == "(devel)"
    assert names["example.com/elsewhere"]["purl"] == "pkg:golang/example.com/elsewhere"


def test_documents_are_reproducible_and_differ_with_the_content() -> None:
    assert spdx("bp", "1", "l", [PROBE]) == spdx("bp", "1", "l", [PROBE])
    assert cyclonedx("bp", "1", [PROBE]) == cyclonedx("bp", "1", [PROBE])
    changed = PROBE._replace(sha256="ef" * 32)
    assert (
        spdx("bp", "1", "l", [PROBE])["documentNamespace"]
        != spdx("bp", "1", "l", [changed])["documentNamespace"]
    )
    assert (
        cyclonedx("bp", "1", [PROBE])["serialNumber"]
        != cyclonedx("bp", "1", [changed])["serialNumber"]
    )


def test_purls_percent_encode_what_the_spec_says() -> None:
    assert path_purl("golang.org/x/net", "v0.1.0") == "pkg:golang/golang.org/x/net@v0.1.0"
    assert path_purl("a.b/c d", "v1+meta") == "pkg:golang/a.b/c%20d@v1%2Bmeta"


def test_the_real_grpc_health_probe(tmp_path: Path) -> None:
    """Every module `go version -m` prints for the real binary is a pkg:golang component."""
    probe = tools_bin() / "grpc_health_probe"
    if not probe.is_file():
        pytest.skip(f"{probe} is missing: run `make tools` (scripts/install-tools.sh)")
    info = check(probe, "amd64", probe.name)
    assert info is not None
    assert info.go is not None
    component = PROBE._replace(go=(("bin/grpc_health_probe", info.go),))
    cdx = cyclonedx("bp", "1", [component])
    doc = spdx("bp", "1", "layer", [component])
    validate_cdx(cdx)
    validate_spdx(doc, tmp_path)
    version, _, main, deps = go_version_m(probe)
    expected = {path_purl(p, v) for p, v in deps}
    expected.add(path_purl("stdlib", version.removeprefix("go")))
    expected.add(path_purl(main[0], PROBE.tag if main[1] == "(devel)" else main[1]))
    assert {c["purl"] for c in cdx["components"][1:]} == expected
    spdx_purls = {p["externalRefs"][0]["referenceLocator"] for p in doc["packages"][1:]}
    assert spdx_purls == expected


def test_two_executables_linking_two_versions_of_a_module_list_both(tmp_path: Path) -> None:
    older = GO._replace(go_version="go1.21.0", deps=(Module("google.golang.org/grpc", "v1.58.3"),))
    both = PROBE._replace(go=(("bin/a", GO), ("bin/b", older)))
    cdx = cyclonedx("bp", "1", [both])
    validate_cdx(cdx)
    validate_spdx(spdx("bp", "1", "layer", [both]), tmp_path)
    purls = [c["purl"] for c in cdx["components"]]
    assert len(purls) == len(set(purls))
    for purl in (
        "pkg:golang/google.golang.org/grpc@v1.64.0",
        "pkg:golang/google.golang.org/grpc@v1.58.3",
        "pkg:golang/stdlib@1.22.4",
        "pkg:golang/stdlib@1.21.0",
    ):
        assert purl in purls


@pytest.mark.parametrize("url", ["", "not a url", "https://host/a b", "javascript:alert(1)"])
def test_a_release_url_that_is_no_url_is_left_out_and_the_documents_stay_valid(
    url: str, tmp_path: Path
) -> None:
    """The release page is what the API said; a hostile or broken answer must not make the
    layer's SBOM invalid."""
    component = Component("acme/tool", "v1", "tool", "0" * 64, url, "the GitHub API")
    cdx = cyclonedx("t", "1", [component])
    validate_cdx(cdx)
    assert "externalReferences" not in cdx["components"][0]
    validate_spdx(spdx("t", "1", "layer", [component]), tmp_path)


# The grammars sbom.iri and sbom.download_location are written out from (the regexes they
# replaced), read with fullmatch: a line break at the end is no part of a URL either.
IRI = re.compile(r"^https?://[^\s<>\"{}|\\^`]+$")
DOWNLOAD_URL = re.compile(
    r"^(https?|ftp)://[A-Za-z0-9]+([-.][A-Za-z0-9]+)*\.[A-Za-z]{2,5}(:[0-9]{1,5})?(/.*)?$"
)
URLS = [
    "https://github.com/acme/tool/releases/tag/v1.0.0",
    "http://github.com",
    "ftp://mirror.example.org:21/pub/x",
    "https://ghe.example.com:8443/acme/tool/releases/tag/v1",
    "http://127.0.0.1:8080/acme/tool/releases/tag/v1",
    "https://localhost/x",
    "https://a-b.c-d.example.co.uk/x?y#z",
    "https://-a.com/",
    "https://a-.com/",
    "https://a..com/",
    "https://a.c/",
    "https://a.abcdef/",
    "https://a.com:/x",
    "https://a.com:123456/x",
    "https://a.com:８０/x",
    "https://a.c0m/",
    "https://ä.com/",
    "https://a.com/with space",
    "https://a.com/x\n",
    "https://a.com/x\ny",
    "https://a.com/<x>",
    "https://a.com/x|y^z`{}\\",
    "https://a.com/\u00a0",
    "https://a.com/\x1c",
    "https://",
    "http:/a.com",
    "HTTPS://a.com/",
    "git://a.com/",
    "https://user:pw@a.com/x",
    "",
]


def _fuzz_urls(n: int) -> list[str]:
    rng = random.Random(7)
    alphabet = 'ab0-.:/ \n\t<>"{}|\\^`?#@%ä\u00a0\x1c９'
    out = []
    for _ in range(n):
        scheme = rng.choice(["http://", "https://", "ftp://", "", "http:/", "file://"])
        body = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        tld = rng.choice(["com", "io", "c", "abcdef", "co1", ""])
        out.append(
            scheme
            + body
            + ("." + tld if rng.random() < 0.7 else "")
            + rng.choice(["", "/", ":80/", "/x y"])
        )
    return out


@pytest.mark.parametrize("url", URLS + _fuzz_urls(2000))
def test_url_checks_follow_their_grammars(url: str) -> None:
    assert iri(url) == bool(IRI.fullmatch(url) and not url.endswith("\n")), url
    assert download_location(url) == bool(DOWNLOAD_URL.fullmatch(url) and not url.endswith("\n")), (
        url
    )


@pytest.mark.parametrize(
    "part",
    [
        "v1.2.3",
        "",
        "a b",
        "a/b",
        "a%b",
        "v1+build.5",
        "~tilde_dot-.",
        "é",
        "中文",
        "\U0001f600",
        "\x00\x7f",
        "@:?#[]",
    ],
)
def test_purl_parts_are_quoted_as_urllib_quotes_them(part: str) -> None:
    from urllib.parse import quote as reference

    assert quote(part) == reference(part, safe="")
