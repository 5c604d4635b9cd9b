"""Parameter and argument checks shared by the mathematics modules (``laws``, ``ensembles``, ``freeprob``, ...).

One definition of each check, so every module rejects bad input with the same message. Level arrays (spectra)
have their own checks in :mod:`lib.rmt.levels`.
"""

from __future__ import annotations

import numbers

import numpy as np


def positive(value: float, name: str) -> float:
    """Check that a real parameter is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return float(value)


def real_finite(value: float, name: str) -> float:
    """Check that a real parameter is finite."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def points(x: float | np.ndarray) -> np.ndarray:
    """Evaluation points as a float array; complex input is refused (these are laws on the real line)."""
    arr = np.asarray(x)
    if np.iscomplexobj(arr):
        raise ValueError("x must be real, got complex values")
    return arr.astype(float)


def shaped(out: np.ndarray) -> float | np.ndarray:
    """Return a float for 0-d results, the array otherwise."""
    return float(out) if out.ndim == 0 else out


def generator(rng: np.random.Generator | int) -> np.random.Generator:
    """Return ``rng`` itself, or a fresh Generator seeded with it when it is an integer."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator or an integer seed, got {type(rng).__name__}")


def size(value: int, name: str) -> int:
    """Check that a matrix dimension is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)
