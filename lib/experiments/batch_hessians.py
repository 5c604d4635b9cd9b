"""GOE local statistics of network Hessians: paper 1's experiments E1-E8 and their summary tables.

Paper 1 (Baskerville, Granziol & Keating 2022, arXiv:2102.06740) takes exact Hessians of consecutive batches of
eight models (E1-E8) and compares their local statistics with the GOE. This module

* holds the experiment registry E1-E8 at CPU and paper scale (``experiment``) and computes their batch spectra,
  at initialisation and with the trained weights loaded from the checkpoint, cached on disk
  (``experiment_spectra``);
* collects ``lib.rmt.level_statistics`` over experiments and level selections (``summary_table``), and splits
  every spectrum into its genuine levels and its null-space round-off (``genuine_selection``, ``split_selections``,
  ``split_table``);
* tabulates the experiments (``overview_table``) and the share of each spectrum that is null space
  (``proportion_table``, ``null_space_share``);
* recomputes batch spectra the way paper 1's released scripts did (summed loss, float32, rows not symmetrised,
  ``numpy.linalg.eigvalsh``: ``paper_pipeline_spectra``) and compares them with ours (``paper_pipeline_table``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from lib.curvature.dense import batch_hessian_spectra, paper_batch_spectra
from lib.curvature.parameter_space import flat_parameters
from lib.nets import data as datasets
from lib.nets.cache import load_or_compute
from lib.nets.train import TrainConfig, load_split, loss_function, train
from lib.rmt.level_statistics import (
    Ensemble,
    Unfolding,
    level_statistics,
    proportion_below,
    select_spectra,
    simulated_statistics,
)
from lib.rmt.spacings import spacing_ratios

__all__ = [
    "EXPERIMENT_IDS",
    "PAPER_CUTOFFS",
    "RELATIVE_CUT",
    "Experiment",
    "experiment",
    "experiment_spectra",
    "full_data_rank_bound",
    "genuine_selection",
    "null_draws",
    "null_space_share",
    "overview_table",
    "paper_pipeline_spectra",
    "paper_pipeline_table",
    "pooled_ratios",
    "proportion_table",
    "published_null_share",
    "split_selections",
    "split_table",
    "summary_table",
]

#: The finite cut-offs of paper 1's plot of the proportion of |lambda| < eps (its 1e-500 underflows to 0).
PAPER_CUTOFFS = (1e-100, 1e-40, 1e-30, 1e-20, 1e-10, 1e-8, 1e-6, 1e-4)
#: Cut-off relative to max|lambda| that separates genuine levels from round-off where no rank bound holds.
RELATIVE_CUT = 1e-8
#: Paper 1's batch rank bound r = 64 (C - 1) (softmax regression) or 64 C (GGN, C outputs) and its P, per
#: experiment with a rank bound (architectures of its released code: Linear(784 -> 10), Linear(512 -> 10), the
#: 13-100-100-50-1 Bike MLP).
PAPER_RANK_BOUNDS = {"E1": (576, 7850), "E2": (576, 7850), "E3": (576, 5130), "E8": (64, 16601)}
# identity columns per product when a dense Hessian is assembled: one block for the CPU-scale models (several
# times faster than lib.curvature.dense's default of 128), while bounding tangent memory at paper scale
_HESSIAN_BLOCK = 2048

Spectra = Mapping[str, Any]


def summary_table(
    spectra: Mapping[str, Mapping[str, Any]],
    selections: Mapping[str, Mapping[str, Any]],
    unfoldings: Sequence[Unfolding] = ("pool",),
    *,
    n_knots: int | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """One row of ``level_statistics`` per (spectrum set, selection, unfolding method).

    ``spectra`` maps a label (e.g. "E1 trained float64") to a mapping with ``eigenvalues`` (M x P) and, for
    rank selections, ``rank_bounds`` (M,) and ``rank_bound_valid`` (a bool: the bound holds for the Hessian only
    when the model is linear in its parameters, and always for the GGN). ``selections`` maps a label to keyword
    arguments of ``select_spectra`` (``cutoff``, ``relative``, ``part``) plus ``rank=True`` to use the stored
    rank bounds; a rank selection of a set whose bound is not valid is skipped. A population with fewer than
    3 levels per spectrum or fewer than 2 spectra (pool unfolding) is skipped too. Column ``level_counts`` holds
    the distinct levels of each spectrum used (a tuple): the sizes of the population's null model (``null_draws``).
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
            counts = tuple(int(np.unique(r).size) for r in levels)
            for method in unfoldings:
                if not levels or (method == "pool" and len(levels) < 2):
                    continue
                stats = level_statistics(levels, unfolding=method, n_knots=n_knots, n_boot=n_boot, seed=seed)
                rows.append({"spectra": set_label, "selection": sel_label, "unfolding": method} | stats
                            | {"level_counts": counts})
    return pd.DataFrame(rows)


