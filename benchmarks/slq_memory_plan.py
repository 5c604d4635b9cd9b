"""The memory plan of SLQ at paper 2's scale: VGG-16 on all 50,000 CIFAR-10 images, 100 Lanczos steps x 3 and x 10
probes, on one 80 GB GPU (``lib.curvature.lanczos.slq_plan``), and the accuracy cost of each storage choice.

    python benchmarks/slq_memory_plan.py --tag cpu-2core   # prints the plans and the accuracy table, saves them
    python benchmarks/run_all.py --only plan                # the same, as part of the benchmark run

The operator's memory is predicted, not guessed: P and the forward activations per image come from the model built
on PyTorch's meta device (no memory), and the memory one Hessian-vector product takes per image and per vector is
measured here on a quarter-width VGG-16 (the peak of the bytes its tensors hold during one product, every
allocation counted), as a multiple of its forward activations, then applied at full width. The products run
directly, batch by batch (no traced maps: at 50,000 images they would hold about 10.5 MB per image), so the data,
the parameters and one batch's activations per vector are what the operator holds.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import peak_allocated_bytes, save, table  # noqa: E402

from lib.curvature.lanczos import DenseOperator, slq, slq_plan  # noqa: E402
from lib.nets.models import build  # noqa: E402
from lib.rmt.ensembles import wishart  # noqa: E402
from lib.rmt.measures import spectral_measure, wasserstein1  # noqa: E402

GPU_BYTES = 80 * 10**9
CIFAR = (3, 32, 32)
N_IMAGES, BATCH = 50_000, 128
FLOAT32 = 4


def parameters_and_activations(width: float) -> tuple[int, int]:
    """P of VGG-16 at ``width`` on CIFAR-10 and the number of forward activations (module outputs) per image."""
    with torch.device("meta"):
        model = build("vgg16", CIFAR, 10, width).eval()
        count = 0

        def hook(module: torch.nn.Module, args: object, output: torch.Tensor) -> None:
            nonlocal count
            count += output[0].numel()

        for layer in model:
            layer.register_forward_hook(hook)
        model(torch.zeros(1, *CIFAR))
    return sum(p.numel() for p in model.parameters()), count


def bytes_per_image_per_vector(width: float = 0.25, batch: int = 64) -> float:
    """Peak bytes one direct Hessian-vector product of VGG-16 at ``width`` allocates per image, on a batch of
    random CIFAR-shaped images (every allocation counted: ``_common.peak_allocated_bytes``)."""
    from lib.curvature.operators import HessianOperator

    torch.manual_seed(0)
    model = build("vgg16", CIFAR, 10, width).eval()
    x, y = torch.randn(batch, *CIFAR), torch.randint(0, 10, (batch,))
    op = HessianOperator(model, torch.nn.functional.cross_entropy, (x, y), device="cpu", linearize=False)
    v = torch.randn(op.shape[0])
    op.matvec(v)  # warm-up: lazily built state is not the product's
    return peak_allocated_bytes(lambda: op.matvec(v)) / batch


def storage_accuracy(n: int = 1500, steps: int = 80, probes: int = 6) -> list[dict]:
    """W1 to the exact spectrum of a Wishart matrix for each storage choice, and its time."""
    import time

    A = wishart(n, 2 * n, 11)
    exact = spectral_measure(np.linalg.eigvalsh(A))
    op = DenseOperator(A)
    base = slq_plan(n, steps, probes, device_bytes=2**40)
    rows = []
    for name, plan in [("lockstep, float64 basis on the device", base),
                       ("chunks of 2 probes", replace(base, probes_per_chunk=2)),
                       ("float32 basis", replace(base, basis_dtype="float32")),
                       ("float64 basis on the host", replace(base, basis_on_host=True)),
                       ("float32 basis on the host, 1 probe at a time",
                        replace(base, basis_on_host=True, basis_dtype="float32", probes_per_chunk=1))]:
        start = time.perf_counter()
        result = slq(op, steps, probes, seed=3, plan=plan)
        rows.append({"storage": name, "seconds": time.perf_counter() - start,
                     "w1_to_exact": wasserstein1(result.measure(), exact)})
    return rows


def main() -> dict:
    P, activations = parameters_and_activations(1.0)
    P_small, act_small = parameters_and_activations(0.25)
    per_image = bytes_per_image_per_vector(0.25)
    factor = per_image / (act_small * FLOAT32)
    fixed = N_IMAGES * int(np.prod(CIFAR)) * FLOAT32 + 4 * P * FLOAT32  # data; parameters and their gradients
    per_probe = BATCH * activations * FLOAT32 * factor
    plans = {}
    for probes in (3, 10):
        plan = slq_plan(P, 100, probes, device_bytes=GPU_BYTES, operator_fixed_bytes=int(fixed),
                        operator_bytes_per_probe=int(per_probe))
        plans[probes] = plan
        print(plan.describe())
    accuracy = storage_accuracy()
    print(table(accuracy, ["storage", "seconds", "w1_to_exact"]))
    return {
        "P": P, "forward_activations_per_image": activations,
        "measured_at_quarter_width": {"P": P_small, "activations_per_image": act_small,
                                      "product_bytes_per_image": per_image, "over_forward_activations": factor},
        "operator_fixed_bytes": fixed, "operator_bytes_per_probe": per_probe, "gpu_bytes": GPU_BYTES,
        "plans": {str(k): {**vars(p), "describe": p.describe()} for k, p in plans.items()},
        "storage_accuracy": accuracy,
    }


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default=None, help="results file name (default: the device type)")
    print("saved", save("slq_memory_plan", main(), parser.parse_args().tag, own_machine=True))
