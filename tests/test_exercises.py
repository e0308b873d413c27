"""The graded exercises: valid nbgrader sources, no leaks, and a real nbgrader round trip.

The slow tests copy ``exercises/`` to a temporary folder and run the nbgrader command line of
this environment there, so nothing is written into the repository. Three learners submit:

- ``solution_learner`` hands in the source notebook itself (the model solution);
- ``blank_learner`` hands in the released notebook unchanged;
- ``wrong_learner`` hands in plausible but wrong numbers that pass every visible check, to
  prove that the hidden tests (and only they) catch them, and that feedback on a failed hidden
  test does not reveal it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from leaks import found_in, html_text, secret_lines

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
BIN = Path(sys.executable).parent
COURSE_ID = "smart-city-academy"
ASSIGNMENT = "01-people-centred"
NOTEBOOK = "who-is-left-out"
SOURCE = EXERCISES / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"

TOTAL_POINTS = 12
AUTOGRADED_POINTS = 8
CODE_STUB = 'raise NotImplementedError("Write your answer here")'
TEXT_STUB = "YOUR ANSWER HERE"
#: Answers that pass the visible checks but are wrong (the right ones are 27, 924000, 17.4, 16.3).
WRONG_ANSWERS = {
    "q1-answer": "urban_rural_gap_2025 = 30.0",
    "q2-answer": "residents_offline = 900_000",
    "q3-answer": "world_growth_2025_2050 = 20.0",
    "q4-answer": "share_65_plus_2050 = 20.0",
}
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


def submit(course: Path, learner: str, notebook) -> None:
    folder = course / "submitted" / learner / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{NOTEBOOK}.ipynb")


# ---------------------------------------------------------------- fast: the source notebook


def test_source_notebook_is_valid_nbgrader() -> None:
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.read(SOURCE, as_version=4)
    nbformat.validate(nb)
    MetadataValidator().validate_nb(nb)  # nbgrader's own check (ids, points, cell kinds)
    assert nb.metadata.kernelspec.name == "python3"

    cells = [c for c in nb.cells if meta(c)]
    assert all(meta(c)["schema_version"] == 3 for c in cells)
    ids = [meta(c)["grade_id"] for c in cells]
    assert len(ids) == len(set(ids)), "grade_id values must be unique"

    graded = [c for c in nb.cells if meta(c).get("grade")]
    assert sum(meta(c)["points"] for c in graded) == TOTAL_POINTS
    assert sum(meta(c)["points"] for c in graded if c.cell_type == "code") == AUTOGRADED_POINTS
    manual = [c for c in graded if c.cell_type == "markdown"]
    assert len(manual) == 1 and meta(manual[0])["solution"] and not meta(manual[0])["locked"]

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "commit without outputs"
    # Every cell that is not an answer is locked, so autograde restores it.
    assert all(meta(c).get("locked") for c in nb.cells if not meta(c).get("solution"))


def test_every_answer_has_visible_checks_and_hidden_tests() -> None:
    cells = nbformat.read(SOURCE, as_version=4).cells
    answers = [i for i, c in enumerate(cells) if c.cell_type == "code" and meta(c).get("solution")]
    assert len(answers) == 4
    for i in answers:
        answer, test = cells[i], cells[i + 1]
        name = meta(answer)["grade_id"]
        assert answer.source.startswith("### BEGIN SOLUTION\n") and answer.source.endswith("### END SOLUTION")
        body = answer.source.splitlines()[1:-1]
        assert len(body) == 1, f"{name}: the answer should be one line"
        variable = body[0].split("=")[0].strip()
        assert variable.isidentifier(), f"{name}: the answer should assign one variable"

        assert meta(test).get("grade") and meta(test).get("locked") and test.cell_type == "code"
        assert meta(test)["points"] > 0, f"{name}: the test cell right after it holds the points"
        hidden = HIDDEN.findall(test.source)
        visible = HIDDEN.sub("", test.source)
        assert len(hidden) == 1 and "assert" in hidden[0] and variable in hidden[0], name
        assert "assert" in visible and variable in visible, f"{name}: needs a visible self-check"
        # Every visible assert tells the learner what to fix.
        assert all(", \"" in line for line in visible.splitlines() if line.startswith("assert ")), name


def test_notebook_reads_data_only_through_the_loader() -> None:
    code = "\n".join(c.source for c in nbformat.read(SOURCE, as_version=4).cells if c.cell_type == "code")
    assert "from citylab import data" in code
    assert not re.search(r"read_csv|open\(|datasets/|https?://", code)
    assert set(re.findall(r'data\.load\("([^"]+)"\)', code)) == {"itu-internet-use", "un-wpp-2024-population"}


# ---------------------------------------------------------------- slow: the real nbgrader


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def repository_before() -> dict[str, int]:
    return snapshot(EXERCISES)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory, repository_before: dict[str, int]) -> Path:
    """A copy of the course directory where ``generate_assignment`` has run."""
    course = tmp_path_factory.mktemp("exercises")
    shutil.copytree(
        EXERCISES, course, dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(*GENERATED, ".ipynb_checkpoints", "__pycache__"),
    )
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    return course


@pytest.fixture(scope="module")
def graded(course: Path) -> Path:
    """The same course after three learners submitted, autograde and generate_feedback."""
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    wrong = nbformat.from_dict(release)
    for cell in wrong.cells:
        if meta(cell).get("grade_id") in WRONG_ANSWERS:
            cell.source = WRONG_ANSWERS[meta(cell)["grade_id"]]
    submit(course, "solution_learner", nbformat.read(SOURCE, as_version=4))
    submit(course, "blank_learner", release)
    submit(course, "wrong_learner", wrong)
    for learner in LEARNERS:
        nbgrader(course, "db", "student", "add", learner)
    nbgrader(course, "autograde", ASSIGNMENT)
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    return course


def scores(course: Path, learner: str) -> dict[str, dict]:
    """Per grade cell: cell type, score, maximum and whether it waits for a person."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        notebook = gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, learner)
        return {
            grade.name: {
                "type": grade.cell_type, "score": grade.score,
                "max": grade.max_score, "manual": grade.needs_manual_grade,
            }
            for grade in notebook.grades
        }


