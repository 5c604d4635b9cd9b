"""The committed benchmark results (``benchmarks/results/<tag>.json``, written by ``benchmarks/run_all.py``).

Each file holds a ``machine`` entry, the sections ``exact_hessian``, ``hvp_over_gradient``, ``slq``,
``product_flops`` and ``slq_memory_plan`` (``rows``, or ``plans``), and ``targets``: the issue's targets, each
measured value and whether it was met (:func:`targets`, written by ``run_all.py``). A chapter reads them through
:func:`load_results`, shows them with :func:`tables` and picks rows with :func:`find_row`, which looks a row up by
the values of its recorded fields (``method``, ``problem``) and names what is missing when there is no such row,
rather than failing on a bare key. A row may say why a cell is empty (``not_run``: column -> reason) and a peer that
failed carries its ``error``; the tables show "n/a (reason)" and a one-line explanation instead of blank cells and
tracebacks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
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


def provenance_note(section: dict[str, Any]) -> str:
    """Where a section measured apart from the file's timing run (its own ``machine`` entry) comes from: its commit,
    when it was saved and, where recorded, the processor it ran on ("" for a section of the file's run, or one from
    before the harness recorded them)."""
    machine = section.get("machine") or {}
    if "commit" not in machine:
        return ""
    cpu = f", on {machine['cpu_model']}" if machine.get("cpu_model") else ""
    return (f" [measured apart from this file's run: commit {machine['commit'][:10]}, saved "
            f"{machine.get('saved', '?')}{cpu}]")


def explain_error(error: str) -> str:
    """A peer's recorded error (the ``repr`` of its exception, cut at 200 characters) as one line: "failed:
    <exception type>: <first sentence of its message>"."""
    found = re.match(r"^(\w+)\((['\"])(.*)", error, flags=re.S)
    if not found:
        return f"failed: {error.strip()[:120]}"
    kind, message = found.group(1), found.group(3).rstrip("')\"")
    sentence = re.split(r"(?<=[.;])\s", message, maxsplit=1)[0]
    return f"failed: {kind}: {sentence[:120]}"


def _missing(row: dict[str, Any], column: str) -> str:
    """What an empty cell of ``row`` says: the reason the bench recorded (``not_run``), else that the row's method
    failed or that the value was not measured."""
    reasons = row.get("not_run") or {}
    reason = next((text for key, text in reasons.items() if column.startswith(key)), None)
    if reason is None:
        reason = "the method failed" if "error" in row else "not measured"
    return f"n/a ({reason})"


#: columns of agreement errors (round-off sized): shown in scientific notation, never rounded to "0.0"
_ERROR_COLUMNS = ("max_abs_diff", "rel_diff")

#: what a recorded field means, with its unit, as a column header
LABELS = {
    "path": "path", "P": "P", "N": "N",
    "ours_s": "ours (s)", "torch_func_hessian_s": "torch.func.hessian (s)",
    "func_hessian_over_ours": "speed-up over torch.func.hessian",
    "row_loop_s": "row loop (s, scaled to P)", "row_loop_over_ours": "speed-up over the row loop",
    "max_abs_diff_vs_func": "max |difference| to torch.func.hessian",
    "max_abs_diff_vs_row_loop": "max |difference| to the row loop",
    "seconds_per_vector": "seconds per vector", "hvp_over_gradient": "HVP time / gradient time",
    "rel_diff_vs_ours": "relative difference to ours",
    "seconds": "time (s)", "w1_mean": "W1 to the exact spectrum (mean over seeds)", "w1_se": "standard error of W1",
    "speedup_vs_fastest_peer": "fastest peer's time / this time", "error": "error",
    "w1_to_exact": "W1 to the exact spectrum",
    "gflop_per_vector": "GFLOP per vector", "over_gradient": "FLOPs / a gradient's",
    "over_ours_kept": "FLOPs / ours (primal kept)",
}
#: recorded fields a table leaves out: stated once in its title instead of in every row
_TITLE_FIELDS = ("row_loop_rows_timed",)


