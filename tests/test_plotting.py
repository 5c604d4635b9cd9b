"""The book's figure style fits the page: figures no wider than the content column, no font below the minimum.

The page width is a measured number (``lib.book.plotting.PAGE_WIDTH_PX``); these tests check what the style does with
it, on figures rendered exactly as the inline backend renders them (``IPython.core.pylabtools.print_figure``, dpi
``figure.dpi``, ``bbox_inches="tight"``). The browser test (``test_book_in_browser.py``) checks the built pages.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.pylabtools import print_figure
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from PIL import Image

from lib.book import plotting

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("[0-9][0-9]_*.ipynb"))
FONT_KEYS = ["font.size", "axes.titlesize", "axes.labelsize", "figure.titlesize", "legend.fontsize",
             "legend.title_fontsize", "xtick.labelsize", "ytick.labelsize"]


@pytest.fixture(autouse=True)
def book_style():
    with mpl.rc_context():
        plotting.use_book_style()
        yield
    plt.close("all")


def _render(fig: plt.Figure) -> Image.Image:
    return Image.open(io.BytesIO(print_figure(fig)))


def _fill(fig: plt.Figure, axes: np.ndarray, outside: bool, title: str, xlabel: str, legend: str) -> None:
    """Long labels, legends (outside the axes for one column of panels, as the chapters place them), a suptitle and
    a colour bar: what widens a figure the most."""
    rng = np.random.default_rng(0)
    for ax in np.ravel(axes):
        plotting.hist_with_curves(ax, rng.normal(size=500), [(legend, lambda x: x * 0)])
        ax.set(title=title, xlabel=xlabel, ylabel="density")
        if outside:
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1))
    sc = np.ravel(axes)[0].scatter([0, 1], [0, 1], c=[0, 1])
    fig.colorbar(sc, ax=list(np.ravel(axes)), label="log budget T")
    fig.suptitle("A figure title")


def test_style_fonts_are_at_least_the_minimum() -> None:
    sizes = {key: FontProperties(size=mpl.rcParams[key]).get_size_in_points() for key in FONT_KEYS}
    assert min(sizes.values()) >= plotting.MIN_FONT_PT, sizes
    assert mpl.rcParams["figure.dpi"] == plotting.FIGURE_DPI


@pytest.mark.parametrize(("layout", "ncols"), [(1, None), (2, 1), (2, None), (3, None), (4, None), (5, None),
                                              (6, 3), ((2, 2), None), ((2, 4), None), ((2, 6), 3)])
def test_panels_fit_the_page_and_keep_fonts(layout: int | tuple[int, int], ncols: int | None) -> None:
    fig, axes = plotting.panels(layout, ncols=ncols)
    # three panels to a row leave about 2 inches each: room for short titles, axis labels and legends only
    short = ncols == 3
    _fill(fig, axes, outside=ncols == 1 or layout == 1, title="E3: P = 1000" if short else "a title of some length",
          xlabel="$\\lambda$" if short else "eigenvalue $\\lambda$ (GOE units)",
          legend="law" if short else "a normal density, long label")
    png = _render(fig)
    assert png.size[0] <= plotting.PAGE_WIDTH_PX, f"{layout}: {png.size[0]} px wide, page {plotting.PAGE_WIDTH_PX}"
    assert round(png.info["dpi"][0]) == plotting.FIGURE_DPI
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    assert texts and min(t.get_fontsize() for t in texts) >= plotting.MIN_FONT_PT


def test_panels_wrap_rows_and_grid_columns() -> None:
    fig, axes = plotting.panels(5)
    assert axes.shape == (5,) and len(fig.axes) == 5
    spans = [(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start) for ax in axes]
    assert spans == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)]
    fig, axes = plotting.panels((2, 4), gridspec_kw={"height_ratios": [3, 2]})
    assert axes.shape == (2, 4) and len(fig.axes) == 8
    for i in range(2):
        for j in range(4):
            spec = axes[i, j].get_subplotspec()
            assert (spec.rowspan.start, spec.colspan.start) == ((j // 2) * 2 + i, j % 2)
    heights = [axes[i, 0].get_position().height for i in range(2)]
    assert heights[0] / heights[1] == pytest.approx(1.5, rel=0.05)


def test_chapters_draw_every_figure_with_the_page_style() -> None:
    """Chapters make figures with ``panels`` (no figure sizes of their own) and never set a font below the minimum."""
    problems = []
    for path in CHAPTERS:
        for k, cell in enumerate(json.loads(path.read_text())["cells"]):
            source = "".join(cell["source"])
            if cell["cell_type"] != "code":
                continue
            if re.search(r"plt\.(subplots|figure)\(|figsize", source):
                problems.append(f"{path.name} cell {k}: sizes a figure itself (use lib.book.plotting.panels)")
            small = [float(v) for v in re.findall(r"fontsize\s*=\s*(\d+(?:\.\d+)?)", source)]
            if any(v < plotting.MIN_FONT_PT for v in small):
                problems.append(f"{path.name} cell {k}: a font size {min(small)} pt < {plotting.MIN_FONT_PT}")
    assert CHAPTERS and not problems, "\n".join(problems)
