"""GitHub release assets buildpack: verified release assets in launch layers."""

import os

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
            found = _section_version(f.read())
        if found:
            return found
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("github-assets-buildpack")
    except PackageNotFoundError:
        return "unknown"


def _section_version(text: str) -> str:
    """The `version = "..."` line of the [buildpack] table, read line by line (no regex to
    compile: every detect imports this module)."""
    table = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            table = line.split("]", 1)[0] + "]"
            continue
        key, eq, value = line.partition("=")
        if table == "[buildpack]" and eq and key.strip() == "version":
            value = value.strip()
            if value.startswith('"') and value.find('"', 1) > 1:
                return value[1 : value.find('"', 1)]
    return ""


__version__ = _version()
USER_AGENT = f"{BUILDPACK_ID}/{__version__}"
