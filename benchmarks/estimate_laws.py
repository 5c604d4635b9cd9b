"""The scaling laws behind ``python -m lib.batch --estimate`` against a larger size: each primitive's law
``t = a size + b calls`` (``lib.book.estimates``) is fitted at its two small sizes and checked at the third, larger one,
over ``--repeats`` rounds; prints the ratio predicted / measured per round (median and range) and whether it stays
within a factor of 2. A timing check, so it lives here and not in the unit tests (a loaded machine moves it).

    python benchmarks/estimate_laws.py [--repeats 3] [--only eigh hvp]
"""

from __future__ import annotations

import argparse
import statistics

from _common import LoadMonitor, save, use_threads

from lib.book import estimates


def check(primitive: str, repeats: int) -> dict:
    """Predicted / measured time at the check size of ``primitive``, per round."""
    run, (small, large), at = estimates.PRIMITIVES[primitive]
    ratios = []
    for _ in range(repeats):
        a, b = estimates.fit_law(run(small), run(large))
        seconds, size, *calls = run(at)
        ratios.append(estimates.law_seconds(a, b, size, calls[0] if calls else 1) / seconds)
    median = statistics.median(ratios)
    return {"primitive": primitive, "sizes": [small, large], "check_size": at, "ratio_median": median,
            "ratio_min": min(ratios), "ratio_max": max(ratios), "within_2x": 0.5 < median < 2.0}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=list(estimates.PRIMITIVES))
    parser.add_argument("--tag", default=None, help="results file name (default: the device type)")
    args = parser.parse_args()
    use_threads(1)  # --estimate's coefficients are one thread's
    with LoadMonitor().watching() as monitor:
        rows = [check(name, args.repeats) for name in args.only]
    for r in rows:
        print(f"{r['primitive']:>14}: predicted / measured at {r['check_size']} = {r['ratio_median']:.2f} "
              f"(range {r['ratio_min']:.2f}-{r['ratio_max']:.2f}) {'within 2x' if r['within_2x'] else 'NOT within 2x'}")
    load = monitor.summary()
    if load["busy"]:
        print(f"BUSY: other processes used {load['other_cores_mean']:.2f} cores on average")
    save("estimate_laws", {"rows": rows, "load": load}, args.tag, own_machine=True)
