"""Open every page of the built book in headless Chromium, offline, as a reader would.

Checks, per page: no console errors or uncaught exceptions, no request leaves the machine (the book must read
offline: MathJax is bundled, figures are embedded), no broken image, and no unrendered math (a ``$...$`` left in the
prose, or a MyST math node that MathJax did not typeset). And, as a reader would see it: no raw Markdown table
(a line of prose or output that starts with ``|`` and contains `` | ``, outside ``pre``/``code``); every citation link
to the bibliography (``bibliography.html#id``) lands on an anchor that exists there; and on chapter pages
(``chapters/*.html``) every image in a cell output sits in a ``figure`` whose ``figcaption`` carries a numbered caption
(``Fig. N.M``), the verdict table is a real HTML ``table.verdict-table`` with at least one body row, and every
output figure is readable at the size the page shows it: its smallest font (``lib.book.plotting.MIN_FONT_PT`` at the
PNG's recorded dpi) scaled by the displayed over the natural width is at least ``MIN_DISPLAY_PT`` CSS points. A
full-page screenshot of each page is saved next to the book in ``<book>/../screenshots``.

Needs a built book (``make book``; CI passes ``--book-html _build/smoke/html``) and Debian's ``chromium``, which the
``browser`` fixture (``conftest.py``) installs with apt-get when it is missing and it runs as root; otherwise the test
is skipped, saying why.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from PIL import Image

from lib.book.fingerprint import REPO_ROOT
from lib.book.plotting import MIN_FONT_PT

# `$x$` or `$$x$$` left in visible prose (code, pre and rendered math are excluded before matching)
DOLLAR_MATH = re.compile(r"\$\$?[^$\s][^$]*\$\$?")


@pytest.fixture(scope="module")
def book_html(request: pytest.FixtureRequest) -> Path:
    option = request.config.getoption("--book-html")
    path = Path(option) if option else REPO_ROOT / "_build" / "html"
    if not (path / "index.html").is_file():
        pytest.skip(f"no built book at {path} (run `make book`, or pass --book-html DIR)")
    return path


@pytest.fixture(scope="module")
def server(book_html: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(book_html))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


REDIRECT = re.compile(r'http-equiv="Refresh" content="0; url=([^"]+)"', re.IGNORECASE)


def _pages(book_html: Path) -> list[str]:
    """The book's content pages; a redirect page (Jupyter Book's index.html) must point at one of them."""
    skip = {"genindex.html", "search.html"}
    pages = []
    for p in sorted(book_html.rglob("*.html")):
        rel = p.relative_to(book_html)
        if rel.parts[0].startswith("_") or p.name in skip:
            continue
        redirect = REDIRECT.search(p.read_text(errors="replace"))
        if redirect:
            assert (p.parent / redirect.group(1)).is_file(), f"{rel} redirects to a missing page {redirect.group(1)}"
            continue
        pages.append(str(rel))
    return pages


UNRENDERED_JS = """() => {
  const main = document.querySelector('article') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, mjx-container, script, style, .cell_output').forEach(e => e.remove());
  const untypeset = [...main.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container'))
    .map(e => e.textContent.slice(0, 60));
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
  return {text: clone.innerText, untypeset, broken};
}"""

# What a reader would notice: raw Markdown tables, uncaptioned output figures, the verdict table, citation targets.
READER_JS = r"""() => {
  const main = document.querySelector('article') || document.body;
  const inCode = n => !!(n.nodeType === 1 ? n : n.parentElement).closest('pre, code, script, style');
  const isRow = t => t.startsWith('|') && t.includes(' | ');
  const rawTables = new Set();
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (inCode(n) || n.parentElement.closest('p')) continue;  // paragraphs are read whole below
    n.textContent.split('\n').map(l => l.trim()).filter(isRow).forEach(l => rawTables.add(l.slice(0, 60)));
  }
  main.querySelectorAll('p').forEach(p => {
    if (inCode(p)) return;
    p.innerText.split('\n').map(l => l.trim()).filter(isRow).forEach(l => rawTables.add(l.slice(0, 60)));
  });
  const uncaptioned = [...main.querySelectorAll('.cell_output img')].filter(img => {
    const fig = img.closest('figure');
    const num = fig && fig.querySelector('figcaption .caption-number');
    return !(num && /^Fig\.\s*\d+\.\d+/.test(num.textContent.trim()));
  }).map(img => (img.getAttribute('src') || '').slice(0, 80));
  const verdictRows = [...main.querySelectorAll('table.verdict-table')]
    .map(t => t.querySelectorAll('tbody tr').length);
  const citations = [...main.querySelectorAll('a[href*="bibliography.html#"]')].map(a => {
    const u = new URL(a.href);
    return {path: u.pathname, id: decodeURIComponent(u.hash.slice(1)), text: a.textContent.trim().slice(0, 40)};
  });
  return {rawTables: [...rawTables], uncaptioned, verdictRows, citations};
}"""

IDS_JS = "() => [...document.querySelectorAll('[id]')].map(e => e.id)"

# Every output figure's file, natural and displayed width (CSS px), and the figure's name (its HTML id).
FIGURES_JS = """() => [...(document.querySelector('article') || document.body).querySelectorAll('.cell_output img')]
  .map(img => ({src: img.getAttribute('src') || '', natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
                name: (img.closest('figure') || {}).id || ''}))"""

#: The smallest font a reader should see in a figure, in CSS points (1 pt = 96/72 CSS px).
MIN_DISPLAY_PT = 10.0


def _figure_font_problems(page_path: Path, figures: list[dict[str, Any]]) -> list[str]:
    """Output figures whose smallest font shows below ``MIN_DISPLAY_PT``: a font of ``MIN_FONT_PT`` points is
    ``MIN_FONT_PT * dpi / 72`` PNG pixels (dpi from the PNG's pHYs chunk, which matplotlib writes), shown at
    ``shown / natural`` CSS px per PNG pixel, and a CSS px is 72/96 pt."""
    errors = []
    for fig in figures:
        if not fig["natural"] or fig["src"].startswith("data:"):
            continue  # a broken image is reported as such; inline data is not a cell's PNG
        with Image.open((page_path.parent / fig["src"]).resolve()) as png:
            dpi = png.info.get("dpi", (None,))[0]
        name = fig["name"] or fig["src"][:60]
        if dpi is None:
            errors.append(f"figure {name}: its PNG records no dpi (not drawn by matplotlib with the book's style?)")
            continue
        scale = fig["shown"] / fig["natural"]
        shown_pt = MIN_FONT_PT * dpi / 72 * scale * 72 / 96
        if shown_pt < MIN_DISPLAY_PT:
            errors.append(f"figure {name}: its {MIN_FONT_PT} pt fonts show at {shown_pt:.1f} pt (< {MIN_DISPLAY_PT}): "
                          f"{fig['natural']} px wide at {dpi:.0f} dpi, shrunk to {fig['shown']:.0f} px")
    return errors


def _reader_problems(rel: str, found: dict[str, Any], bib_path: str, bib_ids: set[str] | None) -> list[str]:
    """The reader's checks on one page, from what ``READER_JS`` found there."""
    errors = [f"raw Markdown table text: {t!r}" for t in found["rawTables"]]
    if rel.startswith("chapters/"):
        errors += [f"output image without a numbered figure caption: {src}" for src in found["uncaptioned"]]
        if not any(found["verdictRows"]):
            errors.append("no HTML verdict table (table.verdict-table with a body row)")
    for cite in found["citations"]:
        target = f"bibliography.html#{cite['id']}"
        if cite["path"] != bib_path:
            errors.append(f"citation {cite['text']!r} links to {cite['path']}#{cite['id']}, not the bibliography page")
        elif bib_ids is None:
            errors.append(f"citation {cite['text']!r} links to {target}, but the book has no bibliography page")
        elif cite["id"] not in bib_ids:
            errors.append(f"citation {cite['text']!r} links to {target}, which has no such anchor")
    return errors


def test_every_page_renders_offline_without_errors(book_html: Path, server: str, browser: Any) -> None:
    shots = book_html.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    problems: list[str] = []
    pages = _pages(book_html)
    assert pages, f"no pages found in {book_html}"
    bib_path = "/bibliography.html"
    bib_ids: set[str] | None = None
    if (book_html / "bibliography.html").is_file():
        bib = browser.new_page()
        bib.goto(f"{server}{bib_path}", wait_until="load")
        bib_ids = set(bib.evaluate(IDS_JS))
        bib.close()
    for rel in pages:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m, errors=errors: m.type == "error" and errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e, errors=errors: errors.append(f"exception: {e}"))

        def route(r, errors=errors):  # every request must stay on the local server
            host = urlparse(r.request.url).hostname
            if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
                r.continue_()
            else:
                errors.append(f"network request to {r.request.url}")
                r.abort()

        page.route("**/*", route)
        page.goto(f"{server}/{rel}", wait_until="load")
        page.wait_for_function("!window.MathJax || !MathJax.startup || MathJax.startup.promise", timeout=30000)
        page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        found = page.evaluate(UNRENDERED_JS)
        errors += [f"broken image {src}" for src in found["broken"]]
        errors += [f"math not typeset: {t!r}" for t in found["untypeset"]]
        errors += [f"unrendered $-math: {m[:60]!r}" for m in DOLLAR_MATH.findall(found["text"])]
        errors += _reader_problems(rel, page.evaluate(READER_JS), bib_path, bib_ids)
        errors += _figure_font_problems(book_html / rel, page.evaluate(FIGURES_JS))
        page.screenshot(path=str(shots / (rel.replace("/", "__").removesuffix(".html") + ".png")), full_page=True)
        problems += [f"{rel}: {e}" for e in errors]
        page.close()
    assert not problems, "\n".join(problems)
