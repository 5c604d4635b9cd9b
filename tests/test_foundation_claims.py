"""Tests of lib.book.foundation_claims: the decision rules of chapters 1 and 2 on hand-made tables with known
verdicts, at and around every threshold, and the speed claims on hand-made and on the committed benchmark results."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lib.book import foundation_claims as fc
from lib.book.benchmark_results import MissingBenchmarkError, load_results
from lib.book.law_checks import LawCheck
from lib.book.verdict_rules import Calibration

# --- chapter 1 ----------------------------------------------------------------------------------------------------

N_LEVELS, L_MAX = 300, 15.0
GAUSS = ["GOE", "GUE", "GSE"]


def _baseline_tables(**change) -> dict:
    """Tables in the chapter's layout for which every claim holds; ``change`` overrides single entries."""
    semicircle = pd.DataFrame({"KS distance to semicircle": [0.01, 0.01, 0.01],
                               "i.i.d. 5% KS value": [0.02, 0.02, 0.02]}, index=pd.Index(GAUSS, name="ensemble"))
    mp = pd.DataFrame({"atom 1 - 1/q": [0.0, 0.5], "fraction of zero eigenvalues": [0.0, 0.5],
                       "KS distance (non-zero part)": [0.01, 0.01], "i.i.d. 5% KS value": [0.05, 0.05]},
                      index=pd.Index([0.5, 2.0], name="q"))
    spacing = pd.DataFrame({"chi2/bin, exact": [1.0, 1.0, 1.0], "chi2/bin, surmise": [3.0, 1.5, 1.2],
                            "variance (data)": [0.286, 0.18, 0.104],
                            "variance (exact, published)": [0.286, 0.18, 0.104],
                            "variance (surmise)": [0.273, 0.178, 0.104]}, index=pd.Index(GAUSS, name="ensemble"))
    labels = [f"{g} (tridiagonal, n={N_LEVELS})" for g in GAUSS] + [f"Poisson (n={N_LEVELS})"] + [
        f"{g} (dense, n=60)" for g in GAUSS]
    ratio = pd.DataFrame({"<r~> measured": [0.53, 0.6, 0.67, 0.39, 0.53, 0.6, 0.67],
                          "(measured - published) / se": [1.0, -0.5, 2.9, 0.0, 9.0, 9.0, 9.0],
                          "(measured - surmise) / se": [-5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]},
                         index=pd.Index(labels, name="sample"))
    unfolding = pd.DataFrame({f"Sigma^2({L_MAX:g})": [0.5, 0.5, 0.9, 0.3]}, index=pd.Index(
        ["semicircle CDF (exact)", "pool (paper 1)", "polynomial, degree 3", "spline, 30 knots"], name="method"))
    idx = pd.MultiIndex.from_product([[*GAUSS, "Poisson"], [1.0, L_MAX]], names=["ensemble", "L"])
    long_range = pd.DataFrame({"Sigma^2 (data - theory)/se": 1.0, "Delta_3 (data - theory)/se": -1.0}, index=idx)
    tables = {"semicircle_table": semicircle, "mp_table": mp, "spacing_table": spacing, "ratio_table": ratio,
              "unfolding_table": unfolding, "long_range_table": long_range}
    for (name, row, col), value in change.get("cells", {}).items():
        tables[name].loc[row, col] = value
    return tables


def _check(name: str, ks: float = 0.01, threshold: float = 0.02) -> LawCheck:
    return LawCheck(name, "law", "wrong law", 100, ks, 0.5, Calibration("KS", threshold, "null", "alt", 0.05, 1.0,
                                                                         100, 0.05))


def _baseline(**change) -> list:
    tables = _baseline_tables(**change)
    ks = change.get("ks", {})
    semicircle = [_check(g, ks.get(g, 0.01)) for g in GAUSS]
    mp = [_check(f"q = {q}", ks.get(q, 0.01)) for q in (0.5, 2.0)]
    return fc.rmt_baseline_verdicts(**tables, semicircle_checks=semicircle, mp_checks=mp, n_levels=N_LEVELS,
                                    poly_degrees=change.get("degrees", [3, 9]),
                                    spline_knots=[10, 30], L_max=L_MAX, n_dense=200, n_dense_samples=10, n_spectra=150,
                                    wishart_n=400, n_wishart_samples=4)


