"""An entry's `provenance`, checked for one asset whose bytes verified.

Made before the download (`Check.prepare`: the signature and bundle files are fetched and read
first, so a missing or malformed one fails before the asset's bytes are fetched, and a minisign
signature over the asset is checked as those bytes stream by), decided after it
(`Check.decide`, given the sha256 that every checksum matched). A signature whose name starts
with the name of the entry's checksum file covers that file, and the asset through it: the
signed file must list the asset with the sha256 that was downloaded.

What was verified is kept (`Carried`: the files and the attestation), so the lock file and the
offline package can hand it to a later build, which then verifies it again without a request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ..errors import BuildpackError
from ..record import Record
from ..sources import jsonbody
from ..verify import Checksum
from . import attestation, minisign
from .bundle import ArtifactDigest, Identity, verify_bundle
from .errors import ProvenanceError
from .spec import Provenance
from .trustroot import TrustedRoot

FILE_MAX_BYTES = 1 << 20
"""A signature, a bundle or a checksum file: real ones are a few KiB."""

SIGSTORE = "sigstore"
ATTESTATION = "attestation"
MINISIGN = "minisign"


class Fetch(Protocol):
    """What the checks fetch besides the asset, through the build's sources."""

    def sibling(self, name: str) -> bytes:
        """A release asset of the asset's release (at most FILE_MAX_BYTES)."""
        ...

    def attestations(self, sha256: str) -> bytes:
        """The API's answer to GET /repos/{repo}/attestations/sha256:<hex>."""
        ...

    def document(self, url: str) -> bytes:
        """A bundle_url's document, fetched without a token."""
        ...


class Carried(Record):
    """What verified an asset's provenance: release files by name, and the attestation's
    bundle (JSON text) that held. What a lock entry records; read back as it was written."""

    files: Mapping[str, str] = {}
    attestation: str = ""

    def to_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {}
        if self.files:
            table["files"] = dict(sorted(self.files.items()))
        if self.attestation:
            table["attestation"] = self.attestation
        return table

    @classmethod
    def from_table(cls, table: object) -> Carried:
        """The table to_table wrote (ValueError when it is not one)."""
        if not isinstance(table, Mapping):
            raise ValueError("provenance must be a table")
        files = table.get("files", {})
        text = table.get("attestation", "")
        if (
            not isinstance(files, Mapping)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items())
            or not isinstance(text, str)
        ):
            raise ValueError("provenance.files must map names to text, attestation be text")
        return cls(dict(files), text)


