"""Keeping pins moving: which entries are behind their repo's newest release (`outdated`),
moving their tags and sha256 pins in place (`upgrade`), and adding an entry (`add`).

Every answer about releases comes from the GitHub API through the same client the build
uses; every edit of the config goes through configedit (only the value changes).
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from . import configedit
from .config import AssetSpec, parse_project
from .errors import ConfigError
from .log import Log
from .platform import Target
from .record import Record
from .tomlfile import loads

if TYPE_CHECKING:
    from .sources.github import GitHub


class Row(Record):
    """One entry with a concrete tag and its repo's newest published release."""

    position: int
    """The entry's place among the file's [[...githubassets]] tables."""
    spec: AssetSpec
    newest: str

    @property
    def behind(self) -> bool:
        return self.newest != self.spec.tag

    def as_json(self) -> dict[str, object]:
        return {
            "entry": self.spec.where,
            "repo": self.spec.repo,
            "tag": self.spec.tag,
            "newest": self.newest,
            "behind": self.behind,
        }


def _numbers(tag: str, prefix: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", tag.removeprefix(prefix)))


def _client(spec: AssetSpec, env: Mapping[str, str], log: Log) -> GitHub:
    from .config import token_for
    from .services import api_url
    from .settings import Settings
    from .sources.github import GitHubSource
    from .sources.http import Http, new_session

    session = new_session(pool_size=1)
    http = Http(lambda: session, Settings.from_env(env).retry)
    source = GitHubSource(http, api_url(spec, env), token_for(spec, env))
    return source.client(log, threading.Event())


def newest_tag(spec: AssetSpec, env: Mapping[str, str], log: Log) -> str:
    """The newest published non-prerelease release's tag (honouring version_prefix)."""
    client = _client(spec, env, log)
    if spec.version_prefix:
        return client.latest_with_prefix(spec.repo, spec.version_prefix).tag
    return client.release(spec.repo, "latest").tag


def asset_for_add(
    spec: AssetSpec, targets: Sequence[Target], env: Mapping[str, str]
) -> tuple[str, dict[str, str]] | None:
    """What `add` writes for `asset`: None (left out) when selection picks one asset on
    every target; else a template (and replacements) made from the shortest of the tied
    names on each target; a GitHubError (every asset and its rule) when that fails too."""
    from .assetpick import choose, consider, distro_libc, template_for

    release = _client(spec, env, Log(io.StringIO())).release(spec.repo, spec.tag)
    names = [a.name for a in release.assets]
    libc = distro_libc(env)
    picks: dict[Target, str] = {}
    tied = False
    for target in targets:
        outcomes = consider(names, target, libc=libc, files=bool(spec.files), repo=spec.repo)
        ties = sorted((c.name for c in outcomes if c.outcome == "tie"), key=lambda n: (len(n), n))
        chosen = [c.name for c in outcomes if c.outcome == "chosen"]
        if chosen:
            picks[target] = chosen[0]
        elif ties:
            picks[target], tied = ties[0], True
        else:
            choose(names, target, libc=libc, files=bool(spec.files), repo=spec.repo)
    if not tied:
        return None
    made = template_for(picks, release.tag)
    if made is None:
        for target in targets:  # raises the tie's error, listing every asset
            choose(names, target, libc=libc, files=bool(spec.files), repo=spec.repo)
    return made


def outdated(
    specs: Sequence[AssetSpec],
    env: Mapping[str, str],
    repos: Sequence[str] = (),
    *,
    log: Log | None = None,
) -> list[Row]:
    """Every entry with a concrete tag (of repos, when given), with its newest release
    (the API, one call each). log: what the requests say (a renamed repo's new name)."""
    log = log or Log(io.StringIO())
    rows = []
    for index, spec in enumerate(specs):
        if spec.tag == "latest" or (repos and spec.repo not in repos):
            continue
        newest = newest_tag(spec, env, log)
        row = Row(index, spec, newest)
        if newest != spec.tag and _numbers(newest, spec.version_prefix) < _numbers(
            spec.tag, spec.version_prefix
        ):
            row = row._replace(newest=spec.tag)  # the pinned tag is newer (a prerelease)
        rows.append(row)
    return rows


def moved_text(text: str, rows: Sequence[Row]) -> tuple[str, list[str]]:
    """The config text with each behind row's tag moved and its sha256 pin taken out (the
    old bytes' pin would refuse the new ones; repinned() puts back what the new release's
    evidence says); and one `upgraded <repo> <old> -> <new>` line per entry."""
    said = []
    for row in rows:
        if row.behind:
            text = configedit.set_value(text, row.position, "tag", row.newest)
            if row.spec.sha256 is not None:
                text = configedit.drop_key(text, row.position, "sha256")
            said.append(f"upgraded {row.spec.repo} {row.spec.tag} -> {row.newest}")
    return text, said


def repinned(text: str, row: Row, evidence: Mapping[str, tuple[str, bool]]) -> tuple[str, str]:
    """The text with the row's sha256 pin written back from the new release's evidence
    (per arch: sha256, whether GitHub's digest or the release's checksum file vouches);
    dropped when some arch has only the downloaded bytes' hash. And what was done."""
    spec = row.spec
    if evidence and all(vouched for _, vouched in evidence.values()):
        if isinstance(spec.sha256, tuple) or len(evidence) > 1:
            value: object = {arch: hexdigest for arch, (hexdigest, _) in sorted(evidence.items())}
        else:
            value = next(iter(evidence.values()))[0]
        text = configedit.set_value(text, row.position, "sha256", value)
        return text, f"  updated the sha256 pin of {spec.repo} ({', '.join(sorted(evidence))})"
    return text, (
        f"  dropped the sha256 pin of {spec.repo}: {row.newest} publishes no checksum "
        "(the lock keeps the sha256 of the downloaded bytes)"
    )


def check(text: str, shown: str) -> list[AssetSpec]:
    """Parse edited text exactly as detect does; a ConfigError names what broke."""
    return parse_project(loads(text, shown), shown)


def add_table(
    repo: str,
    tag: str,
    *,
    asset: str | None,
    replacements: Mapping[str, str] | None = None,
    process: str | None,
    args: Sequence[str],
    link: str | None,
) -> dict[str, object]:
    """The entry `add` appends, in the order a person would write it."""
    table: dict[str, object] = {"repo": repo}
    if asset:
        table["asset"] = asset
    table["tag"] = tag
    if replacements:
        table["replacements"] = dict(replacements)
    if process:
        table["process"] = process
    if args:
        table["args"] = list(args)
    if link:
        table["link"] = link
    return table


def parse_repo_at_tag(value: str) -> tuple[str, str]:
    """OWNER/REPO[@TAG] -> (repo, tag or "")."""
    repo, _, tag = value.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ConfigError(
            f"expected OWNER/REPO[@TAG], got {value!r}", hint="e.g. hadolint/hadolint@v2.12.0"
        )
    return repo, tag


def probe_path(spec: AssetSpec, chosen: Sequence[str], buildpack_dir: str) -> str:
    """Where the entry's program is at launch, as far as is known before a download:
    the link, else a raw asset's bin/<name>, else the layer (an archive's layout decides)."""
    from .assetpick import derived_name, facts

    if spec.link:
        return f"/workspace/{spec.link}"
    layer = f"/layers/{buildpack_dir}/{spec.layer_name}"
    if chosen and all(facts(n, "").kind in ("raw", "compressed") for n in chosen):
        names = {spec.name or derived_name(n) for n in chosen}
        if len(names) == 1 and spec.destination is None:
            return f"{layer}/bin/{names.pop()}"
    return f"{layer}/ (the archive's layout decides; see the build log)"
