"""Curvature spectra of trained networks against the random-matrix laws: the experiments of paper 2.

Granziol (2020, arXiv:2006.07721) compares the Hessian and generalised Gauss-Newton (GGN) spectra of trained
networks with the Wigner semicircle and the Marchenko-Pastur law, and ties the atom at zero of product ensembles
to the ratios of the layer widths. This module runs those experiments on the curvature engine
(``lib.curvature``), the training code (``lib.nets.train``) and the fits (``lib.rmt.law_fits``):

* :func:`curvature_spectrum`: stochastic Lanczos quadrature (SLQ) nodes and weights, and exact eigenvalues of
  small networks, of the Hessian or GGN of the MEAN loss over given samples, model in eval mode (dropout off),
  no weight-decay term: the author's pipeline. Cached on disk, keyed by the parameters, the architecture, the
  samples and the settings.
* :func:`slq_faithfulness`, :func:`shape_summary`: SLQ against exact spectra, and one spectrum against a law.
* :func:`network_spectra`: train a model of the zoo (``lib.nets.train``, cached) and take its spectra at checkpoints.
* :func:`law_fit_spectra`, :func:`fit_laws`, :func:`best_fits`, :func:`law_summary`: paper 2's fitting protocol
  (paper2.md 2.3) over the trained networks' spectra, and the best fit of the classical laws (semicircle, MP)
  against the ensembles paper 2 proposes.
* :func:`shape_evolution`: distance to the semicircle / MP and weight near zero at every checkpoint.
* :func:`ggn_atom`, :func:`width_sweep`, :func:`atom_agreement`: exact GGN ranks of small trained MLPs
  (``lib.curvature.ggn_rank``) against the chain formula ``1 - min N_i / N_0`` and counting bounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lib.curvature.dense import dense_matrix
from lib.curvature.ggn_rank import (
    active_units,
    bottleneck_rank_bound,
    ggn_rank,
    pattern_nullity,
    relu_mlp_layers,
    symmetry_nullity,
)
from lib.curvature.lanczos import SLQResult, slq
from lib.curvature.operators import GGNOperator, HessianOperator
from lib.curvature.parameter_space import LossFn
from lib.nets import data as datasets
from lib.nets.cache import load_or_compute
from lib.nets.train import TrainConfig, TrainResult, load_split, train
from lib.rmt import freeprob
from lib.rmt import law_fits as sf
from lib.rmt import measures as ms

KINDS = ("hessian", "ggn")
_OPERATORS = {"hessian": HessianOperator, "ggn": GGNOperator}
#: the laws paper 2 tests (family-name prefixes), per matrix
CLASSICAL = {"hessian": ("semicircle",), "ggn": ("Marchenko",)}
#: the ensembles paper 2 proposes instead (family-name prefixes), per matrix
PAPER2 = {"hessian": ("Wigner x", "percolated"), "ggn": ("Wishart chain",)}


# --- spectra -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurvatureSpectrum(SLQResult):
    """SLQ of one curvature matrix (:class:`lib.curvature.lanczos.SLQResult`: ``nodes`` and ``weights`` of shape
    ``(probes, steps)``, the dimension ``dim`` = P) with what it is of: the curvature ``kind``, the number of samples
    in the loss, the GGN rank bound ``min(P, sum_n rank H_out,n)`` and, when asked for, all ``eigs`` (ascending)
    from exact diagonalisation."""

    kind: str
    num_samples: int
    rank_bound: int
    eigs: np.ndarray | None = None

    def exact_measure(self) -> ms.Measure:
        """The exact spectral measure (weights 1/P); requires ``eigs``."""
        if self.eigs is None:
            raise ValueError("this spectrum was computed without exact eigenvalues (exact=False)")
        return ms.spectral_measure(self.eigs)

    def exact_zero_weight(self) -> float:
        """Weight of the exact spectrum in ``|lambda| <= 1e-3 max |lambda|`` (:func:`lib.rmt.measures.zero_tolerance`);
        requires ``eigs``."""
        m = self.exact_measure()
        return ms.weight_near_zero(m, ms.zero_tolerance(m))

    def nodes_above_gap_cut(self, gap_ratio: float) -> float:
        """Mean number per probe of SLQ nodes strictly above the gap cut of the probe-averaged measure
        (:func:`lib.rmt.measures.gap_cut` with ``gap_ratio``). The cut is the lowest outlier node, which is not
        counted, so where a probe has outliers this is one fewer than the nodes the gap rule removes
        (:func:`lib.rmt.measures.remove_above` keeps the nodes ``< cut``)."""
        return float(np.mean((self.nodes > ms.gap_cut(self.measure(), gap_ratio)).sum(axis=1)))


def curvature_spectrum(
    model: nn.Module,
    samples: tuple[Tensor, Tensor],
    kind: str,
    steps: int,
    probes: int,
    *,
    exact: bool = False,
    dtype: torch.dtype | None = None,
    loss_fn: LossFn = F.cross_entropy,
    batch_size: int = 512,
    seed: int = 0,
) -> CurvatureSpectrum:
    """SLQ (``steps`` Lanczos steps, ``probes`` Rademacher probes) of the Hessian (``kind="hessian"``) or GGN
    (``"ggn"``) of the mean ``loss_fn`` over ``samples``, the model in eval mode and no weight-decay term.

    ``steps`` is capped at P. ``exact=True`` adds every eigenvalue by dense diagonalisation (P up to a few
    thousand). ``dtype`` defaults to the model's (float32 for the conv nets; float64 where exact zeros matter).
    The result is cached under ``curvature_spectra``, keyed by the model's state (parameters and buffers), the
    architecture, the samples, what the loss computes (``lib.nets.cache.callable_identity``), the settings and the
    source of the code.
    """
    if kind not in _OPERATORS:
        raise ValueError(f"kind must be one of {sorted(_OPERATORS)}, got {kind!r}")
    if not isinstance(steps, int) or not isinstance(probes, int) or steps < 1 or probes < 1:
        raise ValueError(f"steps and probes must be positive integers, got {steps!r}, {probes!r}")
    x, y = samples
    dtype = dtype if dtype is not None else next(model.parameters()).dtype
    # the whole state (parameters and buffers such as BatchNorm statistics) and what the loss computes
    inputs = {"state": model.state_dict(), "architecture": repr(model), "x": x, "y": y, "kind": kind,
              "steps": steps, "probes": probes, "exact": bool(exact), "dtype": str(dtype),
              "loss": loss_fn, "batch_size": batch_size, "seed": seed}

    def compute() -> dict[str, Any]:
        op = _OPERATORS[kind](model, loss_fn, (x, y), dtype=dtype, batch_size=batch_size)
        res = slq(op, min(steps, op.shape[0]), probes, seed=seed)
        out: dict[str, Any] = {"nodes": res.nodes, "weights": res.weights, "dim": op.shape[0],
                               "num_samples": op.num_samples, "rank_bound": op.ggn_rank_bound()}
        if exact:
            out["eigs"] = torch.linalg.eigvalsh(dense_matrix(op)).cpu().numpy()
        return out

    was_training = model.training
    model.eval()
    try:
        stored = load_or_compute("curvature_spectra", inputs, compute)
    finally:
        model.train(was_training)
    return CurvatureSpectrum(nodes=stored["nodes"], weights=stored["weights"], dim=int(stored["dim"]), kind=kind,
                             num_samples=int(stored["num_samples"]), rank_bound=int(stored["rank_bound"]),
                             eigs=stored.get("eigs"))


def slq_faithfulness(spectrum: CurvatureSpectrum) -> dict[str, float]:
    """SLQ against the exact spectrum: KS and W1 (over lambda_max) distances with every node of both measures in
    ``|x| <= 1e-3 lambda_max`` moved to 0 (an atom is an atom wherever round-off puts it), the weight near zero of
    each, and the extreme eigenvalues. Requires ``spectrum.eigs``."""
    exact, quad = spectrum.exact_measure(), spectrum.measure()
    tol = ms.zero_tolerance(exact)
    a, b = ms.snap_zeros(exact, tol), ms.snap_zeros(quad, tol)
    top = float(np.max(spectrum.eigs))
    return {"KS(SLQ, exact)": ms.ks_between(a, b), "W1(SLQ, exact) / lambda_max": ms.wasserstein1(a, b) / top,
            "weight near 0 exact": ms.weight_near_zero(exact, tol), "weight near 0 SLQ": ms.weight_near_zero(quad, tol),
            "lambda_max exact": top, "lambda_max SLQ": float(spectrum.nodes.max()),
            "lambda_min exact": float(np.min(spectrum.eigs)), "lambda_min SLQ": float(spectrum.nodes.min())}


def shape_summary(spectrum: CurvatureSpectrum, num_classes: int, family: sf.Family,
                  exact: bool = False) -> dict[str, float]:
    """How far one spectrum is from ``family`` (moment fit, top ``C`` nodes removed, or as many as the Lanczos
    run allows): KS, W1, the weight near zero (``|lambda| <= 1e-3 lambda_max``) observed and predicted, the
    negative mass and the extreme eigenvalues. Used to follow a spectrum through training."""
    nodes, weights = (spectrum.eigs, None) if exact else (spectrum.nodes, spectrum.weights)
    variants = sf.outlier_variants(nodes, weights, num_classes, top_k=())
    ref = sf.reference_variant(variants, num_classes)
    whole = variants["k=0"]
    fit = sf.fit_law(family, variants[ref], zero_tol=ms.zero_tolerance(whole))
    return {"law": family.name, "outliers": ref, "KS": fit.ks, "W1": fit.w1, "zero obs.": fit.zero_observed,
            "zero pred.": fit.zero_predicted, "negative mass": float(whole.weights[whole.nodes < -fit.zero_tol].sum()),
            "lambda_min": float(whole.nodes[0]), "lambda_max": float(whole.nodes[-1])}


# --- trained networks and their spectra at checkpoints ---------------------------------------------------------


@dataclass
class NetworkSpectra:
    """A trained network and its curvature spectra: ``spectra[(epoch, kind)]``; ``history`` as in lib.nets.train."""

    label: str
    config: TrainConfig
    num_params: int
    num_classes: int
    history: dict[str, np.ndarray]
    samples: tuple[Tensor, Tensor]
    spectra: dict[tuple[int, str], CurvatureSpectrum] = field(default_factory=dict)
    run: TrainResult | None = field(default=None, repr=False)

    def accuracy(self, split: str = "train", epoch: int | None = None) -> float:
        """Accuracy on ``split`` after ``epoch`` (default: the last)."""
        values = self.history[f"{split}_acc"]
        return float(values[-1] if epoch is None else values[list(self.history["epoch"]).index(epoch)])


def hessian_samples(config: TrainConfig, n: int | None, root: str | None = None) -> tuple[Tensor, Tensor]:
    """``n`` class-balanced training samples of ``config``'s run (all of its training samples when ``None``),
    preprocessed as in training. They are always samples the run was trained on: :func:`lib.nets.data.load` picks
    ``n`` of them as a prefix of the same seeded class-interleaved order it drew the run's ``dataset_kwargs["n"]``
    training samples from."""
    n_train = config.dataset_kwargs.get("n")
    if n is not None and n_train is not None and n > n_train:
        raise ValueError(f"{n} samples for the curvature but only {n_train} training samples")
    return load_split(config, "train", root, n=n)


def network_spectra(label: str, config: TrainConfig, n_samples: int | None, steps: int, probes: int,
                    epochs: Sequence[int] | None = None, kinds: Sequence[str] = KINDS, *,
                    exact: bool = False, dtype: torch.dtype | None = None, root: str | None = None,
                    progress: bool = False) -> NetworkSpectra:
    """Train ``config`` (cached) and take the SLQ spectra of ``kinds`` at each of ``epochs`` (default: 0 and the
    last), on ``n_samples`` training samples (:func:`hessian_samples`)."""
    epochs = (0, config.epochs) if epochs is None else tuple(int(e) for e in epochs)
    missing = [e for e in epochs if e not in config.checkpoint_epochs]
    if missing:
        raise ValueError(f"epochs {missing} are not checkpointed by the config ({list(config.checkpoint_epochs)})")
    run = train(config, root=root, progress=progress)
    samples = hessian_samples(config, n_samples, root)
    out = NetworkSpectra(label, config, sum(p.numel() for p in run.model.parameters()),
                         int(run.model(samples[0][:1].to(next(run.model.parameters()).device)).shape[1]),
                         run.history, samples, run=run)
    for epoch in epochs:
        model = run.checkpoint(epoch)
        for kind in kinds:
            out.spectra[(epoch, kind)] = curvature_spectrum(model, samples, kind, steps, probes, exact=exact,
                                                            dtype=dtype)
    return out


def resolve_dataset(name: str, fallback: str, root: str | None = None) -> tuple[str, str]:
    """``(name, "")`` when data set ``name`` can be loaded here, else ``(fallback, note)`` with a note saying why
    (file-based sets such as CIFAR-10 are read from the user's disk, see :func:`lib.nets.data.available`)."""
    if name in datasets.available(root):
        return name, ""
    return fallback, (f"data set {name!r} is not on this machine (see the appendix on data: set RMT_DATA); "
                      f"using {fallback!r} instead")


# --- paper 2's fitting protocol over the trained networks ---------------------------------------------------------


def hessian_families() -> list[sf.Family]:
    """The laws fitted to a Hessian: the semicircle, paper 2's Wigner x Wishart product and percolated Wigner
    ensembles, and for context the free sum MP + semicircle of Pennington & Bahri (2017)."""
    return [sf.semicircle_family(), sf.wigner_wishart_family(), sf.sparse_wigner_family(), sf.free_sum_family()]


#: one spectrum of the fitting protocol: (outlier variants, matrix kind, number of classes, families for a GGN)
FitSpectrum = tuple[dict[str, ms.Measure], str, int, list[sf.Family]]


def law_fit_spectra(mlp: NetworkSpectra, conv: Sequence[NetworkSpectra], top_k: Sequence[int],
                    gap_ratio: float) -> dict[str, FitSpectrum]:
    """The spectra paper 2's protocol fits (paper2.md 2.3), keyed ``"<label> <kind>"``, at the end of training.

    For the ``mlp`` (computed with ``exact=True``): its exact eigenvalues, the GGN fitted by MP and by the Wishart
    chain ``X_1 ... X_M`` with the network's layer widths ``(N_0, ..., N_M)`` (input size, then the out-features of
    each ``nn.Linear``; atom ``1 - min_i N_i / N_0``). For each of ``conv``: its SLQ nodes and weights, the GGN
    fitted by MP. Each spectrum comes in the outlier variants of :func:`lib.rmt.law_fits.outlier_variants`
    (top ``k`` nodes removed for ``k`` in ``{0} | top_k | {C}``, and the gap rule with ``gap_ratio``).
    """
    spectra: dict[str, FitSpectrum] = {}
    xh = mlp.samples[0]
    layer_widths = [int(np.prod(xh.shape[1:]))] + [m.out_features for m in mlp.run.model
                                                    if isinstance(m, torch.nn.Linear)]
    for kind in KINDS:
        s = mlp.spectra[(mlp.config.epochs, kind)]
        spectra[f"{mlp.label} {kind}"] = (sf.outlier_variants(s.eigs, None, mlp.num_classes, top_k, gap_ratio),
                                          kind, mlp.num_classes,
                                          [sf.marchenko_pastur_family(), sf.chain_product_family(layer_widths)])
    for r in conv:
        for kind in KINDS:
            s = r.spectra[(r.config.epochs, kind)]
            spectra[f"{r.label} {kind}"] = (sf.outlier_variants(s.nodes, s.weights, r.num_classes, top_k, gap_ratio),
                                            kind, r.num_classes, [sf.marchenko_pastur_family()])
    return spectra


def fit_laws(spectra: Mapping[str, FitSpectrum], max_iter: int) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Fit every spectrum of :func:`law_fit_spectra`: the Hessians by :func:`hessian_families`, the GGNs by their
    own families; by moment matching on every outlier variant and by least squares (``max_iter`` Nelder-Mead
    iterations) on the reference variant (:func:`lib.rmt.law_fits.reference_variant`: ``k = C`` or the largest
    ``k`` present). Returns the reference variant per spectrum and the rows of :func:`lib.rmt.law_fits.fit_rows`."""
    rows: list[dict[str, Any]] = []
    reference: dict[str, str] = {}
    for label, (variants, kind, classes, ggn_families) in spectra.items():
        reference[label] = sf.reference_variant(variants, classes)
        families = hessian_families() if kind == "hessian" else ggn_families
        rows += sf.fit_rows(label, variants, families, [reference[label]], max_iter=max_iter)
    return reference, rows


def best_fits(table: pd.DataFrame, spectrum: str, outliers: str) -> list[sf.Fit]:
    """Per family, the fit with the smallest KS distance among the rows of ``table`` (a frame of
    :func:`fit_laws` rows) for ``spectrum`` and outlier variant ``outliers``, families in order of appearance."""
    sel = table[(table.spectrum == spectrum) & (table.outliers == outliers)]
    return [sel[sel.family == fam].sort_values("KS").iloc[0].fit for fam in sel.family.unique()]


def law_summary(rows: Sequence[Mapping[str, Any]], spectra: Mapping[str, FitSpectrum]) -> pd.DataFrame:
    """Per spectrum, the best (smallest over outlier variants and fit methods) KS distance, KS distance of the
    bulk away from zero and W1 distance of the laws paper 2 tests (:data:`CLASSICAL`) and of the ensembles it
    proposes (:data:`PAPER2`; NaN where none was fitted), from :func:`lib.rmt.law_fits.best_value`."""
    return pd.DataFrame([
        {"spectrum": label, "KS semicircle/MP": sf.best_value(rows, label, CLASSICAL[kind]),
         "KS paper-2 ensembles": sf.best_value(rows, label, PAPER2[kind]),
         "KS bulk semicircle/MP": sf.best_value(rows, label, CLASSICAL[kind], "KS bulk"),
         "KS bulk paper-2 ensembles": sf.best_value(rows, label, PAPER2[kind], "KS bulk"),
         "W1 semicircle/MP": sf.best_value(rows, label, CLASSICAL[kind], "W1"),
         "W1 paper-2 ensembles": sf.best_value(rows, label, PAPER2[kind], "W1")}
        for label, (_, kind, _, _) in spectra.items()]).set_index("spectrum")


def shape_evolution(mlp: NetworkSpectra, conv: Sequence[NetworkSpectra], mlp_slq: Sequence[int],
                    mlp_dtype: torch.dtype = torch.float64) -> pd.DataFrame:
    """:func:`shape_summary` against the semicircle (Hessian) or MP (GGN) at every checkpoint of every network.

    The ``mlp``'s spectra are taken afresh at each checkpoint by SLQ with ``mlp_slq = (steps, probes)`` (the same
    settings at every checkpoint) on its curvature samples, in ``mlp_dtype``; the ``conv`` nets' are the SLQ
    spectra they were computed with, at the checkpoints where they exist.
    """
    rows: list[dict[str, Any]] = []
    for epoch in mlp.config.checkpoint_epochs:
        model = mlp.run.checkpoint(epoch)
        for kind in KINDS:  # the same SLQ settings at every checkpoint
            s = curvature_spectrum(model, mlp.samples, kind, *mlp_slq, dtype=mlp_dtype)
            fam = sf.semicircle_family() if kind == "hessian" else sf.marchenko_pastur_family()
            rows.append({"network": mlp.label, "epoch": epoch, "matrix": kind,
                         "train acc": mlp.accuracy("train", epoch), **shape_summary(s, mlp.num_classes, fam)})
    for r in conv:
        for epoch in r.config.checkpoint_epochs:
            for kind in KINDS:
                if (epoch, kind) in r.spectra:
                    fam = sf.semicircle_family() if kind == "hessian" else sf.marchenko_pastur_family()
                    rows.append({"network": r.label, "epoch": epoch, "matrix": kind,
                                 "train acc": r.accuracy("train", epoch),
                                 **shape_summary(r.spectra[(epoch, kind)], r.num_classes, fam)})
    return pd.DataFrame(rows)


# --- the atom at zero against the layer widths -----------------------------------------------------------------


def ggn_atom(model: nn.Module, x: Tensor, y: Tensor) -> dict[str, Any]:
    """The atom at zero of the GGN of the mean cross-entropy of a ReLU MLP over ``(x, y)``, and what predicts it.

    Measured exactly as ``1 - rank G / P`` (:func:`lib.curvature.ggn_rank.ggn_rank`), and set against

    * the chain formula ``1 - min_i N_i / N_0`` of the Wishart product with the layer widths (paper2.md 3.3);
    * the Gauss-Newton bound ``1 - min(P, N (C - 1)) / P`` (``rank G <= sum_n rank H_out,n``);
    * ``1 - min(N (C - 1), P - symmetry_nullity) / P`` (with the exact symmetries), the same with the count of
      :func:`pattern_nullity` from the activation pattern on the samples, the same with
      :func:`bottleneck_rank_bound` (with the active units of each sample), and the best (largest) of these
      lower bounds on the atom.

    Keys: widths (``"D-h_1-...-C"``), hidden, P, zero measured, the bounds, dead units, always-active units.
    """
    linears = relu_mlp_layers(model)
    widths = [linears[0].in_features] + [m.out_features for m in linears]
    p, c = sum(m.weight.numel() + m.bias.numel() for m in linears), widths[-1]
    rank = ggn_rank(model, x, y)
    gn = min(p, len(y) * (c - 1))
    sym = symmetry_nullity(widths, x)
    pattern = pattern_nullity(model, x)
    bottleneck = bottleneck_rank_bound(widths, len(y), active_units(model, x))
    best = min(gn, p - sym, p - pattern["null directions"], bottleneck)
    return {"widths": "-".join(map(str, widths)), "hidden": tuple(widths[1:-1]), "P": p,
            "zero measured": 1 - rank / p, "chain 1-min(N_i)/N_0": freeprob.chain_product_atom(widths),
            "GN bound": 1 - gn / p, "symmetry bound": 1 - min(gn, p - sym) / p,
            "pattern bound": 1 - min(gn, p - pattern["null directions"]) / p,
            "bottleneck bound": 1 - min(gn, bottleneck) / p,
            "best bound": 1 - best / p, "dead units": pattern["dead units"],
            "always-active units": pattern["always-active units"]}


def width_sweep(hidden: Sequence[Sequence[int]], dataset: str = "digits", *, n_samples: int = 100,
                n_train: int | None = None, epochs: int = 10, optimizer: str = "adam", lr: float = 1e-2,
                seed: int = 1, root: str | None = None) -> list[dict[str, Any]]:
    """Train a ReLU MLP ``D-h_1-...-h_L-C`` for each entry of ``hidden`` and measure the atom at zero of its GGN.

    Each net is trained by ``lib.nets.train`` (``optimizer`` with ``lr``, no weight decay, ``epochs`` epochs on
    ``n_train`` samples, all when ``None``; cached). The GGN is that of the mean cross-entropy over ``n_samples``
    training samples (:func:`hessian_samples`); one row per net: :func:`ggn_atom` with the final training
    accuracy ("train acc") after P.
    """
    rows = []
    for widths_hidden in hidden:
        config = TrainConfig(model="mlp_widths", dataset=dataset, model_kwargs={"widths": list(widths_hidden)},
                             dataset_kwargs={} if n_train is None else {"n": int(n_train)}, epochs=epochs,
                             optimizer=optimizer, lr=lr, weight_decay=0.0, batch_size=64, seed=seed)
        run = train(config, root=root, progress=False)
        model = run.model.cpu().eval()
        x, y = hessian_samples(config, n_samples, root)
        atom = ggn_atom(model, x, y)
        rows.append({"widths": atom.pop("widths"), "hidden": atom.pop("hidden"), "P": atom.pop("P"),
                     "train acc": float(run.history["train_acc"][-1]), **atom})
    return rows


def atom_agreement(sweep: pd.DataFrame) -> dict[str, float]:
    """How the measured atoms of a :func:`width_sweep` (as a frame) compare with their predictions.

    ``chain_error`` and ``bound_error``: mean ``|zero measured - prediction|`` for the chain formula and the best
    counting bound; ``bound_exact``: number of nets whose best bound is met to within half a parameter
    (``0.5 / P``); ``ratio_min``, ``ratio_max`` and ``ratio_range`` (max - min, NaN unless there are two or more):
    the measured atom over the nets with two hidden layers, whose width ratio ``h_1 / h_2`` varies.
    """
    pairs = sweep[sweep.hidden.map(len) == 2]
    return {"chain_error": float(np.abs(sweep["zero measured"] - sweep["chain 1-min(N_i)/N_0"]).mean()),
            "bound_error": float(np.abs(sweep["zero measured"] - sweep["best bound"]).mean()),
            "bound_exact": int((np.abs(sweep["zero measured"] - sweep["best bound"]) < 0.5 / sweep.P).sum()),
            "ratio_range": float(pairs["zero measured"].max() - pairs["zero measured"].min()) if len(pairs) > 1
            else float("nan"),
            "ratio_min": float(pairs["zero measured"].min()), "ratio_max": float(pairs["zero measured"].max())}