def _with_spread(value: Any, spread: Any) -> Any:
    """A median with its repeated timings' quartiles in one cell: "1.13 (IQR 1.06-1.16, n = 5)"."""
    if not isinstance(spread, dict) or not isinstance(value, float | int) or not np.isfinite(value):
        return value
    return f"{value:.3g} (IQR {spread['q1']:.3g}-{spread['q3']:.3g}, n = {spread['n']})"


def _rows(rows: list[dict[str, Any]], index: str) -> pd.DataFrame:
    """A section's rows as a table with labelled columns (:data:`LABELS`): a ratio recorded per round as the
    median of its rounds (the statistic of the targets, "(median per round)"), a timing and its spread (a dict of
    repeated timings, field ``<name>_spread`` beside ``<name>`` or ``<name>_s``) in one cell with the quartiles,
    numbers to three significant digits, agreement errors in scientific notation (after the timings), an error as
    :func:`explain_error`'s line, an empty cell as "n/a (reason)" (:func:`_missing`; a reason repeated in a row is
    written out once, then "n/a (as before)"), per-round and per-seed lists, the ``not_run`` notes and
    :data:`_TITLE_FIELDS` left out."""
    rows = [{**row, **{key.removesuffix("_per_round"): float(np.median(value)) for key, value in row.items()
                       if key.endswith("_per_round") and key.removesuffix("_per_round").endswith("_over_ours")}}
            for row in rows]
    frame = pd.DataFrame(rows).set_index(index)
    frame = frame.drop(columns=[c for c in frame.columns if c.endswith(("_per_round", "_per_seed"))
                                or c == "not_run" or c in _TITLE_FIELDS]).astype(object)
    for column in [c for c in frame.columns if c.endswith("_spread")]:
        base = column.removesuffix("_spread")
        target = base if base in frame.columns else f"{base}_s" if f"{base}_s" in frame.columns else None
        if target is not None:
            frame[target] = [_with_spread(v, s) for v, s in zip(frame[target], frame[column], strict=True)]
        else:
            frame[column] = [f"IQR {v['q1']:.3g}-{v['q3']:.3g} (n = {v['n']})" if isinstance(v, dict) else np.nan
                             for v in frame[column]]
    frame = frame.drop(columns=[c for c in frame.columns if c.endswith("_spread")
                                and (c.removesuffix("_spread") in frame.columns
                                     or f"{c.removesuffix('_spread')}_s" in frame.columns)])
    for column in frame.columns:
        digits = ".1e" if column.startswith(_ERROR_COLUMNS) else ".3g"
        frame[column] = [f"{v:{digits}}" if isinstance(v, float) and np.isfinite(v) else v for v in frame[column]]
    # the agreement errors after the timings they qualify
    frame = frame[[c for c in frame.columns if not c.startswith(_ERROR_COLUMNS) and c != "error"]
                  + [c for c in frame.columns if c.startswith(_ERROR_COLUMNS)]
                  + [c for c in frame.columns if c == "error"]]
    if "error" in frame.columns:
        frame["error"] = [explain_error(v) if isinstance(v, str) else "" for v in frame["error"]]
    for i, row in enumerate(rows):
        said: set[str] = set()
        for j, column in enumerate(frame.columns):
            value = frame.iat[i, j]
            if column != "error" and (value is None or (isinstance(value, float) and np.isnan(value))):
                text = _missing(row, column)
                frame.iat[i, j] = "n/a (as before)" if text in said else text
                said.add(text)
    per_round = {c for row in rows for c in row if f"{c}_per_round" in row}
    return frame.rename(columns={c: LABELS.get(c, c) + (" (median per round)" if c in per_round else "")
                                 for c in frame.columns})


#: the issue's targets (conventions of the engine, not a paper's): exact Hessian over torch.func.hessian, SLQ
#: over the fastest peer, and the GPU the paper-scale SLQ plan must fit
EXACT_OVER_FUNC, SLQ_OVER_PEER, PLAN_GPU_BYTES = 3.0, 3.0, 80e9


def _ratio_text(values: list[float], single: str = "ratio of medians; no per-round record") -> str:
    """Per-round ratios as "median (min-max over n rounds)"; one value as what ``single`` says it is (older files:
    a ratio of medians, or of single timings)."""
    if len(values) == 1:
        return f"{values[0]:.2f}x ({single})"
    return f"{np.median(values):.2f}x ({min(values):.2f}-{max(values):.2f} over {len(values)} rounds)"


