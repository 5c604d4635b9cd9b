"""Samplers for the classical random-matrix ensembles, normalised so the semicircle sits on [-2, 2].

* Gaussian ensembles as dense matrices: :func:`goe`, :func:`gue`, :func:`gse` (recipes of Mehta 2004, ch. 2-3;
  normalisation ``E|H_ij|^2 = 1/n`` off the diagonal, so the spectrum fills [-2, 2]);
* :func:`gse_levels`, the GSE spectrum with its Kramers pairs merged;
* :func:`beta_hermite`, eigenvalues for any beta > 0 from the tridiagonal model of Dumitriu & Edelman,
  J. Math. Phys. 43, 5830 (2002);
* :func:`wishart`, the sample covariance ``X X^T / t`` behind the Marchenko-Pastur law;
* :func:`poisson_levels`, uncorrelated levels (the integrable / "no repulsion" baseline);
* :func:`sample_spectra`, a stack of independent sorted spectra of one ensemble.

Every sampler takes ``rng``: a ``numpy.random.Generator`` or an integer seed.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import eigvalsh_tridiagonal

from lib.rmt import checks


def _complex_ginibre(n: int, rng: np.random.Generator) -> np.ndarray:
    """n x n matrix of i.i.d. standard complex Gaussians, ``(a + i b)/sqrt(2)`` so that ``E|X_ij|^2 = 1``."""
    return (rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))) / np.sqrt(2.0)


def goe(n: int, rng: np.random.Generator | int) -> np.ndarray:
    """Sample an n x n GOE matrix ``H = (A + A^T) / sqrt(2n)``, ``A_ij ~ N(0, 1)``.

    Then ``H_ii ~ N(0, 2/n)`` and ``H_{i<j} ~ N(0, 1/n)``; the matrix density is ``exp(-n tr H^2 / 4)``
    and the eigenvalue density tends to the semicircle on [-2, 2] (rmt_reference 1.1).
    """
    n = checks.size(n, "n")
    a = checks.generator(rng).standard_normal((n, n))
    return (a + a.T) / np.sqrt(2.0 * n)


def gue(n: int, rng: np.random.Generator | int) -> np.ndarray:
    """Sample an n x n GUE matrix ``H = (X + X^dagger) / sqrt(2n)`` with ``X`` standard complex Ginibre.

    Then ``H_ii ~ N(0, 1/n)`` and ``E|H_{i<j}|^2 = 1/n``; the matrix density is ``exp(-n tr H^2 / 2)`` and the
    eigenvalue density tends to the semicircle on [-2, 2] (rmt_reference 1.1).
    """
    n = checks.size(n, "n")
    x = _complex_ginibre(n, checks.generator(rng))
    return (x + x.conj().T) / np.sqrt(2.0 * n)


def gse(n: int, rng: np.random.Generator | int) -> np.ndarray:
    """Sample a GSE matrix as its 2n x 2n complex Hermitian representation.

    With ``X, Y`` independent standard complex Ginibre n x n matrices,
    ``Q = [[X, Y], [-conj(Y), conj(X)]]`` and ``H = (Q + Q^dagger) / (2 sqrt(n))``, which has the quaternion
    form ``[[A, B], [-conj(B), conj(A)]]`` with ``A = A^dagger`` and ``B^T = -B`` (rmt_reference 1.1). Every
    eigenvalue is doubly degenerate (Kramers pairs); the n distinct ones follow the semicircle on [-2, 2].
    Use :func:`gse_levels` for the spectrum without the duplicates.
    """
    n = checks.size(n, "n")
    gen = checks.generator(rng)
    x = _complex_ginibre(n, gen)
    y = _complex_ginibre(n, gen)
    q = np.block([[x, y], [-y.conj(), x.conj()]])
    return (q + q.conj().T) / (2.0 * np.sqrt(n))


def gse_levels(n: int, rng: np.random.Generator | int) -> np.ndarray:
    """Return the n distinct eigenvalues of :func:`gse` ``(n, rng)``, sorted, one per Kramers pair.

    The two members of a pair agree to rounding error; their mean is returned.
    """
    ev = np.linalg.eigvalsh(gse(n, rng))
    return 0.5 * (ev[0::2] + ev[1::2])


def beta_hermite(n: int, beta: float, rng: np.random.Generator | int) -> np.ndarray:
    """Sorted eigenvalues of the Dumitriu-Edelman tridiagonal beta-Hermite matrix, scaled onto [-2, 2].

    ``H_beta = (1/sqrt 2) tridiag(chi_{(n-1)beta}, ..., chi_beta; N(0, 2), ..., N(0, 2))`` has the eigenvalue
    density ``prod_{i<j} |l_i - l_j|^beta exp(-sum l_i^2 / 2)`` (Dumitriu & Edelman 2002), with edges
    at ``+-sqrt(2 beta n)``; dividing by ``sqrt(beta n / 2)`` gives the density
    ``|Delta|^beta exp(-beta n sum l^2 / 4)`` whose limit is the semicircle on [-2, 2] for every beta > 0.
    beta = 1, 2, 4 reproduce the GOE, GUE and GSE spectra. Cost O(n) memory, O(n^2) time.
    """
    n = checks.size(n, "n")
    beta = checks.positive(beta, "beta")
    gen = checks.generator(rng)
    diagonal = gen.standard_normal(n)  # N(0, 2) / sqrt(2)
    off_diagonal = np.sqrt(gen.chisquare(beta * np.arange(n - 1, 0, -1))) / np.sqrt(2.0)
    scale = np.sqrt(beta * n / 2.0)
    if n == 1:
        return diagonal / scale
    # sterf: root-free QL/QR for eigenvalues only, the fastest LAPACK driver when all of them are wanted
    return eigvalsh_tridiagonal(diagonal, off_diagonal, lapack_driver="sterf") / scale


def wishart(n: int, t: int, rng: np.random.Generator | int, sigma: float = 1.0) -> np.ndarray:
    """Sample the n x n sample-covariance matrix ``W = X X^T / t`` with ``X`` n x t, ``X_ij ~ N(0, sigma^2)``.

    As ``n, t -> infinity`` with ``q = n / t`` fixed, the spectrum tends to the Marchenko-Pastur law of
    ratio q and scale sigma (:func:`lib.rmt.laws.marchenko_pastur_pdf`), with ``n - t`` exact zeros when ``q > 1``
    (Marchenko & Pastur 1967; rmt_reference 2).
    """
    n = checks.size(n, "n")
    t = checks.size(t, "t")
    sigma = checks.positive(sigma, "sigma")
    x = sigma * checks.generator(rng).standard_normal((n, t))
    return x @ x.T / t


def poisson_levels(n: int, rng: np.random.Generator | int) -> np.ndarray:
    """Return the first n points of a Poisson process of unit rate on [0, inf): a spectrum of unit mean spacing.

    The levels are partial sums of i.i.d. Exp(1) spacings, so for every n the spacings follow
    ``P(s) = exp(-s)`` exactly and the count in any interval of length L is Poisson with mean and variance L
    (``Sigma^2(L) = L``, ``Delta_3(L) = L / 15``). No unfolding is needed. (Sorted uniform points on [0, n] would
    fix the total count and lower the number variance to about ``L (1 - L / n)``.)
    """
    n = checks.size(n, "n")
    return np.cumsum(checks.generator(rng).exponential(1.0, n))


def sample_spectra(
    ensemble: str, n: int, n_samples: int, rng: np.random.Generator | int, tridiagonal: bool = False
) -> np.ndarray:
    """Return an ``(n_samples, n)`` array of independent sorted spectra of one ensemble.

    ``ensemble`` is ``"goe"``, ``"gue"``, ``"gse"`` (n distinct levels, Kramers pairs merged) or ``"poisson"``.
    The Gaussian ensembles come from the dense samplers above, or, with ``tridiagonal=True``, from
    :func:`beta_hermite` with beta = 1, 2, 4: the same eigenvalue law (Dumitriu & Edelman 2002) at O(n) memory.
    """
    dense = {
        "goe": lambda gen: np.linalg.eigvalsh(goe(n, gen)),
        "gue": lambda gen: np.linalg.eigvalsh(gue(n, gen)),
        "gse": lambda gen: gse_levels(n, gen),
        "poisson": lambda gen: poisson_levels(n, gen),
    }
    betas = {"goe": 1.0, "gue": 2.0, "gse": 4.0}
    if ensemble not in dense:
        raise ValueError(f"ensemble must be one of {sorted(dense)}, got {ensemble!r}")
    n = checks.size(n, "n")
    n_samples = checks.size(n_samples, "n_samples")
    gen = checks.generator(rng)
    if tridiagonal and ensemble in betas:
        return np.stack([beta_hermite(n, betas[ensemble], gen) for _ in range(n_samples)])
    return np.stack([dense[ensemble](gen) for _ in range(n_samples)])
