"""Verdicts of chapter 1: the textbook random-matrix laws against sampled ensembles.

The function takes the tables the chapter computed and returns its :class:`lib.book.verdicts.Verdict` list; every
status comes from a rule of :mod:`lib.book.verdict_rules` with its threshold written out here, and every evidence
sentence is built from the same numbers. Nothing is computed afresh except the reductions of the tables (maxima,
medians) that the evidence quotes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lib.book.law_checks import LawCheck, checks_rule
from lib.book.verdict_rules import status_from_checks
from lib.book.verdicts import Verdict, number
from lib.rmt import spacings

GAUSSIAN = ["GOE", "GUE", "GSE"]

#: |z| below which a measured <r~> agrees with the published large-N value (Atas et al. 2013, Table I)
RATIO_Z_AGREE = 3
#: |z| above which the data resolve the GOE surmise value 4 - 2 sqrt 3 from the large-N value
RATIO_Z_RESOLVED = 3
#: largest |data - theory| / se of Sigma^2 and Delta_3 accepted as agreement with the exact theory
LONG_RANGE_Z = 4
#: the surmise counts as resolved when its chi^2 per bin exceeds this multiple of the exact law's
CHI2_RESOLVED = 2

def rmt_baseline_verdicts(semicircle_table: pd.DataFrame, mp_table: pd.DataFrame, spacing_table: pd.DataFrame,
                          ratio_table: pd.DataFrame, unfolding_table: pd.DataFrame, long_range_table: pd.DataFrame,
                          semicircle_checks: Sequence[LawCheck], mp_checks: Sequence[LawCheck], *, n_levels: int,
                          poly_degrees: Sequence[int], spline_knots: Sequence[int],
                          L_max: float, n_dense: int, n_dense_samples: int, n_spectra: int, wishart_n: int,
                          n_wishart_samples: int) -> list[Verdict]:
    """Chapter 1: the textbook laws against sampled Gaussian ensembles, Wishart matrices and Poisson levels.

    Every verdict's scale is the matrix sizes and sample counts (``n_dense`` x ``n_dense_samples`` dense matrices
    per ensemble, ``n_spectra`` tridiagonal spectra of ``n_levels`` levels, ``wishart_n`` x ``n_wishart_samples``
    Wishart matrices per ratio); a paper's scale does not apply (``paper_scale`` is False).

    * semicircle: every ensemble's ``semicircle_checks`` (:func:`lib.book.law_checks.calibrated_ks_check`, the KS
      distance to the semicircle within the 95 % point of sample-vs-sample KS distances at the same size) passes;
    * Marchenko-Pastur: fraction of zero eigenvalues equal to ``1 - 1/q`` within half an eigenvalue of the pooled
      sample (``0.5 / (wishart_n n_wishart_samples)``: the atom is an exact count of zero eigenvalues, so any
      miscount shows as a whole eigenvalue) and every ``mp_checks`` (KS of the non-zero part) passes;
    * GOE spacings: chi^2 per bin of the surmise above :data:`CHI2_RESOLVED` times the exact law's, else
      "qualified";
    * <r~>: every tridiagonal sample within :data:`RATIO_Z_AGREE` standard errors of Atas et al. (2013);
    * the GOE surmise value is more than :data:`RATIO_Z_RESOLVED` se away from the measurement, else "qualified";
    * Sigma^2 and Delta_3 of the Gaussian ensembles and of Poisson within :data:`LONG_RANGE_Z` se of the theory
      (Mehta 2004, ch. 16), else "qualified";
    * unfolding: the lowest polynomial degree inflates and the most spline knots deflate Sigma^2(L_max) relative to
      the exact staircase ("qualified" when only one of the two is seen).
    """
    goe_sp, pois_z = spacing_table.loc["GOE"], long_range_table.loc["Poisson"]
    gauss_z = long_range_table.loc[GAUSSIAN]
    max_z_gauss = gauss_z[["Sigma^2 (data - theory)/se", "Delta_3 (data - theory)/se"]].abs().max().max()
    max_z_poisson = pois_z[["Sigma^2 (data - theory)/se", "Delta_3 (data - theory)/se"]].abs().max().max()
    tri = ratio_table[~ratio_table.index.str.contains("dense")]
    z_pub = tri["(measured - published) / se"].abs()
    z_goe_surmise = abs(ratio_table.loc[f"GOE (tridiagonal, n={n_levels})", "(measured - surmise) / se"])
    semicircle_ok = all(c.consistent for c in semicircle_checks)
    atom_tol = 0.5 / (wishart_n * n_wishart_samples)
    atom_dev = float(np.max(np.abs(mp_table["fraction of zero eigenvalues"] - mp_table["atom 1 - 1/q"])))
    mp_ok = atom_dev < atom_tol and all(c.consistent for c in mp_checks)
    surmise_resolved = goe_sp["chi2/bin, surmise"] > CHI2_RESOLVED * goe_sp["chi2/bin, exact"]
    unf = unfolding_table[f"Sigma^2({L_max:g})"]
    low_poly = f"polynomial, degree {min(poly_degrees)}"
    many_knots = f"spline, {max(spline_knots)} knots"
    exact_sigma = unf["semicircle CDF (exact)"]
    pitfalls = {
        "low degree inflates": low_poly in unf and unf[low_poly] > exact_sigma,
        "many knots deflate": many_knots in unf and unf[many_knots] < exact_sigma,
    }
    claims = [
        ("GOE, GUE, GSE densities follow the semicircle on [-2, 2]",
         "KS " + ", ".join(f"{c.ks:.4f}" for c in semicircle_checks),
         "calibrated thresholds " + ", ".join(f"{c.calibration.threshold:.4f}" for c in semicircle_checks)
         + f" (i.i.d. 5% value {semicircle_table['i.i.d. 5% KS value'].iloc[0]:.4f}, far looser)",
         status_from_checks(semicircle_ok), checks_rule(semicircle_checks)),
        ("Wishart spectra follow Marchenko-Pastur, atom 1 - 1/q",
         "zero fractions " + ", ".join(f"{v:.4f}" for v in mp_table["fraction of zero eigenvalues"])
         + "; KS of the non-zero part " + ", ".join(f"{c.ks:.4f}" for c in mp_checks),
         "atoms " + ", ".join(f"{v:.4f}" for v in mp_table["atom 1 - 1/q"]) + "; calibrated thresholds "
         + ", ".join(f"{c.calibration.threshold:.4f}" for c in mp_checks), status_from_checks(mp_ok),
         f"atom: |zero fraction - (1 - 1/q)| < half an eigenvalue of the pooled sample ({atom_tol:.1e}; an exact "
         f"count); non-zero part: {checks_rule(mp_checks)}"),
        ("GOE spacings follow the exact Gaudin-Mehta law, not the surmise",
         f"chi2/bin exact {goe_sp['chi2/bin, exact']:.2f}, surmise {goe_sp['chi2/bin, surmise']:.2f}; "
         f"variance {goe_sp['variance (data)']:.4f}",
         f"exact variance {goe_sp['variance (exact, published)']:.3f}, surmise {goe_sp['variance (surmise)']:.4f}",
         status_from_checks(bool(surmise_resolved), qualified=True),
         f"convention: the surmise is resolved when its chi^2 per bin exceeds {CHI2_RESOLVED} x the exact law's, "
         "else 'qualified'"),
        ("<r~> equals Atas et al. 2013: 0.5307 / 0.5996 / 0.6744 / 0.3863",
         ", ".join(f"{v:.4f}" for v in tri["<r~> measured"]),
         f"max |measured - published| = {z_pub.max():.1f} se", status_from_checks(bool((z_pub < RATIO_Z_AGREE).all())),
         f"every |measured - published| < {RATIO_Z_AGREE} bootstrap standard errors (the 3-sigma convention)"),
        ("Surmise <r~> (0.5359) is not the large-N GOE value",
         f"GOE measured {tri['<r~> measured'].iloc[0]:.4f}", f"{z_goe_surmise:.1f} se from the surmise",
         status_from_checks(z_goe_surmise > RATIO_Z_RESOLVED, qualified=True),
         f"|measured - surmise| > {RATIO_Z_RESOLVED} bootstrap standard errors (3-sigma convention), else 'qualified'"),
        ("Sigma^2 and Delta_3 of GOE/GUE/GSE follow the exact theory",
         f"max |data - theory| = {max_z_gauss:.1f} se", f"L up to {L_max:g}",
         status_from_checks(max_z_gauss < LONG_RANGE_Z, qualified=True),
         f"every |data - theory| < {LONG_RANGE_Z} standard errors over all L (a 4-sigma convention: many correlated "
         "L values per ensemble), else 'qualified'"),
        ("Poisson: Sigma^2 = L, Delta_3 = L/15",
         f"max |data - theory| = {max_z_poisson:.1f} se", f"L up to {L_max:g}",
         status_from_checks(max_z_poisson < LONG_RANGE_Z, qualified=True),
         f"every |data - theory| < {LONG_RANGE_Z} standard errors over all L (4-sigma convention), else 'qualified'"),
        ("Unfolding: low polynomial degree inflates, many spline knots deflate Sigma^2 at large L",
         f"Sigma^2({L_max:g}): " + ", ".join(f"{k}: {v:.3f}" for k, v in unf.items()),
         f"exact-staircase {exact_sigma:.3f}, theory {spacings.goe_number_variance(L_max):.3f}",
         status_from_checks(all(pitfalls.values()), qualified=any(pitfalls.values())),
         "sign check against the exact-staircase unfolding: both pitfalls seen for 'confirmed', one for 'qualified'"),
    ]
    scale = (f"dense GOE/GUE N = {number(n_dense)} (GSE 2N), {number(n_dense_samples)} matrices per ensemble; "
             f"tridiagonal N = {number(n_levels)} levels, {number(n_spectra)} spectra per ensemble; Wishart "
             f"N = {number(wishart_n)}, {number(n_wishart_samples)} per ratio")
    return [Verdict("RMT", claim, status, f"{measured}; {reference}", scale, False, rule)
            for claim, measured, reference, status, rule in claims]
