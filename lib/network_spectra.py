"""Curvature spectra of trained networks against the random-matrix laws: the experiments of paper 2 (chapter 09).

Granziol (2020, arXiv:2006.07721) compares the Hessian and generalised Gauss-Newton (GGN) spectra of trained
networks with the Wigner semicircle and the Marchenko-Pastur law, and ties the atom at zero of product ensembles
to the ratios of the layer widths. This module holds the experiment's pieces between the curvature engine
(``lib.hessian``, ``lib.lanczos``, ``lib.train``) and the fits (``lib.spectral_fits``):

* :func:`curvature_spectrum`: stochastic Lanczos quadrature (SLQ) nodes and weights, and exact eigenvalues of
  small networks, of the Hessian or GGN of the MEAN loss over given samples, model in eval mode (dropout off),
  no weight-decay term: the author's pipeline (paper2.md 2.2). Cached on disk, keyed by the parameters, the
  architecture, the samples and the settings.
* :func:`outlier_variants`, :func:`reference_variant`, :func:`fit_rows`: the fitting protocol of paper2.md 2.3 on
  one spectrum (the top ``k`` nodes removed for every requested ``k`` and ``k = C``, or the gap rule), for any
  list of ``k`` and any number of Lanczos steps.
* :func:`network_spectra`: train a model of the zoo (``lib.train``, cached) and take its spectra at checkpoints.
* :func:`ggn_factor`, :func:`ggn_rank`, :func:`symmetry_nullity`, :func:`pattern_nullity`,
  :func:`bottleneck_rank_bound`, :func:`width_sweep`: exact GGN ranks of small trained MLPs against the chain
  formula ``1 - min N_i / N_0`` and counting bounds: ``rank G <= N (C - 1)``, ``rank G <= P - (null directions
  counted from symmetries and from the activation pattern)`` and a bottleneck bound.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, hessian, jacrev, vmap

from lib import data as datasets
from lib import freeprob
from lib import spectral_fits as sf
from lib.cache import load_or_compute
from lib.hessian import GGNOperator, HessianOperator, dense_matrix
from lib.lanczos import slq
from lib.mode_connectivity import flat_parameters
from lib.train import TrainConfig, TrainResult, train

LossFn = Callable[[Tensor, Tensor], Tensor]
KINDS = ("hessian", "ggn")
_OPERATORS = {"hessian": HessianOperator, "ggn": GGNOperator}
ZERO_REL = 1e-9  # zero_fraction's window: |lambda| <= ZERO_REL * max |lambda| (above float64 round-off)


# --- spectra -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurvatureSpectrum:
    """SLQ of one curvature matrix: ``nodes`` and ``weights`` of shape ``(probes, steps)`` (each weight row sums
    to 1), the dimension ``dim`` = P, the number of samples in the loss, the GGN rank bound
    ``min(P, sum_n rank H_out,n)`` and, when asked for, all ``eigs`` (ascending) from exact diagonalisation."""

    kind: str
    nodes: np.ndarray
    weights: np.ndarray
    dim: int
    num_samples: int
    rank_bound: int
    eigs: np.ndarray | None = None

    def measure(self, drop_top: int = 0) -> sf.Measure:
        """The SLQ spectral measure (probe average), with the top ``drop_top`` nodes of each probe removed."""
        return sf.spectral_measure(self.nodes, self.weights, drop_top=drop_top)

    def exact_measure(self) -> sf.Measure:
        """The exact spectral measure (weights 1/P); requires ``eigs``."""
        if self.eigs is None:
            raise ValueError("this spectrum was computed without exact eigenvalues (exact=False)")
        return sf.spectral_measure(self.eigs)


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
    The result is cached under ``ch09_spectra``, keyed by the parameters, the architecture, the samples, the
    loss and the settings.
    """
    if kind not in _OPERATORS:
        raise ValueError(f"kind must be one of {sorted(_OPERATORS)}, got {kind!r}")
    if not isinstance(steps, int) or not isinstance(probes, int) or steps < 1 or probes < 1:
        raise ValueError(f"steps and probes must be positive integers, got {steps!r}, {probes!r}")
    x, y = samples
    dtype = dtype if dtype is not None else next(model.parameters()).dtype
    inputs = {"theta": flat_parameters(model).cpu(), "architecture": repr(model), "x": x, "y": y, "kind": kind,
              "steps": steps, "probes": probes, "exact": bool(exact), "dtype": str(dtype),
              "loss": getattr(loss_fn, "__name__", repr(loss_fn)), "batch_size": batch_size, "seed": seed}

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
        stored = load_or_compute("ch09_spectra", inputs, compute)
    finally:
        model.train(was_training)
    return CurvatureSpectrum(kind, stored["nodes"], stored["weights"], int(stored["dim"]),
                             int(stored["num_samples"]), int(stored["rank_bound"]), stored.get("eigs"))


