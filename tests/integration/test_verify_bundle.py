"""`github-assets verify-bundle` run as sigstore-conformance runs a client: a subprocess per case.

Every offline bundle-verification case of the suite kept in tests/data (SOURCES.md says which
and why the others are out of scope): a name ending in `_fail` must exit 1 with one
`error: sigstore: ...` line, any other must exit 0.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "tests" / "data" / "provenance" / "conformance"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ACTIONS = "https://token.actions.githubusercontent.com"
CASES = sorted(p.name for p in CONFORMANCE.iterdir() if p.is_dir())

# Cases the suite has that the contract leaves out; each must still be refused, for this reason.
OUT_OF_SCOPE = {
    "managed-key-no-key_fail": "bundle is signed with a managed key, not a Fulcio certificate",
}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "github_assets", "verify-bundle", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def case_args(name: str, *, digest: bool = False) -> list[str]:
    folder = CONFORMANCE / name
    identity = folder / "identity"
    issuer = folder / "issuer"
    artifact = folder / "artifact" if (folder / "artifact").exists() else CONFORMANCE / "a.txt"
    args = [
        "--bundle",
        str(folder / "bundle.sigstore.json"),
        "--certificate-identity",
        identity.read_text().strip() if identity.exists() else BEACON,
        "--certificate-oidc-issuer",
        issuer.read_text().strip() if issuer.exists() else ACTIONS,
    ]
    if (folder / "trusted_root.json").exists():
        args += ["--trusted-root", str(folder / "trusted_root.json")]
    if digest:
        return [*args, "sha256:" + hashlib.sha256(artifact.read_bytes()).hexdigest()]
    return [*args, str(artifact)]


def test_the_suite_cases_are_all_here() -> None:
    assert len(CASES) == 66
    assert sum(name.endswith("_fail") for name in CASES) == 48


@pytest.mark.parametrize("name", CASES)
def test_conformance_case(name: str) -> None:
    result = run(*case_args(name))
    if name.endswith("_fail"):
        assert result.returncode == 1, result.stdout
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: sigstore: "), result.stderr
        if name in OUT_OF_SCOPE:
            assert OUT_OF_SCOPE[name] in lines[0]
    else:
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("verified: signed by "), result.stdout


@pytest.mark.parametrize("name", ["happy-path-v0.3", "rekor2-dsse-happy-path"])
def test_the_artifact_may_be_given_by_digest(name: str) -> None:
    assert run(*case_args(name, digest=True)).returncode == 0
    args = case_args(name, digest=True)
    args[-1] = "sha256:" + "00" * 32
    refused = run(*args)
    assert refused.returncode == 1 and refused.stderr.startswith("error: sigstore: ")


def test_an_identity_regex_must_match_the_whole_san() -> None:
    args = case_args("happy-path-v0.3")
    args[3] = "^https://github.com/sigstore-conformance/.*@refs/heads/main$"
    assert run(*args).returncode == 0
    args[3] = "^https://github.com/sigstore-conformance/"
    refused = run(*args)
    assert refused.returncode == 1
    assert "does not match '^https://github.com/sigstore-conformance/'" in refused.stderr
    args[3] = "^(unclosed"
    broken = run(*args)
    assert broken.returncode == 1
    assert broken.stderr.startswith("error: sigstore: identity '^(unclosed' is not a regular")


def test_staging_selects_the_shipped_staging_root() -> None:
    data = ROOT / "tests" / "data" / "provenance" / "sigstore-python"
    args = [
        "--bundle",
        str(data / "bundle_v3.txt.sigstore"),
        "--certificate-identity",
        "william@yossarian.net",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
    ]
    assert run(*args, "--staging", str(data / "bundle_v3.txt")).returncode == 0
    production = run(*args, str(data / "bundle_v3.txt"))
    assert production.returncode == 1
    assert "not in the trusted root" in production.stderr


def test_unreadable_inputs_are_one_line_errors(tmp_path: Path) -> None:
    args = case_args("happy-path-v0.3")
    missing = run(*args[:-1], str(tmp_path / "absent.txt"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: sigstore: cannot read artifact ")
    assert len(missing.stderr.splitlines()) == 1
    bad_root = tmp_path / "root.json"
    bad_root.write_text('{"mediaType": "something else"}')
    refused = run(*args[:-1], "--trusted-root", str(bad_root), args[-1])
    assert refused.returncode == 1
    assert "trusted root has unsupported media type" in refused.stderr
    digest = run(*args[:-1], "sha256:xyz")
    assert digest.returncode == 1 and "not a sha256 hex" in digest.stderr


def test_missing_options_are_usage_errors() -> None:
    result = run("--bundle", "x.json", "a.txt")
    assert result.returncode == 2
    assert "--certificate-identity" in result.stderr