@pytest.mark.slow
def test_generate_assignment_makes_the_release(course: Path) -> None:
    from nbgrader.api import Gradebook

    release = course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert release.is_file()
    cells = nbformat.read(release, as_version=4).cells
    answers = [c.source for c in cells if meta(c).get("solution")]
    assert answers.count(CODE_STUB) == 4 and answers.count(TEXT_STUB) == 1
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gradebook:
        assert gradebook.find_assignment(ASSIGNMENT).max_score == TOTAL_POINTS


@pytest.mark.slow
def test_no_solution_or_hidden_test_in_the_release(course: Path) -> None:
    secrets = secret_lines(SOURCE, "SOLUTION") | secret_lines(SOURCE, "HIDDEN TESTS")
    assert len(secrets) >= 8, "expected solution and hidden-test lines to look for"
    leaked = {}
    for path in sorted((course / "release").rglob("*")):
        if path.is_file():
            found = found_in(secrets, notebook_text(path))
            if found:
                leaked[path.name] = found
    assert leaked == {}


@pytest.mark.slow
def test_solution_scores_full_marks_and_blank_scores_zero(graded: Path) -> None:
    solution, blank = scores(graded, "solution_learner"), scores(graded, "blank_learner")
    auto = sorted(name for name, g in solution.items() if g["type"] == "code")
    assert auto == ["q1-check", "q2-check", "q3-check", "q4-check"]

    assert {n: solution[n]["score"] for n in auto} == {n: solution[n]["max"] for n in auto}
    assert sum(solution[n]["score"] for n in auto) == AUTOGRADED_POINTS
    assert {n: blank[n]["score"] for n in auto} == dict.fromkeys(auto, 0)
    assert not any(solution[n]["manual"] or blank[n]["manual"] for n in auto)

    # A written memo waits for the trainer; nbgrader itself gives an untouched one 0.
    assert solution["q5-memo"] == {"type": "markdown", "score": 0, "max": 4, "manual": True}
    assert blank["q5-memo"] == {"type": "markdown", "score": 0, "max": 4, "manual": False}


@pytest.mark.slow
def test_hidden_tests_catch_answers_that_pass_the_visible_checks(graded: Path) -> None:
    wrong = scores(graded, "wrong_learner")
    assert {n: g["score"] for n, g in wrong.items() if g["type"] == "code"} == dict.fromkeys(
        ["q1-check", "q2-check", "q3-check", "q4-check"], 0
    )
    autograded = graded / "autograded" / "wrong_learner" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    for cell in nbformat.read(autograded, as_version=4).cells:
        if meta(cell).get("grade") and cell.cell_type == "code":
            printed = "".join(o.get("text", "") for o in cell.outputs)
            errors = [o.ename for o in cell.outputs if o.output_type == "error"]
            assert "✅" in printed and errors == ["AssertionError"], meta(cell)["grade_id"]


@pytest.mark.slow
def test_feedback_shows_no_hidden_test_and_no_solution(graded: Path) -> None:
    solution_lines = secret_lines(SOURCE, "SOLUTION")
    hidden_lines = secret_lines(SOURCE, "HIDDEN TESTS")
    feedback = {
        learner: html_text(graded / "feedback" / learner / ASSIGNMENT / f"{NOTEBOOK}.html")
        for learner in LEARNERS
    }
    for learner, text in feedback.items():
        assert found_in(hidden_lines, text) == [], f"hidden tests in {learner}'s feedback"
    for learner in ("blank_learner", "wrong_learner"):
        assert found_in(solution_lines, feedback[learner]) == [], f"solutions in {learner}'s feedback"
    assert "AssertionError" in feedback["wrong_learner"], "a failed check still shows its message"

    # The checks above can fail: the same search finds what is really there.
    assert found_in(solution_lines, feedback["solution_learner"]) == sorted(solution_lines)
    autograded = graded / "autograded" / "blank_learner" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    assert found_in(hidden_lines, notebook_text(autograded)) == sorted(hidden_lines)


@pytest.mark.slow
def test_nothing_is_written_into_the_repository(graded: Path, repository_before: dict[str, int]) -> None:
    assert snapshot(EXERCISES) == repository_before
