"""Calibrated Kolmogorov-Smirnov checks of sampled spectra against a limiting law.

The KS distance between ``n`` i.i.d. points and their law has the 5 % critical value ``1.36 / sqrt(n)``; eigenvalues
are rigid (their empirical distribution converges like ``log n / n``, not ``1 / sqrt n``), so that bound is far too
loose to tell a right law from a wrong one. The rule used instead: the KS distance of a sample to the law is judged
against the KS distance between **two independent samples of the same ensemble at the same size** (same matrix
size, same number of pooled matrices, same treatment of the zeros). That null needs no knowledge of the law, and
its 95 % point, set by :func:`lib.book.verdict_rules.calibrate` on half of the simulated pairs, is the threshold;
the false-rejection rate is measured on the other half, and the power is the share of samples whose KS distance to
a *wrong* law (e.g. the moment-matched semicircle or Marchenko-Pastur law) exceeds the threshold. For independent
points the two-sample distance is ``sqrt 2`` times wider than the one-sample distance, so the rule errs towards
accepting; the power column says whether it can still see a wrong law at that size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from lib.book.verdict_rules import Calibration, calibrate
from lib.rmt import laws
from lib.rmt import measures as ms
from lib.rmt.freeprob import law_moments

#: eigenvalues with ``|lambda| <= ZERO_RTOL max |lambda|`` are exact zeros (as in
#: :func:`lib.rmt.measures.ks_to_density`), so that two samples' atoms sit at the same point
ZERO_RTOL = 1e-9


def two_sample_ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample KS distance ``sup_x |F_a(x) - F_b(x)|`` between two spectra, numerical zeros (``|lambda| <=``
    :data:`ZERO_RTOL` ``max |lambda|``) set to exactly 0 in both."""
    snapped = []
    for eigs in (a, b):
        arr = np.asarray(eigs, dtype=float).ravel()
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError("spectra must be non-empty arrays of finite values")
        snapped.append(np.where(np.abs(arr) <= ZERO_RTOL * np.max(np.abs(arr)), 0.0, arr))
    return float(ks_2samp(snapped[0], snapped[1], method="asymp").statistic)


@dataclass(frozen=True)
class LawCheck:
    """A sampled spectrum's KS distance ``ks`` to ``law`` and the rule it is judged by (``calibration``)."""

    ensemble: str
    law: str
    wrong_law: str
    size: int
    ks: float
    ks_wrong: float
    calibration: Calibration

    @property
    def consistent(self) -> bool:
        """Whether the KS distance is within the 95 % point of the sample-vs-sample null."""
        return self.calibration.accepts(self.ks)

    @property
    def wrong_rejected(self) -> bool:
        """Whether the same rule rejects the wrong law for the measured spectrum."""
        return not self.calibration.accepts(self.ks_wrong)

    def row(self) -> dict[str, Any]:
        """One line of a calibration table."""
        c = self.calibration
        return {"ensemble": self.ensemble, "law": self.law, "eigenvalues per sample": self.size,
                "KS to the law": self.ks, "threshold (95% of sample vs sample)": c.threshold,
                "false rejection": c.false_rejection, "consistent": self.consistent, "wrong law": self.wrong_law,
                "KS to the wrong law": self.ks_wrong, "wrong law rejected": self.wrong_rejected,
                "power against the wrong law": c.power}


def calibrated_ks_check(ensemble: str, sample: Callable[[np.random.Generator], np.ndarray],
                        ks_to_law: Callable[[np.ndarray], float], ks_to_wrong: Callable[[np.ndarray], float], *,
                        law: str, wrong_law: str, pairs: int, rng: np.random.Generator | int,
                        measured: np.ndarray | None = None, level: float = 0.05) -> LawCheck:
    """KS distance of a sampled spectrum to its law, with a threshold calibrated on sample-vs-sample distances.

    ``sample(gen)`` draws one spectrum exactly as measured (same size, pooling and cuts); ``ks_to_law`` and
    ``ks_to_wrong`` give a spectrum's KS distance to the law and to a wrong law. The measured spectrum is
    ``measured`` or a fresh draw. ``pairs`` independent pairs ``(a, b)`` give the null values
    :func:`two_sample_ks` ``(a, b)``; the ``a`` of the pairs not used to set the threshold (the second half) give the
    alternative values ``ks_to_wrong(a)``; :func:`lib.book.verdict_rules.calibrate` sets the ``1 - level`` point
    (``method="higher"``: the two-sample distance is a multiple of ``1 / size``, and the threshold is one it attains).
    """
    gen = np.random.default_rng(rng)
    eigs = sample(gen) if measured is None else np.asarray(measured, dtype=float).ravel()
    null, alternative = [], []
    for i in range(pairs):
        a, b = sample(gen), sample(gen)
        null.append(two_sample_ks(a, b))
        if i >= pairs // 2:
            alternative.append(ks_to_wrong(a))
    size = int(eigs.size)
    calibration = calibrate(np.array(null), np.array(alternative), statistic=f"KS(sample, {law})",
                            null=f"the KS distance between two independent samples of {ensemble} ({size:,} "
                            "eigenvalues each)", alternative=f"{ensemble} tested against {wrong_law}", level=level,
                            method="higher")
    return LawCheck(ensemble, law, wrong_law, size, float(ks_to_law(eigs)), float(ks_to_wrong(eigs)), calibration)


