"""A layer's SBOMs: <layer>.sbom.cdx.json (CycloneDX 1.5) and <layer>.sbom.spdx.json (SPDX 2.3).

Each asset is one component with its GitHub origin (purl pkg:github/<owner>/<repo>@<tag>),
its sha256 and the source its bytes came from. A Go executable adds what Syft reports for
it, so image scanners match CVEs of what the binary was built from without opening the
layer: its main module, one pkg:golang component per module, and the toolchain as
pkg:golang/stdlib@<version>. The documents are reproducible: no wall-clock time, no
random serial, so an unchanged layer gives byte-identical SBOMs.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..record import Record
from .files import write_json

if TYPE_CHECKING:
    from ..gobuildinfo import GoBuild, Module
    from ..platform import StrPath

# SHA-256 from CPython's own module when it has one: hashlib loads OpenSSL's libcrypto
# first, ~11M instructions (callgrind), which a rebuild that reuses every layer (hashing
# only the few bytes of the SBOM ids) would pay for nothing. The same digest either way.
try:
    from _sha2 import sha256 as _sha256  # type: ignore[import-not-found,unused-ignore]  # 3.12+
except ImportError:
    try:
        from _sha256 import sha256 as _sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
    except ImportError:  # a Python built without its own SHA-2
        from hashlib import sha256 as _sha256  # type: ignore[assignment,unused-ignore]

FORMATS = ("cdx", "spdx")
"""The <layer>.sbom.<ext>.json files written, as buildpack.toml's sbom-formats declares them."""
CREATED = "1980-01-01T00:00:01Z"
"""SPDX requires a creation time; the lifecycle dates images the same way, reproducibly."""


# Both URL checks below are written out, not regexes: compiling the two patterns cost every
# build (a rebuild writes its SBOMs too) ~1.8M instructions; tests/unit/test_sbom.py holds
# the patterns and checks these against them.


def download_location(url: str) -> bool:
    """Whether url fits SPDX 2.3's download location grammar,
    ^(https?|ftp)://[A-Za-z0-9]+([-.][A-Za-z0-9]+)*\\.[A-Za-z]{2,5}(:[0-9]{1,5})?(/.*)?$ :
    a host name with a top-level domain (an IP address or a bare host, as a stand-in or
    mirror may have, is not one). Stricter than re.match by one case, as iri() is: a line
    break at the end is refused too."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https", "ftp") or "\n" in rest:
        return False
    authority = rest.partition("/")[0]
    host, colon, port = authority.partition(":")
    if colon and not (1 <= len(port) <= 5 and port.isascii() and port.isdigit()):
        return False
    labels, dot, tld = host.rpartition(".")
    if not dot or not (2 <= len(tld) <= 5 and tld.isascii() and tld.isalpha()):
        return False
    run = 0  # alphanumerics since the last separator
    for c in labels:
        if c in "-.":
            if not run:
                return False
            run = 0
        elif c.isascii() and c.isalnum():
            run += 1
        else:
            return False
    return run > 0


_NOT_IN_IRI = frozenset('<>"{}|\\^`')


def iri(url: str) -> bool:
    """Whether url is an http(s) URL that CycloneDX's iri-reference format takes,
    ^https?://[^\\s<>"{}|\\\\^`]+$ : the release page as an API gives it, unless the API gave
    something else (a space in it would make the whole document invalid). Stricter than
    re.match by one case: a line break at the end is refused too."""
    for scheme in ("https://", "http://"):
        if url.startswith(scheme):
            rest = url[len(scheme) :]
            return bool(rest) and not any(c in _NOT_IN_IRI or c.isspace() for c in rest)
    return False


# RFC 3986 unreserved characters: what a purl part keeps as it is (urllib.parse.quote with
# safe=''; not imported: urllib.parse pulls in ipaddress, ~9M instructions of a rebuild).
_UNRESERVED = frozenset((string.ascii_letters + string.digits + "_.-~").encode())


def quote(part: str) -> str:
    """part percent-encoded as one purl segment: UTF-8, every byte but the unreserved."""
    if part.isascii() and all(ord(c) in _UNRESERVED for c in part):
        return part
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in part.encode("utf-8"))


class Component(Record):
    repo: str
    tag: str
    asset: str
    sha256: str
    release_url: str
    source: str = ""
    """Where the bytes came from, as the log says it ("the GitHub API", "mirror ...")."""
    go: tuple[tuple[str, GoBuild], ...] = ()
    """(file in the layer, its Go build info) for each Go executable the asset installed."""

    @property
    def purl(self) -> str:
        return f"pkg:github/{self.repo}@{quote(self.tag)}"


class Package(Record):
    """A Go module or the Go toolchain, as Syft names it."""

    name: str
    version: str
    purl: str
    main: bool = False


def path_purl(path: str, version: str) -> str:
    """pkg:golang/<module path>@<version>, each part percent-encoded as the purl spec says."""
    name = "/".join(quote(part) for part in path.split("/"))
    return f"pkg:golang/{name}" + (f"@{quote(version)}" if version else "")


def go_packages(component: Component) -> list[Package]:
    """The main module, the modules and the toolchain of the component's Go executables."""
    out: dict[str, Package] = {}  # by purl: two executables may link two versions of one
    for _, build in component.go:
        found = [_main(component, build.main)] if build.main is not None else []
        found += [Package(d.path, d.version, path_purl(d.path, d.version)) for d in build.deps]
        stdlib = build.go_version.removeprefix("go")
        found.append(Package("stdlib", build.go_version, path_purl("stdlib", stdlib)))
        for package in found:
            out.setdefault(package.purl, package)
    return list(out.values())