def func_hessian_ratios(row: dict[str, Any]) -> list[float]:
    """An exact-Hessian row's speed-ups over torch.func.hessian: the per-round ratios when recorded, else the one
    ratio of medians of an older file ([] when torch.func.hessian was not run). A target or verdict takes their
    median."""
    if "func_hessian_over_ours" not in row:
        return []
    return list(row.get("func_hessian_over_ours_per_round") or [row["func_hessian_over_ours"]])


def _exact_targets(section: dict[str, Any]) -> list[dict[str, Any]]:
    """One target per exact-Hessian problem timed against torch.func.hessian (per-round ratios when recorded)."""
    out = []
    for row in section.get("rows", []):
        ratios = func_hessian_ratios(row)
        if not ratios:
            continue
        path = row.get("path", "generic" if "generic" in row["problem"] else "structured")
        out.append({"target": f"exact Hessian >= {EXACT_OVER_FUNC:g}x torch.func.hessian, {path} path "
                              f"({row['problem']}, P = {row['P']:,})",
                    "measured": _ratio_text(ratios), "met": bool(np.median(ratios) >= EXACT_OVER_FUNC),
                    "rule": f"met when the median of the per-round ratios is >= {EXACT_OVER_FUNC:g}"})
    return out


def slq_speedups(section: dict[str, Any]) -> tuple[dict[str, Any] | None, list[float]]:
    """The fastest timed peer of an SLQ section (least median time) and our speed-ups over it: the per-round ratios
    when both recorded their rounds (round i of every method ran back to back), else the one ratio of their times;
    ``(None, [])`` when ours or every peer is missing or failed. A target or verdict takes their median."""
    rows = section.get("rows", [])
    ours = next((row for row in rows if row.get("method") == "ours" and "seconds" in row), None)
    peers = [row for row in rows if row.get("method") != "ours" and "seconds" in row]
    if ours is None or not peers:
        return None, []
    fastest = min(peers, key=lambda row: row["seconds"])
    if "seconds_per_round" in ours and "seconds_per_round" in fastest:
        return fastest, [p / o for p, o in zip(fastest["seconds_per_round"], ours["seconds_per_round"], strict=True)]
    return fastest, [fastest["seconds"] / ours["seconds"]]


def flop_ratio_note(result: dict[str, Any], peer: str, speedup: float) -> str:
    """What the counted arithmetic (``product_flops``) says of a measured SLQ ``speedup`` over ``peer``: equal FLOP
    rates would give the ratio f of the peer's FLOPs to ours; the rest, speedup / f, is what the peer does besides
    arithmetic; and, below the target, how much faster ours would still have to be. "" when the file has no count for
    ``peer``."""
    rows = {row["method"]: row for row in result.get("product_flops", {}).get("rows", []) if "over_ours_kept" in row}
    if peer not in rows:
        return ""
    flops = rows[peer]["over_ours_kept"]
    note = (f"; {peer}'s product counts {flops:.2f}x our FLOPs (the speed-up equal FLOP rates would give: the measured "
            f"{speedup:.2f}x is {speedup / flops:.2f} times that)")
    if speedup < SLQ_OVER_PEER:
        note += f", so {SLQ_OVER_PEER:g}x needs ours {SLQ_OVER_PEER / speedup:.2f}x faster still"
    return note


