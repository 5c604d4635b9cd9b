"""What an executed chapter depends on, as one hash.

Jupyter Book's own cache hashes only a notebook's code cells, so an edit in ``lib/`` never re-executes a chapter
(jupyter-book#1633). The fingerprint here closes that gap: it covers

* the notebook's cells (sources and metadata, not outputs), the parameters it runs with,
* every ``lib`` module the notebook imports, followed transitively through the modules' own imports,
* ``requirements.txt`` (the pinned environment), and
* any extra files the notebook declares in its metadata as ``{"rmt": {"depends_on": ["glob", ...]}}``
  (e.g. a results table it reads), relative to the repository root.

So an edit to ``lib/spacings.py`` re-executes exactly the chapters that import it, directly or through another
module, and nothing else.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any

import nbformat

LIB_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = LIB_DIR.parent


def _module_file(module: str) -> Path | None:
    """Source file of a ``lib`` module name such as ``lib.rmt.spacings`` (None outside ``lib``)."""
    parts = module.split(".")
    if parts[0] != "lib":
        return None
    base = LIB_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_lib_modules(source: str, package: str = "lib") -> set[str]:
    """Names of ``lib`` modules imported by Python ``source`` (relative imports resolved against ``package``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # IPython magics or shell escapes: keep what can be parsed line by line.
        lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            return {"lib"}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "lib")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "lib":
                continue
            found.add(mod)
            # `from lib import spacings` names a module, not an attribute.
            found.update(f"{mod}.{alias.name}" for alias in node.names if _module_file(f"{mod}.{alias.name}"))
    return found


def lib_dependencies(sources: list[str]) -> list[Path]:
    """Files of every ``lib`` module reached from ``sources`` through imports, transitively, sorted.

    ``lib/__init__.py`` is always included: it carries the library version.
    """
    todo = set().union(*(_imported_lib_modules(s) for s in sources)) if sources else set()
    todo.add("lib")
    seen: dict[str, Path] = {}
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        path = _module_file(mod)
        if path is None:
            continue
        seen[mod] = path
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0] or "lib"
        todo |= _imported_lib_modules(path.read_text(), package=package) - seen.keys()
        # a submodule import also executes its parent packages
        parts = mod.split(".")
        todo |= {".".join(parts[:i]) for i in range(1, len(parts))} - seen.keys()
    return sorted(set(seen.values()))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def notebook_fingerprint(notebook: Path, parameters: dict[str, Any]) -> str:
    """Hash of everything that determines the executed ``notebook`` run with ``parameters`` (see module doc)."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [
        {"type": c.cell_type, "source": c.source, "metadata": c.get("metadata", {})} for c in nb.cells
    ]
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    h = hashlib.sha256()
    h.update(json.dumps({"cells": cells, "parameters": parameters}, sort_keys=True, default=str).encode())
    depends = [REPO_ROOT / "requirements.txt", *lib_dependencies(code)]
    for pattern in nb.metadata.get("rmt", {}).get("depends_on", []):
        depends.extend(sorted(REPO_ROOT.glob(pattern)))
    for path in depends:
        if path.is_file():
            h.update(str(path.relative_to(REPO_ROOT)).encode())
            h.update(_sha256(path.read_bytes()).encode())
    return h.hexdigest()
