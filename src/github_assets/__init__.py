"""GitHub release assets buildpack: verified release assets in launch layers."""

import os
import re

BUILDPACK_ID = "probe-assets/github-assets"


def _version() -> str:
    """buildpack.toml's version: the one source (read, not parsed: detect counts milliseconds).

    A pip-installed package (the github-assets command) has no buildpack.toml beside it and
    takes the version its metadata was built with from the same file (pyproject.toml, which
    a test keeps equal).
    """
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        with open(os.path.join(root, "buildpack.toml"), encoding="utf-8") as f:
            found = re.search(r'^\[buildpack\][^\[]*?^\s*version\s*=\s*"([^"]+)"', f.read(), re.M)
        if found:
            return found.group(1)
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("github-assets-buildpack")
    except PackageNotFoundError:
        return "unknown"


__version__ = _version()
USER_AGENT = f"{BUILDPACK_ID}/{__version__}"
