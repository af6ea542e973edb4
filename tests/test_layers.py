"""Layers point down (wiring → conversations → routing → agents → core), read from the
source with `ast`: every import counts, also one inside a function body."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "agents", "routing", "conversations", "lmos_runtime")
APPS = ("agents", "routing", "conversations")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def _project_module(name: str) -> str | None:
    """The project module `name` belongs to (`core.errors.AgentNotFound` → `core.errors`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, source: str | None = None) -> set[str]:
    """The project modules `module` imports anywhere in its body (in `source`, when given,
    instead of its file)."""
    path = MODULES.get(module, ROOT / "none.py")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            # `from package import module` uses that module, not the package's __init__.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found |= {target for target in map(_project_module, names) if target and target != module}
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def _top(module: str) -> str:
    return module.partition(".")[0]


def _arrows(source: str, targets: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, imported in GRAPH.items()
        if _top(module) == source
        for target in imported
        if _top(target) in targets
    )


def test_core_imports_no_app_and_nothing_imports_the_wiring():
    assert _arrows("core", (*APPS, "lmos_runtime")) == []
    for app in APPS:
        assert _arrows(app, ("lmos_runtime",)) == []


def test_agents_imports_neither_routing_nor_conversations():
    assert _arrows("agents", ("routing", "conversations")) == []


def test_routing_does_not_import_conversations():
    assert _arrows("routing", ("conversations",)) == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_project_modules():
    assert cycles(GRAPH) == []


def test_the_checks_see_every_kind_of_import_and_cycles():
    source = (
        "import core.errors\n"
        "from agents.models import Tenant\n"
        "from . import selectors\n"
        "def view():\n"
        "    from routing import services\n"
        "    import json\n"
    )
    assert imports_of("conversations.example", source) == {
        "core.errors",
        "agents.models",
        "conversations.selectors",
        "routing.services",
    }
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
