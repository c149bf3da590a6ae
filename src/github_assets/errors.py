"""The one error base class: a first line a user can act on, details after."""

from __future__ import annotations

from collections.abc import Mapping


class BuildpackError(Exception):
    """An expected failure: printed as one line (plus optional details), never a traceback."""

    def __init__(self, message: str, *, hint: str = "", details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def first_line(self) -> str:
        """The single line printed first: what, where, and what to do."""
        text = f"{self.message}; {self.hint}" if self.hint else self.message
        # Keys, names and archive members can hold line breaks; the first line stays one line.
        return text.replace("\r", "\\r").replace("\n", "\\n")

    def __str__(self) -> str:
        return self.first_line()


class ConfigError(BuildpackError):
    """project.toml or a plan entry is wrong."""


class GitHubError(BuildpackError):
    """The GitHub API answered something we cannot use (missing repo, tag, asset; limits)."""


class DownloadError(BuildpackError):
    """The asset bytes could not be fetched or did not verify."""


class ArchiveError(BuildpackError):
    """An archive is malformed or hostile; nothing from it is installed."""


class ElfError(BuildpackError):
    """An installed ELF file does not fit the target."""


class InstallError(BuildpackError):
    """Placing files in the layer or app dir failed."""


def about(error: BuildpackError, where: str) -> BuildpackError:
    """error with its first line naming `where` (the asset's entry), hint and details kept."""
    if error.message.startswith(where):
        return error
    named = type(error)(f"{where}: {error.message}", hint=error.hint, details=error.details)
    named.__cause__ = error.__cause__
    return named


# What to do about an OS error, by errno name (errno codes differ between platforms).
_OS_ADVICE = {
    "ENOSPC": "free disk space in the build container",
    "EDQUOT": "free disk space (or raise the quota) in the build container",
    "EACCES": "the build user cannot write there; check the owner and mode of that directory",
    "EPERM": "the build user cannot write there; check the owner and mode of that directory",
    "EROFS": "that filesystem is read-only; the build needs it writable",
    "ENAMETOOLONG": "a path is longer than the filesystem allows; shorten 'destination', "
    "'layer' or 'link'",
    "ENOTDIR": "a part of that path is a file, not a directory",
    "EISDIR": "that path is a directory",
    "EEXIST": "something is already there",
    "EIO": "the disk reported an I/O error; retry the build, and check the machine if it recurs",
    "EMFILE": "too many open files; raise the build container's limit",
}


def os_error(error: OSError, doing: str) -> BuildpackError:
    """One line for an OS error: what we were doing, the OS's words, the path, what to do."""
    import errno

    name = errno.errorcode.get(error.errno or 0, "")
    where = f" ({error.filename})" if error.filename else ""
    reason = error.strerror or str(error) or type(error).__name__
    advice = _OS_ADVICE.get(name, "check the build container's disk and permissions")
    made = InstallError(f"failed to {doing}: {reason}{where}", hint=advice)
    made.__cause__ = error
    return made


def report(error: BuildpackError, env: Mapping[str, str]) -> None:
    """Print error as the phases and the command do: `error: ` + one line, details after,
    through the one redaction (redact.py) with what env shows to be secret added."""
    import sys

    from . import redact

    redact.environment(env)
    sys.stderr.write("error: " + redact.text(error.first_line()) + "\n")
    if error.details:
        sys.stderr.write(redact.text(error.details).rstrip("\n") + "\n")
