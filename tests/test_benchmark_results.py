"""Tests of lib.book.benchmark_results: reading results files, looking rows up by their recorded fields, and the
errors that name what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lib.book import benchmark_results as br

RESULT = {
    "machine": {"device": "cpu"},
    "exact_hessian": {"rows": [{"problem": "mlp", "P": 10, "ours_s": 1.0}, {"problem": "softmax", "P": 20}]},
    "hvp_over_gradient": {"P": 10, "N": 5, "rows": [{"method": "ours", "hvp_over_gradient": 1.1},
                                                    {"method": "peer", "hvp_over_gradient": 2.0},
                                                    {"method": "twin", "x": 1}, {"method": "twin", "x": 2}]},
}


def test_find_row_by_recorded_fields():
    assert br.find_row(RESULT, "hvp_over_gradient", method="peer")["hvp_over_gradient"] == 2.0
    assert br.find_row(RESULT, "exact_hessian", problem="softmax", P=20) == {"problem": "softmax", "P": 20}


def test_missing_rows_and_sections_are_named():
    with pytest.raises(br.MissingBenchmarkError, match=r"no row with method='ours, 10 vectors' \(rows: method='ours'"):
        br.find_row(RESULT, "hvp_over_gradient", method="ours, 10 vectors")
    with pytest.raises(br.MissingBenchmarkError, match=r"no row with problem='mlp', P=99"):
        br.find_row(RESULT, "exact_hessian", problem="mlp", P=99)
    with pytest.raises(br.MissingBenchmarkError, match="no section 'slq' .*present: exact_hessian, hvp_over_gradient"):
        br.find_row(RESULT, "slq", method="ours")
    with pytest.raises(ValueError, match="2 rows matching"):
        br.find_row(RESULT, "hvp_over_gradient", method="twin")
    with pytest.raises(ValueError, match="at least one field"):
        br.find_row(RESULT, "hvp_over_gradient")


def test_load_results_and_tables(tmp_path: Path):
    (tmp_path / "b-gpu.json").write_text(json.dumps(RESULT))
    (tmp_path / "a-cpu.json").write_text(json.dumps({"machine": {}}))
    (tmp_path / "notes.txt").write_text("not a results file")
    results = br.load_results(tmp_path)
    assert list(results) == ["a-cpu", "b-gpu"]
    assert br.tables(results["a-cpu"]) == []
    (title_exact, exact), (title_hvp, hvp) = br.tables(results["b-gpu"])
    assert title_exact.startswith("Exact Hessian: ours against torch.func.hessian") and list(exact.index) == [
        "mlp", "softmax"]
    assert title_hvp.startswith("Hessian-vector product time over gradient time, conv net, P = 10, N = 5 (")
    assert list(hvp.index)[:2] == ["ours", "peer"] and "HVP time / gradient time" in hvp.columns


def test_the_committed_results_are_found():
    assert br.RESULTS_DIR.is_dir() and br.load_results(), "benchmarks/results/ should hold the committed results"


def test_spreads_busy_runs_and_the_memory_plan_are_shown():
    spread = {"median": 1.0, "q1": 0.9, "q3": 1.2, "min": 0.8, "max": 1.5, "n": 5}
    result = {
        "machine": {},
        "hvp_over_gradient": {
            "P": 10, "N": 5, "load": {"other_cores_mean": 1.3, "other_cores_max": 2.0, "busy": True},
            "rows": [{"method": "ours", "hvp_over_gradient": 1.1, "hvp_over_gradient_spread": spread,
                      "rel_diff_vs_ours": 2.1e-07}]},
        "exact_hessian": {"rows": [{"problem": "a", "P": 10, "func_hessian_over_ours": 7.9,
                                    "func_hessian_over_ours_per_round": [7.0, 7.7, 9.0],
                                    "max_abs_diff_vs_func": 5e-17}]},
        "slq_memory_plan": {"P": 15_245_130, "gpu_bytes": 80e9,
                            "measured_at_quarter_width": {"over_forward_activations": 4.3},
                            "plans": {"3": {"num_probes": 3, "num_steps": 100, "probes_per_chunk": 3,
                                            "basis_dtype": "float64", "basis_on_host": False,
                                            "device_bytes": 42 * 2**30, "host_bytes": 0}},
                            "storage_accuracy": [{"storage": "float32 basis", "seconds": 1.0, "w1_to_exact": 0.02}]},
    }
    (targets_title, measured), (_, exact), (title, hvp), (plan_title, plans), (_, accuracy) = br.tables(result)
    assert targets_title.startswith("The engine's speed and memory targets")
    assert list(measured["status"]) == ["met", "met"]
    assert "BUSY: other processes used 1.30 cores" in title
    # a median and its quartiles share one cell; no column is left for the spread alone
    assert hvp.loc["ours", "HVP time / gradient time"] == "1.1 (IQR 0.9-1.2, n = 5)"
    assert not [c for c in hvp.columns if "spread" in c]
    # agreement errors stay visible (not rounded to 0.0); a ratio with rounds shows their median, as the targets do
    assert hvp.loc["ours", "relative difference to ours"] == "2.1e-07"
    assert exact.loc["a", "max |difference| to torch.func.hessian"] == "5.0e-17"
    assert exact.loc["a", "speed-up over torch.func.hessian (median per round)"] == "7.7"
    assert measured["measured"].iloc[0].startswith("7.70x")
    assert "P = 15,245,130" in plan_title and plans.loc["3 x 100", "GPU GB"] == "45.1"
    assert accuracy.loc["float32 basis", "W1 to the exact spectrum"] == "0.02"


def test_errors_and_empty_cells_are_explained():
    error = ("RuntimeError('This function was deprecated since version 1.9 and is now removed. `torch.linalg.eig` "
             "returns complex tensors')")
    assert br.explain_error(error) == ("failed: RuntimeError: This function was deprecated since version 1.9 and is "
                                       "now removed.")
    rows = [{"method": "ours", "seconds": 1.0, "w1_mean": 0.1},
            {"method": "peer", "error": error},
            {"method": "other", "seconds": 2.0, "not_run": {"w1": "too large for the exact spectrum"}}]
    frame = br._rows(rows, "method")
    time, w1 = "time (s)", "W1 to the exact spectrum (mean over seeds)"
    # a reason is written out once per row, then referred to
    assert frame.loc["peer", time] == "n/a (the method failed)" and frame.loc["peer", w1] == "n/a (as before)"
    assert frame.loc["peer", "error"].startswith("failed: RuntimeError: This function was deprecated")
    assert frame.loc["other", w1] == "n/a (too large for the exact spectrum)"
    assert frame.loc["ours", "error"] == "" and "not_run" not in frame.columns
    assert not frame.isna().any().any()


def test_timings_carry_their_quartiles_and_a_loop_size_goes_to_the_title():
    spread = {"median": 2.0, "q1": 1.9, "q3": 2.2, "min": 1.8, "max": 2.5, "n": 5}
    rows = [{"problem": "a", "ours_s": 2.0, "ours_spread": spread, "row_loop_rows_timed": 400, "row_loop_s": 9.0},
            {"problem": "b", "ours_s": 3.0, "row_loop_rows_timed": 400,
             "not_run": {"row_loop": "too slow"}}]
    title, frame = br.tables({"exact_hessian": {"rows": rows}})[-1]
    assert "timed once on its first 400 rows and scaled to P" in title
    assert list(frame.columns) == ["ours (s)", "row loop (s, scaled to P)"]
    assert frame.loc["a", "ours (s)"] == "2 (IQR 1.9-2.2, n = 5)" and frame.loc["b", "ours (s)"] == "3"
    assert frame.loc["b", "row loop (s, scaled to P)"] == "n/a (too slow)"


def test_slq_speedups_and_the_flop_ratio():
    section = {"rows": [{"method": "ours", "seconds": 1.0, "seconds_per_round": [1.0, 2.0]},
                        {"method": "a", "seconds": 3.0, "seconds_per_round": [3.0, 3.0]},
                        {"method": "b", "seconds": 5.0}, {"method": "c", "error": "ValueError('no')"}]}
    fastest, ratios = br.slq_speedups(section)
    assert fastest["method"] == "a" and ratios == [3.0, 1.5]
    section["rows"][1].pop("seconds_per_round")  # without rounds on both sides: the one ratio of their times
    assert br.slq_speedups(section)[1] == [3.0]
    assert br.slq_speedups({"rows": [{"method": "ours", "seconds": 1.0}]}) == (None, [])
    flops = {"product_flops": {"rows": [{"method": "a", "over_ours_kept": 1.653}, {"method": "c", "error": "x"}]}}
    # 2.5 / 1.653 = 1.51 from besides arithmetic; 3 / 2.5 = 1.2 still to go; at 3x or more nothing to go
    assert br.flop_ratio_note(flops, "a", 2.5) == (
        "; a's product counts 1.65x our FLOPs (the speed-up equal FLOP rates would give: the measured 2.50x is 1.51 "
        "times that), so 3x needs ours 1.20x faster still")
    assert br.flop_ratio_note(flops, "a", 3.3).endswith("is 2.00 times that)")
    assert br.flop_ratio_note(flops, "c", 2.5) == "" and br.flop_ratio_note({}, "a", 2.5) == ""


def test_targets_state_values_spreads_and_whether_they_were_met():
    spread = {"median": 1.0, "q1": 1.0, "q3": 1.0, "min": 1.0, "max": 1.0, "n": 3}
    result = {
        "exact_hessian": {"rows": [
            {"problem": "mlp", "path": "structured", "P": 10, "func_hessian_over_ours": 5.0,
             "func_hessian_over_ours_per_round": [4.0, 5.0, 6.0]},
            {"problem": "conv-net-generic-32", "P": 20, "func_hessian_over_ours": 2.0},
            {"problem": "big", "P": 30}]},
        "hvp_over_gradient": {"rows": [], "targets": [
            {"target": "hvp", "limit": 1.3, "measured": 1.2, "met": True},
            {"target": "timed", "limit": 5.0, "measured": 4.9, "met": True,
             "spread": {"median": 4.9, "q1": 4.7, "q3": 5.1, "min": 3.97, "max": 6.64, "n": 7}}]},
        "slq": {"rows": [
            {"method": "ours", "seconds": 1.0, "seconds_per_round": [1.0, 1.0, 1.0], "w1_mean": 0.010, "w1_se": 0.001,
             "seconds_spread": spread},
            {"method": "a", "seconds": 3.5, "seconds_per_round": [3.0, 3.5, 4.0], "w1_mean": 0.011, "w1_se": 0.001},
            {"method": "b", "error": "ValueError('no')"}]},
    }
    rows = br.targets(result)
    assert [r["met"] for r in rows] == [True, False, True, True, True]
    assert rows[0]["measured"] == "5.00x (4.00-6.00 over 3 rounds)" and "structured path (mlp" in rows[0]["target"]
    assert "generic path" in rows[1]["target"] and "no per-round record" in rows[1]["measured"]
    assert rows[2] == {"target": "hvp", "measured": "1.2", "met": True, "rule": "met when the measured value is <= 1.3"}
    # a timed target shows the range over its rounds beside the median that decides it (here one crossing 5)
    assert rows[3]["measured"] == "4.9 (median; 3.97-6.64 over 7 rounds)"
    assert rows[3]["rule"] == "met when the median is <= 5"
    assert rows[4]["measured"].startswith("3.50x (3.00-4.00 over 3 rounds) faster than a") and "failed: b" in \
        rows[4]["measured"]
    result["slq"]["rows"][0]["w1_mean"] = 0.015  # worse than peer a by more than two standard errors
    assert br.targets(result)[4]["met"] is False
    table = br.targets_table(rows)
    assert list(table["status"]) == ["met", "not met", "met", "met", "met"]
    title = br.tables({"exact_hessian": result["exact_hessian"]})[0][0]
    assert title.startswith("The engine's speed and memory targets")
    assert br.targets({"machine": {}}) == []


def test_a_section_measured_apart_names_its_commit_and_date():
    """A section carrying its own machine entry (measured apart from the file's run) says so in its title; one of
    the file's run, or from before the harness recorded commits, adds nothing."""
    from lib.book.benchmark_results import provenance_note

    apart = {"machine": {"commit": "0123456789abcdef", "saved": "2026-12-06T02:00:00Z"}}
    assert provenance_note(apart) == (" [measured apart from this file's run: commit 0123456789, "
                                      "saved 2026-12-06T02:00:00Z]")
    assert provenance_note({}) == "" and provenance_note({"machine": {"device": "cpu"}}) == ""
    # the processor, where the harness recorded it: sections of one file may come from different machines
    apart["machine"]["cpu_model"] = "Intel(R) Xeon(R) Processor"
    assert provenance_note(apart).endswith("saved 2026-12-06T02:00:00Z, on Intel(R) Xeon(R) Processor]")
