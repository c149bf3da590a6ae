"""`github-assets verify-bundle`: sigstore-conformance's CLI protocol for bundle verification.

    github-assets verify-bundle --bundle FILE --certificate-identity ID
        --certificate-oidc-issuer URL [--trusted-root FILE] [--staging] FILE|sha256:HEX

Exit 0 when the bundle verifies, 1 with one `error: sigstore: ...` line when it does not.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from .bundle import ArtifactDigest, Identity, verify_bundle
from .errors import ProvenanceError
from .trustroot import TrustedRoot


def arguments(parser: argparse.ArgumentParser) -> None:
    """The verify-bundle verb's arguments."""
    parser.add_argument("--bundle", required=True, help="the bundle (.sigstore.json)")
    parser.add_argument(
        "--certificate-identity",
        required=True,
        help="the signing certificate's SAN (a full-match regex when it starts with ^)",
    )
    parser.add_argument(
        "--certificate-oidc-issuer", required=True, help="the certificate's OIDC issuer"
    )
    parser.add_argument(
        "--trusted-root", default=None, help="a trusted_root.json (default: public-good)"
    )
    parser.add_argument(
        "--staging", action="store_true", help="use Sigstore's staging trusted root"
    )
    parser.add_argument("artifact", metavar="FILE|sha256:HEX", help="the signed artifact")


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ProvenanceError(
            f"sigstore: cannot read {what} {path}: {error.strerror or error}",
            hint=f"check the {what} path",
        ) from error


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Verify as the arguments say; print one line on success, raise ProvenanceError else."""
    if args.trusted_root:
        root = TrustedRoot.from_file(args.trusted_root)
    elif args.staging:
        root = TrustedRoot.staging()
    else:
        root = TrustedRoot.public_good()
    artifact: bytes | ArtifactDigest
    if args.artifact.startswith("sha256:"):
        artifact = ArtifactDigest.from_hex(args.artifact.removeprefix("sha256:"))
    else:
        artifact = _read(args.artifact, "artifact")
    result = verify_bundle(
        _read(args.bundle, "bundle"),
        artifact,
        Identity(args.certificate_identity, args.certificate_oidc_issuer),
        root,
    )
    out.write(
        f"verified: signed by {result.san} ({result.issuer}) at "
        f"{result.signing_time.isoformat()} ({result.time_source})\n"
    )
    return 0
