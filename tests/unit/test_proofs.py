"""An entry's provenance checked for one asset: each kind, over the asset or its checksum file,
from the release or from what a lock carried. Signatures by py-minisign; Sigstore bundles and
attestations are real (sigstore-conformance, cli/cli)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cramjam
import minisign as reference
import pytest

from github_assets.errors import BuildpackError
from github_assets.provenance import TrustedRoot
from github_assets.provenance.proofs import Carried, Check, covering
from github_assets.provenance.spec import Provenance

DATA = Path(__file__).parents[1] / "data" / "provenance"
A_TXT = (DATA / "conformance" / "a.txt").read_bytes()
CONFORMANCE_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ACTIONS = "https://token.actions.githubusercontent.com"
ARTIFACT = (DATA / "gh-cli" / "custom-issuer-artifact").read_bytes()
ATTESTED = (DATA / "gh-cli" / "custom-issuer.sigstore.json").read_bytes()
WORKFLOW = "too-legit/attest/.github/workflows/integration.yml"


class Release:
    """The release's other files, the attestations API and bundle documents, in memory."""

    def __init__(self, files: dict[str, bytes], listed: bytes = b'{"attestations": []}') -> None:
        self.files = files
        self.listed = listed
        self.documents: dict[str, bytes] = {}
        self.asked: list[str] = []

    def sibling(self, name: str) -> bytes:
        self.asked.append(name)
        if name not in self.files:
            raise BuildpackError(f"release has no asset {name}")
        return self.files[name]

    def attestations(self, sha256: str) -> bytes:
        self.asked.append(f"attestations {sha256}")
        return self.listed

    def document(self, url: str) -> bytes:
        self.asked.append(url)
        return self.documents[url]


def _check(
    provenance: Provenance,
    release: Release,
    asset: str = "tool.tar.gz",
    checksum_files: tuple[str, ...] = ("checksums.txt",),
    carried: Carried | None = None,
) -> Check:
    return Check(
        provenance,
        asset_name=asset,
        render=lambda t: t.replace("{asset}", asset),
        checksum_files=checksum_files,
        fetch=release,
        carried=carried,
        trusted_root=TrustedRoot.public_good,
    )


def _run(check: Check, data: bytes) -> tuple[tuple[str, str], ...]:
    stream = check.prepare()
    if stream is not None:
        stream.update(data)
    return check.decide(hashlib.sha256(data).hexdigest()).authorities


def test_which_file_a_signature_covers() -> None:
    assert covering("checksums.txt.minisig", ["checksums.txt"]) == "checksums.txt"
    assert covering("tool.tar.gz.minisig", ["checksums.txt"]) == ""
    assert covering("tool.sha256.sig", ["tool", "tool.sha256"]) == "tool.sha256"
    assert covering("checksums.txt", ["checksums.txt"]) == ""


PAIR = reference.KeyPair.generate()
KEY = PAIR.public_key.to_base64().decode()
KEY_ID = f"{int.from_bytes(PAIR.public_key._keynum_pk.key_id, 'little'):X}"  # as minisign prints it


def _minisig(data: bytes, prehash: bool = True) -> bytes:
    return bytes(PAIR.secret_key.sign(data, prehash=prehash, trusted_comment="t"))


@pytest.mark.parametrize("prehash", [True, False], ids=["ED", "Ed legacy"])
def test_minisign_over_the_asset_streams(prehash: bool) -> None:
    asset = b"\x7fELF" + bytes(5000)
    release = Release({"tool.tar.gz.minisig": _minisig(asset, prehash)})
    provenance = Provenance(minisign_key=KEY, minisign_signature="{asset}.minisig")
    assert _run(_check(provenance, release), asset) == (("minisign", f"minisign ({KEY_ID})"),)
    with pytest.raises(BuildpackError, match=r"^minisign: the signature does not verify$"):
        _run(_check(provenance, release), asset + b"x")


