"""Verdict tables: validation, the JSON round trip through a notebook's outputs, and the summary page."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.book.verdicts import (
    MIME,
    SCALE_NOT_RECORDED,
    Verdict,
    at_scale,
    collect,
    number_range,
    summary_page,
    verdict_html,
    verdict_table,
)


def test_status_and_content_are_validated() -> None:
    with pytest.raises(ValueError, match="not one of"):
        Verdict("P1.1", "claim", "maybe", "evidence")
    with pytest.raises(ValueError, match="needs a claim"):
        Verdict("P1.1", " ", "confirmed", "evidence")
    with pytest.raises(ValueError, match="needs the scale"):
        Verdict("P1.1", "claim", "confirmed", "evidence", " ")


def test_collect_reads_back_what_a_notebook_displayed() -> None:
    v = [Verdict("P2.1", "spectra are not semicircles", "contradicted", "KS = 0.31 | n = 400",
                 "P = 650 | M = 12", True)]
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "# t"},
            {"cell_type": "code", "outputs": [{"output_type": "display_data",
                                               "data": {MIME: [vars(x) for x in v], "text/markdown": "..."}}]},
        ]
    }
    assert collect(notebook) == v
    table = verdict_table(v)
    assert "KS = 0.31 \\| n = 400" in table  # a pipe in the evidence does not break the table
    assert "| P = 650 \\| M = 12 (the paper's scale) |" in table  # nor one in the scale
    page = summary_page([("chapters/x", "Chapter X", v)])
    assert "{doc}`Chapter X </chapters/x>`" in page and "contradicted" in page
    assert "No chapter" in summary_page([])


def test_old_json_without_a_scale_is_still_collected() -> None:
    old = {"claim_id": "P1.1", "claim": "ratios are GOE", "status": "confirmed", "evidence": "<r~> = 0.53"}
    notebook = {"cells": [{"cell_type": "code", "outputs": [{"data": {MIME: [old]}}]}]}
    (v,) = collect(notebook)
    assert v.scale == SCALE_NOT_RECORDED == "not recorded" and v.paper_scale is False
    assert "| <r~> = 0.53 | not recorded | not recorded |" in verdict_table([v])


def test_the_rule_is_shown_under_the_evidence_and_must_not_be_empty() -> None:
    v = Verdict("P1.1", "claim", "confirmed", "evidence", "P = 650", rule="|z| <= 1.96 & calibrated")
    assert '<div class="verdict-rule">Rule: |z| &lt;= 1.96 &amp; calibrated</div>' in verdict_html([v])
    assert "| evidence | \\|z\\| <= 1.96 & calibrated | P = 650 |" in verdict_table([v])
    with pytest.raises(ValueError, match="decision rule"):
        Verdict("P1.1", "claim", "confirmed", "evidence", "P = 650", rule=" ")


def test_the_scale_is_shown_escaped_in_html_and_markdown() -> None:
    cpu = Verdict("P1.1", "claim", "confirmed", "evidence", "P = 650 <digits> & M = 12")
    paper = Verdict("P1.2", "claim", "confirmed", "evidence", "P = 7,850, MNIST", paper_scale=True)
    html_table = verdict_html([cpu, paper])
    assert '<div class="verdict-scale">Scale: P = 650 &lt;digits&gt; &amp; M = 12</div>' in html_table
    assert ('<div class="verdict-scale verdict-paper-scale">Scale: P = 7,850, MNIST (the paper&#x27;s scale)</div>'
            in html_table)
    table = verdict_table([cpu, paper])
    assert table.startswith("| ID | claim | verdict | evidence | rule | scale |")
    assert "| evidence | not recorded | P = 650 <digits> & M = 12 |" in table
    assert "| P = 7,850, MNIST (the paper's scale) |" in table
    assert at_scale([cpu], "N = 1,000 levels", False)[0] == Verdict("P1.1", "claim", "confirmed", "evidence",
                                                                    "N = 1,000 levels", False)
    assert number_range([650, 1610, 650]) == "650-1,610" and number_range([64, 64]) == "64"


def test_the_page_counts_paper_scale_and_cpu_scale_claims_per_paper() -> None:
    def v(cid: str, paper_scale: bool) -> Verdict:
        return Verdict(cid, "claim", "confirmed", "evidence", "P = 1", paper_scale)

    page = summary_page([("chapters/a", "A", [v("P1.1", True), v("P1.2", False), v("P1.3", False)]),
                         ("chapters/b", "B", [v("P2.1", True), v("P2.2", True), v("RMT", False)])])
    assert "| source | claims | verdicts | tested at the papers' scale | only at CPU scale | chapters |" in page
    assert "| Paper 1 (Baskerville, Granziol & Keating) | 3 | 3 confirmed | 1 | 2 | {doc}`A </chapters/a>` |" in page
    assert "| Paper 2 (Granziol) | 2 | 2 confirmed | 2 | 0 | {doc}`B </chapters/b>` |" in page
    assert "| Random-matrix theory and the engine | 1 | 1 confirmed | 0 | 1 | {doc}`B </chapters/b>` |" in page
    assert "| P = 1 (the paper's scale) |" in page and "| P = 1 |" in page


def test_chapters_show_an_html_table_and_the_page_counts_per_paper() -> None:
    v = [Verdict("P1.1", "ratios <are> GOE", "qualified", "6 of 8 & more"),
         Verdict("P2.1", "not semicircles", "confirmed", "KS 0.4"), Verdict("P2.2", "ensembles fit", "open", "n/a")]
    table = verdict_html(v)
    assert table.startswith('<table class="verdict-table">') and table.count("<tr>") == 4  # header and 3 rows
    assert "&lt;are&gt;" in table and "6 of 8 &amp; more" in table  # text is escaped, never markup
    assert '<span class="verdict verdict-qualified">qualified</span>' in table
    page = summary_page([("chapters/a", "A", v[:1]), ("chapters/b", "B", v[1:])])
    assert "| Paper 1 (Baskerville, Granziol & Keating) | 1 | 1 qualified | 0 | 1 | {doc}`A </chapters/a>` |" in page
    assert "| Paper 2 (Granziol) | 2 | 1 confirmed, 1 open | 0 | 2 | {doc}`B </chapters/b>` |" in page
    assert page.index("## Summary") < page.index("## Every verdict")
    assert "| chapter | ID | claim | verdict | evidence | rule | scale |" in page


def test_recorded_verdicts_are_matched_by_claim_and_shown_beside_the_live_ones() -> None:
    from lib.book.records import match_verdicts

    live = [Verdict("P1.1", "ratios are GOE", "qualified", "n = 64", "CPU"),
            Verdict("P1.1", "spacings are GOE", "confirmed", "n = 64", "CPU"),
            Verdict("P2.1", "new claim", "open", "n/a", "CPU")]
    recorded = [Verdict("P1.1", "spacings are GOE", "contradicted", "n = 1,000", "paper", True),
                Verdict("P1.1", "ratios are GOE", "confirmed", "n = 1,000", "paper", True)]
    matched = match_verdicts(live, recorded)
    assert [m.status if m else None for m in matched] == ["confirmed", "contradicted", None]
    table = verdict_html(live, [("paper profile, recorded 2026-12-07", matched)])
    assert "<th>paper profile, recorded 2026-12-07</th>" in table and "not in the record" in table
    assert table.count('class="verdict-recorded"') == 3
    page = summary_page([("chapters/a", "A", live)], {"chapters/a": [("paper run", matched)]})
    assert "| recorded run |" in page and "confirmed (paper run)" in page and "| - |" in page
    assert "| Paper 1 (Baskerville, Granziol & Keating) | 1 confirmed, 1 contradicted | 2 of 2 |" in page
    with pytest.raises(ValueError, match="recorded column has 2 rows for 3"):
        verdict_html(live, [("x", matched[:2])])


def test_a_claim_whose_text_names_a_profile_parameter_is_matched_by_its_identifier() -> None:
    """A claim naming its step count (80 in the build, 160 in the record) pairs by identifier when the identifier
    is unambiguous, showing the recorded claim; an identifier left twice on either side stays unpaired."""
    from lib.book.records import match_verdicts

    live = [Verdict("tools", "SLQ with 80 steps matches", "qualified", "W1 = 0.1", "CPU"),
            Verdict("P1.1", "a", "confirmed", "e", "CPU"), Verdict("P1.1", "b", "confirmed", "e", "CPU")]
    recorded = [Verdict("tools", "SLQ with 160 steps matches", "confirmed", "W1 = 0.01", "paper"),
                Verdict("P1.1", "c", "open", "e", "paper"), Verdict("P1.1", "d", "open", "e", "paper")]
    matched = match_verdicts(live, recorded)
    assert matched[0].status == "confirmed"
    assert matched[0].evidence == "(recorded claim: SLQ with 160 steps matches) W1 = 0.01"
    assert matched[1:] == [None, None]


def test_a_records_commit_is_dirty_for_code_and_not_for_the_records_themselves(tmp_path: Path) -> None:
    """``git_commit`` marks a checkout +dirty when a tracked file changed, except under results/ and
    benchmarks/results/ (the records and benchmark results a run writes while it runs are not the code that computed
    them)."""
    import subprocess

    from lib.book.records import git_commit

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text("{}")
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "cpu.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "c")
    clean = git_commit(tmp_path)
    assert len(clean) == 40
    (tmp_path / "results" / "r.json").write_text('{"new": 1}')
    (tmp_path / "benchmarks" / "results" / "cpu.json").write_text('{"section": 1}')  # saved section by section
    assert git_commit(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == clean + "+dirty"