def test_rmt_baselines_all_hold():
    verdicts = _baseline()
    assert [v.status for v in verdicts] == ["confirmed"] * 8
    assert verdicts[3].evidence == "0.5300, 0.6000, 0.6700, 0.3900; max |measured - published| = 2.9 se"
    assert "5.0 se from the surmise" in verdicts[4].evidence
    assert "polynomial, degree 3: 0.900" in verdicts[7].evidence and "exact-staircase 0.500" in verdicts[7].evidence
    assert all(v.scale == verdicts[0].scale and not v.paper_scale for v in verdicts)
    assert all(v.rule and v.rule != "not recorded" for v in verdicts)
    assert "half an eigenvalue of the pooled sample (3.1e-04" in verdicts[1].rule
    assert verdicts[0].evidence.startswith("KS 0.0100, 0.0100, 0.0100; calibrated thresholds 0.0200")
    assert verdicts[0].scale == (f"dense GOE/GUE N = 200 (GSE 2N), 10 matrices per ensemble; tridiagonal "
                                 f"N = {N_LEVELS:,} levels, 150 spectra per ensemble; Wishart N = 400, 4 per ratio")


@pytest.mark.parametrize(("cells", "index", "expected"), [
    # the atom is an exact count: within half an eigenvalue of the 4 x 400 pooled eigenvalues, 0.5 / 1600
    ({("mp_table", 2.0, "fraction of zero eigenvalues"): 0.5 + 1 / 1600}, 1, "contradicted"),
    ({("mp_table", 2.0, "fraction of zero eigenvalues"): 0.5 + 0.49 / 1600}, 1, "confirmed"),
    ({("mp_table", 0.5, "fraction of zero eigenvalues"): 0.51 / 1600}, 1, "contradicted"),
    ({("spacing_table", "GOE", "chi2/bin, surmise"): 2.0}, 2, "qualified"),  # exactly 2x the exact law's
    ({("ratio_table", f"GSE (tridiagonal, n={N_LEVELS})", "(measured - published) / se"): -3.0}, 3, "contradicted"),
    ({("ratio_table", f"GOE (tridiagonal, n={N_LEVELS})", "(measured - surmise) / se"): 3.0}, 4, "qualified"),
    ({("ratio_table", f"GOE (tridiagonal, n={N_LEVELS})", "(measured - surmise) / se"): -3.01}, 4, "confirmed"),
    ({("long_range_table", ("GSE", L_MAX), "Delta_3 (data - theory)/se"): -4.0}, 5, "qualified"),
    ({("long_range_table", ("Poisson", 1.0), "Sigma^2 (data - theory)/se"): 3.99}, 6, "confirmed"),
    ({("long_range_table", ("Poisson", 1.0), "Sigma^2 (data - theory)/se"): 4.0}, 6, "qualified"),
    ({("unfolding_table", "spline, 30 knots", f"Sigma^2({L_MAX:g})"): 0.5}, 7, "qualified"),  # only one pitfall
])
def test_rmt_baseline_thresholds(cells, index, expected):
    verdicts = _baseline(cells=cells)
    assert verdicts[index].status == expected
    assert all(v.status == "confirmed" for i, v in enumerate(verdicts) if i != index)


@pytest.mark.parametrize(("ks", "index", "expected"), [
    ({"GUE": 0.02}, 0, "confirmed"),  # at the calibrated threshold: accepted (<=)
    ({"GUE": 0.0201}, 0, "contradicted"),
    ({2.0: 0.03}, 1, "contradicted"),  # the non-zero part of a Wishart spectrum beyond its threshold
])
def test_calibrated_ks_checks_decide_the_laws(ks, index, expected):
    verdicts = _baseline(ks=ks)
    assert verdicts[index].status == expected
    assert all(v.status == "confirmed" for i, v in enumerate(verdicts) if i != index)


