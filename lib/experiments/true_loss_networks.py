"""The true-loss model confronted with trained networks: their exact Hessians, the fitted model, the shift variance.

Paper 1 (Baskerville, Granziol & Keating, arXiv:2102.06740) proposes the Hessian of a Gaussian-process loss,
H = sqrt(k''(0)) G + sqrt(v) xi I plus a zero block and outliers (``lib.rmt.true_loss``), as a model of network
Hessians. Here several small networks are trained independently, the exact full-training-set Hessian of each is
diagonalised (``network_spectra``, cached), the model is fitted to them (``lib.rmt.true_loss.fit_model``) and
sampled back (``sample_fitted_model``), and the two are compared by their local statistics, zero blocks, outliers
and the shape of the bulk (``model_comparison``, with ``bulk_semicircle_ks`` and its null ``semicircle_ks_null``).
The shift variance the networks show, at their random initial points (where the model describes the surface) and
at their trained minima, is set against the model's predictions in the same units (``shift_comparison``): the
derivation's v = k''(0), conditionally on the loss value k''(0) - k'(0)^2 / k(0), and the published notebook's
k'(0)^2, which presumes k(0) = 1 and reads k'(0)^2 / k(0) in the loss's own units; k'(0) = E (d_i L)^2 and
k(0) = Var L are estimated at the random points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from scipy import stats

from lib.curvature.dense import exact_hessian
from lib.curvature.parameter_space import flat_parameters
from lib.experiments.gradient_decorrelation import network_gradient
from lib.experiments.true_loss_model import ratio_row
from lib.nets.cache import load_or_compute
from lib.nets.data import load
from lib.nets.train import TrainConfig, loss_function, train
from lib.rmt import true_loss as tl
from lib.rmt.ensembles import beta_hermite
from lib.rmt.laws import semicircle_cdf
from lib.rmt.measures import ks_to_cdf

__all__ = ["bulk_semicircle_ks", "model_comparison", "network_spectra", "nonzero_levels", "sample_fitted_model",
           "semicircle_ks_null", "shift_comparison"]


def network_spectra(
    dataset: str, model: str, width: float, epochs: int, lr: float, seeds: Sequence[int]
) -> dict[str, np.ndarray]:
    """Exact full-training-set Hessian spectra of independently trained networks, and their gradient variance.

    For each seed, ``model`` (hidden-width multiplier ``width``) is trained on ``dataset`` for ``epochs`` with SGD
    at ``lr`` (``lib.nets.train``); the Hessian of the mean cross-entropy over the whole training split at the
    trained weights is assembled in float64 (``lib.curvature.dense.exact_hessian``) and diagonalised, and so is
    the one at the initial weights w0 (a random point of the loss surface, where the model describes it). At w0
    the mean squared component of the full-data gradient, an estimate of k'(0) = E (d_i L)^2, and the loss value
    (whose variance over the points estimates k(0)) are recorded. Returns ``spectra`` and ``spectra_init`` (seeds x
    P, ascending), ``grad_sq`` and ``loss_init`` (seeds,), cached under the namespace "true_loss_networks".
    """

    def compute() -> dict[str, np.ndarray]:
        x_train, y_train = load(dataset, "train")
        ce = loss_function("cross_entropy")
        spectra, spectra_init, grad_sq, loss_init = [], [], [], []
        for s in seeds:
            config = TrainConfig(model=model, dataset=dataset, model_kwargs={"width": width},
                                 epochs=epochs, lr=lr, seed=s)
            result = train(config, progress=False)
            spectra.append(torch.linalg.eigvalsh(exact_hessian(result.model, ce, x_train, y_train)).cpu().numpy())
            init = result.checkpoint(0)  # a "random point" of the loss surface: the gradient variance k'(0) there
            w0 = flat_parameters(init)
            grad_sq.append(float((network_gradient(init, ce, x_train, y_train)(w0) ** 2).mean()))
            spectra_init.append(torch.linalg.eigvalsh(exact_hessian(init, ce, x_train, y_train)).cpu().numpy())
            with torch.no_grad():
                loss_init.append(float(ce(init.eval()(x_train), y_train)))
        return {"spectra": np.array(spectra), "spectra_init": np.array(spectra_init), "grad_sq": np.array(grad_sq),
                "loss_init": np.array(loss_init)}

    return load_or_compute("true_loss_networks", dict(dataset=dataset, model=model, width=width, epochs=epochs,
                                                      lr=lr, seeds=seeds), compute)


def nonzero_levels(spectra: ArrayLike, zero_tol: float) -> list[np.ndarray]:
    """Each spectrum (row) without its zero block, the levels with |lambda| <= zero_tol max|lambda|."""
    return [e[np.abs(e) > zero_tol * np.abs(e).max()] for e in np.asarray(spectra)]


def sample_fitted_model(fit: tl.ModelFit, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``n_samples`` spectra (rows) of the fitted model, each with its share of the networks' outlier strengths.

    Sample i is ``lib.rmt.true_loss.sample_hessian`` with the fit's n, k''(0), shift variance (clipped at 0),
    rounded zero block and shift location, and the outliers ``fit.outliers[i::n_samples]``.
    """
    return np.stack([np.linalg.eigvalsh(tl.sample_hessian(fit.n, fit.kpp, max(fit.shift_var, 0.0), rng,
                     degeneracy=int(round(fit.degeneracy)), outliers=fit.outliers[i::n_samples],
                     shift_loc=fit.center))
                     for i in range(n_samples)])


