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
* :func:`slq_noise_floor`: how far SLQ alone puts the bulk of an exactly known spectrum from itself, across probe
  seeds: the null distribution that decides whether a law "fits" a spectrum's bulk.
* :func:`atom_table`: the weight at zero of every spectrum against the GGN rank bound.
* :func:`network_spectra`: train a model of the zoo (``lib.nets.train``, cached) and take its spectra at checkpoints.
* :func:`law_fit_spectra`, :func:`fit_laws`, :func:`best_fits`, :func:`law_summary`: paper 2's fitting protocol
  (paper2.md 2.3) over the trained networks' spectra, and the best fit of the classical laws (semicircle, MP)
  against the ensembles paper 2 proposes.
* :func:`shape_evolution`: distance to the semicircle / MP and weight near zero at every checkpoint.
* :func:`ggn_atom`, :func:`width_sweep`, :func:`atom_agreement`: exact GGN ranks of small trained MLPs
  (``lib.curvature.ggn_rank``) against the chain formula ``1 - min N_i / N_0`` and counting bounds.
* :func:`connectivity_sweep`, :func:`rank_correlation`: loss barriers between pairs of trained MLPs of several
  widths against the atom of their GGN, a test of "the atom explains mode connectivity".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy import stats
from torch import Tensor, nn

from lib.curvature import parameter_space as ps
from lib.curvature.dense import dense_matrix
from lib.curvature.ggn_rank import (
    active_units,
    bottleneck_rank_bound,
    ggn_rank,
    pattern_nullity,
    relu_mlp_layers,
    symmetry_nullity,
)
from lib.curvature.lanczos import DiagonalOperator, SLQResult, rademacher, slq
from lib.curvature.operators import GGNOperator, HessianOperator
from lib.curvature.parameter_space import LossFn
from lib.experiments import mode_connectivity as mc
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
#: the ensembles paper 2 proposes instead (family-name prefixes), fitted to every spectrum
PAPER2 = {kind: ("Wigner x", "percolated", "Wishart chain") for kind in KINDS}


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

    with ps.training_flags(model, False):
        stored = load_or_compute("curvature_spectra", inputs, compute)
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


def classical_family(kind: str) -> sf.Family:
    """The law paper 2 tests for ``kind``: the semicircle for a Hessian, Marchenko-Pastur for a GGN."""
    return sf.semicircle_family() if kind == "hessian" else sf.marchenko_pastur_family()


def bulk_fit_distance(family: sf.Family, data: ms.Measure, zero_tol: float, max_iter: int) -> float:
    """The smallest bulk KS distance (:func:`lib.rmt.measures.ks_away_from_zero`, ``|lambda| > zero_tol``) of
    ``family`` fitted to ``data`` by moments and by least squares (:func:`lib.rmt.law_fits.fit_law`): the statistic
    the chapter judges a law by."""
    return min(sf.fit_law(family, data, method, zero_tol=zero_tol, max_iter=max_iter).ks_bulk
               for method in ("moments", "lsq"))


