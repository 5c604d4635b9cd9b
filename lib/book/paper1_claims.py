"""The verdicts on paper 1's claims (Baskerville, Granziol & Keating 2022, arXiv:2102.06740), chapters 03-06.

One function per chapter takes the chapter's computed results and returns its verdicts; every status comes from a
rule of :mod:`lib.book.verdict_rules` with the threshold named below, so a chapter never decides a status itself.
The rules are calibrated on null models of each measurement's own size and selection (chapter 3's GOE rules,
:func:`goe_rules`; chapters 4-6's calibrations), and the conventions that remain (shares of cases, a refit's
tolerance) say so in every verdict's rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from lib.book.verdict_rules import (
    Calibration,
    calibrate,
    share_passing,
    span,
    status_below,
    status_from_checks,
    status_from_share,
    status_when,
    within,
)
from lib.book.verdicts import Verdict, at_scale, number, number_range
from lib.experiments.batch_hessians import null_draws
from lib.rmt.budget import CurveFit
from lib.rmt.level_statistics import GOE_MEAN_MIN_RATIO
from lib.rmt.true_loss import ModelFit

__all__ = [
    "calibrated_table",
    "calibration_view",
    "goe_like",
    "goe_like_share",
    "goe_rules",
    "goe_statistics_verdicts",
    "goe_statistics_paper_scale",
    "gradient_decorrelation_calibrations",
    "gradient_decorrelation_verdicts",
    "training_budget_calibrations",
    "training_budget_verdicts",
    "true_loss_calibrations",
    "true_loss_checked_sets",
    "true_loss_verdicts",
]

#: <r~> of the GOE at large N, 0.5307 (Atas et al. 2013, Table I); the Poisson value is 2 ln 2 - 1 = 0.3863.
GOE_R = GOE_MEAN_MIN_RATIO

# --- chapter 3: GOE local statistics of batch Hessians
#: Nominal false-rejection rate of chapter 3's calibrated rules (each rule's threshold is the 1 - GOE_RULE_LEVEL
#: point of its statistic on GOE spectra of the population's own sizes, :func:`goe_rules`).
GOE_RULE_LEVEL = 0.05
#: Draws of the Poisson alternative per GOE draw: the power against Poisson levels is near 0 or 1, so a quarter
#: of the GOE draws (at least 10) measures it to a few per cent.
POISSON_DRAW_SHARE = 0.25
#: "GOE ratios above a cut-off are diagnostic" is contradicted when at least this share of the null-space
#: (round-off) populations is GOE-like, and only qualified below it (a convention).
NULL_GOE_SHARE = 0.5

#: Data sets that stand in for paper 1's when its files are absent (``batch_hessians._paper_settings``): a run on
#: any of them is not at the paper's scale even with ``scale = "paper"``.
PAPER1_STAND_INS = frozenset({"mnist5k", "deep_features", "diabetes"})

# --- chapter 4: the true-loss model
#: Paper 1's sizes of the model's sample sets: N x samples of the grid cases and of the degenerate/outlier cases.
PAPER1_MODEL_GRID = (300, 100)
PAPER1_MODEL_LARGE = (500, 300)
# The model's <r~> check and the networks' bulk-shape check are calibrated (``true_loss_calibrations``): GOE spectra
# of the sample sets' sizes, and GOE spectra of the networks' size fitted and cut as the networks are.
#: Level of the chi-square interval of the measured shift variance that a predicted variance must fall in.
SHIFT_LEVEL = 0.95

# --- chapter 5: gradient decorrelation
#: Convention: gradients count as aligned nearby when the mean cosine at the smallest distance exceeds NEAR_COSINE.
NEAR_COSINE = 0.9
#: Residual mean cosine of the alternative against which the calibrated "consistent with 0" test states its power.
ZERO_ALTERNATIVE = 0.05
#: Convention: two length-scales l1, l2 count as one when |ln(l1/l2)| is below STATIONARY_Z standard errors
#: (normal approximation, the 95 % two-sided point).
STATIONARY_Z = 1.96

# --- chapter 6: the training budget
#: Convention: the refit of the published table counts as returning the published parameters when its largest
#: relative deviation from them is below REFIT_REL_TOL (the rounding of the five published digits).
REFIT_REL_TOL = 5e-4
#: Description only (no status depends on it): a budget's best test loss counts as early, a sign of overfitting,
#: when it comes before EARLY_BEST of the budget.
EARLY_BEST = 0.75

# ----------------------------------------------------------------------------------------------------------
# Chapter 3


def goe_rules(
    level_counts: Iterable[int],
    *,
    replicas: int,
    n_boot: int,
    seed: int,
    unfolding: str = "spline",
    large_levels: int | None = None,
    large_replicas: int | None = None,
    max_spectra: int | None = None,
) -> dict[str, Calibration]:
    """The calibrated rules of a population of ``level_counts`` levels per spectrum (``summary_table``'s column).

    Null model: ``replicas`` sets of GOE spectra of exactly these sizes, their statistics computed as the
    population's (``lib.experiments.batch_hessians.null_draws``: the same moving-block bootstrap, the same spline
    unfolding); alternative: Poisson levels of the same sizes (POISSON_DRAW_SHARE as many draws). Rules, each at
    level GOE_RULE_LEVEL (``lib.book.verdict_rules.calibrate``):

    * ``"ratio"``: ``ratio_miss``, the distance by which 0.5307 lies outside the 95 % <r~> interval;
    * ``"ratio_ks"``: ``ks_ratio_goe``, the KS distance of r~ to the large-N GOE ratio law;
    * ``"spacing"``: the KS distance of the unfolded spacings to the exact GOE law, the null unfolded as the
      population (``unfolding``: "spline", per spectrum, or "pool", the leave-one-out ensemble staircase).

    Cost caps (each stated in the rule's null): a population of more than ``large_levels`` levels in all gets
    ``large_replicas`` draws instead of ``replicas``; a population of more than ``max_spectra`` spectra is compared
    with a null of ``max_spectra`` of its spectra (evenly spaced, the same levels per spectrum), every simulated
    statistic multiplied by sqrt(n_null / n) (n: levels in all), the 1/sqrt(n) scaling of an interval's half-width
    and of a KS distance (an approximation: a bias that does not shrink with n is not rescaled).
    """
    counts = [int(n) for n in level_counts]
    if large_levels is not None and large_replicas is not None and sum(counts) > large_levels:
        replicas = large_replicas
    null_counts, scale, capped = counts, 1.0, ""
    if max_spectra is not None and len(counts) > max_spectra:
        null_counts = [counts[k] for k in np.linspace(0, len(counts) - 1, max_spectra).round().astype(int)]
        scale = float(np.sqrt(sum(null_counts) / sum(counts)))
        capped = (f"; capped at {max_spectra} of its {len(counts)} spectra, statistics scaled by "
                  f"sqrt(n_null / n) = {scale:.3f}")
    goe = null_draws(null_counts, "goe", replicas, n_boot=n_boot, seed=seed)
    poisson = null_draws(null_counts, "poisson", max(10, round(POISSON_DRAW_SHARE * replicas)), n_boot=n_boot,
                         seed=seed)
    null = f"GOE spectra of the population's sizes ({len(counts)} x {number_range(counts)} levels{capped})"
    alternative = "Poisson levels of the same sizes"
    statistics = {"ratio": ("ratio_miss", "distance of 0.5307 outside the 95 % <r~> interval"),
                  "ratio_ks": ("ks_ratio_goe", "KS distance of r~ to the large-N GOE law"),
                  "spacing": ("ks_spacing_goe" if unfolding == "spline" else "ks_spacing_goe_pool",
                              f"KS distance of the {unfolding}-unfolded spacings to the GOE law")}
    rules = {}
    for name, (key, statistic) in statistics.items():
        g, p = goe[key][np.isfinite(goe[key])] * scale, poisson[key][np.isfinite(poisson[key])] * scale
        rules[name] = calibrate(g, p, statistic=statistic, null=null, alternative=alternative, level=GOE_RULE_LEVEL)
    return rules


def calibrated_table(
    table: pd.DataFrame, *, replicas: int, n_boot: int, seed: int, **caps: int | None
) -> pd.DataFrame:
    """``table`` (rows of ``summary_table``) with each row's :func:`goe_rules` (``caps``: its cost caps
    ``large_levels``, ``large_replicas``, ``max_spectra``) in columns ``ratio_rule``,
    ``ratio_ks_rule``, ``spacing_rule`` and their decisions ``goe_like`` (the <r~> rule), ``ratio_ks_ok`` and
    ``spacing_ok`` (the spacings against a null unfolded the same way, the row's ``unfolding``)."""
    out = table.copy()
    rules = [goe_rules(c, replicas=replicas, n_boot=n_boot, seed=seed, unfolding=u, **caps)
             for c, u in zip(out.level_counts, out.unfolding, strict=True)]
    for name in ("ratio", "ratio_ks", "spacing"):
        out[f"{name}_rule"] = [r[name] for r in rules]
    out["goe_like"] = [r.ratio_rule.accepts(r.ratio_miss) for r in out.itertuples()]
    out["ratio_ks_ok"] = [r.ratio_ks_rule.accepts(r.ks_ratio_goe) for r in out.itertuples()]
    out["spacing_ok"] = [r.spacing_rule.accepts(r.ks_spacing_goe) for r in out.itertuples()]
    return out


def calibration_view(table: pd.DataFrame, rule: str = "ratio") -> pd.DataFrame:
    """One row per population of a :func:`calibrated_table`: its spectra and sizes, the measured statistic of
    ``rule`` ("ratio", "ratio_ks" or "spacing"), the number of GOE draws, the calibrated threshold, the
    false-rejection rate on fresh GOE draws, the power against Poisson levels, and whether the population passes."""
    key = {"ratio": "ratio_miss", "ratio_ks": "ks_ratio_goe", "spacing": "ks_spacing_goe"}[rule]
    ok = {"ratio": "goe_like", "ratio_ks": "ratio_ks_ok", "spacing": "spacing_ok"}[rule]
    return pd.DataFrame({
        "spectra": table.spectra,
        "selection": table.selection,
        "M x levels": [f"{len(c)} x {number_range(c)}" for c in table.level_counts],
        "measured": table[key],
        "null draws": [r.replicas for r in table[f"{rule}_rule"]],
        "threshold": [r.threshold for r in table[f"{rule}_rule"]],
        "false rejection (GOE)": [r.false_rejection for r in table[f"{rule}_rule"]],
        "power (Poisson)": [r.power for r in table[f"{rule}_rule"]],
        "passes": table[ok],
    }).set_index(["spectra", "selection"])


def goe_like(row: Any) -> bool:
    """Whether a population of a :func:`calibrated_table` is GOE-like: its <r~> interval misses 0.5307 by no more
    than the calibrated threshold of its ``ratio_rule``. ``row`` is any object with these attributes."""
    return row.ratio_rule.accepts(row.ratio_miss)


def goe_like_share(rows: pd.DataFrame) -> float:
    """Share of the populations (rows of a :func:`calibrated_table`) that are :func:`goe_like` (NaN for none)."""
    return share_passing(goe_like(r) for r in rows.itertuples())


def _rule_summary(rows: pd.DataFrame, rule: str) -> str:
    """Thresholds, false-rejection rates and powers of ``rule`` over the rows, as ranges."""
    cals = list(rows[f"{rule}_rule"])
    if not cals:
        return "no population"
    def spread(values: list[float], fmt: str) -> str:
        lo, hi = f"{min(values):{fmt}}", f"{max(values):{fmt}}"
        return lo if lo == hi else f"{lo} to {hi}"

    draws = sorted({c.replicas for c in cals})
    return (f"threshold {spread([c.threshold for c in cals], '.3g')}, the {1 - GOE_RULE_LEVEL:.0%} point of half of "
            f"{' or '.join(map(str, draws))} GOE draws of each population's own sizes; false rejection "
            f"{spread([c.false_rejection for c in cals], '.2f')} on fresh GOE draws, power "
            f"{spread([c.power for c in cals], '.2f')} against Poisson levels of the same sizes")


def _failing(rows: pd.DataFrame, test: Callable[[Any], bool]) -> str:
    """The experiment ids (first word of ``spectra``) of the rows that fail ``test``, or "none"."""
    names = [r.spectra.split()[0] for r in rows.itertuples() if not test(r)]
    return ", ".join(names) if names else "none"


def goe_statistics_verdicts(
    summary: pd.DataFrame,
    split: pd.DataFrame,
    spline_rows: pd.DataFrame,
    noise_share: Mapping[str, float],
    weight_distance: Iterable[float],
    *,
    overview: pd.DataFrame,
    scale: str,
    overrides: Mapping[str, Any],
    datasets: Iterable[str],
) -> list[Verdict]:
    """Verdicts on P1.1 (batch-Hessian ratios and spacings are GOE) from chapter 3's calibrated tables.

    ``summary``: rows labelled "<id> trained" / "<id> init" (paper 1's cut-off, leave-one-out pool unfolding);
    ``split``: the genuine and null-space populations (``split_table``, float64 and float32); ``spline_rows``: the
    spline-unfolded genuine levels, one row per experiment; ``noise_share``: ``null_space_share`` (float32);
    ``weight_distance``: ||theta - theta_0|| per experiment.

    P1.1 and P1.1b: ``status_from_share`` of the smaller :func:`goe_like` share (trained and genuine levels;
    trained and initialisation). P1.1a: ``status_from_share`` of the share of ``spline_rows`` whose spacing rule
    accepts. P1.1c: contradicted when at least NULL_GOE_SHARE of the null-space populations are GOE-like, else
    qualified.

    Scale: from ``overview`` (``overview_table``: P, batch spectra M, batch size, epochs per experiment) and the
    experiments' ``datasets``; at paper 1's scale as :func:`goe_statistics_paper_scale` decides it from the
    registry ``scale``, the chapter's ``overrides`` and the data sets.
    """
    trained_rows = summary[summary.spectra.str.endswith("trained")]
    init_rows = summary[summary.spectra.str.endswith("init")]
    genuine64 = split[split.spectra.str.endswith("float64") & split.selection.str.startswith("genuine")]
    null_rows = split[split.selection.str.startswith("null")]
    f_trained, f_init = goe_like_share(trained_rows), goe_like_share(init_rows)
    f_genuine, f_null = goe_like_share(genuine64), goe_like_share(null_rows)
    f_spline = share_passing(spline_rows.spacing_ok)
    spline_bad = ", ".join(spline_rows.spectra[~spline_rows.spacing_ok.astype(bool)]) or "none"
    ks_pass = share_passing(pd.concat([trained_rows, genuine64]).ratio_ks_ok)

    datasets = list(dict.fromkeys(datasets))
    paper_scale = goe_statistics_paper_scale(scale, overrides, datasets)
    scale = (f"{len(overview)} experiments ({', '.join(overview.index)}), P = {number_range(overview['P'])}, "
             f"M = {number_range(overview['batch spectra M'])} batches of "
             f"{number_range(overview['batch size'])} samples, {number_range(overview['epochs'])} epochs; "
             "data: " + ", ".join(datasets))
    scale += ("; paper 1's sizes" if paper_scale
              else "; paper 1: P up to 20,060, batches of 64, every batch, 300 epochs, MNIST / CIFAR-10 / Bike")
    ratio_rule = ("a population is GOE-like when 0.5307 lies inside its 95 % <r~> bootstrap interval or outside it "
                  "by at most a calibrated distance: ")
    share_rule = "; confirmed when every population is GOE-like, qualified from half of them (a convention)"
    return at_scale([
        Verdict("P1.1", "Batch-Hessian spacing ratios agree with the GOE across architectures and data sets",
                status_from_share(min(f_trained, f_genuine)),
                f"trained, |lambda| > 1e-10: <r~> = {span(trained_rows.mean_min_ratio)} over {len(trained_rows)} "
                f"experiments ({f_trained:.0%} GOE-like; not: {_failing(trained_rows, goe_like)}); genuine levels "
                f"only: <r~> = {span(genuine64.mean_min_ratio)} ({f_genuine:.0%} GOE-like; not: "
                f"{_failing(genuine64, goe_like)}); GOE 0.5307, Poisson 0.3863; {ks_pass:.0%} of these populations "
                "also pass the calibrated KS rule on the r~ law",
                rule=ratio_rule + _rule_summary(pd.concat([trained_rows, genuine64]), "ratio") + share_rule),
        Verdict("P1.1a", "Unfolded batch-Hessian spacings follow the GOE spacing law (the paper: the Wigner surmise)",
                status_from_share(f_spline),
                f"spline-unfolded genuine levels: KS distance to the exact GOE law {span(spline_rows.ks_spacing_goe)}, "
                f"{f_spline:.0%} of the experiments within their calibrated threshold (not: {spline_bad}); "
                f"leave-one-out pool unfolding (|lambda| > 1e-10): KS {span(trained_rows.ks_spacing_goe)}, "
                f"{share_passing(trained_rows.spacing_ok):.0%} within the threshold calibrated on GOE spectra "
                "unfolded the same way",
                rule="the KS distance of an experiment's spline-unfolded spacings to the exact GOE law is at most a "
                     "threshold calibrated on GOE spectra of its own sizes unfolded the same way: "
                     + _rule_summary(spline_rows, "spacing") + share_rule),
        Verdict("P1.1b", "The GOE agreement holds after training as well as at initialisation",
                status_from_share(min(f_trained, f_init)),
                f"GOE-like: {f_trained:.0%} of the experiments after training (trained weights loaded, "
                f"||theta - theta_0|| = {span(weight_distance)}), {f_init:.0%} at initialisation (not GOE-like there: "
                f"{_failing(init_rows, goe_like)}, <r~> = {span(init_rows.mean_min_ratio)})",
                rule=ratio_rule + _rule_summary(pd.concat([trained_rows, init_rows]), "ratio") + share_rule),
        Verdict("P1.1c", "GOE ratio statistics above an absolute cut-off are diagnostic of the network's curvature",
                status_below(f_null, NULL_GOE_SHARE, passed="qualified", failed="contradicted"),
                f"null-space round-off alone gives <r~> = {span(null_rows.mean_min_ratio)} ({f_null:.0%} of the "
                f"populations GOE-like); in float32 the 1e-10 cut-off keeps "
                + ", ".join(f"{i}: {v:.0%}" for i, v in noise_share.items())
                + " null-space round-off among its levels",
                rule=f"contradicted when at least {NULL_GOE_SHARE:.0%} of the null-space (round-off) populations are "
                     "GOE-like (a convention), else qualified; GOE-like: " + ratio_rule
                     + _rule_summary(null_rows, "ratio")),
    ], scale, paper_scale)


def goe_statistics_paper_scale(scale: str, overrides: Mapping[str, Any], datasets: Iterable[str]) -> bool:
    """Whether chapter 3 runs at paper 1's scale: the registry's ``"paper"`` sizes, no ``max_batches`` / ``epochs``
    override, and none of the stand-in data sets (:data:`PAPER1_STAND_INS`) in place of paper 1's files."""
    return scale == "paper" and not overrides and not PAPER1_STAND_INS.intersection(datasets)


# ----------------------------------------------------------------------------------------------------------
# Chapter 4


def true_loss_checked_sets(ratio_table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``true_loss_model.model_ratio_table`` that the GOE check of the model covers: every sample set
    except the published notebook's own samples ("as published"), which lacked the degeneracy and outliers."""
    return ratio_table.loc[[i for i in ratio_table.index if "as published" not in i]]


def true_loss_calibrations(
    ratio_null: Mapping[str, np.ndarray],
    ks_null: Mapping[str, np.ndarray],
    *,
    ratio_sizes: Iterable[tuple[int, int]],
    n_levels: int,
    n_networks: int,
) -> dict[str, Calibration]:
    """The calibrated rules of chapter 4 from their simulated statistics.

    ``ratio_null``: ``true_loss_model.goe_ratio_null`` of the sample sets' ``ratio_sizes`` (levels, spectra):
    the largest |<r~> - 0.5307| over the sets, under GOE (null) and Poisson levels (alternative).
    ``ks_null``: ``true_loss_networks.semicircle_ks_null`` of ``n_networks`` spectra of ``n_levels`` levels: the
    bulk's KS distance to its moment-matched semicircle, under GOE spectra (null) and their squares (alternative).
    """
    sizes = sorted(set(ratio_sizes))
    size_text = ", ".join(f"{m} x N = {n}" for n, m in sizes)
    return {
        "model <r~>": calibrate(ratio_null["null"], ratio_null["poisson"],
                                statistic="largest |<r~> - 0.5307| over the model's sample sets",
                                null=f"GOE spectra of the sample sets' sizes ({size_text})",
                                alternative="Poisson levels of the same sizes"),
        "network bulk KS": calibrate(ks_null["null"], ks_null["alternative"],
                                     statistic="KS distance of the network bulk to its moment-matched semicircle",
                                     null=f"{n_networks} GOE spectra of N = {n_levels} levels (a semicircle bulk), "
                                          "fitted, cut and windowed as the networks",
                                     alternative="the squares of those spectra (a Marchenko-Pastur bulk of ratio 1)"),
    }


def true_loss_verdicts(
    ratio_table: pd.DataFrame,
    compare: pd.DataFrame,
    fit: ModelFit,
    shift_table: pd.DataFrame,
    calibrations: Mapping[str, Calibration],
    outlier_split: pd.Series,
    *,
    n_networks: int,
    model: str,
    dataset: str,
    n_parameters: int,
    model_sizes: Mapping[str, tuple[int, int]],
    net_epochs: int,
) -> list[Verdict]:
    """Verdicts on P1.2 (the true-loss model) from chapter 4's results.

    ``ratio_table``: ``true_loss_model.model_ratio_table`` (the check covers :func:`true_loss_checked_sets`);
    ``compare``: ``true_loss_networks.model_comparison`` (networks first); ``fit``: the model fitted to the
    trained networks; ``shift_table``: ``true_loss_networks.shift_comparison`` (rows "random points", "trained
    minima"); ``calibrations``: :func:`true_loss_calibrations`; ``outlier_split``:
    ``true_loss_model.outlier_ratio_split`` of the outlier case.

    The model's local statistics are GOE (confirmed) when the calibrated "model <r~>" rule accepts the largest
    |<r~> - 0.5307| over the sample sets, else qualified; the networks' spectra are like the model's (confirmed) when
    the calibrated "network bulk KS" rule accepts their bulk, else qualified; the shift variance at the random points
    is confirmed when the derivation's k''(0) lies in the measured variance's SHIFT_LEVEL chi-square interval and the
    notebook's k'(0)^2 / k(0) does not, open when both do, else contradicted.

    Scale: ``model_sizes`` = ``{"grid": (N, samples), "large": (N, samples)}`` of the model's cases, and the
    networks (``n_networks`` ``model``s of ``n_parameters`` P on ``dataset``, ``net_epochs`` epochs); at paper 1's
    scale when both cases are at least :data:`PAPER1_MODEL_GRID` / :data:`PAPER1_MODEL_LARGE`.
    """
    grid_rows = true_loss_checked_sets(ratio_table)
    worst = float((grid_rows["<r~>"] - GOE_R).abs().max())
    worst_case = str((grid_rows["<r~>"] - GOE_R).abs().idxmax())
    ratio_cal, ks_cal = calibrations["model <r~>"], calibrations["network bulk KS"]
    net_row = compare.iloc[0]
    net_goe = within(GOE_R, net_row["95% low"], net_row["95% high"])
    (n_grid, m_grid), (n_large, m_large) = model_sizes["grid"], model_sizes["large"]
    paper_scale = (n_grid >= PAPER1_MODEL_GRID[0] and m_grid >= PAPER1_MODEL_GRID[1]
                   and n_large >= PAPER1_MODEL_LARGE[0] and m_large >= PAPER1_MODEL_LARGE[1])
    scale = (f"model: N = {number(n_grid)} x {number(m_grid)} samples per grid case, N = {number(n_large)} x "
             f"{number(m_large)} (degenerate / outliers); networks: {number(n_networks)} {model}s, "
             f"P = {number(n_parameters)}, {dataset}, {number(net_epochs)} epochs; paper 1: N = "
             f"{PAPER1_MODEL_GRID[0]} x {PAPER1_MODEL_GRID[1]}, N = {PAPER1_MODEL_LARGE[0]} x {PAPER1_MODEL_LARGE[1]}")
    rnd, tr = shift_table.loc["random points"], shift_table.loc["trained minima"]
    lo, hi = f"{SHIFT_LEVEL:.0%} low", f"{SHIFT_LEVEL:.0%} high"
    deriv_in = within(rnd["derivation: kpp"], rnd[lo], rnd[hi])
    notebook_in = within(rnd["notebook in loss units: kp^2/k0"], rnd[lo], rnd[hi])
    cond_var = rnd["derivation given L: kpp - kp^2/k0"]
    # at the trained minima the same two predictions, read the same way: a verdict at the random points that the minima
    # reverse is not one the measurement supports
    minima_reverse = (not within(tr["derivation: kpp"], tr[lo], tr[hi])
                      and within(tr.get("notebook in loss units: kp^2/k0", np.nan), tr[lo], tr[hi]))

    def shift_text(row: pd.Series) -> str:
        return (f"{row['measured shift variance']:.3g} [{row[lo]:.3g}, {row[hi]:.3g}] against k''(0) = "
                f"{row['derivation: kpp']:.3g}")

    return at_scale([
        Verdict("P1.2", "The model's Hessians (GOE + common shift, with degeneracy and outliers) have GOE local "
                "statistics", status_when(ratio_cal.accepts(worst), "confirmed", "qualified"),
                f"true by construction: G is a GOE matrix and the shift a multiple of the identity, which moves every "
                f"level alike and leaves the spacings unchanged, so this checks the sampler and finite-size effects; "
                f"{len(grid_rows)} sample sets (both shift conventions, the notebook's kwargs bug fixed): largest "
                f"|<r~> - {GOE_R}| = {worst:.4f} ({worst_case}); the outlier case with its outliers kept, "
                f"<r~> = {outlier_split['<r~> of all ratios']:.4f}, is lowered by the "
                f"{outlier_split['share involving an outlier']:.1%} of ratios that involve an outlier "
                f"(<r~> {outlier_split['<r~> of ratios involving an outlier']:.3f} there, "
                f"{outlier_split['<r~> of bulk-only ratios']:.4f} in the bulk)",
                rule=ratio_cal.describe() + "; confirmed when accepted, else qualified"),
        Verdict("P1.2", "The model allows Hessian spectra with rank degeneracy and outliers like those of networks",
                status_when(ks_cal.accepts(float(net_row["KS bulk vs semicircle"])), "confirmed", "qualified"),
                f"fit to {n_networks} trained {model}s on {dataset} (P = {n_parameters}): zero block "
                f"{fit.degeneracy:.1f}, {fit.n_outliers:.1f} outliers per network (both fitted, so matched by "
                f"construction); network bulk <r~> = {net_row['<r~>']:.4f} [{net_row['95% low']:.4f}, "
                f"{net_row['95% high']:.4f}] ({'consistent with' if net_goe else 'away from'} GOE {GOE_R}); bulk "
                f"shape: KS to the moment-matched semicircle {net_row['KS bulk vs semicircle']:.3f}",
                rule=ks_cal.describe() + "; confirmed when the bulk is accepted as a semicircle, else qualified"),
        Verdict("P1.2", "At random points the common shift of the Hessian varies with the model's variance k''(0) "
                "(derivation), not the published notebook's k'(0)^2",
                ("open" if (deriv_in and notebook_in) or (deriv_in and not notebook_in and minima_reverse)
                 else status_when(deriv_in, "confirmed", "contradicted")),
                f"variance of the bulk centres across {int(rnd['points'])} random initial points, minus the GOE part: "
                f"{shift_text(rnd)}, k''(0) - k'(0)^2/k(0) = "
                f"{rnd['derivation given L: kpp - kp^2/k0']:.3g}"
                f"{' (negative: no valid kernel has these estimates)' if cond_var < 0 else ''}, "
                f"notebook k'(0)^2/k(0) = "
                f"{rnd['notebook in loss units: kp^2/k0']:.3g} (k'(0) = {rnd['kp (random points)']:.3g}, "
                f"k(0) = Var L = {rnd['k0 = Var L (random points)']:.3g}); at the {int(tr['points'])} trained "
                f"minima: {shift_text(tr)}",
                rule=f"derived: a predicted variance passes when it lies in the {SHIFT_LEVEL:.0%} chi-square interval "
                     "of the measured variance of the bulk centres (normal centres, points - 1 degrees of freedom); at "
                     "the random points: confirmed when the derivation's k''(0) passes and the notebook's "
                     "k'(0)^2/k(0) does not, open when both pass (the measurement cannot tell them apart) or when the "
                     "trained minima reverse the outcome (there the notebook's passes and the derivation's does not), "
                     "else contradicted"),
    ], scale, paper_scale)


# ----------------------------------------------------------------------------------------------------------
# Chapter 5


def gradient_decorrelation_calibrations(
    zero_nulls: Mapping[str, Mapping[str, np.ndarray]], shape_nulls: Mapping[str, Mapping[str, np.ndarray]],
    *, n_rays: int,
) -> dict[str, Calibration]:
    """The calibrated rules of chapter 5 from their simulated statistics.

    ``zero_nulls``: per series ("network, trained", "control, init", ...) the ``gradient_decorrelation.zero_mean_null``
    of its cosines at the largest distance (|t| with true mean 0, and with mean ZERO_ALTERNATIVE); ``shape_nulls``:
    per kind of point ("trained", "init") the ``correlation_fits.shape_chi2_null`` (reduced chi^2 of the SE shape
    under the SE shape and under an exponential decay, with the measured standard errors).
    """
    out = {f"zero: {name}": calibrate(v["null"], v["alternative"],
                                      statistic=f"|mean cosine| / sem at the largest distance ({name})",
                                      null=f"{n_rays} rays resampled from the measured cosines, centred on 0",
                                      alternative=f"the same with mean cosine {ZERO_ALTERNATIVE}")
           for name, v in zero_nulls.items()}
    out |= {f"SE shape: {name}": calibrate(v["null"], v["alternative"],
                                           statistic=f"reduced chi^2 of the squared-exponential shape ({name} points)",
                                           null="the fitted SE curve plus independent Gaussian errors of the measured "
                                                "standard errors",
                                           alternative="an exponential decay exp(-d/l) of the same l, same errors")
            for name, v in shape_nulls.items()}
    return out


def _points(trained: bool, initial: bool) -> str:
    """"trained and initial points", "trained points only", ... for the points where a test holds."""
    return {(True, True): "both kinds of point", (True, False): "trained points only",
            (False, True): "initial points only", (False, False): "neither kind of point"}[(trained, initial)]


def gradient_decorrelation_verdicts(
    summary: Mapping[str, Mapping[str, Any]],
    data: Mapping[str, Any],
    distances: Iterable[float],
    calibrations: Mapping[str, Calibration],
    *,
    model: str,
    dataset: str,
    n_networks: int,
    n_directions: int,
    epochs: int,
) -> list[Verdict]:
    """Verdicts on P1.2b (gradients decorrelate with distance, with the squared-exponential shape) from chapter 5.

    ``summary``: ``decay_summary`` of the cosines of the network around the "trained" and the "init" points, and of
    the quadratic control ("control trained", "control init"); ``data``: ``measure_decorrelation``'s results
    (``n_parameters``, ``sol_c``, ``sol_d``); ``calibrations``: :func:`gradient_decorrelation_calibrations`.

    Decorrelation: aligned nearby (mean cosine above NEAR_COSINE at the smallest distance, a convention) and
    consistent with 0 at the largest (calibrated "zero" rules), around both kinds of point; confirmed only if the
    quadratic control is consistent with 0 around neither kind of point (where it is, the test does not tell the
    model from a quadratic bowl), qualified when aligned nearby but not all of that holds, else contradicted.
    Shape: confirmed when the calibrated "SE shape" rules accept both reduced chi^2, else contradicted.
    Stationarity: the length-scales around initial and trained points agree within STATIONARY_Z standard errors of
    their log ratio (confirmed), else contradicted.

    Scale: ``n_networks`` ``model``s of P = ``data["n_parameters"]`` trained ``epochs`` epochs on ``dataset``,
    ``n_directions`` directions per point, the range of ``distances``. No profile reruns paper 1's own networks,
    so ``paper_scale`` is False.
    """
    tr, ini, ctr, cin = (summary[k] for k in ("trained", "init", "control trained", "control init"))
    d = np.asarray(list(distances), dtype=float)
    scale = (f"{number(n_networks)} {model}s, P = {number(data['n_parameters'])}, {dataset} (whole training split), "
             f"{number(epochs)} epochs; {number(n_directions)} directions per point, d = {d.min():g}-{d.max():g}; "
             "paper 1's own networks are not rerun")
    zero = {name: calibrations[f"zero: {name}"].accepts(s["|t| far"])
            for name, s in (("network, trained", tr), ("network, init", ini), ("control, trained", ctr),
                            ("control, init", cin))}
    near = bool(tr["mean"][0] > NEAR_COSINE and ini["mean"][0] > NEAR_COSINE)
    far = zero["network, trained"] and zero["network, init"]
    # the test tells the model from a quadratic loss only where the control does NOT decorrelate: at both kinds of point
    control_alike = zero["control, trained"] or zero["control, init"]
    shape_ok = [calibrations[f"SE shape: {k}"].accepts(s["chi2/dof"]) for k, s in (("trained", tr), ("init", ini))]
    l_tr, l_in = tr["fit"], ini["fit"]
    z = abs(np.log(l_tr.lengthscale / l_in.lengthscale)) / np.hypot(l_tr.stderr / l_tr.lengthscale,
                                                                     l_in.stderr / l_in.lengthscale)
    fold = l_in.lengthscale / l_tr.lengthscale
    nonstationary = (": the surface is not stationary, so the model's kernel can at best describe it locally"
                     if z >= STATIONARY_Z else "")

    def far_text(s: Mapping[str, Any]) -> str:
        return f"{s['mean'][-1]:.3f} +/- {s['sem'][-1]:.3f} (|t| = {s['|t| far']:.1f})"

    zero_rule = "; ".join(f"{k}: {calibrations[f'zero: {k}'].threshold:.3g}" for k in zero)
    return at_scale([
        Verdict("P1.2b", "Loss gradients become independent (decorrelate) with distance in weight space, as the "
                "model predicts (a test that tells the model from a quadratic loss)",
                status_from_checks(near and far and not control_alike, qualified=near),
                f"{model} on {dataset}, P = {data['n_parameters']}, {n_networks} networks x {n_directions} directions: "
                f"cosine {tr['mean'][0]:.3f} at d = {d[0]:g} and {far_text(tr)} at d = {d[-1]:g} around trained "
                f"points ({'consistent' if zero['network, trained'] else 'not consistent'} with 0), "
                f"{ini['mean'][0]:.3f} and {far_text(ini)} around initial points "
                f"({'consistent' if zero['network, init'] else 'not consistent'} with 0); the quadratic control "
                f"(the network's own Hessian at the point) on the same rays: {far_text(ctr)} (trained), "
                f"{far_text(cin)} (initial): consistent with 0 around "
                f"{_points(zero['control, trained'], zero['control, init'])}; "
                f"independent solutions {data['sol_c'].mean():.3f} at mean distance {data['sol_d'].mean():.1f}",
                rule=f"convention: aligned nearby when the mean cosine at the smallest distance exceeds {NEAR_COSINE}; "
                     f"calibrated: consistent with 0 at the largest distance when |t| <= the 95 % point of resampled "
                     f"centred cosines ({zero_rule}); confirmed when aligned nearby, consistent with 0 far away at "
                     "both kinds of point and the control consistent with 0 around neither; qualified when only "
                     "aligned nearby; else "
                     "contradicted"),
        Verdict("P1.2b",
                "The decay follows the squared-exponential kernel's prediction exp(-d^2/2l^2)(1 - d^2/(P l^2))",
                status_when(all(shape_ok), "confirmed", "contradicted"),
                f"fitted l = {l_tr.lengthscale:.3g} +/- {l_tr.stderr:.2g} (trained), "
                f"{l_in.lengthscale:.3g} +/- {l_in.stderr:.2g} (initial); reduced chi2 of the SE shape "
                f"{tr['chi2/dof']:.1f} (trained), {ini['chi2/dof']:.1f} (initial)",
                rule=calibrations["SE shape: trained"].describe() + "; at the initial points: "
                + calibrations["SE shape: init"].describe() + "; confirmed when both accept, else contradicted"),
        Verdict("P1.2b", "One stationary kernel: the same length-scale around initial and trained points",
                status_when(bool(z < STATIONARY_Z), "confirmed", "contradicted"),
                f"l = {l_in.lengthscale:.3g} +/- {l_in.stderr:.2g} around initial points and {l_tr.lengthscale:.3g} "
                f"+/- {l_tr.stderr:.2g} around trained points, a factor {fold:.3g} ({z:.1f} standard errors of the "
                f"log ratio from 1){nonstationary}; the quadratic control (each point's own gradient and Hessian) "
                f"on the same rays: l = {cin['fit'].lengthscale:.3g} (initial) and {ctr['fit'].lengthscale:.3g} "
                f"(trained), a factor {cin['fit'].lengthscale / ctr['fit'].lengthscale:.3g}",
                rule=f"convention: confirmed when |ln(l_trained / l_init)| is below {STATIONARY_Z} standard errors "
                     "(fit errors, normal approximation), else contradicted"),
    ], scale, False)


# ----------------------------------------------------------------------------------------------------------
# Chapter 6


def training_budget_calibrations(nulls: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, Calibration]:
    """The calibrated "power law favoured" rules of chapter 6: per data set (name -> ``budget.aicc_difference_null``)
    the 95 % point of Delta AICc = AICc(exponential) - AICc(power law) when the exponential law is true."""
    return {name: calibrate(v["null"], v["alternative"], statistic=f"Delta AICc, exponential - power law ({name})",
                            null=f"the fitted exponential plus Gaussian noise of its residual variance, refitted "
                                 f"({int(v['failed'][0])} non-converged replicas dropped)",
                            alternative="the fitted power law plus its residual noise")
            for name, v in nulls.items()}


def training_budget_verdicts(
    published_fits: Mapping[str, tuple[CurveFit, CurveFit]],
    train_fits: tuple[CurveFit, CurveFit],
    max_rel_dev: float,
    calibrations: Mapping[str, Calibration],
    best_test_epoch: Mapping[int, float],
    *,
    model: str,
    dataset: str,
    n_budgets: int,
    n_seeds: int,
    max_budget: int,
    n_published: int,
) -> list[Verdict]:
    """Verdicts on P1.3 (the best loss approaches its asymptote exponentially in the budget) from chapter 6.

    ``published_fits``: "loss" and "error" -> (exponential fit, power-law fit) of the published ResNet-50 table;
    ``train_fits``: (exponential, power law) of our best training loss against the budget T; ``max_rel_dev``: the
    largest relative deviation of the refit from the published parameters; ``calibrations``:
    :func:`training_budget_calibrations` with keys "ResNet-50 loss", "ResNet-50 error" and "ours"; ``best_test_epoch``:
    budget T -> mean epoch of our best test loss. The refit of the published numbers returns the published fit
    ("reproduced") when ``max_rel_dev`` < REFIT_REL_TOL, else contradicted; the exponential approach is confirmed
    when no calibrated rule finds the power law favoured and our rate c has a 95 % interval below 0, contradicted when
    the rules find it favoured on both of the paper's own ResNet-50 curves, else qualified.

    Scale: the published table's ``n_published`` ResNet-50 / ImageNet budgets (refitted, not retrained) and our
    ``n_budgets`` budgets up to ``max_budget`` epochs x ``n_seeds`` seeds of ``model`` on ``dataset``. No ResNet-50
    is trained here, so ``paper_scale`` is False.
    """
    e_loss, p_loss = published_fits["loss"]
    e_err, p_err = published_fits["error"]
    ours_e, ours_p = train_fits
    deltas = {"ResNet-50 loss": e_loss.aicc - p_loss.aicc, "ResNet-50 error": e_err.aicc - p_err.aicc,
              "ours": ours_e.aicc - ours_p.aicc}
    power_favoured = [name for name, v in deltas.items() if not calibrations[name].accepts(v)]
    saturates = bool(ours_e.params[2] < 0 and ours_e.ci_high[2] < 0)
    # the paper's own data (both ResNet-50 curves) favouring the power law contradicts the claim
    paper_data_against = {"ResNet-50 loss", "ResNet-50 error"} <= set(power_favoured)
    early = sorted(T for T, t in best_test_epoch.items() if t < EARLY_BEST * T)
    epochs = [best_test_epoch[T] for T in early]
    test_text = (f"our best *test* loss comes at epoch {min(epochs):.0f}-{max(epochs):.0f} for the budgets "
                 f"T = {early[0]}-{early[-1]}, before the last quarter of the budget (overfitting), so a test-loss fit "
                 "measures the onset of overfitting, not the difficulty of reaching a minimum" if early else
                 "our best test loss comes in the last quarter of every budget")
    scale = (f"published ResNet-50 / ImageNet table, {number(n_published)} budgets (refitted, not retrained); ours: "
             f"{model} on {dataset}, {number(n_budgets)} budgets up to {number(max_budget)} epochs x "
             f"{number(n_seeds)} seeds")
    return at_scale([
        Verdict("P1.3", "A refit of the published ResNet-50 numbers (the published table refitted, not the "
                "experiment rerun) returns the published fit y = a + b exp(ct) (loss a = 0.94325, b = 0.76132, "
                "c = -0.045849; error a = 0.23295, b = 0.16744, c = -0.040667)",
                status_below(max_rel_dev, REFIT_REL_TOL, passed="reproduced", failed="contradicted"),
                f"refit of the published table: loss a = {e_loss.params[0]:.5f}, b = {e_loss.params[1]:.5f}, "
                f"c = {e_loss.params[2]:.6f}; error a = {e_err.params[0]:.5f}, b = {e_err.params[1]:.5f}, "
                f"c = {e_err.params[2]:.6f}; largest relative deviation {max_rel_dev:.1e}; this checks the "
                "transcription and the fitting procedure, not the experiment",
                rule=f"convention: 'reproduced' (the published numbers refitted) when the largest relative deviation "
                     f"of the refit from the published parameters is below {REFIT_REL_TOL:g}, the rounding of the "
                     "published digits; else contradicted"),
        Verdict("P1.3", "The best loss approaches its asymptote exponentially in the training budget",
                ("contradicted" if paper_data_against
                 else status_from_checks(saturates and not power_favoured, qualified=True)),
                f"ResNet-50 (best validation loss against its epoch): Delta AICc exponential - power law = "
                f"{deltas['ResNet-50 loss']:.1f} (loss), {deltas['ResNet-50 error']:.1f} (error), > 0 favours the "
                f"power law; {model} on {dataset}, best training loss against the budget T ({n_budgets} budgets x "
                f"{n_seeds} seeds): c = {ours_e.params[2]:.3f} [{ours_e.ci_low[2]:.3f}, {ours_e.ci_high[2]:.3f}] per "
                f"epoch, a = {ours_e.params[0]:.4f}, Delta AICc = {deltas['ours']:.1f}; power law favoured beyond "
                f"the calibrated threshold: {', '.join(power_favoured) or 'none'}; {test_text}",
                rule="; ".join(c.describe() for c in calibrations.values())
                + "; contradicted when the rules find the power law favoured on both of the paper's own ResNet-50 "
                  "curves (loss and error); confirmed when no rule finds it favoured and our c has a 95 % interval "
                  "below 0; else qualified"),
    ], scale, False)