# --- the fitting protocol ------------------------------------------------------------------------------------


def outlier_variants(nodes: np.ndarray, weights: np.ndarray | None, num_classes: int,
                     top_k: Sequence[int] = (0, 10), gap_ratio: float = 0.25) -> dict[str, sf.Measure]:
    """The spectrum with its outliers removed in each way of paper2.md 2.3, keyed ``"k=<k>"`` and ``"gap"``.

    ``k`` runs over ``{0} | top_k | {C}``; a ``k`` is kept when it removes fewer than half the nodes of a probe
    (``k < m // 2``, with ``m`` Lanczos steps or P eigenvalues), so that the bulk is left; ``k = 0`` is always
    there. ``weights=None`` means exact eigenvalues. The gap rule is :func:`lib.spectral_fits.gap_cut`.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    bad = [k for k in top_k if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0]
    if bad:
        raise ValueError(f"top_k must hold non-negative integers, got {list(top_k)!r}")
    m = int(np.shape(np.atleast_2d(nodes))[-1])
    ks = [k for k in sorted({0, *(int(k) for k in top_k), int(num_classes)}) if k == 0 or k < m // 2]
    out = {f"k={k}": sf.spectral_measure(nodes, weights, drop_top=k) for k in ks}
    full = out["k=0"]
    out["gap"] = sf.remove_above(full, sf.gap_cut(full, ratio=gap_ratio))
    return out


def reference_variant(variants: Mapping[str, sf.Measure], num_classes: int) -> str:
    """The variant the least-squares fits and the figures use: ``k = C`` when present, else the largest ``k``
    present (short Lanczos runs cannot drop C nodes)."""
    if f"k={num_classes}" in variants:
        return f"k={num_classes}"
    ks = [int(key[2:]) for key in variants if key.startswith("k=")]
    if not ks:
        raise ValueError(f"no top-k variant among {list(variants)}")
    return f"k={max(ks)}"


def fit_rows(label: str, variants: Mapping[str, sf.Measure], families: Sequence[sf.Family],
             lsq_variants: Sequence[str] = (), *, zero_tol: float | None = None, max_iter: int = 60,
             log: Callable[[str], None] | None = print) -> list[dict[str, Any]]:
    """One row per (outlier variant, family, method): moment fits everywhere, least squares on ``lsq_variants``.

    Columns: spectrum, outliers, family, method, params, KS, W1, KS bulk, zero pred., zero obs., fit (the
    :class:`lib.spectral_fits.Fit`). The weight "at zero" is counted in ``|lambda| <= zero_tol``, by default
    ``1e-3 lambda_max`` of the ``k=0`` variant (the whole spectrum). A family that cannot fit (a positive law
    against a negative mean) is reported through ``log`` and skipped.
    """
    tol = sf.zero_tolerance(variants["k=0"]) if zero_tol is None else float(zero_tol)
    rows = []
    for variant, measure in variants.items():
        for fam in families:
            for method in ("moments", "lsq") if variant in lsq_variants else ("moments",):
                try:
                    f = sf.fit_law(fam, measure, method, max_iter=max_iter, zero_tol=tol)
                except ValueError as exc:
                    if log is not None:
                        log(f"{label}, {variant}: no {fam.name} fit ({exc})")
                    continue
                rows.append({"spectrum": label, "outliers": variant, "family": f.family, "method": method,
                             "params": ", ".join(f"{k}={v:.3g}" for k, v in f.params.items()), "KS": f.ks,
                             "W1": f.w1, "KS bulk": f.ks_bulk, "zero pred.": f.zero_predicted,
                             "zero obs.": f.zero_observed, "fit": f})
    return rows


def slq_faithfulness(spectrum: CurvatureSpectrum) -> dict[str, float]:
    """SLQ against the exact spectrum: KS and W1 (over lambda_max) distances with every node of both measures in
    ``|x| <= 1e-3 lambda_max`` moved to 0 (an atom is an atom wherever round-off puts it), the weight near zero of
    each, and the extreme eigenvalues. Requires ``spectrum.eigs``."""
    exact, quad = spectrum.exact_measure(), spectrum.measure()
    tol = sf.zero_tolerance(exact)
    a, b = sf.snap_zeros(exact, tol), sf.snap_zeros(quad, tol)
    top = float(np.max(spectrum.eigs))
    return {"KS(SLQ, exact)": sf.ks_distance(a, b), "W1(SLQ, exact) / lambda_max": sf.wasserstein1(a, b) / top,
            "weight near 0 exact": sf.weight_near_zero(exact, tol), "weight near 0 SLQ": sf.weight_near_zero(quad, tol),
            "lambda_max exact": top, "lambda_max SLQ": float(spectrum.nodes.max()),
            "lambda_min exact": float(np.min(spectrum.eigs)), "lambda_min SLQ": float(spectrum.nodes.min())}


def shape_summary(spectrum: CurvatureSpectrum, num_classes: int, family: sf.Family,
                  exact: bool = False) -> dict[str, float]:
    """How far one spectrum is from ``family`` (moment fit, top ``C`` nodes removed, or as many as the Lanczos
    run allows): KS, W1, the weight near zero (``|lambda| <= 1e-3 lambda_max``) observed and predicted, the
    negative mass and the extreme eigenvalues. Used to follow a spectrum through training."""
    nodes, weights = (spectrum.eigs, None) if exact else (spectrum.nodes, spectrum.weights)
    variants = outlier_variants(nodes, weights, num_classes, top_k=())
    ref = reference_variant(variants, num_classes)
    whole = variants["k=0"]
    fit = sf.fit_law(family, variants[ref], zero_tol=sf.zero_tolerance(whole))
    return {"law": family.name, "outliers": ref, "KS": fit.ks, "W1": fit.w1, "zero obs.": fit.zero_observed,
            "zero pred.": fit.zero_predicted, "negative mass": float(whole.weights[whole.nodes < -fit.zero_tol].sum()),
            "lambda_min": float(whole.nodes[0]), "lambda_max": float(whole.nodes[-1])}


def best_value(rows: Sequence[Mapping[str, Any]], spectrum: str, families: Sequence[str],
               column: str = "KS") -> float:
    """The smallest ``column`` over the fit rows of ``spectrum`` whose family name starts with one of
    ``families`` (any outlier variant and method); nan when there is none."""
    values = [float(r[column]) for r in rows if r["spectrum"] == spectrum
              and str(r["family"]).startswith(tuple(families)) and np.isfinite(r[column])]
    return min(values) if values else float("nan")


# --- trained networks and their spectra at checkpoints ---------------------------------------------------------


@dataclass
class NetworkSpectra:
    """A trained network and its curvature spectra: ``spectra[(epoch, kind)]``; ``history`` as in lib.train."""

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
    preprocessed as in training. They are always samples the run was trained on: :func:`lib.data.load` picks
    ``n`` of them as a prefix of the same seeded class-interleaved order it drew the run's ``dataset_kwargs["n"]``
    training samples from."""
    kw = dict(config.dataset_kwargs)
    n_train = kw.pop("n", None)
    kw.pop("n_test", None)
    if n is not None and n_train is not None and n > n_train:
        raise ValueError(f"{n} samples for the curvature but only {n_train} training samples")
    n = n_train if n is None else n
    return datasets.load(config.dataset, "train", root, n=n, **kw)


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
    (file-based sets such as CIFAR-10 are read from the user's disk, see :func:`lib.data.available`)."""
    if name in datasets.available(root):
        return name, ""
    return fallback, (f"data set {name!r} is not on this machine (see the appendix on data: set RMT_DATA); "
                      f"using {fallback!r} instead")


# --- the atom at zero of the GGN of small networks: exact ranks --------------------------------------------------


def ggn_factor(model: nn.Module, x: Tensor, y: Tensor, loss_fn: LossFn = F.cross_entropy,
               dtype: torch.dtype = torch.float64) -> Tensor:
    """A matrix ``A`` of shape ``(N C) x P`` with ``G = A^T A`` the GGN of the mean loss over ``(x, y)``.

    ``G = (1/N) sum_n J_n^T H_n J_n`` with ``J_n`` the C x P Jacobian of the outputs of sample n and ``H_n`` the
    Hessian of its loss in the outputs. For softmax cross-entropy ``H_n = diag p - p p^T = B^T B`` with
    ``B = (I - u u^T) diag(u)``, ``u = sqrt(p)`` (rank C - 1, ``B 1 = 0``), and the rows of sample n are
    ``B J_n / sqrt(N)``; for another loss, ``H_n = V diag(l) V^T`` gives rows ``sqrt(l / N) V^T J_n``
    (eigenvalues below ``1e-12`` of the largest set to zero: round-off of exact null directions). So
    ``rank G = rank A`` and the eigenvalues of G are the squared singular values of A. Model in eval mode;
    every parameter, in ``model.parameters()`` order.
    """
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().to(dtype) for p in model.parameters()]
    buffers = {n: b.to(dtype) if b.is_floating_point() else b for n, b in model.named_buffers()}
    shapes, sizes = [p.shape for p in params], [p.numel() for p in params]
    theta = torch.cat([p.reshape(-1) for p in params])
    x = x.to(theta.device, dtype)

    def outputs(flat: Tensor, xi: Tensor) -> Tensor:
        chunks = {n: c.view(s) for n, c, s in zip(names, flat.split(sizes), shapes, strict=True)}
        return functional_call(model, {**buffers, **chunks}, (xi[None],))[0]

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = vmap(outputs, in_dims=(None, 0))(theta, x)
        jac = vmap(jacrev(outputs), in_dims=(None, 0))(theta, x)  # N x C x P
        if loss_fn is F.cross_entropy or isinstance(loss_fn, nn.CrossEntropyLoss):
            # diag p - p p^T = B^T B with B = (I - u u^T) diag(u), u = sqrt(p): B 1 = 0 to round-off, whereas an
            # eigendecomposition leaks the null vector 1 into the other rows by eps / (eigenvalue gap)
            u = torch.softmax(out, dim=1).sqrt()
            eye = torch.eye(u.shape[1], dtype=dtype, device=u.device)
            factor = (eye - u[:, :, None] * u[:, None, :]) * u[:, None, :]
        else:
            h_out = vmap(hessian(lambda o, t: loss_fn(o[None], t[None])))(out, y)  # N x C x C
            lam, vec = torch.linalg.eigh(h_out)
            # round-off of exact null directions: as in GGNOperator.ggn_rank_bound, below 1e-12 of the largest
            lam = torch.where(lam > 1e-12 * lam.abs().max(), lam, torch.zeros_like(lam))
            factor = lam.sqrt()[:, :, None] * vec.transpose(1, 2)
    finally:
        model.train(was_training)
    return (factor @ jac).reshape(-1, theta.numel()) / np.sqrt(x.shape[0])


