"""The generic decision rules of lib.book.verdict_rules: each threshold at and around its boundary, NaN as "open",
and arguments that make no sense."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lib.book.verdict_rules import (
    CONFIRM_SHARE,
    QUALIFY_SHARE,
    share_passing,
    span,
    status_below,
    status_from_checks,
    status_from_share,
    status_when,
    within,
)
from lib.book.verdicts import STATUSES


@pytest.mark.parametrize(
    ("share", "expected"),
    [(1.0, "confirmed"), (0.99, "qualified"), (0.5, "qualified"), (0.49, "contradicted"), (0.0, "contradicted")],
)
def test_status_from_share_at_the_default_thresholds(share: float, expected: str) -> None:
    assert (CONFIRM_SHARE, QUALIFY_SHARE) == (1.0, 0.5)
    assert status_from_share(share) == expected


def test_status_from_share_with_other_thresholds_and_without_cases() -> None:
    assert status_from_share(0.8, confirm=0.8, qualify=0.2) == "confirmed"
    assert status_from_share(0.2, confirm=0.8, qualify=0.2) == "qualified"
    assert status_from_share(0.19, confirm=0.8, qualify=0.2) == "contradicted"
    assert status_from_share(float("nan")) == "open"
    assert status_from_share(share_passing([])) == "open"


@pytest.mark.parametrize("share", [-0.1, 1.1])
def test_status_from_share_rejects_a_share_outside_the_unit_interval(share: float) -> None:
    with pytest.raises(ValueError, match="share"):
        status_from_share(share)


@pytest.mark.parametrize(("confirm", "qualify"), [(0.5, 0.6), (1.2, 0.5), (1.0, -0.1)])
def test_status_from_share_rejects_inconsistent_thresholds(confirm: float, qualify: float) -> None:
    with pytest.raises(ValueError, match="qualify"):
        status_from_share(0.5, confirm=confirm, qualify=qualify)


def test_share_passing_counts_true_cases() -> None:
    assert share_passing([True, False, True, True]) == 0.75
    assert share_passing(x > 0 for x in (1, -1)) == 0.5  # any iterable, once
    assert share_passing(np.array([True, True])) == 1.0
    assert math.isnan(share_passing([]))


def test_status_from_checks() -> None:
    assert status_from_checks(True) == "confirmed"
    assert status_from_checks(True, qualified=True) == "confirmed"  # the strong check decides first
    assert status_from_checks(False, qualified=True) == "qualified"
    assert status_from_checks(False) == "contradicted"


def test_status_when_names_both_outcomes() -> None:
    assert status_when(True, "reproduced", "contradicted") == "reproduced"
    assert status_when(False, "reproduced", "contradicted") == "contradicted"
    assert status_when(False, "qualified", "open") == "open"
    with pytest.raises(ValueError, match="not one of"):
        status_when(True, "yes", "open")
    with pytest.raises(ValueError, match="not one of"):
        status_when(True, "qualified", "no")


def test_status_below_is_strict_unless_inclusive() -> None:
    assert status_below(0.0199, 0.02) == "confirmed"
    assert status_below(0.02, 0.02) == "qualified"
    assert status_below(0.02, 0.02, inclusive=True) == "confirmed"
    assert status_below(0.0201, 0.02, inclusive=True) == "qualified"
    assert status_below(-np.inf, 0.0) == "confirmed" and status_below(np.inf, 0.0) == "qualified"


def test_status_below_with_other_statuses_and_nothing_measured() -> None:
    assert status_below(0.4, 0.5, passed="qualified", failed="contradicted") == "qualified"
    assert status_below(0.5, 0.5, passed="qualified", failed="contradicted") == "contradicted"
    assert status_below(1e-4, 5e-4, passed="reproduced", failed="contradicted") == "reproduced"
    assert status_below(float("nan"), 0.5) == "open"
    assert status_below(float("nan"), 0.5, passed="reproduced", failed="contradicted") == "open"


def test_status_below_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="not one of"):
        status_below(0.1, 0.5, passed="fine")
    with pytest.raises(ValueError, match="not one of"):
        status_below(0.1, 0.5, failed="bad")
    with pytest.raises(ValueError, match="threshold"):
        status_below(0.1, float("nan"))
    # every status the rule can return is one a Verdict accepts
    assert {status_below(v, 1.0) for v in (0.0, 2.0, float("nan"))} <= set(STATUSES)


def test_within_includes_its_ends_and_widens_by_the_margin() -> None:
    assert within(0.5, 0.5, 0.6) and within(0.6, 0.5, 0.6)
    assert not within(0.4999, 0.5, 0.6) and not within(0.6001, 0.5, 0.6)
    assert within(0.495, 0.5, 0.6, margin=0.01) and within(0.605, 0.5, 0.6, margin=0.01)
    assert not within(0.485, 0.5, 0.6, margin=0.01) and not within(0.615, 0.5, 0.6, margin=0.01)
    assert not within(float("nan"), 0.5, 0.6)  # a NaN is in no interval
    with pytest.raises(ValueError, match="margin"):
        within(0.5, 0.4, 0.6, margin=-0.01)


def test_span_formats_the_range() -> None:
    assert span([0.3, 0.1, 0.2]) == "0.100-0.300"
    assert span(np.array([1.0, 2.5]), fmt=".1f") == "1.0-2.5"
    assert span([0.5]) == "0.500-0.500"
    assert span([]) == "n/a"


def test_calibrate_sets_the_quantile_and_measures_the_error_rates_on_fresh_draws() -> None:
    from lib.book.verdict_rules import calibrate

    rng = np.random.default_rng(0)
    null = np.abs(rng.standard_normal(20_000))  # |N(0, 1)|: the 95 % point is 1.96
    alt = np.abs(rng.standard_normal(5_000) + 3.0)
    cal = calibrate(null, alt, statistic="|z|", null="N(0, 1)", alternative="N(3, 1)")
    assert cal.threshold == pytest.approx(1.96, abs=0.05)
    assert cal.false_rejection == pytest.approx(0.05, abs=0.01)
    # P(|N(3,1)| > 1.96) = Phi(1.04) + Phi(-4.96) = 0.851
    assert cal.power == pytest.approx(0.851, abs=0.02)
    assert cal.accepts(1.0) and not cal.accepts(2.5) and not cal.accepts(float("nan"))
    assert "false rejection" in cal.describe() and "power" in cal.describe()
    low = calibrate(-null, -alt, statistic="-|z|", null="N(0, 1)", alternative="N(3, 1)", accept_below=False)
    assert low.threshold == pytest.approx(-1.96, abs=0.05) and low.accepts(-1.0)


def test_calibrate_refuses_too_few_draws_and_bad_levels() -> None:
    from lib.book.verdict_rules import calibrate

    with pytest.raises(ValueError, match="40 null values"):
        calibrate(np.ones(10), np.ones(3), statistic="s", null="n", alternative="a")
    with pytest.raises(ValueError, match="level"):
        calibrate(np.ones(100), np.ones(3), statistic="s", null="n", alternative="a", level=0.7)