def test_minisign_over_the_checksum_file_covers_the_asset_through_it() -> None:
    asset = b"asset bytes"
    listing = f"{hashlib.sha256(asset).hexdigest()}  tool.tar.gz\n{'0' * 64}  other\n".encode()
    release = Release({"checksums.txt": listing, "checksums.txt.minisig": _minisig(listing)})
    provenance = Provenance(minisign_key=KEY, minisign_signature="checksums.txt.minisig")
    check = _check(provenance, release)
    assert check.prepare() is None  # nothing to feed: the asset is covered by its line
    outcome = check.decide(hashlib.sha256(asset).hexdigest())
    assert outcome.authorities == (("minisign", f"minisign ({KEY_ID})"),)
    assert set(outcome.carried.files) == {"checksums.txt", "checksums.txt.minisig"}
    # Other bytes than the signed file lists: refused.
    check = _check(provenance, release)
    check.prepare()
    with pytest.raises(BuildpackError, match=r"the signed checksum file checksums.txt lists"):
        check.decide("1" * 64)
    # An edited checksum file no longer verifies.
    release.files["checksums.txt"] = listing.replace(b"other", b"other2")
    check = _check(provenance, release)
    check.prepare()
    with pytest.raises(BuildpackError, match=r"^minisign: the signature does not verify$"):
        check.decide(hashlib.sha256(asset).hexdigest())
    # A signed file without a line for the asset.
    other = b"0" * 64 + b"  other\n"
    release.files.update({"checksums.txt": other, "checksums.txt.minisig": _minisig(other)})
    check = _check(provenance, release)
    check.prepare()
    with pytest.raises(BuildpackError, match=r"checksums.txt has no line for tool.tar.gz"):
        check.decide(hashlib.sha256(asset).hexdigest())


def test_a_signed_sha512_checksum_file_covers_the_asset_through_its_sha512() -> None:
    asset = b"asset bytes"
    listing = f"{hashlib.sha512(asset).hexdigest()}  tool.tar.gz\n".encode()
    release = Release({"checksums.txt": listing, "checksums.txt.minisig": _minisig(listing)})
    provenance = Provenance(minisign_key=KEY, minisign_signature="checksums.txt.minisig")
    assert _run(_check(provenance, release), asset) == (("minisign", f"minisign ({KEY_ID})"),)
    # Other bytes than the sha512 line says (seen as they arrived): refused, naming both.
    with pytest.raises(BuildpackError, match=r"lists sha512:\w+ for tool.tar.gz, not the downloa"):
        _run(_check(provenance, release), b"other bytes")


def test_a_missing_or_malformed_signature_fails_before_the_download() -> None:
    provenance = Provenance(minisign_key=KEY, minisign_signature="{asset}.minisig")
    with pytest.raises(BuildpackError, match=r"release has no asset tool.tar.gz.minisig"):
        _check(provenance, Release({})).prepare()
    with pytest.raises(BuildpackError, match=r"^minisign: tool.tar.gz.minisig: the signature file"):
        _check(provenance, Release({"tool.tar.gz.minisig": b"<html>"})).prepare()


def test_a_real_sigstore_bundle_over_the_asset() -> None:
    bundle = (DATA / "conformance" / "happy-path-v0.3" / "bundle.sigstore.json").read_bytes()
    release = Release({"a.txt.sigstore.json": bundle})
    provenance = Provenance(
        sigstore_bundle="{asset}.sigstore.json", identity=CONFORMANCE_IDENTITY, issuer=ACTIONS
    )
    authorities = _run(_check(provenance, release, asset="a.txt"), A_TXT)
    assert authorities == (("sigstore", f"sigstore ({CONFORMANCE_IDENTITY})"),)
    with pytest.raises(BuildpackError, match=r"^sigstore: "):
        _run(_check(provenance, release, asset="a.txt"), A_TXT + b"\n")
    wrong = provenance._replace(issuer="https://accounts.google.com")
    with pytest.raises(BuildpackError, match=r"^sigstore: .*issuer"):
        _run(_check(wrong, release, asset="a.txt"), A_TXT)
    release.files["a.txt.sigstore.json"] = b"{"
    with pytest.raises(BuildpackError, match=r"^sigstore: a.txt.sigstore.json is not JSON"):
        _check(provenance, release, asset="a.txt").prepare()


def test_a_bundle_over_a_file_that_lists_no_asset_is_refused() -> None:
    # a.txt is signed, but it is no checksum file: the bundle verifies, the listing does not.
    bundle = (DATA / "conformance" / "happy-path-v0.3" / "bundle.sigstore.json").read_bytes()
    release = Release({"a.txt": A_TXT, "a.txt.sigstore.json": bundle})
    provenance = Provenance(
        sigstore_bundle="a.txt.sigstore.json", identity=CONFORMANCE_IDENTITY, issuer=ACTIONS
    )
    check = _check(provenance, release, checksum_files=("a.txt",))
    check.prepare()
    with pytest.raises(
        BuildpackError, match=r"^sigstore: the signed checksum file a.txt has no line"
    ):
        check.decide("1" * 64)