def ggn_eigenvalues(model: nn.Module, x: Tensor, y: Tensor, loss_fn: LossFn = F.cross_entropy) -> np.ndarray:
    """All P eigenvalues (ascending, float64) of the GGN: the squared singular values of :func:`ggn_factor`,
    padded with zeros to P (exact zeros where A has fewer rows than columns)."""
    a = ggn_factor(model, x, y, loss_fn)
    sv = torch.linalg.svdvals(a).cpu().numpy()
    return np.sort(np.concatenate([np.zeros(a.shape[1] - len(sv)), sv**2]))


def ggn_rank(model: nn.Module, x: Tensor, y: Tensor, loss_fn: LossFn = F.cross_entropy) -> int:
    """The rank of the GGN, as the numerical rank of :func:`ggn_factor` (singular values above
    ``max(N C, P) eps sigma_max``, float64; ``torch.linalg.matrix_rank``). Working with A rather than
    ``G = A^T A`` keeps small but genuine eigenvalues of G (down to ``1e-26`` of the largest) apart from the
    round-off of exact zeros, which eigenvalues of G itself cannot below about ``1e-16``."""
    return int(torch.linalg.matrix_rank(ggn_factor(model, x, y, loss_fn)))


def zero_fraction(eigs: np.ndarray, rel: float = ZERO_REL) -> float:
    """Fraction of eigenvalues with ``|lambda| <= rel * max |lambda|``: the weight near zero."""
    eigs = np.asarray(eigs, dtype=float)
    if eigs.size == 0:
        raise ValueError("no eigenvalues")
    return float(np.mean(np.abs(eigs) <= rel * np.max(np.abs(eigs))))


