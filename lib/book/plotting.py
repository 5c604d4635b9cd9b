"""One figure style for the whole book, and the plots several chapters draw.

Figures only: the densities they draw are evaluated by ``lib.rmt`` (laws, smoothed spectral measures), and nothing
here enters a number or a verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

from lib.rmt import law_fits, measures

#: Colours by role, so "theory" and "data" look the same in every chapter.
COLORS = {
    "data": "#4C72B0",
    "theory": "#C44E52",
    "alt": "#55A868",
    "poisson": "#8172B2",
    "muted": "#8C8C8C",
}

#: The page's content column in CSS px, measured in headless Chromium on a chapter page (``article .cell_output
#: img`` at full width): 672 px in a 1280 x 900 window (the browser test's viewport), 741 px at 1366, 774 px at 1440 and
#: wider. A figure no wider than this is shown at its natural size, one PNG pixel per CSS px.
PAGE_WIDTH_PX = 672
#: Pixels per inch of the PNGs the book shows: the inline backend writes a figure at ``figure.dpi``
#: (``IPython.core.pylabtools.print_figure``, ``bbox_inches="tight"``), not at ``savefig.dpi``.
FIGURE_DPI = 110
#: Margin the inline backend's ``bbox_inches="tight"`` adds around a figure, inches (``savefig.pad_inches``).
PAD_IN = 0.05
#: The width of a page-wide figure in inches: with its margins, and the few pixels tick labels at the edge may stick
#: out, it fits the content column without being shrunk.
PAGE_WIDTH_IN = (PAGE_WIDTH_PX - 24) / FIGURE_DPI - 2 * PAD_IN
#: The smallest font in any figure, in points: shown unshrunk it is ``MIN_FONT_PT * FIGURE_DPI / 96`` CSS pt
#: (11.5 pt) on the page, and it stays at least 10 pt unless the browser shrinks the figure below 87 %.
MIN_FONT_PT = 10
#: Panels per row: two keep each panel about 3 inches (330 CSS px) wide.
MAX_COLUMNS = 2

_STYLE = {
    "figure.figsize": (PAGE_WIDTH_IN, 3.2),
    "figure.dpi": FIGURE_DPI,
    "savefig.dpi": 150,
    "savefig.pad_inches": PAD_IN,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": MIN_FONT_PT,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "figure.titlesize": 11,
    "legend.fontsize": MIN_FONT_PT,
    "legend.title_fontsize": MIN_FONT_PT,
    "legend.loc": "best",
    "legend.frameon": True,
    "legend.framealpha": 0.8,
    "legend.edgecolor": "none",
    "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT,
    "lines.linewidth": 1.8,
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a chapter): figures sized for the page
    (:data:`PAGE_WIDTH_IN` wide at :data:`FIGURE_DPI`) and no font below :data:`MIN_FONT_PT`."""
    mpl.rcParams.update(_STYLE)


