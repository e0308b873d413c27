"""The graded exercises (every assignment in exercises/source): valid nbgrader sources, no leaks,
and a real nbgrader round trip.

The slow tests copy ``exercises/`` to a temporary folder and run the nbgrader command line of
this environment there, so nothing is written into the repository. Three learners submit:

- ``solution_learner`` hands in the source notebook itself (the model solution);
- ``blank_learner`` hands in the released notebook unchanged;
- ``wrong_learner`` hands in plausible but wrong numbers that pass every visible check, to
  prove that the hidden tests (and only they) catch them, and that feedback on a failed hidden
  test does not reveal it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from leaks import found_in, html_text, secret_lines

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
BIN = Path(sys.executable).parent
COURSE_ID = "smart-city-academy"
CODE_STUB = 'raise NotImplementedError("Write your answer here")'
TEXT_STUB = "YOUR ANSWER HERE"
#: Per assignment, answers that pass every visible check but are wrong: only the hidden tests catch them.
WRONG_ANSWERS_DIR = ROOT / "tests" / "exercise_wrong_answers"


@dataclass(frozen=True)
class Assignment:
    """One nbgrader assignment: exercises/source/<name>/<notebook>.ipynb."""

    name: str
    notebook: str

    @property
    def source(self) -> Path:
        return EXERCISES / "source" / self.name / f"{self.notebook}.ipynb"

    def cells(self) -> list:
        return nbformat.read(self.source, as_version=4).cells

    def points(self, kind: str | None = None) -> float:
        """Total points, or those of code (autograded) or markdown (manual) grade cells."""
        return sum(
            meta(c)["points"] for c in self.cells()
            if meta(c).get("grade") and kind in (None, c.cell_type)
        )

    def wrong_answers(self) -> dict[str, str]:
        return json.loads((WRONG_ANSWERS_DIR / f"{self.name}.json").read_text(encoding="utf-8"))

    def checks(self) -> list[str]:
        """grade_ids of the autograded test cells."""
        return sorted(meta(c)["grade_id"] for c in self.cells() if meta(c).get("grade") and c.cell_type == "code")

    def memo(self) -> str:
        return next(meta(c)["grade_id"] for c in self.cells() if meta(c).get("grade") and c.cell_type == "markdown")


ASSIGNMENTS = [
    Assignment(nb.parent.name, nb.stem) for nb in sorted((EXERCISES / "source").glob("*/*.ipynb"))
]
IDS = [a.name for a in ASSIGNMENTS]
LEARNERS = ("solution_learner", "blank_learner", "wrong_learner")
GENERATED = ("release", "submitted", "autograded", "feedback", "gradebook.db")

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS", re.S)


# ---------------------------------------------------------------- helpers


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def notebook_text(path: Path) -> str:
    """The raw file plus, for a notebook, its cell sources and outputs as plain text.

    A notebook is JSON, which escapes quotes: a line of code can only be found in its
    decoded form.
    """
    raw = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix != ".ipynb":
        return raw
    nb = nbformat.reads(raw, as_version=4)
    parts = [raw]
    for cell in nb.cells:
        parts.append(cell.source)
        for output in cell.get("outputs", []):
            parts.extend([output.get("text", ""), "\n".join(output.get("traceback", []))])
            parts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


def nbgrader(course: Path, *args: str) -> str:
    """Run ``nbgrader <args>`` in the course directory; fail the test with its log if it fails."""
    env = {
        **os.environ,
        # nbgrader runs the `alembic` program to create the gradebook: it must be on PATH.
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # Ignore the nbgrader/Jupyter configuration of whoever runs the tests.
        "JUPYTER_CONFIG_DIR": str(course / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(course / ".jupyter" / "runtime"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course, env=env, capture_output=True, text=True, timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0 and "| ERROR]" not in log, f"nbgrader {' '.join(args)}:\n{log[-4000:]}"
    return log


def submit(course: Path, learner: str, assignment: Assignment, notebook) -> None:
    folder = course / "submitted" / learner / assignment.name
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{assignment.notebook}.ipynb")


def test_there_are_assignments() -> None:
    assert [a.name for a in ASSIGNMENTS][:1] == ["01-people-centred"]


# ---------------------------------------------------------------- fast: the source notebooks


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_source_notebook_is_valid_nbgrader(assignment: Assignment) -> None:
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.read(assignment.source, as_version=4)
    nbformat.validate(nb)
    MetadataValidator().validate_nb(nb)  # nbgrader's own check (ids, points, cell kinds)
    assert nb.metadata.kernelspec.name == "python3"

    cells = [c for c in nb.cells if meta(c)]
    assert all(meta(c)["schema_version"] == 3 for c in cells)
    ids = [meta(c)["grade_id"] for c in cells]
    assert len(ids) == len(set(ids)), "grade_id values must be unique"

    assert assignment.points("code") > 0 and assignment.points("markdown") > 0
    manual = [c for c in nb.cells if meta(c).get("grade") and c.cell_type == "markdown"]
    assert len(manual) == 1 and meta(manual[0])["solution"] and not meta(manual[0])["locked"]

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "commit without outputs"
    # Every cell that is not an answer is locked, so autograde restores it.
    assert all(meta(c).get("locked") for c in nb.cells if not meta(c).get("solution"))


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_every_answer_has_visible_checks_and_hidden_tests(assignment: Assignment) -> None:
    cells = assignment.cells()
    answers = [i for i, c in enumerate(cells) if c.cell_type == "code" and meta(c).get("solution")]
    assert sorted(meta(cells[i])["grade_id"] for i in answers) == sorted(assignment.wrong_answers())
    for i in answers:
        answer, test = cells[i], cells[i + 1]
        name = meta(answer)["grade_id"]
        assert answer.source.startswith("### BEGIN SOLUTION\n") and answer.source.endswith("### END SOLUTION")
        body = answer.source.splitlines()[1:-1]
        assert 1 <= len(body) <= 3, f"{name}: the answer should be one to three short lines"
        variable = body[-1].split("=")[0].strip()
        assert variable.isidentifier(), f"{name}: the answer's last line should assign one variable"

        assert meta(test).get("grade") and meta(test).get("locked") and test.cell_type == "code"
        assert meta(test)["points"] > 0, f"{name}: the test cell right after it holds the points"
        hidden = HIDDEN.findall(test.source)
        visible = HIDDEN.sub("", test.source)
        assert len(hidden) == 1 and "assert" in hidden[0] and variable in hidden[0], name
        assert "assert" in visible and variable in visible, f"{name}: needs a visible self-check"
        # Every visible assert tells the learner what to fix.
        assert all(", \"" in line for line in visible.splitlines() if line.startswith("assert ")), name


@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_notebook_reads_data_only_through_the_loader(assignment: Assignment) -> None:
    from citylab import data

    code = "\n".join(c.source for c in assignment.cells() if c.cell_type == "code")
    assert "from citylab import" in code
    assert not re.search(r"read_csv|open\(|datasets/|https?://", code)
    assert set(re.findall(r'data\.load(?:_geojson)?\("([^"]+)"', code)) <= set(data.list_datasets())


# ---------------------------------------------------------------- slow: the real nbgrader


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def repository_before() -> dict[str, int]:
    return snapshot(EXERCISES)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, repository_before: dict[str, int]) -> Path:
    """A copy of the course directory where ``generate_assignment`` has run for every assignment."""
    course = tmp_path_factory.mktemp("exercises")
    shutil.copytree(
        EXERCISES, course, dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(*GENERATED, ".ipynb_checkpoints", "__pycache__"),
    )
    for assignment in ASSIGNMENTS:
        nbgrader(course, "generate_assignment", assignment.name)
    return course


def release_of(course: Path, assignment: Assignment) -> Path:
    return course / "release" / assignment.name / f"{assignment.notebook}.ipynb"


@pytest.fixture(scope="module")
def graded(course: Path) -> Path:
    """The same course after three learners submitted every assignment, autograde and feedback."""
    for learner in LEARNERS:
        nbgrader(course, "db", "student", "add", learner)
    for assignment in ASSIGNMENTS:
        release = nbformat.read(release_of(course, assignment), as_version=4)
        wrong = nbformat.from_dict(release)
        answers = assignment.wrong_answers()
        for cell in wrong.cells:
            if meta(cell).get("grade_id") in answers:
                cell.source = answers[meta(cell)["grade_id"]]
        submit(course, "solution_learner", assignment, nbformat.read(assignment.source, as_version=4))
        submit(course, "blank_learner", assignment, release)
        submit(course, "wrong_learner", assignment, wrong)
        nbgrader(course, "autograde", assignment.name)
        nbgrader(course, "generate_feedback", assignment.name)
    return course


def scores(course: Path, assignment: Assignment, learner: str) -> dict[str, dict]:
    """Per grade cell: cell type, score, maximum and whether it waits for a person."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        notebook = gradebook.find_submission_notebook(assignment.notebook, assignment.name, learner)
        return {
            grade.name: {
                "type": grade.cell_type, "score": grade.score,
                "max": grade.max_score, "manual": grade.needs_manual_grade,
            }
            for grade in notebook.grades
        }


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_generate_assignment_makes_the_release(course: Path, assignment: Assignment) -> None:
    from nbgrader.api import Gradebook

    cells = nbformat.read(release_of(course, assignment), as_version=4).cells
    answers = [c.source for c in cells if meta(c).get("solution")]
    assert answers.count(CODE_STUB) == len(assignment.wrong_answers()) and answers.count(TEXT_STUB) == 1
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        assert gradebook.find_assignment(assignment.name).max_score == assignment.points()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_no_solution_or_hidden_test_in_the_release(course: Path, assignment: Assignment) -> None:
    secrets = secret_lines(assignment.source)
    assert len(secrets) >= 4, "expected solution and hidden-test lines to look for"
    leaked = {}
    for path in sorted((course / "release").rglob("*")):
        if path.is_file():
            found = found_in(secrets, notebook_text(path))
            if found:
                leaked[path.name] = found
    assert leaked == {}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_solution_scores_full_marks_and_blank_scores_zero(graded: Path, assignment: Assignment) -> None:
    solution = scores(graded, assignment, "solution_learner")
    blank = scores(graded, assignment, "blank_learner")
    auto = sorted(name for name, g in solution.items() if g["type"] == "code")
    assert auto == assignment.checks()

    assert {n: solution[n]["score"] for n in auto} == {n: solution[n]["max"] for n in auto}
    assert sum(solution[n]["score"] for n in auto) == assignment.points("code")
    assert {n: blank[n]["score"] for n in auto} == dict.fromkeys(auto, 0)
    assert not any(solution[n]["manual"] or blank[n]["manual"] for n in auto)

    # A written memo waits for the trainer; nbgrader itself gives an untouched one 0.
    memo, memo_points = assignment.memo(), assignment.points("markdown")
    assert solution[memo] == {"type": "markdown", "score": 0, "max": memo_points, "manual": True}
    assert blank[memo] == {"type": "markdown", "score": 0, "max": memo_points, "manual": False}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_hidden_tests_catch_answers_that_pass_the_visible_checks(graded: Path, assignment: Assignment) -> None:
    wrong = scores(graded, assignment, "wrong_learner")
    assert {n: g["score"] for n, g in wrong.items() if g["type"] == "code"} == dict.fromkeys(assignment.checks(), 0)
    autograded = graded / "autograded" / "wrong_learner" / assignment.name / f"{assignment.notebook}.ipynb"
    for cell in nbformat.read(autograded, as_version=4).cells:
        if meta(cell).get("grade") and cell.cell_type == "code":
            printed = "".join(o.get("text", "") for o in cell.outputs)
            errors = [o.ename for o in cell.outputs if o.output_type == "error"]
            assert "✅" in printed and errors == ["AssertionError"], meta(cell)["grade_id"]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=IDS)