def slq_noise_floor(model: nn.Module, samples: tuple[Tensor, Tensor], kind: str, steps: int, probes: int,
                    seeds: Sequence[int], num_classes: int, *, max_iter: int = 20, dtype: torch.dtype = torch.float64,
                    loss_fn: LossFn = F.cross_entropy, batch_size: int = 512) -> dict[str, np.ndarray]:
    """SLQ noise on the bulk of a spectrum known exactly, across probe seeds: the null distribution of the bulk KS.

    The curvature matrix ``A = Q diag(lambda) Q^T`` of ``kind`` (as in :func:`curvature_spectrum`) is diagonalised
    once; SLQ with ``steps`` Lanczos steps and ``probes`` Rademacher probes of each seed ``s`` is then run on
    ``diag(lambda)`` from ``Q^T r_s`` (:class:`lib.curvature.lanczos.DiagonalOperator`), which is SLQ of ``A`` from
    the probes ``r_s`` (exact arithmetic; the same up to round-off). For each seed, with the top ``num_classes``
    nodes of each probe removed (the reference variant of the fits, :func:`lib.rmt.law_fits.reference_variant`) and
    the zero window ``1e-3 lambda_max`` of the whole SLQ measure (as in the fits):

    * ``"SLQ vs exact"``: bulk KS (:func:`lib.rmt.measures.ks_away_from_zero`) between the SLQ measure and the
      exact one (top ``num_classes`` eigenvalues removed): what SLQ noise alone does to a spectrum's bulk;
    * ``"SLQ vs SLQ"``: the same between the runs of seeds ``2i`` and ``2i+1`` in ``seeds`` (no exact spectrum needed);
    * ``"classical law"``: :func:`bulk_fit_distance` of the semicircle (Hessian) or MP (GGN) fitted to the SLQ
      measure: the statistic on a spectrum that is the network's own, not the law's;
    * ``"atom SLQ - exact"``: weight near zero of the SLQ measure minus the exact one.

    The eigendecomposition and the SLQ runs are cached under ``slq_noise_floor``.
    """
    if kind not in _OPERATORS:
        raise ValueError(f"kind must be one of {sorted(_OPERATORS)}, got {kind!r}")
    seeds = [int(s) for s in seeds]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"need at least two distinct seeds, got {seeds}")
    x, y = samples
    inputs = {"state": model.state_dict(), "architecture": repr(model), "x": x, "y": y, "kind": kind,
              "steps": steps, "probes": probes, "seeds": seeds, "dtype": str(dtype), "loss": loss_fn,
              "batch_size": batch_size}

    def compute() -> dict[str, Any]:
        op = _OPERATORS[kind](model, loss_fn, (x, y), dtype=dtype, batch_size=batch_size)
        lam, vecs = torch.linalg.eigh(dense_matrix(op).to(torch.float64).cpu())
        diag = DiagonalOperator(lam)
        runs = [slq(diag, min(steps, len(lam)), probes, seed, starts=vecs.T @ rademacher(len(lam), probes, seed))
                for seed in seeds]
        return {"eigs": lam.numpy(), "nodes": np.stack([r.nodes for r in runs]),
                "weights": np.stack([r.weights for r in runs])}

    with ps.training_flags(model, False):
        stored = load_or_compute("slq_noise_floor", inputs, compute)
    # the outliers are removed as in the fits: the reference variant (top C nodes, or fewer for short runs)
    ref = sf.reference_variant(sf.outlier_variants(stored["nodes"][0], stored["weights"][0], num_classes, ()),
                               num_classes)
    drop = int(ref[2:])
    exact, exact_whole = ms.spectral_measure(stored["eigs"], drop_top=drop), ms.spectral_measure(stored["eigs"])
    exact_zero = ms.weight_near_zero(exact_whole, ms.zero_tolerance(exact_whole))
    family = classical_family(kind)
    out: dict[str, list[float]] = {"SLQ vs exact": [], "classical law": [], "atom SLQ - exact": []}
    bulks = []
    for nodes, weights in zip(stored["nodes"], stored["weights"], strict=True):
        whole = ms.spectral_measure(nodes, weights)
        tol = ms.zero_tolerance(whole)
        quad = ms.spectral_measure(nodes, weights, drop_top=drop)
        bulks.append((quad, tol))
        out["SLQ vs exact"].append(ms.ks_away_from_zero(quad, exact, tol))
        out["classical law"].append(bulk_fit_distance(family, quad, tol, max_iter))
        out["atom SLQ - exact"].append(ms.weight_near_zero(whole, tol) - exact_zero)
    pairs = [ms.ks_away_from_zero(bulks[i][0], bulks[i + 1][0], max(bulks[i][1], bulks[i + 1][1]))
             for i in range(0, len(bulks) - 1, 2)]
    return {**{k: np.asarray(v) for k, v in out.items()}, "SLQ vs SLQ": np.asarray(pairs)}


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


def all_families() -> list[sf.Family]:
    """Every law fitted to every spectrum: :func:`hessian_families` and Marchenko-Pastur."""
    return [*hessian_families(), sf.marchenko_pastur_family()]


#: one spectrum of the fitting protocol: (outlier variants, matrix kind, number of classes, families)
FitSpectrum = tuple[dict[str, ms.Measure], str, int, list[sf.Family]]


