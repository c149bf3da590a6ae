"""docs/kpack-tekton.md and the README's Quick start describe what runs: the kpack objects
reference each other, the token goes in as a binding (kpack rejects secretKeyRef in build
env), the Tekton run gives the catalog task every param it requires, and pack appends the
buildpack instead of replacing the builder's group."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import toml
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "kpack-tekton.md"
# tektoncd/catalog task/buildpacks/0.7: params without a default, and its workspaces
BUILDPACKS_TASK_REQUIRED = {"APP_IMAGE", "BUILDER_IMAGE"}
BUILDPACKS_TASK_WORKSPACES = {"source", "cache", "dockerconfig"}
GIT_CLONE_REQUIRED = {"url"}


def objects() -> list[dict[str, Any]]:
    text = DOC.read_text()
    found = []
    for body in re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S):
        found += [d for d in yaml.safe_load_all(body) if d]
    return found


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [o for o in objects() if o.get("kind") == kind]


def test_no_doc_shows_the_env_form_kpack_rejects() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for body in re.findall(r"^```ya?ml\n(.*?)^```", path.read_text(), re.M | re.S):
            assert "secretKeyRef" not in body, path.name


def test_the_kpack_image_gets_its_token_from_a_github_binding() -> None:
    [image] = by_kind("Image")
    secrets = {s["metadata"]["name"]: s for s in by_kind("Secret")}
    services = image["spec"]["build"]["services"]
    assert all(s["kind"] == "Secret" and s["apiVersion"] == "v1" for s in services)
    [token] = [secrets[s["name"]] for s in services if s["name"] in secrets]
    assert token["stringData"]["type"] == "github" and token["stringData"]["token"]
    assert all("valueFrom" not in e for e in image["spec"]["build"].get("env", []))
    assert image["spec"]["cache"], "rebuilds need the cache (every layer is cache = true)"
    [ca] = [
        s["stringData"] for s in secrets.values() if s["stringData"]["type"] == "ca-certificates"
    ]
    assert all(v.startswith("-----BEGIN CERTIFICATE-----") for k, v in ca.items() if k != "type")


def test_the_kpack_objects_reference_each_other() -> None:
    [stack] = by_kind("ClusterStack")
    [store] = by_kind("ClusterStore")
    [builder] = by_kind("Builder")
    [image] = by_kind("Image")
    assert builder["spec"]["stack"] == {"name": stack["metadata"]["name"], "kind": "ClusterStack"}
    assert builder["spec"]["store"] == {"name": store["metadata"]["name"], "kind": "ClusterStore"}
    assert image["spec"]["builder"] == {"kind": "Builder", "name": builder["metadata"]["name"]}
    assert image["metadata"]["namespace"] == builder["metadata"]["namespace"]
    assert stack["spec"]["buildImage"]["image"] and stack["spec"]["runImage"]["image"]
    [group] = [o["group"] for o in builder["spec"]["order"]]
    ids = [g["id"] for g in group]
    assert ids.index("paketo-buildpacks/cpython") < ids.index("probe-assets/github-assets")
    assert ids.index("paketo-buildpacks/go") < ids.index("probe-assets/github-assets")
    stored = " ".join(s["image"] for s in store["spec"]["sources"])
    assert "ghcr.io/probe-assets/github-assets:" in stored and "cpython" in stored


def test_the_tekton_run_uses_the_catalog_tasks_with_every_required_param() -> None:
    [run] = by_kind("PipelineRun")
    assert "pipelineRef" not in run["spec"], "the catalog's buildpacks is a task"
    tasks = {t["taskRef"]["name"]: t for t in run["spec"]["pipelineSpec"]["tasks"]}
    assert set(tasks) == {"git-clone", "buildpacks"}
    build = tasks["buildpacks"]
    params = {p["name"] for p in build["params"]}
    assert BUILDPACKS_TASK_REQUIRED | {"SOURCE_SUBPATH"} <= params
    assert {w["name"] for w in build["workspaces"]} <= BUILDPACKS_TASK_WORKSPACES
    assert "source" in {w["name"] for w in build["workspaces"]}
    assert build["runAfter"] == [tasks["git-clone"]["name"]]
    assert {p["name"] for p in tasks["git-clone"]["params"]} >= GIT_CLONE_REQUIRED
    text = DOC.read_text()
    for task in tasks:  # the text says which tasks to install
        assert re.search(rf"kubectl apply -f \S+/task/{task}/[\d.]+/{task}\.yaml", text), task


def test_the_quick_start_appends_the_buildpack() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text[text.index("## Quick start") : text.index("## Kubernetes probes")]
    [command] = re.findall(r"^pack build .*?(?<!\\)$", quick, re.M | re.S)
    assert "--post-buildpack ghcr.io/probe-assets/github-assets:" in command
    assert "--buildpack " not in command
    descriptors = [
        toml.loads(b)
        for b in re.findall(r"^```toml\n(.*?)^```", quick, re.M | re.S)
        if "io.buildpacks" in b
    ]
    [post] = [d["io"]["buildpacks"]["post"]["group"] for d in descriptors if "io" in d]
    assert post[0]["uri"].startswith("ghcr.io/probe-assets/github-assets:")
    assert "docker://" not in quick.replace("docker://host:port", "")
