"""Render executed chapter notebooks as the book, without executing anything.

The committed notebooks carry no outputs. A batch run (``lib.batch``) writes executed copies under
``<out>/chapters``; this module stages them next to the book's pages and configuration in ``<work>/book`` and
runs Jupyter Book 1.x's Sphinx build on that stage with ``execute_notebooks: "off"`` (set in ``_config.yml``).
Files are copied only when their bytes changed, so Sphinx's incremental build re-renders only what changed.
Warnings are errors: a page that renders with missing outputs fails the build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from lib.fingerprint import REPO_ROOT
from lib.profiles import toc_files

#: Book files other than the pages named in the table of contents.
BOOK_FILES = ("_config.yml", "_toc.yml", "references.bib")
BOOK_DIRS = ("_static",)


class BookBuildError(RuntimeError):
    """The book could not be staged or rendered."""


def _sync(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` unless ``dst`` already has the same bytes (keeps mtimes for Sphinx)."""
    if dst.is_file() and dst.read_bytes() == src.read_bytes():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(dst)


def stage(executed_dir: Path, stage_dir: Path, root: Path = REPO_ROOT) -> list[Path]:
    """Lay out the book in ``stage_dir``: config, pages from the repository, chapters from ``executed_dir``.

    ``executed_dir`` mirrors the repository's layout: the executed ``chapters/x.ipynb`` is
    ``executed_dir / "chapters/x.ipynb"``.

    ``root`` is the book's source folder (default: this repository). Returns the staged files. A chapter in the
    table of contents without an executed copy is an error.
    """
    staged: list[Path] = []
    for name in BOOK_FILES:
        if (root / name).is_file():
            _sync(root / name, stage_dir / name)
            staged.append(stage_dir / name)
    for dirname in BOOK_DIRS:
        for src in sorted((root / dirname).rglob("*")) if (root / dirname).is_dir() else []:
            if src.is_file():
                _sync(src, stage_dir / src.relative_to(root))
                staged.append(stage_dir / src.relative_to(root))
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    for entry in [toc["root"], *toc_files(toc)]:
        entry = str(entry)
        for suffix in (".md", ".ipynb"):
            if (root / f"{entry}{suffix}").is_file():
                break
        else:
            raise BookBuildError(f"_toc.yml names {entry!r}, but neither {entry}.md nor {entry}.ipynb exists")
        if suffix == ".md":
            src = root / f"{entry}.md"
        else:
            src = executed_dir / f"{entry}.ipynb"
            if not src.is_file():
                raise BookBuildError(f"chapter {entry!r} has not been executed: expected {src}")
        _sync(src, stage_dir / f"{entry}{suffix}")
        staged.append(stage_dir / f"{entry}{suffix}")
    return staged


def build(executed_dir: Path, html_dir: Path, work_dir: Path, root: Path = REPO_ROOT) -> Path:
    """Stage and render the book; return the path of ``index.html``.

    ``work_dir`` holds the stage (``book/``) and Sphinx's environment (``.doctrees/``) between builds.
    """
    from jupyter_book.config import get_final_config
    from jupyter_book.sphinx import build_sphinx

    stage_dir = work_dir / "book"
    stage(executed_dir, stage_dir, root)
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
        really_quiet=False,
        quiet=True,
    )
    if status != 0:
        raise BookBuildError(f"Sphinx failed (status {status}); the warnings above name the page and line")
    index = html_dir / "index.html"
    if not index.is_file():
        raise BookBuildError(f"the build finished but {index} is missing")
    return index
