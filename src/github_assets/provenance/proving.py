"""The pipeline's proofs of provenance (pipeline.Proof), over the build's sources.

One proof per kind of check an entry's `provenance` asks for. Before the asset's bytes are
fetched, `prepare` reads the signature and bundle files (from the release, through the job's
source as the checksum file is; or what the lock or the offline package carried) and says
what to feed the asset's bytes to; after they verified, the proof decides and names its
authority for the Verified line. The attestations come from the API of the entry, their
`bundle_url` documents from the storage host, without a token.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..checksums import AUTO, candidates
from ..log import Log
from ..sources import MemorySink, ResolvedAsset, fetch_verified
from ..verify import Authority, Expected, Kind, Verified
from .attestation import DOCUMENT_MAX_BYTES, LIST_MAX_BYTES
from .errors import ProvenanceError
from .proofs import (
    ATTESTATION,
    FILE_MAX_BYTES,
    MINISIGN,
    SIGSTORE,
    Carried,
    Check,
    Outcome,
    Watcher,
)
from .spec import Provenance
from .trustroot import TrustedRoot

if TYPE_CHECKING:
    from ..config import AssetSpec
    from ..lock import Lock
    from ..pipeline import Job
    from ..platform import StrPath
    from ..sources.github import GitHub
    from ..sources.http import Http

KINDS = {SIGSTORE: Kind.SIGSTORE, ATTESTATION: Kind.ATTESTATION, MINISIGN: Kind.MINISIGN}
OFFLINE_FILE = "provenance.json"
"""Beside an asset in the offline package (dependencies/<sha256>/): what the lock carried."""


def kinds(provenance: Provenance) -> list[Provenance]:
    """The entry's provenance as one Provenance per kind of check, in the Verified line's order."""
    p = provenance
    out = []
    if p.sigstore_bundle:
        out.append(
            Provenance(sigstore_bundle=p.sigstore_bundle, identity=p.identity, issuer=p.issuer)
        )
    if p.github_attestation:
        out.append(
            Provenance(
                github_attestation=True,
                signer_workflow=p.signer_workflow,
                predicate_type=p.predicate_type,
            )
        )
    if p.minisign_key:
        out.append(Provenance(minisign_key=p.minisign_key, minisign_signature=p.minisign_signature))
    return out


def _too_large(name: str, limit: int) -> ProvenanceError:
    return ProvenanceError(f"{name} is larger than {limit} bytes")


class _Release:
    """proofs.Fetch over the job's source (release files), the API and the storage host."""

    def __init__(
        self,
        job: Job,
        asset: ResolvedAsset,
        api: Callable[[Log, threading.Event | None], GitHub],
        http: Callable[[], Http],
    ) -> None:
        self.job = job
        self.asset = asset
        self.api = api
        self.http = http

    def sibling(self, name: str) -> bytes:
        by_name = {s.name: s for s in self.asset.siblings}
        if name not in by_name and self.asset.asset_id == 0:
            # Resolved without the API (pins): fetched from GitHub, as a checksum file is.
            by_name[name] = self.asset._replace(name=name, size=-1, url="", claims=(), siblings=())
        if name not in by_name:
            raise ProvenanceError(
                f"'provenance' names {name}, which is not an asset of release {self.asset.tag}",
                hint="set the file names in 'provenance' to assets listed",
                details="assets: " + ", ".join(sorted(by_name)),
            )
        sibling = by_name[name]
        sink = MemorySink(FILE_MAX_BYTES, lambda: _too_large(name, FILE_MAX_BYTES))
        # Evidence itself: only GitHub's own hosts serve it (no mirror vouches for a signature).
        expected = Expected(name, sibling.size, evidence=True, named_by="provenance")
        fetch_verified(
            self.job.source, sibling, sink, expected, log=self.job.log, cancel=self.job.cancel
        )
        return bytes(sink.data)

    def attestations(self, sha256: str) -> bytes:
        client = self.api(self.job.log, self.job.cancel)
        return client.attestations(self.asset.repo, sha256, LIST_MAX_BYTES)

    def document(self, url: str) -> bytes:
        from ..sources.download import Download, download

        what = "an attestation's bundle_url document"
        sink = MemorySink(DOCUMENT_MAX_BYTES, lambda: _too_large(what, DOCUMENT_MAX_BYTES))
        download(
            self.http(),
            Download(
                name="an attestation bundle",
                url=url,
                size=-1,
                sink=sink,
                log=self.job.log,
                cancel=self.job.cancel,
            ),
        )
        return bytes(sink.data)


