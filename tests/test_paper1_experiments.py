"""The experiment functions behind paper 1's chapters (05-08) on inputs with known answers: hand-made spectra with
known null spaces and ratios, the published grid's case count and validity, model samples with known zero blocks,
gradient cosines at distance 0, a squared-exponential decay of known length-scale, closed-form halving costs; and
smoke-size runs of the cached network experiments checking shapes and invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lib.experiments import batch_hessians as hs
from lib.experiments import gradient_decorrelation as gc
from lib.experiments import training_budget
from lib.experiments import true_loss_model as tlm
from lib.experiments import true_loss_networks as tln
from lib.rmt import true_loss as tl
from lib.rmt.budget import CurveFit, exponential_saturation, fit_exponential, fit_power_law, halving_summary
from lib.rmt.ensembles import goe
from lib.rmt.level_statistics import GOE_MEAN_MIN_RATIO
from lib.rmt.true_loss import se_gradient_correlation

# --- chapter 3: batch-Hessian level statistics ------------------------------------------------------------


def test_paper_pipeline_table_marks_an_experiment_without_null_space() -> None:
    """Softmax regression with P = 30 parameters and batch rank bound r = P has no null space: its null-space <r~>
    is n/a (paper scale's E3: P = 510 <= 64 x 9), while a bound below P gives the <r~> of the r..P levels."""
    rng = np.random.default_rng(0)
    exp = hs.experiment("E3", "cpu")
    P = 30
    eigs = np.sort(rng.normal(size=(2, P)), axis=1)
    full = {"eigenvalues": eigs, "rank_bounds": np.array([P, P])}
    row = hs.paper_pipeline_table({"E3": exp}, {("E3", "trained"): full}, {}, {"E3": full}, {}, 1e-10,
                                  n_boot=10, seed=0).loc["E3"]
    assert np.isnan(row["null-space <r~>, paper pipeline"])
    assert row["95% CI, paper pipeline"] == "n/a (no null space: r = P)" and row["1 - r/P"] == 0.0
    part = {"eigenvalues": eigs, "rank_bounds": np.array([10, 10])}
    row = hs.paper_pipeline_table({"E3": exp}, {("E3", "trained"): part}, {}, {"E3": part}, {}, 1e-10,
                                  n_boot=10, seed=0).loc["E3"]
    assert 0.0 < row["null-space <r~>, paper pipeline"] < 1.0


def test_null_space_share_is_never_negative() -> None:
    """E1: 30 % of the levels below the cut-off, r/P = 0.5: of the kept 70 %, (0.7 - 0.5) / 0.7 are round-off. E2:
    60 % below, r/P = 0.5: the cut-off dropped genuine levels, no round-off kept (0, not -25 %). E3: r = P, no null
    space (0, not -3 %)."""
    proportion = pd.DataFrame({"float32 trained": [0.3, 0.6, 0.03], "1 - r/P": [0.5, 0.5, 0.0]},
                              index=["E1", "E2", "E3"])
    share = hs.null_space_share(proportion, ["E1", "E2", "E3"])
    assert share == pytest.approx({"E1": 0.2 / 0.7, "E2": 0.0, "E3": 0.0})
    assert hs.roundoff_share(1.0, 0.5) == 0.0  # every level below the cut-off: none kept, none round-off


def test_pooled_ratios_drop_repeated_levels_and_short_spectra() -> None:
    eigs = np.array([[1.0, 2.0, 4.0, 7.0], [1.0, 1.0, 2.0, 4.0]])
    # spacings (1, 2, 3) -> ratios 2, 3/2; the repeated level 1 removed -> spacings (1, 2) -> ratio 2
    np.testing.assert_allclose(hs.pooled_ratios(eigs), [2.0, 1.5, 2.0])
    # above 1.5: (2, 4, 7) -> 3/2; (2, 2, 4) has 2 distinct levels, no ratio
    np.testing.assert_allclose(hs.pooled_ratios(eigs, cutoff=1.5), [1.5])


def test_genuine_and_split_selections_follow_the_rank_bound() -> None:
    logistic, mlp = hs.experiment("E1"), hs.experiment("E4")
    bounds = np.array([3, 3])
    assert hs.genuine_selection(logistic, bounds)["rank_bounds"] is bounds
    assert hs.genuine_selection(mlp, bounds) == {"cutoff": hs.RELATIVE_CUT, "relative": True}
    assert all(sel.get("rank") for sel in hs.split_selections(logistic).values())
    parts = [sel.get("part", "genuine") for sel in hs.split_selections(mlp).values()]
    assert parts == ["genuine", "null"]


def _entry(eigenvalues: np.ndarray, rank: int, valid: bool) -> dict:
    m = eigenvalues.shape[0]
    return {"eigenvalues": eigenvalues, "rank_bounds": np.full(m, rank), "rank_bound_valid": np.asarray(valid),
            "train_loss": np.asarray(0.5), "test_accuracy": np.asarray(0.9), "weight_distance": np.asarray(1.5)}


def _rank_deficient(m: int, p: int, r: int, seed: int) -> np.ndarray:
    """m spectra of size p: r GOE levels of order 1, p - r round-off levels of order 1e-16."""
    rng = np.random.default_rng(seed)
    rows = [np.sort(np.concatenate([np.linalg.eigvalsh(goe(r, rng)) + 3.0, 1e-16 * rng.standard_normal(p - r)]))
            for _ in range(m)]
    return np.stack(rows)


def test_split_table_separates_the_genuine_levels_from_the_null_space() -> None:
    m, p, r = 4, 60, 30
    exps = {"E1": hs.experiment("E1"), "E4": hs.experiment("E4")}
    spectra = {("E1", "trained"): _entry(_rank_deficient(m, p, r, 1), r, True),
               ("E4", "trained"): _entry(_rank_deficient(m, p, r, 2), r, False)}
    spectra32 = {"E1": _entry(_rank_deficient(m, p, r, 3), r, True)}
    split = hs.split_table(exps, spectra, spectra32, n_boot=20, seed=0)
    assert list(split.spectra) == ["E1 float64"] * 2 + ["E1 float32"] * 2 + ["E4 float64"] * 2
    # the rank bound (E1) and the relative cut-off (E4) find the same r genuine levels per spectrum here
    assert set(split[split.selection.str.startswith("genuine")].n_levels) == {m * r}
    assert set(split[split.selection.str.startswith("null")].n_levels) == {m * (p - r)}
    # without a rank bound the levels below the relative cut-off are "small", not called null-space round-off
    assert list(split[split.spectra == "E4 float64"].selection) == ["genuine (|l| > 1e-8 max)",
                                                                    "small (|l| <= 1e-8 max)"]


def test_overview_table_reports_sizes_and_the_rank_bound_where_it_holds() -> None:
    exps = {"E1": hs.experiment("E1"), "E4": hs.experiment("E4")}
    eigs = _rank_deficient(3, 20, 10, 0)
    spectra = {(i, s): _entry(eigs, 10, exps[i].rank_bound_valid) for i in exps for s in ("init", "trained")}
    overview = hs.overview_table(exps, spectra)
    assert list(overview.index) == ["E1", "E4"]
    assert list(overview["P"]) == [20, 20] and list(overview["batch spectra M"]) == [3, 3]
    assert overview.loc["E1", "rank bound r"] == 10 and pd.isna(overview.loc["E4", "rank bound r"])


def test_proportion_table_and_null_space_share_on_known_fractions() -> None:
    exps = {"E1": hs.experiment("E1"), "E4": hs.experiment("E4")}
    genuine = np.linspace(1.0, 2.0, 6)
    f64 = np.tile(np.sort(np.concatenate([[-1e-12, 1e-12, 2e-12, 3e-12], genuine])), (2, 1))  # 4 of 10 below
    f32 = np.tile(np.sort(np.concatenate([[1e-12, 2e-12, 1e-9, 2e-9], genuine])), (2, 1))  # 2 of 10 below 1e-10
    spectra = {("E1", "trained"): _entry(f64, 6, True), ("E1", "init"): _entry(f64 + 10.0, 6, True),
               ("E4", "trained"): _entry(f64, 6, False), ("E4", "init"): _entry(f64, 6, False)}
    table = hs.proportion_table(exps, spectra, {"E1": _entry(f32, 6, True)}, 1e-10)
    assert table.loc["E1", "float64 trained"] == pytest.approx(0.4)
    assert table.loc["E1", "float64 init"] == 0.0
    assert table.loc["E1", "float32 trained"] == pytest.approx(0.2)
    assert table.loc["E1", "1 - r/P"] == pytest.approx(0.4)  # the cut-off finds exactly the null space in float64
    assert pd.isna(table.loc["E4", "1 - r/P"])  # no rank bound for a non-linear network
    # float32 keeps 8 of 10 levels, 6 genuine: a quarter of the kept levels is null space; E4 has no float32 run
    assert hs.null_space_share(table, ["E1", "E4"]) == pytest.approx({"E1": 0.25})


# --- chapter 4: the true-loss model and the networks ------------------------------------------------------


@pytest.fixture(scope="module")
def grid() -> tuple[dict, dict, list]:
    cases = tlm.published_cases(30, 2, 40, 2, [1e-4, 0.1, 10.0], [1.0, 2.0], 3, degeneracy=10, n_outliers=3)
    samples, invalid = tlm.sample_cases(cases, np.random.default_rng(0), 5.0)
    return cases, samples, invalid


def test_published_grid_cases_and_the_kernels_that_cannot_exist(grid) -> None:
    cases, samples, invalid = grid
    assert len(cases) == 1 + 3 + 2 * 3 + 2
    assert cases["spin-glass p=3"]["kp"] == 3.0 and cases["spin-glass p=3"]["kpp"] == 6.0
    # a kernel needs k(0) k''(0) >= k'(0)^2 = 1: only kpp = 10 passes for k(0) = 1 and 2
    assert sorted(invalid) == sorted(f"conditional k={k:g} kpp={kpp:g}" for k in (1, 2) for kpp in (1e-4, 0.1))
    assert len(samples) == 2 * len(cases) - len(invalid)
    assert samples["spin-glass p=3", "derivation"].shape == (2, 30)
    assert samples["degenerate", "notebook"].shape == (2, 40 + 10)
    table = tlm.shift_variance_table(cases, invalid)
    assert table["shift var (derivation)"].isna().sum() == len(invalid)
    np.testing.assert_allclose(table.loc["degenerate", "bulk radius 2 sqrt(kpp n)"], 2 * math.sqrt(1e-3 * 40))


def test_ratio_row_of_goe_samples_and_of_a_zero_block() -> None:
    rng = np.random.default_rng(4)
    eigs = np.stack([np.linalg.eigvalsh(goe(150, rng)) for _ in range(20)])
    row = tlm.ratio_row("goe", eigs, n_boot=100, seed=0)
    assert row["ratios"] == 20 * 148
    assert row["95% low"] <= row["<r~>"] <= row["95% high"]
    assert abs(row["<r~>"] - GOE_MEAN_MIN_RATIO) < 0.02 and row["KS to GOE"] < 0.05
    padded = np.pad(eigs, ((0, 0), (0, 30)))  # an exactly degenerate zero block of 30 levels per spectrum
    assert tlm.ratio_row("padded", padded, n_boot=20, seed=0, zero_tol=1e-10)["ratios"] == 20 * 148


def test_model_ratio_table_rows(grid) -> None:
    cases, samples, _ = grid
    table = tlm.model_ratio_table(cases, samples, np.random.default_rng(1), n_boot=20, seed=0)
    assert len(table) == len(samples) + 3
    assert table.loc["degenerate (notebook), zero block removed", "ratios"] == 2 * (40 - 2)
    assert table.loc["degenerate: as published (kwargs dropped)", "ratios"] == 2 * (40 - 2)
    assert table.loc["outliers (notebook), outliers removed", "ratios"] == 2 * (40 - 3 - 2)


def test_fitted_model_against_its_own_samples() -> None:
    rng = np.random.default_rng(2)
    spectra = tl.sample_spectra(200, 3, 0.01, 0.0, rng, degeneracy=25)
    assert [len(e) for e in tln.nonzero_levels(spectra, 1e-6)] == [200] * 3
    fit = tl.fit_model(spectra, zero_tol=1e-6)
    model_eigs = tln.sample_fitted_model(fit, 3, rng)
    assert model_eigs.shape == (3, fit.n + round(fit.degeneracy))
    compare = tln.model_comparison(spectra, model_eigs, fit, 1e-6, n_boot=20, seed=0)
    assert list(compare["zero block"]) == [25.0, 25.0]
    assert compare["KS bulk vs semicircle"].iloc[0] < 0.1  # the samples' bulk is a semicircle
    assert (compare["<r~>"] - GOE_MEAN_MIN_RATIO).abs().max() < 0.05


def test_nonzero_levels() -> None:
    assert [list(e) for e in tln.nonzero_levels(np.array([[0.0, 1e-12, 1.0, -2.0]]), 1e-6)] == [[1.0, -2.0]]


def test_shift_comparison_units_and_interval_coverage() -> None:
    # model Hessians at 8 random points with a known shift variance v = k''(0): the 95 % chi-square interval of
    # the measured variance must cover it about 95 % of the time (independent replicas of the whole measurement)
    rng = np.random.default_rng(7)
    kpp, n, points, replicas = 0.02, 60, 8, 200
    covered = 0
    for _ in range(replicas):
        fit = tl.fit_model(tl.sample_spectra(n, points, kpp, kpp, rng), zero_tol=1e-12)
        row = tln.shift_comparison({"random points": fit}, [2.0, 4.0], [1.0, 3.0]).loc["random points"]
        covered += row["95% low"] <= kpp <= row["95% high"]
    assert abs(covered / replicas - 0.95) < 3 * math.sqrt(0.95 * 0.05 / replicas)
    # k'(0) = mean squared gradient = 3, k(0) = Var L = 2: the notebook's variance in loss units is 9 / 2
    assert row["notebook as written: kp^2"] == 9.0 and row["notebook in loss units: kp^2/k0"] == 4.5
    assert row["derivation given L: kpp - kp^2/k0"] == pytest.approx(row["derivation: kpp"] - 4.5)


def test_bulk_ks_null_is_calibrated_against_independent_dense_goe_draws() -> None:
    # the null's threshold (tridiagonal beta-Hermite spectra) rejects about 5 % of independent dense-GOE sets
    sim = tln.semicircle_ks_null(80, 2, 200, 1e-6, seed=1)
    threshold = np.quantile(sim["null"], 0.95)
    rng = np.random.default_rng(2)
    fresh = [tln.bulk_semicircle_ks(np.stack([np.linalg.eigvalsh(goe(80, rng)) for _ in range(2)]), 1e-6)
             for _ in range(200)]
    assert abs(np.mean(np.array(fresh) > threshold) - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 200) + 0.05 / math.sqrt(2)
    assert np.mean(sim["alternative"] > threshold) > 0.9  # a Marchenko-Pastur bulk is told apart


def test_goe_ratio_null_is_calibrated_against_independent_dense_goe_draws() -> None:
    sizes = [(60, 5), (40, 5)]
    sim = tlm.goe_ratio_null(sizes, 400, 300, seed=3)
    threshold = np.quantile(sim["null"], 0.95)
    rng = np.random.default_rng(4)
    fresh = [max(abs(np.mean([tlm.min_ratios(np.linalg.eigvalsh(goe(n, rng))).mean() for _ in range(m)])
                     - GOE_MEAN_MIN_RATIO) for n, m in sizes) for _ in range(300)]
    assert abs(np.mean(np.array(fresh) > threshold) - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 300) + 0.02
    assert np.mean(sim["poisson"] > threshold) > 0.99


def test_outlier_ratio_split_on_a_known_spectrum() -> None:
    # a bulk of equally spaced levels (every r~ = 1) topped by 2 outliers at gaps 10 and 40: the last two ratios
    # involve them: (1, 10) -> 0.1 and (10, 40) -> 0.25
    levels = np.concatenate([np.arange(8.0), [17.0, 57.0]])
    split = tlm.outlier_ratio_split(levels[None], 2)
    assert split["<r~> of bulk-only ratios"] == 1.0 and split["share involving an outlier"] == 2 / 8
    assert split["<r~> of ratios involving an outlier"] == pytest.approx(0.175)
    assert split["mixture: GOE bulk + outlier ratios"] == pytest.approx(0.75 * GOE_MEAN_MIN_RATIO + 0.25 * 0.175)


def test_network_spectra_smoke(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RMT_CACHE", str(tmp_path))
    out = tln.network_spectra("digits", "mlp", 0.2, 1, 0.05, [1])
    assert out["spectra"].ndim == 2 and out["spectra"].shape[0] == 1
    assert np.all(np.diff(out["spectra"][0]) >= 0) and np.all(np.isfinite(out["spectra"]))
    assert out["grad_sq"].shape == (1,) and out["grad_sq"][0] > 0
    assert out["spectra_init"].shape == out["spectra"].shape and out["loss_init"].shape == (1,)
    assert out["loss_init"][0] == pytest.approx(math.log(10), rel=0.2)  # a random point: near-uniform predictions
    again = tln.network_spectra("digits", "mlp", 0.2, 1, 0.05, [1])  # read back from the cache
    np.testing.assert_array_equal(again["spectra"], out["spectra"])


# --- chapter 5: gradient decorrelation --------------------------------------------------------------------


def test_decay_summary_recovers_a_known_length_scale() -> None:
    rng = np.random.default_rng(3)
    d = np.array([0.1, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0])
    rows = se_gradient_correlation(d, 2.5, 500) + 0.01 * rng.standard_normal((60, d.size))
    summary = gc.decay_summary(d, rows, 500)
    assert summary["fit"].lengthscale == pytest.approx(2.5, rel=0.03)
    assert 0.1 < summary["chi2/dof"] < 3.0  # the right shape fits to the noise level
    np.testing.assert_allclose(summary["sem"], 0.01 / math.sqrt(60), rtol=0.35)


def test_measure_decorrelation_smoke(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RMT_CACHE", str(tmp_path))
    data = gc.measure_decorrelation("digits", "mlp", 0.2, 2, 0.05, [1, 2], [1], [0.0, 1.0], 2, 0)
    assert data["pert_init"].shape == data["pert_trained"].shape == data["quad_trained"].shape == (2 * 2, 2)
    np.testing.assert_allclose(data["quad_init"][:, 0], 1.0, atol=1e-12)
    # at distance 0 the gradient is compared with itself
    np.testing.assert_allclose(data["pert_trained"][:, 0], 1.0, atol=1e-12)
    assert np.all(np.abs(data["pert_init"]) <= 1 + 1e-12)
    assert data["traj_d"].shape == data["traj_c"].shape == (2 * 3,)  # checkpoints 0, 1, 2 of each network
    assert data["sol_d"].shape == data["ini_d"].shape == (1,)
    assert data["n_parameters"] > 0 and data["norm_w"] > 0


# --- chapter 6: the training budget -----------------------------------------------------------------------


def _curve(model: str, c: float, aicc: float) -> CurveFit:
    params = np.array([1.0, 1.0, c])
    return CurveFit(model, params, np.eye(3), np.zeros(3), params, params, 1.0, 10, aicc, aicc)


def test_halving_summary_in_closed_form() -> None:
    summary = halving_summary(_curve("exponential", -math.log(2) / 10, 3.0), _curve("power", -1.0, 5.0))
    assert summary["exp: epochs per halving"] == pytest.approx(10.0)
    assert summary["exp: epochs for a 100x smaller gap"] == pytest.approx(10 * math.log2(100))
    assert summary["power: budget factor per halving"] == pytest.approx(2.0)
    assert summary["Delta AICc (exp - power)"] == -2.0


def test_budget_runs_smoke(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RMT_CACHE", str(tmp_path))
    runs = training_budget.budget_runs("digits", "mlp", 0.2, [1, 3], [1], 0.1)
    assert list(runs["T"]) == [1, 3] and list(runs["seed"]) == [1, 1]
    assert np.all((runs["t_loss"] >= 1) & (runs["t_loss"] <= runs["T"]))
    assert np.all((runs["t_error"] >= 1) & (runs["t_error"] <= runs["T"]))
    assert np.all((runs["best_error"] >= 0) & (runs["best_error"] <= 1)) and np.all(runs["best_loss"] > 0)
    assert np.all((runs["t_train"] >= 1) & (runs["t_train"] <= runs["T"])) and np.all(runs["best_train_loss"] > 0)


def test_aicc_null_is_cached_by_its_inputs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RMT_CACHE", str(tmp_path))
    t = np.arange(1.0, 13.0)
    y = exponential_saturation(t, 1.0, 0.5, -0.3) + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    fits = fit_exponential(t, y), fit_power_law(t, y)
    first = training_budget.aicc_null(t, *fits, 8, seed=0)
    again = training_budget.aicc_null(t, *fits, 8, seed=0)
    np.testing.assert_array_equal(first["null"], again["null"])
    assert first["null"].size + first["failed"][0] == 8 and len(list(tmp_path.rglob("*.npz"))) == 1
