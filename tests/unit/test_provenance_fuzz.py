"""Hostile bundles and trusted roots: every malformed input is a ProvenanceError, never a crash.

Random edits of real bundles (a value replaced by another JSON type, a key dropped, a byte of
base64 data changed or cut, a character of a text changed), several per input, seeded so a
failure replays.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from github_assets.provenance import Identity, ProvenanceError, TrustedRoot, verify_bundle

CONFORMANCE = Path(__file__).resolve().parents[1] / "data" / "provenance" / "conformance"
BASES = [
    "happy-path-v0.1",
    "happy-path-v0.3",
    "happy-path-intoto-in-dsse-v3",
    "rekor2-happy-path",
    "rekor2-dsse-happy-path",
]
ANYONE = Identity("^.*$", "https://token.actions.githubusercontent.com")
REPLACEMENTS: list[Any] = [None, 0, -1, 2**70, "", "x", [], {}, True, 1.5, "AAAA", [1], {"a": 1}]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else []
    )
    for key, child in items:
        yield from _paths(child, (*path, key))


def _edit(doc: Any, rng: random.Random) -> None:
    path = rng.choice(list(_paths(doc))[1:])
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key, value = path[-1], parent[path[-1]]
    roll = rng.random()
    if isinstance(value, str) and roll < 0.5:
        try:
            raw = bytearray(base64.b64decode(value, validate=True))
        except ValueError:
            raw = bytearray()
        if raw:
            raw[rng.randrange(len(raw))] = rng.randrange(256)
            if rng.random() < 0.3:
                raw = raw[: rng.randrange(len(raw))]
            parent[key] = base64.b64encode(bytes(raw)).decode()
        elif value:
            at = rng.randrange(len(value))
            parent[key] = value[:at] + rng.choice("0a/+\n-= \u2014") + value[at + 1 :]
    elif roll < 0.8:
        parent[key] = rng.choice(REPLACEMENTS)
    elif isinstance(parent, dict):
        del parent[key]
    else:
        parent.pop(key)


@pytest.mark.parametrize("base", BASES)
def test_mangled_bundles_fail_closed_with_a_named_check(base: str) -> None:
    folder = CONFORMANCE / base
    root_file = folder / "trusted_root.json"
    root = TrustedRoot.from_file(root_file) if root_file.exists() else TrustedRoot.public_good()
    original = json.loads((folder / "bundle.sigstore.json").read_text())
    artifact = (CONFORMANCE / "a.txt").read_bytes()
    rng = random.Random(base)
    refused = 0
    for _ in range(150):
        doc = copy.deepcopy(original)
        for _ in range(rng.randint(1, 3)):
            _edit(doc, rng)
        try:
            verify_bundle(json.dumps(doc).encode(), artifact, ANYONE, root)
        except ProvenanceError as error:
            assert error.first_line().startswith("sigstore: ")
            refused += 1
    assert refused > 100  # nearly every edit breaks a signature, a proof or the shape


def test_mangled_trusted_roots_fail_closed() -> None:
    folder = CONFORMANCE / "rekor2-happy-path"
    original = json.loads((folder / "trusted_root.json").read_text())
    bundle = (folder / "bundle.sigstore.json").read_bytes()
    artifact = (CONFORMANCE / "a.txt").read_bytes()
    rng = random.Random("trusted root")
    for _ in range(150):
        doc = copy.deepcopy(original)
        _edit(doc, rng)
        try:
            verify_bundle(bundle, artifact, ANYONE, TrustedRoot.from_json(json.dumps(doc)))
        except ProvenanceError as error:
            assert error.first_line().startswith("sigstore: ")


def test_absurd_nesting_is_a_named_failure() -> None:
    with pytest.raises(ProvenanceError, match="bundle is not JSON"):
        verify_bundle(b"[" * 100_000, b"", None, TrustedRoot.public_good())
    with pytest.raises(ProvenanceError, match="trusted root is not JSON"):
        TrustedRoot.from_json(b'{"a":' * 100_000)
