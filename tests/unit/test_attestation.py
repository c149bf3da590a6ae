"""GitHub artifact attestations: the API's answer, bundle documents, and the policy.

The statements and identities are those of real attestations (cli/cli's test data, public-good
Sigstore); the bundle documents are compressed by cramjam as GitHub's storage serves them.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cramjam
import pytest

from github_assets.provenance import TrustedRoot, Verification, attestation
from github_assets.provenance.attestation import AttestationError, Policy

DATA = Path(__file__).parents[1] / "data" / "provenance" / "gh-cli"
REUSABLE = DATA / "reusable-workflow-attestation.sigstore.json"
CUSTOM = DATA / "custom-issuer.sigstore.json"
CUSTOM_SHA256 = "afa27b44d43b02a9fea41d13cedc2e4016cfcf87c5dbf990e593669aa8ce286d"
CUSTOM_WORKFLOW = "too-legit/attest/.github/workflows/integration.yml"
CUSTOM_SAN = f"https://github.com/{CUSTOM_WORKFLOW}@refs/heads/main"


def _statement(path: Path) -> dict[str, Any]:
    bundle = json.loads(path.read_bytes())
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    assert isinstance(statement, dict)
    return statement


def _verified(
    san: str = CUSTOM_SAN,
    issuer: str = "https://token.actions.githubusercontent.com/hammer-time",
    statement: dict[str, Any] | None = None,
    payload_type: str = "application/vnd.in-toto+json",
) -> Verification:
    return Verification(
        san=san,
        issuer=issuer,
        signing_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
        time_source="signed entry timestamp",
        payload_type=payload_type,
        statement=_statement(CUSTOM) if statement is None else statement,
    )


POLICY = Policy(CUSTOM_WORKFLOW)


def test_a_real_statement_holds_the_policy() -> None:
    attestation.check_policy(_verified(), "artifact", CUSTOM_SHA256, POLICY)
    attestation.check_policy(
        _verified(issuer="https://token.actions.githubusercontent.com"),
        "artifact",
        CUSTOM_SHA256,
        POLICY,
    )
    # Any ref: a tag, a branch, a commit.
    attestation.check_policy(
        _verified(san=f"https://github.com/{CUSTOM_WORKFLOW}@0123abc"),
        "artifact",
        CUSTOM_SHA256,
        POLICY,
    )


def _with(**changes: Any) -> dict[str, Any]:
    statement = _statement(CUSTOM)
    statement.update(changes)
    return statement


@pytest.mark.parametrize(
    ("verification", "name", "sha256", "message"),
    [
        (
            _verified(san=f"https://github.com/{CUSTOM_WORKFLOW}"),
            "artifact",
            CUSTOM_SHA256,
            "not by the workflow too-legit/attest",
        ),
        (
            _verified(san=f"https://github.com/{CUSTOM_WORKFLOW}@"),
            "artifact",
            CUSTOM_SHA256,
            "not by the workflow",
        ),
        (
            _verified(
                san="https://github.com/too-legit/attest/.github/workflows/other.yml@refs/heads/main"
            ),
            "artifact",
            CUSTOM_SHA256,
            "signed by https://github.com/too-legit/attest/.github/workflows/other.yml@refs/heads/main",
        ),
        (
            _verified(san=f"https://github.example.com/{CUSTOM_WORKFLOW}@refs/heads/main"),
            "artifact",
            CUSTOM_SHA256,
            "not by the workflow",
        ),
        (
            _verified(issuer="https://accounts.google.com"),
            "artifact",
            CUSTOM_SHA256,
            "issuer is https://accounts.google.com, not GitHub Actions'",
        ),
        (
            _verified(issuer="https://token.actions.githubusercontent.com/a/b"),
            "artifact",
            CUSTOM_SHA256,
            "issuer is",
        ),
        (
            _verified(issuer="https://token.actions.githubusercontent.com.evil.example"),
            "artifact",
            CUSTOM_SHA256,
            "issuer is",
        ),
        (_verified(payload_type="text/plain"), "artifact", CUSTOM_SHA256, "not sign an in-toto"),
        (
            _verified(statement=_with(predicateType="https://spdx.dev/Document/v2.3")),
            "artifact",
            CUSTOM_SHA256,
            "predicate type is https://spdx.dev/Document/v2.3, not https://slsa.dev/provenance/v1",
        ),
        (
            _verified(statement=_with(_type="https://example.com/Statement")),
            "artifact",
            CUSTOM_SHA256,
            "is not in-toto's",
        ),
        (_verified(), "other-name", CUSTOM_SHA256, "no subject of the statement is other-name"),
        (
            _verified(),
            "artifact",
            "00" * 32,
            f"no subject of the statement is artifact with sha256:{'00' * 32}",
        ),
        (
            _verified(statement=_with(subject=[{"name": "artifact"}, "x"])),
            "artifact",
            CUSTOM_SHA256,
            "no subject",
        ),
    ],
)
def test_each_part_of_the_policy_is_named_when_it_fails(
    verification: Verification, name: str, sha256: str, message: str
) -> None:
    with pytest.raises(AttestationError, match=r"^GitHub attestation: ") as raised:
        attestation.check_policy(verification, name, sha256, POLICY)
    assert message in raised.value.message


def test_the_subject_name_and_digest_must_be_of_the_same_subject() -> None:
    statement = _with(
        subject=[
            {"name": "artifact", "digest": {"sha256": "11" * 32}},
            {"name": "other", "digest": {"sha256": CUSTOM_SHA256}},
        ]
    )
    with pytest.raises(AttestationError, match="no subject"):
        attestation.check_policy(_verified(statement=statement), "artifact", CUSTOM_SHA256, POLICY)


def test_another_predicate_type_when_the_policy_names_it() -> None:
    statement = _with(predicateType="https://spdx.dev/Document/v2.3")
    policy = Policy(CUSTOM_WORKFLOW, "https://spdx.dev/Document/v2.3")
    attestation.check_policy(_verified(statement=statement), "artifact", CUSTOM_SHA256, policy)


def test_the_list_with_inline_bundles_and_bundle_urls() -> None:
    bundle = json.loads(REUSABLE.read_bytes())
    body = json.dumps(
        {
            "attestations": [
                {"bundle": bundle, "repository_id": 1, "bundle_url": "https://x.example/1"},
                {"bundle": None, "repository_id": 1, "bundle_url": "https://x.example/2"},
                {"repository_id": 1, "bundle_url": "https://x.example/3"},
            ]
        }
    ).encode()
    items = attestation.parse_list(body)
    assert items == [
        attestation.Item(bundle, ""),
        attestation.Item(None, "https://x.example/2"),
        attestation.Item(None, "https://x.example/3"),
    ]
    assert attestation.parse_list(b'{"attestations": []}') == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>", "the API's answer is not JSON"),
        (b"[]", "has no 'attestations' list"),
        (b'{"attestations": {}}', "has no 'attestations' list"),
        (b" " * (attestation.LIST_MAX_BYTES + 1), "larger than"),
    ],
)
def test_a_list_that_cannot_be_read(body: bytes, message: str) -> None:
    with pytest.raises(AttestationError, match=message):
        attestation.parse_list(body)


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        (1, "the API lists it as no object"),
        ({"bundle": None}, "the API lists it with neither a bundle nor a bundle_url"),
        ({"bundle_url": "file:///etc/passwd"}, "the API lists it with neither a bundle nor"),
        ({"bundle": "text"}, "the API lists it with neither a bundle nor"),
    ],
)
def test_an_item_that_cannot_be_read_is_that_attestations_failure(
    item: object, problem: str
) -> None:
    """At least one attestation must hold: a malformed one beside it never hides it."""
    body = json.dumps({"attestations": [item, {"bundle_url": "https://x.example/2"}]}).encode()
    [bad, good] = attestation.parse_list(body)
    assert bad.bundle is None and bad.bundle_url == "" and bad.problem.startswith(problem)
    assert good == attestation.Item(None, "https://x.example/2")


def test_a_bundle_document_is_snappy_compressed_json() -> None:
    raw = REUSABLE.read_bytes()
    document = bytes(cramjam.snappy.compress_raw(raw))
    assert attestation.parse_document(document) == json.loads(raw)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (REUSABLE.read_bytes(), "not Snappy-compressed"),  # served uncompressed
        (bytes(cramjam.snappy.compress_raw(b"not json")), "a bundle document is not JSON"),
        (bytes(cramjam.snappy.compress_raw(b"[1]")), "does not hold a bundle object"),
        (
            bytes(cramjam.snappy.compress_raw(bytes(attestation.DOCUMENT_MAX_BYTES + 1))),
            "not Snappy",
        ),
        (bytes(cramjam.snappy.compress_raw(REUSABLE.read_bytes()))[:-3], "not Snappy-compressed"),
    ],
)
def test_a_bundle_document_that_cannot_be_read(document: bytes, message: str) -> None:
    with pytest.raises(AttestationError, match=message):
        attestation.parse_document(document)


ROOT = TrustedRoot.public_good()
REUSABLE_SHA256 = "49a3aa6075e0f49f82843e74b5baa614ad2a588e6675612bf108a0a008c5ac25"
REUSABLE_NAME = "github_provenance_demo-0.0.0-py3-none-any.whl"
REUSABLE_POLICY = Policy("github/artifact-attestations-workflows/.github/workflows/attest.yml")


def _bundle(path: Path) -> dict[str, Any]:
    bundle = json.loads(path.read_bytes())
    assert isinstance(bundle, dict)
    return bundle


def test_real_attestations_verify() -> None:
    index, bundle, result = attestation.verify(
        [lambda: _bundle(CUSTOM)], "artifact", CUSTOM_SHA256, POLICY, ROOT
    )
    assert (index, bundle, result.san) == (0, _bundle(CUSTOM), CUSTOM_SAN)
    index, _, result = attestation.verify(
        [lambda: _bundle(REUSABLE)], REUSABLE_NAME, REUSABLE_SHA256, REUSABLE_POLICY, ROOT
    )
    assert result.issuer == "https://token.actions.githubusercontent.com"


def _tampered_payload() -> dict[str, Any]:
    bundle = _bundle(CUSTOM)
    statement = _statement(CUSTOM)
    statement["subject"][0]["name"] = "artifact"  # the same, re-encoded: the signature breaks
    statement["predicate"] = {}
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return bundle


@pytest.mark.parametrize(
    ("bundles", "name", "sha256", "policy", "message"),
    [
        ([_tampered_payload], "artifact", CUSTOM_SHA256, POLICY, "sigstore: "),
        (
            [lambda: _bundle(CUSTOM)],
            "artifact",
            CUSTOM_SHA256,
            Policy("too-legit/attest/.github/workflows/release.yml"),
            "not by the workflow too-legit/attest/.github/workflows/release.yml",
        ),
        (
            [lambda: _bundle(CUSTOM)],
            "artifact",
            CUSTOM_SHA256,
            Policy(CUSTOM_WORKFLOW, "https://spdx.dev/Document/v2.3"),
            "the predicate type is https://slsa.dev/provenance/v1, not https://spdx.dev/Document",
        ),
        ([lambda: _bundle(CUSTOM)], "artifact.tar.gz", CUSTOM_SHA256, POLICY, "no subject"),
        # Another artifact's digest: the statement does not cover it (the verifier says so).
        ([lambda: _bundle(CUSTOM)], "artifact", REUSABLE_SHA256, POLICY, "sigstore: "),
        ([lambda: _bundle(REUSABLE)], "artifact", CUSTOM_SHA256, POLICY, "sigstore: "),
    ],
)
def test_real_attestations_that_do_not_hold(
    bundles: list[Any], name: str, sha256: str, policy: Policy, message: str
) -> None:
    with pytest.raises(AttestationError) as raised:
        attestation.verify(bundles, name, sha256, policy, ROOT)
    first = raised.value.first_line()
    assert first.startswith(f"GitHub attestation: no attestation of {name} verifies: ")
    assert message in first


def test_one_attestation_that_holds_is_enough_and_later_ones_are_not_fetched() -> None:
    fetched: list[str] = []

    def load(label: str, path: Path) -> Any:
        def run() -> dict[str, Any]:
            fetched.append(label)
            return _bundle(path)

        return run

    bundles = [load("other", REUSABLE), load("ours", CUSTOM), load("never", CUSTOM)]
    index, _, _ = attestation.verify(bundles, "artifact", CUSTOM_SHA256, POLICY, ROOT)
    assert index == 1 and fetched == ["other", "ours"]


def test_every_reason_is_kept_when_none_holds() -> None:
    bundles = [lambda: _bundle(REUSABLE), _tampered_payload]
    with pytest.raises(AttestationError, match=r"\(and 1 more that fail\)") as raised:
        attestation.verify(bundles, "artifact", CUSTOM_SHA256, POLICY, ROOT)
    assert raised.value.details.count("attestation ") == 2


def test_no_attestation_at_all() -> None:
    with pytest.raises(AttestationError, match="GitHub lists no attestation for artifact"):
        attestation.verify([], "artifact", CUSTOM_SHA256, POLICY, ROOT)


def test_the_list_url() -> None:
    assert (
        attestation.list_url("https://api.github.com/", "cli/cli", "ab" * 32)
        == f"https://api.github.com/repos/cli/cli/attestations/sha256:{'ab' * 32}?per_page=100"
    )
