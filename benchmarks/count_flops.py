"""The arithmetic of one Hessian-vector product, per method, over that of one gradient: the floating-point operations
of matrix products and convolutions (forward and backward kernels alike: the work that dominates a network's
products), counted by ``torch.utils.flop_counter.FlopCounterMode`` on the 11,978-parameter conv net over the SLQ
benchmark's images (float32, batches of 500). Elementwise work (activations, masks, pooling, the softmax) is not
counted.

Counts do not depend on the machine, and they bound what a speed-up can come from. If two methods ran their counted
operations at the same rate, the ratio of their times would be the ratio of their counts; a measured speed-up beyond
that ratio comes from work that is not arithmetic (building autograd graphs, Python, recomputing the primal pass,
memory traffic), and a target above it can be met only by running the same kernels faster than the peer does.

Rows: the gradient; ours with the primal passes kept (the steady state of a Lanczos run: only the tangent pass), with
them recomputed for ten vectors at once (per vector), and a new operator's first product (the tracing); a plain
``torch.func`` jvp-of-grad; each peer's full-data product."""

from __future__ import annotations

import argparse

import torch
from _common import num_params, save, table
from bench_hvp import peers, plain_func_hvp, setup
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lib.curvature.device import default_device
from lib.curvature.operators import HessianOperator


def count_flops(fn, vectors: int = 1) -> float:
    """Floating-point operations ``fn()`` runs in matrix products and convolutions, divided by ``vectors``."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / vectors


def main(n_images: int = 1000, batch_size: int = 500) -> dict:
    loss = nn.CrossEntropyLoss()
    model, batches = setup(n_images, batch_size)
    params = list(model.parameters())
    generator = torch.Generator().manual_seed(0)
    v = torch.randn(num_params(model), generator=generator).to(default_device())
    V = torch.randn(num_params(model), 10, generator=generator).to(default_device())

    def gradient():
        for x, y in batches:
            torch.autograd.grad(loss(model(x), y), params)

    kept = HessianOperator(model, loss, batches)
    kept.matvec(v)  # the first product traces the map and keeps the primal passes: the counted ones replay them
    recomputed = HessianOperator(model, loss, batches, linearize_max_bytes=0)
    recomputed.matmat(V)
    methods = {
        "gradient": (gradient, 1),
        "ours (traced, primal kept), 1 vector": (lambda: kept.matvec(v), 1),
        "ours (traced, primal recomputed), 10 vectors / 10": (lambda: recomputed.matmat(V), 10),
        "ours: a new operator's first product (tracing included)":
            (lambda: HessianOperator(model, loss, batches).matvec(v), 1),
        "plain torch.func jvp(grad)": (lambda: plain_func_hvp(model, batches, loss)(v), 1),
    }
    for name, fn in peers(model, batches, loss).items():
        methods[name] = fn if isinstance(fn, str) else ((lambda f=fn: f(v)), 1)
    counts = {}
    for name, spec in methods.items():
        try:
            counts[name] = spec if isinstance(spec, str) else count_flops(*spec)
        except Exception as error:  # a peer failing is a result, reported
            counts[name] = repr(error)[:200]
    ours = counts["ours (traced, primal kept), 1 vector"]
    rows = []
    for name, value in counts.items():
        if isinstance(value, str):
            rows.append({"method": name, "error": value})
            continue
        rows.append({"method": name, "gflop_per_vector": value / 1e9, "over_gradient": value / counts["gradient"],
                     "over_ours_kept": value / ours})
    return {"P": num_params(model), "N": n_images, "batch_size": batch_size, "rows": rows}


def print_result(result: dict) -> None:
    print(f"FLOPs per product: P = {result['P']}, N = {result['N']} (matrix products and convolutions)")
    print(table(result["rows"], ["method", "gflop_per_vector", "over_gradient", "over_ours_kept", "error"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--tag", default=None, help="results file name (default: the device type)")
    args = parser.parse_args()
    result = main(args.images, args.batch_size)
    print_result(result)
    print("saved", save("product_flops", result, args.tag, own_machine=True))