def law_fit_spectra(mlp: NetworkSpectra, conv: Sequence[NetworkSpectra], top_k: Sequence[int],
                    gap_ratio: float) -> dict[str, FitSpectrum]:
    """The spectra paper 2's protocol fits (paper2.md 2.3), keyed ``"<label> <kind>"``, at the end of training.

    For the ``mlp`` (computed with ``exact=True``): its exact eigenvalues; for each of ``conv``: its SLQ nodes and
    weights. Every spectrum is fitted by every family (:func:`all_families`); the ``mlp``'s also by the Wishart
    chain ``X_1 ... X_M`` with the network's layer widths ``(N_0, ..., N_M)`` (input size, then the out-features of
    each ``nn.Linear``; atom ``1 - min_i N_i / N_0``), which is not defined for a convolutional net. Each spectrum
    comes in the outlier variants of :func:`lib.rmt.law_fits.outlier_variants` (top ``k`` nodes removed for ``k``
    in ``{0} | top_k | {C}``, and the gap rule with ``gap_ratio``).
    """
    spectra: dict[str, FitSpectrum] = {}
    xh = mlp.samples[0]
    layer_widths = [int(np.prod(xh.shape[1:]))] + [m.out_features for m in mlp.run.model
                                                    if isinstance(m, torch.nn.Linear)]
    for kind in KINDS:
        s = mlp.spectra[(mlp.config.epochs, kind)]
        spectra[f"{mlp.label} {kind}"] = (sf.outlier_variants(s.eigs, None, mlp.num_classes, top_k, gap_ratio),
                                          kind, mlp.num_classes,
                                          [*all_families(), sf.chain_product_family(layer_widths)])
    for r in conv:
        for kind in KINDS:
            s = r.spectra[(r.config.epochs, kind)]
            spectra[f"{r.label} {kind}"] = (sf.outlier_variants(s.nodes, s.weights, r.num_classes, top_k, gap_ratio),
                                            kind, r.num_classes, all_families())
    return spectra


