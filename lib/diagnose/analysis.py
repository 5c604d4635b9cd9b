"""The diagnosis of one trained model: the book's questions asked of any ``torch.nn.Module``.

:func:`diagnose` takes a model, a loss and data and returns a :class:`lib.diagnose.report.Report`:

* the curvature spectra of H = G + R (Hessian, generalised Gauss-Newton G, residual R; Schraudolph 2002, Papyan
  2020) of the MEAN loss over the samples, model in eval mode: exact in float64 when the dense matrices fit this
  machine's memory (:func:`plan_spectra`, the rule stated in the report), stochastic Lanczos quadrature (SLQ,
  :func:`lib.curvature.lanczos.slq` with its memory plan) otherwise;
* the null space: the GGN rank bound r = min(P, sum_n rank H_out,n) (N (C - 1) for softmax cross-entropy), and the
  share of eigenvalues within the round-off floor eps(dtype) P ||H||_2 (:func:`roundoff_floor`) in float64 and in
  float32, the precision paper 1 computed in (Baskerville et al. 2022);
* the local statistics of exact batch Hessians (paper 1's ensemble): the mean spacing ratio <r~> against the GOE's
  0.5307 (Atas et al. 2013) under chapter 3's calibrated rule (:func:`lib.book.paper1_claims.goe_rules`); with
  SLQ, the top Lanczos levels only, which are not a local-statistics sample (stated, no status);
* law fits with bulk and atom separated (chapter 7): every law of :func:`lib.experiments.network_spectra.all_families`
  fitted to the spectrum with its top C eigenvalues removed, judged by the KS distance of the bulk
  (|lambda| > 1e-3 max|lambda|), the atom at zero reported on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lib.book import paper1_claims
from lib.book.verdicts import Verdict
from lib.curvature.dense import batch_hessian_spectra, dense_matrix
from lib.curvature.device import free_memory_bytes
from lib.curvature.ggn_rank import pattern_nullity
from lib.curvature.lanczos import lanczos, slq, slq_plan
from lib.curvature.operators import GGNOperator, HessianOperator, ResidualOperator
from lib.curvature.parameter_space import training_flags
from lib.diagnose.loading import as_tensors, check_inputs, resolve_loss
from lib.diagnose.report import Report
from lib.experiments import batch_hessians as bh
from lib.experiments.network_spectra import all_families
from lib.rmt import law_fits as sf
from lib.rmt import measures as ms
from lib.rmt.level_statistics import GOE_MEAN_MIN_RATIO
from lib.rmt.spacings import spacing_ratios

__all__ = ["EXACT_MEMORY_SHARE", "SpectrumPlan", "diagnose", "gap_null_count", "plan_spectra", "roundoff_floor"]

#: share of the free memory the dense float64 matrices (and eigvalsh's workspace) may take on the exact path
EXACT_MEMORY_SHARE = 0.5
#: dense P x P float64 arrays alive at once on the exact path: H, G, R = H - G and eigvalsh's copy
_DENSE_ARRAYS = 4
_NULL_CLAIM = ("The GGN has at least as many null directions as its bounds predict (P - r, r its rank bound; for a "
               "ReLU MLP under cross-entropy, the count from its activation pattern)")
#: fewer bulk eigenvalues than this and a law fit's bulk KS distance says little (a warning in its row)
MIN_BULK = 200
#: share of the free memory an SLQ run may take (its basis and work vectors, :func:`lib.curvature.lanczos.slq_plan`)
SLQ_MEMORY_SHARE = 0.25


@dataclass(frozen=True)
class SpectrumPlan:
    """Exact or SLQ, and why: ``exact`` when ``need_bytes`` (4 dense P x P float64 arrays) is within
    EXACT_MEMORY_SHARE of ``free_bytes`` and P is within ``max_exact_params`` (if set)."""

    exact: bool
    num_params: int
    need_bytes: int
    free_bytes: int
    max_exact_params: int | None
    reason: str


def plan_spectra(num_params: int, free_bytes: int, max_exact_params: int | None = None) -> SpectrumPlan:
    """Choose exact diagonalisation or SLQ for P = ``num_params`` with ``free_bytes`` of free memory."""
    need = _DENSE_ARRAYS * 8 * num_params**2
    fits = need <= EXACT_MEMORY_SHARE * free_bytes
    allowed = max_exact_params is None or num_params <= max_exact_params
    rule = (f"exact float64 spectra when {_DENSE_ARRAYS} dense P x P float64 arrays ({need / 2**30:.2f} GiB for "
            f"P = {num_params:,}) fit in {EXACT_MEMORY_SHARE:.0%} of the free memory ({free_bytes / 2**30:.1f} GiB)"
            + (f" and P <= {max_exact_params:,}" if max_exact_params is not None else ""))
    verdict = "exact" if fits and allowed else "SLQ"
    why = "" if fits else "; the matrices do not fit" if allowed else ""
    if fits and not allowed:
        why = f"; P exceeds {max_exact_params:,}"
    return SpectrumPlan(fits and allowed, num_params, need, int(free_bytes), max_exact_params,
                        f"{rule}: {verdict}{why}")


def roundoff_floor(norm: float, num_params: int, dtype: torch.dtype) -> float:
    """eps(dtype) P ||H||_2: the size below which an eigenvalue of a symmetric P x P matrix of norm ||H||_2 computed
    in ``dtype`` cannot be told from zero (the backward-error bound of Householder tridiagonalisation, O(P eps ||H||),
    Golub & Van Loan 2013, section 8.3)."""
    return float(torch.finfo(dtype).eps * num_params * norm)


def gap_null_count(eigenvalues: np.ndarray, norm: float, num_params: int) -> int:
    """The numerical null count of a float64 spectrum read from its gap: with a_1 <= ... <= a_P the sorted
    |lambda| (floored at eps^2 ||H||_2, so exact zeros have a logarithm), the index i maximising
    log(a_{i+1} / a_i) over the pairs that straddle or lie in the round-off band, a_i <= eps P ||H||_2 and
    a_{i+1} >= eps ||H||_2 (backward-stable eigensolvers move an exact zero by O(eps ||H||_2) and at most
    O(eps P ||H||_2); Golub & Van Loan 2013, section 8.3); 0 when no |lambda| lies within eps P ||H||_2."""
    eps = float(np.finfo(np.float64).eps)
    a = np.log(np.maximum(np.sort(np.abs(np.asarray(eigenvalues, dtype=float))), eps**2 * norm))
    low, high = np.log(eps * num_params * norm), np.log(eps * norm)
    candidates = np.flatnonzero((a[:-1] <= low) & (a[1:] >= high))
    if candidates.size == 0:
        return int(np.sum(a <= low))
    gaps = a[candidates + 1] - a[candidates]
    return int(candidates[np.argmax(gaps)] + 1)


def _fit_rows(label: str, nodes: np.ndarray, weights: np.ndarray | None, num_classes: int,
              max_iter: int) -> list[dict[str, Any]]:
    """Every law of ``all_families`` fitted to the spectrum with its top ``num_classes`` eigenvalues (per probe, for
    SLQ) removed (:func:`lib.rmt.law_fits.fit_rows`: by moments, and by least squares with ``max_iter`` Nelder-Mead
    iterations unless 0), the better bulk KS of the methods kept per law (its :class:`lib.rmt.law_fits.Fit` under
    ``"fit"``); the atom in 1e-3 max|lambda| of the whole spectrum, observed and predicted by the fitted law."""
    variants = sf.outlier_variants(nodes, weights, num_classes, top_k=())
    ref = sf.reference_variant(variants, num_classes)
    tol = ms.zero_tolerance(variants["k=0"])
    rows = sf.fit_rows(label, {ref: variants[ref]}, all_families(), [ref] if max_iter > 0 else [], zero_tol=tol,
                       max_iter=max(max_iter, 1), log=None)
    measure = variants[ref]
    away = np.abs(measure.nodes) > tol
    bulk_size = int(away.sum()) if weights is None else float(measure.weights[away].sum())  # eigenvalues | weight
    span = (float(measure.nodes[away].min()), float(measure.nodes[away].max())) if away.any() else (0.0, 0.0)
    out = []
    for family in dict.fromkeys(r["family"] for r in rows):
        fits = [r for r in rows if r["family"] == family]
        best = min(fits, key=lambda r: r["KS bulk"] if np.isfinite(r["KS bulk"]) else np.inf)
        law = best["fit"].law
        notes = []
        if np.isfinite(best["KS bulk"]) and abs(best["KS bulk"] - 0.5) < 1e-9:
            notes.append("degenerate fit (bulk KS exactly 0.5)")
        law_span = float(np.ptp(law.nodes[law.weights > 1e-12 * law.weights.max()])) if law.nodes.size else 0.0
        if law_span > 5 * (span[1] - span[0]):
            notes.append("fitted support over 5x wider than the bulk")
        if weights is None and bulk_size < MIN_BULK:
            notes.append(f"bulk of {bulk_size} < {MIN_BULK} eigenvalues")
        out.append({"spectrum": label, "law": family, "outliers removed": ref,
                    "bulk size": bulk_size if weights is None else f"weight {bulk_size:.3f}",
                    "method": best["method"] if len(fits) == 1 else f"{best['method']} (smaller bulk KS)",
                    "bulk KS": float(best["KS bulk"]), "whole KS": float(best["KS"]),
                    "atom observed": float(best["zero obs."]), "atom predicted": float(best["zero pred."]),
                    "params": best["params"], "warning": "; ".join(notes), "fit": best["fit"]})
    return out


def _top_level_ratios(op: HessianOperator, steps: int, seed: int) -> dict[str, Any]:
    """<r~> of the converged top Ritz values of ``steps`` Lanczos steps (residual <= 1e-6 max|theta|): extreme
    levels of one spectrum, not a local-statistics sample (their spacings grow towards the edge)."""
    res = lanczos(op, steps, seed)
    converged = np.sort(res.ritz_values[res.residuals <= 1e-6 * np.max(np.abs(res.ritz_values))])
    r = spacing_ratios(np.unique(converged)) if converged.size >= 3 else np.array([])
    rt = np.minimum(r, 1 / r)
    return {"levels": int(converged.size), "mean_min_ratio": float(np.mean(rt)) if r.size else float("nan"),
            "lanczos_steps": steps, "ratios": r}


def diagnose(
    model: nn.Module,
    loss: str | Callable[[Tensor, Tensor], Tensor],
    data: Any,
    *,
    max_samples: int | None = None,
    max_exact_params: int | None = None,
    batch_size: int = 64,
    max_batches: int = 4,
    slq_steps: int = 80,
    slq_probes: int = 4,
    null_replicas: int = 100,
    n_boot: int = 200,
    lsq_max_iter: int = 20,
    seed: int = 0,
    train_mode: bool = False,
    progress: Callable[[str], None] | None = print,
) -> Report:
    """Diagnose the curvature of ``model`` under ``loss`` on ``data`` (module docstring): a :class:`Report`.

    ``loss``: ``"cross_entropy"``, ``"mse"`` or a callable ``loss(outputs, targets)`` that is a mean or a sum over
    samples (a sum is divided by the batch size: the curvature is always that of the mean loss). ``data``: an
    ``(inputs, targets)`` pair or an iterable of batches (a ``DataLoader``), of which ``max_samples`` samples are
    used, drawn at random with ``seed`` (:func:`lib.diagnose.loading.as_tensors`). The full-data spectra use every
    one of them; the batch Hessians are the first ``max_batches`` consecutive batches of ``batch_size`` samples
    (at least 2 for the pooled unfolding). The calibrated local-statistics rule
    draws ``null_replicas`` GOE sets of the measured sizes with ``n_boot`` bootstrap replicates, as the measurement.
    The law fits run ``lsq_max_iter`` Nelder-Mead iterations of least squares besides the moment fits (0: moments
    only).
    ``progress`` gets one line per step (None: silent).
    """
    say = progress or (lambda _line: None)
    timings: dict[str, float] = {}
    loss_name, loss_fn = resolve_loss(loss)
    x, y = as_tensors(data, max_samples, seed)
    inputs = check_inputs(model, loss_fn, x, y, train_mode=train_mode)
    sampling = (f"{len(x):,} samples drawn at random (seed {seed}) from the data, in that random order; the batch "
                f"Hessians are its first {max_batches} batches of {batch_size}")
    if not y.is_floating_point() and y.ndim == 1:
        counts = np.bincount(y.numpy())
        present = counts[counts > 0]
        sampling += f"; class counts {present.min()} to {present.max()} over {present.size} classes"
        if present.min() < 0.5 * present.mean():
            say(f"diagnose: warning: unbalanced classes in the samples ({present.min()} to {present.max()} per class)")
    mean_loss = inputs.loss_fn
    num_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    model_dtype = next(model.parameters()).dtype
    num_classes = inputs.num_outputs
    plan = plan_spectra(num_params, free_memory_bytes("cpu"), max_exact_params)
    mode = ("training mode (no BatchNorm or dropout)" if train_mode else
            "eval mode (as the model is used for prediction); modules that were in training mode: "
            + (", ".join(inputs.switched_to_eval) or "none"))
    say(f"diagnose: P = {num_params:,} parameters, N = {len(x):,} samples, C = {num_classes} outputs, "
        f"loss {loss_name} ({inputs.reduction} over samples), {mode}")
    say(f"diagnose: {plan.reason}")
    common = {"dtype": torch.float64 if plan.exact else model_dtype, "distributed": False, "train_mode": train_mode}
    ops = {kind: cls(model, mean_loss, (x, y), batch_size=None if plan.exact else batch_size, **common)
           for kind, cls in (("hessian", HessianOperator), ("ggn", GGNOperator), ("residual", ResidualOperator))}
    rank_bound = ops["ggn"].ggn_rank_bound()
    structural = _structural_nullity(model, x, loss_name)
    spectra: dict[str, dict[str, np.ndarray]] = {}
    start = time.perf_counter()
    if plan.exact:
        with training_flags(model, train_mode):
            dense = {kind: dense_matrix(ops[kind]) for kind in ("hessian", "ggn")}
            dense["residual"] = dense["hessian"] - dense["ggn"]
            for kind, matrix in dense.items():
                spectra[kind] = {"eigenvalues": torch.linalg.eigvalsh(matrix).cpu().numpy()}
                say(f"diagnose: exact {kind} spectrum ({time.perf_counter() - start:.1f} s)")
        del dense
        slq_description = ""
    else:
        free = free_memory_bytes("cpu")
        steps = min(slq_steps, num_params)
        splan = slq_plan(num_params, steps, slq_probes, device_bytes=int(SLQ_MEMORY_SHARE * free),
                         host_bytes=int(SLQ_MEMORY_SHARE * free))
        slq_description = splan.describe("cpu")
        say(f"diagnose: {slq_description}")
        with training_flags(model, train_mode):
            for kind, op in ops.items():
                res = slq(op, steps, slq_probes, seed, plan=splan)
                spectra[kind] = {"nodes": res.nodes, "weights": res.weights}
                say(f"diagnose: SLQ {kind} spectrum ({time.perf_counter() - start:.1f} s)")
    timings["spectra"] = time.perf_counter() - start

    def extremes(kind: str) -> float:
        s = spectra[kind]
        return float(np.max(np.abs(s["eigenvalues"] if plan.exact else s["nodes"])))

    norms = {kind: extremes(kind) for kind in spectra}
    null = _null_space(spectra, norms, num_params, rank_bound, plan.exact)
    if structural is not None:
        null |= {"ReLU-pattern null directions": structural["null directions"],
                 "dead units": structural["dead units"]}
    nullity = max(num_params - rank_bound, 0 if structural is None else structural["null directions"])
    linear = plan.exact and norms["residual"] <= null["floor float64"]
    say(f"diagnose: GGN rank bound {rank_bound:,} of P = {num_params:,}; ||R|| / ||H|| = "
        f"{norms['residual'] / max(norms['hessian'], 1e-300):.3g}")

    start = time.perf_counter()
    local = _local_statistics(model, mean_loss, x, y, plan.exact, linear, batch_size, max_batches, null_replicas,
                              n_boot, seed, ops["hessian"], slq_steps, say)
    timings["local statistics"] = time.perf_counter() - start

    start = time.perf_counter()
    fits = []
    for kind in ("hessian", "ggn"):
        s = spectra[kind]
        nodes, weights = (s["eigenvalues"], None) if plan.exact else (s["nodes"], s["weights"])
        fits += _fit_rows(kind, nodes, weights, num_classes, lsq_max_iter)
    timings["law fits"] = time.perf_counter() - start
    say(f"diagnose: law fits ({timings['law fits']:.1f} s)")

    scale = (f"P = {num_params:,}, N = {len(x):,} samples, C = {num_classes}, "
             + (f"exact float64 spectra; batch Hessians: {local.get('batches', 0)} x {batch_size} samples"
                if plan.exact else f"SLQ {min(slq_steps, num_params)} steps x {slq_probes} probes in "
                                   f"{str(model_dtype).removeprefix('torch.')}"))
    verdicts = _verdicts(local, null, nullity, num_params, plan.exact, scale)
    description = {"model": type(model).__name__, "parameters": num_params, "samples": int(len(x)),
                   "outputs": num_classes, "loss": loss_name, "reduction": inputs.reduction,
                   "model dtype": str(model_dtype).removeprefix("torch."),
                   "precision": ("model cast to float64 for every Hessian (full-data and batch)" if plan.exact else
                                 f"SLQ in the model's dtype {str(model_dtype).removeprefix('torch.')}"),
                   "samples used": sampling, "mode": mode}
    return Report(description=description, plan=plan.reason, exact=plan.exact, slq_plan=slq_description,
                  spectra=spectra, norms=norms, rank_bound=rank_bound, null_space=null, local_statistics=local,
                  law_fits=fits, verdicts=verdicts, timings=timings)


def _structural_nullity(model: nn.Module, x: Tensor, loss_name: str) -> dict[str, int] | None:
    """The GGN's null directions counted from the activation pattern of a ReLU MLP with biases under softmax
    cross-entropy (:func:`lib.curvature.ggn_rank.pattern_nullity`: data-null inputs, dead units, rescalings, the
    softmax shift); None for other models and losses."""
    if loss_name != "cross_entropy":
        return None
    try:
        return pattern_nullity(model, x)
    except ValueError:  # not a Flatten/Linear/ReLU/.../Linear network with biases
        return None


def _null_space(spectra: dict[str, dict[str, np.ndarray]], norms: dict[str, float], num_params: int,
                rank_bound: int, exact: bool) -> dict[str, Any]:
    """Counts of eigenvalues within the round-off floor (exact), or weights near zero (SLQ), against the rank bound."""
    h_norm = norms["hessian"]
    out: dict[str, Any] = {"rank bound": rank_bound, "bound's null share": 1 - rank_bound / num_params,
                           "floor float64": roundoff_floor(h_norm, num_params, torch.float64),
                           "floor float32": roundoff_floor(h_norm, num_params, torch.float32)}
    if exact:
        out["floor float64 (eps ||H||)"] = float(torch.finfo(torch.float64).eps * h_norm)
    for kind in ("hessian", "ggn"):
        s = spectra[kind]
        if exact:
            eigs = np.abs(s["eigenvalues"])
            for precision in ("float64", "float32"):
                count = int(np.sum(eigs <= out[f"floor {precision}"]))
                out[f"{kind} below floor {precision}"] = count
                out[f"{kind} share below floor {precision}"] = count / num_params
            out[f"{kind} below eps ||H||"] = int(np.sum(eigs <= out["floor float64 (eps ||H||)"]))
            out[f"{kind} null count (gap)"] = gap_null_count(s["eigenvalues"], h_norm, num_params)
            for rel in (bh.RELATIVE_CUT, 1e-3):  # the local statistics' cut-off and the law fits' atom window
                out[f"{kind} below {rel:g} max|lambda|"] = int(np.sum(eigs <= rel * norms[kind]))
            out[f"{kind} negative share"] = float(np.mean(s["eigenvalues"] < -out["floor float64"]))
        else:
            whole = ms.spectral_measure(s["nodes"], s["weights"])
            tol = ms.zero_tolerance(whole)
            out[f"{kind} weight near zero"] = ms.weight_near_zero(whole, tol)
            out[f"{kind} negative weight"] = float(whole.weights[whole.nodes < -tol].sum())
    out["window"] = ("|lambda| <= eps P ||H||_2 (float64 and float32 floors)" if exact
                     else "|lambda| <= 1e-3 max|lambda| of the SLQ measure")
    return out


def _local_statistics(model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor,
                      exact: bool, linear: bool, batch_size: int, max_batches: int, replicas: int, n_boot: int,
                      seed: int, hessian: HessianOperator, slq_steps: int, say: Callable[[str], None]) -> dict:
    """<r~> of the genuine levels of exact batch Hessians with chapter 3's calibrated rule, or the top Lanczos
    levels of the full Hessian when exact spectra are not affordable."""
    if not exact:
        out = _top_level_ratios(hessian, min(slq_steps, hessian.shape[0]), seed)
        say(f"diagnose: top Lanczos levels: {out['levels']} converged, <r~> = {out['mean_min_ratio']:.4f}")
        return {"kind": "top Lanczos levels"} | out
    if len(x) < 2 * batch_size:
        return {"kind": "none", "reason": f"fewer than 2 batches of {batch_size} samples in {len(x)} samples"}
    batches = batch_hessian_spectra(model, loss_fn, (x, y), batch_size, max_batches=max_batches,
                                                 drop_last=True)
    say(f"diagnose: {len(batches)} exact batch Hessians of {batch_size} samples")
    entry = {"eigenvalues": batches.eigenvalues, "rank_bounds": batches.rank_bounds,
             "rank_bound_valid": linear}
    selection = ({"genuine (rank bound)": {"rank": True}} if linear
                 else {f"genuine (|l| > {bh.RELATIVE_CUT:g} max)": {"cutoff": bh.RELATIVE_CUT, "relative": True}})
    table = bh.summary_table({"batch Hessians": entry}, selection, ("pool",), n_boot=n_boot, seed=seed)
    if table.empty:
        return {"kind": "none", "reason": "fewer than 3 genuine levels per batch spectrum"}
    table = paper1_claims.calibrated_table(table, replicas=replicas, n_boot=n_boot, seed=seed)
    row = table.iloc[0]
    rule = row.ratio_rule
    say(f"diagnose: <r~> = {row.mean_min_ratio:.4f} [{row.ci_lo:.4f}, {row.ci_hi:.4f}]; calibrated threshold "
        f"{rule.threshold:.4g}, false rejection {rule.false_rejection:.1%}, power {rule.power:.0%}")
    robust = _top_levels_robustness(batches, [int(c) for c in row.level_counts], replicas, n_boot, seed)
    return robust | {"kind": "batch Hessians", "batches": len(batches), "batch size": batch_size,
            "selection": str(row.selection), "levels per batch": [int(c) for c in row.level_counts],
            "batch rank bounds": [int(b) for b in batches.rank_bounds],
            "mean_min_ratio": float(row.mean_min_ratio), "ci_lo": float(row.ci_lo), "ci_hi": float(row.ci_hi),
            "ratio_miss": float(row.ratio_miss), "ks_ratio_goe": float(row.ks_ratio_goe),
            "ks_ratio_poisson": float(row.ks_ratio_poisson), "ratios": bh.pooled_ratios(
                batches.eigenvalues, **_selection_kwargs(selection, batches.rank_bounds)),
            "goe_like": bool(row.goe_like), "ratio_ks_ok": bool(row.ratio_ks_ok),
            "ratio rule": rule, "ratio_ks rule": row.ratio_ks_rule}


def _top_levels_robustness(batches: Any, kept: list[int], replicas: int, n_boot: int, seed: int) -> dict[str, Any]:
    """A robustness check of D1's level selection: <r~> of the top min(b (C - 1), kept) levels by |lambda| of each
    batch Hessian (b (C - 1) its GGN rank bound), under the same calibrated rule simulated at those sizes. Levels
    beyond the GGN's rank come from R and the near-null region; this row leaves them out. Empty when every batch
    kept no more levels than its bound (the selection would be the same)."""
    top = np.minimum(np.asarray(batches.rank_bounds), np.asarray(kept))
    if np.array_equal(top, kept):
        return {"top levels": "same as the levels kept (none beyond the batch rank bound)"}
    entry = {"eigenvalues": batches.eigenvalues, "rank_bounds": top, "rank_bound_valid": True}
    table = bh.summary_table({"top": entry}, {"top": {"rank": True}}, ("pool",), n_boot=n_boot, seed=seed)
    if table.empty:
        return {"top levels": "fewer than 3 levels per batch"}
    row = paper1_claims.calibrated_table(table, replicas=replicas, n_boot=n_boot, seed=seed).iloc[0]
    return {"top levels": f"top min(b (C - 1), kept) = {', '.join(map(str, top))} levels",
            "top mean_min_ratio": float(row.mean_min_ratio), "top ci_lo": float(row.ci_lo),
            "top ci_hi": float(row.ci_hi), "top ratio_miss": float(row.ratio_miss),
            "top goe_like": bool(row.goe_like), "top ratio rule": row.ratio_rule}


def _selection_kwargs(selection: dict[str, dict[str, Any]], rank_bounds: np.ndarray) -> dict[str, Any]:
    sel = dict(next(iter(selection.values())))
    if sel.pop("rank", False):
        sel["rank_bounds"] = rank_bounds
    return sel


def _verdicts(local: dict, null: dict, nullity: int, num_params: int, exact: bool, scale: str) -> list[Verdict]:
    """D1: local statistics GOE-like (chapter 3's calibrated <r~> rule); D2: the GGN's null space at least
    ``nullity`` = max(P - r, the ReLU-pattern count where it applies), a theorem: an exact check against the
    round-off floor; with SLQ, the weight near zero against nullity / P, which SLQ only estimates."""
    out = []
    if local["kind"] == "batch Hessians":
        rule = local["ratio rule"]
        out.append(Verdict(
            "D1", "The batch Hessians' local statistics are GOE-like", "confirmed" if local["goe_like"] else
            "contradicted",
            f"<r~> = {local['mean_min_ratio']:.4f} [{local['ci_lo']:.4f}, {local['ci_hi']:.4f}] against "
            f"{GOE_MEAN_MIN_RATIO:.4f} (GOE; Poisson 0.3863); 0.5307 outside the interval by {local['ratio_miss']:.4g}"
            + (f"; robustness, not deciding ({local['top levels']}): <r~> = {local['top mean_min_ratio']:.4f}, "
               f"{'GOE-like' if local['top goe_like'] else 'not GOE-like'} under its own calibration"
               if "top ratio rule" in local else ""),
            scale, rule=rule.describe()))
    else:
        evidence = (f"top {local['levels']} converged Lanczos levels: <r~> = {local['mean_min_ratio']:.4f}; extreme "
                    "levels are not a local-statistics sample" if local["kind"] == "top Lanczos levels"
                    else local.get("reason", "not measured"))
        out.append(Verdict("D1", "The batch Hessians' local statistics are GOE-like", "open", evidence, scale,
                           rule="no status without exact batch spectra (convention): the top Lanczos levels are "
                                "shown for context only"))
    if exact:
        count = null["ggn null count (gap)"]
        ok = count >= nullity
        excess = count - nullity
        tight = ("the bound is met" if excess == 0 else
                 f"the larger bound explains {nullity:,} of about {count:,} null directions "
                 f"({excess:,} = {excess / num_params:.1%} of P unexplained: the bound is "
                 + ("far from tight)" if excess > 0.1 * count else "nearly tight)") if ok else
                 f"{-excess:,} fewer than the bound")
        out.append(Verdict(
            "D2", _NULL_CLAIM, "confirmed" if ok else "contradicted",
            f"GGN null count from the spectrum's gap: {count:,} of P = {num_params:,} "
            f"({null['ggn below eps ||H||']:,} within eps ||H||_2 = {null['floor float64 (eps ||H||)']:.3g}, "
            f"{null['ggn below floor float64']:,} within the pessimistic eps P ||H||_2 = "
            f"{null['floor float64']:.3g}); bounds: P - r = {max(num_params - null['rank bound'], 0):,}"
            + (f", ReLU pattern {null['ReLU-pattern null directions']:,}" if "dead units" in null else "")
            + f"; {tight}. Hessian: {null['hessian null count (gap)']:,} from its gap",
            scale, rule="exact check of theorems (rank J^T H_out J <= rank H_out; the null directions of a ReLU "
                        "MLP's activation pattern), one-sided: confirmed when the GGN's null count, read at the "
                        "largest gap of its sorted |lambda| in the round-off band [eps ||H||_2, eps P ||H||_2], "
                        "is at least the larger bound; how far the count exceeds the bound is reported, not "
                        "judged"))
    else:
        share = null["ggn weight near zero"]
        out.append(Verdict(
            "D2", _NULL_CLAIM, "open",
            f"SLQ weight of the GGN within 1e-3 max|lambda|: {share:.3f}; the bounds' share {nullity / num_params:.3f}",
            scale, rule="no status from SLQ (convention): its weight near zero is an estimate without a calibrated "
                        "noise floor here"))
    return out