def test_unfolding_pitfalls_need_the_methods_that_show_them():
    # the lowest degree was refused by the library (no row): its pitfall counts as not seen
    verdicts = _baseline(degrees=[1, 3])
    assert verdicts[7].status == "qualified"
    none_seen = _baseline(degrees=[1, 3], cells={
        ("unfolding_table", "spline, 30 knots", f"Sigma^2({L_MAX:g})"): 0.7})
    assert none_seen[7].status == "contradicted"


# --- chapter 2 ----------------------------------------------------------------------------------------------------


def _batch(eigs_rows: list[list[float]], bound: int) -> SimpleNamespace:
    return SimpleNamespace(eigenvalues=np.array(eigs_rows), rank_bounds=np.array([bound] * len(eigs_rows)))


def _results(**override) -> dict:
    result = {
        "machine": {"device": "cpu"},
        "exact_hessian": {"rows": [{"problem": "a", "func_hessian_over_ours": 3.0, "row_loop_over_ours": 1.0},
                                   {"problem": "b", "row_loop_over_ours": 2.0}]},
        "hvp_over_gradient": {"rows": [
            {"method": "ours (func, traced), 1 vector", "hvp_over_gradient": 1.8},
            {"method": "ours (func, traced), 10 vectors / 10", "hvp_over_gradient": 1.3},
            {"method": "ours: a new operator's first product (tracing included)", "hvp_over_gradient": 20.0},
            {"method": "peer", "hvp_over_gradient": 2.5}]},
        "slq": {"accuracy_seeds": 5, "rows": [
            {"method": "ours", "seconds": 10.0, "w1_mean": 1.0e-3, "w1_se": 1e-4},
            {"method": "fast peer", "seconds": 30.0, "w1_mean": 3.0e-3, "w1_se": 1e-4},
            {"method": "accurate peer", "seconds": 50.0, "w1_mean": 0.9e-3, "w1_se": 1e-4},
            {"method": "broken peer", "error": "RuntimeError()"}]},
    }
    result.update(override)
    return {"hand": result}


def _engine(results=None, g_min=-1e-11, beyond32=1e-8) -> list:
    eigs = {"H": np.array([-0.1, 0.0, 1.0]), "G": np.array([g_min, 0.0, 1.0]), "R": np.array([-0.1, 0.0, 0.1])}
    spectra = {"initialisation": eigs, "trained": eigs}
    # rank bound 2 of P = 5: the three smallest |lambda| / lambda_max = 2 are the round-off; medians 1e-16, beyond32
    batch = {("softmax regression, H", "float64"): _batch([[1e-16, 2e-16, 3e-16, 1.0, 2.0]], 2),
             ("softmax regression, H", "float32"): _batch([[beyond32, 2 * beyond32, 3 * beyond32, 1.0, 2.0]], 2)}
    rank_table = pd.DataFrame({"# |λ| > 1e-12 λmax": [2.0, 3.0], "# |λ| > 1e-10": [2.0, 3.0]})
    slq_table = pd.DataFrame({"W1 to exact": [0.1, 0.01, 0.02], "W1 / spread of exact": [0.5, 0.05, 0.1]})
    return fc.hessian_engine_verdicts(spectra, {"initialisation": 0.5, "trained": 0.1}, batch, rank_table, slq_table,
                                      slq_steps=[5, 10], slq_probes_default=3,
                                      results=_results() if results is None else results, n_parameters=2760,
                                      n_train=512, dataset="digits", model="mlp", epochs=20, batch_size=64,
                                      logistic_batch=16)