ATTESTATION = Provenance(github_attestation=True, signer_workflow=WORKFLOW)


def test_attestations_inline_and_by_bundle_url() -> None:
    sha = hashlib.sha256(ARTIFACT).hexdigest()
    inline = json.dumps({"attestations": [{"bundle": json.loads(ATTESTED)}]}).encode()
    check = _check(ATTESTATION, Release({}, inline), asset="artifact")
    assert _run(check, ARTIFACT) == (("attestation", f"GitHub attestation ({WORKFLOW})"),)
    by_url = json.dumps(
        {"attestations": [{"bundle": None, "bundle_url": "https://storage.example/b"}]}
    ).encode()
    release = Release({}, by_url)
    release.documents["https://storage.example/b"] = bytes(cramjam.snappy.compress_raw(ATTESTED))
    check = _check(ATTESTATION, release, asset="artifact")
    check.prepare()
    outcome = check.decide(sha)
    assert release.asked == [f"attestations {sha}", "https://storage.example/b"]
    assert json.loads(outcome.carried.attestation) == json.loads(ATTESTED)


def test_what_a_lock_carried_verifies_again_without_a_request() -> None:
    sha = hashlib.sha256(ARTIFACT).hexdigest()
    listing = f"{sha}  artifact\n".encode()
    provenance = ATTESTATION._replace(minisign_key=KEY, minisign_signature="checksums.txt.minisig")
    first = _check(
        provenance,
        Release(
            {"checksums.txt": listing, "checksums.txt.minisig": _minisig(listing)},
            json.dumps({"attestations": [{"bundle": json.loads(ATTESTED)}]}).encode(),
        ),
        asset="artifact",
    )
    first.prepare()
    carried = first.decide(sha).carried
    table = json.loads(json.dumps(carried.to_table()))  # through a file, as the lock keeps it
    nothing = Release({})
    again = _check(provenance, nothing, asset="artifact", carried=Carried.from_table(table))
    assert again.prepare() is None
    assert [k for k, _ in again.decide(sha).authorities] == ["attestation", "minisign"]
    assert nothing.asked == []
    tampered = Carried(
        dict(carried.files, **{"checksums.txt": (listing + b"x  y\n").decode()}),
        carried.attestation,
    )
    again = _check(provenance, nothing, asset="artifact", carried=tampered)
    again.prepare()
    with pytest.raises(BuildpackError, match=r"^minisign: the signature does not verify"):
        again.decide(sha)


def test_a_lock_that_lacks_what_the_entry_asks_for() -> None:
    provenance = Provenance(minisign_key=KEY, minisign_signature="{asset}.minisig")
    with pytest.raises(
        BuildpackError, match=r"the lock records no minisign signature tool.tar.gz.minisig"
    ):
        _check(provenance, Release({}), carried=Carried()).prepare()
    check = _check(ATTESTATION, Release({}), carried=Carried())
    check.prepare()
    with pytest.raises(BuildpackError, match=r"GitHub attestation: the lock records none"):
        check.decide("0" * 64)


@pytest.mark.parametrize(
    "table", ["x", {"files": {"a": 1}}, {"files": [], "attestation": ""}, {"attestation": 2}]
)
def test_a_carried_table_that_is_not_one(table: object) -> None:
    with pytest.raises(ValueError):
        Carried.from_table(table)


def test_a_file_that_is_no_text_verifies_but_cannot_be_recorded_in_a_lock() -> None:
    asset = b"asset"
    signed = _minisig(asset).replace(b"untrusted comment: ", b"untrusted comment: \xff", 1)
    provenance = Provenance(minisign_key=KEY, minisign_signature="{asset}.minisig")
    check = _check(provenance, Release({"tool.tar.gz.minisig": signed}))
    stream = check.prepare()
    assert stream is not None
    stream.update(asset)
    outcome = check.decide(hashlib.sha256(asset).hexdigest())
    assert outcome.authorities == (("minisign", f"minisign ({KEY_ID})"),)
    with pytest.raises(BuildpackError, match=r"^tool.tar.gz.minisig is not UTF-8 text"):
        outcome.carried  # noqa: B018
