"""Parameter profiles of the chapters: which parameters each chapter runs with.

A profile is a YAML file ``chapters/params/<name>.yaml`` with one mapping per chapter (keyed by the notebook's
stem, e.g. ``01_rmt_baselines``) of parameter overrides; a chapter that is absent runs with its notebook defaults.
``quick`` holds no overrides (the defaults the book is built with), ``smoke`` tiny sizes for CI, ``paper`` the
papers' own scale. The chapters themselves are the ``.ipynb`` files listed in ``_toc.yml``.

Everything is validated before anything runs: malformed YAML and duplicate keys (with file and line), unknown
chapters, unknown parameter names, values whose type does not match the notebook's default, and values out of the
default's range. The accepted values of a parameter follow from its default:

* an int default >= 1 takes ints >= 1, one >= 0 ints >= 0 (a bool is not an int);
* a float default takes finite numbers, > 0 when the default is > 0 and >= 0 when it is 0;
* a non-empty str, list or dict default takes only non-empty ones; a list's elements are checked against the kinds
  (and ranges) of the default's elements;
* an empty value (``--set chapter.param=``, ``param:`` in a file) is refused.

An annotation in the ``parameters`` cell states the accepted values instead (see :func:`parse_annotation`); it is
needed where the default is ``None`` and wherever the default's range is too narrow::

    max_batches: "Optional[PositiveInt]" = None
    n_hessian: "NonNegativeInt" = 400  # 0: all samples

Quoted, the annotation is a plain string to the kernel, and papermill's parameter inspection reads it
(``int | None`` works too, but papermill's inspection then reports the parameter as unknown). YAML numbers such as
``1e3`` and ``1e-3`` are read as floats (YAML 1.1 would read them as strings).
"""

from __future__ import annotations

import ast
import itertools
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from lib.book.fingerprint import REPO_ROOT


def profile_dir(root: Path = REPO_ROOT) -> Path:
    """Folder of the profile files of the book rooted at ``root``."""
    return root / "chapters" / "params"


class ProfileError(ValueError):
    """A profile, override or grid that does not fit the chapters."""


class _Loader(yaml.SafeLoader):
    """YAML's safe loader that refuses duplicate keys and reads ``1e3`` and ``1e-3`` as floats."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {seen[key].line + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def read_yaml(text: str, source: str) -> tuple[Any, dict[Any, int]]:
    """Parse YAML ``text`` (see :class:`_Loader`); return the data and the line of each top-level key.

    Raises :class:`ProfileError` naming ``source`` (a file name or an override) and the line of a syntax error
    or a duplicate key.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}, line {mark.line + 1}" if mark else source
        problem = "; ".join(p for p in (exc.context, exc.problem) if p)
        raise ProfileError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{source}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[Any, int] = {}
    if isinstance(node, yaml.MappingNode):
        lines = {key.value: key.start_mark.line + 1 for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
    return data, lines


@dataclass(frozen=True)
class Rule:
    """One accepted form of a parameter value: a kind, and for numbers a lower bound, for lists their elements."""

    kind: type
    minimum: float | None = None  # numbers: lower bound
    strict: bool = False  # numbers: the bound itself excluded
    nonempty: bool = False  # str, list, dict
    items: tuple[Rule, ...] = ()  # list: accepted forms of each element (empty: any element)

    def describe(self) -> str:
        """The rule in words, as error messages show it."""
        name = "None" if self.kind is type(None) else self.kind.__name__
        if self.kind in (int, float):
            bound = f" {'>' if self.strict else '>='} {self.minimum:g}" if self.minimum is not None else ""
            return f"{name}{bound}{' (finite)' if self.kind is float else ''}"
        text = f"non-empty {name}" if self.nonempty else name
        if self.items:
            text += " of " + " | ".join(item.describe() for item in self.items)
        return text

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has this rule's kind, range and (for lists) elements."""
        if self.kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        elif self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, self.kind)
        if not ok:
            return False
        if self.minimum is not None and (value <= self.minimum if self.strict else value < self.minimum):
            return False
        if self.nonempty and not value:
            return False
        return not self.items or all(any(r.accepts(v) for r in self.items) for v in value)


