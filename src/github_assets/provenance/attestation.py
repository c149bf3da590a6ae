"""GitHub artifact attestations: the API's answer, its Snappy bundle documents, and the policy.

`GET {api}/repos/{repo}/attestations/sha256:<hex>` lists the attestations of an artifact by its
digest. Each item carries its Sigstore bundle inline (`bundle`) or, in GitHub's answers since
mid-2026, only a `bundle_url`: a storage-host document holding the bundle JSON Snappy-compressed
(block format), fetched without a token. An artifact is attested when at least one bundle
verifies (Sigstore, against the trusted root) and holds the policy: a certificate for the signer
workflow (`https://github.com/<signer_workflow>@<any ref>`) from GitHub Actions' OIDC issuer, an
in-toto statement of the predicate type, and a subject with the asset's name and sha256.

No I/O here: the caller fetches (sources/), this module reads and decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..sources import jsonbody
from . import snappy
from .bundle import ArtifactDigest, Verification, verify_bundle
from .errors import ProvenanceError
from .spec import DEFAULT_PREDICATE_TYPE
from .trustroot import TrustedRoot

ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"
"""GitHub Actions' OIDC issuer; an enterprise with its own issuer adds `/<slug>` to it."""
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
STATEMENT_TYPES = ("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1")
LIST_MAX_BYTES = 16 << 20
"""The API's answer: 30 attestations of ~12 KiB each is 400 KiB; far past it is no answer."""
DOCUMENT_MAX_BYTES = 4 << 20
"""A bundle document, compressed and decompressed alike; real bundles are ~12 KiB."""
_PREFIX = "GitHub attestation: "


class AttestationError(ProvenanceError):
    """The API's answer or a bundle document cannot be read, or no attestation holds (the
    message starts with `GitHub attestation: `)."""


def _fail(message: str, *, hint: str = "", details: str = "") -> AttestationError:
    return AttestationError(_PREFIX + message, hint=hint, details=details)


@dataclass(frozen=True)
class Policy:
    """Who must have attested, and what: from the entry's `provenance` table."""

    signer_workflow: str
    """owner/repo/path of the workflow that signed, e.g. cli/cli/.github/workflows/deployment.yml"""
    predicate_type: str = DEFAULT_PREDICATE_TYPE


@dataclass(frozen=True)
class Item:
    """One attestation as the API lists it: its bundle, or where to fetch it; or why it is
    neither (that attestation's failure: another one may still hold)."""

    bundle: Mapping[str, Any] | None
    bundle_url: str
    problem: str = ""


def list_url(api: str, repo: str, sha256: str) -> str:
    """The API request that lists the attestations of the artifact whose sha256 is given."""
    return f"{api.rstrip('/')}/repos/{repo}/attestations/sha256:{sha256}?per_page=100"


def parse_list(body: bytes) -> list[Item]:
    """The items of the API's answer (`{"attestations": [...]}`); an empty list is no error."""
    if len(body) > LIST_MAX_BYTES:
        raise _fail(f"the API's answer is larger than {LIST_MAX_BYTES} bytes")
    try:
        document = jsonbody.parse(body)
    except ValueError as e:
        raise _fail(f"the API's answer is {e}") from None
    items = document.get("attestations") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise _fail("the API's answer has no 'attestations' list")
    out = []
    for item in items:
        if not isinstance(item, dict):
            out.append(Item(None, "", "the API lists it as no object"))
            continue
        bundle = item.get("bundle")
        url = item.get("bundle_url")
        if isinstance(bundle, dict):
            out.append(Item(bundle, ""))
        elif bundle is None and isinstance(url, str) and url.startswith(("https://", "http://")):
            out.append(Item(None, url))
        else:
            out.append(Item(None, "", "the API lists it with neither a bundle nor a bundle_url"))
    return out


