"""The package's shape: no import cycles, and providers plug in through the registry."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import shipctl
from shipctl import config, provider, sandbox

PACKAGE = Path(shipctl.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Modules of shipctl that ``path`` imports anywhere (lazy imports included), except
    under ``if TYPE_CHECKING:``, which never runs."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                # `from pkg import submodule` needs the submodule, not the rest of pkg
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return {module for module in found if module in known and module != name}


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {name: _imports(path, name, known) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_registry_is_where_providers_plug_in():
    names = [p.name for p in provider.providers()]
    assert names == ["ewe", "fynd", "ecom"]
    # every config key comes from a provider, in registry order
    assert list(config.KEYS) == [key.name for p in provider.providers() for key in p.keys]
    # the sandbox serves each registered simulator and overrides what each provider declares
    simulators = [s.name for s in sandbox.default_simulators()]
    assert simulators == [p.name for p in provider.providers() if p.simulator]
    settings = provider.sandbox_setting_keys()
    assert {"ewe.url", "ewe.password", "fynd.client_secret", "ecom.password"} <= settings
    assert all(key in config.KEYS for key in settings)


def test_a_provider_package_declares_without_importing_anything_heavy():
    import subprocess
    import sys

    code = ("import sys, shipctl.provider as p; p.providers(); "
            "print(' '.join(m for m in sys.modules if m.split('.')[0] in "
            "('typer', 'requests', 'pydantic', 'rich', 'yaml', 'click')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60).stdout.split()
    assert loaded == []




PROVIDERS = ("shipctl.ewe", "shipctl.fynd", "shipctl.ecom")
LOWER = ("shipctl.batch", "shipctl.http", "shipctl.inputs")


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _core(module: str) -> bool:
    return not _within(module, PROVIDERS)


def _lower(module: str) -> bool:
    return _within(module, LOWER)


def wrong_imports(graph: dict[str, set[str]], importer: Callable[[str], bool],
                  forbidden: tuple[str, ...]) -> set[tuple[str, str]]:
    """(module, what it imports) for each module ``importer`` selects that imports something
    within ``forbidden``."""
    return {(module, imported) for module, imports in graph.items() if importer(module)
            for imported in imports if _within(imported, forbidden)}


def test_the_core_never_imports_a_provider():
    # Providers are found through the registry (shipctl.provider, by name), never imported by
    # the core: a fourth provider is its own package and one registry line.
    assert wrong_imports(import_graph(), _core, PROVIDERS) == set()


def test_the_lower_layers_never_import_the_command_line():
    # batch/, http/ and inputs/ know nothing of commands or the command line's glue.
    assert wrong_imports(import_graph(), _lower, ("shipctl.commands", "shipctl.cli")) == set()


def test_the_layer_checks_see_a_wrong_import():
    graph = {"shipctl.batch.engine": {"shipctl.commands.options"},
             "shipctl.runner": {"shipctl.ewe.modify"},
             "shipctl.ewe.modify": {"shipctl.fynd.models", "shipctl.runner"}}
    assert wrong_imports(graph, _core, PROVIDERS) == {("shipctl.runner", "shipctl.ewe.modify")}
    assert wrong_imports(graph, _lower, ("shipctl.commands",)) == {
        ("shipctl.batch.engine", "shipctl.commands.options")}
