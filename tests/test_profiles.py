"""Parameter values checked before anything runs: ranges from the defaults, annotations, YAML read strictly
(duplicate keys, ``1e3``), malformed files reported with file and line, grids de-duplicated and bound to the
selected chapters. Nothing here starts a kernel."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from test_batch import _write_notebook, make_book

from lib.book import batch, profiles

RANGES_NOTEBOOK = [
    ("n = 3\nseed = 0\noffset = -2\nscale = 0.5\ntol = 0.0\nlabel = 'x'\nsizes = [1, 2]\nweights = [0.0, 0.5]\n"
     "pairs = [[1, 2]]\nextra = []\nmax_batches: int | None = None\nn_hessian: \"NonNegativeInt\" = 400  # 0: all\n"
     "cap: \"Optional[PositiveInt]\" = None\nrates: \"list[PositiveFloat]\" = [0.1]\nepochs = None", True),
    ("print(n)", False),
]


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """The test book plus a chapter ``ranges`` whose defaults cover every kind of range."""
    return make_book(tmp_path, {"ranges": RANGES_NOTEBOOK})


def _values(book: Path, *overrides: str) -> dict:
    runs = batch.plan("smoke", ["ranges"], list(overrides), root=book, out=book / "_out")
    return runs[0].parameters


@pytest.mark.parametrize(("override", "message"), [
    ("n=-5", "parameter 'n' expects int >= 1 (default 3), got int -5"),
    ("n=0", "expects int >= 1"),
    ("n=true", "expects int >= 1"),
    ("n=1e3", "expects int >= 1 (default 3), got float 1000.0"),
    ("seed=-1", "expects int >= 0"),
    ("scale=0", "expects float > 0 (finite)"),
    ("scale=-0.5", "expects float > 0"),
    ("scale=.inf", "got float inf"),
    ("scale=.nan", "got float nan"),
    ("tol=-1e-3", "expects float >= 0 (finite) (default 0.0), got float -0.001"),
    ("label=''", "expects non-empty str"),
    ("sizes=[]", "expects non-empty list of int >= 1"),
    ("sizes=[1, 0]", "expects non-empty list of int >= 1"),
    ("sizes=[1, x]", "expects non-empty list of int >= 1"),
    ("sizes=3", "got int 3"),
    ("weights=[-0.1]", "expects non-empty list of float >= 0 (finite)"),
    ("pairs=[[1, 0]]", "expects non-empty list of non-empty list of int >= 1"),
    ("max_batches=x", "expects int | None (default None), got str 'x'"),
    ("max_batches=2.5", "expects int | None"),
    ("n_hessian=-1", "expects int >= 0 (default 400), got int -1"),
    ("cap=0", "expects int >= 1 | None (default None), got int 0"),
    ("rates=[0.1, 0]", "expects non-empty list of float > 0 (finite)"),
    ("rates=[]", "expects non-empty list of float > 0"),
    ("epochs=3", "parameter 'epochs' has the default None and no annotation"),
    ("n=null", "parameter 'n' got an empty value"),
])
def test_values_out_of_range_are_refused(book: Path, override: str, message: str) -> None:
    with pytest.raises(profiles.ProfileError, match=re.escape(message)):
        _values(book, f"ranges.{override}")


def test_values_in_range_pass(book: Path) -> None:
    values = _values(book, "ranges.n=1", "ranges.seed=0", "ranges.offset=-7", "ranges.scale=1e3", "ranges.tol=0",
                     "ranges.sizes=[5]", "ranges.weights=[0, 1e-3]", "ranges.pairs=[[3, 4], [1, 1]]",
                     "ranges.extra=[]", "ranges.max_batches=4", "ranges.n_hessian=0", "ranges.cap=2",
                     "ranges.rates=[1e-3, 2]")
    assert values["scale"] == 1000.0 and isinstance(values["scale"], float)
    assert values["weights"] == [0, 0.001]
    assert values["n_hessian"] == 0 and values["max_batches"] == 4
    assert _values(book, "ranges.max_batches=null")["max_batches"] is None
    assert math.isclose(_values(book, "ranges.scale=2.5E-2")["scale"], 0.025)


def test_empty_values_are_refused(book: Path) -> None:
    with pytest.raises(profiles.ProfileError, match="override 'ranges.n=' has an empty value"):
        _values(book, "ranges.n=")
    (book / "chapters" / "params" / "smoke.yaml").write_text("ranges:\n  n:\n")
    with pytest.raises(profiles.ProfileError, match=r"smoke\.yaml, line 1: chapter 'ranges': parameter 'n' got an "
                                                    "empty value"):
        _values(book)


def test_annotations_are_read_and_checked(tmp_path: Path) -> None:
    book = make_book(tmp_path, {"ranges": RANGES_NOTEBOOK})
    rules = profiles.chapters(book)["ranges"].rules
    assert [r.describe() for r in rules["max_batches"]] == ["int", "None"]
    assert [r.describe() for r in rules["n_hessian"]] == ["int >= 0"]
    assert [r.describe() for r in rules["cap"]] == ["int >= 1", "None"]
    _write_notebook(book / "chapters" / "ranges.ipynb", [("k: \"int >= 1\" = 3", True)])
    with pytest.raises(profiles.ProfileError, match="ranges.ipynb: parameter 'k': cannot read 'int >= 1'"):
        profiles.chapters(book)
    _write_notebook(book / "chapters" / "ranges.ipynb", [("k: \"PositiveInt\" = 0", True)])
    with pytest.raises(profiles.ProfileError, match="the default 0 of parameter 'k' does not fit"):
        profiles.chapters(book)


def test_malformed_yaml_is_reported_with_file_and_line(book: Path, tmp_path: Path) -> None:
    profile = book / "chapters" / "params" / "smoke.yaml"
    profile.write_text("good:\n  n: 1\n  scale: [1,\n")
    with pytest.raises(profiles.ProfileError, match=rf"{profile}, line \d: invalid YAML"):
        batch.plan("smoke", root=book)
    profile.write_text("- good\n- bad\n")
    with pytest.raises(profiles.ProfileError, match=rf"{profile}: expected a mapping .*, got list"):
        batch.plan("smoke", root=book)
    profile.write_text("good: 3\n")
    with pytest.raises(profiles.ProfileError, match=rf"{profile}, line 1: chapter 'good' needs a mapping"):
        batch.plan("smoke", root=book)
    profile.write_text("good:\n  n: 1\nbad:\n  fail: false\n")
    grid = tmp_path / "grid.yaml"
    grid.write_text("7\n")
    with pytest.raises(profiles.ProfileError, match=rf"{grid}: expected a mapping .*, got int"):
        batch.plan("smoke", grid=grid, root=book)
    grid.write_text("good: {n: [1, 2}\n")
    with pytest.raises(profiles.ProfileError, match=rf"{grid}, line 1: invalid YAML"):
        batch.plan("smoke", grid=grid, root=book)
    with pytest.raises(profiles.ProfileError, match=re.escape("override 'good.n=[1', line 1: invalid YAML")):
        batch.plan("smoke", overrides=["good.n=[1"], root=book)


def test_duplicate_keys_are_refused(book: Path, tmp_path: Path) -> None:
    profile = book / "chapters" / "params" / "smoke.yaml"
    profile.write_text("good:\n  n: 1\n  n: 2\n")
    with pytest.raises(profiles.ProfileError, match=r"line 3: invalid YAML: duplicate key 'n' \(first at line 2\)"):
        batch.plan("smoke", root=book)
    profile.write_text("good:\n  n: 1\nbad:\n  fail: false\ngood:\n  n: 2\n")
    with pytest.raises(profiles.ProfileError, match="line 5: invalid YAML: duplicate key 'good'"):
        batch.plan("smoke", root=book)


def test_grid_points_run_once_and_only_for_selected_chapters(book: Path, tmp_path: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text("good:\n  n: [1, 2, 1]\n  scale: [0.5, 0.5]\n")
    runs = batch.plan("smoke", ["good"], grid=grid, root=book, out=book / "_out")
    assert sorted(r.parameters["n"] for r in runs) == [1, 2]
    assert len({r.output for r in runs}) == len(runs)
    grid.write_text("good:\n  n: [1, 2]\nbad:\n  fail: [true, false]\n")
    with pytest.raises(profiles.ProfileError, match="chapter 'bad' is not among the selected chapters"):
        batch.plan("smoke", ["good"], grid=grid, root=book)
    assert len(batch.plan("smoke", ["good", "good"], root=book, out=book / "_out")) == 1


def test_main_reports_malformed_input_in_one_line(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = book / "chapters" / "params" / "smoke.yaml"
    profile.write_text("good:\n  n: 1\n  n: 2\n")
    out = book / "_out"
    assert batch.main(["--profile", "smoke", "--no-progress", "--root", str(book), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert f"{profile}, line 3" in err
    assert not out.exists()


@pytest.mark.parametrize("profile", ["quick", "smoke", "paper", "paper_partial"])
def test_the_book_profiles_fit_the_chapters(profile: str) -> None:
    assert len(batch.plan(profile)) == len(profiles.chapters())  # every value passes the type and range checks


def test_papermill_reads_every_parameter_of_every_chapter() -> None:
    """papermill's parameter inspector (``papermill --help-notebook``, JupyterLab's parameter tooling) skips a line it
    cannot parse (e.g. an '=' in the comment) with a warning; every assignment of every parameters cell must parse."""
    import ast
    import json

    from papermill.translators import PythonTranslator

    from lib.book.fingerprint import REPO_ROOT

    for path in sorted((REPO_ROOT / "chapters").glob("*.ipynb")):
        cells = [c for c in json.loads(path.read_text())["cells"] if "parameters" in c["metadata"].get("tags", [])]
        source = "".join(cells[0]["source"])
        assigned = [n.targets[0].id if isinstance(n, ast.Assign) else n.target.id
                    for n in ast.parse(source).body if isinstance(n, ast.Assign | ast.AnnAssign)]
        parsed = [p.name for p in PythonTranslator.inspect({"source": source})]
        assert parsed == assigned, f"{path.name}: papermill reads {parsed}, the cell assigns {assigned}"


def test_every_chapter_cell_has_an_id() -> None:
    """nbformat 4.5 cells carry ids (a missing one is a validation warning now and an error in later nbformat)."""
    import json

    from lib.book.fingerprint import REPO_ROOT

    for path in sorted((REPO_ROOT / "chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        assert all(c.get("id") for c in cells), f"{path.name}: cells without an id"
        assert len({c["id"] for c in cells}) == len(cells), f"{path.name}: duplicate cell ids"
