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


def load_note(section: dict[str, Any]) -> str:
    """What a section's load record says: "" when none was recorded (older results), else the CPU use of other
    processes while it ran, and "BUSY" when it was above the harness's threshold."""
    load = section.get("load")
    if not load:
        return ""
    flag = "BUSY: " if load.get("busy") else ""
    return (f" [{flag}other processes used {load['other_cores_mean']:.2f} cores on average, "
            f"{load['other_cores_max']:.2f} at most]")


def _rows(rows: list[dict[str, Any]], index: str) -> pd.DataFrame:
    """A section's rows as a table; the spread columns (dicts of repeated timings) as "q1-q3" text."""
    frame = pd.DataFrame(rows).set_index(index)
    for column in [c for c in frame.columns if c.endswith("_spread")]:
        frame[column] = [f"{v['q1']:.3g}-{v['q3']:.3g} (n = {v['n']})" if isinstance(v, dict) else ""
                         for v in frame[column]]
    return frame.drop(columns=[c for c in frame.columns if c.endswith("_per_round")])


def tables(result: dict[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    """The sections of one results file as ``(title, table)`` pairs, in the order exact Hessian, HVP / gradient,
    SLQ, SLQ memory plan (the sections present); the title states the problem size and, where recorded, the load
    of the machine while it ran ("" for the exact Hessians without a load record, whose table has the sizes per
    row)."""
    out: list[tuple[str, pd.DataFrame]] = []
    if "exact_hessian" in result:
        e = result["exact_hessian"]
        out.append((load_note(e).strip(), _rows(e["rows"], "problem")))
    if "hvp_over_gradient" in result:
        h = result["hvp_over_gradient"]
        out.append((f"HVP / gradient time, P = {h['P']}, N = {h['N']}:{load_note(h)}", _rows(h["rows"], "method")))
    if "slq" in result:
        s = result["slq"]
        out.append((f"SLQ, P = {s['P']}, N = {s['N']}, {s['steps']} steps x {s['probes']} probes "
                    f"(accuracy on P = {s['accuracy_model_P']}):{load_note(s)}", _rows(s["rows"], "method")))
    if "slq_memory_plan" in result:
        m = result["slq_memory_plan"]
        plans = pd.DataFrame([{"probes x steps": f"{p['num_probes']} x {p['num_steps']}",
                               "chunks of": p["probes_per_chunk"], "basis": p["basis_dtype"],
                               "basis on": "host" if p["basis_on_host"] else "GPU",
                               "GPU GiB": p["device_bytes"] / 2**30, "host GiB": p["host_bytes"] / 2**30}
                              for p in m["plans"].values()]).set_index("probes x steps")
        out.append((f"SLQ memory plan, VGG-16 (P = {m['P']:,}) on 50,000 CIFAR-10 images, one "
                    f"{m['gpu_bytes'] / 1e9:.0f} GB GPU (a product holds "
                    f"{m['measured_at_quarter_width']['over_forward_activations']:.1f}x the forward activations per "
                    "image, measured at quarter width):", plans))
        out.append(("Accuracy of each basis storage (Wasserstein-1 to the exact spectrum of a 1,500 x 1,500 "
                    "Wishart matrix, 80 steps x 6 probes):", pd.DataFrame(m["storage_accuracy"]).set_index("storage")))
    return out