@dataclass(frozen=True)
class SampledLaw:
    """An ensemble and its limiting law ``atom delta_0 + density`` on ``support``: ``sample(gen)`` draws one
    spectrum at the size the law is checked at; ``positive`` says whether the ensemble is positive semi-definite
    (its moment-matched classical law is then Marchenko-Pastur, else the semicircle); ``wrong`` replaces that
    classical law by ``(name, density, atom)``."""

    name: str
    law: str
    sample: Callable[[np.random.Generator], np.ndarray]
    density: Callable[[np.ndarray], np.ndarray]
    support: tuple[float, float]
    atom: float = 0.0
    positive: bool = False
    wrong: tuple[str, Callable[[np.ndarray], np.ndarray], float] | None = None


def moment_matched_classical(spec: SampledLaw) -> tuple[str, Callable[[np.ndarray], float]]:
    """The classical law with the first two moments of ``spec``'s law (:func:`lib.rmt.freeprob.law_moments`), and
    a spectrum's KS distance to it: for a positive ensemble Marchenko-Pastur with ``sigma^2 = m_1`` and
    ``q = m_2 / m_1^2 - 1`` (its mean and second moment are ``sigma^2`` and ``sigma^4 (1 + q)``), else the
    semicircle of the same mean and variance."""
    m = law_moments(spec.density, spec.support, spec.atom)
    if spec.positive:
        s2, q = m["mean"], m["m2"] / m["mean"] ** 2 - 1.0
        sigma = float(np.sqrt(s2))
        return (f"moment-matched MP (q = {q:.3g}, sigma^2 = {s2:.3g})",
                lambda e: ms.ks_to_cdf(e, lambda x: laws.marchenko_pastur_cdf(x, q, sigma)))
    sd = float(np.sqrt(m["m2"] - m["mean"] ** 2))
    return (f"moment-matched semicircle (mean {round(m['mean'], 2) + 0.0:.2f}, sd {sd:.3g})",
            lambda e: ms.ks_to_cdf(e, lambda x: laws.semicircle_cdf(x, sd, m["mean"])))


def _remember_last(density: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``density`` that returns its last values again when called on the same grid (the KS distance evaluates a law
    on one fixed grid, once per simulated spectrum)."""
    last: dict[str, Any] = {}

    def evaluate(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if "x" not in last or last["x"].shape != x.shape or not np.array_equal(last["x"], x):
            last["x"], last["rho"] = x.copy(), np.asarray(density(x), dtype=float)
        return last["rho"]

    return evaluate


def check_law(spec: SampledLaw, *, pairs: int, rng: np.random.Generator | int) -> LawCheck:
    """:func:`calibrated_ks_check` of ``spec`` against its law (:func:`lib.rmt.measures.ks_to_density`), with power
    against ``spec.wrong`` or else the moment-matched classical law (:func:`moment_matched_classical`)."""
    if spec.wrong is None:
        wrong_name, ks_to_wrong = moment_matched_classical(spec)
    else:
        wrong_name, wrong_density, wrong_atom = spec.wrong
        tabulated = _remember_last(wrong_density)
        ks_to_wrong = lambda e: ms.ks_to_density(e, tabulated, spec.support, wrong_atom)  # noqa: E731
    return calibrated_ks_check(spec.name, spec.sample, lambda e: ms.ks_to_density(e, spec.density, spec.support,
                                                                                  spec.atom),
                               ks_to_wrong, law=spec.law, wrong_law=wrong_name, pairs=pairs, rng=rng)


def check_table(checks: Sequence[LawCheck]) -> pd.DataFrame:
    """The checks as a table (one row each, indexed by ensemble): KS, threshold, false rejection, power."""
    return pd.DataFrame([c.row() for c in checks]).set_index("ensemble")


def _range(values: Sequence[float], fmt: str) -> str:
    """``"lo-hi"`` of the values, or the single value when they are all equal (as formatted)."""
    lo, hi = f"{min(values):{fmt}}", f"{max(values):{fmt}}"
    return lo if lo == hi else f"{lo}-{hi}"


def checks_rule(checks: Sequence[LawCheck]) -> str:
    """One sentence for a verdict's rule summarising the calibrated checks it rests on."""
    cal = [c.calibration for c in checks]
    return (f"KS(sample, law) <= the 95% point of the KS distance between two independent samples of the same "
            f"ensemble at the same size ({_range([c.replicas for c in cal], 'd')} simulated pairs each; thresholds "
            f"{_range([c.threshold for c in cal], '.4f')}); false rejection "
            f"{_range([c.false_rejection for c in cal], '.0%')} on fresh null pairs, power "
            f"{_range([c.power for c in cal], '.0%')} against the wrong laws of the table")
