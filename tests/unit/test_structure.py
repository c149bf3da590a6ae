"""The package's import graph: no cycle, and the layering the README draws."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "src" / "github_assets"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path: Path) -> set[str]:
    """Modules of the package that path imports at run time (lazy imports included)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    modules = {_module_name(p) for p in PKG.rglob("*.py")}

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.ImportFrom) and child.level:
                base = package.split(".")
                base = base[: len(base) - (child.level - 1)]
                target = ".".join([*base, *([child.module] if child.module else [])])
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    out.add(sub if sub in modules else target)
            elif isinstance(child, ast.ImportFrom) and (child.module or "").startswith(
                "github_assets"
            ):
                out.add(str(child.module))
            visit(child)

    visit(ast.parse(path.read_text()))
    out.discard(name)
    out.discard("github_assets")  # the package's __init__ holds constants only
    return out


def graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(PKG.rglob("*.py"))}


def test_the_package_has_no_import_cycle() -> None:
    g = graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for node in g:
        if node not in state:
            walk(node, [node])
    assert cycles == []


def reach(g: dict[str, set[str]], start: str) -> set[str]:
    """Every module start imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for nxt in g.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_layers_import_only_downwards() -> None:
    """Spec and pure model never reach the network; the pipeline writes no CNB files."""
    g = graph()

    def reach(start: str) -> set[str]:
        return globals()["reach"](g, start)

    network = {m for m in g if m.startswith("github_assets.sources.")}
    pure = ("config", "detect", "layers", "verify", "settings", "cnb.plan")
    for name in pure:
        assert not reach(f"github_assets.{name}") & network, name
    assert not reach("github_assets.pipeline") & {
        "github_assets.cnb.files",
        "github_assets.cnb.sbom",
    }
    assert not reach("github_assets.sources.github") & {
        "github_assets.build",
        "github_assets.install",
    }


CNB = "github_assets.cnb"
PHASES = {"github_assets.build", "github_assets.install", "github_assets.layers"}


def test_the_pipeline_is_free_of_cnb() -> None:
    """The per-asset pipeline imports nothing of cnb/, layers, build or install: a layer
    and a plain directory are two destinations of its result (destinations.py)."""
    g = graph()
    reached = reach(g, "github_assets.pipeline")
    assert not {m for m in reached if m.startswith(CNB)}
    assert not reached & PHASES
    assert not reach(g, "github_assets.destinations") & PHASES


def test_the_phase_reaches_sources_only_through_the_pipeline_or_services() -> None:
    g = graph()
    assert not {m for m in g["github_assets.build"] if m.startswith("github_assets.sources")}
    assert "github_assets.build" not in reach(g, "github_assets.services")
    assert not {m for m in reach(g, "github_assets.services") if m.startswith(CNB)}


def test_the_command_reaches_no_cnb_module_and_not_the_build() -> None:
    """Every verb, install included (a plain directory is the pipeline's other destination)."""
    g = graph()
    for name in ("github_assets.cli", "github_assets.cli_install"):
        reached = reach(g, name)
        assert not {m for m in reached if m.startswith(CNB)}, name
        assert "github_assets.build" not in reached and "github_assets.layers" not in reached


def test_sources_never_reach_the_phases_or_cnb() -> None:
    g = graph()
    for name in [m for m in g if m.startswith("github_assets.sources")]:
        reached = reach(g, name)
        assert not reached & PHASES, name
        assert not {m for m in reached if m.startswith(CNB)}, name


def _imported(*args: str, cwd: Path) -> set[str]:
    """The package's modules a `python3 -m github_assets ...` run imports (-X importtime)."""
    env = {**os.environ, "PYTHONPATH": str(PKG.parent), "GITHUB_API_URL": "http://127.0.0.1:9"}
    env["BP_GITHUB_ASSETS_BACKOFF"] = "0.01"
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "github_assets", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    names = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()}
    assert "github_assets.cli" in names, r.stderr[-2000:]
    return {n for n in names if n.startswith("github_assets")}


def test_the_command_imports_no_cnb_module_and_not_the_build(tmp_path: Path) -> None:
    """`check`, `lock` (which resolves and hashes: the pipeline, services, sources) and
    `install` (the pipeline into a plain directory)."""
    (tmp_path / "project.toml").write_text(
        '[[metadata.githubassets]]\nrepo = "acme/probe"\nasset = "probe"\ntag = "v1"\n'
    )
    for args in (("check",), ("lock",), ("install", "--dest", "out")):
        imported = _imported(*args, cwd=tmp_path)
        assert not {m for m in imported if m.startswith(CNB)}, args
        assert "github_assets.build" not in imported, args
    # the lock run got as far as the pipeline and the HTTP stack (refused: nothing listens)
    assert {"github_assets.pipeline", "github_assets.sources.http"} <= _imported(
        "lock", cwd=tmp_path
    )


def test_every_verb_of_the_table_is_reached_through_the_package(tmp_path: Path) -> None:
    """__main__ knows the phases only; each verb of cli.VERBS is dispatched by its entry."""
    from github_assets.cli import VERBS

    env = {**os.environ, "PYTHONPATH": str(PKG.parent)}
    for verb in VERBS:
        r = subprocess.run(
            [sys.executable, "-m", "github_assets", verb, "--help"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert r.returncode == 0 and f"usage: github-assets {verb} " in r.stdout, r.stderr
    main = (PKG / "__main__.py").read_text()
    assert not [verb for verb in VERBS if f'"{verb}"' in main]


def test_value_types_are_records_not_typing_namedtuples() -> None:
    """typing.NamedTuple compiles each string annotation (0.2M instructions a field, 8M for
    the first compile of a process): the package's value types derive from Record instead,
    which builds the same class (issue 24, test_record.py)."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.ImportFrom) and node.module == "typing"
                else []
            )
            if "NamedTuple" in names and path.name != "record.py":
                found.append(f"{path.relative_to(PKG)}:{node.lineno}")
            if isinstance(node, ast.Attribute) and node.attr == "NamedTuple":
                found.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert not found, found
