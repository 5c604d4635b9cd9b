"""Shared pytest configuration."""

from __future__ import annotations

import os

import pytest

# Figures in tests never need a screen.
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--book-html",
        default=None,
        help="folder of a built book for the browser test (default: _build/html when it exists)",
    )
