"""CPU of the other provenance checks: Ed25519 and minisign, a GitHub attestation, Snappy.

Run by `make bench` after scripts/bench_provenance.py (the Sigstore bundles). Figures are
time.process_time() per operation: one Ed25519 verify (RFC 8032 test 1), a minisign check of
a 12 MiB asset as it streams by (prehashed: BLAKE2b-512 then two Ed25519 verifies), a GitHub
attestation from its Snappy bundle_url document to the policy, and that document's
decompression alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tools.github_standin import snappy_compress  # noqa: E402
from tools.releases import MinisignKey  # noqa: E402

from github_assets.provenance import TrustedRoot, attestation, ed25519, minisign, snappy  # noqa: E402

DATA = ROOT / "tests" / "data" / "provenance" / "gh-cli"
RFC8032_1 = (
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
)


def per(n: int, run: Callable[[], object]) -> float:
    start = time.process_time()
    for _ in range(n):
        run()
    return (time.process_time() - start) * 1000 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="runs per figure")
    args = parser.parse_args()
    key, sig = (bytes.fromhex(h) for h in RFC8032_1)
    assert ed25519.verify(key, b"", sig)
    print(f"{per(args.n, lambda: ed25519.verify(key, b'', sig)):6.2f} ms CPU per Ed25519 verify")

    asset = hashlib.shake_256(b"asset").digest(12 << 20)
    signer = MinisignKey("bench")
    public = minisign.parse_public_key(signer.public)
    signature = minisign.parse_signature(signer.sign(asset, "asset"))

    def stream() -> None:
        check = minisign.Message(public, signature)
        view = memoryview(asset)
        for start in range(0, len(asset), 1 << 20):
            check.update(view[start : start + (1 << 20)])
        check.verify()

    print(f"{per(max(1, args.n // 10), stream):6.1f} ms CPU per minisign check of 12 MiB")

    root = TrustedRoot.public_good()
    bundle = (DATA / "custom-issuer.sigstore.json").read_bytes()
    document = snappy_compress(bundle)
    sha = hashlib.sha256((DATA / "custom-issuer-artifact").read_bytes()).hexdigest()
    policy = attestation.Policy("too-legit/attest/.github/workflows/integration.yml")

    def attest() -> None:
        attestation.verify(
            [lambda: attestation.parse_document(document)], "artifact", sha, policy, root
        )

    attest()
    print(f"{per(args.n, attest):6.1f} ms CPU per GitHub attestation (bundle_url document)")
    size = len(bundle)

    def decode() -> None:
        json.loads(snappy.decompress(document, 1 << 22))

    print(f"{per(args.n, decode):6.2f} ms CPU per Snappy document ({size} bytes) decoded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
