"""Honest submissions, made from a cohort's released notebook as a learner would in JupyterLab.

Each question of an assignment (an answer cell followed by its check cell) is answered in one
of five ways: ``correct`` (the model answer), ``rephrased`` (the same value written
differently), ``wrong`` (a plausible number that passes the visible checks, from
tests/exercise_wrong_answers), ``error`` (a typo that raises) or ``blank`` (left as
released). The expected automatic score follows from the answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from cohort_fixtures import Question, questions

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "exercises" / "source"
KINDS = ("correct", "rephrased", "wrong", "error", "blank")
TIMESTAMP = "2026-03-01 10:00:00.000000 UTC"


def grade_id(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


@dataclass(frozen=True)
class Assignment:
    """An assignment of exercises/source, as the tests see it."""

    name: str

    @property
    def source(self) -> Path:
        return next((SOURCE / self.name).glob("*.ipynb"))

    @property
    def notebook(self) -> str:
        return self.source.stem

    def questions(self) -> list[Question]:
        return questions(self.name)

    def released(self, cohort: Path) -> NotebookNode:
        return nbformat.read(cohort / "release" / self.name / f"{self.notebook}.ipynb", as_version=4)

    def answered(self, cohort: Path, kinds: dict[str, str]) -> NotebookNode:
        """The released notebook with each question answered as ``kinds`` says (answer id -> kind)."""
        notebook = self.released(cohort)
        by_id = {q.answer_id: q for q in self.questions()}
        for cell in notebook.cells:
            if grade_id(cell) in kinds:
                cell.source = by_id[grade_id(cell)].answer(kinds[grade_id(cell)], cell.source)
        return notebook

    def expected(self, kinds: dict[str, str]) -> float:
        return sum(q.points for q in self.questions() if kinds.get(q.answer_id) in ("correct", "rephrased"))


def hand_in(cohort: Path, learner: str, assignment: Assignment, notebook: NotebookNode | None,
            filename: str | None = None) -> Path:
    """Put a submission where nbgrader expects it (what ``citylab cohort collect`` does)."""
    folder = cohort / "submitted" / learner / assignment.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "timestamp.txt").write_text(TIMESTAMP, encoding="utf-8")
    if notebook is not None:
        nbformat.write(notebook, folder / (filename or f"{assignment.notebook}.ipynb"))
    return folder


def mix(assignment: Assignment, count: int, seed: int = 2026) -> list[dict[str, str]]:
    """``count`` learners' answers: mostly right, some wrong or blank, a few untouched notebooks."""
    rng = random.Random(seed)
    plans = []
    for i in range(count):
        if i % 10 == 9:
            plans.append({q.answer_id: "blank" for q in assignment.questions()})
        else:
            plans.append({q.answer_id: rng.choices(KINDS, weights=(6, 2, 2, 1, 1))[0] for q in assignment.questions()})
    return plans
