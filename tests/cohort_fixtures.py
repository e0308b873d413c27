"""A realistic cohort for the trainer-tool tests: a roster, submissions of every kind, memos, reviews.

Learners are planned, not random at test time: a seeded generator decides, for each learner and
each question, one of

- ``correct``: the model answer's own line (what most learners who got it right type);
- ``rephrased``: a correct answer written differently (the same value, other text);
- ``wrong``: a plausible wrong number that passes the visible checks (tests/exercise_wrong_answers);
- ``error``: a line that fails (a misspelt name), so the check cell fails too;
- ``blank``: the answer cell left as released;

plus a memo of a known quality (strong, medium, weak or none), whether the work is late, and
whether it is missing altogether. Every learner's expected automatic score follows from the
plan, so the tests can compare nbgrader's numbers with what the learners really handed in.
Submissions are built from the released notebook by replacing answer cells only, as a learner
would in JupyterLab. The answers work for any assignment that has a tests/exercise_wrong_answers
file; the memos and the reviewers are written for module 1's rubric (four criteria).
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from citylab.cohort import cli
from citylab.cohort.course import Cohort, create
from citylab.cohort.roster import import_roster

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "exercises" / "source"
ASSIGNMENT = "01-people-centred"
DEADLINE = datetime(2026, 3, 2, 17, 0, tzinfo=timezone.utc)
KINDS = ("correct", "rephrased", "wrong", "error", "blank")
NAMES = (
    "Amina Diallo", "José Martínez", "Zoë van der Berg", "Nguyễn Thị Lan", "Chidi Okafor", "Ana Ribeiro",
    "Priya Raman", "Lars Eriksen", "Fatima Zahra Benali", "Kenji Watanabe", "Olga Petrova", "Mateus Costa",
    "Aisha Mohammed", "Tomás Ruiz", "Ingrid Hansen", "Samuel Mensah", "Leila Haddad", "Marek Nowak",
    "Sofia Rossi", "Daniel Cohen", "Mei Chen", "Kwame Asante", "Elena Popescu", "Rahul Verma",
    "Camille Dubois", "Yusuf Demir", "Hana Novak", "Diego Fernández", "Noura Al-Sayed", "Pieter de Vries",
    "Grace Wanjiru", "Ahmed Karim", "Isabel Quispe", "Tanvir Hossain", "Maja Lindqvist", "Omar Farouk",
)
GROUPS = ("North", "South", "East", "West")
CITIES = ("Porto Alegre", "Kisumu", "Gdańsk", "Medellín", "Tampere", "Surabaya", "Windhoek", "Rosario")

#: Memo texts by quality, with the rubric level a fair reviewer gives each criterion.
MEMOS = {
    "strong": (
        "**My advice:** go digital first in {city}, and keep a counter and a phone line for every service.\n\n"
        "The ITU (Facts and Figures 2025) counts 27 points between urban and rural internet use. With the share "
        "online of low-income countries, about {offline:,} of our residents would be cut off, mostly older people, "
        "rural households and people on low incomes.\n\n"
        "1. Same fees and deadlines at the counter and by phone.\n"
        "2. Library staff trained to help residents online.\n"
        "3. A yearly count of who uses which channel, by district.\n\n"
        "Decision for the council: approve these three steps in {city}.",
        (1.0, 0.75, 1.0, 1.0),
    ),
    "medium": (
        "I think {city} should put services online but also help people who are not online. "
        "Many people in rural areas are offline (ITU). We could give training in libraries.",
        (0.5, 0.5, 0.5, 0.5),
    ),
    "weak": (
        "Digital services are the future and {city} must be inclusive for all citizens.",
        (0.25, 0.25, 0.25, 0.25),
    ),
}


@dataclass(frozen=True)
class Question:
    """One auto-graded question of an assignment: its answer cell and the points of its check."""

    answer_id: str
    check_id: str
    solution: str  # the model answer's lines, without the markers
    wrong: str
    points: float

    @property
    def variable(self) -> str:
        return self.solution.splitlines()[-1].split("=")[0].strip()

    def answer(self, kind: str, stub: str) -> str:
        """What a learner of this kind types in the answer cell."""
        if kind == "correct":
            return self.solution
        if kind == "rephrased":
            *before, last = self.solution.splitlines()
            return "\n".join([*before, f"{self.variable} = ({last.split('=', 1)[1].strip()})  # my answer"])
        if kind == "wrong":
            return self.wrong
        if kind == "error":
            return f"{self.variable} = share_onlin * 100  # a typo"
        return stub


def questions(assignment: str = ASSIGNMENT) -> list[Question]:
    """The auto-graded questions of an assignment, in notebook order."""
    notebook = next((SOURCE / assignment).glob("*.ipynb"))
    cells = nbformat.read(notebook, as_version=4).cells
    wrong = json.loads((ROOT / "tests" / "exercise_wrong_answers" / f"{assignment}.json").read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in wrong:
            body = "\n".join(cell.source.splitlines()[1:-1])
            check = cells[i + 1].metadata["nbgrader"]
            found.append(Question(grade_id, check["grade_id"], body, wrong[grade_id], check["points"]))
    return found


@dataclass(frozen=True)
class Plan:
    """What one learner hands in."""

    id: str
    name: str
    email: str
    group: str
    answers: dict[str, str] = field(default_factory=dict)  # answer cell id -> kind
    memo: str = "none"  # strong | medium | weak | none
    city: str = ""
    late: bool = False
    missing: bool = False
    signs_memo: bool = False  # puts their name and e-mail under the memo
    quotes_code: bool = False  # pastes an answer line into the memo

    def expected_auto(self, qs: list[Question]) -> float:
        return sum(q.points for q in qs if self.answers.get(q.answer_id) in ("correct", "rephrased"))

    def typed(self, qs: list[Question]) -> str:
        """Everything this learner types into the notebook: answers and memo (a correct answer is a solution line)."""
        return "\n".join([*(q.answer(self.answers.get(q.answer_id, "blank"), "") for q in qs), self.memo_text(qs) or ""])

    def memo_text(self, qs: list[Question]) -> str | None:
        if self.memo == "none":
            return None
        text = MEMOS[self.memo][0].format(city=self.city, offline=924_000)
        if self.quotes_code:
            text += f"\n\nMy calculation: `{qs[0].solution.splitlines()[-1]}`"
        if self.signs_memo:
            text += f"\n\n{self.name}, {self.email}"
        return text


def plan_cohort(size: int = 32, seed: int = 2026, assignment: str = ASSIGNMENT) -> list[Plan]:
    """A cohort of ``size`` learners (at most len(NAMES)) in four groups, with every kind of work.

    Learners 5, 17 and 29 hand in nothing; 3, 12 and 22 hand in late; 9 and 26 hand in the
    notebook untouched. The third question is the hardest (most learners miss it).
    """
    rng, qs = random.Random(seed), questions(assignment)
    plans = []
    for i in range(size):
        base = dict(id=f"c26-{i + 1:03d}", name=NAMES[i], email=f"c26-{i + 1:03d}@cities.example",
                    group=GROUPS[i * len(GROUPS) // size], city=CITIES[i % len(CITIES)])
        if i in (5, 17, 29):
            plans.append(Plan(**base, missing=True))
            continue
        if i in (9, 26):
            plans.append(Plan(**base, answers={q.answer_id: "blank" for q in qs}))
            continue
        answers = {
            q.answer_id: rng.choices(KINDS, weights=(2, 4, 4, 1, 1) if n == 2 else (6, 2, 1, 1, 1))[0]
            for n, q in enumerate(qs)
        }
        memo = rng.choices(("strong", "medium", "weak", "none"), weights=(4, 4, 3, 1))[0]
        plans.append(Plan(**base, answers=answers, memo=memo, late=i in (3, 12, 22),
                          signs_memo=i in (2, 14), quotes_code=i == 1))
    return plans


def write_roster(plans: list[Plan], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "email", "group"])
        writer.writerows([p.id, p.name, p.email, p.group] for p in plans)
    return path


def submission(plan: Plan, released: Path, qs: list[Question]) -> nbformat.NotebookNode:
    """The released notebook with this learner's answers typed in."""
    nb = nbformat.read(released, as_version=4)
    by_id = {q.answer_id: q for q in qs}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in plan.answers:
            cell.source = by_id[grade_id].answer(plan.answers[grade_id], cell.source)
        elif cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("grade") and plan.memo_text(qs):
            cell.source = plan.memo_text(qs)
    return nb