class Outcome(Record):
    authorities: tuple[tuple[str, str], ...]
    """(kind, name as the Verified line says it): SIGSTORE, ATTESTATION or MINISIGN."""
    files: Mapping[str, bytes]
    """The release files the checks read (signature, bundle, checksum file)."""
    attestation: str
    """The attestation's bundle that held (JSON text), '' when none was asked for."""

    @property
    def carried(self) -> Carried:
        """What to record in a lock: the files as text (a lock is TOML)."""
        files = {}
        for name, data in self.files.items():
            try:
                files[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ProvenanceError(
                    f"{name} is not UTF-8 text, so the lock cannot record it",
                    hint="build without a lock for this entry, or ask the project for a text "
                    "signature file",
                ) from None
        return Carried(files, self.attestation)


class Watcher(Protocol):
    """What sees the asset's bytes as they arrive (pipeline.Watcher)."""

    def update(self, data: bytes | memoryview) -> None: ...

    def reset(self) -> None: ...


class _Digest:
    """A hash of the asset's bytes as they arrive (a signed file may list only its sha512)."""

    def __init__(self, algo: str) -> None:
        self.algo = algo
        self.reset()

    def reset(self) -> None:
        self._hash = hashlib.new(self.algo)

    def update(self, data: bytes | memoryview) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class _Tee:
    """Several watchers fed the same bytes."""

    def __init__(self, watchers: Sequence[Watcher]) -> None:
        self._watchers = watchers

    def reset(self) -> None:
        for watcher in self._watchers:
            watcher.reset()

    def update(self, data: bytes | memoryview) -> None:
        for watcher in self._watchers:
            watcher.update(data)


def covering(signed: str, checksum_files: Sequence[str]) -> str:
    """The checksum file a signature or bundle named `signed` covers ('' for the asset)."""
    names = [n for n in checksum_files if signed.startswith(n) and signed != n]
    return max(names, key=len) if names else ""


class Check:
    """One entry's provenance for one asset."""

    def __init__(
        self,
        provenance: Provenance,
        *,
        asset_name: str,
        render: Callable[[str], str],
        checksum_files: Sequence[str],
        fetch: Fetch,
        carried: Carried | None,
        trusted_root: Callable[[], TrustedRoot],
    ) -> None:
        """render: a template of the entry filled for this asset ({asset} {os} ...);
        checksum_files: the names the entry's checksum file may have (its `checksums`, or
        what `auto` tries among the release's assets); carried: what a lock recorded."""
        self.provenance = provenance
        self.asset_name = asset_name
        self.fetch = fetch
        self.carried = carried
        self.trusted_root = trusted_root
        self.files: dict[str, bytes] = {}
        self.bundle_name = render(provenance.sigstore_bundle) if provenance.sigstore_bundle else ""
        self.signature_name = (
            render(provenance.minisign_signature) if provenance.minisign_signature else ""
        )
        self.bundle_covers = covering(self.bundle_name, checksum_files)
        self.signature_covers = covering(self.signature_name, checksum_files)
        self._stream: minisign.Message | None = None
        self._bundle: Mapping[str, Any] | None = None
        self._digests: dict[str, _Digest] = {}
        """The asset's digests that a signed checksum file lists in place of its sha256."""

    def _file(self, name: str, what: str) -> bytes:
        if name not in self.files:
            if self.carried is not None:
                if name not in self.carried.files:
                    raise ProvenanceError(
                        f"the lock records no {what} {name} for {self.asset_name}",
                        hint="re-run `github-assets lock` to record it",
                    )
                self.files[name] = self.carried.files[name].encode("utf-8")
            else:
                data = self.fetch.sibling(name)
                if len(data) > FILE_MAX_BYTES:
                    raise ProvenanceError(f"{what} {name} is larger than {FILE_MAX_BYTES} bytes")
                self.files[name] = data
        return self.files[name]

    def prepare(self) -> Watcher | None:
        """Fetch and read the signature, bundle and signed checksum files; what to feed the
        asset's bytes to as they arrive: the minisign check, when the signature is over the
        asset itself, and the digest a signed checksum file lists when it is not sha256."""
        p = self.provenance
        if p.sigstore_bundle:
            raw = self._file(self.bundle_name, "Sigstore bundle")
            try:  # a release asset: the server's JSON, read as every other one
                bundle = jsonbody.parse(raw)
            except ValueError as e:
                raise ProvenanceError(f"sigstore: {self.bundle_name} is {e}") from None
            if not isinstance(bundle, dict):
                raise ProvenanceError(f"sigstore: {self.bundle_name} is not a bundle object")
            self._bundle = bundle
        if p.minisign_key:
            key = minisign.parse_public_key(p.minisign_key)
            data = self._file(self.signature_name, "minisign signature")
            try:
                signature = minisign.parse_signature(data)
            except minisign.MinisignError as e:
                raise minisign.MinisignError(
                    f"minisign: {self.signature_name}: {e.message.removeprefix('minisign: ')}"
                ) from None
            self._stream = minisign.Message(key, signature)
        watchers: list[Watcher] = []
        if self._stream is not None and not self.signature_covers:
            watchers.append(self._stream)
        for name in dict.fromkeys(n for n in (self.bundle_covers, self.signature_covers) if n):
            listed = self._line(name, self._file(name, "checksum file"))
            if listed is not None and listed.algo != "sha256" and listed.algo not in self._digests:
                self._digests[listed.algo] = _Digest(listed.algo)
                watchers.append(self._digests[listed.algo])
        if len(watchers) > 1:
            return _Tee(watchers)
        return watchers[0] if watchers else None

    def decide(self, sha256: str) -> Outcome:
        """Every check of the entry's provenance, on the asset whose bytes had `sha256`."""
        p = self.provenance
        authorities = []
        attested = ""
        if p.sigstore_bundle:
            authorities.append((SIGSTORE, self._sigstore(sha256)))
        if p.github_attestation:
            attested = self._attestation(sha256)
            authorities.append((ATTESTATION, f"GitHub attestation ({p.signer_workflow})"))
        if p.minisign_key:
            authorities.append((MINISIGN, self._minisign(sha256)))
        return Outcome(tuple(authorities), dict(self.files), attested)

    def _sigstore(self, sha256: str) -> str:
        p = self.provenance
        assert self._bundle is not None, "prepare() runs first"
        identity = Identity(p.identity, p.issuer)
        if self.bundle_covers:
            signed = self._file(self.bundle_covers, "checksum file")
            verify_bundle(self._bundle, signed, identity, self.trusted_root())
            self._listed(self.bundle_covers, signed, sha256, "sigstore")
        else:
            verify_bundle(
                self._bundle, ArtifactDigest.from_hex(sha256), identity, self.trusted_root()
            )
        return f"sigstore ({p.identity})"

    def _minisign(self, sha256: str) -> str:
        check = self._stream
        assert check is not None, "prepare() runs first"
        if self.signature_covers:
            signed = self._file(self.signature_covers, "checksum file")
            check.reset()
            check.update(signed)
            check.verify()
            self._listed(self.signature_covers, signed, sha256, "minisign")
        else:
            check.verify()
        return f"minisign ({check.key.key_id_text})"

    def _line(self, name: str, signed: bytes) -> Checksum | None:
        """The asset's checksum in the signed checksum file (its sha256 when it has one)."""
        from ..checksums import find

        text = signed.decode("utf-8", "replace")
        return find(text, self.asset_name, sidecar=name.startswith(self.asset_name + ".")).checksum

    def _listed(self, name: str, signed: bytes, sha256: str, who: str) -> None:
        """The signed checksum file must vouch for the bytes that were downloaded, through
        its line for the asset, whatever the line's algorithm."""
        listed = self._line(name, signed)
        if listed is None:
            raise ProvenanceError(
                f"{who}: the signed checksum file {name} has no line for {self.asset_name}"
            )
        digest = self._digests.get(listed.algo)
        got = Checksum(digest.hexdigest(), digest.algo) if digest else Checksum(sha256)
        if listed != got:
            raise ProvenanceError(
                f"{who}: the signed checksum file {name} lists {listed} for "
                f"{self.asset_name}, not the downloaded {got}"
            )

    def _attestation(self, sha256: str) -> str:
        p = self.provenance
        policy = attestation.Policy(p.signer_workflow, p.predicate)
        loaders: list[Callable[[], Mapping[str, Any]]]
        if self.carried is not None:
            if not self.carried.attestation:
                raise ProvenanceError(
                    f"GitHub attestation: the lock records none for {self.asset_name}",
                    hint="re-run `github-assets lock` to record it",
                )
            text = self.carried.attestation
            loaders = [lambda: _json_object(text)]
        else:
            items = attestation.parse_list(self.fetch.attestations(sha256))
            loaders = [_loader(item, self.fetch) for item in items]
        _, bundle, _ = attestation.verify(
            loaders, self.asset_name, sha256, policy, self.trusted_root()
        )
        return json.dumps(bundle, separators=(",", ":"), sort_keys=True)


def _json_object(text: str) -> Mapping[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise attestation.AttestationError(
            f"GitHub attestation: the lock's attestation is not JSON ({e})"
        ) from None
    if not isinstance(value, dict):
        raise attestation.AttestationError(
            "GitHub attestation: the lock's attestation is not a bundle object"
        )
    return value


def _loader(item: attestation.Item, fetch: Fetch) -> Callable[[], Mapping[str, Any]]:
    if item.problem:
        problem = item.problem

        def unreadable() -> Mapping[str, Any]:
            # This attestation's failure, as a document that cannot be fetched is.
            raise attestation.AttestationError(f"GitHub attestation: {problem}")

        return unreadable
    if item.bundle is not None:
        bundle = item.bundle
        return lambda: bundle

    def load() -> Mapping[str, Any]:
        try:
            document = fetch.document(item.bundle_url)
        except BuildpackError as e:
            # This attestation's failure: the others are still tried.
            raise attestation.AttestationError(
                f"GitHub attestation: its bundle_url document could not be fetched ({e.message})"
            ) from None
        return attestation.parse_document(document)

    return load
