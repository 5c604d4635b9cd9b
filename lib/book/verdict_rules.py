"""Decision rules that turn a chapter's measurements into a verdict status, with their thresholds explicit.

Each rule is a plain function of numbers; a chapter (through the claim modules ``lib.book.*_claims``) calls them
and never writes a status itself, so every threshold is visible here and covered by ``tests/test_verdict_rules.py``.
The thresholds are the book's stated conventions, not calibrated on a null model; where a verdict needs a
calibrated rule its threshold says so in the claim module that uses it.
"""

from __future__ import annotations

from collections.abc import Iterable

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
