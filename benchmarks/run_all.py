"""Run every benchmark once, in one process, and write results/<device>.json (``RMT_DEVICE=cpu`` forces the CPU).

    python benchmarks/run_all.py            # defaults of each bench (the GPU / full-size run)
    python benchmarks/run_all.py --small    # the CPU default, about 20 minutes on 2 idle cores (SLQ: 100 x 10)
"""

from __future__ import annotations

import argparse
import sys
import time

import bench_exact
import bench_hvp
import bench_slq
from _common import save, table

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="fewer images and steps (CPU default)")
    parser.add_argument("--tag", default=None, help="results file name (default: the device type)")
    parser.add_argument("--only", nargs="*", default=["exact", "hvp", "slq"])
    args = parser.parse_args()
    start = time.time()
    if "exact" in args.only:
        rows = bench_exact.main(repeats=2 if args.small else 3)
        print(table(rows, ["problem", "P", "ours_s", "torch_func_hessian_s", "row_loop_s", "func_hessian_over_ours",
                           "row_loop_over_ours"]), flush=True)
        save("exact_hessian", {"rows": rows}, args.tag)
    if "hvp" in args.only:
        result = bench_hvp.main(2000, 500, 7)
        print(f"HVP: P = {result['P']}, N = {result['N']}, gradient {result['gradient_s']:.4g} s")
        print(table(result["rows"], ["method", "seconds_per_vector", "hvp_over_gradient", "rel_diff_vs_ours",
                                     "error"]), flush=True)
        save("hvp_over_gradient", result, args.tag)
    if "slq" in args.only:
        # the 100 steps x 10 probes; fewer images than its 5,000 so that the three peers finish in minutes
        small = {"n_images": 1000, "batch_size": 500, "accuracy_images": 200}
        sizes = small if args.small else {}
        result = bench_slq.main(**sizes)
        print(f"SLQ: P = {result['P']}, N = {result['N']}, {result['steps']} steps x {result['probes']} probes")
        print(table(result["rows"], ["method", "seconds", "speedup_vs_fastest_peer", "w1_mean", "w1_se", "error"]))
        save("slq", result, args.tag)
    print(f"total {time.time() - start:.0f} s", file=sys.stderr)
