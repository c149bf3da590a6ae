"""Provenance: who built an asset, checked with no runtime dependency beyond the standard library.

Sigstore bundles, GitHub artifact attestations and minisign signatures are verified here in pure
Python, so the buildpack runs on whatever python3 the builder has (no native crypto wheel).
Sigstore verification fails closed.

Public API (stable; the pipeline and the GitHub attestation support build on it):

    from github_assets.provenance import (
        ArtifactDigest, Identity, ProvenanceError, TrustedRoot, Verification, verify_bundle,
    )

    root = TrustedRoot.public_good()               # the shipped public-good trusted root
    root = TrustedRoot.from_json(raw_bytes)        # a `sigstore-trusted-root` binding's file
    result = verify_bundle(
        bundle,                                    # bytes (JSON) or an already parsed dict
        artifact,                                  # the artifact's bytes, or ArtifactDigest
        Identity(san, issuer) | None,              # san: exact, or a full-match regex when it
                                                   # starts with "^"; None: no identity policy
        root,
    )
    result.san, result.issuer                      # the signing certificate's identity
    result.signing_time                            # datetime (UTC) the signature was made at
    result.time_source                             # "signed entry timestamp" or "RFC 3161 ..."
    result.payload_type, result.statement          # a DSSE bundle's payload type and its
                                                   # in-toto statement (dict); None otherwise

`ArtifactDigest.from_hex(hex)` (or `ArtifactDigest(sha256=digest_bytes)`) stands for an
artifact known only by its sha256. A DSSE bundle covers the artifact when its in-toto
statement has a subject with that sha256; subject names and the predicate type are the
caller's policy (read them from `result.statement`).

Every failed or impossible check raises ProvenanceError (a BuildpackError) whose message
starts with `sigstore: ` and names the check, e.g.
`sigstore: inclusion proof does not match the checkpoint's root hash`.
docs/provenance.md lists the checks in the order they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bundle import ArtifactDigest, Identity, Verification, verify_bundle
    from .errors import ProvenanceError
    from .trustroot import TrustedRoot

__all__ = [
    "ArtifactDigest",
    "Identity",
    "ProvenanceError",
    "TrustedRoot",
    "Verification",
    "verify_bundle",
]

_HOME = {
    "ArtifactDigest": "bundle",
    "Identity": "bundle",
    "Verification": "bundle",
    "verify_bundle": "bundle",
    "ProvenanceError": "errors",
    "TrustedRoot": "trustroot",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: detect reads an entry's `provenance` table (spec.py, minisign.py)
    # without paying for the Sigstore verifier's modules (about 40 ms).
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
