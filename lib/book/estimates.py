"""Predicted time and peak memory of a chapter run at a profile, before running it (``python -m lib.batch
--profile paper --estimate``).

Each chapter has a cost model (:data:`MODELS`): the list of its costly steps, each a *primitive* (a dense
eigendecomposition, a tridiagonal one, a matrix product, a training pass, a Hessian-vector product, a dense Hessian
assembly, a population-dynamics sweep, ...) applied ``count`` times at a ``size`` computed from the chapter's
parameters. A primitive's time follows a scaling law ``t = a size + b calls`` where ``size`` already carries the
operation count's exponent (``n^3`` for ``eigvalsh``, ``n^2`` for a tridiagonal spectrum, ``N P`` for a pass over N
samples of a P-parameter network, ``N P^2`` for a dense Hessian, ...) and ``b`` is a fixed cost per call (Python and
dispatch overhead). ``a`` and ``b`` are measured on this machine by short timed micro-runs at two small sizes
(:func:`fit_law`, :func:`measure_primitives`, cached on disk keyed by the machine, the thread count and this
module's code); a third, larger size checks the law (benchmarks/estimate_laws.py). The networks' micro-runs are MLPs of
P = 2,050 to 5,370 parameters, the chapters' range: fitted at P = 15,850 and 51,000 instead, the Hessian-vector
product's law missed a third size by a factor 2.3, so steps far above that range are rough. A chapter's time is its
kernel's start (measured: a Python that imports what the chapters import) plus one rendered figure per figure cell
(measured) plus the sum of its steps; its peak memory is the kernel's resident memory after those imports plus the
largest working set of a step (arrays the step holds).

The GPU estimate is a roofline guess, unverified without a GPU: the steps that run in torch (training, Hessian
products, dense Hessians and their eigendecompositions, on ``RMT_DEVICE``) are sped up by the ratio of the card's
peak FLOP rate (its data sheet; float32 or float64 as the step computes) times an assumed efficiency
(:data:`GPU_EFFICIENCY`, :data:`GPU_EIGH_EFFICIENCY` for eigendecompositions) to this CPU's measured GEMM rate,
with a floor of :data:`GPU_CALL_S` seconds per call of the step (kernel launches); the NumPy and SciPy steps
(``lib.rmt``) stay on the host's CPU, assumed as fast per core as this one.

The models list the steps that dominate; what they leave out (tables, bootstraps of small arrays, fits) is the
error the comparison with recorded runs measures (README, section "Recorded runs").
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lib.nets.cache import load_or_compute

#: Assumed fraction of a GPU's peak FLOP rate the torch steps reach (a roofline guess, not a measurement).
GPU_EFFICIENCY = 0.3
#: Assumed fraction for a dense eigendecomposition on a GPU (cuSOLVER's syevd is far from GEMM-bound; a guess).
GPU_EIGH_EFFICIENCY = 0.03
#: Assumed floor per call of a torch step on a GPU (about 20 kernel launches of ~50 microseconds).
GPU_CALL_S = 1e-3
#: Peak FLOP rates (TFLOP/s, dense, without sparsity) from the cards' data sheets.
GPU_CLASSES: dict[str, dict[str, Any]] = {
    "h100": {"name": "NVIDIA H100 SXM", "fp32": 67.0, "fp64": 67.0, "memory_gib": 80,
             "source": "NVIDIA H100 Tensor Core GPU datasheet (FP32 67 TFLOP/s, FP64 tensor core 67 TFLOP/s)"},
    "a100": {"name": "NVIDIA A100 SXM", "fp32": 19.5, "fp64": 19.5, "memory_gib": 80,
             "source": "NVIDIA A100 Tensor Core GPU datasheet (FP32 19.5 TFLOP/s, FP64 tensor core 19.5 TFLOP/s)"},
}


@dataclass(frozen=True)
class Step:
    """``count`` applications of ``primitive`` at ``size`` (see module doc); ``memory`` bytes held while it runs;
    ``calls`` of the torch function behind it (the GPU's per-call floor); ``dtype`` "f64" or "f32"; ``torch``: an
    eigendecomposition done by torch on the run's device (the torch primitives always are)."""

    label: str
    primitive: str
    size: float
    count: float = 1.0
    memory: float = 0.0
    calls: float = 0.0
    dtype: str = "f64"
    torch: bool = False


# --- micro-runs: each returns the seconds of one application at a size, and the size as its law counts it ---

def _best(fn: Callable[[], Any], repeat: int = 5) -> float:
    """Fastest of ``repeat`` timed calls (the least disturbed by other work on the machine)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _eigh(n: int) -> tuple[float, float]:
    a = np.random.default_rng(0).standard_normal((n, n))
    a = a + a.T
    return _best(lambda: np.linalg.eigvalsh(a)), float(n) ** 3


def _gemm(n: int) -> tuple[float, float]:
    a = np.random.default_rng(0).standard_normal((n, n))
    return _best(lambda: a @ a), 2.0 * float(n) ** 3


def _tridiagonal(n: int) -> tuple[float, float]:
    from lib.rmt import ensembles

    return _best(lambda: ensembles.sample_spectra("goe", n, 1, 0, tridiagonal=True)), float(n) ** 2


def _rigidity(n: int) -> tuple[float, float]:
    from lib.rmt import spacings

    x = np.sort(np.random.default_rng(0).uniform(0, n, n))
    return _best(lambda: (spacings.number_variance(x, np.linspace(0.25, 40.0, 30)),
                          spacings.spectral_rigidity(x, np.linspace(1.0, 40.0, 15))), repeat=2), float(n)


def _mlp(hidden: int, samples: int = 256) -> tuple[Any, Any, Any, int]:
    import torch

    from lib.nets import models

    torch.manual_seed(0)
    model = models.mlp([64, hidden, 10 * hidden, 10]).double()
    x, y = torch.randn(samples, 64, dtype=torch.float64), torch.randint(0, 10, (samples,))
    return model, x, y, models.num_params(model)


def _train_pass(hidden: int) -> tuple[float, float]:
    """One epoch of SGD in batches of 64 over 256 samples (forward, backward, update)."""
    import torch
    import torch.nn.functional as F

    model, x, y, p = _mlp(hidden)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def epoch() -> None:
        for i in range(0, x.shape[0], 64):
            opt.zero_grad()
            F.cross_entropy(model(x[i:i + 64]), y[i:i + 64]).backward()
            opt.step()

    return _best(epoch), float(x.shape[0] * p), x.shape[0] // 64


def _hvp(hidden: int) -> tuple[float, float]:
    """One Hessian-vector product of the mean cross-entropy over 256 samples (lib.curvature's operator)."""
    import torch
    import torch.nn.functional as F

    from lib.curvature.operators import HessianOperator

    model, x, y, p = _mlp(hidden)
    op = HessianOperator(model, F.cross_entropy, (x, y))
    v = torch.randn(p, dtype=torch.float64)
    return _best(lambda: op.matvec(v)), float(x.shape[0] * p)


def _gradient(hidden: int) -> tuple[float, float, int]:
    """Ten full-data gradients over 256 samples at perturbed points (``network_gradient``, float64): chapter 5's
    step, whose cost is mostly per call at its sizes."""
    import torch
    import torch.nn.functional as F

    from lib.curvature.parameter_space import flat_parameters
    from lib.experiments.gradient_decorrelation import network_gradient

    model, x, y, p = _mlp(hidden)
    gradient = network_gradient(model, F.cross_entropy, x, y)
    w = flat_parameters(model)
    steps = [w + 0.1 * torch.randn(p, dtype=torch.float64, generator=torch.Generator().manual_seed(k))
             for k in range(10)]
    return _best(lambda: [gradient(v) for v in steps]), float(10 * x.shape[0] * p), 10


def _dense_hessian(hidden: int) -> tuple[float, float]:
    """The dense Hessian over 64 samples (lib.curvature.dense.exact_hessian), without its eigendecomposition."""
    import torch.nn.functional as F

    from lib.curvature.dense import exact_hessian

    model, x, y, p = _mlp(hidden, 64)
    return _best(lambda: exact_hessian(model, F.cross_entropy, x, y), repeat=2), float(x.shape[0]) * p * p


def _conv_pass(width: float) -> tuple[float, float]:
    """Forward and backward of VGG-16 at ``width`` on 8 images of 3x32x32 (float32); the law counts width^2."""
    import torch
    import torch.nn.functional as F

    from lib.nets import models

    torch.manual_seed(0)
    model = models.build("vgg16", (3, 32, 32), 10, width=width)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))

    def step() -> None:
        model.zero_grad()
        F.cross_entropy(model(x), y).backward()

    step()  # first call allocates
    return _best(step), 8 * width**2


