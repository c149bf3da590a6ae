"""CPU per Sigstore bundle verification (the contract's budget: at most 50 ms).

Run by `make bench`. Measures time.process_time() over N verifications of real bundles (a
Rekor v1 message signature, a GitHub artifact attestation, a Rekor v2 entry with an RFC 3161
timestamp) against a trusted root parsed once, as a build does; the root's parse is shown
apart. Exits 1 when a bundle costs more than the budget.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]

from github_assets.provenance import (  # noqa: E402
    ArtifactDigest,
    Identity,
    TrustedRoot,
    verify_bundle,
)

DATA = ROOT / "tests" / "data" / "provenance"
BUDGET_MS = 50.0
BEACON = Identity(
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
    "https://token.actions.githubusercontent.com",
)
A_TXT = (DATA / "conformance" / "a.txt").read_bytes()

CASES = [
    (
        "Rekor v1 hashedrekord (SET + inclusion proof)",
        DATA / "conformance" / "happy-path-v0.3" / "bundle.sigstore.json",
        A_TXT,
        BEACON,
        None,
    ),
    (
        "GitHub attestation (DSSE, SET + inclusion proof)",
        DATA / "gh-cli" / "reusable-workflow-attestation.sigstore.json",
        ArtifactDigest.from_hex("49a3aa6075e0f49f82843e74b5baa614ad2a588e6675612bf108a0a008c5ac25"),
        Identity(
            "https://github.com/github/artifact-attestations-workflows/.github/workflows/"
            "attest.yml@09b495c3f12c7881b3cc17209a327792065c1a1d",
            "https://token.actions.githubusercontent.com",
        ),
        None,
    ),
    (
        "Rekor v2 hashedrekord (RFC 3161 timestamp + Ed25519 checkpoint)",
        DATA / "conformance" / "rekor2-happy-path" / "bundle.sigstore.json",
        A_TXT,
        BEACON,
        DATA / "conformance" / "rekor2-happy-path" / "trusted_root.json",
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="verifications per bundle")
    args = parser.parse_args()
    start = time.process_time()
    TrustedRoot.from_file(ROOT / "src" / "github_assets" / "provenance" / "trusted_root.json")
    parse_ms = (time.process_time() - start) * 1000
    print(f"trusted root parse (once per build): {parse_ms:.1f} ms CPU")
    worst = 0.0
    for name, bundle_path, artifact, identity, root_path in CASES:
        root = TrustedRoot.from_file(root_path) if root_path else TrustedRoot.public_good()
        bundle = bundle_path.read_bytes()
        verify_bundle(bundle, artifact, identity, root)  # first use verifies the CA chains
        start = time.process_time()
        for _ in range(args.n):
            verify_bundle(bundle, artifact, identity, root)
        per = (time.process_time() - start) * 1000 / args.n
        worst = max(worst, per)
        digest = hashlib.sha256(bundle).hexdigest()[:12]
        print(f"{per:6.1f} ms CPU per bundle  {name} [{digest}], n={args.n}")
    verdict = "within" if worst <= BUDGET_MS else "OVER"
    print(f"worst {worst:.1f} ms: {verdict} the {BUDGET_MS:.0f} ms budget")
    return 0 if worst <= BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
