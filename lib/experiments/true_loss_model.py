"""The true-loss model's published parameter grid and the spacing-ratio statistics of its samples.

Paper 1 (Baskerville, Granziol & Keating, arXiv:2102.06740 v1-v3; the authors' notebook
``gp_test_loss_spectra.ipynb``, research notes 4.3) samples Hessians of a Gaussian-process loss with a stationary
kernel k(-|w - w'|^2 / 2): a scaled GOE matrix plus a common random shift (``lib.rmt.true_loss.sample_spectra``),

    H = sqrt(k''(0)) G + sqrt(v) xi I,

optionally padded with a zero block (degeneracy) and with a few large diagonal entries (outliers). This module
builds the published grid of cases (``published_cases``), samples each with the notebook's shift variance
v = k'(0)^2 and the derived one v = k''(0) (``sample_cases``, ``shift_variance_table``), and summarises the local
statistics of every sample set by the mean of r~ = min(r, 1/r) (``ratio_row``, ``model_ratio_table``).

That local statistics is GOE by construction: G is a GOE matrix and the shift is a multiple of the identity, which
moves every level by the same amount and leaves every spacing unchanged, so the check is one of the sampler and of the
finite-size behaviour of <r~>. ``goe_ratio_null`` simulates that behaviour (GOE spectra of the same sizes) to
calibrate the check, and ``outlier_ratio_split`` shows where the outlier case's lower <r~> comes from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from lib.nets.cache import load_or_compute
from lib.rmt import true_loss as tl
from lib.rmt.ensembles import beta_hermite, poisson_levels
from lib.rmt.level_statistics import GOE_MEAN_MIN_RATIO
from lib.rmt.measures import ks_to_cdf
from lib.rmt.spacings import mean_min_ratio_ci, min_ratio_cdf, min_ratios

__all__ = ["goe_ratio_null", "model_ratio_table", "outlier_ratio_split", "published_cases", "ratio_row", "sample_cases",
           "shift_variance_table"]

Case = dict[str, Any]
Samples = dict[tuple[str, str], np.ndarray]
_CONVENTIONS = ("notebook", "derivation")


def ratio_row(
    name: str, eigs: ArrayLike | Iterable[np.ndarray], n_boot: int, seed: int, zero_tol: float | None = None
) -> dict[str, Any]:
    """<r~> of the samples (one spectrum per row), pooled, with its 95 % bootstrap interval and KS distance to GOE.

    r~_i = min(s_{i+1}/s_i, s_i/s_{i+1}) within each spectrum (``lib.rmt.spacings.min_ratios``), the interval from
    ``mean_min_ratio_ci`` (``n_boot`` replicates, ``seed``), the KS distance to the GOE law of r~ (Atas et al.
    2013, ``min_ratio_cdf`` with beta = 1). With ``zero_tol``, the zero block |lambda| <= zero_tol max|lambda| of
    each spectrum is removed first (its exactly degenerate levels have no ratios). ``spectra`` and ``levels`` (the
    mean number of levels per spectrum after that) give the size a null model must have.
    """
    spectra = [e[np.abs(e) > zero_tol * np.abs(e).max()] for e in eigs] if zero_tol else list(eigs)
    r = np.concatenate([min_ratios(e) for e in spectra])
    mean, lo, hi = mean_min_ratio_ci(r, n_boot, seed, kind="ratios")
    return {"case": name, "<r~>": mean, "95% low": lo, "95% high": hi, "KS to GOE": ks_to_cdf(np.sort(r),
            lambda x: min_ratio_cdf(x, 1)), "ratios": r.size, "spectra": len(spectra),
            "levels": int(round(np.mean([len(e) for e in spectra])))}


def published_cases(
    n_grid: int,
    m_grid: int,
    n_large: int,
    m_large: int,
    kpp_grid: Sequence[float],
    k_cond: Sequence[float],
    p_spin: int,
    degeneracy: int,
    n_outliers: int,
) -> dict[str, Case]:
    """The cases of the authors' ``figures/gp_kernel/`` (research notes 4.3), name -> sampler settings.

    Spin-glass: kp = p, kpp = p (p - 1); stationary: kp = 1, kpp over ``kpp_grid``; conditional: kp = 1, k(0) over
    ``k_cond``; degenerate: kpp = 1e-3, kp = 1, a zero block of ``degeneracy``; outliers: kpp = 0.01, kp = 1,
    ``n_outliers`` outliers. Each case has ``n`` (matrix size), ``m`` (samples), ``kp``, ``kpp`` and optionally
    ``k0``, ``degeneracy``, ``n_outliers``.
    """
    cases = {f"spin-glass p={p_spin}": dict(n=n_grid, m=m_grid, kp=float(p_spin), kpp=float(p_spin * (p_spin - 1)))}
    for kpp in kpp_grid:
        cases[f"stationary kpp={kpp:g}"] = dict(n=n_grid, m=m_grid, kp=1.0, kpp=kpp)
    for k in k_cond:
        for kpp in kpp_grid:
            cases[f"conditional k={k:g} kpp={kpp:g}"] = dict(n=n_grid, m=m_grid, kp=1.0, kpp=kpp, k0=k)
    cases["degenerate"] = dict(n=n_large, m=m_large, kp=1.0, kpp=1e-3, degeneracy=degeneracy)
    cases["outliers"] = dict(n=n_large, m=m_large, kp=1.0, kpp=0.01, n_outliers=n_outliers)
    return cases


def sample_cases(
    cases: Mapping[str, Case], rng: np.random.Generator, outlier_scale: float
) -> tuple[Samples, list[str]]:
    """Spectra (m x n) of every case under both shift conventions, and the cases no kernel can produce.

    The shift variance is ``lib.rmt.true_loss.shift_variance`` with ``convention`` "notebook" (k'(0)^2) or
    "derivation" (k''(0), conditionally k''(0) - k'(0)^2 / k(0)); a conditional case with k(0) k''(0) < k'(0)^2
    has no valid derived variance and is sampled with the notebook's only (its name is listed once per such
    case). Samples are drawn from ``rng`` in the order of ``cases``, notebook before derivation.
    """
    samples: Samples = {}
    invalid: list[str] = []
    for name, c in cases.items():
        for convention in _CONVENTIONS:
            try:
                v = tl.shift_variance(c["kp"], c["kpp"], c.get("k0"), convention=convention)
            except ValueError:  # k(0) k''(0) < k'(0)^2: no kernel has these derivatives
                invalid.append(name)
                continue
            samples[name, convention] = tl.sample_spectra(c["n"], c["m"], c["kpp"], v, rng,
                                                          degeneracy=c.get("degeneracy", 0),
                                                          n_outliers=c.get("n_outliers", 0),
                                                          outlier_scale=outlier_scale)
    return samples, invalid


def shift_variance_table(cases: Mapping[str, Case], invalid: Sequence[str]) -> pd.DataFrame:
    """Per case: the notebook's and the derived shift variance (NaN where invalid), the kernel-validity margin
    k(0) k''(0) - k'(0)^2 of the conditional cases, and the bulk radius 2 sqrt(k''(0) n)."""
    return pd.DataFrame({name: {"shift var (notebook)": tl.shift_variance(c["kp"], c["kpp"], c.get("k0"), "notebook"),
                                "shift var (derivation)": np.nan if name in invalid else tl.shift_variance(
                                    c["kp"], c["kpp"], c.get("k0")),
                                "k(0) k''(0) - k'(0)^2": c["k0"] * c["kpp"] - c["kp"] ** 2 if "k0" in c else np.nan,
                                "bulk radius 2 sqrt(kpp n)": 2 * np.sqrt(c["kpp"] * c["n"])}
                         for name, c in cases.items()}).T


def model_ratio_table(
    cases: Mapping[str, Case], samples: Mapping[tuple[str, str], np.ndarray], rng: np.random.Generator,
    n_boot: int, seed: int,
) -> pd.DataFrame:
    """``ratio_row`` of every sample set, of the published notebook's ratio samples, and of the outlier bulk.

    Rows: each (case, convention) of ``samples`` (a degenerate case with its exactly degenerate zero block removed,
    |lambda| <= 1e-10 max|lambda|); "degenerate"/"outliers" "as published": fresh samples from ``rng`` without
    degeneracy or outliers, as the notebook's ``sample_ratios`` drew them (it dropped those arguments); and the
    notebook-shift outlier case without its ``n_outliers`` largest levels per sample. Indexed by case label.
    """
    rows = []
    for name, convention in samples:
        # the zero block is exactly degenerate (ratios undefined): removed, as for the networks
        tol = 1e-10 if cases[name].get("degeneracy") else None
        label = f"{name} ({convention})" + (", zero block removed" if tol else "")
        rows.append(ratio_row(label, samples[name, convention], n_boot, seed, zero_tol=tol))
    # the published notebook's bug: degeneracy and outliers were never passed to the ratio sampler
    for name in ("degenerate", "outliers"):
        c = cases[name]
        buggy = tl.sample_spectra(c["n"], c["m"], c["kpp"], tl.shift_variance(c["kp"], c["kpp"], convention="notebook"),
                                  rng)
        rows.append(ratio_row(f"{name}: as published (kwargs dropped)", buggy, n_boot, seed))
    # the outliers' own spacings are not those of a GOE bulk: drop the n_outliers largest levels of each sample
    n_outliers = cases["outliers"]["n_outliers"]
    rows.append(ratio_row("outliers (notebook), outliers removed", samples["outliers", "notebook"][:, :-n_outliers],
                          n_boot, seed))
    return pd.DataFrame(rows).set_index("case")


def goe_ratio_null(
    sizes: Sequence[tuple[int, int]], replicas: int, bank: int, seed: int
) -> dict[str, np.ndarray]:
    """Simulated values of max_i |<r~>_i - 0.5307| over sample sets of the given sizes, under GOE and under Poisson.

    ``sizes`` lists (levels per spectrum, spectra) of each sample set. For each distinct number of levels n, ``bank``
    GOE spectra (``lib.rmt.ensembles.beta_hermite`` with beta = 1, which has the GOE's eigenvalue law) and ``bank``
    Poisson spectra (``poisson_levels``) give per-spectrum means of r~; a replica draws, for every set, its number of
    spectra from the bank with replacement (the pooled <r~> of spectra of equal size is the mean of their
    per-spectrum means) and records the largest distance of a set's <r~> from the asymptotic GOE value
    0.5307 (Atas et al. 2013). So the null carries the finite-N bias of <r~> and the spread of m spectra, as the
    measured sample sets do. Returns ``null`` and ``poisson`` (``replicas`` values each); cached under
    "true_loss_ratio_null".
    """

    def compute() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        levels = sorted({int(n) for n, _ in sizes})
        banks = {kind: {n: np.array([min_ratios(draw(n, rng)).mean() for _ in range(bank)]) for n in levels}
                 for kind, draw in (("null", lambda n, g: beta_hermite(n, 1.0, g)), ("poisson", poisson_levels))}
        out = {}
        for kind, per_n in banks.items():
            out[kind] = np.array([max(abs(rng.choice(per_n[int(n)], int(m)).mean() - GOE_MEAN_MIN_RATIO)
                                      for n, m in sizes) for _ in range(replicas)])
        return out

    return load_or_compute("true_loss_ratio_null", dict(sizes=[[int(n), int(m)] for n, m in sizes],
                                                        replicas=replicas, bank=bank, seed=seed), compute)


def outlier_ratio_split(eigs: ArrayLike, n_outliers: int) -> pd.Series:
    """Where the outlier case's <r~> comes from: the r~ of each spectrum (rows, ascending, its ``n_outliers``
    outliers on top) split into those of three bulk levels and those that involve an outlier.

    Returns both means, the share of the ratios that involve an outlier, the pooled <r~>, and the mixture
    (1 - share) x 0.5307 + share x (outlier-ratio mean): the <r~> expected if the bulk were exactly GOE and the
    outliers only diluted it.
    """
    rr = np.array([min_ratios(e) for e in np.asarray(eigs)])
    k = int(n_outliers)
    bulk, touched = rr[:, :-k], rr[:, -k:]  # ratio i uses levels i, i+1, i+2: the last k touch the outliers
    share = touched.size / rr.size
    return pd.Series({"<r~> of all ratios": rr.mean(), "<r~> of bulk-only ratios": bulk.mean(),
                      "<r~> of ratios involving an outlier": touched.mean(), "share involving an outlier": share,
                      "mixture: GOE bulk + outlier ratios": (1 - share) * GOE_MEAN_MIN_RATIO + share * touched.mean(),
                      "ratios": rr.size})
