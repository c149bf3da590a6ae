"""The build's orchestration in process, through the Services seam with a tiny in-memory
source: whole results (layers, metadata, processes, labels, reuse decisions), fast.

The same paths run for real as subprocesses against the loopback stand-in in
tests/integration; these pin down what the orchestration computes.
"""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path
from typing import Any

import pytest

from github_assets.build import BuildResult, Services, build
from github_assets.cnb.files import Label, LayerToml, Process
from github_assets.config import AssetSpec, parse_entry
from github_assets.layers import Install, LayerPlan, Reuse
from github_assets.log import Log
from github_assets.platform import Target, render
from github_assets.sources import Received, ResolvedAsset, Sink
from github_assets.verify import Expected
from support import elf_bytes, tar_gz

AMD64 = Target("linux", "amd64")
PROBE = elf_bytes(size=10_000)
TOOL = elf_bytes(size=5_000)


class MemorySource:
    """Releases held in memory: {(repo, tag): {asset name: bytes}}; `latest` per repo."""

    name = "memory"
    secrets: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.releases: dict[tuple[str, str], dict[str, bytes]] = {}
        self.latest: dict[str, str] = {}
        self.ids: dict[tuple[str, str, str], int] = {}
        self.resolved: list[str] = []
        self.fetched: list[str] = []

    def origin(self, asset: ResolvedAsset, expected: Expected) -> str:
        return "memory"

    def publish(self, repo: str, tag: str, assets: dict[str, bytes]) -> None:
        self.releases[(repo, tag)] = assets
        self.latest[repo] = tag
        for name in assets:
            self.ids[(repo, tag, name)] = len(self.ids) + 1

    def resolve(
        self,
        spec: AssetSpec,
        target: Target,
        *,
        log: Log,
        cancel: threading.Event | None,
        etag: str = "",
    ) -> ResolvedAsset:
        tag = self.latest[spec.repo] if spec.tag == "latest" else spec.tag
        name = render(spec.asset, target, tag, spec.replacement_map)
        data = self.releases[(spec.repo, tag)][name]
        self.resolved.append(f"{spec.repo} {tag}")
        return ResolvedAsset(
            repo=spec.repo,
            tag=tag,
            name=name,
            size=len(data),
            asset_id=self.ids[(spec.repo, tag, name)],
            digest=f"sha256:{hashlib.sha256(data).hexdigest()}",
            release_url=f"memory://{spec.repo}/{tag}",
            url=f"memory://{spec.repo}/{tag}/{name}",
        )

    def fetch(
        self,
        asset: ResolvedAsset,
        sink: Sink,
        expected: Expected,
        *,
        log: Log,
        cancel: threading.Event | None,
    ) -> Received:
        data = self.releases[(asset.repo, asset.tag)][asset.name]
        self.fetched.append(asset.name)
        for start in range(0, len(data), 4096):
            piece = data[start : start + 4096]
            buf = sink.buffer()
            buf[: len(piece)] = piece
            sink.commit(len(piece))
        digests = {a: hashlib.new(a, data).hexdigest() for a in expected.algorithms}
        return Received(len(data), digests)


def spec(**kw: Any) -> AssetSpec:
    table = {"repo": "acme/probe", "asset": "probe-{os}-{arch}", "tag": "v1", **kw}
    return parse_entry(table, "project.toml: [[metadata.githubassets]] #1")


def run(
    source: MemorySource,
    specs: list[AssetSpec],
    layers: Path,
    previous: dict[str, LayerToml | None] | None = None,
) -> tuple[BuildResult, str]:
    out = io.StringIO()
    layers.mkdir(parents=True, exist_ok=True)
    svc = Services(source_for=lambda _: source, log=Log(out), clock=lambda: 0.0)
    previous = previous or {}
    result = build(
        specs, layers_dir=layers, target=AMD64, previous=previous, existing=list(previous), svc=svc
    )
    return result, out.getvalue()


