"""One figure style for the whole book, and the two plots every chapter draws.

Matplotlib only; no computation happens here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

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
