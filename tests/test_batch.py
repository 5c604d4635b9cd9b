"""The papermill batch runner and the book renderer, on a tiny book built in a temporary folder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from lib.book import batch, profiles
from lib.book import render as book_module
from lib.book.fingerprint import REPO_ROOT, lib_dependencies, notebook_fingerprint

OK_NOTEBOOK = [
    ("n = 3\nscale = 0.5\nlabel = 'x'", True),
    ("import lib.rmt.laws\nresult = n * scale\nprint(result)", False),
    ("import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()", False),
    ("from lib.book.verdicts import Verdict, show_verdicts\n"
     "show_verdicts([Verdict('P0', 'products are products', 'confirmed', f'n * scale = {result}')])", False),
]
FAILING_NOTEBOOK = [("fail = True", True), ("if fail:\n    raise RuntimeError('planned failure')", False)]


def _write_notebook(path: Path, cells: list[tuple[str, bool]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("# A chapter"))
    for source, is_parameters in cells:
        cell = nbformat.v4.new_code_cell(source)
        if is_parameters:
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nbformat.write(nb, path)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A book with two chapters (one that works, one that fails when asked to) and a smoke profile."""
    (tmp_path / "chapters" / "params").mkdir(parents=True)
    _write_notebook(tmp_path / "chapters" / "good.ipynb", OK_NOTEBOOK)
    _write_notebook(tmp_path / "chapters" / "bad.ipynb", FAILING_NOTEBOOK)
    toc = {"format": "jb-book", "root": "intro",
           "chapters": [{"file": "verdicts"}, {"file": "chapters/good"}, {"file": "chapters/bad"}]}
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    (tmp_path / "intro.md").write_text("# Intro\n\nThe semicircle $\\rho(x) = \\sqrt{4 - x^2} / (2\\pi)$.\n")
    for name in ("_config.yml", "references.bib"):
        (tmp_path / name).write_bytes((REPO_ROOT / name).read_bytes())
    (tmp_path / "chapters" / "params" / "smoke.yaml").write_text("good:\n  n: 1\nbad:\n  fail: false\n")
    return tmp_path


def test_chapters_come_from_the_toc_with_their_defaults(book: Path) -> None:
    known = profiles.chapters(book)
    assert list(known) == ["good", "bad"]
    assert known["good"].defaults == {"n": 3, "scale": 0.5, "label": "x"}


def test_profile_overrides_and_validation(book: Path) -> None:
    runs = batch.plan("smoke", root=book, out=book / "_out")
    assert {r.chapter: r.parameters for r in runs} == {"good": {"n": 1}, "bad": {"fail": False}}
    runs = batch.plan("smoke", ["good"], ["good.scale=2"], root=book, out=book / "_out")
    assert runs[0].parameters == {"n": 1, "scale": 2}
    with pytest.raises(profiles.ProfileError, match="no parameter 'nn'"):
        batch.plan("smoke", overrides=["good.nn=2"], root=book)
    with pytest.raises(profiles.ProfileError, match="expects int"):
        batch.plan("smoke", overrides=["good.n=abc"], root=book)
    with pytest.raises(profiles.ProfileError, match="unknown chapter 'ugly'"):
        batch.plan("smoke", ["ugly"], root=book)
    with pytest.raises(profiles.ProfileError, match="profile 'paper' not found"):
        batch.plan("paper", root=book)
    with pytest.raises(profiles.ProfileError, match="not of the form"):
        batch.plan("smoke", overrides=["good=3"], root=book)


