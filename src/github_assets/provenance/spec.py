"""The `provenance` table of an entry, parsed and validated at detect.

Three kinds of check, each complete or absent: a Sigstore bundle (`sigstore_bundle`, `identity`,
`issuer`), GitHub artifact attestations (`github_attestation`, `signer_workflow`, optional
`predicate_type`), a minisign signature (`minisign_key`, `minisign_signature`). A NamedTuple,
like AssetSpec, so it compares by value and round-trips through a plan entry's metadata.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..platform import PLACEHOLDERS, check_template
from ..record import Record

DEFAULT_PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
_WORKFLOW = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}/[^@\s]+$")
_KEYS = (
    "sigstore_bundle",
    "identity",
    "issuer",
    "github_attestation",
    "signer_workflow",
    "predicate_type",
    "minisign_key",
    "minisign_signature",
)
_GROUPS = (
    ("sigstore_bundle", ("identity", "issuer")),
    ("github_attestation", ("signer_workflow",)),
    ("minisign_key", ("minisign_signature",)),
)


class Provenance(Record):
    """What must verify besides the checksums; '' (False) where a kind is not asked for."""

    sigstore_bundle: str = ""
    """A release asset name template ({asset} {os} {arch} {version} {tag})."""
    identity: str = ""
    """The signing certificate's SAN: exact, or a full-match regular expression when it starts
    with ^."""
    issuer: str = ""
    github_attestation: bool = False
    signer_workflow: str = ""
    predicate_type: str = ""
    """'' means DEFAULT_PREDICATE_TYPE."""
    minisign_key: str = ""
    """The base64 public key line, as minisign -P takes it."""
    minisign_signature: str = ""

    @property
    def predicate(self) -> str:
        return self.predicate_type or DEFAULT_PREDICATE_TYPE

    def to_table(self) -> dict[str, Any]:
        """The set keys, as the config writes them (parse() reads this back)."""
        return {k: v for k, v in self._asdict().items() if v not in ("", False)}


def _type_name(value: object) -> str:
    return {bool: "a boolean", int: "an integer", list: "an array", dict: "a table"}.get(
        type(value), type(value).__name__
    )


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        shown = "an empty string" if isinstance(value, str) else _type_name(value)
        raise ConfigError(f"{where}: 'provenance.{key}' must be a non-empty string, got {shown}")
    return value.strip()


def _asset_template(table: Mapping[str, Any], key: str, where: str) -> str:
    name = _text(table, key, where)
    if "/" in name or "\\" in name:
        raise ConfigError(
            f"{where}: 'provenance.{key}' is a release asset's name, not a path: {name!r}",
            hint='e.g. "{asset}.sigstore.json" or "{asset}.minisig"',
        )
    check_template(name, where, f"provenance.{key}", (*PLACEHOLDERS, "asset"))
    return name


def parse(value: object, where: str) -> Provenance:
    """The entry's `provenance` table, or a ConfigError naming the file, the entry and the key."""
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}: 'provenance' must be a table, got {_type_name(value)}",
            hint='e.g. provenance = { minisign_key = "RWQ...", minisign_signature = '
            '"{asset}.minisig" }',
        )
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key 'provenance.{unknown[0]}'",
            hint=f"known keys are {', '.join(_KEYS)}",
        )
    attestation = value.get("github_attestation", False)
    if not isinstance(attestation, bool):
        raise ConfigError(
            f"{where}: 'provenance.github_attestation' must be true or false, "
            f"got {_type_name(attestation)}"
        )
    present = {k for k in value if k != "github_attestation"} | (
        {"github_attestation"} if attestation else set()
    )
    for lead, needs in _GROUPS:
        group = {lead, *needs} | ({"predicate_type"} if lead == "github_attestation" else set())
        if lead in present:
            missing = [k for k in needs if k not in present]
            if missing:
                raise ConfigError(
                    f"{where}: 'provenance.{lead}' needs 'provenance.{missing[0]}'",
                    hint="a check is made only when all its keys are set",
                )
        elif present & group:
            other = sorted(present & group)[0]
            wanted = "github_attestation = true" if lead == "github_attestation" else lead
            raise ConfigError(
                f"{where}: 'provenance.{other}' is set without 'provenance.{lead}'",
                hint=f"add {wanted}, or drop {other}",
            )
    if not present:
        raise ConfigError(
            f"{where}: 'provenance' names no check",
            hint="set sigstore_bundle, github_attestation or minisign_key (see docs/provenance.md)",
        )
    fields: dict[str, Any] = {"github_attestation": attestation}
    for key in ("sigstore_bundle", "minisign_signature"):
        if key in present:
            fields[key] = _asset_template(value, key, where)
    for key in ("identity", "issuer", "predicate_type"):
        if key in present:
            fields[key] = _text(value, key, where)
    if fields.get("identity", "").startswith("^"):
        try:
            re.compile(fields["identity"])
        except re.error as e:
            raise ConfigError(
                f"{where}: 'provenance.identity' starts with ^ but is not a regular expression "
                f"({e})"
            ) from None
    if "signer_workflow" in present:
        workflow = _text(value, "signer_workflow", where)
        if not _WORKFLOW.match(workflow):
            raise ConfigError(
                f"{where}: 'provenance.signer_workflow' must look like "
                f'"owner/repo/path/to/workflow.yml" (no @ref), got {workflow!r}',
                hint='e.g. "cli/cli/.github/workflows/deployment.yml"',
            )
        fields["signer_workflow"] = workflow
    if "minisign_key" in present:
        from .minisign import MinisignError, parse_public_key

        key = _text(value, "minisign_key", where)
        try:
            parse_public_key(key)
        except MinisignError as e:
            raise ConfigError(
                f"{where}: 'provenance.minisign_key' is not a minisign public key "
                f"({e.message.removeprefix('minisign: ')})",
                hint="give the second line of the release's minisign.pub (it starts RW)",
            ) from None
        fields["minisign_key"] = key
    return Provenance(**fields)


def require(where: str, provenance: Provenance | None) -> None:
    """BP_GITHUB_ASSETS_REQUIRE_PROVENANCE: an entry without a `provenance` table fails, in a
    build and in `github-assets install` alike, before anything is fetched or reused (a layer
    installed without provenance would otherwise be kept)."""
    if provenance is None:
        raise ConfigError(
            f"{where}: BP_GITHUB_ASSETS_REQUIRE_PROVENANCE is set and the entry has no "
            "'provenance'",
            hint="add a provenance table (a Sigstore bundle, GitHub attestation or minisign "
            "signature the release ships; see docs/provenance.md), or unset the variable",
        )
