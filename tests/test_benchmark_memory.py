"""The benchmarks' counted peak memory (``benchmarks/_common.peak_allocated_bytes``) on allocations of known size."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _common import peak_allocated_bytes  # noqa: E402


def test_the_peak_counts_what_is_held_at_once_and_nothing_held_before() -> None:
    """4 MB and 2 MB of float32 held together, then freed before 0.4 MB more: the peak is 6,000,000 bytes exactly;
    a tensor held before the call does not count."""
    before = torch.ones(10**6)

    def work() -> None:
        a, b = torch.empty(10**6), torch.empty(5 * 10**5)
        del a, b
        torch.empty(10**5)

    assert peak_allocated_bytes(work) == 6_000_000
    assert before.sum() == 10**6