def _rules_of_default(default: Any) -> tuple[Rule, ...]:
    """The accepted forms of a value for a parameter whose default is ``default`` (see the module doc)."""
    if default is None:
        return ()
    if isinstance(default, bool):
        return (Rule(bool),)
    if isinstance(default, int):
        return (Rule(int, minimum=1 if default >= 1 else 0 if default >= 0 else None),)
    if isinstance(default, float):
        if not math.isfinite(default) or default < 0:
            return (Rule(float),)
        return (Rule(float, minimum=0.0, strict=default > 0),)
    if isinstance(default, str | dict):
        return (Rule(type(default), nonempty=bool(default)),)
    if isinstance(default, list):
        return (Rule(list, nonempty=bool(default), items=_merge([r for v in default for r in _rules_of_default(v)])),)
    return (Rule(type(default)),)


def _merge(rules: list[Rule]) -> tuple[Rule, ...]:
    """One rule per kind, as loose as the loosest of ``rules`` of that kind (the elements of a default list)."""
    merged: dict[type, Rule] = {}
    for rule in rules:
        old = merged.get(rule.kind)
        if old is None:
            merged[rule.kind] = rule
            continue
        if old.minimum is None or rule.minimum is None:
            minimum, strict = None, False
        else:
            minimum = min(old.minimum, rule.minimum)
            strict = all(r.strict for r in (old, rule) if r.minimum == minimum)
        items = _merge([*old.items, *rule.items]) if old.items and rule.items else ()
        merged[rule.kind] = Rule(rule.kind, minimum, strict, old.nonempty and rule.nonempty, items)
    return tuple(merged.values())


_NAMED: dict[str, Rule] = {
    "int": Rule(int), "float": Rule(float), "str": Rule(str), "bool": Rule(bool), "list": Rule(list),
    "dict": Rule(dict), "None": Rule(type(None)),
    "PositiveInt": Rule(int, 1), "NonNegativeInt": Rule(int, 0),
    "PositiveFloat": Rule(float, 0.0, strict=True), "NonNegativeFloat": Rule(float, 0.0),
}


def parse_annotation(text: str) -> tuple[Rule, ...]:
    """The rules of an annotation such as ``int | None``, ``Optional[PositiveInt]`` or ``list[PositiveFloat]``.

    Names: ``int``, ``float``, ``str``, ``bool``, ``list``, ``dict``, ``None`` and the bounded ``PositiveInt``,
    ``NonNegativeInt``, ``PositiveFloat``, ``NonNegativeFloat``; combined by ``|``, ``Optional[...]``,
    ``Union[...]`` and ``list[...]`` (or ``List[...]``). Raises :class:`ValueError` for anything else.
    """

    def rules(node: ast.expr) -> tuple[Rule, ...]:
        if isinstance(node, ast.Constant) and node.value is None:
            return (_NAMED["None"],)
        if isinstance(node, ast.Name) and node.id in _NAMED:
            return (_NAMED[node.id],)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return rules(node.left) + rules(node.right)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            inner = tuple(r for arg in args for r in rules(arg))
            if node.value.id == "Optional" and len(args) == 1:
                return inner + (_NAMED["None"],)
            if node.value.id == "Union":
                return inner
            if node.value.id in ("list", "List") and len(args) == 1:
                return (Rule(list, items=inner),)
        raise ValueError(f"cannot read {ast.unparse(node)!r} of annotation {text!r}")

    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot read annotation {text!r}") from None
    return rules(tree.body)


@dataclass(frozen=True)
class Chapter:
    """A chapter notebook, the parameters its ``parameters`` cell declares (name -> default value) and the
    accepted values of each (from its annotation or, without one, from its default)."""

    name: str
    path: Path
    defaults: dict[str, Any]
    rules: dict[str, tuple[Rule, ...]] = field(default_factory=dict)


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