def _slq_target(result: dict[str, Any]) -> list[dict[str, Any]]:
    """SLQ against the fastest peer (per-round ratios when recorded) and the most accurate peer's W1, with what the
    counted FLOPs allow where the file has them."""
    section = result["slq"]
    rows = section.get("rows", [])
    target = f"SLQ >= {SLQ_OVER_PEER:g}x the fastest peer at equal or better W1"
    fastest, ratios = slq_speedups(section)
    if fastest is None:
        return [{"target": target, "measured": "n/a (ours or every peer missing or failed)", "met": None,
                 "rule": "not decided without a timed peer"}]
    ours = next(row for row in rows if row.get("method") == "ours")
    single = "one timing each, no rounds"
    accurate = [row for row in rows if row.get("method") != "ours" and "w1_mean" in row]
    best = min(accurate, key=lambda row: row["w1_mean"]) if accurate else None
    w1_ok = best is None or ours["w1_mean"] <= best["w1_mean"] + 2 * np.hypot(ours["w1_se"], best["w1_se"])
    failed = [row["method"] for row in rows if "error" in row]
    measured = (f"{_ratio_text(ratios, single)} faster than {fastest['method']}; W1 {ours['w1_mean']:.3g} ± "
                f"{ours['w1_se']:.2g} (ours) vs {best['w1_mean']:.3g} ± {best['w1_se']:.2g} ({best['method']}, the "
                "most accurate peer)" if best else f"{_ratio_text(ratios, single)} faster than {fastest['method']}")
    if failed:
        measured += f"; failed: {', '.join(failed)}"
    measured += flop_ratio_note(result, fastest["method"], float(np.median(ratios)))
    return [{"target": target, "measured": measured,
             "met": bool(np.median(ratios) >= SLQ_OVER_PEER and w1_ok),
             "rule": f"met when the median per-round speed-up over the fastest peer (in a file without rounds, its "
                     f"one ratio) is >= {SLQ_OVER_PEER:g} and "
                     "our mean W1 is not above the most accurate peer's by more than two standard errors of the "
                     "difference"}]


