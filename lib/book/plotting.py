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

_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "lines.linewidth": 1.8,
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a chapter)."""
    mpl.rcParams.update(_STYLE)


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

    Each curve is ``(label, f)`` with ``f`` evaluated on a fine grid over the histogram's range.
    """
    samples = np.asarray(samples, dtype=float)
    lo, hi = range_ if range_ is not None else (float(samples.min()), float(samples.max()))
    ax.hist(samples, bins=bins, range=(lo, hi), density=True, color=COLORS["data"], alpha=0.55, label=label)
    x = np.linspace(lo, hi, grid_points)
    palette = [COLORS["theory"], COLORS["alt"], COLORS["poisson"], COLORS["muted"]]
    for (name, f), color in zip(curves, palette * (1 + len(curves) // len(palette)), strict=False):
        ax.plot(x, f(x), color=color, label=name)
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
    ax.set_title(title, fontsize=9)
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
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(r"$\lambda$")
    ax.legend(fontsize=7)
