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
