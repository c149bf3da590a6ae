"""The `provenance` table: every kind, and each mistake named by file, entry and key."""

from __future__ import annotations

from typing import Any

import pytest

from github_assets.config import parse_entry
from github_assets.errors import ConfigError
from github_assets.provenance.spec import DEFAULT_PREDICATE_TYPE, Provenance

W = "project.toml: [[metadata.githubassets]] #1"
WHERE = f"{W} (repo bufbuild/buf)"
KEY = "RWQSCAJxMf2rCs8JaYkfwgfnxsm1/y3P6ZAwJr3M2VGIZcWIoUqUreK0"
SIGSTORE = {
    "sigstore_bundle": "{asset}.sigstore.json",
    "identity": "https://github.com/bufbuild/buf/.github/workflows/release.yaml@refs/tags/v1.50.0",
    "issuer": "https://token.actions.githubusercontent.com",
}
ATTESTATION = {
    "github_attestation": True,
    "signer_workflow": "cli/cli/.github/workflows/deployment.yml",
}
MINISIGN = {"minisign_key": KEY, "minisign_signature": "sha256.txt.minisig"}


def _parse(provenance: Any) -> Provenance | None:
    return parse_entry(
        {"repo": "bufbuild/buf", "asset": "buf-Linux-x86_64", "provenance": provenance}, W
    ).provenance


def test_each_kind_and_all_together() -> None:
    assert _parse(SIGSTORE) == Provenance(**SIGSTORE)
    attestation = _parse(ATTESTATION)
    assert attestation is not None and attestation.predicate == DEFAULT_PREDICATE_TYPE
    assert _parse(MINISIGN) == Provenance(**MINISIGN)
    every = {**SIGSTORE, **ATTESTATION, **MINISIGN, "predicate_type": "https://spdx.dev/Document"}
    parsed = _parse(every)
    assert parsed is not None and parsed.to_table() == every
    assert parsed.predicate == "https://spdx.dev/Document"


def test_an_entry_without_the_key_has_none() -> None:
    assert parse_entry({"repo": "a/b", "asset": "x"}, W).provenance is None


@pytest.mark.parametrize(
    ("provenance", "message"),
    [
        ("yes", "'provenance' must be a table, got str"),
        ({}, "'provenance' names no check"),
        ({"github_attestation": False}, "'provenance' names no check"),
        ({"minisign": KEY}, "unknown key 'provenance.minisign'; known keys are sigstore_bundle,"),
        (
            {"sigstore_bundle": "{asset}.sigstore.json"},
            "'provenance.sigstore_bundle' needs 'provenance.identity'",
        ),
        (
            {"sigstore_bundle": "x.json", "identity": "me"},
            "'provenance.sigstore_bundle' needs 'provenance.issuer'",
        ),
        (
            {"identity": "me", "issuer": "x"},
            "'provenance.identity' is set without 'provenance.sigstore_bundle'",
        ),
        (
            {"github_attestation": True},
            "'provenance.github_attestation' needs 'provenance.signer_workflow'",
        ),
        (
            {"signer_workflow": "a/b/c.yml"},
            "'provenance.signer_workflow' is set without 'provenance.github_attestation'; "
            "add github_attestation = true",
        ),
        (
            {"github_attestation": False, "signer_workflow": "a/b/c.yml"},
            "'provenance.signer_workflow' is set without",
        ),
        ({"predicate_type": "x", **MINISIGN}, "'provenance.predicate_type' is set without"),
        (
            {"github_attestation": "true", "signer_workflow": "a/b/c.yml"},
            "must be true or false, got str",
        ),
        ({"minisign_key": KEY}, "'provenance.minisign_key' needs 'provenance.minisign_signature'"),
        ({"minisign_signature": "x.minisig"}, "'provenance.minisign_signature' is set without"),
        (
            {"minisign_key": "RWQnotakey", "minisign_signature": "x.minisig"},
            "'provenance.minisign_key' is not a minisign public key (the minisign public key is "
            "not base64)",
        ),
        (
            {"minisign_key": KEY, "minisign_signature": "sigs/{asset}.minisig"},
            "'provenance.minisign_signature' is a release asset's name, not a path",
        ),
        (
            {"minisign_key": KEY, "minisign_signature": "{asset}.{ext}"},
            "'provenance.minisign_signature' has an unknown placeholder {ext}",
        ),
        (
            {**MINISIGN, "minisign_signature": " "},
            "must be a non-empty string, got an empty string",
        ),
        (
            {**SIGSTORE, "issuer": 1},
            "'provenance.issuer' must be a non-empty string, got an integer",
        ),
        (
            {**SIGSTORE, "identity": "^https://(unclosed"},
            "starts with ^ but is not a regular expression",
        ),
        (
            {**ATTESTATION, "signer_workflow": "cli/cli"},
            'must look like "owner/repo/path/to/workflow.yml"',
        ),
        (
            {
                **ATTESTATION,
                "signer_workflow": "cli/cli/.github/workflows/deployment.yml@refs/heads/trunk",
            },
            "(no @ref)",
        ),
    ],
)
def test_mistakes_name_the_file_entry_and_key(provenance: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _parse(provenance)
    assert raised.value.first_line().startswith(f"{WHERE}: ")
    assert message in raised.value.first_line()
