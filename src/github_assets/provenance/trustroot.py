"""The Sigstore trusted root: Fulcio CAs, Rekor logs, CT logs and TSAs with validity windows."""

from __future__ import annotations


class TrustedRoot:
    """A parsed trusted_root.json (media type application/vnd.dev.sigstore.trustedroot+json)."""
