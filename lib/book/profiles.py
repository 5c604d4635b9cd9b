"""Parameter profiles of the chapters: which parameters each chapter runs with.

A profile is a YAML file ``chapters/params/<name>.yaml`` with one mapping per chapter (keyed by the notebook's
stem, e.g. ``01_rmt_baselines``) of parameter overrides; a chapter that is absent runs with its notebook defaults.
``quick`` holds no overrides (the defaults the book is built with), ``smoke`` tiny sizes for CI, ``paper`` the
papers' own scale. The chapters themselves are the ``.ipynb`` files listed in ``_toc.yml``.

Everything is validated before anything runs: unknown chapters, unknown parameter names and values whose type does
not match the notebook's default are errors that name the offender.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lib.book.fingerprint import REPO_ROOT


def profile_dir(root: Path = REPO_ROOT) -> Path:
    """Folder of the profile files of the book rooted at ``root``."""
    return root / "chapters" / "params"


class ProfileError(ValueError):
    """A profile, override or grid that does not fit the chapters."""


@dataclass(frozen=True)
class Chapter:
    """A chapter notebook and the parameters its ``parameters`` cell declares (name -> default value)."""

    name: str
    path: Path
    defaults: dict[str, Any]


def toc_files(toc: dict) -> list[str]:
    """Every ``file`` entry of a parsed ``_toc.yml`` (parts, chapters, sections), in order; not the root."""
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)

    walk(toc)
    return files


def _parameters_cell_defaults(path: Path) -> dict[str, Any]:
    """Evaluate the notebook's ``parameters`` cell (plain assignments of literals) into name -> value."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ProfileError(f"{path.name}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    namespace: dict[str, Any] = {}
    # the cell holds literal assignments only (house rule), so running it is how we read the defaults
    exec(compile(cells[0].source, f"{path.name}:parameters", "exec"), {}, namespace)
    return {k: v for k, v in namespace.items() if not k.startswith("_")}


def chapters(root: Path = REPO_ROOT) -> dict[str, Chapter]:
    """The notebook chapters of the book, in table-of-contents order, keyed by notebook stem."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    found: dict[str, Chapter] = {}
    for entry in toc_files(toc):
        path = root / f"{entry}.ipynb" if not entry.endswith(".ipynb") else root / entry
        if path.is_file():
            found[path.stem] = Chapter(path.stem, path, _parameters_cell_defaults(path))
    return found


def _check_value(chapter: Chapter, name: str, value: Any) -> None:
    if name not in chapter.defaults:
        known = ", ".join(sorted(chapter.defaults)) or "none"
        raise ProfileError(f"chapter {chapter.name!r} has no parameter {name!r} (its parameters: {known})")
    default = chapter.defaults[name]
    if default is None or value is None:
        return
    ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int))
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, bool):
        ok = False
    if isinstance(default, bool) != isinstance(value, bool):
        ok = False
    if not ok:
        raise ProfileError(
            f"chapter {chapter.name!r}: parameter {name!r} expects {type(default).__name__} "
            f"(default {default!r}), got {type(value).__name__} {value!r}"
        )


def load_profile(name: str, known: dict[str, Chapter], root: Path = REPO_ROOT) -> dict[str, dict[str, Any]]:
    """Overrides of profile ``name`` per chapter (every known chapter present, possibly empty), validated."""
    path = profile_dir(root) / f"{name}.yaml"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in profile_dir(root).glob("*.yaml"))) or "none"
        raise ProfileError(f"profile {name!r} not found: expected {path} (available profiles: {available})")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of chapter -> parameters, got {type(data).__name__}")
    result: dict[str, dict[str, Any]] = {c: {} for c in known}
    for chapter, params in data.items():
        if chapter not in known:
            raise ProfileError(f"{path}: unknown chapter {chapter!r} (chapters: {', '.join(known)})")
        for key, value in (params or {}).items():
            _check_value(known[chapter], key, value)
        result[chapter] = dict(params or {})
    return result


def parse_override(text: str, known: dict[str, Chapter]) -> tuple[str, str, Any]:
    """Parse ``chapter.param=value`` (value read as YAML, so ``3``, ``0.5``, ``true``, ``[1, 2]`` work)."""
    target, sep, raw = text.partition("=")
    chapter, dot, param = target.partition(".")
    if not sep or not dot or not chapter or not param:
        raise ProfileError(f"override {text!r} is not of the form chapter.param=value")
    if chapter not in known:
        raise ProfileError(f"override {text!r}: unknown chapter {chapter!r} (chapters: {', '.join(known)})")
    value = yaml.safe_load(raw)
    _check_value(known[chapter], param, value)
    return chapter, param, value


def expand_grid(path: Path, known: dict[str, Chapter]) -> dict[str, list[dict[str, Any]]]:
    """Read a sweep file ``{chapter: {param: [v1, v2, ...], ...}}`` into the cartesian product per chapter.

    A scalar instead of a list is a one-value axis.
    """
    if not path.is_file():
        raise ProfileError(f"grid file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    grids: dict[str, list[dict[str, Any]]] = {}
    for chapter, axes in data.items():
        if chapter not in known:
            raise ProfileError(f"{path}: unknown chapter {chapter!r} (chapters: {', '.join(known)})")
        if not isinstance(axes, dict) or not axes:
            raise ProfileError(f"{path}: chapter {chapter!r} needs a mapping param -> list of values")
        names = list(axes)
        values = [v if isinstance(v, list) else [v] for v in axes.values()]
        for name, vals in zip(names, values, strict=True):
            if not vals:
                raise ProfileError(f"{path}: parameter {chapter}.{name} has an empty list of values")
            for v in vals:
                _check_value(known[chapter], name, v)
        grids[chapter] = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    return grids
