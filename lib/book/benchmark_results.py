"""The committed benchmark results (``benchmarks/results/<tag>.json``, written by ``benchmarks/run_all.py``).

Each file holds a ``machine`` entry and up to three sections, ``exact_hessian``, ``hvp_over_gradient`` and
``slq``, each with a list of ``rows``. A chapter reads them through :func:`load_results`, shows them with
:func:`tables` and picks rows with :func:`find_row`, which looks a row up by the values of its recorded fields
(``method``, ``problem``) and names what is missing when there is no such row, rather than failing on a bare key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from lib.book.fingerprint import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"


class MissingBenchmarkError(KeyError):
    """A results file lacks the section or the row a claim needs."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def load_results(results_dir: Path = RESULTS_DIR) -> dict[str, dict[str, Any]]:
    """Every results file ``<tag>.json`` of ``results_dir``, parsed, keyed by ``<tag>``, in file-name order."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(Path(results_dir).glob("*.json"))}


def section_rows(result: dict[str, Any], section: str) -> list[dict[str, Any]]:
    """The rows of ``section`` of one results file; :class:`MissingBenchmarkError` naming the section and the
    sections present when it is absent."""
    if section not in result or "rows" not in result[section]:
        present = sorted(k for k, v in result.items() if isinstance(v, dict) and "rows" in v)
        raise MissingBenchmarkError(f"benchmark results have no section {section!r} with rows "
                                    f"(sections present: {', '.join(present) or 'none'})")
    return list(result[section]["rows"])


def find_row(result: dict[str, Any], section: str, **fields: Any) -> dict[str, Any]:
    """The one row of ``section`` whose recorded fields equal ``fields`` (e.g. ``method="ours"``).

    Raises :class:`MissingBenchmarkError` naming the section, the fields asked for and the rows' values of those
    fields when no row matches, and ``ValueError`` when several do.
    """
    if not fields:
        raise ValueError("find_row needs at least one field to match")
    rows = section_rows(result, section)
    found = [row for row in rows if all(name in row and row[name] == value for name, value in fields.items())]
    if not found:
        wanted = ", ".join(f"{name}={value!r}" for name, value in fields.items())
        seen = "; ".join(", ".join(f"{name}={row.get(name)!r}" for name in fields) for row in rows)
        raise MissingBenchmarkError(f"benchmark section {section!r} has no row with {wanted} (rows: {seen or 'none'})")
    if len(found) > 1:
        raise ValueError(f"benchmark section {section!r} has {len(found)} rows matching {fields}")
    return found[0]


def tables(result: dict[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    """The sections of one results file as ``(title, table)`` pairs, in the order exact Hessian, HVP / gradient,
    SLQ (the sections present); the title states the problem size ("" for the exact Hessians, whose table has
    it per row)."""
    out: list[tuple[str, pd.DataFrame]] = []
    if "exact_hessian" in result:
        out.append(("", pd.DataFrame(result["exact_hessian"]["rows"]).set_index("problem")))
    if "hvp_over_gradient" in result:
        h = result["hvp_over_gradient"]
        out.append((f"HVP / gradient time, P = {h['P']}, N = {h['N']}:", pd.DataFrame(h["rows"]).set_index("method")))
    if "slq" in result:
        s = result["slq"]
        out.append((f"SLQ, P = {s['P']}, N = {s['N']}, {s['steps']} steps x {s['probes']} probes "
                    f"(accuracy on P = {s['accuracy_model_P']}):", pd.DataFrame(s["rows"]).set_index("method")))
    return out
