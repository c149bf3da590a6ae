"""Provenance: who built an asset, checked with no runtime dependency beyond the standard library.

Sigstore bundles, GitHub artifact attestations and minisign signatures are verified here in pure
Python, so the buildpack runs on whatever python3 the builder has (no native crypto wheel).
"""
