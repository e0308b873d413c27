"""Feedback pages: what the learner did and scored, never a hidden test or someone else's solution.

A real cohort: the assignment released by nbgrader, submissions typed into the released
notebook, real autograding with real kernels, then ``citylab cohort feedback``. Every page
is searched for every hidden-test and solution line of the assignment.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import nbformat
import pytest

from citylab.cohort import cli
from citylab.cohort.course import Cohort
from citylab.cohort.leaks import found_in, html_text, secret_lines
from cohort_fixtures import (  # noqa: F401 (released is a fixture)
    ASSIGNMENT, Plan, Template, autograde, new_cohort, questions, released,
)

NOTEBOOK = "who-is-left-out"
SOURCE = Path(__file__).resolve().parent.parent / "exercises" / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
HIDDEN = secret_lines(SOURCE, "HIDDEN TESTS")
SOLUTIONS = secret_lines(SOURCE, "SOLUTION")


def learner(number: int, kinds: list[str], memo: str = "medium") -> Plan:
    qs = questions()
    return Plan(f"f-{number:02d}", f"Learner {number}", f"f{number}@cities.example", "",
                dict(zip((q.answer_id for q in qs), kinds, strict=True)), memo, "Tampere")


PLANS = [
    learner(1, ["correct"] * 4, "strong"),
    learner(2, ["wrong"] * 4),  # right form, wrong numbers: only the hidden tests fail
    learner(3, ["blank"] * 4, "none"),
    learner(4, ["rephrased", "error", "wrong", "correct"], "weak"),
]


def feedback(*args: object) -> int:
    return cli.main(["cohort", "feedback", *map(str, args)])


def page(cohort: Cohort, plan: Plan) -> Path:
    return cohort.path("feedback", plan.id, ASSIGNMENT, f"{NOTEBOOK}.html")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory, released: Template) -> Cohort:  # noqa: F811
    cohort = new_cohort(tmp_path_factory.mktemp("feedback") / "cohort", released, PLANS)
    autograde(cohort)
    assert feedback(cohort.root, ASSIGNMENT, "--zip", "--quiet") == 0
    return cohort


@pytest.mark.slow
def test_every_graded_learner_gets_a_page_and_a_zip(cohort: Cohort) -> None:
    for plan in PLANS:
        with zipfile.ZipFile(cohort.path("exports", "feedback", ASSIGNMENT, f"{plan.id}.zip")) as archive:
            assert archive.namelist() == [f"{ASSIGNMENT}-{NOTEBOOK}.html"]
            assert archive.read(archive.namelist()[0]) == page(cohort, plan).read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("plan", PLANS, ids=[p.id for p in PLANS])
def test_no_hidden_test_and_no_solution_but_the_learners_own(cohort: Cohort, plan: Plan) -> None:
    text = html_text(page(cohort, plan))
    assert found_in(HIDDEN, text) == [], "a hidden test is in the feedback"
    assert found_in(SOLUTIONS, text) == found_in(SOLUTIONS, plan.typed(questions())), "only what the learner typed"
    assert "Your answer" in text or "✅" in text or plan.answers[questions()[0].answer_id] == "blank"


@pytest.mark.slow
def test_a_failed_hidden_test_shows_its_message_not_its_code(cohort: Cohort) -> None:
    """The course config's ErrorMessageOnly is in effect in a cohort: a test cell's error is one line."""
    text = html_text(page(cohort, PLANS[1]))
    messages = [re.search(r', "([^"]+)"$', line).group(1) for line in sorted(HIDDEN)]
    assert all(f"AssertionError: {m}" in text for m in messages)
    # IPython would print where it failed: "Cell In[9], line 7", an arrow "---->" and the lines around it.
    assert not re.search(r"Cell In\[|---->|Traceback \(most recent call last\)", text)
    blank = html_text(page(cohort, PLANS[2]))
    assert "---->" in blank, "outside test cells, errors keep their context (the learner's own code)"


@pytest.mark.slow
def test_feedback_before_grading_says_what_to_do(tmp_path: Path, released: Template, capsys) -> None:  # noqa: F811
    cohort = new_cohort(tmp_path / "c", released, PLANS[:1])
    assert feedback(cohort.root, ASSIGNMENT) == 1
    assert f"no graded submissions of {ASSIGNMENT}: run 'citylab cohort grade" in capsys.readouterr().err


def leaking_answer() -> str:
    """An answer cell that prints a hidden test without containing it, as a notebook that read source/ would."""
    line = sorted(HIDDEN)[0]
    half = len(line) // 2
    return f"{questions()[0].wrong}\nprint({line[:half]!r} + {line[half:]!r})"


@pytest.mark.slow
def test_a_page_that_would_reveal_a_hidden_test_is_held_back(tmp_path: Path, released: Template, capsys) -> None:  # noqa: F811
    plans = [learner(9, ["correct"] * 4, "strong"), learner(8, ["wrong"] * 4)]
    cohort = new_cohort(tmp_path / "c", released, plans)
    path = cohort.path("submitted", "f-08", ASSIGNMENT, f"{NOTEBOOK}.ipynb")
    notebook = nbformat.read(path, as_version=4)
    answer = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == questions()[0].answer_id)
    answer.source = leaking_answer()
    nbformat.write(notebook, path)
    autograde(cohort)
    assert feedback(cohort.root, ASSIGNMENT, "--zip") == 1
    err = capsys.readouterr().err
    withheld = cohort.path("feedback-withheld", "f-08", ASSIGNMENT, f"{NOTEBOOK}.html")
    assert f"citylab: error: {withheld} would reveal hidden tests or solutions: held back and nothing zipped" in err
    assert f"{withheld}: shows 1 hidden-test or solution line(s)" in err
    assert withheld.is_file() and not page(cohort, plans[1]).exists()
    assert page(cohort, plans[0]).is_file(), "the other learners' pages stay"
    assert not cohort.path("exports", "feedback").exists(), "nothing is zipped"


@pytest.mark.slow
def test_feedback_after_plain_nbgrader_autograde_is_clean_too(tmp_path: Path, released: Template) -> None:  # noqa: F811
    """Graded by nbgrader itself (formgrader's button): the course config still cuts test-cell errors to one line."""
    cohort = new_cohort(tmp_path / "c", released, PLANS[1:2])
    cohort.nbgrader("autograde", ASSIGNMENT)
    assert feedback(cohort.root, ASSIGNMENT) == 0
    text = html_text(page(cohort, PLANS[1]))
    assert found_in(HIDDEN, text) == [] and found_in(SOLUTIONS, text) == []
    messages = [re.search(r', "([^"]+)"$', line).group(1) for line in sorted(HIDDEN)]
    assert all(f"AssertionError: {m}" in text for m in messages)
    assert not re.search(r"Cell In\[|---->|Traceback \(most recent call last\)", text)
