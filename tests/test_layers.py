"""The layering of ``lib``, read from the imports of its source (AST, lazy imports inside functions included):
arrows point down only, ``lib.rmt`` needs no torch, and no module imports itself back through others.

``lib.diagnose`` (the "diagnose your own network" tool and its command) is the top layer, above ``lib.book``: it uses
chapter 3's calibrated rules and the verdicts of ``lib.book``, and nothing below imports it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
# bottom to top: a module may import its own layer and the layers below it
LAYERS = ("rmt", "curvature", "nets", "experiments", "book", "diagnose")
# outside the layers: the package docstring and the ``python -m lib.batch`` entry point
ENTRY_POINTS = {"lib", "lib.batch"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(LIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (top level or inside functions)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in LIB.rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules} for name, path in modules.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_lives_in_a_layer() -> None:
    strays = [m for m in _graph() if _layer(m) is None and m not in ENTRY_POINTS]
    assert not strays, f"modules outside the layer folders {LAYERS}: {strays}"


def test_arrows_point_down_only() -> None:
    upward = []
    for module, targets in _graph().items():
        layer = _layer(module)
        if layer is None:
            continue
        for target in targets:
            other = _layer(target)
            if other is not None and LAYERS.index(other) > LAYERS.index(layer):
                upward.append(f"{module} -> {target}")
    assert not upward, "imports that point up a layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycle() -> None:
    graph = _graph()
    # a package's __init__ importing its own submodules is how registration works, not a cycle through them
    edges = {m: {t for t in ts if t != m and m != t.rpartition(".")[0]} for m, ts in graph.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("layer, banned", [("rmt", ("torch", "pandas", "matplotlib")), ("curvature", ("lib.nets",))])
def test_layer_keeps_to_its_tools(layer: str, banned: tuple[str, ...]) -> None:
    hits = [f"{_module_name(p)} imports {m}" for p in (LIB / layer).rglob("*.py") for m in _imports(p)
            if m.split(".")[0] in banned or any(m == b or m.startswith(b + ".") for b in banned)]
    assert not hits, "\n".join(hits)


def test_rmt_imports_without_torch() -> None:
    code = ("import importlib, pkgutil, sys\nimport lib.rmt\n"
            "for m in pkgutil.iter_modules(lib.rmt.__path__): importlib.import_module('lib.rmt.' + m.name)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=LIB.parent)


def test_chapters_are_imported_by_nothing() -> None:
    hits = [str(p) for p in LIB.rglob("*.py") if any(m.startswith("chapters") for m in _imports(p))]
    assert not hits, hits
