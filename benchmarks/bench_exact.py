"""Exact dense float64 Hessians: lib.curvature.dense.exact_hessian against torch.func.hessian and paper 1's row-by-row
double-backward loop, on (a) the 3,466-parameter MLP over the 1,797 digits and (b) softmax regression with 7,850
parameters on a batch of 64 MNIST-shaped images; (c) a 3,146-parameter conv net on 32 images, which has no structured
path (the generic assembly from Hessian-vector products). Ours and torch.func.hessian alternate over 5 rounds; each
row reports the medians, their spread and the per-round ratios. Prints times and ratios; writes
results/<device>.json.

The models of (a) and (b) are sequential Linear + elementwise-activation networks under a per-sample loss, so
``exact_hessian`` takes the structured path (``lib.curvature.exact_structured``: pre-activation Hessians from S
forward-over-reverse products, then a few GEMMs over the samples) rather than assembling H from P Hessian-vector
products as the other two do. The conv net of (c) takes the generic path (``lib.curvature.dense.dense_matrix``):
blocks of identity columns through vmapped Hessian-vector products, only the lower block triangle (each parameter
tensor's columns from the Hessian restricted to the tensors from it on, so no tangent runs through the layers before
it), mirrored."""

from __future__ import annotations

import argparse
from functools import partial

import torch
from _common import conv_net, images, interleaved_times, mlp_digits, num_params, save, spread, table
from torch import nn
from torch.func import functional_call, hessian

from lib.curvature.dense import exact_hessian
from lib.curvature.device import default_device


def _flat_loss(model, loss_fn, x, y):
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def f(theta):
        params, i = {}, 0
        for n, s in zip(names, shapes, strict=True):
            params[n] = theta[i : i + s.numel()].view(s)
            i += s.numel()
        return loss_fn(functional_call(model, params, (x,)), y)

    return f, torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def row_loop(model, loss_fn, x, y, rows=None):
    """Paper 1's method: one gradient with create_graph, then one backward per row of H (the first ``rows``)."""
    f, theta = _flat_loss(model, loss_fn, x, y)
    theta = theta.requires_grad_(True)
    (g,) = torch.autograd.grad(f(theta), theta, create_graph=True)
    rows = theta.numel() if rows is None else rows
    H = torch.empty(rows, theta.numel(), dtype=theta.dtype, device=theta.device)
    for i in range(rows):
        H[i] = torch.autograd.grad(g[i], theta, retain_graph=True)[0]
    return H


def func_hessian(model, loss_fn, x, y):
    f, theta = _flat_loss(model, loss_fn, x, y)
    return hessian(f)(theta)


def problems():
    """(name, path of exact_hessian, model, inputs, targets, whether torch.func.hessian is run): jacfwd pushes all
    P tangents through at once, P x N x width floats per activation, so on the full digits it needs about 10 GB and
    is run on 256."""
    dev = default_device()
    model, x, y = mlp_digits()
    model, x, y = model.double().to(dev), x.double().to(dev), y.to(dev)
    yield "mlp-digits-256", "structured", model, x[:256], y[:256], True
    yield "mlp-digits-1797", "structured", model, x, y, False
    x, y = images(64, seed=3)
    torch.manual_seed(2)
    softmax = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).double().to(dev)
    yield "softmax-regression-64", "structured", softmax, x.double().to(dev), y.to(dev), True
    # a conv net has no structured path: exact_hessian assembles H from blocks of Hessian-vector products
    x, y = images(32, seed=4)
    yield ("conv-net-generic-32", "generic", conv_net(4, 16).double().to(dev).eval(), x.double().to(dev), y.to(dev),
           True)


def main(repeats: int = 5, row_sample: int = 400, only: list[str] | None = None) -> list[dict]:
    """Time every problem (or the ``only`` ones, by name)."""
    loss = nn.CrossEntropyLoss()
    rows = []
    for name, path, model, x, y, run_func in problems():
        if only is not None and name not in only:
            continue
        P = num_params(model)
        row = {"problem": name, "path": path, "P": P, "N": x.shape[0]}
        if not run_func:
            reason = f"torch.func.hessian not run: it holds all P tangents at once, about 10 GB at N = {x.shape[0]:,}"
            row["not_run"] = dict.fromkeys(("torch_func", "func_hessian", "max_abs_diff_vs_func"), reason)
        H = exact_hessian(model, loss, x, y)
        fns = {"ours": partial(exact_hessian, model, loss, x, y)}
        if run_func:
            reference = func_hessian(model, loss, x, y)
            row["max_abs_diff_vs_func"] = float((H - reference).abs().max())
            del reference
            fns["torch_func_hessian"] = partial(func_hessian, model, loss, x, y)
        # the two alternate, round by round, so that a slow spell of a shared machine hits both
        times = interleaved_times(fns, repeats)
        ours = spread(times["ours"])["median"]
        row["ours_s"], row["ours_spread"] = ours, spread(times["ours"])
        if run_func:
            row["torch_func_hessian_s"] = spread(times["torch_func_hessian"])["median"]
            row["torch_func_hessian_spread"] = spread(times["torch_func_hessian"])
            row["func_hessian_over_ours"] = row["torch_func_hessian_s"] / ours
            row["func_hessian_over_ours_per_round"] = [
                f / o for f, o in zip(times["torch_func_hessian"], times["ours"], strict=True)]
        # every row costs one backward pass through the same graph: time the first rows, scale to P
        row_sample = min(row_sample, P)
        reference = row_loop(model, loss, x, y, row_sample)
        row["max_abs_diff_vs_row_loop"] = float((H[:row_sample] - reference).abs().max())
        del reference, H
        row["row_loop_rows_timed"] = row_sample
        loop = interleaved_times({"rows": partial(row_loop, model, loss, x, y, row_sample)}, 1)["rows"]
        row["row_loop_s"] = spread(loop)["median"] * P / row_sample
        row["row_loop_over_ours"] = row["row_loop_s"] / ours
        rows.append(row)
        print(table([row], list(row)), flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None, help="problem names (default: all)")
    args = parser.parse_args()
    rows = main(args.repeats, only=args.only)
    print(table(rows, ["problem", "P", "ours_s", "torch_func_hessian_s", "row_loop_s", "func_hessian_over_ours",
                       "row_loop_over_ours"]))
    print("saved", save("exact_hessian", {"rows": rows}))