def null_draws(
    level_counts: Sequence[int],
    ensemble: Ensemble,
    replicas: int,
    *,
    n_boot: int = 500,
    seed: int = 0,
    cache_dir: str | None = None,
) -> dict[str, np.ndarray]:
    """``lib.rmt.level_statistics.simulated_statistics`` of ``replicas`` sets of GOE (or Poisson) spectra with
    ``level_counts`` levels (one entry per measured spectrum: a population's ``level_counts`` column of
    ``summary_table``), the statistics of a population's null model, cached by ``load_or_compute``."""
    counts = [int(n) for n in level_counts]
    inputs = {"level_counts": counts, "ensemble": ensemble, "replicas": int(replicas),
              "n_boot": int(n_boot), "seed": int(seed)}
    return load_or_compute("level_statistics_null", inputs, lambda: simulated_statistics(
        counts, ensemble, replicas, n_boot=n_boot, seed=seed), cache_dir=cache_dir)


def pooled_ratios(eigenvalues: np.ndarray, **selection: Any) -> np.ndarray:
    """Spacing ratios r_i = s_{i+1} / s_i within each spectrum (row) selected by ``select_spectra(**selection)``,
    repeated levels dropped as in ``level_statistics``, pooled over the spectra with at least 3 distinct levels."""
    return np.concatenate([spacing_ratios(np.unique(r)) for r in select_spectra(eigenvalues, **selection)
                           if np.unique(r).size >= 3])


def genuine_selection(exp: Experiment, rank_bounds: np.ndarray) -> dict[str, Any]:
    """Keyword arguments of ``select_spectra`` for the genuine levels of ``exp``: the ``rank_bounds`` largest
    |lambda| where the rank bound holds, else |lambda| > RELATIVE_CUT max|lambda|."""
    if exp.rank_bound_valid:
        return {"rank_bounds": rank_bounds}
    return {"cutoff": RELATIVE_CUT, "relative": True}


def split_selections(exp: Experiment) -> dict[str, dict[str, Any]]:
    """``summary_table`` selections of the genuine and the null-space levels of ``exp``: by the rank bound where it
    holds (the rest is the round-off of an exact null space, label "null space ..."), else by the relative cut-off
    RELATIVE_CUT (the rest, label "small ...", holds exact zeros and may hold genuine small curvature, so it is not
    called round-off)."""
    if exp.rank_bound_valid:
        return {"genuine (rank bound)": {"rank": True}, "null space (rank bound)": {"rank": True, "part": "null"}}
    return {"genuine (|l| > 1e-8 max)": {"cutoff": RELATIVE_CUT, "relative": True},
            "small (|l| <= 1e-8 max)": {"cutoff": RELATIVE_CUT, "relative": True, "part": "null"}}


