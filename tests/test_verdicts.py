"""Verdict tables: validation, the JSON round trip through a notebook's outputs, and the summary page."""

from __future__ import annotations

import pytest

from lib.book.verdicts import MIME, Verdict, collect, summary_page, verdict_table


def test_status_and_content_are_validated() -> None:
    with pytest.raises(ValueError, match="not one of"):
        Verdict("P1.1", "claim", "maybe", "evidence")
    with pytest.raises(ValueError, match="needs a claim"):
        Verdict("P1.1", " ", "confirmed", "evidence")


def test_collect_reads_back_what_a_notebook_displayed() -> None:
    v = [Verdict("P2.1", "spectra are not semicircles", "contradicted", "KS = 0.31 | n = 400")]
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
    page = summary_page([("chapters/x", "Chapter X", v)])
    assert "{doc}`Chapter X </chapters/x>`" in page and "contradicted" in page
    assert "No chapter" in summary_page([])


def test_chapters_show_an_html_table_and_the_page_counts_per_paper() -> None:
    from lib.book.verdicts import verdict_html

    v = [Verdict("P1.1", "ratios <are> GOE", "qualified", "6 of 8 & more"),
         Verdict("P2.1", "not semicircles", "confirmed", "KS 0.4"), Verdict("P2.2", "ensembles fit", "open", "n/a")]
    table = verdict_html(v)
    assert table.startswith('<table class="verdict-table">') and table.count("<tr>") == 4  # header and 3 rows
    assert "&lt;are&gt;" in table and "6 of 8 &amp; more" in table  # text is escaped, never markup
    assert '<span class="verdict verdict-qualified">qualified</span>' in table
    page = summary_page([("chapters/a", "A", v[:1]), ("chapters/b", "B", v[1:])])
    assert "| Paper 1 (Baskerville, Granziol & Keating) | 1 | 1 qualified | {doc}`A </chapters/a>` |" in page
    assert "| Paper 2 (Granziol) | 2 | 1 confirmed, 1 open | {doc}`B </chapters/b>` |" in page
    assert page.index("## Summary") < page.index("## Every verdict")
    assert "| chapter | ID | claim | verdict | evidence |" in page
