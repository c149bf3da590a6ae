"""Provenance at the level a user sees it: bin/detect and bin/build (and `github-assets lock`)
as subprocesses against the loopback stand-in, for each kind, valid and tampered.

minisign signatures are made here with py-minisign; the Sigstore bundle (sigstore-conformance)
and the GitHub attestation (cli/cli's test data) are real ones of public-good Sigstore.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import minisign as reference
import pytest
from tools.github_standin import API, STORAGE, WEB, StandIn, snappy_compress

from support import ROOT, CnbDirs, Phase, elf_bytes, write_plan

DATA = ROOT / "tests" / "data" / "provenance"
A_TXT = (DATA / "conformance" / "a.txt").read_bytes()
A_BUNDLE = (DATA / "conformance" / "happy-path-v0.3" / "bundle.sigstore.json").read_bytes()
A_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ACTIONS = "https://token.actions.githubusercontent.com"
ARTIFACT = (DATA / "gh-cli" / "custom-issuer-artifact").read_bytes()
ATTESTED = (DATA / "gh-cli" / "custom-issuer.sigstore.json").read_bytes()
WORKFLOW = "too-legit/attest/.github/workflows/integration.yml"
TOOL = elf_bytes(size=30_000)
PAIR = reference.KeyPair.generate()
KEY = PAIR.public_key.to_base64().decode()
KEY_ID = f"{int.from_bytes(PAIR.public_key._keynum_pk.key_id, 'little'):X}"  # as minisign prints it
ENTRY = "project.toml: [[metadata.githubassets]] #1"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def minisig(data: bytes, *, prehash: bool = True, pair: reference.KeyPair = PAIR) -> bytes:
    return bytes(pair.secret_key.sign(data, prehash=prehash, trusted_comment="timestamp:1"))


def build(s: StandIn, cnb: CnbDirs, text: str, **env: str) -> Phase:
    cnb.project(text)
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, "BP_GITHUB_ASSETS_BACKOFF": "0.01", **env})


def command(s: StandIn, cnb: CnbDirs, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_API_URL": s.api_url, "PYTHONPATH": str(ROOT / "src"), **extra}
    return subprocess.run(
        [sys.executable, "-m", "github_assets", *args],
        cwd=cnb.app, env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def one_error(r: Phase, *parts: str) -> str:
    """The build failed with exactly one error line holding every part; nothing installed."""
    errors = [line for line in r.err.splitlines() if line.startswith("error: ")]
    assert r.rc != 0 and len(errors) == 1, r.all
    assert "Traceback" not in r.all
    for part in parts:
        assert part in errors[0], errors[0]
    return errors[0]


def verified_line(r: Phase) -> str:
    lines = [line.strip() for line in r.out.splitlines() if line.strip().startswith("Verified")]
    assert len(lines) == 1, r.all
    return lines[0]


# -- minisign -------------------------------------------------------------------------------

BUF = f"""
[[metadata.githubassets]]
repo = "bufbuild/buf"
asset = "buf-Linux-x86_64"
tag = "v1.50.0"
checksums = "sha256.txt"
provenance = {{ minisign_key = "{KEY}", minisign_signature = "sha256.txt.minisig" }}
"""


def publish_buf(s: StandIn, listing: bytes | None = None, signed: bytes | None = None) -> bytes:
    listing = listing or f"{sha(TOOL)}  buf-Linux-x86_64\n{'1' * 64}  buf-Darwin-arm64\n".encode()
    s.add_release(
        "bufbuild/buf",
        "v1.50.0",
        {
            "buf-Linux-x86_64": TOOL,
            "sha256.txt": listing,
            "sha256.txt.minisig": minisig(signed if signed is not None else listing),
        },
    )
    return listing


def test_minisign_over_the_checksum_file(standin: StandIn, cnb: CnbDirs) -> None:
    publish_buf(standin)
    r = build(standin, cnb, BUF)
    assert r.rc == 0, r.all
    assert verified_line(r) == (
        f"Verified sha256:{sha(TOOL)} (sha256.txt, minisign ({KEY_ID}), 29.3 KiB)"
    )
    assert (cnb.layers / "bufbuild_buf" / "bin" / "buf-Linux-x86_64").read_bytes() == TOOL


def test_minisign_over_a_sha512_checksum_file(standin: StandIn, cnb: CnbDirs) -> None:
    """The signed file vouches for the asset through its line, whatever its algorithm."""
    listing = f"{hashlib.sha512(TOOL).hexdigest()}  buf-Linux-x86_64\n".encode()
    standin.add_release(
        "bufbuild/buf",
        "v1.50.0",
        {"buf-Linux-x86_64": TOOL, "SHA512SUMS": listing, "SHA512SUMS.minisig": minisig(listing)},
    )
    text = BUF.replace("sha256.txt", "SHA512SUMS")
    r = build(standin, cnb, text)
    assert r.rc == 0, r.all
    assert verified_line(r) == (
        f"Verified sha256:{sha(TOOL)} (SHA512SUMS, minisign ({KEY_ID}), 29.3 KiB)"
    )


def test_a_checksum_file_edited_after_signing_is_refused(standin: StandIn, cnb: CnbDirs) -> None:
    signed = f"{sha(TOOL)}  buf-Linux-x86_64\n".encode()
    publish_buf(standin, listing=signed + f"{'2' * 64}  extra\n".encode(), signed=signed)
    r = build(standin, cnb, BUF)
    one_error(r, f"error: {ENTRY} (repo bufbuild/buf): minisign: the signature does not verify")
    assert not (cnb.layers / "bufbuild_buf").exists()


def test_a_signature_by_another_key_names_both_key_ids(standin: StandIn, cnb: CnbDirs) -> None:
    other = reference.KeyPair.generate()
    listing = f"{sha(TOOL)}  buf-Linux-x86_64\n".encode()
    standin.add_release(
        "bufbuild/buf",
        "v1.50.0",
        {
            "buf-Linux-x86_64": TOOL,
            "sha256.txt": listing,
            "sha256.txt.minisig": minisig(listing, pair=other),
        },
    )
    other_id = f"{int.from_bytes(other.public_key._keynum_pk.key_id, 'little'):X}"
    one_error(
        build(standin, cnb, BUF),
        f"minisign: signed by key id {other_id}, not by the configured {KEY_ID}",
    )


@pytest.mark.parametrize("prehash", [True, False], ids=["ED", "Ed legacy"])
def test_minisign_over_the_asset_as_it_streams(
    standin: StandIn, cnb: CnbDirs, prehash: bool
) -> None:
    standin.add_release(
        "acme/tool", "v1", {"tool": TOOL, "tool.minisig": minisig(TOOL, prehash=prehash)}
    )
    text = f"""