def split_table(
    exps: Mapping[str, Experiment],
    spectra: Mapping[tuple[str, str], Spectra],
    spectra32: Mapping[str, Spectra],
    *,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """``summary_table`` (pool unfolding) of the genuine and the null-space populations (``split_selections``) of
    every experiment after training, in float64 (label "<id> float64") and, where computed, float32."""
    split_tables = []
    for i in exps:
        sets = {f"{i} float64": spectra[i, "trained"]}
        if i in spectra32:
            sets[f"{i} float32"] = spectra32[i]
        split_tables.append(summary_table(sets, split_selections(exps[i]), ("pool",), n_boot=n_boot, seed=seed))
    return pd.concat(split_tables, ignore_index=True)


def overview_table(exps: Mapping[str, Experiment], spectra: Mapping[tuple[str, str], Spectra]) -> pd.DataFrame:
    """One row per experiment: model and data, P, the number M of batch spectra, batch size, rank bound r (where
    it holds), epochs, training loss at initialisation and after training, test accuracy after training and
    the distance ||theta - theta_0|| of the trained weights from the initial ones."""
    return pd.DataFrame([{
        "experiment": i,
        "model / data": exps[i].title,
        "P": spectra[i, "trained"]["eigenvalues"].shape[1],
        "batch spectra M": spectra[i, "trained"]["eigenvalues"].shape[0],
        "batch size": exps[i].batch_size,
        "rank bound r": int(spectra[i, "trained"]["rank_bounds"][0]) if exps[i].rank_bound_valid else None,
        "epochs": exps[i].epochs,
        "train loss init": float(spectra[i, "init"]["train_loss"]),
        "train loss trained": float(spectra[i, "trained"]["train_loss"]),
        "test acc. trained": float(spectra[i, "trained"]["test_accuracy"]),
        "||theta - theta_0||": float(spectra[i, "trained"]["weight_distance"]),
    } for i in exps]).set_index("experiment")


def proportion_table(
    exps: Mapping[str, Experiment],
    spectra: Mapping[tuple[str, str], Spectra],
    spectra32: Mapping[str, Spectra],
    cutoff: float,
) -> pd.DataFrame:
    """Per experiment, the proportion of batch eigenvalues with |lambda| < ``cutoff`` (``proportion_below``) in
    float64 after training and at initialisation and in float32 after training (where computed), the null-space
    fraction 1 - r/P implied by the rank bound (mean r, where it holds) and paper 1's value at 1e-10."""
    rows = {}
    for i in exps:
        row = {"float64 trained": proportion_below(spectra[i, "trained"]["eigenvalues"], [cutoff])[0],
               "float64 init": proportion_below(spectra[i, "init"]["eigenvalues"], [cutoff])[0]}
        if i in spectra32:
            row["float32 trained"] = proportion_below(spectra32[i]["eigenvalues"], [cutoff])[0]
        if exps[i].rank_bound_valid:
            d = spectra[i, "trained"]
            row["1 - r/P"] = 1 - d["rank_bounds"].mean() / d["eigenvalues"].shape[1]
        rows[i] = row
    return pd.DataFrame(rows).T


def roundoff_share(below: float, rank_fraction: float) -> float:
    """Share of the levels a cut-off kept that must be null-space round-off: max(0, (kept - r/P) / kept) with
    kept = 1 - ``below`` (the proportion of levels below the cut-off) and ``rank_fraction`` = r/P, since at most
    r/P of all levels are genuine. It is 0 where the cut-off keeps no more levels than the rank bound (some genuine
    levels fell below it, or r = P) and where it keeps none."""
    kept = 1 - below
    return max(0.0, (kept - rank_fraction) / kept) if kept > 0 else 0.0


def published_null_share(published: Mapping[str, float]) -> pd.DataFrame:
    """Paper 1's proportion of |lambda| < 1e-10 (``published``, read off its figure) against its own null-space
    fraction 1 - r/P (PAPER_RANK_BOUNDS), for the experiments with a rank bound, and the share of the levels its
    cut-off kept that must be null-space round-off (:func:`roundoff_share`)."""
    rows = {}
    for i, (r, p) in PAPER_RANK_BOUNDS.items():
        if i in published:
            rows[i] = {"paper: proportion < 1e-10": published[i], "paper scale: 1 - r/P": 1 - r / p,
                       "round-off share of kept levels": roundoff_share(published[i], r / p)}
    return pd.DataFrame(rows).T


def full_data_rank_bound(exp: Experiment) -> int:
    """Rank bound of the whole split's Hessian of softmax regression: (C - 1) rank([X, 1]).

    The loss is unchanged when one vector is added to every class's weights and bias (softmax is invariant to a
    common shift of the logits), a null space of dimension d + 1; and an input direction on which the data have no
    variation (a constant pixel) adds C - 1 more null directions per such pixel. What remains has rank at most
    (C - 1) times the rank of the design matrix [X, 1]; C = P / (d + 1).
    """
    if exp.model != "logistic":
        raise ValueError(f"the full-data rank bound is that of softmax regression, not of {exp.model!r}")
    x, _ = load_split(exp.train_config(), exp.split)
    design = np.column_stack([x.reshape(x.shape[0], -1).double().cpu().numpy(), np.ones(x.shape[0])])
    n_params = flat_parameters(train(exp.train_config(), progress=False).checkpoint(0)).numel()
    return (n_params // design.shape[1] - 1) * int(np.linalg.matrix_rank(design))


def null_space_share(proportion: pd.DataFrame, ids: Sequence[str]) -> dict[str, float]:
    """Share of the levels kept by the cut-off of ``proportion`` (float32, after training) that lie in the null
    space (:func:`roundoff_share`), for the experiments of ``ids`` that have both a float32 proportion and a rank
    bound, in the order of ``ids``."""
    share = {}
    for i in ids:
        row = proportion.loc[i]
        if pd.notna(row.get("float32 trained", np.nan)) and pd.notna(row.get("1 - r/P", np.nan)):
            share[i] = roundoff_share(row["float32 trained"], 1 - row["1 - r/P"])
    return share


# ----------------------------------------------------------------------------------------------------------
# Experiment registry and its spectra


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

# Paper 1's models shrunk to 500-1,600 parameters on the packaged data sets, LeNet-small
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
    """Experiment ``experiment_id`` (E1-E8 of paper 1, section 3) at ``scale``, with field ``overrides``
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


def experiment_spectra(
    exp: Experiment,
    state: Literal["init", "trained"],
    dtype: torch.dtype = torch.float64,
    *,
    cache_dir: str | None = None,
) -> dict[str, np.ndarray]:
    """Batch spectra of ``exp`` at initialisation (checkpoint 0) or after training (the last checkpoint, its
    weights loaded with ``load_state_dict``), computed in ``dtype`` and cached by ``lib.nets.cache.load_or_compute``.

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
        x, y = load_split(exp.train_config(), exp.split)
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
                flat_parameters(model).cpu() - flat_parameters(run.checkpoint(0)).cpu()))),
            "train_loss": np.asarray(run.history["train_loss"][row]),
            "test_accuracy": np.asarray(run.history["test_acc"][row] if config.loss_name == "cross_entropy"
                                        else np.nan),
        }

    inputs = {"experiment": dataclasses.asdict(exp), "state": state, "dtype": str(dtype)}
    return load_or_compute("hessian_statistics", inputs, compute, cache_dir=cache_dir)