def test_feedback_shows_no_hidden_test_and_no_solution(graded: Path, assignment: Assignment) -> None:
    solution_lines = secret_lines(assignment.source, "SOLUTION")
    hidden_lines = secret_lines(assignment.source, "HIDDEN TESTS")
    feedback = {
        learner: html_text(graded / "feedback" / learner / assignment.name / f"{assignment.notebook}.html")
        for learner in LEARNERS
    }
    for learner, text in feedback.items():
        assert found_in(hidden_lines, text) == [], f"hidden tests in {learner}'s feedback"
    for learner in ("blank_learner", "wrong_learner"):
        assert found_in(solution_lines, feedback[learner]) == [], f"solutions in {learner}'s feedback"
    assert "AssertionError" in feedback["wrong_learner"], "a failed check still shows its message"

    # The checks above can fail: the same search finds what is really there (in the HTML,
    # rendering can reflow long Markdown lines, so some solution lines are enough).
    assert found_in(solution_lines, feedback["solution_learner"]), "no solution line found in the solution's feedback"
    solution_nb, blank_nb = (
        graded / "autograded" / learner / assignment.name / f"{assignment.notebook}.ipynb"
        for learner in ("solution_learner", "blank_learner")
    )
    assert found_in(solution_lines, notebook_text(solution_nb)) == sorted(solution_lines)
    assert found_in(hidden_lines, notebook_text(blank_nb)) == sorted(hidden_lines)


@pytest.mark.slow
def test_nothing_is_written_into_the_repository(graded: Path, repository_before: dict[str, int]) -> None:
    assert snapshot(EXERCISES) == repository_before