def _popdyn(population: int) -> tuple[float, float]:
    from lib.rmt import freeprob

    x = np.linspace(-3, 3, 50)
    return (_best(lambda: freeprob.sparse_wigner_density(x, 4.0, eps=0.02, population=population, sweeps=10), 2),
            float(population) * 10 * 50 * 4.0)


def _thresholds(n_cells: int) -> tuple[float, float]:
    """One (law, p) entry of chapter 9's tables: a Wigner x Wishart law tabulated on ``n_cells`` cells, its
    thresholds E_0..E_2, edge complexity and zero of the complexity; measured constant in ``n_cells`` (size 1)."""
    from lib.rmt import spinglass

    def run() -> None:
        law = spinglass.wigner_wishart_law(0.3, 1 / math.sqrt(2.0), n_cells=n_cells)
        spinglass.general_thresholds(3, law, 2)
        spinglass.edge_complexity(3, law)
        spinglass.complexity_zero(3, law)

    return _best(run, repeat=2), 1.0


def _aicc_null(replicas: int) -> tuple[float, float, int]:
    """One parametric-bootstrap AICc null of chapter 6 (``lib.rmt.budget.aicc_difference_null``): ``replicas``
    draws under each of the two fitted laws, each refitting both laws, at 40 points. A law's fit at 19-65 points
    costs about the same (``curve_fit``'s overhead dominates), so the size is the number of replicas."""
    from lib.rmt import budget

    t = np.arange(1.0, 41.0)
    y = budget.exponential_saturation(t, 1.0, 2.0, -0.1) + 0.02 * np.random.default_rng(0).standard_normal(t.size)
    exponential, power = budget.fit_exponential(t, y), budget.fit_power_law(t, y)
    return _best(lambda: budget.aicc_difference_null(t, exponential, power, replicas, 0), repeat=2), float(replicas), 1


