"""Grades CSV and the cohort report: the total rule, statuses, and a page that stands on its own.

The gradebook here is nbgrader's own, with the assignment registered by a real
``generate_assignment``; the scores are written through nbgrader's API as autograde and
formgrader would write them, so each case (late, missing, not graded yet, graded by the
trainer, peer-scored) is exactly known. tests/test_cohort_e2e.py runs the real grading.
"""

from __future__ import annotations

import base64
import csv
import re
from pathlib import Path

import pytest

from citylab.cohort import cli
from citylab.cohort.course import Cohort
from citylab.cohort.peer import write_csv
from cohort_fixtures import (  # noqa: F401 (released is a fixture)
    ASSIGNMENT, DEADLINE, Plan, Template, handed_in_at, new_cohort, plan_cohort, questions, released,
)

MEMO = "q5-memo"
#: Learners whose memo the trainer graded in formgrader, and the score given.
TRAINER_GRADED = {"c26-001": 3.5, "c26-004": 1.0}
#: Peer scores (c26-001 also has one: the trainer's grade wins).
PEER = {"c26-001": 2.0, "c26-002": 2.25, "c26-003": 3.75, "c26-008": 1.0}
NOT_GRADED_YET = "c26-011"  # handed in, but autograde has not run for them


def score_of(plan: Plan, check_id: str) -> float:
    question = next(q for q in questions() if check_id.startswith(q.answer_id.split("-")[0]))
    return question.points if plan.answers.get(question.answer_id) in ("correct", "rephrased") else 0.0


def record(cohort: Cohort, plans: list[Plan]) -> None:
    """Students, deadline and graded submissions in the gradebook, as autograde and formgrader leave them."""
    with cohort.gradebook() as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT, duedate=DEADLINE.replace(tzinfo=None))
        for plan in plans:
            gradebook.update_or_create_student(plan.id, first_name=plan.name.split()[0], email=plan.email)
            if plan.missing or plan.id == NOT_GRADED_YET:
                continue
            stamp = handed_in_at(plan).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
            submission = gradebook.add_submission(ASSIGNMENT, plan.id, timestamp=stamp)
            for grade in submission.notebooks[0].grades:
                if grade.cell_type == "code":
                    grade.auto_score, grade.needs_manual_grade = score_of(plan, grade.name), False
                elif plan.memo == "none":
                    grade.auto_score, grade.needs_manual_grade = 0.0, False
                elif plan.id in TRAINER_GRADED:
                    grade.manual_score, grade.needs_manual_grade = TRAINER_GRADED[plan.id], False
            gradebook.db.commit()


def record_peer_review(cohort: Cohort) -> None:
    folder = cohort.path("peer", ASSIGNMENT)
    (folder / "reviews").mkdir(parents=True)
    write_csv(folder / "peer_scores.csv", ["learner", "peer_score"], [[k, v] for k, v in PEER.items()])
    codes = [f"AAAA-BBB{i}" for i in range(2, 8)]
    write_csv(folder / "assignment.csv", ["review_code", "reviewer", "author", "group"],
              [[code, f"c26-00{i + 1}", f"c26-00{(i + 1) % 6 + 1}", ""] for i, code in enumerate(codes)])
    for code in codes[:5]:
        (folder / "reviews" / f"{code}.md").write_text(f"Review code: {code}\n", encoding="utf-8")
    write_csv(folder / "flags.csv", ["review_code"], [[codes[0]]])


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory, released: Template) -> tuple[Cohort, list[Plan]]:  # noqa: F811
    plans = plan_cohort(24)
    cohort = new_cohort(tmp_path_factory.mktemp("report") / "cohort", released, plans)
    record(cohort, plans)
    record_peer_review(cohort)
    return cohort, plans