def handed_in_at(plan: Plan) -> datetime:
    return DEADLINE + timedelta(hours=5) if plan.late else DEADLINE - timedelta(days=1, minutes=int(plan.id[-3:]))


def write_downloads(plans: list[Plan], notebook_of: Callable[[Plan], Path], folder: Path,
                    assignment: str = ASSIGNMENT) -> Path:
    """Files as an LMS download gives them: ``<id>_<notebook>.ipynb``, modified when handed in.

    ``notebook_of`` gives the notebook each learner was sent (e.g. from their release zip).
    """
    qs = questions(assignment)
    folder.mkdir(parents=True, exist_ok=True)
    for plan in plans:
        if plan.missing:
            continue
        sent = notebook_of(plan)
        path = folder / f"{plan.id}_{sent.name}"
        nbformat.write(submission(plan, sent, qs), path)
        at = handed_in_at(plan).timestamp()
        os.utime(path, (at, at))
    return folder


def place_submissions(plans: list[Plan], released: Path, cohort_root: Path, assignment: str = ASSIGNMENT) -> None:
    """Put submissions straight where nbgrader reads them (submitted/<id>/<assignment>/, timestamp.txt)."""
    qs = questions(assignment)
    for plan in plans:
        if plan.missing:
            continue
        folder = cohort_root / "submitted" / plan.id / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(submission(plan, released, qs), folder / released.name)
        (folder / "timestamp.txt").write_text(f"{handed_in_at(plan):%Y-%m-%d %H:%M:%S.%f} UTC", encoding="utf-8")