#: primitive -> (micro-run, the two small sizes its law is fitted at, a larger size that checks the law)
PRIMITIVES: dict[str, tuple[Callable[[Any], tuple[float, ...]], tuple[Any, Any], Any]] = {
    "eigh": (_eigh, (250, 500), 1000),
    "gemm": (_gemm, (300, 600), 1200),
    "tridiagonal": (_tridiagonal, (1000, 2000), 4000),
    "rigidity": (_rigidity, (1000, 2000), 4000),
    "train_pass": (_train_pass, (8, 16), 32),
    "hvp": (_hvp, (8, 16), 32),
    "gradient": (_gradient, (8, 16), 32),
    "dense_hessian": (_dense_hessian, (4, 8), 16),
    "conv_pass": (_conv_pass, (0.25, 0.5), 1.0),
    "popdyn": (_popdyn, (500, 1000), 2000),
    "thresholds": (_thresholds, (1000, 2000), 4000),
    "aicc_null": (_aicc_null, (5, 10), 20),
}


def fit_law(small: tuple[float, ...], large: tuple[float, ...]) -> tuple[float, float]:
    """The law ``t = a size + b calls`` through two micro-runs ``(seconds, size[, calls])`` of the same number of
    calls: ``a`` the time per unit of size, ``b`` the fixed time per call (Python and dispatch overhead, which
    dominates small networks). Without a usable difference (equal sizes, or noise making a or b negative) the law
    is proportional, ``b = 0``, through the larger run."""
    (t1, s1, *c), (t2, s2, *_) = small, large
    calls = c[0] if c else 1
    a = (t2 - t1) / (s2 - s1) if s2 != s1 else 0.0
    b = (t1 - a * s1) / calls
    if a <= 0 or b < 0:
        return t2 / s2, 0.0
    return a, b


def law_seconds(a: float, b: float, size: float, calls: float = 1.0) -> float:
    """Seconds the law of :func:`fit_law` predicts for ``calls`` calls at ``size`` (in all)."""
    return a * size + b * calls