@pytest.fixture(scope="module")
def grades(graded: tuple[Cohort, list[Plan]]) -> dict[str, dict[str, str]]:
    cohort, _ = graded
    assert cli.main(["cohort", "grades", str(cohort.root), "--out", str(cohort.path("out", "grades.csv"))]) == 0
    with cohort.path("out", "grades.csv").open(encoding="utf-8-sig", newline="") as f:
        return {row["id"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def report(graded: tuple[Cohort, list[Plan]]) -> str:
    cohort, _ = graded
    assert cli.main(["cohort", "report", str(cohort.root), "--title", "Spring cohort 2026"]) == 0
    return cohort.path("exports", "report.html").read_text(encoding="utf-8")


def col(name: str) -> str:
    return f"{ASSIGNMENT} {name}"


# ---------------------------------------------------------------- grades.csv


@pytest.mark.slow
def test_one_row_per_learner_with_auto_manual_peer_total(grades: dict, graded: tuple[Cohort, list[Plan]]) -> None:
    _, plans = graded
    assert list(grades) == [p.id for p in plans]
    assert list(next(iter(grades.values()))) == [
        "id", "name", "group", col("status"), col("auto"), col("manual"), col("peer"), col("total"), "total",
    ]
    for plan in plans:
        row = grades[plan.id]
        assert (row["name"], row["group"]) == (plan.name, plan.group)
        if plan.missing or plan.id == NOT_GRADED_YET:
            assert row[col("status")] == ("missing" if plan.missing else "not graded")
            assert (row[col("auto")], row[col("manual")], row[col("total")]) == ("", "", "0")
            continue
        assert row[col("status")] == ("late" if plan.late else "on time")
        assert float(row[col("auto")]) == plan.expected_auto(questions())
        memo = TRAINER_GRADED.get(plan.id, PEER.get(plan.id, 0.0))
        assert float(row[col("total")]) == float(row["total"]) == plan.expected_auto(questions()) + memo, plan.id


@pytest.mark.slow
def test_the_trainers_grade_wins_over_the_peer_score(grades: dict) -> None:
    row = grades["c26-001"]
    assert (row[col("manual")], row[col("peer")]) == ("3.5", "2")
    assert float(row[col("total")]) == float(row[col("auto")]) + 3.5
    assert grades["c26-002"][col("manual")] == "" and grades["c26-002"][col("peer")] == "2.25"


# ---------------------------------------------------------------- report.html


def table_rows(page: str, css_class: str) -> list[list[str]]:
    table = re.search(rf'<table class="{css_class}">(.*?)</table>', page, re.S).group(1)
    body = table.split("<tbody>")[1]
    return [[re.sub(r"<[^>]+>", " ", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.mark.slow
def test_report_numbers_agree_with_the_csv(report: str, grades: dict) -> None:
    import statistics

    from citylab.cohort.peer import number

    rows = grades.values()
    handed_in = [r for r in rows if r[col("status")] in ("on time", "late")]
    totals = [float(r[col("total")]) for r in handed_in]
    expected = [
        str(len(handed_in)), str(sum(r[col("status")] == "late" for r in rows)),
        str(sum(r[col("status")] == "missing" for r in rows)), str(sum(r[col("status")] == "not graded" for r in rows)),
        number(statistics.median(totals)), number(statistics.mean(totals)), "12",
    ]
    (scores,) = table_rows(report, "scores")
    assert scores[1:] == expected
    assert f"{len(handed_in)} of {len(grades)} learners handed in (3 late, 2 missing)" in report


@pytest.mark.slow
def test_report_lists_the_questions_most_learners_missed(report: str, graded: tuple[Cohort, list[Plan]]) -> None:
    _, plans = graded
    scored = [p for p in plans if not p.missing and p.id != NOT_GRADED_YET]
    rows = table_rows(report, "questions")
    shares = []
    for question, row in zip(questions(), sorted(rows, key=lambda r: r[0]), strict=True):
        full = sum(p.answers[question.answer_id] in ("correct", "rephrased") for p in scored)
        assert row[3] == f"{full} of {len(scored)}", row
        shares.append(full / len(scored))
    assert rows[0][0].startswith("Q3 · How much will the world grow?") and min(shares) == shares[2]
    assert "Q5 · Digital first, no one left behind" in report and "still to be graded by the trainer" in report


@pytest.mark.slow
def test_report_shows_peer_review_participation(report: str) -> None:
    (row,) = table_rows(report, "peer")
    assert row[1:] == ["6", "6", "5 (83%)", "5 of 6", "1"]
    assert "Peer review: 5 of 6 reviews came back (83%)." in report


@pytest.mark.slow
def test_report_is_one_self_contained_accessible_page(report: str, graded: tuple[Cohort, list[Plan]]) -> None:
    _, plans = graded
    assert report.startswith("<!DOCTYPE html>") and '<html lang="en">' in report
    assert not re.search(r"<script|<link|@import|url\(|https?://|//cdn", report, re.I), "nothing to fetch"
    images = re.findall(r"<img [^>]*>", report)
    assert len(images) == 3  # score distribution, hand-ins per module, questions missed
    for img in images:
        alt = re.search(r'alt="([^"]*)"', img).group(1)
        assert len(alt) > 40, img[:80]
        assert base64.b64decode(re.search(r"base64,([^\"]+)", img).group(1)).startswith(b"\x89PNG")
    headings = re.findall(r"<h(\d)", report)
    assert headings[0] == "1" and headings.count("1") == 1 and set(headings) == {"1", "2"}
    assert "<h1>Spring cohort 2026</h1>" in report and "Summary" in report
    named = [text for p in plans for text in (p.id, p.name, p.email) if text in report]
    assert named == [], "the report names no learner"


@pytest.mark.slow
def test_report_and_grades_explain_what_is_missing(tmp_path: Path, released: Template, capsys) -> None:  # noqa: F811
    cohort = new_cohort(tmp_path / "empty", released)
    assert cli.main(["cohort", "report", str(cohort.root)]) == 1
    assert "has no learners yet: run 'citylab cohort roster" in capsys.readouterr().err