# ---------------------------------------------------------------- cohorts


@dataclass(frozen=True)
class Template:
    """A gradebook and release folder where nbgrader's generate_assignment has run once."""

    gradebook: Path
    release: Path

    @property
    def notebook(self) -> Path:
        return next(self.release.glob("*.ipynb"))


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The assignment released once by real nbgrader (it takes seconds); tests copy it."""
    cohort = create(tmp_path_factory.mktemp("released") / "cohort")
    cohort.nbgrader("generate_assignment", ASSIGNMENT)
    return Template(cohort.path("gradebook.db"), cohort.path("release", ASSIGNMENT))


def new_cohort(folder: Path, template: Template, plans: list[Plan] | None = None) -> Cohort:
    """A fresh cohort with the template's gradebook and release, and the plans' roster (imported) and submissions."""
    cohort = create(folder)
    shutil.copyfile(template.gradebook, cohort.path("gradebook.db"))
    shutil.copytree(template.release, cohort.path("release", ASSIGNMENT))
    if plans:
        import_roster(cohort, write_roster(plans, folder.parent / f"{folder.name}-roster.csv"))
        place_submissions(plans, template.notebook, cohort.root)
    return cohort


def autograde(cohort: Cohort, assignment: str = ASSIGNMENT) -> None:
    """Grade every submission of the assignment with the trainer's command (parallel, sandboxed)."""
    assert cli.main(["cohort", "grade", str(cohort.root), assignment, "--quiet"]) == 0


# ---------------------------------------------------------------- reviewers


def fill_form(form: str, scores: list[float], works: str = "Clear numbers.", improve: str = "Name the groups.") -> str:
    """A review form as a reviewer sends it back: one score per criterion, two sentences."""
    lines = form.splitlines()
    start = lines.index("## Your scores")
    values = iter(scores)
    for i in range(start + 1, len(lines)):
        if lines[i].startswith("## "):
            break
        if lines[i].startswith("- "):
            lines[i] = f"{lines[i].rstrip()} {next(values):g}"
    hint = "<!-- One sentence, below this line. -->\n"
    text = "\n".join(lines).replace(hint, hint + works, 1)
    return text.replace(hint + "\n", hint + improve + "\n", 1) + "\n"


def quality_of(form: str) -> str:
    """The quality of the memo in a review form, judged from its text alone (as a reviewer would)."""
    memo = "\n".join(line for line in form.splitlines() if line.startswith(">"))
    return next(q for q, (text, _) in MEMOS.items() if text.split("{city}")[0][:30] in memo)


def fair_scores(quality: str, reviewer: str) -> list[float]:
    """A fair reviewer's levels for a memo: its true levels, one of them a level off now and then."""
    levels = list(MEMOS[quality][1])
    nudge = int(re.sub(r"\D", "", reviewer)) % 5
    if nudge < len(levels):
        levels[nudge] = min(1.0, levels[nudge] + 0.25) if levels[nudge] < 0.75 else levels[nudge] - 0.25
    return levels
