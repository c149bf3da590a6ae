"""The package's import graph: no cycle, and the layering the README draws."""

from __future__ import annotations

import ast
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


def test_the_layers_import_only_downwards() -> None:
    """Spec and pure model never reach the network; the pipeline writes no CNB files."""
    g = graph()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in g.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    network = {m for m in g if m.startswith("github_assets.sources.")}
    pure = ("config", "detect", "layers", "verify", "settings", "cnb.plan")
    for name in pure:
        assert not reach(f"github_assets.{name}") & network, name
    assert not reach("github_assets.pipeline") & {
        "github_assets.cnb.launch",
        "github_assets.cnb.sbom",
    }
    assert not reach("github_assets.sources.github") & {
        "github_assets.build",
        "github_assets.install",
    }
