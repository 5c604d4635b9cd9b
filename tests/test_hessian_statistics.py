"""Tests of lib.rmt.level_statistics and lib.experiments.batch_hessians on spectra with known answers: GOE and
Poisson levels, diagonal matrices whose
eigenvalues are known, the exact rank b (C - 1) of a softmax-regression batch Hessian, published model sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lib.curvature.dense import batch_hessian_spectra
from lib.experiments import batch_hessians as hs
from lib.nets import models
from lib.rmt import level_statistics as ls
from lib.rmt.ensembles import goe, poisson_levels

# <r~> has standard deviation about 0.26 per ratio (GOE) / 0.29 (Poisson); neighbouring ratios are correlated,
# so 4 standard errors of n/2 independent ratios are used as tolerance
_SD_RATIO = 0.29


def _tolerance(n_ratios: int) -> float:
    return 4 * _SD_RATIO / math.sqrt(n_ratios / 2)


@pytest.fixture(scope="module")
def goe_spectra() -> np.ndarray:
    rng = np.random.default_rng(11)
    return np.stack([np.linalg.eigvalsh(goe(200, rng)) for _ in range(30)])


def test_goe_spectra_have_goe_statistics(goe_spectra):
    stats = ls.level_statistics(goe_spectra, unfolding="pool", n_boot=200, seed=1)
    assert stats["n_levels"] == 6000 and stats["n_degenerate"] == 0
    n_ratios = 30 * 198
    assert abs(stats["mean_min_ratio"] - ls.GOE_MEAN_MIN_RATIO) < _tolerance(n_ratios)
    assert stats["ci_lo"] < stats["mean_min_ratio"] < stats["ci_hi"]
    assert stats["ci_lo"] - 0.01 < ls.GOE_MEAN_MIN_RATIO < stats["ci_hi"] + 0.01
    # KS of the right law is at the sampling level, of the wrong law far above it
    assert stats["ks_ratio_goe"] < 2.5 / math.sqrt(n_ratios / 2)
    assert stats["ks_ratio_poisson"] > 0.1
    # pool unfolding: unit mean spacing, exact GOE spacing law (the staircase of a pool of 20 spectra adds its own
    # fluctuations to the 1.36 / sqrt(1990) = 0.03 sampling level), Poisson rejected
    assert abs(stats["mean_spacing"] - 1) < 0.03
    assert stats["ks_spacing_goe"] < 0.05
    assert stats["ks_spacing_poisson"] > 0.2


def test_poisson_levels_have_poisson_statistics():
    rng = np.random.default_rng(5)
    spectra = np.stack([poisson_levels(500, rng) for _ in range(12)])
    stats = ls.level_statistics(spectra, unfolding="spline", n_boot=200, seed=2)
    assert abs(stats["mean_min_ratio"] - ls.POISSON_MEAN_MIN_RATIO) < _tolerance(12 * 498)
    assert stats["ks_ratio_poisson"] < 2.5 / np.sqrt(12 * 498 / 2) < 0.2 < stats["ks_ratio_goe"]
    # spline unfolding of one spectrum at a time: exp(-s) to the sampling level 1.36 / sqrt(5988) = 0.018
    assert abs(stats["mean_spacing"] - 1) < 0.01
    assert stats["ks_spacing_poisson"] < 0.025 and stats["ks_spacing_goe"] > 0.15


def test_spline_unfolding_of_goe_spectra(goe_spectra):
    stats = ls.level_statistics(goe_spectra[:10], unfolding="spline", n_knots=10, n_boot=100)
    assert stats["unfold_failed"] == 0
    assert abs(stats["mean_spacing"] - 1) < 0.03
    assert stats["ks_spacing_goe"] < 0.05 < stats["ks_spacing_poisson"]


def test_spline_knots_tied_to_the_level_count_keep_the_poisson_spacing_variance():
    """Unfolded Poisson levels have spacing variance 1. 20 knots on 144 levels absorb the fluctuations (variance
    about 0.7); one knot per LEVELS_PER_KNOT levels keeps it near 1, and the GOE variance near 0.286."""
    rng = np.random.default_rng(5)
    for n in (64, 144, 600):
        poisson = np.mean([ls.unfolded_spacings([poisson_levels(n, rng)], "spline").var() for _ in range(40)])
        assert poisson > 0.85, (n, poisson)
    overfit = np.mean([ls.unfolded_spacings([poisson_levels(144, rng)], "spline", 20).var() for _ in range(40)])
    assert overfit < 0.8
    assert ls.spline_knots(144) == 2 and ls.spline_knots(10) == 1


def test_interval_miss():
    assert ls.interval_miss(0.52, 0.54) == 0.0
    assert ls.interval_miss(0.54, 0.56) == pytest.approx(0.54 - ls.GOE_MEAN_MIN_RATIO)
    assert ls.interval_miss(0.50, 0.52, 0.53) == pytest.approx(0.01)


def test_simulated_statistics_of_goe_and_poisson_levels():
    goe_draws = ls.simulated_statistics([100] * 4, "goe", 20, n_boot=50, seed=3)
    poisson_draws = ls.simulated_statistics([100] * 4, "poisson", 20, n_boot=50, seed=3)
    assert set(goe_draws) == {"ratio_miss", "mean_min_ratio", "ks_ratio_goe", "ks_spacing_goe", "ks_spacing_goe_pool"}
    # the leave-one-out pool unfolding of 4 GOE spectra: spacings at the i.i.d. sampling level, Poisson far off
    assert goe_draws["ks_spacing_goe_pool"].mean() < 1.36 / np.sqrt(4 * 99) < poisson_draws["ks_spacing_goe_pool"].min()
    assert abs(goe_draws["mean_min_ratio"].mean() - ls.GOE_MEAN_MIN_RATIO) < 0.01
    assert abs(poisson_draws["mean_min_ratio"].mean() - ls.POISSON_MEAN_MIN_RATIO) < 0.01
    assert np.all(poisson_draws["ratio_miss"] > 0.05) and np.mean(goe_draws["ratio_miss"] == 0) > 0.5


def test_softmax_full_data_rank_bound_matches_the_rank_of_the_analytic_hessian():
    """Oracle: the softmax-regression Hessian sum_n (diag p_n - p_n p_n^T) (x) x~_n x~_n^T (x~ = [x, 1]) built
    directly, for data with two constant features: its numerical rank is (C - 1) rank([X, 1]), below C (d + 1)."""
    rng = np.random.default_rng(0)
    n, d, c = 200, 6, 4
    x = rng.standard_normal((n, d))
    x[:, 1] = 0.0
    x[:, 4] = 3.0
    design = np.column_stack([x, np.ones(n)])
    logits = rng.standard_normal((n, c))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    h = sum(np.kron(np.diag(pi) - np.outer(pi, pi), np.outer(xi, xi)) for pi, xi in zip(p, design, strict=True))
    assert np.linalg.matrix_rank(h) == (c - 1) * np.linalg.matrix_rank(design) == 3 * 5


def test_published_null_share_on_the_paper_rank_bounds():
    table = hs.published_null_share({"E1": 0.95, "E2": 0.88, "E5": 0.44})
    assert list(table.index) == ["E1", "E2"]  # E5 has no rank bound
    assert table.loc["E1", "paper scale: 1 - r/P"] == pytest.approx(1 - 576 / 7850)
    assert table.loc["E1", "round-off share of kept levels"] == 0.0  # 5 % kept < r/P = 7.3 %: no round-off forced
    assert table.loc["E2", "round-off share of kept levels"] == pytest.approx((0.12 - 576 / 7850) / 0.12)


def test_select_levels_on_a_known_spectrum():
    spectrum = np.array([-3.0, -1e-14, 2e-15, 1e-9, 0.5, 4.0])
    assert np.array_equal(ls.select_levels(spectrum, rank_bound=3), [-3.0, 0.5, 4.0])
    assert np.array_equal(ls.select_levels(spectrum, rank_bound=3, part="null"), [-1e-14, 2e-15, 1e-9])
    assert np.array_equal(ls.select_levels(spectrum, cutoff=1e-10), [-3.0, 1e-9, 0.5, 4.0])
    # relative: threshold 1e-8 * 4 = 4e-8
    assert np.array_equal(ls.select_levels(spectrum, cutoff=1e-8, relative=True), [-3.0, 0.5, 4.0])
    assert ls.select_levels(spectrum, rank_bound=10).size == 6
    both = np.sort(np.concatenate([ls.select_levels(spectrum, cutoff=0.1, part=p) for p in ("genuine", "null")]))
    assert np.array_equal(both, spectrum)


def test_proportion_below_and_global_density():
    spectra = np.array([[-2.0, 1e-12, 1e-5, 1.0], [1e-30, 0.0, 3.0, 1e-7]])
    assert np.allclose(ls.proportion_below(spectra, [1e-20, 1e-10, 1e-6, 1e-4, 10.0]), [2 / 8, 3 / 8, 4 / 8, 5 / 8, 1])
    assert np.allclose(ls.global_density_levels(spectra)[:4], spectra[0] / 4.0)


def _softmax_batch_spectra(dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    gen = torch.Generator().manual_seed(3)
    d, c, b = 20, 5, 8  # P = (d + 1) c = 105; rank b (C - 1) = 32 < (C - 1)(d + 1) = 84
    x = torch.randn(2 * b, d, generator=gen)
    y = torch.randint(0, c, (2 * b,), generator=gen)
    torch.manual_seed(0)
    model = models.build("logistic", (d,), c)
    spectra = batch_hessian_spectra(model, F.cross_entropy, (x, y), b, dtype=dtype, device="cpu")
    return spectra.eigenvalues, spectra.rank_bounds


def test_softmax_batch_hessian_has_exactly_the_rank_bound_of_genuine_levels():
    eigenvalues, bounds = _softmax_batch_spectra(torch.float64)
    assert list(bounds) == [32, 32]
    for row, bound in zip(eigenvalues, bounds, strict=True):
        genuine = ls.select_levels(row, cutoff=1e-8, relative=True)
        assert genuine.size == bound  # the rank bound is attained, and nothing else rises above round-off
        assert np.array_equal(genuine, ls.select_levels(row, rank_bound=int(bound)))
        null = ls.select_levels(row, rank_bound=int(bound), part="null")
        assert np.abs(null).max() < 1e-13 * np.abs(row).max()
    # in float32 the same null space is filled with round-off some 10^8 times larger
    eig32, _ = _softmax_batch_spectra(torch.float32)
    null32 = ls.select_levels(eig32[0], rank_bound=32, part="null")
    assert 1e-10 < np.abs(null32).max() / np.abs(eig32[0]).max() < 1e-4


def test_summary_table_rows_and_rank_validity(goe_spectra):
    entry = {"eigenvalues": goe_spectra[:6], "rank_bounds": np.full(6, 150), "rank_bound_valid": np.asarray(True)}
    invalid = entry | {"rank_bound_valid": np.asarray(False)}
    selections = {"all": {}, "rank": {"rank": True}, "rank null": {"rank": True, "part": "null"}}
    table = hs.summary_table({"valid": entry, "invalid": invalid}, selections, ("pool", "spline"), n_boot=50)
    assert len(table) == 3 * 2 + 1 * 2
    assert set(table.loc[table.spectra == "invalid", "selection"]) == {"all"}
    rank_rows = table[(table.spectra == "valid") & (table.selection == "rank")]
    assert set(rank_rows.n_levels) == {6 * 150}


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="part"):
        ls.select_levels([1.0, 2.0], part="signal")
    with pytest.raises(ValueError, match="rank_bound"):
        ls.select_levels([1.0, 2.0], rank_bound=-1)
    with pytest.raises(ValueError, match="cutoff"):
        ls.select_levels([1.0, 2.0], cutoff=-1.0)
    with pytest.raises(ValueError, match="rank bounds"):
        ls.select_spectra(np.ones((2, 3)), rank_bounds=[1])
    with pytest.raises(ValueError, match="cut-offs"):
        ls.proportion_below([1.0], [np.nan])
    with pytest.raises(ValueError, match="unfolding"):
        ls.level_statistics(np.arange(10.0)[None], unfolding="kde")
    with pytest.raises(ValueError, match="at least 2 spectra"):
        ls.level_statistics(np.arange(10.0)[None], unfolding="pool")
    with pytest.raises(ValueError, match="unknown experiment"):
        hs.experiment("E9")
    with pytest.raises(ValueError, match="scale"):
        hs.experiment("E1", scale="huge")
    with pytest.raises(ValueError, match="unknown Experiment fields"):
        hs.experiment("E1", batchsize=3)
    with pytest.raises(ValueError, match="state"):
        hs.experiment_spectra(hs.experiment("E1"), "final")


def test_paper_scale_registry_has_the_published_parameter_counts(monkeypatch):
    monkeypatch.setattr(hs.datasets, "available", lambda root=None: ["mnist", "cifar10", "bike"])
    # P of paper1.md 1.3: 7,850 / 9,960 / 20,060 on MNIST, 19,217 on CIFAR-10, 16,601 for Bike (13 features)
    shapes = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "bike": (13,)}
    expected = {"E1": 7850, "E2": 7850, "E4": 9960, "E5": 20060, "E6": 19217, "E7": 16601, "E8": 16601}
    for exp_id, p in expected.items():
        exp = hs.experiment(exp_id, "paper")
        assert exp.batch_size == 64 and exp.max_batches is None and exp.epochs == 300
        outputs = 1 if exp.dataset == "bike" else 10
        assert models.num_params(models.build(exp.model, shapes[exp.dataset], outputs, **exp.model_kwargs)) == p
    assert hs.experiment("E8", "paper").rank_bound_valid and not hs.experiment("E7", "paper").rank_bound_valid
    assert hs.experiment("E1").rank_bound_valid


def test_experiment_spectra_load_the_trained_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("RMT_CACHE", str(tmp_path))
    exp = hs.experiment("E2", epochs=1, max_batches=1, full_data=False)
    init = hs.experiment_spectra(exp, "init")
    trained = hs.experiment_spectra(exp, "trained")
    assert init["eigenvalues"].shape == trained["eigenvalues"].shape == (1, 650)
    assert float(init["weight_distance"]) == 0.0 < float(trained["weight_distance"])
    assert not np.allclose(init["eigenvalues"], trained["eigenvalues"])
    assert list(trained["rank_bounds"]) == [144]  # b (C - 1) = 16 x 9
    genuine = ls.select_spectra(trained["eigenvalues"], cutoff=1e-9, relative=True)
    assert [g.size for g in genuine] == [144]
    again = hs.experiment_spectra(exp, "trained")  # from the cache
    assert np.array_equal(again["eigenvalues"], trained["eigenvalues"])
