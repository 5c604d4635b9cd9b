"""The papermill batch runner and the book renderer, on a tiny book built in a temporary folder."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
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


def make_book(root: Path, extra: dict[str, list[tuple[str, bool]]] | None = None) -> Path:
    """A book in ``root`` with two chapters (one that works, one that fails when asked to), the chapters of
    ``extra`` (name -> cells) after them, and a smoke profile."""
    (root / "chapters" / "params").mkdir(parents=True)
    chapters = {"good": OK_NOTEBOOK, "bad": FAILING_NOTEBOOK, **(extra or {})}
    for name, cells in chapters.items():
        _write_notebook(root / "chapters" / f"{name}.ipynb", cells)
    toc = {"format": "jb-book", "root": "intro",
           "chapters": [{"file": "verdicts"}, *({"file": f"chapters/{name}"} for name in chapters)]}
    (root / "_toc.yml").write_text(yaml.safe_dump(toc))
    (root / "intro.md").write_text("# Intro\n\nThe semicircle $\\rho(x) = \\sqrt{4 - x^2} / (2\\pi)$.\n")
    for name in ("_config.yml", "references.bib"):
        (root / name).write_bytes((REPO_ROOT / name).read_bytes())
    (root / "chapters" / "params" / "smoke.yaml").write_text("good:\n  n: 1\nbad:\n  fail: false\n")
    return root


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A book with two chapters (one that works, one that fails when asked to) and a smoke profile."""
    return make_book(tmp_path)


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
    assert "law_fits.py" not in deps  # a module lib.book.batch never reaches
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
    assert "make lab" in text and "chapters/good.ipynb" in text  # how to rerun it in JupyterLab
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


PROBE_NOTEBOOK = [
    ("label = 'probe'", True),
    ("import os\n\nimport lib\n\nprint('LIB', lib.__file__)\n"
     "print('ENV', *(os.environ.get(v) for v in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', "
     "'RMT_THREADS')))", False),
    ("from lib.curvature.device import thread_count\n\nprint('TORCH', thread_count())", False),
]


def _printed(notebook: Path, tag: str) -> list[str]:
    """The words after ``tag`` on the line the executed notebook printed with it."""
    nb = nbformat.read(notebook, as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    line = next(ln for ln in text.splitlines() if ln.startswith(tag + " "))
    return line.split()[1:]


@pytest.mark.slow
def test_kernels_import_the_checkout_being_run(tmp_path: Path) -> None:
    """A kernel imports this checkout's lib even where PYTHONPATH offers another one first (a second clone)."""
    book = make_book(tmp_path / "book", {"probe": PROBE_NOTEBOOK})
    decoy = tmp_path / "other_clone"
    (decoy / "lib").mkdir(parents=True)
    (decoy / "lib" / "__init__.py").write_text("__version__ = 'another clone'\n")
    env = {k: v for k, v in os.environ.items() if k != "RMT_LIB_ROOT"}
    env["PYTHONPATH"] = str(decoy)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lib.batch", "--profile", "smoke", "--chapters", "probe", "--no-progress",
               "--root", str(book), "--out", str(out)]
    proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert _printed(out / "chapters" / "probe.ipynb", "LIB") == [str(REPO_ROOT / "lib" / "__init__.py")]
    (record,) = json.loads((out / "summary.json").read_text())
    assert record["lib_path"] == str(REPO_ROOT / "lib")