def paper_pipeline_spectra(exp: Experiment, *, cache_dir: str | None = None) -> dict[str, np.ndarray]:
    """Batch spectra of ``exp`` after training computed as paper 1's released scripts computed them
    (``lib.curvature.dense.paper_batch_spectra``: Hessian of the summed batch loss, or the GGN (1/b) sum J J^T, in
    float32, rows by double backprop, not symmetrised, ``numpy.linalg.eigvalsh``), on the same batches and trained
    weights as ``experiment_spectra``; cached. Returns ``eigenvalues`` (M x P) and ``rank_bounds`` (M,)."""

    def compute() -> dict[str, np.ndarray]:
        config = exp.train_config()
        model = train(config, progress=False).checkpoint(config.epochs)
        x, y = load_split(config, exp.split)
        spectra = paper_batch_spectra(model, loss_function(config.loss_name), (x, y), exp.batch_size,
                                      curvature=exp.curvature, max_batches=exp.max_batches)
        return {"eigenvalues": spectra.eigenvalues, "rank_bounds": spectra.rank_bounds}

    inputs = {"experiment": dataclasses.asdict(exp), "pipeline": "paper 1 released scripts"}
    return load_or_compute("hessian_statistics_paper_pipeline", inputs, compute, cache_dir=cache_dir)


def paper_pipeline_table(
    exps: Mapping[str, Experiment],
    spectra: Mapping[tuple[str, str], Spectra],
    spectra32: Mapping[str, Spectra],
    paper_spectra: Mapping[str, Spectra],
    published: Mapping[str, float],
    cutoff: float,
    *,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """Per experiment of ``paper_spectra`` (``paper_pipeline_spectra``): the proportion of |lambda| < ``cutoff``
    with paper 1's pipeline, with ours in float32 and float64 (mean loss, symmetrised, after training) and paper 1's
    published value; where the rank bound holds, <r~> of the null-space round-off (``select_spectra`` with
    ``part="null"``) with its 95 % bootstrap interval in both float32 pipelines, and the share of the levels kept
    by ``cutoff`` that are round-off, (kept - r/P) / kept."""
    rows = {}
    for i, d in paper_spectra.items():
        row = {"paper pipeline (float32, sum)": proportion_below(d["eigenvalues"], [cutoff])[0]}
        if i in spectra32:
            row["ours float32 (mean)"] = proportion_below(spectra32[i]["eigenvalues"], [cutoff])[0]
        row["ours float64 (mean)"] = proportion_below(spectra[i, "trained"]["eigenvalues"], [cutoff])[0]
        row["published"] = published.get(i, np.nan)
        if exps[i].rank_bound_valid:
            row["1 - r/P"] = 1 - d["rank_bounds"].mean() / d["eigenvalues"].shape[1]
            sets = {"paper pipeline": d} | ({"ours float32": spectra32[i]} if i in spectra32 else {})
            for label, entry in sets.items():
                if np.min(entry["rank_bounds"]) >= entry["eigenvalues"].shape[1]:
                    # r = P (E3 at paper 1's batch size: 510 parameters, r = min(64 x 9, P)): no null space
                    row[f"null-space <r~>, {label}"] = np.nan
                    row[f"95% CI, {label}"] = "n/a (no null space: r = P)"
                    continue
                stats = level_statistics(select_spectra(entry["eigenvalues"], rank_bounds=entry["rank_bounds"],
                                                        part="null"), n_boot=n_boot, seed=seed)
                row[f"null-space <r~>, {label}"] = stats["mean_min_ratio"]
                row[f"95% CI, {label}"] = f"[{stats['ci_lo']:.3f}, {stats['ci_hi']:.3f}]"
            row["round-off share of kept, paper pipeline"] = roundoff_share(row["paper pipeline (float32, sum)"],
                                                                            1 - row["1 - r/P"])
        rows[i] = row
    return pd.DataFrame(rows).T
