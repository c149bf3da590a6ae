"""The Sigstore trusted root: Fulcio CAs, Rekor logs, CT logs and TSAs with validity windows.

Validity windows (`validFor`) are enforced as closed intervals, as sigstore-go and the
conformance suite do; a transparency or CT log key without a window start is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from . import keys, x509
from .errors import ProvenanceError

_MEDIA_TYPES = (
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
)
_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)"
)


def parse_time(text: object, what: str) -> datetime:
    """An RFC 3339 timestamp (protobuf JSON form) as an aware UTC datetime."""
    match = _RFC3339.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ProvenanceError(f"sigstore: {what} is not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int((match.group(7) or "0").ljust(6, "0")[:6])
    try:
        when = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    except ValueError as error:
        raise ProvenanceError(f"sigstore: {what} is not a valid time: {text!r}") from error
    zone = match.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        when -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return when


def b64(value: object, what: str) -> bytes:
    """Protobuf JSON bytes: base64, standard or URL alphabet, padding optional, line breaks
    ignored (as Go's protojson and sigstore-python read them); anything else is refused."""
    if not isinstance(value, str):
        raise ProvenanceError(f"sigstore: {what} is not a base64 string")
    text = value.replace("\r", "").replace("\n", "")
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ProvenanceError(f"sigstore: {what} is not valid base64") from error


@dataclass(frozen=True)
class Window:
    start: datetime | None
    end: datetime | None

    def contains(self, when: datetime) -> bool:
        """Closed interval: start and end are inside."""
        return (self.start is None or self.start <= when) and (self.end is None or when <= self.end)

    def __str__(self) -> str:
        start = self.start.isoformat() if self.start else "-"
        end = self.end.isoformat() if self.end else "-"
        return f"[{start}, {end}]"


def _window(raw: object, what: str, *, need_start: bool) -> Window:
    if raw is None:
        if need_start:
            raise ProvenanceError(f"sigstore: trusted root: {what} has no validFor window")
        return Window(None, None)
    if not isinstance(raw, dict):
        raise ProvenanceError(f"sigstore: trusted root: {what}'s validFor is not an object")
    # protobuf JSON: a null field is an absent one.
    if need_start and raw.get("start") is None:
        raise ProvenanceError(f"sigstore: trusted root: {what}'s validFor has no start")
    start = parse_time(raw["start"], f"{what} validFor.start") if raw.get("start") else None
    end = parse_time(raw["end"], f"{what} validFor.end") if raw.get("end") else None
    return Window(start, end)


@dataclass(frozen=True)
class Log:
    """A transparency log (Rekor) or certificate transparency log of the trusted root."""

    base_url: str
    log_id: bytes
    key: keys.PublicKey
    window: Window


@dataclass
class Authority:
    """A Fulcio CA or a timestamp authority: its chain (issuing certificate first)."""

    uri: str
    chain: list[x509.Certificate]
    window: Window
    _chain_ok: bool | None = None

    def chain_verifies(self) -> bool:
        """Whether each certificate of the chain is signed by the next (checked once)."""
        if self._chain_ok is None:
            self._chain_ok = all(
                child.issued_by(parent) and parent.is_ca
                for child, parent in zip(self.chain, self.chain[1:], strict=False)
            ) and self.chain[-1].issued_by(self.chain[-1])
        return self._chain_ok


def _obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProvenanceError(f"sigstore: trusted root: {what} is not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProvenanceError(f"sigstore: trusted root: {what} is not a list")
    return value


def _log(raw: object, what: str) -> Log:
    entry = _obj(raw, what)
    public = _obj(entry.get("publicKey"), f"{what} publicKey")
    log_id = b64(_obj(entry.get("logId"), f"{what} logId").get("keyId"), f"{what} logId")
    details = public.get("keyDetails", "")
    key = keys.from_trusted_root(
        b64(public.get("rawBytes"), f"{what} key"), str(details), f"{what} key"
    )
    window = _window(public.get("validFor"), what, need_start=True)
    return Log(str(entry.get("baseUrl", "")), log_id, key, window)


def _authority(raw: object, what: str) -> Authority:
    entry = _obj(raw, what)
    certs = _list(_obj(entry.get("certChain"), f"{what} certChain").get("certificates"), what)
    if not certs:
        raise ProvenanceError(f"sigstore: trusted root: {what} has an empty certificate chain")
    chain = [
        x509.parse_certificate(b64(_obj(c, what).get("rawBytes"), what), f"{what} certificate")
        for c in certs
    ]
    window = _window(entry.get("validFor"), what, need_start=False)
    return Authority(str(entry.get("uri", "")), chain, window)


class TrustedRoot:
    """A parsed trusted_root.json (media type application/vnd.dev.sigstore.trustedroot+json)."""

    def __init__(
        self,
        tlogs: list[Log],
        ctlogs: list[Log],
        certificate_authorities: list[Authority],
        timestamp_authorities: list[Authority],
    ) -> None:
        self.tlogs = tlogs
        self.ctlogs = ctlogs
        self.certificate_authorities = certificate_authorities
        self.timestamp_authorities = timestamp_authorities

    @classmethod
    def from_json(cls, raw: bytes | str) -> TrustedRoot:
        """Parse a trusted root document, or raise ProvenanceError naming what is wrong."""
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as error:  # RecursionError: absurd nesting
            raise ProvenanceError(f"sigstore: trusted root is not JSON: {error}") from error
        doc = _obj(doc, "document")
        if doc.get("mediaType") not in _MEDIA_TYPES:
            raise ProvenanceError(
                f"sigstore: trusted root has unsupported media type {doc.get('mediaType')!r}"
            )
        return cls(
            [_log(t, f"tlog {i}") for i, t in enumerate(_list(doc.get("tlogs"), "tlogs"))],
            [_log(t, f"ctlog {i}") for i, t in enumerate(_list(doc.get("ctlogs"), "ctlogs"))],
            [
                _authority(c, f"certificate authority {i}")
                for i, c in enumerate(
                    _list(doc.get("certificateAuthorities"), "certificateAuthorities")
                )
            ],
            [
                _authority(c, f"timestamp authority {i}")
                for i, c in enumerate(
                    _list(doc.get("timestampAuthorities"), "timestampAuthorities")
                )
            ],
        )

    @classmethod
    def from_file(cls, path: str | Path) -> TrustedRoot:
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ProvenanceError(
                f"sigstore: cannot read trusted root {path}: {error.strerror or error}"
            ) from error
        return cls.from_json(data)

    @classmethod
    def public_good(cls) -> TrustedRoot:
        """The public-good Sigstore trusted root shipped in the buildpack."""
        return _shipped("trusted_root.json")

    @classmethod
    def staging(cls) -> TrustedRoot:
        """Sigstore's staging trusted root (for `verify-bundle --staging`)."""
        return _shipped("trusted_root.staging.json")

    def tlog(self, log_id: bytes) -> Log | None:
        return next((t for t in self.tlogs if t.log_id == log_id), None)

    def ctlog(self, log_id: bytes) -> Log | None:
        return next((t for t in self.ctlogs if t.log_id == log_id), None)


@cache
def _shipped(name: str) -> TrustedRoot:
    return TrustedRoot.from_file(Path(__file__).with_name(name))