def _relu_mlp_layers(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers of a ``lib.models.mlp`` ReLU network (Flatten, Linear, ReLU, ..., Linear), checked."""
    mods = [m for m in model.children() if not isinstance(m, nn.Flatten)]
    linears = [m for m in mods if isinstance(m, nn.Linear)]
    pattern = [type(m) for m in mods]
    expected = [nn.Linear, nn.ReLU] * (len(linears) - 1) + [nn.Linear]
    if pattern != expected or any(m.bias is None for m in linears):
        raise ValueError("the counting bounds are for ReLU MLPs with biases built by lib.models.mlp")
    return linears


def data_rank(x: Tensor) -> int:
    """``rank [X, 1]``: the rank of the flattened inputs with a column of ones (the first layer's bias)."""
    flat = x.reshape(len(x), -1).double()
    ones = torch.ones(len(x), 1, dtype=flat.dtype, device=flat.device)
    return int(torch.linalg.matrix_rank(torch.cat([flat, ones], 1)))


def symmetry_nullity(widths: Sequence[int], x: Tensor) -> int:
    """Exact null directions of the GGN of a ReLU MLP with widths ``N_0, ..., N_L`` (biases, softmax output) at
    any parameters, on the inputs ``x``:

    * first-layer weights that only see the null space of ``[X, 1]``: ``N_1 (N_0 + 1 - rank [X, 1])``;
    * the positive rescaling of each hidden unit (incoming weights times a, outgoing over a): ``sum N_l``;
    * the softmax's invariance to a common shift of all logits (the same row added to every row of the last
      layer and the same number to every bias): ``N_{L-1} + 1``.

    They are linearly independent for generic parameters, so ``rank G <= P - symmetry_nullity``.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 3:
        raise ValueError(f"need input, at least one hidden and output width, got {widths}")
    return widths[1] * (widths[0] + 1 - data_rank(x)) + sum(widths[1:-1]) + widths[-2] + 1


def _rank(m: Tensor) -> int:
    return int(torch.linalg.matrix_rank(m)) if m.numel() else 0


def pattern_nullity(model: nn.Module, x: Tensor) -> dict[str, int]:
    """Null directions of the GGN of a ReLU MLP (biases, softmax output) counted from its activation pattern on
    ``x``; with :func:`symmetry_nullity` this refines the data-independent count.

    Let ``A_l`` be the activations of layer l on the N samples (``A_0 = X``) and ``S_j`` the samples on which
    hidden unit j is active. Then:

    * incoming weights: the Jacobian columns of unit j's incoming weights and bias are a fixed linear map of the
      columns of ``[A_{l-1}, 1]`` restricted to the rows ``S_j``, so at least ``fan_in + 1 - rank [A_{l-1}, 1]_{S_j}``
      of these directions are null (all of them for a dead unit; for the first layer this contains the data-null
      directions). The output layer likewise has ``C (N_{L} + 1 - rank [A_L, 1])``;
    * the softmax shift (the same ``(u, s)`` added to every row of the last layer and its bias) adds
      ``rank [A_L, 1]`` directions beyond those;
    * the positive rescaling of each live hidden unit: one each;
    * a unit active on every sample passes a shift of its bias on linearly, which the next layer's biases take
      back (``b_j -> b_j + e``, ``b' -> b' - W'[:, j] e``): one each.

    These directions are linearly independent when the biases are non-zero (each rescaling has a component
    outside the null sets, its own incoming weights ``w_j`` with ``[A, 1] w_j = z_j != 0`` on ``S_j``), so
    ``rank G <= P - pattern_nullity``. For one hidden layer the bound is met in our tests; deeper nets have
    more null directions (units with the same activation set act as one linear map on the data, and a narrow
    layer caps the rank of the Jacobian of everything before it). Returns the total and the numbers of dead
    and always-active units.
    """
    linears = _relu_mlp_layers(model)
    # in float64 and on the model's device, as ggn_factor evaluates the activation pattern
    h = x.reshape(len(x), -1).to(linears[0].weight.device, torch.float64)
    incoming = rescalings = dead = always = 0
    with torch.no_grad():
        for layer in linears[:-1]:
            a = torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype, device=h.device)], 1)
            z = F.linear(h, layer.weight.double(), layer.bias.double())
            active = z > 0
            for j in range(layer.out_features):
                incoming += layer.in_features + 1 - _rank(a[active[:, j]])
            live = active.any(dim=0)
            n_live = int(live.sum())
            dead += layer.out_features - n_live
            always += int(active.all(dim=0).sum())
            rescalings += n_live
            h = torch.relu(z)
        a = torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype, device=h.device)], 1)
        rank_last = _rank(a)
        out = linears[-1].out_features
        output_layer = out * (a.shape[1] - rank_last)
    total = incoming + output_layer + rank_last + rescalings + always
    return {"null directions": total, "dead units": dead, "always-active units": always}


def active_units(model: nn.Module, x: Tensor) -> list[np.ndarray]:
    """For each hidden layer of a ReLU MLP, the number of units active (pre-activation > 0) on each sample."""
    linears = _relu_mlp_layers(model)
    h = x.reshape(len(x), -1).to(linears[0].weight.device, torch.float64)
    out = []
    with torch.no_grad():
        for layer in linears[:-1]:
            z = F.linear(h, layer.weight.double(), layer.bias.double())
            out.append((z > 0).sum(dim=1).cpu().numpy())
            h = torch.relu(z)
    return out


def bottleneck_rank_bound(widths: Sequence[int], n_samples: int,
                          active: Sequence[np.ndarray] | None = None) -> int:
    """``min_l [sum_n min(C - 1, a_l(n)) + P_{>l}]`` over the hidden layers l: a bound on the rank of the GGN.

    The Jacobian of the outputs in the parameters up to layer l factors through that layer's activations,
    ``J_n = (df/da_l) (da_l/dtheta_{<=l})``, and only the ``a_l(n)`` units active on sample n pass anything on; after
    the output Hessian's ``C - 1`` directions each sample adds at most ``min(C - 1, a_l(n))`` to the rank of that
    block, and the ``P_{>l}`` later parameters add at most their number. ``active`` holds ``a_l(n)`` per hidden
    layer (:func:`active_units`); without it ``a_l(n) = N_l``, the width, which gives
    ``N min(C - 1, N_l) + P_{>l}``: this is where a narrow layer (the chain formula's ``min N_i``) caps the rank.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 3:
        raise ValueError(f"need input, at least one hidden and output width, got {widths}")
    if active is not None and len(active) != len(widths) - 2:
        raise ValueError(f"active needs one array per hidden layer ({len(widths) - 2}), got {len(active)}")
    c = widths[-1]
    bounds = []
    for layer in range(1, len(widths) - 1):
        later = sum((widths[i] + 1) * widths[i + 1] for i in range(layer, len(widths) - 1))
        counts = np.full(n_samples, widths[layer]) if active is None else np.asarray(active[layer - 1])
        bounds.append(int(np.minimum(c - 1, counts).sum()) + later)
    return min(bounds)


def width_sweep(hidden: Sequence[Sequence[int]], dataset: str = "digits", *, n_samples: int = 100,
                n_train: int | None = None, epochs: int = 10, optimizer: str = "adam", lr: float = 1e-2,
                seed: int = 1, root: str | None = None) -> list[dict[str, Any]]:
    """Train a ReLU MLP ``D-h_1-...-h_L-C`` for each entry of ``hidden`` and measure the atom at zero of its GGN.

    Each net is trained by ``lib.train`` (``optimizer`` with ``lr``, no weight decay, ``epochs`` epochs on
    ``n_train`` samples, all when ``None``; cached). The GGN is that of the mean cross-entropy over ``n_samples``
    training samples; its atom at zero is measured exactly as ``1 - rank G / P`` (:func:`ggn_rank`) and set
    against

    * the chain formula ``1 - min_i N_i / N_0`` of the Wishart product with the layer widths (paper2.md 3.3);
    * the Gauss-Newton bound ``1 - min(P, N (C - 1)) / P`` (``rank G <= sum_n rank H_out,n``);
    * ``1 - min(N (C - 1), P - symmetry_nullity) / P`` (with the exact symmetries), the same with the count of
      :func:`pattern_nullity` from the activation pattern on the samples, the same with
      :func:`bottleneck_rank_bound` (with the active units of each sample), and the best (largest) of these
      lower bounds on the atom.
    """
    rows = []
    for widths_hidden in hidden:
        config = TrainConfig(model="mlp_widths", dataset=dataset, model_kwargs={"widths": list(widths_hidden)},
                             dataset_kwargs={} if n_train is None else {"n": int(n_train)}, epochs=epochs,
                             optimizer=optimizer, lr=lr, weight_decay=0.0, batch_size=64, seed=seed)
        run = train(config, root=root, progress=False)
        model = run.model.cpu().eval()
        x, y = hessian_samples(config, n_samples, root)
        linears = _relu_mlp_layers(model)
        widths = [linears[0].in_features] + [m.out_features for m in linears]
        p, c = sum(m.weight.numel() + m.bias.numel() for m in linears), widths[-1]
        rank = ggn_rank(model, x, y)
        gn = min(p, len(y) * (c - 1))
        sym = symmetry_nullity(widths, x)
        pattern = pattern_nullity(model, x)
        bottleneck = bottleneck_rank_bound(widths, len(y), active_units(model, x))
        best = min(gn, p - sym, p - pattern["null directions"], bottleneck)
        rows.append({"widths": "-".join(map(str, widths)), "hidden": tuple(widths[1:-1]), "P": p,
                     "train acc": float(run.history["train_acc"][-1]), "zero measured": 1 - rank / p,
                     "chain 1-min(N_i)/N_0": freeprob.chain_product_atom(widths), "GN bound": 1 - gn / p,
                     "symmetry bound": 1 - min(gn, p - sym) / p,
                     "pattern bound": 1 - min(gn, p - pattern["null directions"]) / p,
                     "bottleneck bound": 1 - min(gn, bottleneck) / p,
                     "best bound": 1 - best / p, "dead units": pattern["dead units"],
                     "always-active units": pattern["always-active units"]})
    return rows