def test_grid_is_the_cartesian_product(book: Path, tmp_path: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text("good:\n  n: [1, 2, 3]\n  scale: [0.1, 0.2]\n")
    runs = batch.plan("smoke", ["good"], grid=grid, root=book, out=book / "_out")
    assert sorted((r.parameters["n"], r.parameters["scale"]) for r in runs) == [
        (n, s) for n in (1, 2, 3) for s in (0.1, 0.2)
    ]
    assert len({r.output for r in runs}) == 6
    grid.write_text("good:\n  n: [1, 'x']\n")
    with pytest.raises(profiles.ProfileError, match="expects int"):
        batch.plan("smoke", grid=grid, root=book)


def test_fingerprint_follows_lib_imports(book: Path) -> None:
    deps = {p.name for p in lib_dependencies(["from lib.book.batch import plan"])}
    # lib.book.batch imports lib.book.profiles, which imports lib.book.fingerprint: all reached transitively
    assert {"batch.py", "profiles.py", "fingerprint.py", "__init__.py"} <= deps
    assert "laws.py" not in deps
    path = book / "chapters" / "good.ipynb"
    assert notebook_fingerprint(path, {"n": 1}) != notebook_fingerprint(path, {"n": 2})


@pytest.mark.slow
def test_run_skip_force_and_failure(book: Path) -> None:
    out = book / "_out"
    runs = batch.plan("smoke", root=book, out=out, overrides=["bad.fail=true"])
    records = batch.run_all(runs, progress=False)
    status = {r.chapter: r for r in records}
    assert status["good"].status == "ok" and status["bad"].status == "failed"
    assert "planned failure" in status["bad"].error and "RuntimeError" in status["bad"].error
    assert (out / "chapters" / "bad.failed.ipynb").is_file()
    assert not (out / "chapters" / "bad.ipynb").exists()
    executed = nbformat.read(out / "chapters" / "good.ipynb", as_version=4)
    assert "n * scale = 0.5" in json.dumps(executed.cells[-1].outputs)  # run with the profile's n = 1
    # the figure comes back inline although the test environment sets MPLBACKEND=Agg
    assert any("image/png" in o.get("data", {}) for o in executed.cells[-2].outputs)

    again = batch.run_all(runs, progress=False)
    assert {r.chapter: r.status for r in again} == {"good": "cached", "bad": "failed"}
    forced = batch.run_all(runs[:1], force=True, progress=False)
    assert forced[0].status == "ok"


@pytest.mark.slow
def test_killed_run_is_not_taken_for_a_finished_one(book: Path) -> None:
    out = book / "_out"
    run = batch.plan("smoke", ["good"], root=book, out=out)[0]
    partial = Path(run.output).with_name("good.partial.ipynb")
    partial.parent.mkdir(parents=True)
    partial.write_text("{}")  # what a killed papermill leaves behind
    assert not batch.is_done(run)
    assert batch.run_all([run], progress=False)[0].status == "ok"
    assert batch.is_done(run)


@pytest.mark.slow
def test_main_reports_bad_input_before_running(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert batch.main(["--profile", "nonexistent", "--no-progress", "--root", str(book)]) == 2
    assert "profile 'nonexistent' not found" in capsys.readouterr().err
    assert batch.main(["--profile", "smoke", "--set", "good.scale=[1]", "--root", str(book)]) == 2
    assert "expects float" in capsys.readouterr().err
    assert not (book / "_build").exists()  # nothing ran


@pytest.mark.slow
def test_dask_local_cluster_runs_the_batch(book: Path) -> None:
    pytest.importorskip("dask.distributed")
    out = book / "_dask"
    runs = batch.plan("smoke", root=book, out=out)
    records = batch.run_all(runs, jobs=2, scheduler="local", progress=False)
    assert sorted(r.status for r in records) == ["ok", "ok"]


@pytest.mark.slow
def test_build_renders_executed_chapters_and_refuses_missing_ones(book: Path) -> None:
    out = book / "_build" / "smoke"
    with pytest.raises(book_module.BookBuildError, match="chapter 'chapters/good' has not been executed"):
        book_module.build(out, out / "html", out, book)
    assert batch.main(["--profile", "smoke", "--build", "--no-progress", "--root", str(book), "--out", str(out)]) == 0
    page = (out / "html" / "chapters" / "good.html").read_text()
    assert "n * scale = 0.5" in page  # the executed output is rendered, not re-computed
    text = re.sub(r"<[^>]+>", "", page)
    assert "Reproduce this page" in text and "--profile smoke --chapters good" in text and "-y '{\"n\": 1}'" in text
    # the page's download menu links its notebook, with the outputs shown (readers rerun it in JupyterLab)
    link = re.search(r'href="((?:\.\./)*_sources/chapters/good\.ipynb)"', page)
    assert link, "no download link to the chapter's notebook"
    downloaded = nbformat.read(out / "html" / "chapters" / link.group(1), as_version=4)
    assert any("n * scale = 0.5" in str(c.get("outputs")) for c in downloaded.cells)
    summary_page = (out / "html" / "verdicts.html").read_text()
    assert "products are products" in summary_page and "good.html" in summary_page
    assert (out / "html" / "index.html").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert {r["chapter"] for r in summary} == {"good", "bad"} and all(r["status"] == "ok" for r in summary)