def _main(component: Component, main: Module) -> Package:
    # A release built in its own checkout says "(devel)"; the tag it was released under is
    # the version a scanner can match, when the module is that repository's.
    version = main.version
    own = f"github.com/{component.repo}".lower()
    if version in ("", "(devel)") and (main.path.lower() + "/").startswith(own + "/"):
        version = component.tag
    purl = path_purl(main.path, "" if version == "(devel)" else version)
    return Package(main.path, version, purl, main=True)


def cyclonedx(tool: str, version: str, components: Sequence[Component]) -> dict[str, Any]:
    """The CycloneDX 1.5 document of a layer."""
    items: list[dict[str, Any]] = []
    dependencies: dict[str, list[str]] = {}
    seen: set[str] = set()
    for c in components:
        ref = f"{c.purl}#{c.asset}"
        executables = [{"name": "github-assets:go-executable", "value": f} for f, _ in c.go]
        if ref in dependencies:
            # The same asset installed twice in the layer (two destinations): one component,
            # as CycloneDX wants each bom-ref once, naming every Go executable it put there.
            item = next(i for i in items if i["bom-ref"] == ref)
            item["properties"] += [e for e in executables if e not in item["properties"]]
        else:
            dependencies[ref] = []
            items.append(
                {
                    "type": "application",
                    "bom-ref": ref,
                    "name": c.asset,
                    "group": c.repo,
                    "version": c.tag,
                    "purl": c.purl,
                    "hashes": [{"alg": "SHA-256", "content": c.sha256}],
                    "externalReferences": [{"type": "distribution", "url": c.release_url}]
                    if iri(c.release_url)
                    else [],
                    "properties": [
                        {"name": "github-assets:source", "value": c.source or "unknown"},
                        *executables,
                    ],
                }
            )
        refs = dependencies[ref]
        for p in go_packages(c):
            if p.purl not in refs:
                refs.append(p.purl)
            if p.purl not in seen:
                seen.add(p.purl)
                items.append(
                    {
                        "type": "library",
                        "bom-ref": p.purl,
                        "name": p.name,
                        "version": p.version,
                        "purl": p.purl,
                        "properties": [{"name": "github-assets:go-main-module", "value": "true"}]
                        if p.main
                        else [],
                    }
                )
    for item in items:
        for key in ("properties", "externalReferences"):
            if not item.get(key, True):
                del item[key]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{_uuid(components)}",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": tool, "version": version}]}
        },
        "components": items,
        "dependencies": [{"ref": ref, "dependsOn": on} for ref, on in dependencies.items()],
    }


