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
    assert title_exact == "" and list(exact.index) == ["mlp", "softmax"]
    assert title_hvp == "HVP / gradient time, P = 10, N = 5:" and list(hvp.index)[:2] == ["ours", "peer"]


def test_the_committed_results_are_found():
    assert br.RESULTS_DIR.is_dir() and br.load_results(), "benchmarks/results/ should hold the committed results"


def test_spreads_busy_runs_and_the_memory_plan_are_shown():
    spread = {"median": 1.0, "q1": 0.9, "q3": 1.2, "min": 0.8, "max": 1.5, "n": 5}
    result = {
        "machine": {},
        "hvp_over_gradient": {
            "P": 10, "N": 5, "load": {"other_cores_mean": 1.3, "other_cores_max": 2.0, "busy": True},
            "rows": [{"method": "ours", "hvp_over_gradient": 1.1, "hvp_over_gradient_spread": spread}]},
        "slq_memory_plan": {"P": 15_245_130, "gpu_bytes": 80e9,
                            "measured_at_quarter_width": {"over_forward_activations": 4.3},
                            "plans": {"3": {"num_probes": 3, "num_steps": 100, "probes_per_chunk": 3,
                                            "basis_dtype": "float64", "basis_on_host": False,
                                            "device_bytes": 42 * 2**30, "host_bytes": 0}},
                            "storage_accuracy": [{"storage": "float32 basis", "seconds": 1.0, "w1_to_exact": 0.02}]},
    }
    (title, hvp), (plan_title, plans), (_, accuracy) = br.tables(result)
    assert "BUSY: other processes used 1.30 cores" in title
    assert hvp.loc["ours", "hvp_over_gradient_spread"] == "0.9-1.2 (n = 5)"
    assert "P = 15,245,130" in plan_title and plans.loc["3 x 100", "GPU GiB"] == 42
    assert accuracy.loc["float32 basis", "w1_to_exact"] == 0.02