def fit_laws(spectra: Mapping[str, FitSpectrum], max_iter: int) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Fit every spectrum of :func:`law_fit_spectra` by its families; by moment matching on every outlier variant
    and by least squares (``max_iter`` Nelder-Mead iterations) on the reference variant
    (:func:`lib.rmt.law_fits.reference_variant`: ``k = C`` or the largest ``k`` present). Returns
    the reference variant per spectrum and the rows of :func:`lib.rmt.law_fits.fit_rows`."""
    rows: list[dict[str, Any]] = []
    reference: dict[str, str] = {}
    for label, (variants, _, classes, families) in spectra.items():
        reference[label] = sf.reference_variant(variants, classes)
        rows += sf.fit_rows(label, variants, families, [reference[label]], max_iter=max_iter)
    return reference, rows


def best_fits(table: pd.DataFrame, spectrum: str, outliers: str) -> list[sf.Fit]:
    """Per family, the fit with the smallest KS distance among the rows of ``table`` (a frame of
    :func:`fit_laws` rows) for ``spectrum`` and outlier variant ``outliers``, families in order of appearance."""
    sel = table[(table.spectrum == spectrum) & (table.outliers == outliers)]
    return [sel[sel.family == fam].sort_values("KS").iloc[0].fit for fam in sel.family.unique()]


def law_summary(rows: Sequence[Mapping[str, Any]], spectra: Mapping[str, FitSpectrum],
                reference: Mapping[str, str]) -> pd.DataFrame:
    """Per spectrum, the distances the verdicts read, from :func:`lib.rmt.law_fits.best_value`.

    Primary, on the bulk away from zero (``|lambda| > 1e-3 lambda_max``) of the ``reference`` variant (top C
    nodes removed), best of the fit methods: the KS distance of the law paper 2 tests (:data:`CLASSICAL`) and
    of the best of the ensembles it proposes (:data:`PAPER2`; NaN where none was fitted), with the name of that
    ensemble. Secondary, the whole-spectrum KS (dominated by the atom at zero) of both, best over outlier variants
    and methods, and the observed weight near zero.
    """
    out = []
    for label, (variants, kind, _, _) in spectra.items():
        ref = reference[label]
        ensembles = [r for r in rows if r["spectrum"] == label and r["outliers"] == ref
                     and str(r["family"]).startswith(PAPER2[kind]) and np.isfinite(r["KS bulk"])]
        best = min(ensembles, key=lambda r: r["KS bulk"])["family"] if ensembles else ""
        out.append({"spectrum": label, "outliers": ref,
                    "bulk KS semicircle/MP": sf.best_value(rows, label, CLASSICAL[kind], "KS bulk", ref),
                    "bulk KS paper-2 ensembles": sf.best_value(rows, label, PAPER2[kind], "KS bulk", ref),
                    "best paper-2 ensemble": best,
                    "whole KS semicircle/MP": sf.best_value(rows, label, CLASSICAL[kind]),
                    "whole KS paper-2 ensembles": sf.best_value(rows, label, PAPER2[kind]),
                    "weight near 0": ms.weight_near_zero(variants["k=0"], ms.zero_tolerance(variants["k=0"]))})
    return pd.DataFrame(out).set_index("spectrum")


def atom_table(mlp: NetworkSpectra, conv: Sequence[NetworkSpectra]) -> pd.DataFrame:
    """The atom at zero of every spectrum at the end of training, on its own: the weight in
    ``|lambda| <= 1e-3 lambda_max`` (exact eigenvalues for ``mlp``, SLQ for ``conv``) and, for the GGN, the lower
    bound ``1 - min(P, N (C - 1)) / P`` that the rank of ``G = (1/N) sum_n J_n^T H_out,n J_n`` puts on it
    (each ``H_out,n`` has rank ``C - 1``)."""
    rows = []
    for net in (mlp, *conv):
        for kind in KINDS:
            s = net.spectra[(net.config.epochs, kind)]
            m = s.exact_measure() if s.eigs is not None else s.measure()
            rows.append({"spectrum": f"{net.label} {kind}", "P": s.dim, "N in the loss": s.num_samples,
                         "measured by": "exact" if s.eigs is not None else "SLQ",
                         "weight near 0": ms.weight_near_zero(m, ms.zero_tolerance(m)),
                         "GGN rank bound 1 - min(P, N(C-1))/P": 1 - s.rank_bound / s.dim if kind == "ggn"
                         else float("nan")})
    return pd.DataFrame(rows).set_index("spectrum")


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
            fam = classical_family(kind)
            rows.append({"network": mlp.label, "epoch": epoch, "matrix": kind,
                         "train acc": mlp.accuracy("train", epoch), **shape_summary(s, mlp.num_classes, fam)})
    for r in conv:
        for epoch in r.config.checkpoint_epochs:
            for kind in KINDS:
                if (epoch, kind) in r.spectra:
                    fam = classical_family(kind)
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


def _sweep_config(hidden: Sequence[int], dataset: str, n_train: int | None, epochs: int, optimizer: str, lr: float,
                  seed: int) -> TrainConfig:
    """The training of a sweep MLP ``D-h_1-...-h_L-C``: no weight decay, batch 64."""
    return TrainConfig(model="mlp_widths", dataset=dataset, model_kwargs={"widths": [int(h) for h in hidden]},
                       dataset_kwargs={} if n_train is None else {"n": int(n_train)}, epochs=epochs,
                       optimizer=optimizer, lr=lr, weight_decay=0.0, batch_size=64, seed=seed)


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
        config = _sweep_config(widths_hidden, dataset, n_train, epochs, optimizer, lr, seed)
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


# --- mode connectivity against the atom -------------------------------------------------------------------------


def connectivity_sweep(hidden: Sequence[Sequence[int]], seed_pairs: Sequence[tuple[int, int]],
                       dataset: str = "digits", *, n_samples: int = 100, epochs: int = 10, optimizer: str = "adam",
                       lr: float = 1e-2, bezier_steps: int = 300, path_points: int = 21,
                       root: str | None = None) -> list[dict[str, Any]]:
    """Loss barriers between two trained solutions against the atom of their GGN, for MLPs of several widths.

    For each ``D-h_1-...-C`` of ``hidden`` and each ``(seed_a, seed_b)`` of ``seed_pairs``, two MLPs are trained
    as in :func:`width_sweep` (cached); the atom of each is ``1 - rank G / P`` of the GGN of the mean cross-entropy
    over ``n_samples`` training samples (:func:`lib.curvature.ggn_rank.ggn_rank`, exact), and the barriers of the
    straight line and of the trained quadratic Bezier curve between the two (``bezier_steps`` Adam steps) are
    :func:`lib.experiments.mode_connectivity.barrier` of the full training loss at ``path_points`` times
    (:func:`lib.experiments.mode_connectivity.connectivity_paths`). One row per pair: widths, P, seeds, the two
    atoms and their mean ("atom"), "line barrier", "Bezier barrier" and the loss at the two ends.
    """
    ts = np.linspace(0.0, 1.0, path_points)
    train_data = datasets.load(dataset, "train", root)
    rows = []
    for widths_hidden in hidden:
        for seed_a, seed_b in seed_pairs:
            runs = [train(_sweep_config(widths_hidden, dataset, None, epochs, optimizer, lr, seed), root=root,
                          progress=False) for seed in (seed_a, seed_b)]
            models = [run.model.cpu().double().eval() for run in runs]
            x, y = hessian_samples(runs[0].config, n_samples, root)
            p = sum(t.numel() for t in models[0].parameters())
            atoms = [1 - ggn_rank(m, x.double(), y) / p for m in models]
            theta = [ps.flat_parameters(m) for m in models]
            paths = mc.connectivity_paths(models[0], F.cross_entropy, (train_data[0].double(), train_data[1]),
                                          theta[0], theta[1], ts, steps=bezier_steps, lr=lr, seed=0)
            rows.append({"widths": "-".join(str(n) for n in [x[0].numel(), *widths_hidden, int(y.max()) + 1]),
                         "P": p, "seeds": f"{seed_a}, {seed_b}", "atom A": atoms[0], "atom B": atoms[1],
                         "atom": float(np.mean(atoms)), "line barrier": mc.barrier(ts, paths["line"]),
                         "Bezier barrier": mc.barrier(ts, paths["bezier"]),
                         "loss A": float(paths["line"][0]), "loss B": float(paths["line"][-1])})
    return rows


def rank_correlation(x: Sequence[float], y: Sequence[float], *, replicas: int = 2000, seed: int = 0,
                     alternative_rho: float = -0.7) -> dict[str, Any]:
    """Spearman's rank correlation of ``x`` and ``y`` with what is needed to test it.

    ``rho``; a 95 % percentile-bootstrap interval (``replicas`` resamples of the pairs); ``null``: rho of
    ``replicas`` random permutations of ``y`` against ``x`` (the exact null of no association, at the same n and
    with the same ties); ``alternative``: rho of ``replicas`` samples of n pairs from a bivariate normal law of
    correlation ``alternative_rho`` (the rule's power). Seeded.
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.shape != ys.shape or xs.ndim != 1 or xs.size < 4:
        raise ValueError(f"need two 1-d arrays of one length >= 4, got {xs.shape}, {ys.shape}")
    rng = np.random.default_rng(seed)
    n = xs.size

    def spearman(a: np.ndarray, b: np.ndarray) -> float:
        value = stats.spearmanr(a, b).statistic
        return float(value) if np.isfinite(value) else 0.0

    boot = []
    for _ in range(replicas):
        idx = rng.integers(0, n, n)
        boot.append(spearman(xs[idx], ys[idx]))
    null = np.array([spearman(xs, rng.permutation(ys)) for _ in range(replicas)])
    cov = np.array([[1.0, alternative_rho], [alternative_rho, 1.0]])
    alt = np.array([spearman(*rng.multivariate_normal(np.zeros(2), cov, n).T) for _ in range(replicas)])
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return {"rho": spearman(xs, ys), "ci": (float(lo), float(hi)), "n": n, "null": null, "alternative": alt,
            "alternative_rho": alternative_rho}
