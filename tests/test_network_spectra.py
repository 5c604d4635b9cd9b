"""Tests of lib.experiments.network_spectra: the GGN factor against the dense Gauss-Newton operator, exact ranks
against the counting bounds (equality where the count is complete, inequality everywhere) and against the dense
matrix rank, SLQ spectra against exact eigenvalues and the Rayleigh quotients of the dense Hessian, the outlier
variants for any list of k and any number of Lanczos steps, and the experiment helpers on small networks and
hand-made tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lib.curvature import ggn_rank as gr
from lib.curvature.dense import exact_ggn, exact_hessian
from lib.curvature.lanczos import DenseOperator, DiagonalOperator, rademacher, slq
from lib.experiments import network_spectra as ns
from lib.nets import data, models
from lib.nets.train import TrainConfig
from lib.rmt import law_fits as sf
from lib.rmt import measures as ms

F64 = torch.float64


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMT_CACHE", str(tmp_path / "cache"))


def _classification(n: int = 30, d: int = 5, c: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randint(0, c, (n,), generator=g)


def _relu_mlp(widths: list[int], seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    model = models.mlp(widths).double()
    with torch.no_grad():  # non-zero biases, as after training (the counting argument needs them generic)
        for m in model:
            if isinstance(m, nn.Linear):
                m.bias.normal_(0.0, 0.3)
    return model


# --- the GGN factor and exact ranks ---------------------------------------------------------------------------


def test_ggn_factor_reproduces_the_dense_gauss_newton_matrix():
    x, y = _classification()
    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 4)).double()
    a = gr.ggn_factor(model, x, y)
    assert a.shape == (30 * 4, sum(p.numel() for p in model.parameters()))
    torch.testing.assert_close(a.T @ a, exact_ggn(model, F.cross_entropy, x, y, device="cpu"), rtol=0, atol=1e-12)


def test_ggn_factor_for_a_loss_without_closed_form():
    # squared error: H_out = 2 I / C per sample (mse_loss averages over the C outputs); eigendecomposition path
    g = torch.Generator().manual_seed(3)
    x, t = torch.randn(12, 3, generator=g, dtype=F64), torch.randn(12, 2, generator=g, dtype=F64)
    model = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 2)).double()
    a = gr.ggn_factor(model, x, t, F.mse_loss)
    torch.testing.assert_close(a.T @ a, exact_ggn(model, F.mse_loss, x, t, device="cpu"), rtol=0, atol=1e-12)


def test_ggn_eigenvalues_are_those_of_the_matrix_and_rank_counts_the_zeros():
    x, y = _classification(n=6)  # N (C - 1) = 18 < P = 58: at least 40 exact zeros
    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 4)).double()
    eigs = gr.ggn_eigenvalues(model, x, y)
    dense = torch.linalg.eigvalsh(exact_ggn(model, F.cross_entropy, x, y, device="cpu")).numpy()
    np.testing.assert_allclose(eigs, dense, atol=1e-12)
    rank = gr.ggn_rank(model, x, y)
    assert rank == 18  # tanh is smooth and the data generic: the bound N (C - 1) is attained
    assert ms.zero_fraction(eigs) == pytest.approx(1 - rank / len(eigs))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("hidden", [2, 5, 12])
def test_one_hidden_layer_rank_is_the_pattern_count(seed, hidden):
    # for D-h-C ReLU nets the null directions counted from the activation pattern are all there is
    x, y = _classification(n=25, d=6, c=4, seed=seed)
    widths = [6, hidden, 4]
    model = _relu_mlp(widths, seed)
    p = sum(m.numel() for m in model.parameters())
    rank = gr.ggn_rank(model, x, y)
    expected = min(len(y) * 3, p - gr.pattern_nullity(model, x)["null directions"])
    assert rank == expected


@pytest.mark.parametrize("widths", [[6, 3, 8, 4], [6, 8, 3, 4], [6, 5, 5, 4], [6, 2, 2, 2, 4]])
def test_every_counting_bound_holds_for_deeper_nets(widths):
    x, y = _classification(n=40, d=6, c=4, seed=7)
    model = _relu_mlp(widths, 7)
    p = sum(m.numel() for m in model.parameters())
    rank = gr.ggn_rank(model, x, y)
    assert rank <= len(y) * (widths[-1] - 1)
    assert rank <= p - gr.symmetry_nullity(widths, x)
    assert rank <= p - gr.pattern_nullity(model, x)["null directions"]
    assert rank <= gr.bottleneck_rank_bound(widths, len(y), gr.active_units(model, x))
    assert gr.bottleneck_rank_bound(widths, len(y), gr.active_units(model, x)) <= gr.bottleneck_rank_bound(
        widths, len(y))


def test_symmetry_nullity_and_data_rank_hand_counted():
    # inputs in a 2-d subspace of R^3 through the origin: rank [X, 1] = 3, so each of the 4 first-layer units has
    # 4 - 3 = 1 data-null direction; plus 4 + 5 rescalings; plus the softmax shift 5 + 1
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20, 2, generator=g, dtype=F64) @ torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=F64)
    assert gr.data_rank(x) == 3
    assert gr.symmetry_nullity([3, 4, 5, 3], x) == 4 * 1 + (4 + 5) + (5 + 1)


def test_bottleneck_bound_hand_counted():
    # widths 10-8-2-5, N = 7: layer 1 gives 7 min(4, 8) + (8+1) 2 + (2+1) 5 = 28 + 18 + 15 = 61;
    # layer 2 gives 7 min(4, 2) + (2+1) 5 = 14 + 15 = 29
    assert gr.bottleneck_rank_bound([10, 8, 2, 5], 7) == 29
    # with the active units per sample: layer 2 has (2, 0, 1, 2, 2, 2, 2) active -> 11 + 15 = 26
    active = [np.full(7, 8), np.array([2, 0, 1, 2, 2, 2, 2])]
    assert gr.bottleneck_rank_bound([10, 8, 2, 5], 7, active) == 26
    with pytest.raises(ValueError):
        gr.bottleneck_rank_bound([10, 5], 7)
    with pytest.raises(ValueError):
        gr.bottleneck_rank_bound([10, 8, 2, 5], 7, active[:1])


def test_active_units_count_positive_preactivations():
    model = models.mlp([2, 3, 1]).double()
    with torch.no_grad():
        model[1].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]], dtype=F64))
        model[1].bias.zero_()
    x = torch.tensor([[1.0, 1.0], [-1.0, 2.0], [-1.0, -1.0]], dtype=F64)
    np.testing.assert_array_equal(gr.active_units(model, x)[0], [2, 1, 1])


def test_pattern_nullity_counts_dead_units():
    x, _ = _classification(n=20, d=4, c=3)
    model = _relu_mlp([4, 3, 3], 0)
    before = gr.pattern_nullity(model, x)
    with torch.no_grad():  # kill unit 0: its 4 + 1 incoming and its 3 outgoing weights no longer matter
        model[1].weight[0] = 0.0
        model[1].bias[0] = -1.0
    after = gr.pattern_nullity(model, x)
    assert after["dead units"] == before["dead units"] + 1
    y = torch.randint(0, 3, (20,), generator=torch.Generator().manual_seed(1))
    p = sum(m.numel() for m in model.parameters())
    assert gr.ggn_rank(model, x, y) == p - after["null directions"]


def test_pattern_nullity_rejects_other_architectures():
    with pytest.raises(ValueError, match="ReLU MLPs"):
        gr.pattern_nullity(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), torch.zeros(5, 3))


# --- spectra and the fitting protocol ------------------------------------------------------------------------


def test_curvature_spectrum_with_all_steps_recovers_the_exact_eigenvalues():
    x, y = _classification(n=20)
    model = nn.Sequential(nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 4)).double()  # P = 34
    s = ns.curvature_spectrum(model, (x, y), "hessian", 60, 2, exact=True)  # steps capped at P
    assert s.nodes.shape == (2, 34) and s.dim == 34 and s.num_samples == 20
    dense = torch.linalg.eigvalsh(exact_hessian(model, F.cross_entropy, x, y, device="cpu")).numpy()
    np.testing.assert_allclose(s.eigs, dense, atol=1e-10)
    # a full Krylov space: every Ritz value is an eigenvalue (up to the weight the probe gives it)
    for row, w in zip(s.nodes, s.weights, strict=True):
        big = w > 1e-10
        assert np.min(np.abs(row[big][:, None] - dense[None, :]), axis=1).max() < 1e-7
    # Gauss quadrature from the normalised probe z / |z| integrates x^j exactly for j < 2m: its moments are the
    # Rayleigh quotients z^T H^j z / z^T z of the dense Hessian (probes: curvature_spectrum's seed 0)
    h = exact_hessian(model, F.cross_entropy, x, y, device="cpu")
    z = rademacher(34, 2, 0)
    for j in (1, 2, 3):
        quotients = ((z * (torch.linalg.matrix_power(h, j) @ z)).sum(0) / (z * z).sum(0)).numpy()
        np.testing.assert_allclose(np.sum(s.weights * s.nodes**j, axis=1), quotients, rtol=1e-9, atol=1e-12)
    faith = ns.slq_faithfulness(s)
    assert faith["lambda_max SLQ"] == pytest.approx(faith["lambda_max exact"], rel=1e-8)


def test_curvature_spectrum_is_taken_in_eval_mode_and_cached(monkeypatch):
    x, y = _classification(n=16)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Dropout(0.5), nn.Linear(6, 4)).double()
    model.train()
    first = ns.curvature_spectrum(model, (x, y), "ggn", 8, 2)
    assert model.training  # the caller's mode is restored
    calls = []
    monkeypatch.setattr(ns, "slq", lambda *a, **k: calls.append(1))
    second = ns.curvature_spectrum(model, (x, y), "ggn", 8, 2)
    assert not calls  # served from the cache
    np.testing.assert_array_equal(first.nodes, second.nodes)
    # dropout off: the same matrix as the model without the dropout layer
    plain = nn.Sequential(model[0], model[1], model[3])
    monkeypatch.undo()
    third = ns.curvature_spectrum(plain, (x, y), "ggn", 8, 2)
    np.testing.assert_allclose(first.nodes, third.nodes, atol=1e-10)
    assert first.rank_bound == 16 * 3
    with pytest.raises(ValueError):
        ns.curvature_spectrum(model, (x, y), "residual", 8, 2)


@pytest.mark.parametrize(("steps", "top_k", "expected"), [
    (20, [0], ["k=0", "gap"]),  # the smoke profile: C = 10 is not below 20 // 2, so k = 0 is the reference
    (100, [0], ["k=0", "k=10", "gap"]),
    (100, [0, 10, 60], ["k=0", "k=10", "gap"]),
    (3, [], ["k=0", "gap"]),
])
def test_outlier_variants_for_any_top_k_and_any_run_length(steps, top_k, expected):
    rng = np.random.default_rng(0)
    nodes = np.sort(rng.normal(size=(2, steps)), axis=1)
    nodes[:, -1] += 50.0  # one outlier per probe
    weights = rng.dirichlet(np.ones(steps), size=2)
    variants = sf.outlier_variants(nodes, weights, 10, top_k)
    assert list(variants) == expected
    assert sf.reference_variant(variants, 10) == ("k=10" if "k=10" in variants else "k=0")
    for m in variants.values():
        assert m.weights.sum() == pytest.approx(1.0)
    if steps >= 20:  # the gap rule removes the outliers at +50
        assert variants["gap"].nodes.max() < 10
    with pytest.raises(ValueError):
        sf.outlier_variants(nodes, weights, 10, [-1])


def test_fit_rows_fit_by_moments_everywhere_and_lsq_where_asked():
    rng = np.random.default_rng(1)
    eigs = np.concatenate([np.zeros(300), np.abs(rng.normal(size=300))])  # an atom of 1/2 and a bulk
    variants = sf.outlier_variants(eigs, None, 10, [0, 10])
    logged = []
    rows = sf.fit_rows("toy", variants, [sf.marchenko_pastur_family(), sf.semicircle_family()], ["k=10"],
                       max_iter=5, log=logged.append)
    methods = {(r["outliers"], r["family"], r["method"]) for r in rows}
    assert ("k=10", "Marchenko-Pastur", "lsq") in methods and ("k=0", "Marchenko-Pastur", "lsq") not in methods
    assert all(r["zero obs."] == pytest.approx(0.5, abs=0.02) for r in rows)
    assert sf.best_value(rows, "toy", ("Marchenko",)) <= min(r["KS"] for r in rows if r["family"].startswith("M"))
    assert np.isnan(sf.best_value(rows, "toy", ("Wishart",)))
    # a positive law cannot fit a negative mean: reported, not raised
    neg = sf.outlier_variants(-np.abs(rng.normal(size=50)), None, 2, [0])
    assert sf.fit_rows("neg", neg, [sf.marchenko_pastur_family()], log=logged.append) == []
    assert any("no Marchenko-Pastur fit" in line for line in logged)


def test_shape_summary_of_a_semicircle_sample_is_close_to_the_semicircle():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(400, 400))
    eigs = np.linalg.eigvalsh((a + a.T) / np.sqrt(2 * 400))
    s = ns.CurvatureSpectrum(nodes=eigs[None, :], weights=np.full((1, 400), 1 / 400), dim=400, kind="hessian",
                             num_samples=400, rank_bound=400, eigs=eigs)
    out = ns.shape_summary(s, 10, sf.semicircle_family(), exact=True)
    assert out["KS"] < 0.05 and out["negative mass"] == pytest.approx(0.5, abs=0.05)


# --- the experiment helpers -----------------------------------------------------------------------------------


def test_hessian_samples_are_training_samples():
    config = TrainConfig(model="mlp", dataset="digits", dataset_kwargs={"n": 300}, epochs=1)
    x_train, _ = data.load("digits", "train", n=300)
    xh, yh = ns.hessian_samples(config, 64)
    assert len(yh) == 64 and np.bincount(yh.numpy()).min() >= 6  # class-balanced
    train_rows = {row.tobytes() for row in x_train.reshape(300, -1).numpy()}
    assert all(row.tobytes() in train_rows for row in xh.reshape(64, -1).numpy())
    with pytest.raises(ValueError):
        ns.hessian_samples(config, 301)
    x_all, _ = ns.hessian_samples(config, None)  # "all" means all of the run's training samples
    assert len(x_all) == 300 and {row.tobytes() for row in x_all.reshape(300, -1).numpy()} == train_rows


def test_network_spectra_on_padded_images():
    config = TrainConfig(model="resnet_small", dataset="mnist5k", model_kwargs={"width": 0.25},
                         dataset_kwargs={"n": 40, "pad_to": 32}, epochs=1, optimizer="adam", lr=1e-3, batch_size=20)
    out = ns.network_spectra("tiny", config, 8, 6, 2)
    assert set(out.spectra) == {(0, "hessian"), (0, "ggn"), (1, "hessian"), (1, "ggn")}
    assert out.samples[0].shape == (8, 1, 32, 32) and out.num_classes == 10
    ggn = out.spectra[(1, "ggn")]
    assert ggn.rank_bound == 8 * 9 and ggn.dim == out.num_params
    assert ggn.nodes.min() > -1e-6 * ggn.nodes.max()  # positive semi-definite
    with pytest.raises(ValueError, match="not checkpointed"):
        ns.network_spectra("tiny", config, 8, 6, 2, epochs=[5])


def test_width_sweep_atoms_respect_every_counting_bound():
    rows = ns.width_sweep([[3], [4, 2]], "digits", n_samples=30, n_train=200, epochs=2)
    assert [r["widths"] for r in rows] == ["64-3-10", "64-4-2-10"]
    assert [r["P"] for r in rows] == [64 * 3 + 3 + 3 * 10 + 10, 64 * 4 + 4 + 4 * 2 + 2 + 2 * 10 + 10]
    for r in rows:
        # each bound is a lower bound on the measured atom 1 - rank G / P, and none can exceed 1
        for bound in ("GN bound", "symmetry bound", "pattern bound", "bottleneck bound", "best bound"):
            assert 0 <= r[bound] <= r["zero measured"] + 1e-12 <= 1 + 1e-12
        assert 0 <= r["train acc"] <= 1
    # the Gauss-Newton bound, counted by hand: N (C - 1) = 30 x 9 = 270 > P = 235 for the first net
    assert rows[0]["GN bound"] == 0.0
    assert rows[1]["GN bound"] == pytest.approx(1 - 270 / 300)
    # the chain formula 1 - min_i N_i / N_0 with the widths
    assert rows[0]["chain 1-min(N_i)/N_0"] == pytest.approx(1 - 3 / 64)
    assert rows[1]["chain 1-min(N_i)/N_0"] == pytest.approx(1 - 2 / 64)


@pytest.mark.parametrize(("widths", "n", "kill"), [([6, 3, 4], 25, False), ([6, 5, 4], 10, True),
                                                  ([6, 4, 3, 4], 30, False), ([6, 2, 5, 4], 12, True)])
def test_ggn_atom_rank_agrees_with_the_dense_gauss_newton_matrix(widths, n, kill):
    x, y = _classification(n=n, d=widths[0], c=widths[-1], seed=len(widths) + n)
    model = _relu_mlp(widths, n)
    if kill:  # a dead unit: its weights join the null space
        with torch.no_grad():
            model[1].weight[0] = 0.0
            model[1].bias[0] = -1.0
    atom = ns.ggn_atom(model, x, y)
    p = sum(m.numel() for m in model.parameters())
    assert atom["P"] == p and atom["widths"] == "-".join(map(str, widths))
    assert atom["hidden"] == tuple(widths[1:-1])
    dense = exact_ggn(model, F.cross_entropy, x, y, device="cpu")
    dense_rank = int(torch.linalg.matrix_rank(dense, hermitian=True))
    assert round((1 - atom["zero measured"]) * p) == dense_rank
    for bound in ("GN bound", "symmetry bound", "pattern bound", "bottleneck bound", "best bound"):
        assert atom[bound] <= atom["zero measured"] + 1e-12
    assert atom["dead units"] >= int(kill)
    assert atom["chain 1-min(N_i)/N_0"] == pytest.approx(1 - min(widths) / widths[0])


def test_atom_agreement_on_a_hand_made_sweep():
    sweep = pd.DataFrame({"hidden": [(4,), (8,), (2, 8), (8, 2)], "P": [100, 200, 400, 400],
                          "zero measured": [0.50, 0.40, 0.30, 0.70], "chain 1-min(N_i)/N_0": [0.9, 0.8, 0.7, 0.7],
                          "best bound": [0.50, 0.40 - 0.001, 0.30 - 0.002, 0.60]})
    out = ns.atom_agreement(sweep)
    assert out["chain_error"] == pytest.approx((0.4 + 0.4 + 0.4 + 0.0) / 4)
    assert out["bound_error"] == pytest.approx((0 + 0.001 + 0.002 + 0.1) / 4)
    # met "exactly" = within half a parameter's weight 0.5 / P: 0 < 0.005 and 0.001 < 0.0025, not 0.002 >= 0.00125
    assert out["bound_exact"] == 2
    assert (out["ratio_min"], out["ratio_max"]) == (0.30, 0.70) and out["ratio_range"] == pytest.approx(0.4)
    assert np.isnan(ns.atom_agreement(sweep.iloc[:3])["ratio_range"])  # one two-layer net: no range


def test_law_fits_and_shape_evolution_on_a_small_mlp():
    config = TrainConfig(model="mlp", dataset="digits", model_kwargs={"width": 0.3}, dataset_kwargs={"n": 100},
                         epochs=1, lr=0.05, seed=1)
    mlp = ns.network_spectra("MLP", config, 20, 8, 1, epochs=[1], exact=True, dtype=F64)
    spectra = ns.law_fit_spectra(mlp, [], [0], 0.25)
    assert list(spectra) == ["MLP hessian", "MLP ggn"]
    variants, kind, classes, ggn_families = spectra["MLP ggn"]
    assert kind == "ggn" and classes == 10 and set(variants) >= {"k=0", "k=10"}
    # every family, and the Wishart chain with the layer widths (64 inputs, width-0.3 MLP 64-3-30-10)
    assert [f.name for f in ggn_families] == [f.name for f in ns.all_families()] + ["Wishart chain 64x3x30x10"]
    assert variants["k=0"].weights == pytest.approx(np.full(mlp.num_params, 1 / mlp.num_params))
    reference, rows = ns.fit_laws(spectra, max_iter=2)
    assert reference == {"MLP hessian": "k=10", "MLP ggn": "k=10"}
    fits = pd.DataFrame(rows)
    assert set(fits.method[fits.outliers == "k=0"]) == {"moments"}  # least squares on the reference only
    best = ns.best_fits(fits, "MLP hessian", "k=10")
    sel = fits[(fits.spectrum == "MLP hessian") & (fits.outliers == "k=10")]
    assert [b.family for b in best] == list(sel.family.unique())
    for b in best:
        assert b.ks == sel[sel.family == b.family].KS.min()
    summary = ns.law_summary(rows, spectra, reference)
    assert list(summary.index) == ["MLP hessian", "MLP ggn"]
    hess = fits[(fits.spectrum == "MLP hessian") & fits.family.str.startswith("semicircle")]
    assert summary.loc["MLP hessian", "whole KS semicircle/MP"] == hess.KS.min()
    ref = hess[hess.outliers == "k=10"]["KS bulk"].dropna()
    assert summary.loc["MLP hessian", "bulk KS semicircle/MP"] == (ref.min() if len(ref) else pytest.approx(np.nan,
                                                                                                         nan_ok=True))
    atoms = ns.atom_table(mlp, [])
    bound = 1 - min(mlp.num_params, 20 * 9) / mlp.num_params  # N = 20 samples, C - 1 = 9
    assert atoms.loc["MLP ggn", "GGN rank bound 1 - min(P, N(C-1))/P"] == pytest.approx(bound)
    assert atoms.loc["MLP ggn", "weight near 0"] >= bound - 1e-12  # the rank bound holds for the exact spectrum
    evolution = ns.shape_evolution(mlp, [], (6, 1))
    assert list(zip(evolution.epoch, evolution.matrix, strict=True)) == [(0, "hessian"), (0, "ggn"), (1, "hessian"),
                                                                         (1, "ggn")]
    assert evolution["zero obs."].between(0, 1).all() and (evolution.law[evolution.matrix == "ggn"]
                                                             == "Marchenko-Pastur").all()
    s = mlp.spectra[(1, "hessian")]
    assert s.exact_zero_weight() == pytest.approx(np.mean(np.abs(s.eigs) <= 1e-3 * np.abs(s.eigs).max()))


def test_nodes_above_the_gap_cut():
    # probe-averaged measure: 0 (0.275), 0.1 (0.275), 0.2 (0.315), 0.3 (0.125), 50 (0.005), 60 (0.005); the first
    # gap with at most 5 % of the weight above it and wider than 1/4 of the spectrum below it is 0.3 -> 50: cut = 50
    nodes = np.array([[0.0, 0.1, 0.2, 50.0, 60.0], [0.0, 0.1, 0.2, 0.3, 0.3]])
    weights = np.array([[0.3, 0.3, 0.38, 0.01, 0.01], [0.25, 0.25, 0.25, 0.125, 0.125]])
    s = ns.CurvatureSpectrum(nodes=nodes, weights=weights, dim=5, kind="hessian", num_samples=5, rank_bound=5)
    assert s.nodes_above_gap_cut(0.25) == pytest.approx(0.5)  # 60 in the first probe; 50 is the cut itself
    assert s.nodes_above_gap_cut(1e4) == 0.0  # no gap that wide: no cut


def test_resolve_dataset_falls_back_when_files_are_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("RMT_DATA", str(tmp_path))
    assert ns.resolve_dataset("mnist5k", "digits") == ("mnist5k", "")
    name, note = ns.resolve_dataset("cifar10", "mnist5k")
    assert name == "mnist5k" and "cifar10" in note


# --- the SLQ noise floor and the test of P2.4 ------------------------------------------------------------------


def test_slq_in_the_eigenbasis_is_slq_of_the_matrix():
    # an independent oracle: Lanczos on the dense matrix from the probes r gives the nodes and weights of Lanczos on
    # diag(lambda) from Q^T r
    rng = np.random.default_rng(0)
    a = rng.standard_normal((60, 60))
    a = (a + a.T) / 2
    lam, q = np.linalg.eigh(a)
    dense = slq(DenseOperator(torch.as_tensor(a)), 12, 3, seed=5)
    rotated = slq(DiagonalOperator(torch.as_tensor(lam)), 12, 3, seed=5,
                  starts=torch.as_tensor(q).T @ rademacher(60, 3, 5))
    np.testing.assert_allclose(rotated.nodes, dense.nodes, atol=1e-10)
    np.testing.assert_allclose(rotated.weights, dense.weights, atol=1e-10)


def test_slq_noise_floor_on_a_small_mlp():
    x, y = _classification(n=20, d=5, c=4)
    model = _relu_mlp([5, 8, 4], seed=0)
    floor = ns.slq_noise_floor(model, (x, y), "ggn", 10, 2, range(6), 4, max_iter=2)
    assert {k: len(v) for k, v in floor.items()} == {"SLQ vs exact": 6, "classical law": 6, "atom SLQ - exact": 6,
                                                   "SLQ vs SLQ": 3}
    assert all(np.all((v >= 0) & (v <= 1)) for k, v in floor.items() if k != "atom SLQ - exact")


def test_rank_correlation_and_its_null():
    x = np.arange(12.0)
    perfect = ns.rank_correlation(x, -x, replicas=400)
    assert perfect["rho"] == pytest.approx(-1.0) and perfect["ci"][1] == pytest.approx(-1.0)
    # the permutation null is centred on 0 with the exact variance 1 / (n - 1) of Spearman's rho under it
    assert np.mean(perfect["null"]) == pytest.approx(0.0, abs=0.03)
    assert np.var(perfect["null"]) == pytest.approx(1 / 11, rel=0.2)
    # the alternative: bivariate normal pairs of correlation -0.7 have a Spearman rho of (6/pi) asin(-0.35) ~ -0.68
    assert np.mean(perfect["alternative"]) == pytest.approx(6 / np.pi * np.arcsin(-0.35), abs=0.05)
    with pytest.raises(ValueError, match="length"):
        ns.rank_correlation(x[:3], x[:3])
