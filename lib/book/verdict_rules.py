"""Decision rules that turn a chapter's measurements into a verdict status, with their thresholds explicit.

Each rule is a plain function of numbers; a chapter (through the claim modules ``lib.book.*_claims``) calls them
and never writes a status itself, so every threshold is visible here and covered by ``tests/test_verdict_rules.py``.

A *calibrated* rule (:class:`Calibration`, made by :func:`calibrate`) takes its threshold from simulations of a null
model of the same size and the same selection as the measurement (e.g. GOE matrices of the batch size, cut and
bootstrapped as the Hessians are), and carries the rule's false-rejection rate under that null and its power against
the natural alternative, so a verdict can state both. The plain thresholds below (shares of cases, exact checks)
are conventions and say so in the verdict's rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lib.book.verdicts import STATUSES

#: share of the cases that must pass for "confirmed" (all of them) and for "qualified" (at least half)
CONFIRM_SHARE = 1.0
QUALIFY_SHARE = 0.5


def status_from_share(share: float, confirm: float = CONFIRM_SHARE, qualify: float = QUALIFY_SHARE) -> str:
    """"confirmed" when at least ``confirm`` of the cases pass, "qualified" from ``qualify`` on, else
    "contradicted"; "open" when there was no case to test (``share`` NaN)."""
    if not 0.0 <= qualify <= confirm <= 1.0:
        raise ValueError(f"need 0 <= qualify <= confirm <= 1, got {qualify}, {confirm}")
    if share is None or np.isnan(share):
        return "open"
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must lie in [0, 1], got {share}")
    return "confirmed" if share >= confirm else ("qualified" if share >= qualify else "contradicted")


def share_passing(passed: Iterable[bool]) -> float:
    """Fraction of ``True`` among the cases (NaN when there is none)."""
    values = [bool(p) for p in passed]
    return float(np.mean(values)) if values else float("nan")


def status_from_checks(ok: bool, qualified: bool = False) -> str:
    """"confirmed" when the check passes, "qualified" when only its weaker form does, else "contradicted"."""
    return "confirmed" if ok else ("qualified" if qualified else "contradicted")


def status_when(ok: bool, passed: str, failed: str) -> str:
    """``passed`` when the check holds, else ``failed`` (both from ``STATUSES``): for a claim whose two outcomes are
    not "confirmed" / "contradicted", e.g. "reproduced" / "contradicted" for a published number, or "qualified" /
    "open" where the measurement can support a claim but not decide it."""
    for status in (passed, failed):
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    return passed if ok else failed


def status_below(
    value: float,
    threshold: float,
    *,
    inclusive: bool = False,
    passed: str = "confirmed",
    failed: str = "qualified",
) -> str:
    """``passed`` when ``value < threshold`` (``value <= threshold`` with ``inclusive``), else ``failed``; "open"
    when there was nothing to measure (``value`` NaN)."""
    for status in (passed, failed):
        if status not in STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if np.isnan(threshold):
        raise ValueError("threshold must be a number, got NaN")
    if value is None or np.isnan(value):
        return "open"
    return passed if (value <= threshold if inclusive else value < threshold) else failed


def within(value: float, lo: float, hi: float, margin: float = 0.0) -> bool:
    """``lo - margin <= value <= hi + margin`` (an interval, widened by ``margin`` on both sides)."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    return bool(lo - margin <= value <= hi + margin)


def span(values: Iterable[float], fmt: str = ".3f") -> str:
    """"min-max" of the values for a verdict's evidence ("n/a" when there are none)."""
    arr = np.asarray(list(values), dtype=float)
    return f"{np.min(arr):{fmt}}-{np.max(arr):{fmt}}" if arr.size else "n/a"


@dataclass(frozen=True)
class Calibration:
    """A rule "the measurement is consistent with the null when ``statistic`` <= ``threshold``" (``>=`` when
    ``accept_below`` is False), with its threshold set on the first half of ``replicas`` simulated draws of the
    ``null`` model and its error rates measured on the other half, not used to set it: ``false_rejection`` (the
    share of fresh null draws the rule rejects; about the nominal ``level``) and ``power`` (the share of draws of
    the ``alternative`` it rejects)."""

    statistic: str
    threshold: float
    null: str
    alternative: str
    false_rejection: float
    power: float
    replicas: int
    level: float
    accept_below: bool = True

    def __post_init__(self) -> None:
        if not np.isfinite(self.threshold):
            raise ValueError(f"a calibrated threshold must be finite, got {self.threshold}")
        for name in ("false_rejection", "power", "level"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")

    def accepts(self, value: float) -> bool:
        """Whether ``value`` of the statistic is consistent with the null (NaN is not)."""
        if value is None or np.isnan(value):
            return False
        return bool(value <= self.threshold if self.accept_below else value >= self.threshold)

    def describe(self) -> str:
        """One sentence for a verdict's rule: statistic, threshold, null, false-rejection rate and power."""
        op = "<=" if self.accept_below else ">="
        point = 1 - self.level if self.accept_below else self.level
        fit = self.replicas // 2  # calibrate() sets the threshold on the first half and checks it on the rest
        return (f"{self.statistic} {op} {self.threshold:.4g}, the {point:.0%} point of {fit:,} draws of "
                f"{self.null}; false rejection {self.false_rejection:.1%} on {self.replicas - fit:,} other null "
                f"draws, power {self.power:.0%} against {self.alternative}")


def calibrate(
    null_values: np.ndarray,
    alternative_values: np.ndarray,
    *,
    statistic: str,
    null: str,
    alternative: str,
    level: float = 0.05,
    accept_below: bool = True,
    method: str = "linear",
) -> Calibration:
    """Calibrate a one-sided rule on simulated values of its statistic.

    The threshold is the ``1 - level`` quantile (``level`` quantile when not ``accept_below``) of the first half of
    ``null_values``; the false-rejection rate is the share of the second half beyond it (an out-of-sample check of
    the nominal ``level``) and the power the share of ``alternative_values`` beyond it. Both arrays are values of
    the statistic computed exactly as for the measurement (same size, selection and bootstrap). ``method`` is
    :func:`numpy.quantile`'s; a statistic on a lattice (e.g. a two-sample KS distance, a multiple of 1/N) takes
    ``"higher"`` (``"lower"`` when not ``accept_below``), so that the threshold is a value the null attains and
    its false-rejection rate stays near ``level`` instead of jumping to the share of the lattice point cut.
    """
    null_arr = np.asarray(null_values, dtype=float)
    alt_arr = np.asarray(alternative_values, dtype=float)
    if not 0.0 < level < 0.5:
        raise ValueError(f"level must lie in (0, 0.5), got {level}")
    if null_arr.ndim != 1 or null_arr.size < 40 or alt_arr.ndim != 1 or alt_arr.size < 1:
        raise ValueError(f"need >= 40 null values and >= 1 alternative value, got {null_arr.size}, {alt_arr.size}")
    if not (np.isfinite(null_arr).all() and np.isfinite(alt_arr).all()):
        raise ValueError("simulated statistics must be finite")
    half = null_arr.size // 2
    fit, check = null_arr[:half], null_arr[half:]
    if accept_below:
        threshold = float(np.quantile(fit, 1.0 - level, method=method))
        false_rejection, power = float(np.mean(check > threshold)), float(np.mean(alt_arr > threshold))
    else:
        threshold = float(np.quantile(fit, level, method=method))
        false_rejection, power = float(np.mean(check < threshold)), float(np.mean(alt_arr < threshold))
    return Calibration(statistic, threshold, null, alternative, false_rejection, power, int(null_arr.size), level,
                       accept_below)
