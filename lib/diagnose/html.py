"""The stand-alone HTML report: an executed copy of chapter 10 converted by nbconvert, readable without the book.

Jupyter Book renders the chapter's MyST (citations, figure references, captions); nbconvert does not, so
:func:`readable_notebook` first turns them into plain Markdown: ``{cite}`` roles become bracketed reference numbers
with the reference list appended from ``references.bib``, ``{numref}`` roles "Figure k", and every figure cell gets its
caption (``mystnb.figure`` metadata) as a Markdown output under the image. :func:`write_html` then exports it with
the code hidden, the images embedded, the book's verdict-table style inlined and MathJax 3 (the book's pinned
offline copy, package ``sphinx-mathjax-offline``) inlined in place of nbconvert's CDN MathJax 2 and require.js: one
file that reads offline.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from lib.book.fingerprint import REPO_ROOT

__all__ = ["readable_notebook", "write_html"]

_MATHJAX_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
_REQUIRE_JS = re.compile(r'<script src="[^"]*require[^"]*"></script>')
_MATHJAX_CONFIG = ("window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], "
                   "displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']]}, svg: {fontCache: 'global'}};")
_ROLE = re.compile(r"\{(cite(?::[tp])?|numref)\}`([^`]*)`")
_FIELD = re.compile(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", re.S)


def _bibliography(path: Path) -> dict[str, dict[str, str]]:
    """Entries of a BibTeX file: key -> fields (braces stripped)."""
    entries = {}
    for chunk in path.read_text().split("@")[1:]:
        head, _, body = chunk.partition(",")
        key = head.partition("{")[2].strip()
        entries[key] = {k.lower(): re.sub(r"[{}]", "", v).replace("\n", " ") for k, v in _FIELD.findall(body)}
    return entries


def _reference(fields: dict[str, str]) -> str:
    where = fields.get("journal") or fields.get("booktitle") or fields.get("publisher") or ""
    return f"{fields.get('author', '')}. *{fields.get('title', '')}*. {where}, {fields.get('year', '')}."


def readable_notebook(notebook: dict[str, Any], bib: Path = REPO_ROOT / "references.bib") -> dict[str, Any]:
    """A copy of an executed chapter (parsed ``.ipynb``) with its MyST roles and figure captions as plain Markdown
    and a "References" cell listing the cited works in order of first citation."""
    nb = copy.deepcopy(notebook)
    figures = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("mystnb", {}).get("figure")
        if cell["cell_type"] == "code" and meta:
            figures[meta["name"]] = len(figures) + 1
            caption = f"**Figure {figures[meta['name']]}.** {meta['caption']}"
            cell["metadata"]["alt"] = f"Figure {figures[meta['name']]}: " + meta["caption"].replace("$", "")
            cell.setdefault("outputs", []).append({"output_type": "display_data", "metadata": {},
                                                   "data": {"text/markdown": caption, "text/plain": caption}})
    entries = _bibliography(bib) if bib.is_file() else {}
    cited: list[str] = []

    def replace(match: re.Match[str]) -> str:
        role, target = match.groups()
        if role == "numref":
            return f"Figure {figures[target]}" if target in figures else target
        numbers = []
        for key in (k.strip() for k in target.split(",")):
            if key not in cited:
                cited.append(key)
            numbers.append(str(cited.index(key) + 1))
        if role == "cite:t":
            names = [entries.get(k, {}).get("author", k).split(" and ")[0].split(",")[0] for k in target.split(",")]
            return ", ".join(f"{n} et al. [{i}]" for n, i in zip(names, numbers, strict=True))
        return f"[{', '.join(numbers)}]"

    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = _ROLE.sub(replace, text)
    if cited:
        lines = [f"{i}. {_reference(entries[k]) if k in entries else k}" for i, k in enumerate(cited, 1)]
        nb["cells"].append({"cell_type": "markdown", "metadata": {}, "id": "references",
                            "source": "## References\n\n" + "\n".join(lines)})
    return nb


def _offline_mathjax() -> str | None:
    """MathJax 3 (TeX input, SVG output: no font files) from the pinned ``sphinx-mathjax-offline``, or None."""
    from importlib import metadata

    try:
        dist = metadata.distribution("sphinx-mathjax-offline")
    except metadata.PackageNotFoundError:
        return None
    found = [f for f in dist.files or [] if str(f).endswith("static/mathjax/tex-svg.js")]
    return Path(dist.locate_file(found[0])).read_text() if found else None


def write_html(executed: str | Path, path: str | Path, title: str = "Curvature diagnosis") -> Path:
    """Write :func:`readable_notebook` of the executed notebook file ``executed`` as one HTML file (code hidden,
    images embedded, the book's verdict-table CSS inlined); return its path."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.from_dict(readable_notebook(nbformat.read(str(executed), as_version=4)))
    nb.metadata["title"] = title
    exporter = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True)
    body, _ = exporter.from_notebook_node(nb)
    css = (REPO_ROOT / "_static" / "verdicts.css").read_text()
    body = body.replace("</head>", f"<style>{css}</style>\n</head>", 1)
    mathjax = _offline_mathjax()
    if mathjax is not None:
        body = _REQUIRE_JS.sub("", body, count=1)
        body = _MATHJAX_BLOCK.sub(lambda _: f"<script>{_MATHJAX_CONFIG}</script>\n<script>{mathjax}</script>", body,
                                  count=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path