@pytest.fixture
def source() -> MemorySource:
    s = MemorySource()
    s.publish("acme/probe", "v1", {"probe-linux-amd64": PROBE})
    s.publish("acme/tools", "v2", {"tools.tar.gz": tar_gz({"tools-2/bin/tool": TOOL})})
    return s


def test_a_cold_build_computes_the_whole_result(source: MemorySource, tmp_path: Path) -> None:
    specs = [
        spec(process="health", args=["-addr=:50051"]),
        spec(repo="acme/tools", asset="tools.tar.gz", tag="v2", strip_components=1),
    ]
    result, log = run(source, specs, tmp_path)
    probe = str(tmp_path / "acme_probe" / "bin" / "probe")
    tool = str(tmp_path / "acme_tools" / "bin" / "tool")
    assert result.processes == (Process("health", (probe,), ("-addr=:50051",), False),)
    assert result.links == () and result.stale == ()
    assert [(r.name, r.reused) for r in result.layers] == [
        ("acme_probe", False),
        ("acme_tools", False),
    ]
    assert result.labels[1:] == (
        Label("probe-assets.github-assets.path.probe", probe),
        Label("probe-assets.github-assets.path.tool", tool),
    )
    meta = result.layers[1].toml.metadata
    assert meta["schema"] == 2 and meta["target"] == "linux/amd64"
    [tools] = meta["assets"]
    assert {
        k: tools[k] for k in ("resolved_tag", "kind", "files", "executables", "main", "source")
    } == {
        "resolved_tag": "v2",
        "kind": "tar+gzip",
        "files": ["bin/tool"],
        "executables": ["bin/tool"],
        "main": "bin/tool",
        "source": "memory",
    }
    assert tools["verified_by"] == "GitHub digest"
    assert tools["want"] == {
        "repo": "acme/tools",
        "asset": "tools.tar.gz",
        "tag": "v2",
        "strip_components": 1,
        "checksums": "auto",
        "target": "linux/amd64",
    }
    assert Path(tool).read_bytes() == TOOL
    assert sorted(source.fetched) == ["probe-linux-amd64", "tools.tar.gz"]  # in parallel
    assert log.index("Layer acme_probe") < log.index("Layer acme_tools")


def test_a_rebuild_with_the_same_config_reuses_without_the_source(
    source: MemorySource, tmp_path: Path
) -> None:
    first, _ = run(source, [spec()], tmp_path)
    again = MemorySource()  # holds nothing: any resolve or fetch would fail
    result, log = run(again, [spec()], tmp_path / "next", {"acme_probe": first.layers[0].toml})
    assert result.layers[0].reused and result.layers[0].toml == first.layers[0].toml
    assert again.resolved == [] and again.fetched == []
    assert "Reusing layer acme_probe: same acme/probe v1, assets and checksums (no download)" in log


def _toml(source: MemorySource, specs: list[AssetSpec], tmp_path: Path) -> LayerToml:
    result, _ = run(source, specs, tmp_path)
    return result.layers[0].toml


def _decide(
    specs: list[AssetSpec],
    previous: LayerToml | None,
    resolved: list[ResolvedAsset | None] | None = None,
    *,
    layer_dir: Path = Path("/nonexistent/acme_probe"),
    target: Target = AMD64,
) -> Reuse | Install:
    """layer_dir: the layer's files as the lifecycle restored them (none by default)."""
    plan = LayerPlan("acme_probe", specs, previous)
    return plan.decide(layer_dir, resolved or [None] * len(specs), target, Log(io.StringIO()))


def _resolved(source: MemorySource, s: AssetSpec) -> ResolvedAsset:
    return source.resolve(s, AMD64, log=Log(io.StringIO()), cancel=None)


