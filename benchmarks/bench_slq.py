"""SLQ spectral density, 100 Lanczos steps x 10 probes, on the 11,978-parameter conv net over 5,000 MNIST-shaped
images (float32, batches of 1,000): ours against hessian-eigenthings 1.0.0a5, curvlinops 3.0.1 (Papyan's
Lanczos, with its ARPACK boundary estimate) and PyHessian 0.1 (through a shim for the ``torch.eig`` it calls, removed
from torch). Times: every method once per round, in turn, over 5 rounds after a warm-up call of 5 steps x 1 probe,
with their spread. Accuracy: Wasserstein-1 distance of each method's spectral measure to the exact spectrum of a
3,146-parameter conv net over 500 images, at the same steps/probes."""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _common import conv_net, images, interleaved_times, num_params, pyhessian_shim, save, spread, table
from scipy.stats import wasserstein_distance
from torch import nn

from lib.curvature.dense import exact_hessian
from lib.curvature.device import default_device
from lib.curvature.lanczos import slq
from lib.curvature.operators import HessianOperator


def _batches(model_width, hidden, n_images, batch_size):
    dev = default_device()
    model = conv_net(model_width, hidden).to(dev).eval()
    x, y = images(n_images)
    return model, [(a.to(dev), b.to(dev)) for a, b in zip(x.split(batch_size), y.split(batch_size), strict=True)]


def methods(model, batches, loss, steps, probes, seed=0):
    """name -> function returning (nodes, weights) of a spectral measure (flattened; weights summing to 1), its
    probes drawn from ``seed`` (through the global torch generator for the peers that take no seed)."""
    dev = default_device()

    def ours():
        result = slq(HessianOperator(model, loss, batches), steps, probes, seed=seed)
        return result.nodes.ravel(), result.weights.ravel() / probes

    def eigenthings():
        import hessian_eigenthings as he

        op = he.HessianOperator(model, batches, he.supervised_loss(loss), full_dataset=True)
        # its run i draws from seed + i: space the seeds so that different seeds share no probe
        r = he.spectral_density(op, num_runs=probes, lanczos_steps=steps, seed=seed * probes)
        return r.raw_eigenvalues.double().cpu().numpy().ravel(), r.raw_weights.double().cpu().numpy().ravel() / probes

    def curvlinops():
        from curvlinops import HessianLinearOperator
        from curvlinops.papyan2020traces.spectrum import lanczos_approximate_spectrum

        op = HessianLinearOperator(model, loss, list(model.parameters()), batches, check_deterministic=False)
        torch.manual_seed(seed)
        grid, density = lanczos_approximate_spectrum(op, steps, num_points=1024, num_repeats=probes)
        grid, density = grid.double().cpu().numpy(), density.double().cpu().numpy()
        return grid, density / density.sum()

    def pyhessian():
        from pyhessian import hessian as pyh

        op = pyh(model, loss, dataloader=batches, cuda=dev.type == "cuda")
        torch.manual_seed(seed)
        with pyhessian_shim():  # its density calls torch.eig, removed from torch
            nodes, weights = op.density(iter=steps, n_v=probes)
        return np.asarray(nodes, dtype=float).ravel(), np.asarray(weights, dtype=float).ravel() / probes

    return {"ours": ours, "hessian-eigenthings 1.0.0a5": eigenthings, "curvlinops 3.0.1": curvlinops,
            "PyHessian 0.1": pyhessian}


def accuracy(steps, probes, images, seeds) -> dict:
    """name -> Wasserstein-1 distance of each method's spectral measure to the exact spectrum of the 3,146-parameter
    conv net over ``images`` images: mean and standard error over the probe seeds (one draw is too noisy to rank
    methods that share the algorithm), or the error a peer raised."""
    loss = nn.CrossEntropyLoss()
    small, small_batches = _batches(4, 16, images, max(1, images // 2))
    x = torch.cat([a for a, _ in small_batches])
    y = torch.cat([b for _, b in small_batches])
    exact = torch.linalg.eigvalsh(exact_hessian(small, loss, x, y)).cpu().numpy()
    distances: dict[str, list[float] | str] = {}
    for seed in seeds:
        for name, run in methods(small, small_batches, loss, steps, probes, seed).items():
            if isinstance(distances.get(name), str):
                continue
            try:
                nodes, weights = run()
            except Exception as error:  # a peer failing is a result, reported
                distances[name] = repr(error)[:200]
                continue
            w1 = wasserstein_distance(nodes, exact, u_weights=np.maximum(weights, 0))
            distances.setdefault(name, []).append(float(w1))
    out = {}
    for name, values in distances.items():
        if isinstance(values, str):
            out[name] = {"error": values}
        else:
            se = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
            out[name] = {"w1_mean": float(np.mean(values)), "w1_se": se, "w1_per_seed": values}
    return {"P": num_params(small), "N": images, "exact_range": [float(exact[0]), float(exact[-1])], "methods": out}


def main(n_images=5000, batch_size=1000, steps=100, probes=10, repeats=5, width=8, hidden=32,
         accuracy_images=500, accuracy_seeds=5) -> dict:
    loss = nn.CrossEntropyLoss()
    acc = accuracy(steps, probes, accuracy_images, range(accuracy_seeds))
    # speed on the big model: every method once per round, in turn, so a slow spell hits all alike
    model, batches = _batches(width, hidden, n_images, batch_size)
    # warm-up (imports, allocator, library set-up) with a few steps of one probe: a whole call of a peer takes minutes
    warmups = methods(model, batches, loss, min(steps, 5), 1)
    times = interleaved_times(methods(model, batches, loss, steps, probes), repeats, warmups)
    rows = []
    for name, measured in times.items():
        row = {"method": name}
        if isinstance(measured, str):
            row["error"] = measured
        else:
            row["seconds"] = spread(measured)["median"]
            row["seconds_spread"] = spread(measured)
            row["seconds_per_round"] = measured  # round i of every method ran back to back: ratios per round
        row.update(acc["methods"][name])
        rows.append(row)
    fastest_peer = min((r["seconds"] for r in rows[1:] if "seconds" in r), default=float("nan"))
    for r in rows:
        if "seconds" in r:
            r["speedup_vs_fastest_peer"] = fastest_peer / r["seconds"]
    return {"P": num_params(model), "N": n_images, "batch_size": batch_size, "steps": steps, "probes": probes,
            "accuracy_model_P": acc["P"], "accuracy_model_N": acc["N"], "accuracy_seeds": accuracy_seeds,
            "exact_spectrum_range": acc["exact_range"], "rows": rows}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--probes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--accuracy-images", type=int, default=500)
    parser.add_argument("--accuracy-seeds", type=int, default=5)
    parser.add_argument("--tag", default=None, help="results file name (default: the device type)")
    args = parser.parse_args()
    result = main(args.images, args.batch_size, args.steps, args.probes, args.repeats,
                  accuracy_images=args.accuracy_images, accuracy_seeds=args.accuracy_seeds)
    print(f"P = {result['P']}, N = {result['N']}, {result['steps']} steps x {result['probes']} probes; "
          f"accuracy on P = {result['accuracy_model_P']}")
    print(table(result["rows"], ["method", "seconds", "speedup_vs_fastest_peer", "w1_mean", "w1_se", "error"]))
    print("saved", save("slq", result, args.tag))
