"""GOE local statistics of network Hessians: paper 1's experiments E1-E8 and the analysis this book adds.

Paper 1 (Baskerville, Granziol & Keating 2022, arXiv:2102.06740) compares the spacing ratios and unfolded
spacings of exact batch-Hessian spectra with the GOE laws, after removing |lambda| <= eps for an absolute eps
(1e-10 or 1e-20). A batch Hessian that is linear in its parameters (softmax regression) and every batch GGN has
rank at most r = b (C - 1) (resp. b C), so most of its P eigenvalues are round-off in the exact null space
(research notes paper1.md 3.7). This module

* splits a spectrum into its genuine and null-space populations, by the rank bound or by a cut-off relative to
  max |lambda| (``select_levels``);
* computes per-population statistics: number of levels, <r~> with a block-bootstrap confidence interval, the KS
  distances of r~ to the GOE and Poisson laws, and of unfolded spacings to the exact GOE law, the Wigner surmise and
  Poisson (``level_statistics``), collected over experiments and selections by ``summary_table``;
* computes the proportion of eigenvalues below a cut-off (``proportion_below``, paper 1's justification plot);
* holds the experiment registry E1-E8 at CPU and paper scale (``experiment``) and computes their batch spectra,
  at initialisation and with the trained weights loaded from the checkpoint, cached on disk
  (``experiment_spectra``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike

from lib import data as datasets
from lib.cache import load_or_compute
from lib.hessian import batch_hessian_spectra
from lib.levels import as_levels, as_spectra
from lib.spacings import (
    MEAN_MIN_RATIO_PUBLISHED,
    exact_spacing_cdf,
    ks_distance,
    mean_min_ratio_ci,
    min_ratio_cdf,
    min_ratios,
    poisson_spacing_cdf,
    unfold_pool,
    unfold_spline,
    wigner_surmise_cdf,
)
from lib.train import TrainConfig, loss_function, train

__all__ = [
    "EXPERIMENT_IDS",
    "GOE_MEAN_MIN_RATIO",
    "PAPER_CUTOFFS",
    "POISSON_MEAN_MIN_RATIO",
    "Experiment",
    "experiment",
    "experiment_spectra",
    "global_density_levels",
    "level_statistics",
    "proportion_below",
    "select_levels",
    "select_spectra",
    "summary_table",
    "unfolded_spacings",
]

#: Large-N GOE <r~> (Atas et al. 2013, Table I) and the exact Poisson value 2 ln 2 - 1.
GOE_MEAN_MIN_RATIO = MEAN_MIN_RATIO_PUBLISHED[1]
POISSON_MEAN_MIN_RATIO = MEAN_MIN_RATIO_PUBLISHED[0]
#: The finite cut-offs of paper 1's plot of the proportion of |lambda| < eps (its 1e-500 underflows to 0).
PAPER_CUTOFFS = (1e-100, 1e-40, 1e-30, 1e-20, 1e-10, 1e-8, 1e-6, 1e-4)
# identity columns per product when a dense Hessian is assembled: one block for the CPU-scale models (several
# times faster than lib.hessian's default of 128), while bounding tangent memory at paper scale
_HESSIAN_BLOCK = 2048

Part = Literal["genuine", "null"]
Unfolding = Literal["pool", "spline"]


# ----------------------------------------------------------------------------------------------------------
# Populations: genuine levels and null-space round-off


def select_levels(
    spectrum: ArrayLike,
    *,
    cutoff: float = 0.0,
    relative: bool = False,
    rank_bound: int | None = None,
    part: Part = "genuine",
) -> np.ndarray:
    """The sorted "genuine" (or, with ``part="null"``, the complementary null-space) eigenvalues of one spectrum.

    Genuine levels are either the ``rank_bound`` levels of largest |lambda| (a matrix of rank <= r has at most r
    non-zero eigenvalues; the other P - r are round-off of size ~ eps_machine max|lambda|), or, without a rank
    bound, those with |lambda| > eps, eps = ``cutoff`` (absolute, paper 1's 1e-10 / 1e-20) or ``cutoff`` x
    max|lambda| when ``relative`` (the research notes' recommendation, paper1.md 3.7).
    """
    levels = as_levels(spectrum, 1, "a level selection")
    if levels.ndim != 1:
        raise ValueError(f"select_levels takes one spectrum, got shape {levels.shape}")
    if part not in ("genuine", "null"):
        raise ValueError(f"part must be 'genuine' or 'null', got {part!r}")
    if not cutoff >= 0:
        raise ValueError(f"cutoff must be non-negative, got {cutoff!r}")
    magnitude = np.abs(levels)
    if rank_bound is not None:
        if isinstance(rank_bound, bool) or not isinstance(rank_bound, int | np.integer) or rank_bound < 0:
            raise ValueError(f"rank_bound must be a non-negative integer, got {rank_bound!r}")
        keep = np.zeros(levels.size, dtype=bool)
        keep[np.argsort(magnitude, kind="stable")[levels.size - min(int(rank_bound), levels.size):]] = True
    else:
        threshold = cutoff * magnitude.max() if relative else cutoff
        keep = magnitude > threshold
    return levels[keep] if part == "genuine" else levels[~keep]


def select_spectra(
    spectra: ArrayLike | Sequence[ArrayLike],
    *,
    cutoff: float = 0.0,
    relative: bool = False,
    rank_bounds: ArrayLike | None = None,
    part: Part = "genuine",
) -> list[np.ndarray]:
    """``select_levels`` applied to each spectrum (rows of a 2-D array), with one rank bound per spectrum."""
    rows = as_spectra(spectra, 1, "a level selection")
    bounds = [None] * len(rows) if rank_bounds is None else [int(b) for b in np.ravel(rank_bounds)]
    if len(bounds) != len(rows):
        raise ValueError(f"got {len(bounds)} rank bounds for {len(rows)} spectra")
    return [select_levels(row, cutoff=cutoff, relative=relative, rank_bound=bound, part=part)
            for row, bound in zip(rows, bounds, strict=True)]


def proportion_below(spectra: ArrayLike | Sequence[ArrayLike], cutoffs: ArrayLike) -> np.ndarray:
    """Fraction of all eigenvalues (pooled over the spectra) with |lambda| < eps, for each eps in ``cutoffs``.

    Paper 1's ``proportion_hessian_evals_below_cutoff`` figure; to be read against the rank-bound fraction 1 - r/P.
    """
    magnitude = np.sort(np.abs(np.concatenate(as_spectra(spectra, 1, "the proportion below a cut-off"))))
    eps = np.asarray(cutoffs, dtype=float)
    if np.any(~np.isfinite(eps)) or np.any(eps < 0):
        raise ValueError("cut-offs must be finite and non-negative")
    return np.searchsorted(magnitude, eps, side="left") / magnitude.size


def global_density_levels(spectra: ArrayLike | Sequence[ArrayLike]) -> np.ndarray:
    """All eigenvalues pooled and divided by 2 sqrt(P), P the length of each spectrum (paper 1's density plots)."""
    return np.concatenate([row / (2 * np.sqrt(row.size)) for row in as_spectra(spectra, 1, "the global density")])


# ----------------------------------------------------------------------------------------------------------
# Statistics of one population


def _distinct(rows: Sequence[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Rows without repeated levels (exact degeneracies make ratios undefined) and how many were removed."""
    unique = [np.unique(r) for r in rows]
    return unique, sum(r.size - u.size for r, u in zip(rows, unique, strict=True))


def unfolded_spacings(
    spectra: ArrayLike | Sequence[ArrayLike], unfolding: Unfolding = "pool", n_knots: int = 20
) -> np.ndarray:
    """Pooled unfolded spacings: paper 1's pool staircase (the first floor(M/3) spectra, at least one, against the
    rest) or, per spectrum, a least-squares piecewise-linear spline of the staircase with ``n_knots`` knots at
    level quantiles (``lib.unfolding.unfold_spline``, degree 1) in the coordinate u = asinh(lambda / median|lambda|).

    Unfolding is invariant under a smooth increasing change of variable, and Hessian spectra span many decades
    (a spike of near-zero levels and a long tail), which no spline in lambda follows; in u both the spike and the
    tail are spread out. Cubic pieces still overshoot next to isolated outliers (a decreasing fit, hence negative
    spacings), piecewise-linear ones do not in practice."""
    rows = as_spectra(spectra, 3, "unfolding")
    if unfolding == "pool":
        if len(rows) < 2:
            raise ValueError("pool unfolding needs at least 2 spectra (one to unfold, one for the pool)")
        m = max(1, len(rows) // 3)
        unfolded = unfold_pool(list(rows[:m]), list(rows[m:]))
    elif unfolding == "spline":
        unfolded = [unfold_spline(np.arcsinh(r / np.median(np.abs(r))), n_knots, degree=1) for r in rows]
    else:
        raise ValueError(f"unfolding must be 'pool' or 'spline', got {unfolding!r}")
    return np.concatenate([np.diff(u) for u in unfolded])


def level_statistics(
    spectra: ArrayLike | Sequence[ArrayLike],
    *,
    unfolding: Unfolding = "pool",
    n_knots: int = 20,
    n_boot: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """Short-range statistics of an ensemble of spectra (rows, possibly of different lengths), as a flat dict.

    * ``n_spectra``, ``n_levels`` (pooled), ``n_degenerate`` (repeated levels dropped first), ``n_ratios``;
    * ``mean_min_ratio`` <r~>, r~ = min(s_n, s_{n-1}) / max(s_n, s_{n-1}) taken within each spectrum, with a 95 %
      moving-block bootstrap interval ``ci_lo``, ``ci_hi`` (``lib.spacings.mean_min_ratio_ci``), to be read against
      0.5307 (GOE, Atas et al. 2013) and 0.3863 (Poisson);
    * ``ks_ratio_goe``, ``ks_ratio_poisson``: KS distances of the pooled r~ to the GOE surmise law
      2 P_W(r) (Atas et al. 2013, eq. (5)) and to the Poisson law 2 / (1 + r)^2;
    * ``n_spacings``, ``mean_spacing``, ``ks_spacing_goe``, ``ks_spacing_surmise``, ``ks_spacing_poisson``: the
      unfolded spacings (``unfolding``: paper 1's pool staircase or a linear spline with ``n_knots`` knots, see
      ``unfolded_spacings``) against the exact N -> infinity GOE law (Gaudin-Mehta), the Wigner surmise
      (pi s / 2) exp(-pi s^2 / 4) and exp(-s); NaN with ``unfold_failed`` = 1 when the spline is not increasing
      on the data.
    """
    rows, n_degenerate = _distinct(as_spectra(spectra, 1, "level statistics"))
    rows = [r for r in rows if r.size >= 3]
    if not rows:
        raise ValueError("level statistics need at least one spectrum with 3 distinct levels")
    ratios = np.concatenate([min_ratios(r) for r in rows])
    mean, lo, hi = mean_min_ratio_ci(ratios, n_boot, seed, kind="ratios")
    out = {
        "n_spectra": len(rows),
        "n_levels": int(sum(r.size for r in rows)),
        "n_degenerate": int(n_degenerate),
        "n_ratios": int(ratios.size),
        "mean_min_ratio": mean,
        "ci_lo": lo,
        "ci_hi": hi,
        "ks_ratio_goe": ks_distance(ratios, lambda r: min_ratio_cdf(r, 1)),
        "ks_ratio_poisson": ks_distance(ratios, lambda r: min_ratio_cdf(r, 0)),
    }
    try:
        s = unfolded_spacings(rows, unfolding, n_knots)
        spacing = {
            "n_spacings": int(s.size),
            "mean_spacing": float(s.mean()),
            "ks_spacing_goe": ks_distance(s, lambda x: exact_spacing_cdf(x, 1)),
            "ks_spacing_surmise": ks_distance(s, lambda x: wigner_surmise_cdf(x, 1)),
            "ks_spacing_poisson": ks_distance(s, poisson_spacing_cdf),
            "unfold_failed": 0,
        }
    except ValueError:
        if unfolding != "spline":
            raise
        keys = ("n_spacings", "mean_spacing", "ks_spacing_goe", "ks_spacing_surmise", "ks_spacing_poisson")
        spacing = dict.fromkeys(keys, np.nan) | {"unfold_failed": 1}
    return out | spacing


def summary_table(
    spectra: Mapping[str, Mapping[str, Any]],
    selections: Mapping[str, Mapping[str, Any]],
    unfoldings: Sequence[Unfolding] = ("pool",),
    *,
    n_knots: int = 20,
    n_boot: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """One row of ``level_statistics`` per (spectrum set, selection, unfolding method).

    ``spectra`` maps a label (e.g. "E1 trained float64") to a mapping with ``eigenvalues`` (M x P) and, for
    rank selections, ``rank_bounds`` (M,) and ``rank_bound_valid`` (a bool: the bound holds for the Hessian only
    when the model is linear in its parameters, and always for the GGN). ``selections`` maps a label to keyword
    arguments of ``select_spectra`` (``cutoff``, ``relative``, ``part``) plus ``rank=True`` to use the stored
    rank bounds; a rank selection of a set whose bound is not valid is skipped. A population with fewer than
    3 levels per spectrum or fewer than 2 spectra (pool unfolding) is skipped too.
    """
    rows = []
    for set_label, entry in spectra.items():
        for sel_label, sel in selections.items():
            kwargs = dict(sel)
            if kwargs.pop("rank", False):
                if not bool(np.asarray(entry.get("rank_bound_valid", False))):
                    continue
                kwargs["rank_bounds"] = entry["rank_bounds"]
            levels = [r for r in select_spectra(entry["eigenvalues"], **kwargs) if np.unique(r).size >= 3]
            for method in unfoldings:
                if not levels or (method == "pool" and len(levels) < 2):
                    continue
                stats = level_statistics(levels, unfolding=method, n_knots=n_knots, n_boot=n_boot, seed=seed)
                rows.append({"spectra": set_label, "selection": sel_label, "unfolding": method} | stats)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------------
# Experiment registry (paper1.md 1.3) and its spectra


@dataclass(frozen=True)
class Experiment:
    """One of paper 1's exact-Hessian experiments at a given scale: model, data, training and batch spectra.

    ``curvature`` is "hessian" or "ggn"; ``split`` the data split whose consecutive batches of ``batch_size`` are
    used (``max_batches`` of them, ``None`` for all); ``full_data`` adds the Hessian of the whole split (paper 1
    did this for the logistic models only). ``rank_bound_valid``: the GGN rank bound b (C - 1) or b C also bounds
    this curvature's rank (softmax regression, or any GGN).
    """

    id: str
    title: str
    model: str
    dataset: str
    curvature: str = "hessian"
    split: str = "test"
    batch_size: int = 64
    max_batches: int | None = None
    full_data: bool = False
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    dataset_kwargs: dict[str, Any] = field(default_factory=dict)
    epochs: int = 300
    lr: float = 0.003

    @property
    def rank_bound_valid(self) -> bool:
        """Whether the stored rank bound bounds the rank of this curvature matrix."""
        return self.curvature == "ggn" or self.model == "logistic"

    def train_config(self) -> TrainConfig:
        """The training run behind this experiment (paper 1's SGD defaults, ``epochs`` and ``lr``)."""
        return TrainConfig(model=self.model, dataset=self.dataset, model_kwargs=dict(self.model_kwargs),
                           dataset_kwargs=dict(self.dataset_kwargs), epochs=self.epochs, lr=self.lr)


EXPERIMENT_IDS = ("E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8")

# Paper 1's models (research notes paper1.md 1.3) shrunk to 500-1,600 parameters on the packaged data sets, LeNet-small
# with 'same' convolutions on 8x8 digits (a 28x28 conv Hessian costs ~10x more); the logistic models use batches of
# 16 so that, as in the paper, most of each spectrum is null space (r = 144 of 650); deep features from a 5-epoch net.
_CPU = {
    "E1": dict(title="softmax regression, digits (train)", model="logistic", dataset="digits", split="train",
               batch_size=16, max_batches=12, full_data=True, epochs=30, lr=0.01),
    "E2": dict(title="softmax regression, digits (test)", model="logistic", dataset="digits", split="test",
               batch_size=16, max_batches=12, full_data=True, epochs=30, lr=0.01),
    "E3": dict(title="softmax regression on deep features (LeNet-small on MNIST-5k)", model="logistic",
               dataset="deep_features", dataset_kwargs={"epochs": 5}, split="train", batch_size=16, max_batches=12,
               full_data=True, epochs=30, lr=0.01),
    "E4": dict(title="MLP 64-5-50-10, digits (test)", model="mlp", dataset="digits", model_kwargs={"width": 0.5},
               max_batches=5, epochs=40, lr=0.01),
    "E5": dict(title="deep MLP 64-3-30-30-10, digits (test)", model="mlp_deep", dataset="digits",
               model_kwargs={"width": 0.3}, max_batches=5, epochs=40, lr=0.01),
    "E6": dict(title="LeNet-small (2, 6 channels, 'same' 5x5 convs; 14-20 hidden), digits (test)",
               model="lenet_small", dataset="digits", model_kwargs={"width": 0.4, "padding": 2}, max_batches=5,
               epochs=40, lr=0.01),
    "E7": dict(title="regression MLP 10-25-25-12-1 Hessian, diabetes (train)", model="bike_mlp", dataset="diabetes",
               split="train", model_kwargs={"width": 0.25}, max_batches=5, epochs=100, lr=0.01),
    "E8": dict(title="regression MLP 10-25-25-12-1 Gauss-Newton, diabetes (train)", model="bike_mlp",
               dataset="diabetes", split="train", curvature="ggn", model_kwargs={"width": 0.25}, max_batches=5,
               epochs=100, lr=0.01),
}


def _paper_settings(available: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Paper 1's sizes (P up to 20,060, batches of 64, every batch, 300 epochs), on the user's MNIST, CIFAR-10,
    ResNet features and Bike files where present, else on MNIST-5k / deep features / diabetes."""
    mnist = "mnist" if "mnist" in available else "mnist5k"
    cifar = "cifar10" if "cifar10" in available else "mnist5k"
    features = "features" if "features" in available else "deep_features"
    bike = "bike" if "bike" in available else "diabetes"
    return {
        "E1": dict(title=f"softmax regression, {mnist} (train)", model="logistic", dataset=mnist, split="train",
                   full_data=True),
        "E2": dict(title=f"softmax regression, {mnist} (test)", model="logistic", dataset=mnist, full_data=True),
        "E3": dict(title=f"softmax regression on {features}", model="logistic", dataset=features, split="train",
                   full_data=True),
        "E4": dict(title=f"MLP 784-10-100-10, {mnist} (test)", model="mlp", dataset=mnist),
        "E5": dict(title=f"deep MLP 784-10-100-100-10, {mnist} (test)", model="mlp_deep", dataset=mnist),
        "E6": dict(title=f"LeNet-small, {cifar} (test)", model="lenet_small", dataset=cifar),
        "E7": dict(title=f"Bike MLP 100-100-50 Hessian, {bike} (train)", model="bike_mlp", dataset=bike,
                   split="train"),
        "E8": dict(title=f"Bike MLP 100-100-50 Gauss-Newton, {bike} (train)", model="bike_mlp", dataset=bike,
                   split="train", curvature="ggn"),
    }


def experiment(experiment_id: str, scale: Literal["cpu", "paper"] = "cpu", **overrides: Any) -> Experiment:
    """Experiment ``experiment_id`` (E1-E8 of paper1.md 1.3) at ``scale``, with field ``overrides``
    (e.g. ``max_batches=3, epochs=5`` for a smoke run)."""
    if experiment_id not in EXPERIMENT_IDS:
        raise ValueError(f"unknown experiment {experiment_id!r}; choose from {list(EXPERIMENT_IDS)}")
    if scale == "cpu":
        settings = _CPU[experiment_id]
    elif scale == "paper":
        settings = _paper_settings(datasets.available())[experiment_id]
    else:
        raise ValueError(f"scale must be 'cpu' or 'paper', got {scale!r}")
    unknown = set(overrides) - {f.name for f in dataclasses.fields(Experiment)}
    if unknown:
        raise ValueError(f"unknown Experiment fields {sorted(unknown)}")
    return Experiment(id=experiment_id, **(settings | overrides))


def _split_data(exp: Experiment) -> tuple[torch.Tensor, torch.Tensor]:
    """The split the Hessians are taken on, loaded exactly as ``lib.train`` loads it for training."""
    kw = dict(exp.dataset_kwargs)
    n, n_test, seed = kw.pop("n", None), kw.pop("n_test", None), kw.pop("seed", 0)
    return datasets.load(exp.dataset, exp.split, n=n if exp.split == "train" else n_test, seed=seed, **kw)


def _flat_parameters(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1).double().cpu() for p in model.parameters()])


def experiment_spectra(
    exp: Experiment,
    state: Literal["init", "trained"],
    dtype: torch.dtype = torch.float64,
    *,
    cache_dir: str | None = None,
) -> dict[str, np.ndarray]:
    """Batch spectra of ``exp`` at initialisation (checkpoint 0) or after training (the last checkpoint, its
    weights loaded with ``load_state_dict``), computed in ``dtype`` and cached by ``lib.cache.load_or_compute``.

    Returns ``eigenvalues`` (M x P, ascending), ``rank_bounds`` (M,), ``rank_bound_valid``, ``full_eigenvalues``
    (the whole split's spectrum, empty unless ``exp.full_data``), ``weight_distance`` ||theta - theta_0|| (0 at
    initialisation, > 0 proves trained weights were used), and the ``train_loss`` / ``test_accuracy`` at that
    checkpoint (accuracy NaN for regression).
    """
    if state not in ("init", "trained"):
        raise ValueError(f"state must be 'init' or 'trained', got {state!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")

    def compute() -> dict[str, np.ndarray]:
        config = exp.train_config()
        run = train(config, progress=False)
        epoch = 0 if state == "init" else config.epochs
        model = run.checkpoint(epoch)  # a fresh copy with the stored weights loaded
        loss = loss_function(config.loss_name)
        x, y = _split_data(exp)
        spectra = batch_hessian_spectra(model, loss, (x, y), exp.batch_size, curvature=exp.curvature, dtype=dtype,
                                        max_batches=exp.max_batches, block=_HESSIAN_BLOCK)
        full = np.empty(0)
        if exp.full_data:
            full = batch_hessian_spectra(model, loss, (x, y), x.shape[0], curvature=exp.curvature, dtype=dtype,
                                         block=_HESSIAN_BLOCK).eigenvalues[0]
        row = int(np.flatnonzero(run.history["epoch"] == epoch)[0])
        return {
            "eigenvalues": spectra.eigenvalues,
            "rank_bounds": spectra.rank_bounds,
            "rank_bound_valid": np.asarray(exp.rank_bound_valid),
            "full_eigenvalues": full,
            "weight_distance": np.asarray(float(torch.linalg.vector_norm(
                _flat_parameters(model) - _flat_parameters(run.checkpoint(0))))),
            "train_loss": np.asarray(run.history["train_loss"][row]),
            "test_accuracy": np.asarray(run.history["test_acc"][row] if config.loss_name == "cross_entropy"
                                        else np.nan),
        }

    inputs = {"experiment": dataclasses.asdict(exp), "state": state, "dtype": str(dtype)}
    return load_or_compute("hessian_statistics", inputs, compute, cache_dir=cache_dir)
