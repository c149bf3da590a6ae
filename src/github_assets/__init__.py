"""GitHub release assets buildpack: verified release assets in launch layers."""

BUILDPACK_ID = "probe-assets/github-assets"
__version__ = "0.1.0"
USER_AGENT = f"{BUILDPACK_ID}/{__version__}"
