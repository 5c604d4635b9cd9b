"""Lanczos tridiagonalisation, extreme eigenpairs, stochastic Lanczos quadrature (SLQ) and Hutchinson traces.

Works on any symmetric operator with ``matvec``, ``shape``, ``dtype`` and ``device`` (the curvature operators of
``lib.curvature.dense``, or a dense matrix wrapped in ``DenseOperator``). The recurrence runs in float64 whatever the
operator's dtype, with full reorthogonalisation (classical Gram-Schmidt applied twice, "twice is enough",
Giraud et al. 2005), so the Ritz values do not duplicate (no ghost eigenvalues, Paige 1976).

After m steps from a unit vector q_1, A Q_m = Q_m T_m + beta_m q_{m+1} e_m^T with T_m tridiagonal (alphas on the
diagonal, betas off it). With T_m = S diag(theta) S^T:

* Ritz pairs (theta_i, Q_m s_i) have residuals ||A y_i - theta_i y_i|| = beta_m |s_{m,i}| (Parlett 1998, 13.2);
* the Gauss quadrature nodes theta_i and weights tau_i = s_{1,i}^2 reproduce q_1^T A^k q_1 = sum_i tau_i theta_i^k
  exactly for k < 2m (Golub & Meurant 2010, ch. 6). Averaged over random probes this estimates the spectral
  density (1/P) sum_j delta(lambda - lambda_j) (Lin, Saad & Yang 2016; Ghorbani et al. 2019; Papyan 2020).

A breakdown (beta ~ 0: the Krylov space is invariant) restarts from a random vector orthogonal to the basis, with a
zero off-diagonal, so T_m stays exact; the new block gets zero quadrature weight from q_1.

Memory. Full reorthogonalisation keeps every basis vector: probes x steps x P numbers, 36.6 GB in float64 for SLQ
with 3 probes of 100 steps on VGG-16 (P = 15.2 million). :func:`slq_plan` fits a run into a memory budget by, in
order, storing the basis in float32 (the recurrence, the products and the projections stay in float64), running the
probes in chunks (the probes are independent: a chunked run gives the lockstep run's numbers), and keeping the
basis in host memory (each step then moves one vector per probe to the device and back). Each choice's accuracy
cost is measured against exact spectra in ``tests/test_lanczos.py`` and ``benchmarks/bench_slq.py``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

import numpy as np
import torch
from torch import Tensor

from lib.curvature.device import free_memory_bytes
from lib.rmt.measures import Measure, gaussian_density, log_abs_density, spectral_measure


class SymmetricOperator(Protocol):
    """What the algorithms need of a matrix: products with vectors, its shape, dtype and device."""

    shape: tuple[int, int]
    dtype: torch.dtype
    device: torch.device

    def matvec(self, v: Tensor) -> Tensor: ...


class DenseOperator:
    """A dense symmetric matrix (tensor or array) seen as an operator, e.g. a GOE or Wishart test matrix."""

    def __init__(self, matrix: Tensor | np.ndarray, device: torch.device | str | None = None) -> None:
        matrix = torch.as_tensor(matrix)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"the matrix must be square, got shape {tuple(matrix.shape)}")
        if not matrix.dtype.is_floating_point:
            raise ValueError(f"the matrix must be floating point, got {matrix.dtype}")
        # Lanczos assumes A = A^T: the Ritz values of a non-symmetric matrix mean nothing. Allow the round-off of a
        # matrix assembled column by column (a few ulps of its largest entry), refuse anything beyond.
        scale = float(matrix.abs().max()) if matrix.numel() else 0.0
        asymmetry = float((matrix - matrix.T).abs().max()) if matrix.numel() else 0.0
        if asymmetry > 64 * torch.finfo(matrix.dtype).eps * scale:
            raise ValueError(f"the matrix is not symmetric (max |A - A^T| = {asymmetry:.3g}, max |A| = {scale:.3g});"
                             " Lanczos needs a symmetric matrix: symmetrise it, (A + A^T) / 2, if that is meant")
        self.matrix = matrix if device is None else matrix.to(device)
        self.shape = (matrix.shape[0], matrix.shape[1])
        self.dtype = matrix.dtype
        self.device = self.matrix.device

    def matvec(self, v: Tensor) -> Tensor:
        """A v."""
        return self.matrix @ v.to(self.device, self.dtype)

    def matmat(self, V: Tensor) -> Tensor:
        """A V."""
        return self.matrix @ V.to(self.device, self.dtype)


class DiagonalOperator:
    """``diag(values)`` as an operator (O(P) per product): a symmetric matrix in its eigenbasis. SLQ of
    ``A = Q diag(lambda) Q^T`` from a probe ``r`` equals SLQ of ``diag(lambda)`` from ``Q^T r`` (Lanczos only sees
    ``A`` through the Krylov space of its start vector), so repeated SLQ of one matrix is cheap once it is
    diagonalised (:func:`slq` with ``starts``)."""

    def __init__(self, values: Tensor | np.ndarray) -> None:
        values = torch.as_tensor(values)
        if values.ndim != 1 or not values.dtype.is_floating_point:
            raise ValueError(f"the diagonal must be a 1-d floating-point array, got {values.dtype}, {values.ndim}-d")
        self.values = values
        self.shape = (values.shape[0], values.shape[0])
        self.dtype = values.dtype
        self.device = values.device

    def matvec(self, v: Tensor) -> Tensor:
        """diag(values) v."""
        return self.values * v.to(self.device, self.dtype)

    def matmat(self, V: Tensor) -> Tensor:
        """diag(values) V."""
        return self.values[:, None] * V.to(self.device, self.dtype)


def _check_operator(op: SymmetricOperator) -> int:
    for attribute in ("matvec", "shape", "dtype", "device"):
        if not hasattr(op, attribute):
            raise TypeError(f"the operator has no {attribute!r}; wrap a dense matrix in DenseOperator")
    rows, cols = op.shape
    if rows != cols or rows < 1:
        raise ValueError(f"the operator must be square and non-empty, got shape {op.shape}")
    return int(rows)


def _generator(seed: int) -> torch.Generator:
    # probes are drawn on the CPU so that a seed gives the same vectors on every device and rank
    if not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    return torch.Generator(device="cpu").manual_seed(int(seed))


def rademacher(dim: int, num: int, seed: int) -> Tensor:
    """``num`` Rademacher vectors (+-1 entries) of length ``dim`` as a dim x num float64 CPU tensor, seeded."""
    signs = torch.randint(0, 2, (num, dim), generator=_generator(seed), dtype=torch.int64)
    return (2.0 * signs - 1.0).to(torch.float64).T.contiguous()


@dataclass(frozen=True)
class LanczosResult:
    """The tridiagonal matrix of m Lanczos steps and its Ritz pairs.

    ``alphas`` (m,), ``betas`` (m-1,) the off-diagonal, ``last_beta`` = beta_m; ``ritz_values`` ascending with
    ``residuals`` = beta_m |s_{m,i}| >= ||A y_i - theta_i y_i||; ``ritz_vectors`` (P x m, float64, on the
    operator's device) when asked for; ``weights`` = s_{1,i}^2, the quadrature weights of the start vector.
    """

    alphas: np.ndarray
    betas: np.ndarray
    last_beta: float
    ritz_values: np.ndarray
    residuals: np.ndarray
    weights: np.ndarray
    ritz_vectors: Tensor | None
    restarts: int

    def extreme(
        self, k: int, which: Literal["largest", "smallest", "magnitude"] = "largest"
    ) -> tuple[np.ndarray, Tensor | None, np.ndarray]:
        """The k extreme Ritz pairs: (values, vectors P x k or None, residual bounds), extreme first."""
        if not 1 <= k <= len(self.ritz_values):
            raise ValueError(f"k must lie in [1, {len(self.ritz_values)}], got {k}")
        keys = {"largest": -self.ritz_values, "smallest": self.ritz_values, "magnitude": -np.abs(self.ritz_values)}
        if which not in keys:
            raise ValueError(f"which must be one of {sorted(keys)}, got {which!r}")
        order = np.argsort(keys[which], kind="stable")[:k]
        vectors = None if self.ritz_vectors is None else self.ritz_vectors[:, torch.as_tensor(order)]
        return self.ritz_values[order], vectors, self.residuals[order]


def lanczos(
    op: SymmetricOperator,
    num_steps: int,
    seed: int = 0,
    *,
    start: Tensor | None = None,
    compute_vectors: bool = False,
) -> LanczosResult:
    """Run ``num_steps`` Lanczos steps on ``op`` from ``start`` (default: a seeded Rademacher vector).

    Float64 recurrence with full double reorthogonalisation and restart on breakdown; ``num_steps`` <= P.
    """
    dim = _check_operator(op)
    if start is None:
        start = rademacher(dim, 1, seed)
    else:
        start = torch.as_tensor(start)
        if start.shape != (dim,):
            raise ValueError(f"start must have shape ({dim},), got {tuple(start.shape)}")
        start = start[:, None]
    bases, alphas, betas, restarts = _tridiagonalise(op, num_steps, start, seed)
    theta, s = _eigh_tridiagonal(alphas[0], betas[0, :-1])
    vectors = bases[0].T @ torch.as_tensor(s, device=bases.device) if compute_vectors else None
    return LanczosResult(
        alphas=alphas[0],
        betas=betas[0, :-1],
        last_beta=float(betas[0, -1]),
        ritz_values=theta,
        residuals=np.abs(betas[0, -1] * s[-1]),
        weights=s[0] ** 2,
        ritz_vectors=vectors,
        restarts=int(restarts[0]),
    )


#: the types a Lanczos basis may be stored in; the recurrence itself always runs in float64
BasisDtype = Literal["float64", "float32"]
_TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: basis vectors converted to float64 at a time while reorthogonalising a basis stored in float32 (or on the host),
#: which bounds the temporary memory to REORTH_BLOCK vectors per probe
REORTH_BLOCK = 8
#: share of the free memory an SLQ run without a plan may plan for (the operator's own products need the rest)
FREE_MEMORY_SHARE = 0.5
#: float64 vectors of length P per probe that a step holds besides the basis: the new vector w, the product's
#: output, the current basis vector in float64, and the block of REORTH_BLOCK converted basis vectors
WORK_VECTORS = 3 + REORTH_BLOCK


@dataclass(frozen=True)
class SLQPlan:
    """How an SLQ run of ``num_probes`` x ``num_steps`` on a P = ``dim`` operator fits its memory: probes in chunks
    of ``probes_per_chunk``, the basis stored in ``basis_dtype`` on the operator's device or on the host
    (``basis_on_host``), with the predicted peak bytes on the device and on the host (the operator's own memory,
    given to :func:`slq_plan`, included)."""

    dim: int
    num_steps: int
    num_probes: int
    probes_per_chunk: int
    basis_dtype: BasisDtype
    basis_on_host: bool
    device_bytes: int
    host_bytes: int

    def describe(self, device: torch.device | str | None = None) -> str:
        """One line: the choices and the predicted peak memory, for an operator on ``device`` (on the CPU the device
        is the host: one memory, one peak)."""
        chunks = -(-self.num_probes // self.probes_per_chunk)
        head = (f"SLQ {self.num_probes} probes x {self.num_steps} steps on P = {self.dim:,}: "
                f"{chunks} chunk(s) of {self.probes_per_chunk} probe(s), basis in {self.basis_dtype}")
        if device is not None and torch.device(device).type == "cpu":
            return f"{head}; predicted peak {_memory(self.device_bytes + self.host_bytes)} in memory"
        where = "host" if self.basis_on_host else "device"
        host = f", {_memory(self.host_bytes)} on the host" if self.host_bytes else ""
        return f"{head} on the {where}; predicted peak {_memory(self.device_bytes)} on the device{host}"


def _memory(nbytes: int) -> str:
    """Bytes in GiB, or in MiB below 1 GiB (so that a small plan does not read as 0.0 GiB)."""
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.3g} MiB"


def _plan_bytes(dim: int, steps: int, chunk: int, dtype: BasisDtype, on_host: bool, operator_fixed: int,
                operator_per_probe: int) -> tuple[int, int]:
    """Predicted peak (device, host) bytes of one chunk (see :data:`WORK_VECTORS`)."""
    basis = chunk * steps * dim * torch.finfo(_TORCH_DTYPES[dtype]).bits // 8
    work = chunk * dim * 8 * WORK_VECTORS
    device = operator_fixed + chunk * operator_per_probe + work + (0 if on_host else basis)
    host = basis + work if on_host else 0
    return device, host


def slq_plan(dim: int, num_steps: int, num_probes: int, *, device_bytes: int, host_bytes: int | None = None,
             operator_fixed_bytes: int = 0, operator_bytes_per_probe: int = 0) -> SLQPlan:
    """The fastest way to run SLQ within ``device_bytes`` on the device (and ``host_bytes`` on the host, unbounded
    when None): the first of (the basis on the device, then on the host) x (all probes in lockstep, then 2, 3, ...
    equal chunks) x (float64 basis, then float32) whose predicted peak fits. ``operator_fixed_bytes`` is what the
    operator holds whatever the number of vectors (parameters, data, traced maps), ``operator_bytes_per_probe`` what
    one more vector in a product costs it (activations of a pass). Raises ValueError when nothing fits."""
    if not (isinstance(dim, int) and dim >= 1 and isinstance(num_steps, int) and 1 <= num_steps <= dim
            and isinstance(num_probes, int) and num_probes >= 1):
        raise ValueError(f"need P >= 1, 1 <= num_steps <= P and num_probes >= 1, got {dim}, {num_steps}, {num_probes}")
    for on_host in (False, True):
        for chunks in range(1, num_probes + 1):  # fewer chunks first: each chunk is one more pass over the data
            chunk = -(-num_probes // chunks)
            for dtype in get_args(BasisDtype):
                need = _plan_bytes(dim, num_steps, chunk, dtype, on_host, operator_fixed_bytes,
                                   operator_bytes_per_probe)
                if need[0] <= device_bytes and (host_bytes is None or need[1] <= host_bytes):
                    return SLQPlan(dim, num_steps, num_probes, chunk, dtype, on_host, *need)
    smallest = _plan_bytes(dim, num_steps, 1, "float32", True, operator_fixed_bytes, operator_bytes_per_probe)
    raise ValueError(f"SLQ {num_probes} x {num_steps} on P = {dim:,} does not fit: even one probe with a float32 "
                     f"basis on the host needs {smallest[0] / 2**30:.1f} GiB on the device and "
                     f"{smallest[1] / 2**30:.1f} GiB on the host")


def _eigh_tridiagonal(alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tridiagonal = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
    return np.linalg.eigh(tridiagonal)


def _products(op: SymmetricOperator, Q: Tensor) -> Tensor:
    """op applied to the columns of Q (P x k, float64), in one pass when the operator has ``matmat``."""
    if Q.shape[1] > 1 and hasattr(op, "matmat"):
        out = op.matmat(Q.to(op.dtype))
    else:
        out = torch.stack([op.matvec(q.to(op.dtype)) for q in Q.T], dim=1)
    if out.shape != Q.shape:
        raise ValueError(f"the operator returned shape {tuple(out.shape)}, expected {tuple(Q.shape)}")
    if not torch.isfinite(out).all():
        raise ValueError("the operator returned non-finite values")
    return out.to(torch.float64)


def _project(bases: Tensor, count: int, w: Tensor) -> Tensor:
    """Coefficients <q_i, w> (k x count, float64) of w (k x P, float64, on the basis' device) on the first
    ``count`` basis vectors; a float64 basis is used in place, a float32 one in blocks of :data:`REORTH_BLOCK`.

    Both this and :func:`_subtract` multiply with w or the coefficients as a ROW (1 x P or 1 x count) against the
    basis as stored (k x count x P): the column forms (basis x column, or transposed basis x column) send CPU BLAS
    down a strided matrix-vector path several times slower for the same arithmetic."""
    if bases.dtype == torch.float64:
        return torch.bmm(w[:, None, :], bases[:, :count].transpose(1, 2))[:, 0]
    return torch.cat([torch.bmm(w[:, None, :], bases[:, b: b + REORTH_BLOCK].to(torch.float64).transpose(1, 2))[:, 0]
                      for b in range(0, count, REORTH_BLOCK)], dim=1)


def _subtract(bases: Tensor, coefficients: Tensor, w: Tensor) -> None:
    """w -= sum_i coefficients_i q_i, in place (blocks and row form as in :func:`_project`)."""
    count = coefficients.shape[1]
    if bases.dtype == torch.float64:
        w -= torch.bmm(coefficients[:, None, :], bases[:, :count])[:, 0]
        return
    for b in range(0, count, REORTH_BLOCK):
        block = bases[:, b: b + REORTH_BLOCK].to(torch.float64)
        w -= torch.bmm(coefficients[:, None, b: b + REORTH_BLOCK], block)[:, 0]


def _tridiagonalise(
    op: SymmetricOperator, num_steps: int, starts: Tensor, seed: int, *, basis_dtype: BasisDtype = "float64",
    basis_on_host: bool = False,
) -> tuple[Tensor, np.ndarray, np.ndarray, np.ndarray]:
    """Lanczos from each column of ``starts`` (P x k) in lockstep, one operator pass per step for all k.

    The basis is stored in ``basis_dtype`` on the operator's device, or in host memory with ``basis_on_host``;
    the recurrence and the reorthogonalisation run in float64 wherever the basis is.
    Returns bases (k x m x P), alphas (k x m), betas (k x m; betas[:, -1] = beta_m), restarts (k,).
    """
    dim = _check_operator(op)
    if not isinstance(num_steps, int) or not 1 <= num_steps <= dim:
        raise ValueError(f"num_steps must be an integer in [1, P={dim}], got {num_steps!r}")
    if basis_dtype not in _TORCH_DTYPES:
        raise ValueError(f"basis_dtype must be one of {sorted(_TORCH_DTYPES)}, got {basis_dtype!r}")
    device, k = op.device, starts.shape[1]
    store = torch.device("cpu") if basis_on_host else torch.device(device)
    norms = torch.linalg.vector_norm(starts.to(torch.float64), dim=0)
    if not (norms > 0).all():
        raise ValueError("a start vector is zero")
    bases = torch.zeros(k, num_steps, dim, dtype=_TORCH_DTYPES[basis_dtype], device=store)
    bases[:, 0] = (starts.to(torch.float64) / norms).T.to(store)
    alphas, betas = np.zeros((k, num_steps)), np.zeros((k, num_steps))
    scale, restarts = np.zeros(k), np.zeros(k, dtype=int)
    tolerance = 10 * torch.finfo(op.dtype).eps
    generator = _generator(seed + 1)
    for j in range(num_steps):
        current = bases[:, j].to(device, torch.float64)
        w = _products(op, current.T).T.contiguous().to(store)  # k x P
        del current
        for _ in range(2):
            coefficients = _project(bases, j + 1, w)  # k x (j+1)
            _subtract(bases, coefficients, w)
            alphas[:, j] += coefficients[:, j].cpu().numpy()
        betas[:, j] = torch.linalg.vector_norm(w, dim=1).cpu().numpy()
        scale = np.maximum(scale, np.abs(alphas[:, j]) + betas[:, j] + (betas[:, j - 1] if j else 0.0))
        if j == num_steps - 1:
            break
        for i in range(k):
            if betas[i, j] > tolerance * scale[i]:
                bases[i, j + 1] = w[i] / betas[i, j]
                continue
            # invariant subspace found: go on from a random direction orthogonal to it, with zero coupling in T
            restarts[i] += 1
            betas[i, j] = 0.0
            r = (torch.rand(1, dim, generator=generator, dtype=torch.float64) - 0.5).to(store)
            for _ in range(2):
                _subtract(bases[i: i + 1], _project(bases[i: i + 1], j + 1, r), r)
            bases[i, j + 1] = r[0] / torch.linalg.vector_norm(r)
    return bases, alphas, betas, restarts


@dataclass(frozen=True)
class SLQResult:
    """Raw stochastic Lanczos quadrature: ``nodes`` and ``weights`` (num_probes x m), each weight row summing to 1.

    sum_i weights[v, i] f(nodes[v, i]) = q_v^T f(A) q_v for the unit probe q_v (exact for polynomials of degree
    < 2m); averaged over probes it estimates (1/P) tr f(A). ``dim`` is P.
    """

    nodes: np.ndarray
    weights: np.ndarray
    dim: int

    def measure(self, drop_top: int = 0) -> Measure:
        """The spectral measure (probe average, :func:`lib.rmt.measures.spectral_measure`), with the top
        ``drop_top`` nodes of each probe removed."""
        return spectral_measure(self.nodes, self.weights, drop_top=drop_top)

    def density(self, grid: np.ndarray, sigma: float) -> np.ndarray:
        """Gaussian-smoothed spectral density on ``grid`` (see ``gaussian_density``)."""
        return gaussian_density(self.nodes, self.weights, grid, sigma)

    def log_abs_density(self, grid: np.ndarray, sigma: float, floor: float = 1e-30) -> np.ndarray:
        """Smoothed density of log10|lambda| on ``grid`` (see ``log_abs_density``)."""
        return log_abs_density(self.nodes, self.weights, grid, sigma, floor)

    def moments(self, k: int) -> float:
        """Estimate of tr(A^k)/P: the probe average of sum_i w_i theta_i^k."""
        return float(np.mean(np.sum(self.weights * self.nodes**k, axis=1)))


def slq(op: SymmetricOperator, num_steps: int, num_probes: int, seed: int = 0, *,
        plan: SLQPlan | None = None, starts: Tensor | None = None) -> SLQResult:
    """Stochastic Lanczos quadrature with ``num_probes`` seeded Rademacher probes of ``num_steps`` steps each.

    All probes advance together (one ``matmat`` pass over the data per step when the operator has one), or, with
    a ``plan`` (:func:`slq_plan`), in its chunks with its basis storage; the probes are the same either way.
    Without a plan, one is made for :data:`FREE_MEMORY_SHARE` of the device's free memory (and the host's), and
    printed to standard error when it departs from all probes in lockstep with a float64 basis on the device.
    ``starts`` (P x num_probes) replaces the Rademacher probes, e.g. ``Q^T r`` for the same probes ``r`` seen in
    the eigenbasis ``Q`` of a :class:`DiagonalOperator`. Returns the raw nodes and weights; smoothing is separate
    (``SLQResult.density``).
    """
    dim = _check_operator(op)
    if not isinstance(num_probes, int) or num_probes < 1:
        raise ValueError(f"num_probes must be a positive integer, got {num_probes!r}")
    if plan is not None and (plan.dim, plan.num_steps, plan.num_probes) != (dim, num_steps, num_probes):
        raise ValueError(f"the plan is for P = {plan.dim}, {plan.num_probes} x {plan.num_steps}, not P = {dim}, "
                         f"{num_probes} x {num_steps}")
    if starts is not None and tuple(starts.shape) != (dim, num_probes):
        raise ValueError(f"starts must have shape ({dim}, {num_probes}), got {tuple(starts.shape)}")
    if plan is None:
        host = free_memory_bytes("cpu")
        device = host if torch.device(op.device).type == "cpu" else free_memory_bytes(op.device)
        plan = slq_plan(dim, num_steps, num_probes, device_bytes=int(FREE_MEMORY_SHARE * device),
                        host_bytes=int(FREE_MEMORY_SHARE * host))
        if (plan.probes_per_chunk, plan.basis_dtype, plan.basis_on_host) != (num_probes, "float64", False):
            print(f"lanczos: {plan.describe(op.device)}", file=sys.stderr)
    chunk = plan.probes_per_chunk
    options = {"basis_dtype": plan.basis_dtype, "basis_on_host": plan.basis_on_host}
    probes = rademacher(dim, num_probes, seed) if starts is None else starts
    nodes, weights = np.zeros((num_probes, num_steps)), np.zeros((num_probes, num_steps))
    for first in range(0, num_probes, chunk):
        _, alphas, betas, _ = _tridiagonalise(op, num_steps, probes[:, first: first + chunk], seed, **options)
        for v in range(alphas.shape[0]):
            theta, s = _eigh_tridiagonal(alphas[v], betas[v, :-1])
            nodes[first + v], weights[first + v] = theta, s[0] ** 2
    return SLQResult(nodes=nodes, weights=weights, dim=dim)


def hutchinson_trace(op: SymmetricOperator, num_probes: int, seed: int = 0) -> tuple[float, float]:
    """Hutchinson's estimate of tr(A) = E[z^T A z] over Rademacher z, and its standard error (Hutchinson 1990).

    The probes go through in one ``matmat`` pass when the operator has one.
    """
    dim = _check_operator(op)
    if not isinstance(num_probes, int) or num_probes < 1:
        raise ValueError(f"num_probes must be a positive integer, got {num_probes!r}")
    Z = rademacher(dim, num_probes, seed).to(op.device)
    samples = (Z * _products(op, Z)).sum(dim=0).cpu().numpy()
    error = samples.std(ddof=1) / np.sqrt(num_probes) if num_probes > 1 else float("nan")
    return float(samples.mean()), float(error)
