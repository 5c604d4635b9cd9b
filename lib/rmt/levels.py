"""Validation of the inputs of the level statistics: spectra (arrays of levels) and Dyson indices beta.

One place for the checks that ``spacings``, ``unfolding``, ``rigidity`` and ``gap_probability`` share, so
every statistic rejects bad input with the same message: complex or non-finite levels, too few levels for
the statistic, or a beta outside the set the formula supports.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from numpy.typing import ArrayLike


def as_levels(levels: ArrayLike, min_count: int, what: str = "this statistic") -> np.ndarray:
    """Return ``levels`` as a float array sorted along its last axis, after checking it.

    Accepts one spectrum (1-D) or a stack of spectra (one per row, the last axis holds the levels).
    Raises ``ValueError`` for complex, non-finite or 0-d input, or fewer than ``min_count`` levels per
    spectrum; ``TypeError`` for non-numeric input.
    """
    arr = np.asarray(levels)
    if np.iscomplexobj(arr):
        raise ValueError(
            "levels are complex; spectral statistics need real eigenvalues "
            "(use eigvalsh for symmetric matrices, or take .real if the imaginary parts are round-off)"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"levels must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError("levels must be an array of eigenvalues, got a scalar")
    if arr.shape[-1] < min_count:
        raise ValueError(f"{what} needs at least {min_count} levels per spectrum, got {arr.shape[-1]}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("levels contain NaN or infinite values")
    return np.sort(arr, axis=-1)


def as_spectra(spectra: ArrayLike, min_count: int, what: str = "this statistic") -> list[np.ndarray]:
    """Return a list of checked, sorted 1-D spectra from a 1-D array, a 2-D array (rows) or a ragged list."""
    if isinstance(spectra, np.ndarray):
        if spectra.ndim > 2:
            raise ValueError(f"spectra must be 1-D or 2-D (one spectrum per row), got shape {spectra.shape}")
        rows = [spectra] if spectra.ndim <= 1 else list(spectra)
    elif isinstance(spectra, list | tuple) and len(spectra) > 0 and np.ndim(spectra[0]) == 0:
        rows = [np.asarray(spectra)]
    elif isinstance(spectra, list | tuple):
        rows = list(spectra)
    else:
        raise TypeError(f"spectra must be an array or a sequence of arrays, got {type(spectra).__name__}")
    if not rows:
        raise ValueError("no spectra given")
    out = [as_levels(row, min_count, what) for row in rows]
    if any(row.ndim != 1 for row in out):
        raise ValueError("each spectrum must be a 1-D array of levels")
    return out


def check_beta(beta: float, allowed: Collection[float]) -> int:
    """Return ``beta`` as an int after checking that it is one of ``allowed`` (else ``ValueError``)."""
    if isinstance(beta, bool) or not isinstance(beta, int | float | np.integer | np.floating):
        raise TypeError(f"beta must be a number, got {type(beta).__name__}")
    if beta not in allowed:
        raise ValueError(f"beta={beta!r} is not supported here; supported values are {sorted(allowed)}")
    return int(beta)
