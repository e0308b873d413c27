"""A whole cohort, end to end, with the trainer's commands: 32 learners from roster to report.

The cohort (tests/cohort_fixtures.py) has correct, rephrased, wrong, failing and blank answers,
late and missing work, and memos of known quality. Each step runs the real ``citylab cohort``
command, as a trainer would type it. The test then checks the numbers against what the
learners handed in, searches everything that goes out to learners for hidden tests, model
solutions and identities, checks that the report and the CSV tell the same story, and that
the whole run fits in a few minutes.
"""

from __future__ import annotations

import csv
import re
import statistics
import sys
import time
import zipfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from citylab.cohort import cli
from citylab.cohort.course import Cohort
from citylab.cohort.leaks import found_in, html_text, secret_lines
from citylab.cohort.peer import number
from cohort_fixtures import (
    ASSIGNMENT, SOURCE, Plan, fair_scores, fill_form, plan_cohort, quality_of, questions, write_downloads,
    write_roster,
)

NOTEBOOK = "who-is-left-out"
SIZE = 32
ROGUE = "c26-011"  # a reviewer who gives every memo 0
#: The whole run, grading included, on the 2-core machine (it takes about 3 minutes there).
BUDGET_SECONDS = 600


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


class Trainer:
    """Types the commands and times each step."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    def __call__(self, *args: object) -> None:
        started = time.monotonic()
        assert cli.main(["cohort", *map(str, args)]) == 0, args
        self.times[" ".join(map(str, args[:2] if args[0] == "peer" else args[:1]))] = time.monotonic() - started


def learners_notebook(cohort: Cohort, unzipped: Path):
    """What a learner works on: the notebook inside the zip the release step made for them."""

    def notebook_of(plan: Plan) -> Path:
        with zipfile.ZipFile(cohort.path("exports", ASSIGNMENT, f"{plan.id}.zip")) as archive:
            name = next(n for n in archive.namelist() if n.endswith(".ipynb"))
            archive.extract(name, unzipped / plan.id)
        return unzipped / plan.id / name

    return notebook_of


def review_everything(cohort: Cohort, filled: Path) -> None:
    """Each reviewer opens their zip, judges each memo from its text and sends the forms back."""
    filled.mkdir()
    for bundle in sorted(cohort.path("exports", "peer", ASSIGNMENT).glob("*.zip")):
        reviewer = bundle.stem
        with zipfile.ZipFile(bundle) as archive:
            for name in archive.namelist():
                form = archive.read(name).decode("utf-8")
                scores = [0.0] * 4 if reviewer == ROGUE else fair_scores(quality_of(form), reviewer)
                (filled / f"{reviewer}-{name}").write_text(fill_form(form, scores), encoding="utf-8")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cohort, list[Plan], Path, Trainer]:
    work = tmp_path_factory.mktemp("e2e")
    plans, trainer, root = plan_cohort(SIZE), Trainer(), work / "cohort"
    started = time.monotonic()
    trainer("create", root)
    trainer("roster", root, write_roster(plans, work / "roster.csv"))
    trainer("release", root, ASSIGNMENT, "--to", "zip-per-learner", "--deadline", "2026-03-02 17:00", "--quiet")
    cohort = Cohort.open(root)
    downloads = write_downloads(plans, learners_notebook(cohort, work / "unzipped"), work / "downloads")
    trainer("collect", root, ASSIGNMENT, "--from", downloads, "--quiet")
    trainer("grade", root, ASSIGNMENT, "--quiet")
    trainer("feedback", root, ASSIGNMENT, "--zip", "--quiet")
    trainer("peer", "assign", root, ASSIGNMENT, "--reviewers", 3, "--seed", 2026, "--within-groups")
    trainer("peer", "export", root, ASSIGNMENT, "--quiet")
    review_everything(cohort, work / "filled")
    trainer("peer", "collect", root, ASSIGNMENT, work / "filled")
    trainer("grades", root, "--out", work / "grades.csv")
    trainer("report", root, "--out", work / "report.html")
    trainer.times["total"] = time.monotonic() - started
    print("\n" + "\n".join(f"{step:>14}: {seconds:6.1f} s" for step, seconds in trainer.times.items()), file=sys.stderr)
    return cohort, plans, work, trainer


def handed_in(plans: list[Plan]) -> list[Plan]:
    return [p for p in plans if not p.missing]


@pytest.mark.slow
def test_every_learner_scores_what_their_answers_earn(run) -> None:
    cohort, plans, work, _ = run
    grades = {row["id"]: row for row in csv_rows(work / "grades.csv")}
    assert len(plans) == len(grades) == SIZE >= 30
    assert {p.memo for p in plans} >= {"strong", "medium", "weak", "none"} and sum(p.late for p in plans) == 3
    for plan in plans:
        row = grades[plan.id]
        if plan.missing:
            assert row[f"{ASSIGNMENT} status"] == "missing" and row[f"{ASSIGNMENT} auto"] == ""
            assert not cohort.path("submitted", plan.id).exists(), "a missing learner has no submission"
            assert not cohort.path("feedback", plan.id).exists()
            continue
        assert row[f"{ASSIGNMENT} status"] == ("late" if plan.late else "on time"), plan.id
        assert float(row[f"{ASSIGNMENT} auto"]) == plan.expected_auto(questions()), plan.id
        assert row[f"{ASSIGNMENT} manual"] == ""
        peer = float(row[f"{ASSIGNMENT} peer"] or 0)
        assert float(row[f"{ASSIGNMENT} total"]) == pytest.approx(plan.expected_auto(questions()) + peer)
    kinds = {kind for plan in plans for kind in plan.answers.values()}
    assert kinds == {"correct", "rephrased", "wrong", "error", "blank"}


@pytest.mark.slow
def test_no_feedback_page_reveals_a_hidden_test_or_a_solution(run) -> None:
    cohort, plans, _, _ = run
    source = cohort.source / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    hidden, solutions = secret_lines(source, "HIDDEN TESTS"), secret_lines(source, "SOLUTION")
    pages = sorted(cohort.path("feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert [p.parent.parent.name for p in pages] == [p.id for p in handed_in(plans)]
    for plan, page in zip(handed_in(plans), pages, strict=True):
        text = html_text(page)
        assert found_in(hidden, text) == [], page
        assert found_in(solutions, text) == found_in(solutions, plan.typed(questions())), page
        with zipfile.ZipFile(cohort.path("exports", "feedback", ASSIGNMENT, f"{plan.id}.zip")) as archive:
            assert [archive.read(n) for n in archive.namelist()] == [page.read_bytes()]
    assert not cohort.path("feedback-withheld").exists()


@pytest.mark.slow
def test_peer_review_is_fair_anonymous_and_scored(run) -> None:
    cohort, plans, _, _ = run
    by_id = {p.id: p for p in plans}
    key = csv_rows(cohort.path("peer", ASSIGNMENT, "assignment.csv"))
    writers = {p.id for p in handed_in(plans) if p.memo != "none"}
    assert {r["author"] for r in key} == writers
    assert all(r["reviewer"] != r["author"] and by_id[r["reviewer"]].group == by_id[r["author"]].group for r in key)
    load = defaultdict(int)
    for r in key:
        load[r["reviewer"]] += 1
    assert set(load) == {p.id for p in handed_in(plans)} and max(load.values()) - min(load.values()) <= 1

    secrets = secret_lines(cohort.source / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    identities = {text.lower() for p in plans for text in (p.id, p.name, p.email)}
    for bundle in cohort.path("exports", "peer", ASSIGNMENT).glob("*.zip"):
        with zipfile.ZipFile(bundle) as archive:
            for name in archive.namelist():
                form = archive.read(name).decode("utf-8")
                assert found_in(secrets, form) == [], f"{bundle.name}!{name}"
                assert [i for i in identities if i in form.lower()] == [], f"{bundle.name}!{name}"

    totals = defaultdict(list)
    for r in key:
        fair = sum(fair_scores(by_id[r["author"]].memo, r["reviewer"]))
        totals[r["author"]].append(0.0 if r["reviewer"] == ROGUE else fair)
    scores = {r["learner"]: r["peer_score"] for r in csv_rows(cohort.path("peer", ASSIGNMENT, "peer_scores.csv"))}
    assert {a: float(scores[a]) for a in totals} == {a: statistics.median(t) for a, t in totals.items()}
    flagged = csv_rows(cohort.path("peer", ASSIGNMENT, "flags.csv"))
    assert flagged and {f["reviewer"] for f in flagged} == {ROGUE}


@pytest.mark.slow
def test_the_report_tells_the_same_story_as_the_csv(run) -> None:
    cohort, plans, work, _ = run
    grades = csv_rows(work / "grades.csv")
    page = (work / "report.html").read_text(encoding="utf-8")
    status = [r[f"{ASSIGNMENT} status"] for r in grades]
    totals = [float(r[f"{ASSIGNMENT} total"]) for r in grades if r[f"{ASSIGNMENT} status"] in ("on time", "late")]
    row = re.search(r'<table class="scores">.*?<tbody><tr>(.*?)</tr>', page, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row)]
    assert cells == [str(len(totals)), str(status.count("late")), str(status.count("missing")), "0",
                     number(statistics.median(totals)), number(statistics.mean(totals)), "12"]
    scored = handed_in(plans)
    for question in questions():
        full = sum(p.answers[question.answer_id] in ("correct", "rephrased") for p in scored)
        label = re.escape(question.answer_id.split("-")[0].upper())
        cells = rf"<th scope=\"row\">{label} · [^<]*</th><td>[^<]*</td><td>2</td><td>{full} of {len(scored)}</td>"
        assert re.search(cells, page), question.answer_id
    returned = len(list(cohort.path("peer", ASSIGNMENT, "reviews").glob("*.md")))
    assert f"Peer review: {returned} of {returned} reviews came back (100%)." in page
    assert not re.search(r"<script|https?://", page)
    assert all(re.search(r'alt="[^"]{40,}"', img) for img in re.findall(r"<img [^>]*>", page))
    assert [text for p in plans for text in (p.id, p.name, p.email) if text in page] == []


@pytest.mark.slow
def test_it_runs_in_a_few_minutes(run) -> None:
    _, _, _, trainer = run
    assert trainer.times["total"] < BUDGET_SECONDS, trainer.times
    assert all(seconds < 60 for step, seconds in trainer.times.items() if step not in ("grade", "total")), trainer.times


# ---------------------------------------------------------------- every assignment, one cohort

ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if any(p.glob("*.ipynb")))
KINDS = {"c26-001": "correct", "c26-002": "wrong", "c26-003": "blank", "c26-004": "rephrased"}


@pytest.fixture(scope="module")
def every_assignment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cohort, list[Plan], Path]:
    """One cohort of four learners who hand in every assignment: right, wrong, blank, right in other words."""
    work = tmp_path_factory.mktemp("all")
    plans = [replace(plan, memo="medium" if i % 2 else "strong") for i, plan in enumerate(plan_cohort(4))]
    trainer, root = Trainer(), work / "cohort"
    trainer("create", root)
    trainer("roster", root, write_roster(plans, work / "roster.csv"))
    cohort = Cohort.open(root)
    for assignment in ASSIGNMENTS:
        trainer("release", root, assignment, "--to", "zip", "--quiet")
        released = next(cohort.path("release", assignment).glob("*.ipynb"))
        answered = [replace(p, answers={q.answer_id: KINDS[p.id] for q in questions(assignment)}) for p in plans]
        downloads = write_downloads(answered, lambda _, nb=released: nb, work / "downloads" / assignment, assignment)
        trainer("collect", root, assignment, "--from", downloads, "--quiet")
        trainer("grade", root, assignment, "--quiet")
        trainer("feedback", root, assignment, "--quiet")
        trainer("peer", "assign", root, assignment, "--reviewers", 2, "--seed", 1)
        trainer("peer", "export", root, assignment, "--quiet")
    trainer("grades", root, "--out", work / "grades.csv")
    trainer("report", root, "--out", work / "report.html")
    return cohort, plans, work


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_grades_gives_feedback_and_peer_forms(every_assignment, assignment: str) -> None:
    cohort, plans, work = every_assignment
    qs = questions(assignment)
    full = sum(q.points for q in qs)
    grades = {row["id"]: row for row in csv_rows(work / "grades.csv")}
    expected = {"correct": full, "rephrased": full, "wrong": 0, "blank": 0}
    assert {p.id: float(grades[p.id][f"{assignment} auto"]) for p in plans} == {p.id: expected[KINDS[p.id]] for p in plans}

    source = next((cohort.source / assignment).glob("*.ipynb"))
    hidden, solutions = secret_lines(source, "HIDDEN TESTS"), secret_lines(source, "SOLUTION")
    for plan in plans:
        text = html_text(next(cohort.path("feedback", plan.id, assignment).glob("*.html")))
        typed = replace(plan, answers={q.answer_id: KINDS[plan.id] for q in qs}).typed(qs)
        assert found_in(hidden, text) == [] and found_in(solutions, text) == found_in(solutions, typed), plan.id

    forms = sorted(cohort.path("exports", "peer", assignment).glob("*/*.md"))
    assert len(forms) == 2 * len(plans)
    for form in forms:
        text = form.read_text(encoding="utf-8")
        assert found_in(hidden | solutions, text) == [] and "## Your scores" in text and "| Criterion" in text


@pytest.mark.slow
def test_the_report_covers_every_module(every_assignment) -> None:
    _, _, work = every_assignment
    page = (work / "report.html").read_text(encoding="utf-8")
    rows = re.search(r'<table class="scores">.*?<tbody>(.*?)</tbody>', page, re.DOTALL).group(1)
    assert re.findall(r"<small>(.*?)</small>", rows) == ASSIGNMENTS
    assert len(re.findall(r"<img ", page)) == len(ASSIGNMENTS) + 2