def _plan_target(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The VGG-16 paper-scale SLQ plans and whether each fits the 80 GB GPU."""
    plans = section.get("plans", {})
    largest = max((p["device_bytes"] for p in plans.values()), default=None)
    return [{"target": f"VGG-16 paper-scale SLQ plan printed and within {PLAN_GPU_BYTES / 1e9:.0f} GB",
             "measured": "n/a (no plan recorded)" if largest is None else
             "predicted device peak " + "; ".join(
                 f"{p['num_probes']} x {p['num_steps']}: {p['device_bytes'] / 1e9:.1f} GB" for p in plans.values()),
             "met": None if largest is None else bool(largest <= PLAN_GPU_BYTES),
             "rule": f"met when every plan's predicted device peak is <= {PLAN_GPU_BYTES / 1e9:.0f} GB"}]


def _bench_target(row: dict[str, Any]) -> dict[str, Any]:
    """A target row a bench recorded itself (``target``, ``measured``, ``met``, and ``rule`` or an upper ``limit``;
    a timed target also its per-round ``spread``), in this module's form: the measured value as text, with its
    range over the rounds when recorded, "n/a (not measured)" when absent, and a rule."""
    value, spread = row.get("measured"), row.get("spread")
    measured = value if isinstance(value, str) else "n/a (not measured)" if value is None else f"{value:.3g}"
    if isinstance(value, float | int) and spread and spread.get("n", 1) > 1:
        measured += f" (median; {spread['min']:.3g}-{spread['max']:.3g} over {spread['n']} rounds)"
    rule = row.get("rule") or (f"met when the {'median' if spread else 'measured value'} is <= {row['limit']:g}"
                               if "limit" in row else "")
    return {"target": row["target"], "measured": measured, "met": row.get("met"), "rule": rule}


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets measured in one results file: dicts with ``target``, ``measured`` (median and spread),
    ``met`` (True, False, or None when not measured) and ``rule`` (how ``met`` is decided). The HVP section
    contributes the rows its bench records under ``targets`` (same keys); a missing section contributes nothing."""
    out = _exact_targets(result["exact_hessian"]) if "exact_hessian" in result else []
    out += [_bench_target(row) for row in result.get("hvp_over_gradient", {}).get("targets", [])]
    if "slq" in result:
        out += _slq_target(result)
    if "slq_memory_plan" in result:
        out += _plan_target(result["slq_memory_plan"])
    return out


def targets_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The targets as a table: target, measured, "met" / "not met" / "n/a (not measured)", rule."""
    verdict = {True: "met", False: "not met", None: "n/a (not measured)"}
    return pd.DataFrame([{"target": r["target"], "measured": r["measured"], "status": verdict[r.get("met")],
                          "rule": r.get("rule", "")} for r in rows], columns=["target", "measured", "status", "rule"]
                        ).set_index("target")


def tables(result: dict[str, Any]) -> list[tuple[str, pd.DataFrame]]:
    """The sections of one results file as ``(title, table)`` pairs, in the order the issue's targets
    (:func:`targets`), exact Hessian, HVP / gradient, SLQ, FLOPs per product, SLQ memory plan (the sections
    present); each title states the problem, its size, what the numbers are and, where recorded, the load of the
    machine while it ran and the commit of a section measured apart."""
    out: list[tuple[str, pd.DataFrame]] = []
    measured = targets(result)
    if measured:
        out.append(("The engine's speed and memory targets (median and range of the per-round ratios; each rule "
                    "in its row):", targets_table(measured)))
    if "exact_hessian" in result:
        e = result["exact_hessian"]
        timed = {row["row_loop_rows_timed"] for row in e["rows"] if "row_loop_rows_timed" in row}
        loop = f" on its first {timed.pop()} rows" if len(timed) == 1 else ""
        out.append(("Exact Hessian: ours against torch.func.hessian and paper 1's row-by-row loop (times are medians "
                    "over the rounds, with their quartiles; a speed-up is the other method's time over ours; the "
                    f"loop is timed once{loop} and scaled to P):{load_note(e)}{provenance_note(e)}",
                    _rows(e["rows"], "problem")))
    if "hvp_over_gradient" in result:
        h = result["hvp_over_gradient"]
        out.append((f"Hessian-vector product time over gradient time, conv net, P = {h['P']:,}, N = {h['N']:,} "
                    f"(the median over rounds of each round's ratio, with quartiles; float32; the relative difference "
                    "to ours is ||Hv - Hv_ours|| / ||Hv_ours|| for one random v, against our traced product):"
                    f"{load_note(h)}"
                    f"{provenance_note(h)}", _rows(h["rows"], "method")))
    if "slq" in result:
        s = result["slq"]
        ours = next((row for row in s["rows"] if row.get("method") == "ours"), {})
        rounds = "" if "seconds_per_round" in ours else " [one timing per method, no rounds]"
        threads = (s.get("machine") or {}).get("cpu_threads")
        threads = f" [{threads} thread(s)]" if threads else ""
        out.append((f"SLQ, conv net, P = {s['P']:,}, N = {s['N']:,}, {s['steps']} steps x {s['probes']} probes, "
                    f"timed from a new operator (accuracy on the P = {s['accuracy_model_P']:,} conv net):"
                    f"{rounds}{threads}{load_note(s)}{provenance_note(s)}", _rows(s["rows"], "method")))
    if "product_flops" in result:
        f = result["product_flops"]
        out.append((f"Arithmetic of one product, conv net, P = {f['P']:,}, N = {f['N']:,}: floating-point "
                    "operations of its matrix products and convolutions, counted (not timed) by torch's "
                    f"FlopCounterMode:{provenance_note(f)}", _rows(f["rows"], "method")))
    if "slq_memory_plan" in result:
        m = result["slq_memory_plan"]
        plans = pd.DataFrame([{"probes x steps": f"{p['num_probes']} x {p['num_steps']}",
                               "probes per chunk": p["probes_per_chunk"], "basis": p["basis_dtype"],
                               "basis on": "host" if p["basis_on_host"] else "GPU",
                               "GPU GB": f"{p['device_bytes'] / 1e9:.1f}", "host GB": f"{p['host_bytes'] / 1e9:.1f}"}
                              for p in m["plans"].values()]).set_index("probes x steps")
        out.append((f"SLQ memory plan, VGG-16 (P = {m['P']:,}) on 50,000 CIFAR-10 images, one "
                    f"{m['gpu_bytes'] / 1e9:.0f} GB GPU (a product holds "
                    f"{m['measured_at_quarter_width']['over_forward_activations']:.1f}x the forward activations per "
                    f"image, measured at quarter width):{provenance_note(m)}", plans))
        out.append(("Accuracy of each basis storage (Wasserstein-1 to the exact spectrum of a 1,500 x 1,500 "
                    f"Wishart matrix, 80 steps x 6 probes):{provenance_note(m)}",
                    _rows(m["storage_accuracy"], "storage")))
    return out