def panels(n: int | tuple[int, int] = 1, ncols: int | None = None, panel_height: float = 2.6,
           **subplots_kw: object) -> tuple[plt.Figure, np.ndarray]:
    """A figure of panels that fills the page width (:data:`PAGE_WIDTH_IN`) without being shrunk.

    ``n`` panels are laid out in rows of ``ncols`` (default ``min(n, MAX_COLUMNS)``), each row ``panel_height``
    inches tall; the axes come back as a flat array of ``n`` (``fig, (ax,) = panels()`` for one). A grid ``n = (rows,
    cols)`` comes back as a ``rows x cols`` array ``axes[i, j]``; when ``cols > ncols`` its columns are wrapped into
    blocks of ``ncols`` stacked one under another (logical column ``j`` in block ``j // ncols``), and a
    ``gridspec_kw={"height_ratios": ...}`` of ``rows`` entries repeats in every block. Other keywords go to
    ``plt.subplots`` (``sharex``, ``sharey``, ``gridspec_kw``). The layout is matplotlib's constrained layout, so
    tick labels, titles, colour bars and legends placed outside the axes stay inside the figure's width (do not call
    ``tight_layout``). Three panels to a row (about 2 inches each) leave room only for short titles and labels.
    """
    rows, cols = (1, n) if isinstance(n, int) else n
    count = rows * cols
    ncols = min(cols if isinstance(n, tuple) else count, MAX_COLUMNS) if ncols is None else ncols
    if isinstance(n, int):
        nrows = -(-count // ncols)
    else:
        blocks = -(-cols // ncols)
        nrows = rows * blocks
        gridspec = dict(subplots_kw.pop("gridspec_kw", None) or {})
        if "height_ratios" in gridspec:
            gridspec["height_ratios"] = list(gridspec["height_ratios"]) * blocks
        subplots_kw["gridspec_kw"] = gridspec
    fig, grid = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH_IN, panel_height * nrows), squeeze=False,
                             layout="constrained", **subplots_kw)
    if isinstance(n, tuple):
        axes = np.empty((rows, cols), dtype=object)
        for i in range(rows):
            for j in range(cols):
                axes[i, j] = grid[(j // ncols) * rows + i, j % ncols]
    else:
        axes = grid.ravel()[:count]
    used = set(map(id, axes.ravel()))
    for ax in grid.ravel():
        if id(ax) not in used:
            ax.remove()
    return fig, axes


def hist_with_curves(
    ax: plt.Axes,
    samples: np.ndarray,
    curves: Sequence[tuple[str, Callable[[np.ndarray], np.ndarray]]] = (),
    bins: int | np.ndarray = 40,
    range_: tuple[float, float] | None = None,
    label: str = "data",
    grid_points: int = 400,
) -> None:
    """Draw a density histogram of ``samples`` and overlay named density curves on the same range.

    Each curve is ``(label, f)`` with ``f`` evaluated on a fine grid over the histogram's range. The y-axis leaves
    room above the data for the legend, so that it hides none of the histogram.
    """
    samples = np.asarray(samples, dtype=float)
    lo, hi = range_ if range_ is not None else (float(samples.min()), float(samples.max()))
    ax.hist(samples, bins=bins, range=(lo, hi), density=True, color=COLORS["data"], alpha=0.55, label=label)
    x = np.linspace(lo, hi, grid_points)
    palette = [COLORS["theory"], COLORS["alt"], COLORS["poisson"], COLORS["muted"]]
    for (name, f), color in zip(curves, palette * (1 + len(curves) // len(palette)), strict=False):
        ax.plot(x, f(x), color=color, label=name)
    ax.margins(y=0.6)  # head room above the data (the bars hold the bottom at 0), where the legend goes
    ax.legend()


def continuous_part_hist(ax: plt.Axes, eigs: np.ndarray, density: Callable[[np.ndarray], np.ndarray], atom: float,
                         range_: tuple[float, float], title: str, grid_points: int = 400) -> None:
    """Histogram of the non-zero eigenvalues (``|lambda| > 1e-9 max |lambda|``) against the continuous part of a
    law ``atom delta_0 + density``, renormalised to mass one: ``density / (1 - atom)``."""
    nonzero = eigs[np.abs(eigs) > 1e-9 * np.abs(eigs).max()]
    hist_with_curves(ax, nonzero, [("theory", lambda x: density(x) / (1 - atom))], bins=60, range_=range_,
                     label="non-zero eigenvalues", grid_points=grid_points)
    ax.set(title=title, xlabel="eigenvalue")


def slq_stems(ax: plt.Axes, spectrum: object, title: str) -> None:
    """Stochastic Lanczos quadrature nodes and weights of every probe (``spectrum.nodes``, ``spectrum.weights``,
    probes x steps) as stems on a log scale, as Granziol (2020) plotted them (paper2.md 2.2)."""
    for v in range(spectrum.nodes.shape[0]):
        ax.stem(spectrum.nodes[v], spectrum.weights[v], linefmt="C0-", markerfmt="C0.", basefmt=" ")
    ax.set_yscale("log")
    ax.set_ylim(1e-8, 2)
    ax.set_title(title)
    ax.set_xlabel(r"$\lambda$")


def density_overlay(ax: plt.Axes, measure: measures.Measure, fits: Sequence[law_fits.Fit], title: str,
                    earlier: measures.Measure | None = None, floor: float = 1e-4) -> None:
    """Gaussian-smoothed densities on a log scale (kernel 1 % of the range, :func:`lib.rmt.law_fits.default_grid`)
    of a spectrum, of the same network's spectrum at initialisation (``earlier``, dotted) and of fitted laws, the
    y-axis cut at ``floor`` times the spectrum's peak."""
    grid, width = law_fits.default_grid(measure)
    density = measures.smoothed_density(measure, grid, width)
    if earlier is not None:
        ax.semilogy(grid, measures.smoothed_density(earlier, grid, width), color=COLORS["muted"], ls=":", lw=1.6,
                    label="same network at initialisation")
    ax.semilogy(grid, density, color="black", lw=2.2, label="network")
    palette = [COLORS["theory"], COLORS["alt"], COLORS["poisson"], COLORS["data"], "C1"]
    for f, color in zip(fits, palette, strict=False):
        ax.semilogy(grid, measures.smoothed_density(f.law, grid, width), color=color, lw=1.3,
                    label=f"{f.family} ({f.method}), KS {f.ks:.2f}")
    ax.set_ylim(floor * density.max(), 3 * density.max())
    ax.set_title(title)
    ax.set_xlabel(r"$\lambda$")
    ax.legend()
