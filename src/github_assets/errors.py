"""The one error base class: a first line a user can act on, details after."""

from __future__ import annotations


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