def spdx(tool: str, version: str, layer: str, components: Sequence[Component]) -> dict[str, Any]:
    """The SPDX 2.3 document of a layer: the DOCUMENT DESCRIBES each asset, which CONTAINS
    its Go modules."""
    ids = _ids()
    packages: list[dict[str, Any]] = []
    relationships: list[dict[str, Any]] = []
    go_ids: dict[str, str] = {}
    for c in components:
        asset_id = next(ids)
        packages.append(
            {
                "SPDXID": asset_id,
                "name": c.asset,
                "versionInfo": c.tag,
                "supplier": f"Organization: {c.repo.split('/')[0]}",
                "downloadLocation": c.release_url
                if download_location(c.release_url)
                else "NOASSERTION",
                "filesAnalyzed": False,
                "checksums": [{"algorithm": "SHA256", "checksumValue": c.sha256}],
                "sourceInfo": f"release asset {c.asset} of {c.repo} {c.tag} ({c.release_url}), "
                f"downloaded from {c.source or 'an unknown source'}",
                "primaryPackagePurpose": "APPLICATION",
                "externalRefs": [_purl_ref(c.purl)],
            }
        )
        relationships.append(_relationship("SPDXRef-DOCUMENT", "DESCRIBES", asset_id))
        for p in go_packages(c):
            if p.purl not in go_ids:
                go_ids[p.purl] = next(ids)
                packages.append(
                    {
                        "SPDXID": go_ids[p.purl],
                        "name": p.name,
                        "versionInfo": p.version,
                        "downloadLocation": "NOASSERTION",
                        "filesAnalyzed": False,
                        "primaryPackagePurpose": "APPLICATION" if p.main else "LIBRARY",
                        "externalRefs": [_purl_ref(p.purl)],
                    }
                )
            relationships.append(_relationship(asset_id, "CONTAINS", go_ids[p.purl]))
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{tool} layer {layer}",
        "documentNamespace": "https://spdx.org/spdxdocs/"
        f"{tool.replace('/', '-')}/{quote(layer)}-{_uuid(components)}",
        "creationInfo": {"created": CREATED, "creators": [f"Tool: {tool}-{version}"]},
        "packages": packages,
        "relationships": relationships,
    }


def _ids() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"SPDXRef-Package-{n}"


def _purl_ref(purl: str) -> dict[str, str]:
    return {
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": purl,
    }


def _relationship(element: str, kind: str, related: str) -> dict[str, str]:
    return {"spdxElementId": element, "relationshipType": kind, "relatedSpdxElement": related}


def _uuid(components: Sequence[Component]) -> str:
    """The same for the same content: what the layer holds names its documents. A
    version-5 UUID's layout (uuid.UUID(bytes=..., version=5)), written by hand: the uuid
    module imports platform, ~10M instructions of every build (callgrind)."""
    raw = bytearray(
        _sha256("\n".join(f"{c.purl} {c.asset} {c.sha256}" for c in components).encode()).digest()[
            :16
        ]
    )
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def write_sboms(
    layers_dir: StrPath, layer: str, tool: str, version: str, components: Sequence[Component]
) -> None:
    write_json(
        os.path.join(layers_dir, f"{layer}.sbom.cdx.json"), cyclonedx(tool, version, components)
    )
    write_json(
        os.path.join(layers_dir, f"{layer}.sbom.spdx.json"), spdx(tool, version, layer, components)
    )
