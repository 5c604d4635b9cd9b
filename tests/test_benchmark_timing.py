"""The benchmarks' interleaved timing (``benchmarks/_common.interleaved_times``): call order, warm-ups, failures."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _common import interleaved_times  # noqa: E402


def test_rounds_interleave_after_one_warm_up_each_and_a_failure_is_reported() -> None:
    """Two functions over 3 rounds: each is warmed up once (by its own warm-up where one is given), then the rounds
    alternate a, b, a, b, a, b; a function whose warm-up raises is never timed and gets the error instead."""
    calls: list[str] = []

    def boom() -> None:
        raise ValueError("no")

    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b"), "c": boom}
    warmups = {"a": lambda: calls.append("a-small"), "b": lambda: calls.append("b-small"), "c": boom}
    times = interleaved_times(fns, 3, warmups)
    assert calls == ["a-small", "b-small"] + ["a", "b"] * 3
    assert [len(times["a"]), len(times["b"])] == [3, 3] and all(t >= 0 for t in times["a"])
    assert "ValueError" in times["c"]

    calls.clear()
    interleaved_times({"a": fns["a"]}, 2)
    assert calls == ["a", "a", "a"]  # without warm-ups, the function itself warms up
