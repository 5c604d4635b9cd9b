"""``python -m lib.batch`` reports each chapter as it starts and ends, with the time so far and what is left."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_batch import make_book

from lib.book import batch


def test_a_line_per_chapter_with_times_and_an_estimate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    book = make_book(tmp_path / "book")
    out = tmp_path / "out"
    args = ["--profile", "smoke", "--chapters", "good", "bad", "--out", str(out), "--root", str(book), "--no-progress"]
    assert batch.main(args) == 0
    first = capsys.readouterr().err
    assert re.search(r"^\[1/2\] good: running; no recorded time for what is left$", first, re.M)
    assert re.search(r"^\[1/2\] good: ok in \d+ s; \d+ s so far, ", first, re.M)
    assert re.search(r"^\[2/2\] bad: ok in \d+ s; .* nothing left$", first, re.M)
    # a rerun knows how long each run took: the estimate is made before anything runs
    assert batch.main([*args, "--force"]) == 0
    second = capsys.readouterr().err
    assert re.search(r"^\[1/2\] good: running, \d+ s last time; about \d+ s left$", second, re.M)
    assert re.search(r"^\[1/2\] good: ok in \d+ s; \d+ s so far, about \d+ s left$", second, re.M)
    assert batch.main(args) == 0  # nothing to do: every run is cached, and said so
    assert re.search(r"^\[2/2\] bad: cached \(unchanged since its last run\)$", capsys.readouterr().err, re.M)
