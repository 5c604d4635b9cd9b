"""``--estimate``: the law fit, the cost models, and that estimating runs no chapter (the laws against a larger size
are a timing check: ``benchmarks/estimate_laws.py``)."""

from __future__ import annotations

import pytest

from lib.book import batch, estimates
from lib.book.profiles import chapters


def test_fit_law_recovers_a_known_affine_law():
    """Two exact points of t = 2e-3 size + 0.5 calls give back a = 2e-3 and b = 0.5."""
    a, b = estimates.fit_law((0.5 * 4 + 2e-3 * 100, 100, 4), (0.5 * 4 + 2e-3 * 300, 300, 4))
    assert a == pytest.approx(2e-3) and b == pytest.approx(0.5)


def test_every_chapter_has_a_cost_model():
    assert set(estimates.MODELS) == set(chapters())


FAKE = ({name: 1e-9 for name in estimates.PRIMITIVES} | {f"{name}_call": 0.0 for name in estimates.PRIMITIVES}
        | {"kernel_s": 10.0, "kernel_mb": 500.0, "figure_s": 0.5, "gemm_flops": 1e10})


def test_estimate_runs_no_chapter(monkeypatch, tmp_path, capsys):
    """--estimate prints a line per chapter of the profile and executes nothing (papermill is never called, the
    output folder is never created)."""
    def fail(*args, **kwargs):
        raise AssertionError("--estimate executed a chapter")

    monkeypatch.setattr(batch, "execute", fail)
    monkeypatch.setattr(batch, "run_all", fail)
    monkeypatch.setattr(estimates, "measure_primitives", lambda **kwargs: FAKE)
    out = tmp_path / "out"
    assert batch.main(["--profile", "smoke", "--estimate", "--gpu", "a100", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for name in chapters():
        assert name in text
    assert "NVIDIA A100" in text and "roofline guess" in text
    assert not out.exists()


def test_estimate_grows_with_the_profile():
    """The paper profile costs more than the smoke profile for every chapter it changes (same coefficients)."""
    from lib.book.profiles import load_profile

    known = chapters()
    smoke, paper = load_profile("smoke", known), load_profile("paper", known)
    for name, chapter in known.items():
        if not paper[name]:
            continue
        small = estimates.estimate(name, {**chapter.defaults, **smoke[name]}, 0, FAKE)
        large = estimates.estimate(name, {**chapter.defaults, **paper[name]}, 0, FAKE)
        assert large.cpu_seconds > small.cpu_seconds, name


def test_bad_requests_are_refused_before_anything(capsys):
    assert batch.main(["--profile", "paper", "--chapters", "no_such_chapter", "--estimate"]) == 2
    assert batch.main(["--profile", "no_such_profile", "--estimate"]) == 2
    assert batch.main(["--profile", "paper", "--estimate", "--record"]) == 2
    assert batch.main(["--profile", "paper", "--note", "a note without a record"]) == 2
    assert "unknown chapter" in capsys.readouterr().err
