"""The report of :func:`lib.diagnose.diagnose`: a dataclass of plain results, and its JSON summary."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lib.book.verdict_rules import Calibration
from lib.book.verdicts import Verdict

__all__ = ["Report", "to_plain"]


def to_plain(value: Any) -> Any:
    """``value`` with arrays as lists, numpy scalars as Python numbers, dataclasses as dicts and NaN as None:
    what ``json.dumps`` writes."""
    if is_dataclass(value) and not isinstance(value, type):
        return to_plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_plain(value.tolist())
    if isinstance(value, np.generic):
        return to_plain(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass
class Report:
    """What the diagnosis found (:mod:`lib.diagnose.analysis`).

    ``description``: the model, P, N, C, loss and its reduction, dtype and mode; ``plan``: the exact-or-SLQ rule
    and its outcome (``exact``), ``slq_plan`` the SLQ memory plan (empty for exact spectra); ``spectra``: per
    curvature ("hessian", "ggn", "residual") the ascending ``eigenvalues`` (exact) or SLQ ``nodes`` and ``weights``
    (probes x steps); ``norms``: max|lambda| of each; ``rank_bound``: the GGN rank bound r; ``null_space``: counts
    within the round-off floors (exact) or weights near zero (SLQ) against r; ``local_statistics``: the batch-Hessian
    <r~> with its calibrated rules, or the top Lanczos levels; ``law_fits``: one row per (spectrum, law);
    ``verdicts``: D1, D2 with their rules and scales; ``timings``: seconds per step.
    """

    description: dict[str, Any]
    plan: str
    exact: bool
    slq_plan: str
    spectra: dict[str, dict[str, np.ndarray]]
    norms: dict[str, float]
    rank_bound: int
    null_space: dict[str, Any]
    local_statistics: dict[str, Any]
    law_fits: list[dict[str, Any]]
    verdicts: list[Verdict]
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON summary: everything but the spectra themselves (their size, norms and extremes instead), the
        pooled ratios and the fitted laws' measures; calibrations as threshold, false-rejection rate, power and
        sentence."""
        local = {k: _calibration(v) if isinstance(v, Calibration) else v
                 for k, v in self.local_statistics.items() if k != "ratios"}
        laws = [{k: v for k, v in row.items() if k != "fit"} for row in self.law_fits]
        spectra = {}
        for kind, s in self.spectra.items():
            values = s["eigenvalues"] if self.exact else s["nodes"]
            spectra[kind] = {"kind": "exact eigenvalues" if self.exact else "SLQ nodes", "count": int(values.size),
                             "min": float(values.min()), "max": float(values.max())}
        return to_plain({"description": self.description, "plan": self.plan, "exact": self.exact,
                         "slq_plan": self.slq_plan, "spectra": spectra, "norms": self.norms,
                         "rank_bound": self.rank_bound, "null_space": self.null_space, "local_statistics": local,
                         "law_fits": laws, "verdicts": [asdict(v) for v in self.verdicts],
                         "timings": self.timings})

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`summary` to ``path`` (indented JSON); return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.summary(), indent=1))
        return path


def _calibration(rule: Calibration) -> dict[str, Any]:
    return {"threshold": rule.threshold, "false_rejection": rule.false_rejection, "power": rule.power,
            "replicas": rule.replicas, "level": rule.level, "rule": rule.describe()}
