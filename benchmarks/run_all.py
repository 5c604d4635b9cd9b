"""Run every benchmark once, in one process, and write results/<device>.json (``RMT_DEVICE=cpu`` forces the CPU).

    python benchmarks/run_all.py            # defaults of each bench (the GPU / full-size run)
    python benchmarks/run_all.py --small    # the CPU default, about 30 minutes on 2 idle cores (SLQ: 100 x 10)

Every row is repeated (5 rounds by default) and reports its spread. torch runs with ``--threads`` threads (default
1: on a shared 2-core machine a second thread competes with the other jobs and can make a gradient 4x slower), and
the CPU use of other processes is sampled throughout each benchmark: a benchmark during which others used more than
a quarter of a core on average is flagged BUSY in the output and in the results file.
"""

from __future__ import annotations

import argparse
import sys
import time

import bench_exact
import bench_hvp
import bench_slq
import slq_memory_plan
from _common import LoadMonitor, save, table, use_threads

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="fewer images and steps (CPU default)")
    parser.add_argument("--tag", default=None, help="results file name (default: the device type)")
    parser.add_argument("--only", nargs="*", default=["exact", "hvp", "slq", "plan"])
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

    if "exact" in args.only:
        with LoadMonitor().watching() as monitor:
            rows = bench_exact.main(repeats=args.repeats)
        print(table(rows, ["problem", "P", "ours_s", "torch_func_hessian_s", "row_loop_s", "func_hessian_over_ours",
                           "row_loop_over_ours"]), flush=True)
        save("exact_hessian", {"rows": rows, "load": report("exact", monitor)}, args.tag)
    if "hvp" in args.only:
        with LoadMonitor().watching() as monitor:
            result = bench_hvp.main(2000, 500, max(args.repeats, 7))
        result["load"] = report("hvp", monitor)
        bench_hvp.print_result(result)  # the table, the plans, memory at 2,000 and 20,000 images, the targets
        save("hvp_over_gradient", result, args.tag)
    if "slq" in args.only:
        # the 100 steps x 10 probes; fewer images than its 5,000 so that the three peers finish in minutes
        small = {"n_images": 1000, "batch_size": 500, "accuracy_images": 200}
        sizes = small if args.small else {}
        with LoadMonitor().watching() as monitor:
            result = bench_slq.main(**sizes, repeats=args.repeats)
        result["load"] = report("slq", monitor)
        print(f"SLQ: P = {result['P']}, N = {result['N']}, {result['steps']} steps x {result['probes']} probes")
        print(table(result["rows"], ["method", "seconds", "speedup_vs_fastest_peer", "w1_mean", "w1_se", "error"]))
        save("slq", result, args.tag)
    if "plan" in args.only:
        save("slq_memory_plan", slq_memory_plan.main(), args.tag, own_machine=True)
    print(f"total {time.time() - start:.0f} s", file=sys.stderr)