CHANGES = {
    "tag": ({"tag": "v2"}, "tag changed (v1 -> v2)"),
    "asset": ({"asset": "probe-{os}-{arch}.bin"},
              "asset changed (probe-{os}-{arch} -> probe-{os}-{arch}.bin)"),
    "destination": ({"destination": "tools/probe"}, "destination changed (unset -> tools/probe)"),
    "strip_components": ({"strip_components": 2}, "strip_components changed (0 -> 2)"),
    "sha256": ({"sha256": "ab" * 32}, f"sha256 changed (unset -> {'ab' * 32})"),
    "replacements": ({"replacements": {"amd64": "x64"}},
                     "replacements changed (unset -> {amd64 = x64})"),
    "api_url": ({"api_url": "https://ghe.example/api/v3"},
                "api_url changed (unset -> https://ghe.example/api/v3)"),
}  # fmt: skip


@pytest.mark.parametrize("field", CHANGES, ids=CHANGES.keys())
def test_each_wanted_field_change_is_named_with_old_and_new(
    source: MemorySource, tmp_path: Path, field: str
) -> None:
    previous = _toml(source, [spec()], tmp_path)
    change, cause = CHANGES[field]
    assert _decide([spec(**change)], previous) == Install(cause)


def test_every_other_reuse_cause(source: MemorySource, tmp_path: Path) -> None:
    previous = _toml(source, [spec()], tmp_path / "a")
    assert _decide([spec()], None) == Install("no previous layer")
    older = previous._replace(metadata={**previous.metadata, "schema": 1})
    assert _decide([spec()], older) == Install("metadata from an older version")
    two = [spec(), spec(asset="probe-{os}-{arch}.sig")]
    assert _decide(two, previous) == Install("the set of assets changed")
    broken = previous._replace(metadata={**previous.metadata, "assets": [{"repo": "acme/probe"}]})
    assert _decide([spec()], broken) == Install("previous layer metadata is unreadable")
    assert _decide([spec()], previous, target=Target("linux", "arm64")) == Install(
        "target changed (linux/amd64 -> linux/arm64)"
    )
    built = _toml(source, [spec(build=True)], tmp_path / "b")
    assert _decide([spec(build=True)], built) == Install(
        "build-time layer content is not in the cache"
    )
    restored = tmp_path / "b" / "acme_probe"
    assert isinstance(_decide([spec(build=True)], built, layer_dir=restored), Reuse)
    (restored / "bin" / "probe").unlink()  # a cache that lost a file is not reused
    assert _decide([spec(build=True)], built, layer_dir=restored) == Install(
        "the restored layer lacks bin/probe"
    )

    # `latest`: what the source resolves to now decides
    latest = _toml(source, [spec(tag="latest")], tmp_path / "c")
    now = _resolved(source, spec(tag="latest"))
    assert isinstance(_decide([spec(tag="latest")], latest, [now]), Reuse)
    source.publish("acme/probe", "v3", {"probe-linux-amd64": PROBE})
    newer = _resolved(source, spec(tag="latest"))
    assert _decide([spec(tag="latest")], latest, [newer]) == Install(
        "latest release of acme/probe is now v3 (was v1)"
    )
    replaced = now._replace(asset_id=now.asset_id + 100)
    assert _decide([spec(tag="latest")], latest, [replaced]) == Install(
        "asset probe-linux-amd64 was replaced upstream"
    )
    other_bytes = now._replace(digest="sha256:" + "0" * 64)
    assert _decide([spec(tag="latest")], latest, [other_bytes]) == Install(
        "asset probe-linux-amd64 was replaced upstream"
    )


def test_a_layer_of_two_assets_names_the_one_that_changed(
    source: MemorySource, tmp_path: Path
) -> None:
    source.publish("acme/probe", "v1", {"probe-linux-amd64": PROBE, "extra": TOOL})
    both = [spec(layer="kit"), spec(asset="extra", destination="bin/extra", layer="kit")]
    previous = _toml(source, both, tmp_path)
    changed = [both[0], spec(asset="extra", destination="bin/x", layer="kit")]
    plan = LayerPlan("kit", changed, previous)
    assert plan.decide(False, [None, None], AMD64, Log(io.StringIO())) == Install(
        "extra: destination changed (bin/extra -> bin/x)"
    )
