"""Run every benchmark once, in one process, and write results/<device>.json (``RMT_DEVICE=cpu`` forces the CPU).

    python benchmarks/run_all.py            # defaults of each bench (the GPU / full-size run)
    python benchmarks/run_all.py --small    # the CPU default: on 2 idle cores SLQ 100 x 10 alone takes 68-75 min

Every row is repeated (5 rounds by default) and reports its spread. torch runs with ``--threads`` threads (default
1: on a shared 2-core machine a second thread competes with the other jobs and can make a gradient 4x slower), and
the CPU use of other processes is sampled throughout each benchmark: a benchmark during which others used more than
a quarter of a core on average is flagged BUSY in the output and in the results file.

At the end one table states each of the issue's targets measured in the results file (this run's sections merged
with those an earlier run left there), its value (median and range of the per-round ratios) and whether it was met
(``lib.book.benchmark_results.targets``); it is saved as the section ``targets``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import bench_exact
import bench_hvp
import bench_slq
import count_flops
import pandas as pd
import slq_memory_plan
from _common import LoadMonitor, results_path, save, table, use_threads

from lib.book.benchmark_results import targets, targets_table


def file_targets(path: Path) -> dict:
    """The issue's targets over every section of the results file at ``path``, the sections of this run merged with
    those an earlier run left there (``rows``, :func:`lib.book.benchmark_results.targets`), the sections they come
    from, and those measured while other processes were busy (``busy_sections``)."""
    sections = {name: section for name, section in json.loads(path.read_text()).items()
                if name not in ("machine", "targets")}
    return {"rows": targets(sections), "sections": list(sections),
            "busy_sections": [name for name, section in sections.items() if section.get("load", {}).get("busy")]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="fewer images and steps (CPU default)")
    parser.add_argument("--tag", default=None, help="results file name (default: the device type)")
    parser.add_argument("--only", nargs="*", default=["exact", "hvp", "slq", "flops", "plan"])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of every timing (default 5)")
    args = parser.parse_args()
    use_threads(args.threads)
    start = time.time()

    def report(name: str, monitor: LoadMonitor) -> dict:
        load = monitor.summary()
        if load["busy"]:
            print(f"BUSY: other processes used {load['other_cores_mean']:.2f} cores on average during {name} "
                  f"(max {load['other_cores_max']:.2f}); its timings are not those of a quiet machine", flush=True)
        return load

    measured = {}  # the sections of this run, for the targets table
    if "exact" in args.only:
        with LoadMonitor().watching() as monitor:
            rows = bench_exact.main(repeats=args.repeats)
        print(table(rows, ["problem", "P", "ours_s", "torch_func_hessian_s", "row_loop_s", "func_hessian_over_ours",
                           "row_loop_over_ours"]), flush=True)
        measured["exact_hessian"] = {"rows": rows, "load": report("exact", monitor)}
        save("exact_hessian", measured["exact_hessian"], args.tag)
    if "hvp" in args.only:
        with LoadMonitor().watching() as monitor:
            result = bench_hvp.main(2000, 500, max(args.repeats, 7), large_repeats=args.repeats)
        result["load"] = report("hvp", monitor)
        bench_hvp.print_result(result)  # the table, the plans, memory at 2,000 and 20,000 images, the targets
        save("hvp_over_gradient", result, args.tag)
        measured["hvp_over_gradient"] = result
    if "slq" in args.only:
        # the 100 steps x 10 probes; fewer images than its 5,000 so that the three peers finish in minutes
        small = {"n_images": 1000, "batch_size": 500, "accuracy_images": 200}
        sizes = small if args.small else {}
        with LoadMonitor().watching() as monitor:
            result = bench_slq.main(**sizes, repeats=args.repeats)
        result["load"] = report("slq", monitor)
        print(f"SLQ: P = {result['P']}, N = {result['N']}, {result['steps']} steps x {result['probes']} probes")
        print(table(result["rows"], ["method", "seconds", "speedup_vs_fastest_peer", "w1_mean", "w1_se", "error"]))
        measured["slq"] = result
        save("slq", result, args.tag)
    if "flops" in args.only:  # counted, not timed: the same on any machine, so no load record
        measured["product_flops"] = count_flops.main(n_images=1000 if args.small else 5000)  # the SLQ sizes
        count_flops.print_result(measured["product_flops"])
        save("product_flops", measured["product_flops"], args.tag, own_machine=True)
    if "plan" in args.only:
        measured["slq_memory_plan"] = slq_memory_plan.main()
        save("slq_memory_plan", measured["slq_memory_plan"], args.tag, own_machine=True)
    path = results_path(args.tag)
    summary = file_targets(path)
    busy = summary["busy_sections"]
    print(f"\nTargets of the issue in {path.name} (measured in this run: {', '.join(measured) or 'none'})"
          + (f" (BUSY during: {', '.join(busy)})" if busy else "") + ":")
    with pd.option_context("display.max_colwidth", None, "display.width", 250):
        print(targets_table(summary["rows"]).drop(columns="rule").to_string())
    for rule in dict.fromkeys(row["rule"] for row in summary["rows"]):
        print(f"  rule: {rule}")
    save("targets", {**summary, "measured_in_last_run": list(measured)}, args.tag, own_machine=True)
    print(f"total {time.time() - start:.0f} s", file=sys.stderr)