def model_comparison(
    spectra: ArrayLike, model_eigs: ArrayLike, fit: tl.ModelFit, zero_tol: float, n_boot: int, seed: int
) -> pd.DataFrame:
    """The networks against the fitted model: ``ratio_row`` statistics without the zero block, the mean size of
    the zero block, the outlier count (the model's from refitting its samples), and, for the networks,
    :func:`bulk_semicircle_ks` with the fit ``fit``."""
    spectra, model_eigs = np.asarray(spectra), np.asarray(model_eigs)
    compare = pd.DataFrame([
        ratio_row("networks (zero block removed)", spectra, n_boot, seed, zero_tol=zero_tol),
        ratio_row("fitted model (zero block removed)", model_eigs, n_boot, seed, zero_tol=zero_tol),
    ]).set_index("case")
    compare["zero block"] = [np.mean([np.sum(np.abs(e) <= zero_tol * np.abs(e).max()) for e in s])
                             for s in (spectra, model_eigs)]
    compare["outliers"] = [fit.n_outliers, tl.fit_model(model_eigs, zero_tol=zero_tol).n_outliers]
    compare["KS bulk vs semicircle"] = [bulk_semicircle_ks(spectra, zero_tol, fit), np.nan]
    return compare


def bulk_semicircle_ks(spectra: ArrayLike, zero_tol: float, fit: tl.ModelFit | None = None) -> float:
    """KS distance between the pooled bulk levels of the spectra (rows) and the moment-matched semicircle.

    The model is fitted as in the chapter (``lib.rmt.true_loss.fit_model`` with ``zero_tol``, unless ``fit`` is
    that fit already); the bulk is every non-zero level within 1.05 x 2 sigma of its spectrum's centre, and the
    distance is sup |F_bulk - F_sc| to the semicircle of radius 2 sigma about the mean centre.
    """
    fit = tl.fit_model(spectra, zero_tol=zero_tol) if fit is None else fit
    nz = nonzero_levels(spectra, zero_tol)
    bulk = np.concatenate([e[np.abs(e - c) <= 2 * fit.sigma * 1.05] for e, c in zip(nz, fit.centers, strict=True)])
    return ks_to_cdf(np.sort(bulk), lambda x: semicircle_cdf(x, fit.sigma, fit.center))


def semicircle_ks_null(n: int, n_spectra: int, replicas: int, zero_tol: float, seed: int) -> dict[str, np.ndarray]:
    """Simulated :func:`bulk_semicircle_ks` of ``n_spectra`` spectra of n levels: under the null, GOE spectra
    (``lib.rmt.ensembles.beta_hermite``, beta = 1: a semicircle bulk at this finite n), and under the alternative
    their squares (the square of a Wigner matrix has the Marchenko-Pastur law of ratio 1: a bulk peaked at its
    lower edge, as a network's is peaked near zero). Each replica goes through the same fit, zero-block cut and
    bulk window as the networks; the KS distance does not depend on the bulk's scale or centre, so none is set.
    Returns ``null`` and ``alternative`` (``replicas`` values each), cached under "true_loss_semicircle_null".
    """

    def compute() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        null, alternative = [], []
        for _ in range(replicas):
            spectra = np.stack([beta_hermite(n, 1.0, rng) for _ in range(n_spectra)])
            null.append(bulk_semicircle_ks(spectra, zero_tol))
            alternative.append(bulk_semicircle_ks(np.sort(spectra**2, axis=1), zero_tol))
        return {"null": np.array(null), "alternative": np.array(alternative)}

    return load_or_compute("true_loss_semicircle_null", dict(n=n, n_spectra=n_spectra, replicas=replicas,
                                                             zero_tol=zero_tol, seed=seed), compute)


def shift_comparison(
    fits: dict[str, tl.ModelFit], grad_sq: ArrayLike, loss_init: ArrayLike, level: float = 0.95
) -> pd.DataFrame:
    """The measured shift variance against the model's predictions, in the same units (loss / weight^2)^2.

    ``fits``: the model fitted (``fit_model``) to the spectra at the random initial points ("random points") and at
    the trained minima ("trained minima"); ``grad_sq``: mean squared gradient component at each random point, whose
    mean estimates k'(0) = E (d_i L)^2; ``loss_init``: the loss at the random points, whose variance (ddof 1)
    estimates k(0) = Var L. Per row: the measured shift variance v = Var(bulk centres) - 2 k''(0) / n
    (``fit.shift_var``) with its ``level`` interval from the chi-square law of a normal sample variance with
    (points - 1) degrees of freedom, minus the same GOE part; k''(0) = sigma^2 / n from that row's bulk width; and the
    predictions: k''(0) (derivation, unconditional), k''(0) - k'(0)^2 / k(0) (derivation, given the loss value),
    k'(0)^2 / k(0) (the notebook's k'(0)^2 with the k(0) it sets to 1 restored) and k'(0)^2 as the notebook writes it.
    """
    kp, k0 = float(np.mean(grad_sq)), float(np.var(np.asarray(loss_init, dtype=float), ddof=1))
    rows = {}
    for name, fit in fits.items():
        m = fit.centers.size
        goe_part = 2 * fit.kpp / fit.n
        raw = fit.shift_var + goe_part
        lo = (m - 1) * raw / stats.chi2.ppf(0.5 + level / 2, m - 1) - goe_part
        hi = (m - 1) * raw / stats.chi2.ppf(0.5 - level / 2, m - 1) - goe_part
        rows[name] = {"points": m, "measured shift variance": fit.shift_var, f"{level:.0%} low": lo,
                      f"{level:.0%} high": hi, "kpp (bulk width)": fit.kpp, "kp (random points)": kp,
                      "k0 = Var L (random points)": k0, "derivation: kpp": fit.kpp,
                      "derivation given L: kpp - kp^2/k0": fit.kpp - kp**2 / k0,
                      "notebook in loss units: kp^2/k0": kp**2 / k0, "notebook as written: kp^2": kp**2}
    return pd.DataFrame(rows).T