[[metadata.githubassets]]
repo = "acme/tool"
asset = "tool"
tag = "v1"
provenance = {{ minisign_key = "{KEY}", minisign_signature = "{{asset}}.minisig" }}
"""
    r = build(standin, cnb, text)
    assert r.rc == 0, r.all
    assert f"(GitHub digest, minisign ({KEY_ID}), " in verified_line(r)
    tampered = TOOL[:-1] + b"\x01"
    standin.add_release("acme/tool", "v2", {"tool": tampered, "tool.minisig": minisig(TOOL)})
    one_error(
        build(standin, cnb, text.replace('"v1"', '"v2"')), "minisign: the signature does not verify"
    )


def test_a_missing_signature_fails_before_the_asset_is_fetched(
    standin: StandIn, cnb: CnbDirs
) -> None:
    listing = f"{sha(TOOL)}  buf-Linux-x86_64\n".encode()
    standin.add_release(
        "bufbuild/buf", "v1.50.0", {"buf-Linux-x86_64": TOOL, "sha256.txt": listing}
    )
    r = build(standin, cnb, BUF)
    one_error(r, "'provenance' names sha256.txt.minisig, which is not an asset of release v1.50.0")
    paths = [q.path for q in standin.storage_requests() + standin.web_requests()]
    assert not any(p.endswith("/buf-Linux-x86_64") for p in paths), paths


# -- Sigstore -------------------------------------------------------------------------------

SIGSTORE = f"""
[[metadata.githubassets]]
repo = "acme/notes"
asset = "a.txt"
tag = "v1"
provenance = {{ sigstore_bundle = "{{asset}}.sigstore.json", identity = "{A_IDENTITY}", \
issuer = "{ACTIONS}" }}
"""


def test_a_real_sigstore_bundle_over_the_asset(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("acme/notes", "v1", {"a.txt": A_TXT, "a.txt.sigstore.json": A_BUNDLE})
    r = build(standin, cnb, SIGSTORE)
    assert r.rc == 0, r.all
    assert f"(GitHub digest, sigstore ({A_IDENTITY}), " in verified_line(r)


def test_a_tampered_asset_fails_its_sigstore_bundle(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release(
        "acme/notes", "v1", {"a.txt": A_TXT + b"\n", "a.txt.sigstore.json": A_BUNDLE}
    )
    one_error(
        build(standin, cnb, SIGSTORE),
        f"error: {ENTRY} (repo acme/notes): sigstore: log entry body is not this signature's",
    )


NESTED = b"[" * 100_000 + b"]" * 100_000
"""JSON nested past Python's recursion limit: a hostile bundle, list or document."""


