"""Sigstore bundle verification: the checks, in order (docs/provenance.md lists them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import ProvenanceError
from .trustroot import TrustedRoot


@dataclass(frozen=True)
class ArtifactDigest:
    """An artifact known by its sha256 only."""

    sha256: bytes

    @classmethod
    def from_hex(cls, text: str) -> ArtifactDigest:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ProvenanceError(f"sigstore: artifact digest is not a sha256 hex: {text!r}")
        return cls(raw)


@dataclass(frozen=True)
class Identity:
    """Who must have signed: the certificate's SAN and its OIDC issuer extension."""

    san: str  # exact, or a regular expression fully matched when it starts with "^"
    issuer: str


@dataclass(frozen=True)
class Verification:
    """What a verified bundle established."""

    san: str
    issuer: str
    signing_time: datetime
    time_source: str
    payload_type: str | None
    statement: Mapping[str, Any] | None


def verify_bundle(
    bundle: bytes | Mapping[str, Any],
    artifact: bytes | ArtifactDigest,
    policy: Identity | None,
    trusted_root: TrustedRoot,
) -> Verification:
    """Verify bundle for artifact under policy against trusted_root, or raise ProvenanceError."""
    raise ProvenanceError("sigstore: bundle verification is not built yet")