class EntryProof:
    """pipeline.Proof for one kind of check of an entry's provenance."""

    def __init__(
        self,
        provenance: Provenance,
        *,
        api: Callable[[Log, threading.Event | None], GitHub],
        http: Callable[[], Http],
        lock: Lock | None,
        offline: Path | None,
        trusted_root: Callable[[], TrustedRoot],
    ) -> None:
        self.provenance = provenance
        self.api = api
        self.http = http
        self.lock = lock
        self.offline = offline
        self.trusted_root = trusted_root
        self.outcome: Outcome | None = None
        self._check: Check | None = None

    def _carried(self, job: Job, asset: ResolvedAsset) -> Carried | None:
        """What the lock entry, else the offline package, recorded for this asset."""
        entry = self.lock.find(job.spec, job.target) if self.lock is not None else None
        if entry is not None:
            return Carried.from_table(entry.provenance) if entry.provenance else Carried()
        # Without a lock entry only a pin names the asset in the offline package.
        pin = job.spec.pin_for(job.target.arch)
        sha256 = pin.hex if pin is not None and pin.algo == "sha256" else ""
        if self.offline is not None and sha256:
            path = self.offline / sha256 / OFFLINE_FILE
            if path.is_file():
                try:
                    return Carried.from_table(json.loads(path.read_text(encoding="utf-8")))
                except (OSError, ValueError, RecursionError) as e:
                    raise ProvenanceError(
                        f"the offline package's {sha256}/{OFFLINE_FILE} cannot be read ({e})",
                        hint="rebuild the offline package with make package",
                    ) from None
        return None

    def prepare(self, job: Job, asset: ResolvedAsset) -> Watcher | None:
        """Read the signature and bundle files; what the asset's bytes must be fed to."""
        carried = self._carried(job, asset)
        spec = job.spec
        self._check = Check(
            self.provenance,
            asset_name=asset.name,
            render=lambda t: spec.render(t, job.target, asset.tag, asset=asset.name),
            checksum_files=_checksum_files(spec, job, asset, carried),
            fetch=_Release(job, asset, self.api, self.http),
            carried=carried,
            trusted_root=self.trusted_root,
        )
        return self._check.prepare()

    def __call__(self, job: Job, asset: ResolvedAsset, verified: Verified) -> Authority:
        if self._check is None:
            raise ProvenanceError("a proof of provenance ran before it was prepared")
        self.outcome = self._check.decide(verified.sha256)
        kind, name = self.outcome.authorities[0]
        return Authority(KINDS[kind], name)


def _checksum_files(
    spec: AssetSpec, job: Job, asset: ResolvedAsset, carried: Carried | None
) -> Sequence[str]:
    """The names the entry's checksum file may have: what a signature may cover."""
    if spec.checksums is False:
        return ()
    if spec.checksums != AUTO:
        return (spec.render(str(spec.checksums), job.target, asset.tag, asset=asset.name),)
    names = [s.name for s in asset.siblings] + list(carried.files if carried else ())
    return candidates(asset.name, names)


BINDING_TYPE = "sigstore-trusted-root"
BINDING_KEY = "trusted_root.json"


def trusted_root_loader(
    env: Mapping[str, str], platform_dir: StrPath | None
) -> Callable[[], TrustedRoot]:
    """The Sigstore trusted root of the build, read once when first needed: a
    `sigstore-trusted-root` binding's trusted_root.json, else the one that ships."""
    guard = threading.Lock()
    loaded: list[TrustedRoot] = []

    def load() -> TrustedRoot:
        with guard:
            if not loaded:
                path = _binding_file(env, platform_dir)
                if path is None:
                    loaded.append(TrustedRoot.public_good())
                else:
                    try:
                        loaded.append(TrustedRoot.from_json(path.read_bytes()))
                    except OSError as e:
                        raise ProvenanceError(
                            f"the {BINDING_TYPE} binding's {BINDING_KEY} cannot be read ({e})"
                        ) from None
                    except ProvenanceError as e:
                        raise ProvenanceError(
                            f"the {BINDING_TYPE} binding's {BINDING_KEY} is not a trusted root: "
                            f"{e.message}",
                            hint="give it the trusted_root.json of your Sigstore instance",
                        ) from None
            return loaded[0]

    return load


def _binding_file(env: Mapping[str, str], platform_dir: StrPath | None) -> Path | None:
    from .. import bindings

    for binding in bindings.of_type(bindings.read(env, platform_dir), BINDING_TYPE):
        key_file = binding.keys.get(BINDING_KEY)
        if key_file is None:
            raise ProvenanceError(f"the {BINDING_TYPE} binding {binding.name} has no {BINDING_KEY}")
        return Path(key_file)
    return None