def test_a_bundle_nested_past_any_limit_is_one_line(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("acme/notes", "v1", {"a.txt": A_TXT, "a.txt.sigstore.json": NESTED})
    one_error(
        build(standin, cnb, SIGSTORE),
        f"error: {ENTRY} (repo acme/notes): sigstore: a.txt.sigstore.json is JSON nested too "
        "deeply to read",
    )


def test_another_identity_is_refused(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("acme/notes", "v1", {"a.txt": A_TXT, "a.txt.sigstore.json": A_BUNDLE})
    text = SIGSTORE.replace(A_IDENTITY, "^https://github.com/acme/.*$")
    one_error(
        build(standin, cnb, text),
        f"sigstore: certificate's identity '{A_IDENTITY}' does not match "
        "'^https://github.com/acme/.*$'",
    )


def test_a_trusted_root_binding_replaces_the_shipped_one(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("acme/notes", "v1", {"a.txt": A_TXT, "a.txt.sigstore.json": A_BUNDLE})
    roots = ROOT / "src" / "github_assets" / "provenance"
    binding = cnb.platform / "bindings" / "sigstore"
    binding.mkdir(parents=True)
    (binding / "type").write_text("sigstore-trusted-root\n")
    # A production bundle against the staging root: its log is not trusted there.
    (binding / "trusted_root.json").write_bytes((roots / "trusted_root.staging.json").read_bytes())
    one_error(
        build(standin, cnb, SIGSTORE),
        "sigstore: log entry is from a transparency log not in the trusted root",
    )
    (binding / "trusted_root.json").write_text("{}")
    one_error(
        build(standin, cnb, SIGSTORE),
        "the sigstore-trusted-root binding's trusted_root.json is not a trusted root",
    )
    # The older CNB layout (metadata/kind, secret/<key>), with the production root: verifies.
    for name in ("type", "trusted_root.json"):
        (binding / name).unlink()
    (binding / "metadata").mkdir()
    (binding / "metadata" / "kind").write_text("sigstore-trusted-root")
    (binding / "secret").mkdir()
    (binding / "secret" / "trusted_root.json").write_bytes(
        (roots / "trusted_root.json").read_bytes()
    )
    assert build(standin, cnb, SIGSTORE).rc == 0


# -- GitHub attestations --------------------------------------------------------------------

ATTESTATION = f"""
[[metadata.githubassets]]
repo = "too-legit/attest"
asset = "artifact"
tag = "v1"
provenance = {{ github_attestation = true, signer_workflow = "{WORKFLOW}" }}
"""


@pytest.mark.parametrize("inline", [True, False], ids=["inline bundle", "bundle_url"])
def test_a_real_github_attestation(standin: StandIn, cnb: CnbDirs, inline: bool) -> None:
    standin.add_release("too-legit/attest", "v1", {"artifact": ARTIFACT})
    standin.add_attestation("too-legit/attest", sha(ARTIFACT), ATTESTED, inline=inline)
    r = build(standin, cnb, ATTESTATION, GITHUB_TOKEN="ghp_attestTOKEN0123456789")
    assert r.rc == 0, r.all
    assert f"(GitHub digest, GitHub attestation ({WORKFLOW}), " in verified_line(r)
    listed = [q for q in standin.api_requests() if "/attestations/" in q.path]
    assert len(listed) == 1 and listed[0].headers.get("authorization")
    documents = [q for q in standin.storage_requests() if q.path.startswith("/attestations/")]
    assert len(documents) == (0 if inline else 1)
    assert all("authorization" not in q.headers for q in documents)


def test_an_attestation_of_another_workflow_is_refused(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("too-legit/attest", "v1", {"artifact": ARTIFACT})
    standin.add_attestation("too-legit/attest", sha(ARTIFACT), ATTESTED)
    text = ATTESTATION.replace("integration.yml", "release.yml")
    one_error(
        build(standin, cnb, text),
        "GitHub attestation: no attestation of artifact verifies: signed by "
        f"https://github.com/{WORKFLOW}@refs/heads/main, not by the workflow",
    )


def test_no_attestation_at_all(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("too-legit/attest", "v1", {"artifact": ARTIFACT})
    one_error(
        build(standin, cnb, ATTESTATION),
        "GitHub attestation: GitHub lists no attestation for artifact",
    )


# -- the knob, the lock, detect -------------------------------------------------------------


def test_require_provenance(standin: StandIn, cnb: CnbDirs) -> None:
    publish_buf(standin)
    plain = BUF.split("provenance =")[0]
    r = build(standin, cnb, plain, BP_GITHUB_ASSETS_REQUIRE_PROVENANCE="true")
    one_error(
        r,
        f"error: {ENTRY} (repo bufbuild/buf): BP_GITHUB_ASSETS_REQUIRE_PROVENANCE is set and "
        "the entry has no 'provenance'",
    )
    assert not standin.api_requests()
    assert build(standin, cnb, BUF, BP_GITHUB_ASSETS_REQUIRE_PROVENANCE="true").rc == 0


def test_require_provenance_holds_for_the_install_command(
    standin: StandIn, cnb: CnbDirs, tmp_path: Path
) -> None:
    """`github-assets install` verifies exactly as the build does, the knob included."""
    publish_buf(standin)
    cnb.project(BUF.split("provenance =")[0])
    dest = tmp_path / "dest"
    r = command(
        standin, cnb, "install", "--target", "linux/amd64", "--dest", str(dest),
        BP_GITHUB_ASSETS_REQUIRE_PROVENANCE="true",
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.startswith(
        f"error: {ENTRY} (repo bufbuild/buf): BP_GITHUB_ASSETS_REQUIRE_PROVENANCE is set and "
        "the entry has no 'provenance'"
    ), r.stderr
    assert not dest.exists() and not standin.api_requests()
    cnb.project(BUF)
    r = command(
        standin, cnb, "install", "--target", "linux/amd64", "--dest", str(dest),
        BP_GITHUB_ASSETS_REQUIRE_PROVENANCE="true",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert (dest / "bin" / "buf-Linux-x86_64").read_bytes() == TOOL


def test_a_locked_build_verifies_provenance_with_zero_api_calls(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish_buf(standin)
    standin.add_release("too-legit/attest", "v1", {"artifact": ARTIFACT})
    standin.add_attestation("too-legit/attest", sha(ARTIFACT), ATTESTED, inline=False)
    cnb.project(BUF + ATTESTATION)
    made = command(standin, cnb, "lock", "--target", "linux/amd64")
    assert made.returncode == 0, made.stderr
    lock = (cnb.app / "github-assets.lock").read_text()
    assert "sha256.txt.minisig" in lock and "attestation = " in lock
    before = len(standin.requests)
    standin.down = {API}
    r = build(standin, cnb, BUF + ATTESTATION, GITHUB_SERVER_URL=standin.web_url)
    assert r.rc == 0, r.all
    assert f"minisign ({KEY_ID})" in r.out and f"GitHub attestation ({WORKFLOW})" in r.out
    since = standin.requests[before:]
    assert not [q for q in since if q.host == API]
    # The assets and the checksum file (read for its lines, as in every build) were fetched;
    # the signature and the attestation came from the lock.
    assert sorted(q.path.rsplit("/", 1)[-1].split("?")[0] for q in since if q.host == WEB) == [
        "artifact",
        "buf-Linux-x86_64",
        "sha256.txt",
    ]


def test_a_lock_whose_provenance_was_edited_is_refused(standin: StandIn, cnb: CnbDirs) -> None:
    publish_buf(standin)
    cnb.project(BUF)
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    path = cnb.app / "github-assets.lock"
    path.write_text(path.read_text().replace("buf-Darwin-arm64", "buf-Darwin-arm65"))
    one_error(build(standin, cnb, BUF), "minisign: the signature does not verify")


def test_a_provenance_mistake_fails_detect_naming_the_key(cnb: CnbDirs) -> None:
    cnb.project(BUF.replace(KEY, "RWQnotakey"))
    r = cnb.detect()
    assert r.rc == 1, r.all
    assert r.err.strip() == (
        f"error: {ENTRY} (repo bufbuild/buf): 'provenance.minisign_key' is not a minisign public "
        "key (the minisign public key is not base64); give the second line of the release's "
        "minisign.pub (it starts RW)"
    )
    assert not cnb.plan_path.exists()


def test_an_offline_package_carries_what_verified_provenance(
    standin: StandIn, cnb: CnbDirs, tmp_path: Path
) -> None:
    standin.add_release("too-legit/attest", "v1", {"artifact": ARTIFACT})
    standin.add_attestation("too-legit/attest", sha(ARTIFACT), ATTESTED, inline=False)
    cnb.project(ATTESTATION)
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    lock = str(cnb.app / "github-assets.lock")
    p = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), str(tmp_path / "dist"),
         "--lock", lock],
        env={**os.environ, "GITHUB_API_URL": standin.api_url}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    [tgz] = (tmp_path / "dist").glob("github-assets-*-offline.tgz")
    with tarfile.open(tgz) as tf:
        assert f"dependencies/{sha(ARTIFACT)}/provenance.json" in tf.getnames()
        tf.extractall(tmp_path / "bp", filter="data")
    # Air-gapped, pinned and without the lock: the attestation comes from the package.
    standin.down = {API, WEB, STORAGE}
    offline = CnbDirs(tmp_path / "run", buildpack_dir=tmp_path / "bp")
    pinned = ATTESTATION.replace('tag = "v1"', f'tag = "v1"\nsha256 = "{sha(ARTIFACT)}"')
    r = build(standin, offline, pinned)
    assert r.rc == 0, r.all
    assert "from the offline package" in r.out
    assert f"(pinned, GitHub attestation ({WORKFLOW}), " in verified_line(r)


def test_a_rebuild_reuses_the_layer_and_a_changed_provenance_reinstalls(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish_buf(standin)
    assert build(standin, cnb, BUF).rc == 0
    before = len(standin.requests)
    again = build(standin, cnb, BUF)
    assert again.rc == 0 and "Reusing" in again.out, again.all
    assert len(standin.requests) == before, "a pinned, reused layer makes no request"
    other = reference.KeyPair.generate().public_key.to_base64().decode()
    changed = build(standin, cnb, BUF.replace(KEY, other))
    assert "Installing: " in changed.out, changed.all
    one_error(changed, "minisign: signed by key id")


def test_lock_checks_a_signature_over_the_asset_by_downloading_it(
    standin: StandIn, cnb: CnbDirs
) -> None:
    text = f"""
[[metadata.githubassets]]
repo = "acme/tool"
asset = "tool"
tag = "v1"
provenance = {{ minisign_key = "{KEY}", minisign_signature = "{{asset}}.minisig" }}
"""
    standin.add_release("acme/tool", "v1", {"tool": TOOL, "tool.minisig": minisig(TOOL[:-1])})
    cnb.project(text)
    refused = command(standin, cnb, "lock", "--target", "linux/amd64")
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith("minisign: the signature does not verify"), (
        refused.stderr
    )
    assert not (cnb.app / "github-assets.lock").exists()
    standin.add_release("acme/tool", "v2", {"tool": TOOL, "tool.minisig": minisig(TOOL)})
    cnb.project(text.replace('"v1"', '"v2"'))
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    standin.down = {API}
    r = build(standin, cnb, text.replace('"v1"', '"v2"'), GITHUB_SERVER_URL=standin.web_url)
    assert r.rc == 0, r.all
    assert f"(lock, minisign ({KEY_ID}), " in verified_line(r)


def test_an_attestation_whose_document_fails_does_not_stop_the_next(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release("too-legit/attest", "v1", {"artifact": ARTIFACT})
    standin.add_attestation("too-legit/attest", sha(ARTIFACT), ATTESTED, inline=False, document=b"")
    standin.add_attestation(
        "too-legit/attest", sha(ARTIFACT), ATTESTED, inline=False, document=ATTESTED
    )
    one_error(
        build(standin, cnb, ATTESTATION),
        "GitHub attestation: no attestation of artifact verifies: its bundle_url document could "
        "not be fetched (failed to download an attestation bundle: HTTP 404 from",
        "(and 1 more that fail)",
    )
    standin.add_attestation("too-legit/attest", sha(ARTIFACT), ATTESTED, inline=False)
    r = build(standin, cnb, ATTESTATION)
    assert r.rc == 0, r.all
    assert f"GitHub attestation ({WORKFLOW})" in verified_line(r)


def test_an_attestation_document_nested_past_any_limit_is_its_failure(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release("too-legit/attest", "v1", {"artifact": ARTIFACT})
    nested = snappy_compress(NESTED)
    standin.add_attestation("too-legit/attest", sha(ARTIFACT), b"", inline=False, document=nested)
    one_error(
        build(standin, cnb, ATTESTATION),
        "GitHub attestation: no attestation of artifact verifies: a bundle document is JSON "
        "nested too deeply to read",
    )


@pytest.mark.parametrize(
    "listed",
    [{"bundle": None, "bundle_url": "file:///etc/passwd"}, {"bundle": "text"}, "text", 7],
    ids=["file-url", "bundle-text", "item-text", "item-number"],
)
def test_a_malformed_attestation_item_does_not_hide_one_that_holds(
    standin: StandIn, cnb: CnbDirs, tmp_path: Path, listed: object
) -> None:
    """At least one attestation must hold: a malformed item beside it is its own failure."""
    standin.add_release("too-legit/attest", "v1", {"artifact": ARTIFACT})
    standin.add_attestation("too-legit/attest", sha(ARTIFACT), b"", listed=listed)
    standin.add_attestation("too-legit/attest", sha(ARTIFACT), ATTESTED, inline=False)
    r = build(standin, cnb, ATTESTATION)
    assert r.rc == 0, r.all
    assert f"GitHub attestation ({WORKFLOW})" in verified_line(r)
    with StandIn() as alone:  # the malformed item only: its reason is the error's
        alone.add_release("too-legit/attest", "v1", {"artifact": ARTIFACT})
        alone.add_attestation("too-legit/attest", sha(ARTIFACT), b"", listed=listed)
        one_error(
            build(alone, CnbDirs(tmp_path / "alone"), ATTESTATION),
            "GitHub attestation: no attestation of artifact verifies: the API lists it ",
        )


def test_lock_check_says_when_the_lock_predates_an_entrys_provenance(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish_buf(standin)
    cnb.project(BUF.split("provenance =")[0])
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    cnb.project(BUF)
    check = command(standin, cnb, "lock", "--check", "--target", "linux/amd64")
    assert check.returncode == 1
    assert check.stdout == (
        "github-assets.lock records no provenance for bufbuild/buf buf-Linux-x86_64 on "
        "linux/amd64; re-run github-assets lock\n"
    )
    one_error(
        build(standin, cnb, BUF),
        "the lock records no minisign signature sha256.txt.minisig for buf-Linux-x86_64; "
        "re-run `github-assets lock` to record it",
    )
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    assert command(standin, cnb, "lock", "--check", "--target", "linux/amd64").returncode == 0
