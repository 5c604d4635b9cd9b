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

import hashlib
import json
from pathlib import Path
from typing import Any

import nbformat

from lib.nets.code_digest import REPO_ROOT, lib_dependencies


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint_files(nb: nbformat.NotebookNode) -> list[Path]:
    """The files besides the notebook whose contents enter its fingerprint (see module doc): ``requirements.txt``,
    the ``lib`` modules its code cells import (transitively) and the files its metadata declares."""
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    files = [REPO_ROOT / "requirements.txt", *lib_dependencies(code)]
    for pattern in nb.metadata.get("rmt", {}).get("depends_on", []):
        files.extend(sorted(REPO_ROOT.glob(pattern)))
    return files


def notebook_fingerprint(notebook: Path, parameters: dict[str, Any]) -> str:
    """Hash of everything that determines the executed ``notebook`` run with ``parameters`` (see module doc)."""
    nb = nbformat.read(notebook, as_version=4)
    cells = [
        {"type": c.cell_type, "source": c.source, "metadata": c.get("metadata", {})} for c in nb.cells
    ]
    h = hashlib.sha256()
    h.update(json.dumps({"cells": cells, "parameters": parameters}, sort_keys=True, default=str).encode())
    for path in fingerprint_files(nb):
        if path.is_file():
            h.update(str(path.relative_to(REPO_ROOT)).encode())
            h.update(_sha256(path.read_bytes()).encode())
    return h.hexdigest()