def _kernel_start() -> dict[str, float]:
    """Seconds and resident MB of a fresh Python that imports what a chapter's kernel imports."""
    code = ("import time, resource; t = time.perf_counter(); import numpy, scipy, pandas, torch, matplotlib.pyplot; "
            "import lib.book.verdicts, lib.book.plotting, lib.experiments.network_spectra; "
            "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "MPLBACKEND": "agg"})
    total = time.perf_counter() - start
    _, rss = out.stdout.split()
    return {"seconds": total, "memory_mb": float(rss)}


def _figure() -> float:
    """Seconds to draw and save one two-panel figure of 2,000 points and a histogram as a PNG."""
    import io

    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    def draw() -> None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        axes[0].hist(np.random.default_rng(0).standard_normal(20_000), bins=60)
        axes[1].plot(np.linspace(0, 1, 2000), np.sin(np.linspace(0, 30, 2000)))
        fig.savefig(io.BytesIO(), format="png", dpi=150)
        plt.close(fig)

    return _best(draw, repeat=2)


def _machine_key() -> dict[str, Any]:
    from lib.book.records import machine_description

    machine = machine_description()
    return {"cpu": machine["cpu"], "cores": machine["cores"], "threads": os.environ.get("OMP_NUM_THREADS", "")}


def measure_primitives(*, cache_dir: str | None = None) -> dict[str, float]:
    """Coefficients ``a`` (seconds per unit of size) and ``<name>_call`` (seconds per call, :func:`fit_law`) of
    every primitive, the kernel start (seconds and MB), one
    figure's seconds and the float64 GEMM rate (FLOP/s), measured on this machine (about a minute) and cached by
    machine, thread count and code."""

    def compute() -> dict[str, float]:
        out: dict[str, float] = {}
        for name, (run, (small, large), _) in PRIMITIVES.items():
            out[name], out[f"{name}_call"] = fit_law(run(small), run(large))
        start = _kernel_start()
        out["kernel_s"], out["kernel_mb"] = start["seconds"], start["memory_mb"]
        out["figure_s"] = _figure()
        out["gemm_flops"] = 1.0 / out["gemm"]
        return out

    data = load_or_compute("estimate_primitives", _machine_key(), compute, cache_dir=cache_dir)
    return {k: float(v) for k, v in data.items()}


# --- the chapters' cost models: parameters -> steps ---

def _n_train(dataset: str, n: int = 0) -> int:
    from lib.nets import data

    x, _ = data.load(dataset, "train")
    return min(n, x.shape[0]) if n else int(x.shape[0])


def _params(model: str, input_shape: tuple[int, ...], classes: int = 10, **kwargs: Any) -> int:
    from lib.nets import models

    return models.num_params(models.build(model, input_shape, classes, **kwargs))


def _eigh_step(label: str, n: float, count: float, torch: bool = False) -> Step:
    return Step(label, "eigh", float(n) ** 3, count, memory=3 * 8 * float(n) ** 2, calls=count, torch=torch)


def _ch01(p: Mapping[str, Any]) -> list[Step]:
    nd, ns, w, pairs = p["n_dense"], p["n_dense_samples"], p["wishart_n"], p["ks_pairs"]
    steps = [
        # GOE real; GUE complex (about 4 real flops per complex flop); GSE complex of size 2n (4 x 8)
        _eigh_step("dense GOE, GUE, GSE spectra", nd, ns * (1 + 4 + 32)),
        Step("semicircle KS calibration (tridiagonal draws)", "tridiagonal", nd**2, 3 * 2 * pairs * ns),
        Step("level statistics: tridiagonal spectra", "tridiagonal", p["n_levels"] ** 2, 3 * p["n_spectra"]),
        Step("Sigma^2 and Delta_3 of every spectrum", "rigidity", p["n_levels"] * p["L_max"] / 40.0,
             4 * p["n_spectra"] + 7 * p["n_unfold_spectra"]),
    ]
    for q in p["wishart_ratios"]:
        t = round(w / q)
        count = p["n_wishart_samples"] * (1 + 2 * pairs)  # the table's matrices and the KS check's pairs
        steps += [_eigh_step(f"Wishart q = {q:g}: spectra (table and KS pairs)", w, count),
                  Step(f"Wishart q = {q:g}: X X^T", "gemm", 2.0 * w * w * t, count, memory=8 * (w * t + w * w))]
    return steps


def _ch02(p: Mapping[str, Any]) -> list[Step]:
    n = _n_train(p["dataset"], p["n_train"])
    P = _params(p["model_name"], (1, 8, 8), width=p["width"])
    P_log = _params("logistic", (1, 8, 8))
    b, b_log, batches = p["batch_size"], p["logistic_batch"], p["num_batches"]
    slq_products = sum(p["slq_steps"]) * p["slq_probes_default"] + sum(p["slq_probes"]) * max(p["slq_steps"])
    return [
        Step("training (MLP and softmax regression)", "train_pass", n * (P + P_log), p["epochs"],
             calls=2 * p["epochs"] * n / b),
        # H and G at initialisation and trained; the spectra of H, G and R = H - G at both
        Step("full-data H and G (two stages)", "dense_hessian", n * P * P, 4, memory=3 * 8 * P * P),
        _eigh_step("full-data spectra of H, G and R (two stages)", P, 6, torch=True),
        # the MLP's H and G and softmax regression's H, each in float64 and float32
        Step("batch H and G of the MLP (two precisions)", "dense_hessian", b * P * P, 4 * batches,
             memory=3 * 8 * P * P),
        _eigh_step("batch spectra of the MLP (two precisions)", P, 4 * batches, torch=True),
        Step("softmax regression's batch Hessians and spectra", "dense_hessian", b_log * P_log**2, 2 * batches),
        _eigh_step("softmax regression's batch spectra", P_log, 2 * batches, torch=True),
        Step("SLQ: Hessian-vector products over the training set", "hvp", n * P, slq_products, calls=slq_products),
    ]


def _ch03(p: Mapping[str, Any]) -> list[Step]:
    from lib.experiments import batch_hessians as bh
    from lib.nets import data

    steps = []
    for i in p["experiment_ids"]:
        exp = bh.experiment(i, p["scale"], **{k: p[k] for k in ("max_batches", "epochs") if p[k] is not None})
        x, _ = data.load(exp.dataset, "train", **exp.dataset_kwargs)
        n_split = _n_train(exp.dataset) if exp.split == "train" else max(1, x.shape[0] // 4)
        P = _params(exp.model, tuple(x.shape[1:]), **exp.model_kwargs)
        batches = math.ceil(n_split / exp.batch_size)
        batches = min(batches, exp.max_batches) if exp.max_batches else batches
        passes = 2 + (i in p["float32_ids"]) + (i in p["paper_pipeline_ids"])  # init, trained, float32, pipeline
        steps += [
            Step(f"{i}: training ({exp.epochs} epochs, P = {P:,})", "train_pass", x.shape[0] * P, exp.epochs,
                 calls=exp.epochs * x.shape[0] / 64, dtype="f32"),
            Step(f"{i}: {batches} batch Hessians x {passes}", "dense_hessian", exp.batch_size * P * P,
                 batches * passes, memory=3 * 8 * P * P, calls=batches * passes),
            _eigh_step(f"{i}: {batches} batch spectra x {passes}", P, batches * passes, torch=True),
        ]
        if exp.full_data:
            steps += [Step(f"{i}: full-data Hessian", "dense_hessian", n_split * P * P, passes, memory=3 * 8 * P * P),
                      _eigh_step(f"{i}: full-data spectrum", P, passes, torch=True)]
        spectra = min(batches, p["null_max_spectra"] or batches)
        replicas = p["null_replicas_large"] if spectra * P > p["null_large_levels"] else p["null_replicas"]
        steps.append(Step(f"{i}: GOE null ({replicas} draws of {spectra} spectra)", "tridiagonal", float(P) ** 2,
                          replicas * spectra * 2))
    return steps


def _ch04(p: Mapping[str, Any]) -> list[Step]:
    n_cases = 1 + len(p["kpp_grid"]) + len(p["k_cond"]) * len(p["kpp_grid"])
    n = _n_train(p["net_dataset"])
    P = _params(p["net_model"], (1, 8, 8), width=p["net_width"])
    seeds = len(p["net_seeds"])
    sizes = {p["n_grid"], p["n_large"], P}
    return [
        _eigh_step("model spectra, spin-glass / stationary / conditional cases (two conventions)", p["n_grid"],
              2 * n_cases * p["m_grid"]),
        _eigh_step("model spectra, degenerate and outlier cases", p["n_large"], 6 * p["m_large"]),
        Step("networks: training", "train_pass", n * P, seeds * p["net_epochs"],
             calls=seeds * p["net_epochs"] * n / 64),
        Step("networks: full-data Hessians (initial and trained)", "dense_hessian", n * P * P, 2 * seeds,
             memory=3 * 8 * P * P),
        _eigh_step("networks and fitted model: spectra", P, 3 * seeds, torch=True),
        Step("<r~> null bank (GOE and Poisson)", "tridiagonal", float(np.mean([s**2 for s in sizes])),
             2 * len(sizes) * p["null_bank"]),
        Step("bulk-shape null (GOE sets of the networks' size)", "tridiagonal", float(P) ** 2,
             seeds * p["ks_null_replicas"]),
    ]


def _ch05(p: Mapping[str, Any]) -> list[Step]:
    n = _n_train(p["dataset"])
    P = _params(p["model"], (1, 8, 8), width=p["width"])
    seeds = len(p["seeds"])
    grads = seeds * (2 * len(p["distances"]) * p["n_directions"] * 2 + len(p["checkpoints"]) + 4)
    return [
        Step("training", "train_pass", n * P, seeds * p["epochs"], calls=seeds * p["epochs"] * n / 64),
        Step("full-data gradients at perturbed points", "gradient", n * P, grads, calls=grads),
    ]


def _ch06(p: Mapping[str, Any]) -> list[Step]:
    n = _n_train(p["dataset"])
    x_dim = 40 if p["dataset"] == "mnist1d" else 64
    P = _params(p["model"], (x_dim,), width=p["width"])
    epochs = len(p["seeds"]) * sum(p["budgets"])
    return [Step("training runs (every budget and seed)", "train_pass", n * P, epochs, calls=epochs * n / 128),
            # the calibrated AICc rule: the ResNet-50 loss, its error and our runs, one null each
            Step(f"AICc nulls (3 x {p['null_replicas']} replicas)", "aicc_null", p["null_replicas"], 3, calls=3)]


def _ch07(p: Mapping[str, Any]) -> list[Step]:
    from lib.nets import data

    n_mlp = _n_train(p["mlp_dataset"])
    n_h = min(p["n_hessian"] or n_mlp, n_mlp)
    P = _params("mlp", (1, 8, 8))
    checkpoints = len(p["mlp_checkpoints"]) + 1
    steps = [
        Step("MLP training", "train_pass", n_mlp * P, p["mlp_epochs"], calls=p["mlp_epochs"] * n_mlp / 64),
        Step("MLP dense Hessians and GGNs", "dense_hessian", n_h * P * P, 2 * checkpoints, memory=3 * 8 * P * P),
        _eigh_step("MLP exact spectra", P, 2 * checkpoints, torch=True),
        Step("MLP SLQ (spectra, evolution, noise floor)", "hvp", n_h * P,
             2 * p["slq_steps"] * p["slq_probes"] + checkpoints * math.prod(p["evolution_slq"])
             + p["floor_seeds"] * p["slq_steps"]),
    ]
    try:
        x, _ = data.load(p["conv_dataset"], "train")
    except (OSError, ValueError):  # a file-based set that is absent falls back to mnist5k (as the chapter does)
        x, _ = data.load("mnist5k", "train")
    n_conv = min(p["conv_n_train"] or x.shape[0], x.shape[0])
    n_conv_h = min(p["conv_n_hessian"] or n_conv, n_conv)
    for label, spec in p["conv_models"].items():
        width = spec.get("model_kwargs", {}).get("width", 1.0)
        # a ResNet-20 at width w costs about a sixth of VGG-16 at w (0.04 against 0.31 GFLOP per 32x32 image)
        scale = 1.0 if spec["model"] == "vgg16" else 1 / 6
        products = (len(p["conv_checkpoints"]) + 2) * p["conv_slq_steps"] * p["conv_slq_probes"]
        steps += [
            Step(f"{label}: training", "conv_pass", n_conv * width**2 * scale, p["conv_epochs"],
                 calls=p["conv_epochs"] * n_conv / p["conv_batch_size"], dtype="f32"),
            # a Hessian-vector product costs about two forward-backward passes
            Step(f"{label}: SLQ Hessian-vector products", "conv_pass", 2 * n_conv_h * width**2 * scale, products,
                 calls=products * max(1, n_conv_h // 128), dtype="f32"),
        ]
    sweep_models = len(p["sweep_hidden"]) + len(p["sweep_pairs"])
    max_p = max(P, 64 * max(p["sweep_hidden"]) + 10 * max(p["sweep_hidden"]))
    steps += [
        Step("width sweep: training", "train_pass", n_mlp * max_p / 2, sweep_models * p["sweep_epochs"]),
        Step("width sweep: GGNs", "dense_hessian", p["sweep_n_hessian"] * max_p**2 / 4, sweep_models),
        _eigh_step("width sweep: GGN spectra", max_p, sweep_models / 4, torch=True),
        Step("mode connectivity: Bezier training", "train_pass", 64 * P,
             p["bezier_steps"] * 2 * len(p["connectivity_seed_pairs"])),
    ]
    return steps


def _ch08(p: Mapping[str, Any]) -> list[Step]:
    n, sn, cn = p["n"], p["sparse_n"], p["check_n"]
    x_points = 2 * p["grid_points"] + 1
    popdyn = p["population"] * p["sweeps"]
    return [
        _eigh_step("dense products, Wigner x Wishart, free sums, random features", n, 14),
        Step("their matrix products", "gemm", 4.0 * n**3, 14, memory=8 * 6 * n * n),
        _eigh_step("atom-versus-width sweeps", 2 * p["sweep_n"], 30),
        _eigh_step("sparse and percolated matrices", sn, 7 + 8 * p["sparse_samples"]),
        Step("cavity densities (population dynamics)", "popdyn", popdyn * x_points * (10 + 4 + 2),
             memory=16 * 4 * p["population"] * x_points),
        Step("sparse Wishart cavity density", "popdyn", popdyn * p["grid_points"] * 3 * 2),
        _eigh_step("calibrated checks: pairs of samples of 20 laws", cn, 20 * (2 * p["check_pairs"] + 1)),
        Step("calibrated checks: matrix products", "gemm", 4.0 * cn**3, 12 * (2 * p["check_pairs"] + 1)),
    ]


def _ch09(p: Mapping[str, Any]) -> list[Step]:
    # every (Wigner x Wishart law, p) of the table, and about 10 Brent evaluations of the edge complexity (a third
    # of an entry) per p for the breakpoints; the semicircle-with-atom laws are analytic (milliseconds)
    p_count = len(p["p_values"])
    return [Step("Wigner x Wishart laws: thresholds and complexities", "thresholds", 1.0,
                 2 * len(p["ww_ratios"]) * p_count + 10 * p_count / 3)]


def _ch10(p: Mapping[str, Any]) -> list[Step]:
    # the default network (the zoo MLP on the digits): a user's own model is not known before it is loaded, so
    # its estimate is that of the default network's sizes
    n_all = _n_train("digits")
    n = min(p["max_samples"] or n_all, n_all)
    P = _params(p["zoo_model"], (64,), widths=p["zoo_widths"])
    b, m = p["batch_size"], p["max_batches"]
    # a least-squares law fit tabulates a free-probability law once per Nelder-Mead evaluation (about one per
    # iteration plus the initial simplex): each counted as one Wigner x Wishart entry of chapter 9 (rough)
    fit_evaluations = 2 * 3 * (p["lsq_max_iter"] + 4) if p["lsq_max_iter"] else 0
    return [
        Step("training the default network", "train_pass", n_all * P, p["zoo_epochs"],
             calls=p["zoo_epochs"] * n_all / 64),
        Step("dense Hessian and GGN", "dense_hessian", n * P * P, 2, memory=3 * 8 * P * P),
        _eigh_step("exact spectra of H, G and R", P, 3, torch=True),
        Step("batch Hessians", "dense_hessian", b * P * P, m, memory=3 * 8 * P * P),
        _eigh_step("batch spectra", P, m, torch=True),
        Step("GOE null draws of the calibrated rules (and the robustness row's)", "tridiagonal", float(P) ** 2,
             2 * p["null_replicas"] * m),
        Step("least-squares law fits", "thresholds", 1.0, fit_evaluations),
    ]


#: chapter (notebook stem) -> its cost model
MODELS: dict[str, Callable[[Mapping[str, Any]], list[Step]]] = {
    "01_rmt_baselines": _ch01,
    "02_hessians_of_networks": _ch02,
    "03_goe_local_statistics": _ch03,
    "04_true_loss_model": _ch04,
    "05_gradient_decorrelation": _ch05,
    "06_training_budget": _ch06,
    "07_network_spectra_vs_laws": _ch07,
    "08_beyond_semicircle": _ch08,
    "09_layered_critical_points": _ch09,
    "10_diagnose_your_network": _ch10,
}

TORCH_PRIMITIVES = frozenset({"train_pass", "hvp", "gradient", "dense_hessian", "conv_pass"})


@dataclass(frozen=True)
class Estimate:
    """Predicted seconds and peak memory (MB) of one chapter run, on this CPU and on a GPU class; the steps with
    their CPU seconds, largest first."""

    chapter: str
    cpu_seconds: float
    gpu_seconds: float
    peak_memory_mb: float
    steps: list[tuple[str, float]]


def estimate(chapter: str, parameters: Mapping[str, Any], figures: int, coefficients: Mapping[str, float],
             gpu: str = "h100") -> Estimate:
    """The predicted time and peak memory of ``chapter`` run with ``parameters`` (its full set: defaults and
    overrides), with ``figures`` figure cells, from the measured ``coefficients`` (:func:`measure_primitives`)."""
    if chapter not in MODELS:
        raise ValueError(f"no cost model for chapter {chapter!r} (models: {', '.join(MODELS)})")
    card = GPU_CLASSES[gpu]
    fixed = coefficients["kernel_s"] + figures * coefficients["figure_s"]
    cpu = gpu_total = fixed
    memory = 0.0
    timed = []
    for step in MODELS[chapter](parameters):
        seconds = law_seconds(coefficients[step.primitive], coefficients[f"{step.primitive}_call"],
                              step.size * step.count, step.calls or step.count)
        timed.append((step.label, seconds))
        cpu += seconds
        if step.torch or step.primitive in TORCH_PRIMITIVES:
            efficiency = GPU_EIGH_EFFICIENCY if step.primitive == "eigh" else GPU_EFFICIENCY
            rate = card["fp32" if step.dtype == "f32" else "fp64"] * 1e12 * efficiency
            cpu_rate = coefficients["gemm_flops"] * (2 if step.dtype == "f32" else 1)
            gpu_total += max(seconds * cpu_rate / rate, step.calls * GPU_CALL_S)
        else:
            gpu_total += seconds
        memory = max(memory, step.memory)
    return Estimate(chapter, cpu, gpu_total, coefficients["kernel_mb"] + memory / 2**20,
                    sorted(timed, key=lambda t: -t[1]))


def format_estimates(estimates: list[Estimate], gpu: str, coefficients: Mapping[str, float]) -> str:
    """A plain-text table of the estimates, the three costliest steps of each, and the assumptions."""
    def duration(s: float) -> str:
        return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"

    card = GPU_CLASSES[gpu]
    rows = [("chapter", "this CPU (1 thread)", f"{card['name']} (guess)", "peak memory", "costliest steps")]
    for e in estimates:
        top = "; ".join(f"{label} {duration(s)}" for label, s in e.steps[:3])
        rows.append((e.chapter, duration(e.cpu_seconds), duration(e.gpu_seconds), f"{e.peak_memory_mb / 1024:.1f} GiB",
                     top))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=False)) + "  " + r[4] for r in rows]
    lines += ["", f"this CPU: float64 GEMM {coefficients['gemm_flops'] / 1e9:.1f} GFLOP/s on one thread, kernel start "
              f"{coefficients['kernel_s']:.1f} s and {coefficients['kernel_mb']:.0f} MB, a figure "
              f"{coefficients['figure_s']:.2f} s",
              f"GPU: a roofline guess, unverified: torch steps at {GPU_EFFICIENCY:.0%} of the card's peak "
              f"({card['source']}), eigendecompositions at {GPU_EIGH_EFFICIENCY:.0%}, at least "
              f"{GPU_CALL_S * 1e3:g} ms per call; NumPy steps on the host CPU"]
    return "\n".join(lines)