def test_lib_refuses_to_be_imported_from_another_checkout(tmp_path: Path) -> None:
    env = {**os.environ, "RMT_LIB_ROOT": str(tmp_path), "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-c", "import lib"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"ImportError: lib imported from {REPO_ROOT / 'lib'}, but RMT_LIB_ROOT={tmp_path}" in proc.stderr
    env["RMT_LIB_ROOT"] = str(REPO_ROOT)
    assert subprocess.run([sys.executable, "-c", "import lib"], cwd=tmp_path, env=env).returncode == 0


@pytest.mark.slow
def test_thread_count_reaches_the_kernel_and_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    book = make_book(tmp_path / "book", {"probe": PROBE_NOTEBOOK})
    out = tmp_path / "out"
    monkeypatch.setenv("RMT_DEVICE", "cpu")
    for name in batch.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    args = ["--profile", "smoke", "--chapters", "probe", "--no-progress", "--root", str(book), "--out", str(out)]
    assert batch.main(args) == 0
    notebook = out / "chapters" / "probe.ipynb"
    assert _printed(notebook, "ENV") == ["1"] * 4  # the default: one thread
    assert _printed(notebook, "TORCH") == ["1"]  # torch in the kernel follows it (the machine has more cores)
    (record,) = json.loads((out / "summary.json").read_text())
    assert record["threads"] == 1 and record["torch"].startswith("torch ") and record["device"].startswith("cpu")
    assert not any(name in os.environ for name in batch.THREAD_VARIABLES)  # the caller's environment is untouched
    assert batch.main(["--threads", "0", "--root", str(book), "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: --threads must be at least 1, got 0"
    with pytest.raises(SystemExit):
        batch.main(["--help"])
    assert "default 1, which survives a busy machine" in " ".join(capsys.readouterr().out.split())


@pytest.mark.slow
def test_a_recorded_run_is_shown_beside_the_live_verdicts_and_goes_stale_with_the_code(book: Path) -> None:
    (book / "chapters" / "params" / "quick.yaml").write_text("bad:\n  fail: false\n")
    out = book / "_build"
    assert batch.main(["--profile", "smoke", "--chapters", "good", "--record", "--no-progress", "--root", str(book),
                       "--out", str(out / "smoke"), "--note", "n reduced to 1"]) == 0
    saved = json.loads((book / "results" / "smoke" / "good.json").read_text())
    assert saved["note"] == "n reduced to 1"
    assert saved["chapter"] == "good" and saved["profile"] == "smoke" and saved["parameters"] == {"n": 1}
    assert saved["verdicts"][0]["evidence"] == "n * scale = 0.5" and saved["threads"] == 1
    assert "--record" in saved["command"] and "--profile smoke" in saved["command"]
    assert saved["machine"]["cores"] == os.cpu_count() and "2.13.0" in saved["torch"]
    assert saved["seconds"] > 0 and saved["peak_memory_mb"] > 10  # a kernel holds more than 10 MB
    assert not list((book / "results").rglob("*.tmp"))
    # the default build (another profile) shows the record beside its own verdict, and lists it on the summary page
    assert batch.main(["--profile", "quick", "--build", "--no-progress", "--root", str(book), "--out", str(out)]) == 0
    page = re.sub(r"<[^>]+>", " ", (out / "html" / "chapters" / "good.html").read_text())
    assert "smoke profile, recorded" in page and "stale" not in page
    assert "n * scale = 1.5" in page and "n * scale = 0.5" in page  # the live verdict (n = 3) and the recorded one
    summary_page = re.sub(r"<[^>]+>", " ", (out / "html" / "verdicts.html").read_text())
    assert "Recorded runs" in summary_page and "current" in summary_page and "--record" in summary_page
    # a change to the chapter makes the record stale, and the book says so
    _write_notebook(book / "chapters" / "good.ipynb", [*OK_NOTEBOOK, ("print('a new cell')", False)])
    assert batch.main(["--profile", "quick", "--build", "--no-progress", "--root", str(book), "--out", str(out)]) == 0
    page = html.unescape(re.sub(r"<[^>]+>", " ", (out / "html" / "chapters" / "good.html").read_text()))
    assert "stale: the chapter's code has changed since" in page


def test_a_stale_record_names_the_files_changed_since_its_commit(book: Path) -> None:
    """Against the git history: the notebook edited after the record's commit is named, an untouched file is not;
    without a repository or with an unknown commit nothing is named and the record is just "stale"."""
    from lib.book.records import RunRecord, changed_since, column_label, stale_note

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(book), *args], check=True, capture_output=True, text=True).stdout

    notebook, other = book / "chapters" / "good.ipynb", book / "chapters" / "bad.ipynb"
    assert changed_since("HEAD", [notebook], book) is None  # not a repository
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "book")
    commit = git("rev-parse", "HEAD").strip()
    record = RunRecord(chapter="good", profile="smoke", parameters={"n": 1}, command="", commit=commit, key="old",
                       machine={}, torch="", threads=1, started="2026-12-07T00:00:00", seconds=1.0,
                       peak_memory_mb=1.0, verdicts=[])
    assert changed_since(commit, [notebook, other], book) == []
    assert stale_note(record, book) == "stale"  # the key differs, but no file changed: nothing to name
    _write_notebook(notebook, [*OK_NOTEBOOK, ("print('a new cell')", False)])
    assert changed_since(commit, [notebook, other], book) == ["chapters/good.ipynb"]
    assert stale_note(record, book) == "stale (changed since: chapters/good.ipynb)"
    assert column_label(record, book).endswith("stale: the chapter's code has changed since: chapters/good.ipynb")
    assert changed_since("0" * 40, [notebook], book) is None  # a commit this history does not have
    assert stale_note(replace(record, commit="0" * 40), book) == "stale"


def test_a_record_command_is_shown_without_its_output_folder_and_note() -> None:
    from lib.book.records import shown_command

    command = ("python -m lib.batch --profile paper --chapters c --record --out /tmp/x --no-progress "
               "--note 'E1 and E5 not run' --timeout=7200 --out=/tmp/y")
    assert shown_command(command) == "python -m lib.batch --profile paper --chapters c --record --no-progress " \
                                     "--timeout=7200"


def test_record_refuses_parallel_runs_and_the_default_profile(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert batch.main(["--profile", "smoke", "--record", "--jobs", "2", "--root", str(book)]) == 2
    assert "--record runs one chapter at a time" in capsys.readouterr().err
    assert batch.main(["--profile", "quick", "--record", "--root", str(book)]) == 2
    assert "quick profile is the book itself" in capsys.readouterr().err


def test_json_files_are_replaced_whole(tmp_path: Path):
    """The one JSON writer of the runner, the records and the benchmarks: a reader sees the old file or the new one,
    and a value that cannot be written leaves the old file as it was, with no temporary file beside it."""
    from lib.book.records import write_json

    path = tmp_path / "sub" / "state.json"
    write_json(path, {"b": 1, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1} and path.read_text().endswith("\n")
    write_json(path, {"a": 2}, indent=2)
    assert json.loads(path.read_text()) == {"a": 2}

    def refuse(value):
        raise TypeError(f"cannot write {value!r}")

    with pytest.raises(TypeError, match="cannot write"):
        write_json(path, {"a": object()}, default=refuse)
    assert json.loads(path.read_text()) == {"a": 2} and sorted(p.name for p in path.parent.iterdir()) == ["state.json"]
