"""The targets ``benchmarks/run_all.py`` states after a run cover the whole results file: the sections of the run
merged with those an earlier run left there, each flagged when it was measured on a busy machine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from run_all import file_targets  # noqa: E402


def test_targets_cover_the_sections_of_earlier_runs(tmp_path: Path):
    busy = {"other_cores_mean": 1.2, "other_cores_max": 2.0, "busy": True}
    data = {
        "machine": {"device": "cpu"},
        # an earlier run's section
        "exact_hessian": {"rows": [{"problem": "mlp", "path": "structured", "P": 10, "func_hessian_over_ours": 5.0,
                                    "func_hessian_over_ours_per_round": [4.0, 5.0, 6.0]}]},
        # this run's section, measured while other processes were busy
        "slq": {"load": busy, "rows": [
            {"method": "ours", "seconds": 1.0, "seconds_per_round": [1.0, 1.0], "w1_mean": 0.01, "w1_se": 0.001},
            {"method": "peer", "seconds": 2.0, "seconds_per_round": [2.0, 2.0], "w1_mean": 0.01, "w1_se": 0.001}]},
        "targets": {"rows": [{"target": "stale", "measured": "", "met": True, "rule": ""}]},
    }
    path = tmp_path / "cpu.json"
    path.write_text(json.dumps(data))
    summary = file_targets(path)
    assert summary["sections"] == ["exact_hessian", "slq"] and summary["busy_sections"] == ["slq"]
    assert [row["met"] for row in summary["rows"]] == [True, False]  # 5x over torch.func.hessian; SLQ only 2x
    assert summary["rows"][0]["target"].startswith("exact Hessian >= 3x torch.func.hessian, structured path (mlp")
    assert summary["rows"][1]["measured"].startswith("2.00x (2.00-2.00 over 2 rounds) faster than peer")
