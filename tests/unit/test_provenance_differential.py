"""Our Sigstore verdict against sigstore-python's (the reference, a development dependency).

Real bundles (sigstore-conformance, sigstore-python, cli/cli test data) and mutations of every
part a bundle has: payload, signature, certificate, chain, SCT, signed entry timestamp,
inclusion proof, checkpoint, RFC 3161 timestamp, identity, issuer, predicate type, subject
name and digest. The verdict must be the reference's, except the trusted root's validity
windows, which the conformance suite (and the contract) enforce and sigstore-python does not:
those cases are asserted separately, with both verdicts written down.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sigstore._cli import _verify_common
from sigstore.hashes import Hashed
from sigstore.models import Bundle
from sigstore.models import TrustedRoot as RefTrustedRoot
from sigstore.verify import Verifier, policy
from sigstore_models.common.v1 import HashAlgorithm

from github_assets.provenance import (
    ArtifactDigest,
    Identity,
    ProvenanceError,
    TrustedRoot,
    verify_bundle,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "provenance"
SHIPPED = ROOT / "src" / "github_assets" / "provenance"
CONFORMANCE = DATA / "conformance"
PRODUCTION = json.loads((SHIPPED / "trusted_root.json").read_text())
STAGING = json.loads((SHIPPED / "trusted_root.staging.json").read_text())
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ACTIONS = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class Case:
    bundle: dict[str, Any]
    sha256: bytes  # the artifact's digest (both verifiers take the artifact by digest)
    identity: str
    issuer: str
    root: dict[str, Any]


def _conformance(name: str) -> Case:
    folder = CONFORMANCE / name
    root_file = folder / "trusted_root.json"
    return Case(
        json.loads((folder / "bundle.sigstore.json").read_text()),
        hashlib.sha256((CONFORMANCE / "a.txt").read_bytes()).digest(),
        BEACON,
        ACTIONS,
        json.loads(root_file.read_text()) if root_file.exists() else PRODUCTION,
    )


BASES: dict[str, Case] = {
    "v0.3": _conformance("happy-path-v0.3"),
    "v0.1": _conformance("happy-path-v0.1"),
    "dsse": _conformance("happy-path-intoto-in-dsse-v3"),
    "rekor2": _conformance("rekor2-happy-path"),
    "rekor2-dsse": _conformance("rekor2-dsse-happy-path"),
    "v0.2-whl": Case(
        json.loads((DATA / "sigstore-python" / "bundle_v3_github.whl.sigstore").read_text()),
        bytes.fromhex("c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201"),
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
        ACTIONS,
        PRODUCTION,
    ),
    "staging-v0.1": Case(
        json.loads((DATA / "sigstore-python" / "bundle.txt.sigstore").read_text()),
        hashlib.sha256((DATA / "sigstore-python" / "bundle.txt").read_bytes()).digest(),
        "a@tny.town",
        "https://github.com/login/oauth",
        STAGING,
    ),
    "staging-v0.3": Case(
        json.loads((DATA / "sigstore-python" / "bundle_v3.txt.sigstore").read_text()),
        hashlib.sha256((DATA / "sigstore-python" / "bundle_v3.txt").read_bytes()).digest(),
        "william@yossarian.net",
        "https://github.com/login/oauth",
        STAGING,
    ),
    "staging-v0.3-alt": Case(
        json.loads((DATA / "sigstore-python" / "bundle_v3_alt.txt.sigstore").read_text()),
        hashlib.sha256((DATA / "sigstore-python" / "bundle_v3_alt.txt").read_bytes()).digest(),
        "william@yossarian.net",
        "https://github.com/login/oauth",
        STAGING,
    ),
    "gh-custom-issuer": Case(
        json.loads((DATA / "gh-cli" / "custom-issuer.sigstore.json").read_text()),
        hashlib.sha256((DATA / "gh-cli" / "custom-issuer-artifact").read_bytes()).digest(),
        "https://github.com/too-legit/attest/.github/workflows/integration.yml@refs/heads/main",
        "https://token.actions.githubusercontent.com/hammer-time",
        PRODUCTION,
    ),
    "gh-attestation": Case(
        json.loads((DATA / "gh-cli" / "reusable-workflow-attestation.sigstore.json").read_text()),
        bytes.fromhex("49a3aa6075e0f49f82843e74b5baa614ad2a588e6675612bf108a0a008c5ac25"),
        "https://github.com/github/artifact-attestations-workflows/.github/workflows/"
        "attest.yml@09b495c3f12c7881b3cc17209a327792065c1a1d",
        ACTIONS,
        PRODUCTION,
    ),
}


def ours(case: Case) -> str:
    try:
        verify_bundle(
            json.dumps(case.bundle).encode(),
            ArtifactDigest(case.sha256),
            Identity(case.identity, case.issuer),
            TrustedRoot.from_json(json.dumps(case.root)),
        )
    except ProvenanceError as error:
        return f"refused: {error}"
    return "accepted"


def reference(case: Case, tmp_path: Path) -> str:
    root = tmp_path / "trusted_root.json"
    root.write_text(json.dumps(case.root))
    try:
        verifier = Verifier(trusted_root=RefTrustedRoot.from_file(str(root)))
        bundle = Bundle.from_json(json.dumps(case.bundle))
        hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=case.sha256)
        # The sigstore CLI's own verify path: artifact or DSSE (with the in-toto subject check).
        _verify_common(
            verifier, hashed, bundle, policy.Identity(identity=case.identity, issuer=case.issuer)
        )
    except Exception as error:  # the reference refuses with many exception types
        return f"refused: {type(error).__name__}: {error}"
    return "accepted"


# --- helpers that edit one part of a bundle ------------------------------------------------


def _material(case: Case) -> dict[str, Any]:
    return case.bundle["verificationMaterial"]


def _entry(case: Case) -> dict[str, Any]:
    return _material(case)["tlogEntries"][0]


def _flip_b64(value: str, at: int = -10) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _leaf_holder(case: Case) -> dict[str, Any]:
    material = _material(case)
    if "certificate" in material:
        return material["certificate"]
    return material["x509CertificateChain"]["certificates"][0]


def _envelope(case: Case) -> dict[str, Any] | None:
    return case.bundle.get("dsseEnvelope")


def _statement_edit(case: Case, edit: Callable[[dict[str, Any]], None]) -> Case | None:
    envelope = _envelope(case)
    if envelope is None:
        return None
    statement = json.loads(base64.b64decode(envelope["payload"]))
    edit(statement)
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return case


def _signature_holder(case: Case) -> dict[str, Any]:
    envelope = _envelope(case)
    if envelope is not None:
        return envelope["signatures"][0]
    return case.bundle["messageSignature"]


def _sig_key(case: Case) -> str:
    return "sig" if _envelope(case) is not None else "signature"


def _checkpoint_edit(case: Case, edit: Callable[[str], str]) -> Case | None:
    checkpoint = _entry(case).get("inclusionProof", {}).get("checkpoint")
    if not checkpoint:
        return None
    checkpoint["envelope"] = edit(checkpoint["envelope"])
    return case


def _stamps(case: Case) -> list[dict[str, Any]] | None:
    data = _material(case).get("timestampVerificationData")
    return data.get("rfc3161Timestamps") if data else None


# --- the mutations: each returns the mutated case, or None where it does not apply ---------

Mutation = Callable[[Case], "Case | None"]


def m_payload_other_artifact(case: Case) -> Case | None:
    return replace(case, sha256=hashlib.sha256(b"another artifact").digest())


def m_payload_dsse_byte(case: Case) -> Case | None:
    envelope = _envelope(case)
    if envelope is None:
        return None
    envelope["payload"] = _flip_b64(envelope["payload"], 5)
    return case


def m_signature_flip(case: Case) -> Case | None:
    holder, key = _signature_holder(case), _sig_key(case)
    holder[key] = _flip_b64(holder[key])
    return case


def m_signature_truncated(case: Case) -> Case | None:
    holder, key = _signature_holder(case), _sig_key(case)
    holder[key] = base64.b64encode(base64.b64decode(holder[key])[:-1]).decode()
    return case


def m_certificate_tbs_byte(case: Case) -> Case | None:
    holder = _leaf_holder(case)
    holder["rawBytes"] = _flip_b64(holder["rawBytes"], 200)
    return case


def m_certificate_signature_byte(case: Case) -> Case | None:
    holder = _leaf_holder(case)
    holder["rawBytes"] = _flip_b64(holder["rawBytes"], -5)
    return case


def m_certificate_of_another_bundle(case: Case) -> Case | None:
    other = BASES["v0.2-whl"] if case.identity != BASES["v0.2-whl"].identity else BASES["v0.3"]
    _leaf_holder(case)["rawBytes"] = _leaf_holder(other)["rawBytes"]
    return case


def m_chain_no_fulcio_ca(case: Case) -> Case | None:
    case.root["certificateAuthorities"] = []
    return case


def m_chain_other_instance_ca(case: Case) -> Case | None:
    production = case.root == PRODUCTION
    case.root["certificateAuthorities"] = copy.deepcopy(
        STAGING["certificateAuthorities"] if production else PRODUCTION["certificateAuthorities"]
    )
    return case


def m_sct_no_ct_logs(case: Case) -> Case | None:
    case.root["ctlogs"] = []
    return case


def m_sct_wrong_ct_key(case: Case) -> Case | None:
    """Every CT log's key replaced by another log's (Rekor's) key: no SCT can verify."""
    stranger = PRODUCTION["tlogs"][0]["publicKey"]["rawBytes"]
    for log in case.root["ctlogs"]:
        log["publicKey"] = {
            **log["publicKey"],
            "rawBytes": stranger,
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
        }
    return case


def m_set_flip(case: Case) -> Case | None:
    promise = _entry(case).get("inclusionPromise")
    if promise is None:
        return None
    promise["signedEntryTimestamp"] = _flip_b64(promise["signedEntryTimestamp"])
    return case


def m_set_integrated_time(case: Case) -> Case | None:
    entry = _entry(case)
    if "inclusionPromise" not in entry:
        return None
    entry["integratedTime"] = str(int(entry["integratedTime"]) + 1)
    return case


def m_set_log_index(case: Case) -> Case | None:
    entry = _entry(case)
    if "inclusionPromise" not in entry:
        return None
    entry["logIndex"] = str(int(entry["logIndex"]) + 1)
    return case


def m_set_removed(case: Case) -> Case | None:
    entry = _entry(case)
    if "inclusionPromise" not in entry:
        return None
    del entry["inclusionPromise"]
    return case


def m_proof_hash_flip(case: Case) -> Case | None:
    proof = _entry(case).get("inclusionProof")
    if not proof or not proof["hashes"]:
        return None
    proof["hashes"][0] = _flip_b64(proof["hashes"][0], 3)
    return case


def m_proof_hash_dropped(case: Case) -> Case | None:
    proof = _entry(case).get("inclusionProof")
    if not proof or not proof["hashes"]:
        return None
    proof["hashes"].pop()
    return case


def m_proof_index(case: Case) -> Case | None:
    proof = _entry(case).get("inclusionProof")
    if not proof:
        return None
    proof["logIndex"] = str(int(proof["logIndex"]) ^ 1)
    return case


def m_proof_tree_size(case: Case) -> Case | None:
    proof = _entry(case).get("inclusionProof")
    if not proof:
        return None
    proof["treeSize"] = str(int(proof["treeSize"]) * 2 + 1)
    return case


def m_proof_root_hash(case: Case) -> Case | None:
    proof = _entry(case).get("inclusionProof")
    if not proof:
        return None
    proof["rootHash"] = _flip_b64(proof["rootHash"], 0)
    return case


def m_proof_removed(case: Case) -> Case | None:
    entry = _entry(case)
    if "inclusionProof" not in entry:
        return None
    del entry["inclusionProof"]
    return case


def m_body_digest(case: Case) -> Case | None:
    entry = _entry(case)
    body = base64.b64decode(entry["canonicalizedBody"])
    at = body.find(b'"value":"') + 9 if b'"value":"' in body else body.find(b'"digest":"') + 10
    mutated = body[:at] + (b"0" if body[at : at + 1] != b"0" else b"1") + body[at + 1 :]
    entry["canonicalizedBody"] = base64.b64encode(mutated).decode()
    return case


def m_body_kind(case: Case) -> Case | None:
    kind = _entry(case)["kindVersion"]
    kind["kind"] = "dsse" if kind["kind"] == "hashedrekord" else "hashedrekord"
    return case


def m_log_id(case: Case) -> Case | None:
    entry = _entry(case)
    entry["logId"]["keyId"] = _flip_b64(entry["logId"]["keyId"], 0)
    return case


def m_two_log_entries(case: Case) -> Case | None:
    entries = _material(case)["tlogEntries"]
    entries.append(copy.deepcopy(entries[0]))
    return case


def m_checkpoint_signature(case: Case) -> Case | None:
    def edit(text: str) -> str:
        head, _, sigs = text.partition("\n\n")
        name, _, sig = sigs.split("\n")[0].rpartition(" ")
        rest = "\n".join(sigs.split("\n")[1:])
        return f"{head}\n\n{name} {_flip_b64(sig, -3)}\n{rest}"

    return _checkpoint_edit(case, edit)


def m_checkpoint_root_line(case: Case) -> Case | None:
    def edit(text: str) -> str:
        lines = text.split("\n")
        lines[2] = _flip_b64(lines[2], 0)
        return "\n".join(lines)

    return _checkpoint_edit(case, edit)


def m_checkpoint_unsigned(case: Case) -> Case | None:
    return _checkpoint_edit(case, lambda text: text.partition("\n\n")[0] + "\n\n")


def m_checkpoint_key_hint(case: Case) -> Case | None:
    def edit(text: str) -> str:
        head, _, sigs = text.partition("\n\n")
        lines = sigs.split("\n")
        name, _, sig = lines[0].rpartition(" ")
        lines[0] = f"{name} {_flip_b64(sig, 0)}"
        return f"{head}\n\n" + "\n".join(lines)

    return _checkpoint_edit(case, edit)


def m_checkpoint_extra_cosignature(case: Case) -> Case | None:
    """An unknown witness's cosignature is ignored: both verifiers still accept."""
    cosig = base64.b64encode(b"\x01\x02\x03\x04" + bytes(64)).decode()
    return _checkpoint_edit(case, lambda text: text + f"\u2014 witness.example {cosig}\n")


def m_timestamp_flip(case: Case) -> Case | None:
    stamps = _stamps(case)
    if not stamps:
        return None
    stamps[0]["signedTimestamp"] = _flip_b64(stamps[0]["signedTimestamp"])
    return case


def m_timestamp_removed(case: Case) -> Case | None:
    if not _stamps(case):
        return None
    del _material(case)["timestampVerificationData"]
    return case


def m_timestamp_duplicated(case: Case) -> Case | None:
    stamps = _stamps(case)
    if not stamps:
        return None
    stamps.append(copy.deepcopy(stamps[0]))
    return case


def m_timestamp_foreign(case: Case) -> Case | None:
    """A timestamp over another signature: ignored beside a SET, fatal without one."""
    foreign = _stamps(BASES["rekor2"])
    assert foreign
    own = _stamps(case)
    if own:
        own[0] = copy.deepcopy(foreign[0]) if own[0] != foreign[0] else own[0]
        if own[0] == foreign[0] and case.bundle == BASES["rekor2"].bundle:
            return None
        return case
    _material(case)["timestampVerificationData"] = {"rfc3161Timestamps": copy.deepcopy(foreign)}
    return case


def m_identity_other(case: Case) -> Case | None:
    return replace(case, identity=case.identity + "x")


def m_identity_prefix(case: Case) -> Case | None:
    return replace(case, identity=case.identity[:20])


def m_issuer_other(case: Case) -> Case | None:
    return replace(case, issuer="https://accounts.google.com")


def m_predicate_type(case: Case) -> Case | None:
    return _statement_edit(case, lambda s: s.update(predicateType="https://example.com/other"))


def m_subject_name(case: Case) -> Case | None:
    return _statement_edit(case, lambda s: s["subject"][0].update(name="renamed"))


def m_subject_digest(case: Case) -> Case | None:
    def edit(statement: dict[str, Any]) -> None:
        statement["subject"][0]["digest"] = {"sha256": "00" * 32}

    return _statement_edit(case, edit)


def m_dsse_two_signatures(case: Case) -> Case | None:
    envelope = _envelope(case)
    if envelope is None:
        return None
    envelope["signatures"].append(copy.deepcopy(envelope["signatures"][0]))
    return case


def m_message_digest(case: Case) -> Case | None:
    message = case.bundle.get("messageSignature")
    if message is None or "messageDigest" not in message:
        return None
    message["messageDigest"]["digest"] = _flip_b64(message["messageDigest"]["digest"], 0)
    return case


def m_media_type_spelling(case: Case) -> Case | None:
    """The two spellings of v0.3 are the same format: both verifiers accept either."""
    spellings = (
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    )
    if case.bundle["mediaType"] not in spellings:
        return None
    case.bundle["mediaType"] = spellings[1 - spellings.index(case.bundle["mediaType"])]
    return case


def m_media_type_older(case: Case) -> Case | None:
    if "certificate" not in _material(case):
        return None
    case.bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2"
    return case


MUTATIONS: list[Mutation] = [
    m_payload_other_artifact,
    m_payload_dsse_byte,
    m_signature_flip,
    m_signature_truncated,
    m_certificate_tbs_byte,
    m_certificate_signature_byte,
    m_certificate_of_another_bundle,
    m_chain_no_fulcio_ca,
    m_chain_other_instance_ca,
    m_sct_no_ct_logs,
    m_sct_wrong_ct_key,
    m_set_flip,
    m_set_integrated_time,
    m_set_log_index,
    m_set_removed,
    m_proof_hash_flip,
    m_proof_hash_dropped,
    m_proof_index,
    m_proof_tree_size,
    m_proof_root_hash,
    m_proof_removed,
    m_body_digest,
    m_body_kind,
    m_log_id,
    m_two_log_entries,
    m_checkpoint_signature,
    m_checkpoint_root_line,
    m_checkpoint_unsigned,
    m_checkpoint_key_hint,
    m_checkpoint_extra_cosignature,
    m_timestamp_flip,
    m_timestamp_removed,
    m_timestamp_duplicated,
    m_timestamp_foreign,
    m_identity_other,
    m_identity_prefix,
    m_issuer_other,
    m_predicate_type,
    m_subject_name,
    m_subject_digest,
    m_dsse_two_signatures,
    m_message_digest,
    m_media_type_spelling,
    m_media_type_older,
]


def _mutated(base: str, mutation: Mutation) -> Case | None:
    original = BASES[base]
    return mutation(
        replace(original, bundle=copy.deepcopy(original.bundle), root=copy.deepcopy(original.root))
    )


# Where the contract, not sigstore-python, decides (asserted in the tests at the end).
CONTRACT_DECIDES = {("v0.1", "m_proof_removed"), ("staging-v0.1", "m_proof_removed")}

PAIRS = [
    (base, mutation)
    for mutation in MUTATIONS
    for base in BASES
    if _mutated(base, mutation) is not None and (base, mutation.__name__) not in CONTRACT_DECIDES
]


def test_there_are_at_least_30_kinds_of_mutation_each_applied() -> None:
    applied = {mutation.__name__ for _, mutation in PAIRS}
    assert len(applied) == len(MUTATIONS) >= 30


@pytest.mark.parametrize("base", sorted(BASES))
def test_real_bundles_verify_as_the_reference_says(base: str, tmp_path: Path) -> None:
    assert ours(BASES[base]) == reference(BASES[base], tmp_path) == "accepted"


@pytest.mark.parametrize(
    ("base", "mutation"), PAIRS, ids=[f"{b}-{m.__name__[2:]}" for b, m in PAIRS]
)
def test_mutated_bundles_get_the_reference_verdict(
    base: str, mutation: Mutation, tmp_path: Path
) -> None:
    case = _mutated(base, mutation)
    assert case is not None
    mine, theirs = ours(case), reference(case, tmp_path)
    assert mine.split(":")[0] == theirs.split(":")[0], (mine, theirs)


def test_refused_real_bundles_are_refused_by_both(tmp_path: Path) -> None:
    for bundle, artifact in [
        ("bundle_v3_no_signed_time.txt.sigstore.json", "bundle_v3_no_signed_time.txt"),
        ("bundle_cve_2022_36056.txt.sigstore", "bundle_cve_2022_36056.txt"),
        ("bundle_no_log_entry.txt.sigstore", "bundle_no_log_entry.txt"),
    ]:
        case = Case(
            json.loads((DATA / "sigstore-python" / bundle).read_text()),
            hashlib.sha256((DATA / "sigstore-python" / artifact).read_bytes()).digest(),
            "william@yossarian.net",
            "https://github.com/login/oauth",
            STAGING,
        )
        mine, theirs = ours(case), reference(case, tmp_path)
        assert mine.startswith("refused: sigstore: ") and theirs.startswith("refused"), bundle


def _window_end(when: str) -> Callable[[dict[str, Any]], None]:
    def edit(part: dict[str, Any]) -> None:
        part["validFor"] = {"start": "2020-01-01T00:00:00Z", "end": when}

    return edit


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        (
            "fulcio-ca",
            lambda root: [
                _window_end("2021-01-01T00:00:00Z")(ca) for ca in root["certificateAuthorities"]
            ],
        ),
        (
            "rekor-key",
            lambda root: [
                _window_end("2021-01-01T00:00:00Z")(t["publicKey"]) for t in root["tlogs"]
            ],
        ),
        (
            "ct-log-key",
            lambda root: [
                _window_end("2021-01-01T00:00:00Z")(t["publicKey"]) for t in root["ctlogs"]
            ],
        ),
    ],
)
def test_trusted_root_windows_are_enforced_where_the_reference_does_not(
    name: str, edit: Callable[[dict[str, Any]], None], tmp_path: Path
) -> None:
    """sigstore-python ignores these validFor windows; sigstore-go and the conformance suite
    enforce them, and so do we (the contract)."""
    case = _mutated("v0.3", lambda c: c)
    assert case is not None
    edit(case.root)
    assert ours(case).startswith("refused: sigstore: ")
    assert reference(case, tmp_path) == "accepted"


def test_a_v01_bundle_proves_inclusion_by_its_signed_entry_timestamp(tmp_path: Path) -> None:
    """The contract: "a v0.1 bundle by its signed entry timestamp" (as sigstore-go); an
    inclusion proof is verified when present. sigstore-python also demands the proof."""
    case = _mutated("v0.1", m_proof_removed)
    assert case is not None
    assert ours(case) == "accepted"
    assert reference(case, tmp_path).startswith("refused: InvalidBundle")
    # Without the SET, nothing proves inclusion: both refuse.
    del _entry(case)["inclusionPromise"]
    assert ours(case) == "refused: sigstore: a v0.1 bundle must carry a signed entry timestamp"
    assert reference(case, tmp_path).startswith("refused")
