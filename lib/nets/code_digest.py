"""Which source computed a result: the ``lib`` modules a module imports, followed transitively, and their digest.

A cached result is only as current as the code that computed it. The chapter fingerprint
(``lib.book.fingerprint``) and the on-disk cache (``lib.nets.cache``) both key on the source of every ``lib``
module reached from the code in question through its imports (top-level and lazy imports alike, read from the
AST, never executed), so an edit re-executes or recomputes exactly what can depend on it.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

LIB_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = LIB_DIR.parent


def module_file(module: str) -> Path | None:
    """Source file of a ``lib`` module name such as ``lib.rmt.spacings`` (None outside ``lib``)."""
    parts = module.split(".")
    if parts[0] != "lib":
        return None
    base = LIB_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_lib_modules(source: str, package: str = "lib") -> set[str]:
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
            # `from lib.rmt import spacings` names a module, not an attribute.
            found.update(f"{mod}.{alias.name}" for alias in node.names if module_file(f"{mod}.{alias.name}"))
    return found


def lib_dependencies(sources: list[str], modules: tuple[str, ...] = ()) -> list[Path]:
    """Files of every ``lib`` module reached from ``sources`` (code) and ``modules`` (names) through imports,
    transitively, sorted. ``lib/__init__.py`` is always included: it carries the library version."""
    todo = set(modules).union(*(imported_lib_modules(s) for s in sources))
    todo.add("lib")
    seen: dict[str, Path] = {}
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        path = module_file(mod)
        if path is None:
            continue
        seen[mod] = path
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0] or "lib"
        todo |= imported_lib_modules(path.read_text(), package=package) - seen.keys()
        # a submodule import also executes its parent packages
        parts = mod.split(".")
        todo |= {".".join(parts[:i]) for i in range(1, len(parts))} - seen.keys()
    return sorted(set(seen.values()))


def files_digest(paths: list[Path]) -> str:
    """SHA-256 over the repository-relative names and contents of ``paths``, in order."""
    h = hashlib.sha256()
    for path in paths:
        h.update(str(path.relative_to(REPO_ROOT)).encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


@functools.cache
def module_digest(module: str) -> str:
    """Digest of the source of ``lib`` module ``module`` and of every ``lib`` module it imports, transitively.

    Cached for the life of the process: a module edited after it was imported is not the code that runs either.
    Raises ``ValueError`` for a name that is not a ``lib`` module.
    """
    if module_file(module) is None:
        raise ValueError(f"{module!r} is not a module of lib")
    return files_digest(lib_dependencies([], (module,)))