def parse_document(data: bytes) -> Mapping[str, Any]:
    """The bundle a `bundle_url` document holds (Snappy block format, as GitHub serves them)."""
    if len(data) > DOCUMENT_MAX_BYTES:
        raise _fail(f"a bundle document is larger than {DOCUMENT_MAX_BYTES} bytes")
    try:
        raw = snappy.decompress(data, DOCUMENT_MAX_BYTES)
    except snappy.SnappyError as e:
        raise _fail(f"a bundle document is not Snappy-compressed: {e}") from None
    try:
        bundle = jsonbody.parse(raw)
    except ValueError as e:
        raise _fail(f"a bundle document is {e}") from None
    if not isinstance(bundle, dict):
        raise _fail("a bundle document does not hold a bundle object")
    return bundle


def _is_actions_issuer(issuer: str) -> bool:
    if issuer == ACTIONS_ISSUER:
        return True
    slug = issuer.removeprefix(ACTIONS_ISSUER + "/")
    return slug != issuer and slug != "" and "/" not in slug


def check_policy(verification: Verification, asset_name: str, sha256: str, policy: Policy) -> None:
    """Raise AttestationError naming the first part of the policy a verified bundle breaks."""
    want = f"https://github.com/{policy.signer_workflow}@"
    if not verification.san.startswith(want) or len(verification.san) == len(want):
        raise _fail(f"signed by {verification.san}, not by the workflow {policy.signer_workflow}")
    if not _is_actions_issuer(verification.issuer):
        raise _fail(
            f"the certificate's issuer is {verification.issuer}, not GitHub Actions' "
            f"({ACTIONS_ISSUER})"
        )
    statement = verification.statement
    if verification.payload_type != IN_TOTO_PAYLOAD or statement is None:
        raise _fail("the bundle does not sign an in-toto statement")
    if statement.get("_type") not in STATEMENT_TYPES:
        raise _fail(f"the statement's type {statement.get('_type')!r} is not in-toto's")
    predicate = statement.get("predicateType")
    if predicate != policy.predicate_type:
        raise _fail(
            f"the predicate type is {predicate}, not {policy.predicate_type}",
            hint="set 'predicate_type' in 'provenance' when the release attests another one",
        )
    subjects = statement.get("subject")
    for subject in subjects if isinstance(subjects, list) else []:
        if not isinstance(subject, dict):
            continue
        digest = subject.get("digest")
        if (
            subject.get("name") == asset_name
            and isinstance(digest, dict)
            and str(digest.get("sha256", "")).lower() == sha256
        ):
            return
    names = (
        [s.get("name") for s in subjects if isinstance(s, dict)]
        if isinstance(subjects, list)
        else []
    )
    raise _fail(
        f"no subject of the statement is {asset_name} with sha256:{sha256}",
        details="subjects: " + ", ".join(map(repr, names)),
    )


def verify(
    bundles: Sequence[Callable[[], Mapping[str, Any]]],
    asset_name: str,
    sha256: str,
    policy: Policy,
    trusted_root: TrustedRoot,
) -> tuple[int, Mapping[str, Any], Verification]:
    """The first attestation that verifies and holds the policy: its index, bundle and result.

    bundles: one loader per attestation (an inline bundle, or a fetch of its bundle_url), called
    in order until one holds, so a later document is fetched only when an earlier one failed.
    Raises AttestationError with every attestation's reason when none holds.
    """
    if not bundles:
        raise _fail(
            f"GitHub lists no attestation for {asset_name} (sha256:{sha256})",
            hint="check that the release attests its assets, or drop 'github_attestation'",
        )
    reasons = []
    artifact = ArtifactDigest.from_hex(sha256)
    for index, load in enumerate(bundles):
        try:
            bundle = load()
            result = verify_bundle(bundle, artifact, None, trusted_root)
            check_policy(result, asset_name, sha256, policy)
        except ProvenanceError as e:
            reasons.append(e.message.removeprefix(_PREFIX))
            continue
        return index, bundle, result
    first = reasons[0]
    more = f" (and {len(reasons) - 1} more that fail)" if len(reasons) > 1 else ""
    raise _fail(
        f"no attestation of {asset_name} verifies: {first}{more}",
        details="\n".join(f"attestation {i + 1}: {r}" for i, r in enumerate(reasons)),
    )