def test_hessian_engine_verdicts_on_hand_made_results():
    verdicts = _engine()
    assert [v.status for v in verdicts] == ["confirmed", "confirmed", "confirmed", "confirmed", "confirmed",
                                            "qualified", "confirmed", "confirmed", "confirmed", "confirmed"]
    assert "median |λ|/λmax beyond the bound: 1.0e-16 (float64), 1.0e-08 (float32)" in verdicts[3].evidence
    assert verdicts[5].evidence == ("W1 = 1.00e-02 (5.0% of the spread); m = 5: 1.00e-01 (the bulk near zero is "
                                    "only coarsely resolved)")
    assert verdicts[6].evidence == "speed-up 3.00x (a)"  # only the problems timed against torch.func.hessian
    assert verdicts[7].evidence == "speed-up 1.00x (a), 2.00x (b)"
    # the fastest peer that finished, and the most accurate one, are compared
    assert verdicts[9].evidence.startswith("3.00x faster than fast peer (one timing each, no rounds); W1 1.00e-03")
    assert verdicts[9].evidence.endswith("; failed: broken peer")  # the peer that failed is named
    assert "(accurate peer; 5 probe seeds)" in verdicts[9].evidence
    assert all(not v.paper_scale for v in verdicts)
    assert all(v.rule and v.rule != "not recorded" for v in verdicts)
    assert {v.scale for v in verdicts[:6]} == {
        "mlp P = 2,760 on 512 digits samples, 20 SGD epochs, batch Hessians of 64 samples; softmax regression P = 5, "
        "M = 1 batches of b = 16; paper 1: P = 7,850 (MNIST), b = 64"}
    assert {v.scale for v in verdicts[6:]} == {"benchmark results 'hand'"}  # the hand-made file records no sizes
    sized = _results()
    sized["hand"]["exact_hessian"]["rows"][0].update(P=3466, N=256)
    sized["hand"]["exact_hessian"]["rows"][1].update(P=7850, N=64)
    sized["hand"]["slq"].update(P=3466, N=1797)
    assert _engine(results=sized)[6].scale == ("benchmark results 'hand': exact Hessian P = 3,466-7,850, N = 64-256; "
                                               "SLQ P = 3,466, N = 1,797")


def test_hessian_engine_thresholds():
    assert _engine(g_min=-2e-10)[0].status == "contradicted"  # G's lambda_min below -1e-10 lambda_max
    assert _engine(beyond32=0.5e-13)[3].status == "qualified"  # not 1e3 times float64's round-off
    slow = _results(exact_hessian={"rows": [{"problem": "a", "func_hessian_over_ours": 2.99,
                                             "row_loop_over_ours": 0.99}]})
    assert [v.status for v in _engine(results=slow)[6:8]] == ["contradicted", "contradicted"]
    # per-round ratios decide, by their median (the targets table's statistic), not the ratio of median times
    rounds = _results(exact_hessian={"rows": [{"problem": "a", "func_hessian_over_ours": 3.5,
                                               "func_hessian_over_ours_per_round": [2.0, 2.9, 5.0],
                                               "row_loop_over_ours": 1.0}]})
    assert _engine(results=rounds)[6].status == "contradicted" and "2.90x" in _engine(results=rounds)[6].evidence
    hvp = _results()["hand"]["hvp_over_gradient"]
    hvp["rows"][1]["hvp_over_gradient"] = 1.31
    assert _engine(results=_results(hvp_over_gradient=hvp))[8].status == "contradicted"
    # SLQ: 3x the fastest peer and not worse than the most accurate by 2 sqrt(2) 1e-4 = 2.83e-4
    slq = _results()["hand"]["slq"]
    slq["rows"][0]["w1_mean"] = 0.9e-3 + 2.9e-4
    assert _engine(results=_results(slq=slq))[9].status == "contradicted"
    slq["rows"][0].update(w1_mean=1.0e-3, seconds=10.01)
    assert _engine(results=_results(slq=slq))[9].status == "contradicted"


def test_benchmark_claims_follow_the_sections_present():
    verdicts = _engine(results={"bare": {"machine": {}}})
    assert len(verdicts) == 6  # no benchmark section: no speed claim
    no_hvp_row = _results()["hand"]["hvp_over_gradient"]
    del no_hvp_row["rows"][1]
    with pytest.raises(MissingBenchmarkError, match=r"method='ours \(func, traced\), 10 vectors / 10'"):
        _engine(results=_results(hvp_over_gradient=no_hvp_row))


def test_the_committed_benchmark_results_hold_every_row_the_claims_need():
    results = load_results()
    assert results, "benchmarks/results/ holds no results file"
    verdicts = _engine(results=results)
    for tag in results:
        claims = [v.claim for v in verdicts if v.claim.startswith(f"[{tag}]")]
        assert any("HVP / gradient" in c for c in claims) and any("SLQ at least" in c for c in claims)
