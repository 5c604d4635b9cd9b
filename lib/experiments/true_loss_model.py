"""The true-loss model's published parameter grid and the spacing-ratio statistics of its samples.

Paper 1 (Baskerville, Granziol & Keating, arXiv:2102.06740 v1-v3; the authors' notebook
``gp_test_loss_spectra.ipynb``, research notes 4.3) samples Hessians of a Gaussian-process loss with a stationary
kernel k(-|w - w'|^2 / 2): a scaled GOE matrix plus a common random shift (``lib.rmt.true_loss.sample_spectra``),

    H = sqrt(k''(0)) G + sqrt(v) xi I,

optionally padded with a zero block (degeneracy) and with a few large diagonal entries (outliers). This module
builds the published grid of cases (``published_cases``), samples each with the notebook's shift variance
v = k'(0)^2 and the derived one v = k''(0) (``sample_cases``, ``shift_variance_table``), and summarises the local
statistics of every sample set by the mean of r~ = min(r, 1/r) (``ratio_row``, ``model_ratio_table``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from lib.rmt import true_loss as tl
from lib.rmt.measures import ks_to_cdf
from lib.rmt.spacings import mean_min_ratio_ci, min_ratio_cdf, min_ratios

__all__ = ["model_ratio_table", "published_cases", "ratio_row", "sample_cases", "shift_variance_table"]

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
    each spectrum is removed first (its exactly degenerate levels have no ratios).
    """
    spectra = [e[np.abs(e) > zero_tol * np.abs(e).max()] for e in eigs] if zero_tol else list(eigs)
    r = np.concatenate([min_ratios(e) for e in spectra])
    mean, lo, hi = mean_min_ratio_ci(r, n_boot, seed, kind="ratios")
    return {"case": name, "<r~>": mean, "95% low": lo, "95% high": hi, "KS to GOE": ks_to_cdf(np.sort(r),
            lambda x: min_ratio_cdf(x, 1)), "ratios": r.size}


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
