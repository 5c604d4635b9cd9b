"""Render executed chapter notebooks as the book, without executing anything.

The committed notebooks carry no outputs. A batch run (``lib.book.batch``) writes executed copies under
``<out>/chapters``; this module stages them next to the book's pages and configuration in ``<work>/book`` and
runs Jupyter Book 1.x's Sphinx build on that stage with ``execute_notebooks: "off"`` (set in ``_config.yml``).
While staging it

* folds the code of each chapter's cells behind a "show code" toggle (tag ``hide-input``), except the parameter
  cells and cells tagged ``show-input``, so a chapter reads as prose, figures and tables;
* adds to each chapter a "Reproduce this page" box with the exact parameters, profile, device and library version
  of the run that produced it (read from the batch's ``summary.json``), and
* writes the summary page ``verdicts.md`` from the verdict tables the chapters displayed (:mod:`lib.book.verdicts`),
* and, where a run of a chapter at another profile is recorded under ``results/`` (:mod:`lib.book.records`), adds
  its verdicts as a column beside the live ones, in the chapter's table and on the summary page.

Files are rewritten only when their bytes change, so Sphinx's incremental build re-renders only what changed.
Warnings are errors: a page that renders with missing outputs fails the build.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import yaml

from lib.book.fingerprint import REPO_ROOT
from lib.book.profiles import toc_files
from lib.book.records import load_records, recorded_columns, records_section
from lib.book.verdicts import MIME, Verdict, collect, summary_page, verdict_html

#: Book files other than the pages named in the table of contents.
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib")
BOOK_DIRS = ("_static",)
#: Pages written while staging, from the executed chapters, instead of copied from the repository.
GENERATED_PAGES = ("verdicts",)


class BookBuildError(RuntimeError):
    """The book could not be staged or rendered."""


def _write_if_changed(dst: Path, data: bytes) -> None:
    """Write ``data`` to ``dst`` atomically, unless ``dst`` already holds exactly these bytes (keeps mtimes)."""
    if dst.is_file() and dst.read_bytes() == data:
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(dst)


def _title(notebook: dict[str, Any], fallback: str) -> str:
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def reproduce_box(chapter: str, profile: str, record: dict[str, Any] | None) -> str:
    """Markdown of the "Reproduce this page" box for a chapter executed by the batch run ``record``."""
    params = (record or {}).get("parameters", {})
    # -y takes YAML (JSON is YAML), so lists and mappings survive, unlike `-p name value`
    pm_args = f"-y {shlex.quote(json.dumps(params))}" if params else ""
    shown = ", ".join(f"`{k}={v!r}`" for k, v in params.items()) or "the notebook's defaults"
    where = ""
    if record:
        where = (f" It ran on {record.get('device', '?')} with {record.get('threads', '?')} thread(s) in "
                 f"{record.get('seconds', 0):.0f} s with library version {record.get('lib_version', '?')}.")
    return (
        ":::{admonition} Reproduce this page\n:class: tip dropdown\n"
        f"This page was executed with the `{profile}` profile: {shown}.{where}\n"
        "From the repository root, after `make install`:\n\n"
        "```bash\n"
        f"python -m lib.batch --profile {profile} --chapters {chapter}   # or --profile paper for the papers' scale\n"
        f"papermill chapters/{chapter}.ipynb {chapter}.out.ipynb {pm_args}".rstrip() + "\n"
        "```\n\n"
        "Or rerun it interactively: `make lab` opens JupyterLab on this repository with the book's kernel and cache;\n"
        f"open `chapters/{chapter}.ipynb` (the download menu of this page has the executed copy), edit the\n"
        "`parameters` cell and choose Run > Run All Cells.\n"
        ":::\n"
    )


def _for_reading(notebook: dict[str, Any], box: str) -> dict[str, Any]:
    """A copy of the notebook with the box inserted after its title cell and code folded (see module doc)."""
    keep = {"parameters", "injected-parameters", "show-input", "hide-input", "remove-input", "remove-cell"}
    cells = []
    for cell in notebook.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and not keep & set(tags):
            cell = {**cell, "metadata": {**cell.get("metadata", {}), "tags": [*tags, "hide-input"]}}
        cells.append(cell)
    at = next((i + 1 for i, c in enumerate(cells) if c.get("cell_type") == "markdown"), 0)
    cells.insert(at, {"cell_type": "markdown", "id": "reproduce-this-page", "metadata": {}, "source": box})
    return {**notebook, "cells": cells}


def _with_recorded(notebook: dict[str, Any], columns: Any) -> dict[str, Any]:
    """A copy of the notebook whose verdict tables (outputs with :data:`lib.book.verdicts.MIME`) show the recorded
    ``columns`` (a function of the table's verdicts) beside the live verdicts."""
    cells = []
    for cell in notebook.get("cells", []):
        outputs = []
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data", {})
            if MIME in data:
                live = [Verdict(**v) for v in data[MIME]]
                output = {**output, "data": {**data, "text/html": verdict_html(live, columns(live))}}
            outputs.append(output)
        cells.append({**cell, "outputs": outputs} if cell.get("cell_type") == "code" else cell)
    return {**notebook, "cells": cells}


def stage(executed_dir: Path, stage_dir: Path, root: Path = REPO_ROOT, profile: str = "quick") -> list[Path]:
    """Lay out the book in ``stage_dir``: config, pages from ``root``, chapters from ``executed_dir``.

    ``executed_dir`` mirrors the repository's layout (the executed ``chapters/x.ipynb`` is
    ``executed_dir / "chapters/x.ipynb"``) and holds the batch's ``summary.json``. Returns the staged files.
    A chapter in the table of contents without an executed copy is an error.
    """
    staged: list[Path] = []

    def put(rel: str, data: bytes) -> None:
        _write_if_changed(stage_dir / rel, data)
        staged.append(stage_dir / rel)

    for name in BOOK_FILES:
        if (root / name).is_file():
            put(name, (root / name).read_bytes())
    for dirname in BOOK_DIRS:
        for src in sorted((root / dirname).rglob("*")) if (root / dirname).is_dir() else []:
            if src.is_file():
                put(str(src.relative_to(root)), src.read_bytes())

    summary = executed_dir / "summary.json"
    records = {Path(r["output"]).resolve(): r for r in json.loads(summary.read_text())} if summary.is_file() else {}
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    verdicts: list[tuple[str, str, list]] = []
    generated: list[str] = []
    try:
        run_records = load_records(root, exclude_profile=profile)
    except ValueError as exc:
        raise BookBuildError(str(exc)) from None
    recorded: dict[str, list] = {}
    titles: dict[str, tuple[str, str]] = {}
    for entry in [str(toc["root"]), *map(str, toc_files(toc))]:
        if entry in GENERATED_PAGES:
            generated.append(entry)
        elif (root / f"{entry}.md").is_file():
            put(f"{entry}.md", (root / f"{entry}.md").read_bytes())
        elif (root / f"{entry}.ipynb").is_file():
            src = executed_dir / f"{entry}.ipynb"
            if not src.is_file():
                raise BookBuildError(f"chapter {entry!r} has not been executed: expected {src}")
            notebook = json.loads(src.read_text())
            name = Path(entry).name
            live = collect(notebook)
            verdicts.append((entry, _title(notebook, name), live))
            titles[name] = (_title(notebook, name), entry)
            if run_records.get(name):
                recorded[entry] = recorded_columns(live, run_records[name], root)
                notebook = _with_recorded(notebook, lambda vs, rs=run_records[name]: recorded_columns(vs, rs, root))
            box = reproduce_box(name, profile, records.get(src.resolve()))
            put(f"{entry}.ipynb", json.dumps(_for_reading(notebook, box), indent=1).encode())
        else:
            raise BookBuildError(f"_toc.yml names {entry!r}, but neither {entry}.md nor {entry}.ipynb exists")
    for entry in generated:
        section = records_section({c: rs for c, rs in run_records.items() if c in titles}, titles, root)
        put(f"{entry}.md", summary_page([v for v in verdicts if v[2]], recorded, section).encode())
    return staged


def build(executed_dir: Path, html_dir: Path, work_dir: Path, root: Path = REPO_ROOT, profile: str = "quick") -> Path:
    """Stage and render the book; return the path of ``index.html``.

    ``work_dir`` holds the stage (``book/``) and Sphinx's environment (``.doctrees/``) between builds.
    """
    from jupyter_book.config import get_final_config
    from jupyter_book.sphinx import build_sphinx

    stage_dir = work_dir / "book"
    stage(executed_dir, stage_dir, root, profile)
    overrides = {"external_toc_path": (stage_dir / "_toc.yml").as_posix(), "latex_individualpages": False}
    config, _ = get_final_config(user_yaml=stage_dir / "_config.yml", cli_config=dict(overrides), sourcedir=stage_dir)
    # Thebe (live code) loads its JavaScript from a CDN and needs a Binder server, so the book, which reads offline,
    # leaves it out; sphinx-thebe 0.3.1 also declares its globals twice on every page, a console error.
    overrides["extensions"] = [e for e in config["extensions"] if e != "sphinx_thebe"]
    # the same call `jupyter-book build` makes, with our own output folders
    status = build_sphinx(
        str(stage_dir),
        str(html_dir),
        noconfig=True,
        path_config=str(stage_dir / "_config.yml"),
        confoverrides=overrides,
        doctreedir=str(work_dir / ".doctrees"),
        warningiserror=True,
        keep_going=True,
        quiet=True,
    )
    if status != 0:
        raise BookBuildError(f"Sphinx failed (status {status}); the warnings above name the page and line")
    index = html_dir / "index.html"
    if not index.is_file():
        raise BookBuildError(f"the build finished but {index} is missing")
    return index