def _parameters_cell(path: Path) -> tuple[dict[str, Any], dict[str, tuple[Rule, ...] | None]]:
    """Evaluate the notebook's ``parameters`` cell (plain assignments of literals) into name -> value, and read
    its annotations into name -> rules (None for a parameter without annotation)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ProfileError(f"{path.name}: expected exactly one cell tagged 'parameters', found {len(cells)}")
    source = cells[0].source
    namespace: dict[str, Any] = {}
    # the cell holds literal assignments only (house rule), so running it is how we read the defaults
    exec(compile(source, f"{path.name}:parameters", "exec"), {}, namespace)
    defaults = {k: v for k, v in namespace.items() if not k.startswith("_")}
    annotations: dict[str, tuple[Rule, ...] | None] = dict.fromkeys(defaults)
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id in defaults:
            name, ann = node.target.id, node.annotation
            text = ann.value if isinstance(ann, ast.Constant) and isinstance(ann.value, str) else ast.unparse(ann)
            try:
                annotations[name] = parse_annotation(text)
            except ValueError as exc:
                raise ProfileError(f"{path.name}: parameter {name!r}: {exc} (see lib.book.profiles)") from None
    return defaults, annotations


def _rules(chapter: str, defaults: dict[str, Any], annotations: dict[str, tuple[Rule, ...] | None]
           ) -> dict[str, tuple[Rule, ...]]:
    """Each parameter's rules: its annotation's, with non-emptiness from the default, else the default's own.

    A parameter with default ``None`` and no annotation gets no rules (every value is refused); an annotated
    default that its own annotation refuses is an error.
    """
    rules: dict[str, tuple[Rule, ...]] = {}
    for name, default in defaults.items():
        annotated = annotations.get(name)
        if annotated is None:
            rules[name] = _rules_of_default(default)
            continue
        nonempty = isinstance(default, str | list | dict) and bool(default)
        rules[name] = tuple(replace(r, nonempty=nonempty and isinstance(default, r.kind)) for r in annotated)
        if not any(r.accepts(default) for r in rules[name]):
            raise ProfileError(f"chapter {chapter!r}: the default {default!r} of parameter {name!r} does not fit "
                               f"its annotation ({' | '.join(r.describe() for r in rules[name])})")
    return rules


def chapters(root: Path = REPO_ROOT) -> dict[str, Chapter]:
    """The notebook chapters of the book, in table-of-contents order, keyed by notebook stem."""
    toc, _ = read_yaml((root / "_toc.yml").read_text(), str(root / "_toc.yml"))
    found: dict[str, Chapter] = {}
    for entry in toc_files(toc):
        path = root / f"{entry}.ipynb" if not entry.endswith(".ipynb") else root / entry
        if path.is_file():
            defaults, annotations = _parameters_cell(path)
            found[path.stem] = Chapter(path.stem, path, defaults, _rules(path.stem, defaults, annotations))
    return found


def _check_value(chapter: Chapter, name: str, value: Any) -> None:
    """Raise :class:`ProfileError` unless ``value`` is an accepted value of parameter ``name`` of ``chapter``."""
    if name not in chapter.defaults:
        known = ", ".join(sorted(chapter.defaults)) or "none"
        raise ProfileError(f"chapter {chapter.name!r} has no parameter {name!r} (its parameters: {known})")
    default = chapter.defaults[name]
    rules = chapter.rules.get(name, _rules_of_default(default))
    if not rules:
        raise ProfileError(
            f"chapter {chapter.name!r}: parameter {name!r} has the default None and no annotation, so the values "
            f"it takes are unknown; annotate it in the parameters cell, e.g. `{name}: int | None = None`"
        )
    if value is None and not any(r.kind is type(None) for r in rules):
        raise ProfileError(f"chapter {chapter.name!r}: parameter {name!r} got an empty value "
                           f"(expects {' | '.join(r.describe() for r in rules)}, default {default!r})")
    if not any(r.accepts(value) for r in rules):
        raise ProfileError(
            f"chapter {chapter.name!r}: parameter {name!r} expects {' | '.join(r.describe() for r in rules)} "
            f"(default {default!r}), got {type(value).__name__} {value!r}"
        )


def _read_file(path: Path, what: str) -> tuple[dict[Any, Any], dict[Any, int]]:
    """A YAML file that must hold a mapping (or nothing), with the lines of its keys."""
    data, lines = read_yaml(path.read_text(), str(path))
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of {what}, got {type(data).__name__} {data!r:.60}")
    return data, lines


def load_profile(name: str, known: dict[str, Chapter], root: Path = REPO_ROOT) -> dict[str, dict[str, Any]]:
    """Overrides of profile ``name`` per chapter (every known chapter present, possibly empty), validated."""
    path = profile_dir(root) / f"{name}.yaml"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in profile_dir(root).glob("*.yaml"))) or "none"
        raise ProfileError(f"profile {name!r} not found: expected {path} (available profiles: {available})")
    data, lines = _read_file(path, "chapter -> parameters")
    result: dict[str, dict[str, Any]] = {c: {} for c in known}
    for chapter, params in data.items():
        where = f"{path}, line {lines.get(chapter, '?')}"
        if chapter not in known:
            raise ProfileError(f"{where}: unknown chapter {chapter!r} (chapters: {', '.join(known)})")
        if params is not None and not isinstance(params, dict):
            raise ProfileError(f"{where}: chapter {chapter!r} needs a mapping param -> value, "
                               f"got {type(params).__name__} {params!r:.60}")
        for key, value in (params or {}).items():
            try:
                _check_value(known[chapter], key, value)
            except ProfileError as exc:
                raise ProfileError(f"{where}: {exc}") from None
        result[chapter] = dict(params or {})
    return result


def parse_override(text: str, known: dict[str, Chapter]) -> tuple[str, str, Any]:
    """Parse ``chapter.param=value`` (value read as YAML, so ``3``, ``0.5``, ``1e-3``, ``true``, ``[1, 2]`` work)."""
    target, sep, raw = text.partition("=")
    chapter, dot, param = target.partition(".")
    if not sep or not dot or not chapter or not param:
        raise ProfileError(f"override {text!r} is not of the form chapter.param=value")
    if chapter not in known:
        raise ProfileError(f"override {text!r}: unknown chapter {chapter!r} (chapters: {', '.join(known)})")
    if not raw.strip():
        raise ProfileError(f"override {text!r} has an empty value")
    value, _ = read_yaml(raw, f"override {text!r}")
    _check_value(known[chapter], param, value)
    return chapter, param, value


def expand_grid(path: Path, known: dict[str, Chapter]) -> dict[str, list[dict[str, Any]]]:
    """Read a sweep file ``{chapter: {param: [v1, v2, ...], ...}}`` into the cartesian product per chapter.

    A scalar instead of a list is a one-value axis; a value listed twice on an axis runs once.
    """
    if not path.is_file():
        raise ProfileError(f"grid file not found: {path}")
    data, lines = _read_file(path, "chapter -> {param: [values]}")
    grids: dict[str, list[dict[str, Any]]] = {}
    for chapter, axes in data.items():
        where = f"{path}, line {lines.get(chapter, '?')}"
        if chapter not in known:
            raise ProfileError(f"{where}: unknown chapter {chapter!r} (chapters: {', '.join(known)})")
        if not isinstance(axes, dict) or not axes:
            raise ProfileError(f"{where}: chapter {chapter!r} needs a mapping param -> list of values")
        names = list(axes)
        values = [v if isinstance(v, list) else [v] for v in axes.values()]
        for name, vals in zip(names, values, strict=True):
            if not vals:
                raise ProfileError(f"{where}: parameter {chapter}.{name} has an empty list of values")
            for v in vals:
                try:
                    _check_value(known[chapter], name, v)
                except ProfileError as exc:
                    raise ProfileError(f"{where}: {exc}") from None
        points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
        grids[chapter] = [p for i, p in enumerate(points) if p not in points[:i]]
    return grids
