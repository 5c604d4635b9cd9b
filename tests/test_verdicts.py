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
