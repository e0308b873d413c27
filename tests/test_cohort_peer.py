"""Peer review of the memo: fair pairs, anonymous forms with the module's rubric, checked scores, flags."""

from __future__ import annotations

import csv
import random
import re
import zipfile
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from citylab.cohort import cli
from citylab.cohort.course import REPO, Cohort, CohortError
from citylab.cohort.leaks import found_in, secret_lines
from citylab.cohort.peer import (
    Criterion, Rubric, anonymise, memo_ids, pair_up, parse_review, read_rubric, redact_secrets,
)
from citylab.cohort.roster import Learner
from cohort_fixtures import (  # noqa: F401 (released is a fixture)
    ASSIGNMENT, MEMOS, Plan, Template, fair_scores, fill_form, new_cohort, plan_cohort, quality_of, questions, released,
)

ASSIGNMENTS = sorted(p.name for p in (REPO / "exercises" / "source").iterdir() if any(p.glob("*.ipynb")))
RUBRIC_01 = REPO / "modules" / ASSIGNMENT / "facilitator.md"


def peer(*args: object) -> int:
    return cli.main(["cohort", "peer", *map(str, args)])


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- the rubric


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_module_has_a_rubric_worth_the_memo_points(assignment: str) -> None:
    rubric = read_rubric(REPO / "modules" / assignment / "facilitator.md")
    notebook = next((REPO / "exercises" / "source" / assignment).glob("*.ipynb"))
    memos = memo_ids(notebook)
    points = sum(c.metadata["nbgrader"]["points"] for c in nbformat.read(notebook, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") in memos)
    assert len(rubric.criteria) >= 2 and all(c.levels for c in rubric.criteria)
    assert rubric.max == points, "the rubric's maximum should be the memo's points in the notebook"


def test_rubric_of_module_1_is_read_as_written() -> None:
    rubric = read_rubric(RUBRIC_01)
    assert [c.name for c in rubric.criteria] == ["Evidence", "Who is left out", "The plan", "Clarity for the mayor"]
    assert rubric.criteria[0].levels == (("Beginning", 0.25), ("Developing", 0.5), ("Proficient", 0.75), ("Exemplary", 1.0))
    assert rubric.criteria[0].allowed == (0, 0.25, 0.5, 0.75, 1) and rubric.max == 4
    assert rubric.table.startswith("| Criterion |") and rubric.table.count("\n") == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# Guide\n\nNo rubric here.\n", "no section with 'Rubric'"),
        ("# Guide\n\n## Rubric\n\nScored by the trainer.\n\n## Next\n\n| a | b |\n|---|---|\n| x | y |\n",
         "line 3: the Rubric section has no table"),
        ("## Rubric\n\n| Criterion | Low | High (2) |\n|---|---|---|\n| **A**: a | x | y |\n",
         "line 3: rubric level 'Low' needs its points"),
    ],
)
def test_a_rubric_that_cannot_be_read_says_where(tmp_path: Path, text: str, message: str) -> None:
    guide = tmp_path / "facilitator.md"
    guide.write_text(text, encoding="utf-8")
    with pytest.raises(CohortError, match=re.escape(message)):
        read_rubric(guide)


def test_a_rubric_on_another_scale(tmp_path: Path) -> None:
    guide = tmp_path / "facilitator.md"
    guide.write_text("### Peer-review rubric\n\n| Criterion | Weak (1) | Good (2 points) | Strong (3) |\n|--|--|--|\n"
                     "| Argument | a | b | c |\n| **Data** | a | b | c |\n", encoding="utf-8")
    rubric = read_rubric(guide)
    assert [c.name for c in rubric.criteria] == ["Argument", "Data"] and rubric.max == 6
    assert rubric.criteria[0].allowed == (0, 1, 2, 3)


# ---------------------------------------------------------------- who reviews whom


def check_pairs(pairs: list[tuple[str, str]], authors: list[str], pool: list[str], n: int) -> None:
    assert all(reviewer != author for reviewer, author in pairs), "nobody reviews their own memo"
    assert len(set(pairs)) == len(pairs), "nobody reviews the same memo twice"
    assert Counter(a for _, a in pairs) == dict.fromkeys(authors, n), "every memo gets n reviewers"
    load = Counter(r for r, _ in pairs)
    low, high = len(authors) * n // len(pool), -(-len(authors) * n // len(pool))
    assert all(low <= load.get(p, 0) <= high for p in pool), f"loads {sorted(load.values())} not in [{low}, {high}]"


@pytest.mark.parametrize("size", [2, 3, 4, 7, 10, 31, 64, 300])
@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_pairs_are_fair_when_everyone_wrote_a_memo(size: int, n: int) -> None:
    pool = [f"p{i:03d}" for i in range(size)]
    if n >= size:
        with pytest.raises(CohortError, match=f"only {size} learners"):
            pair_up(pool, pool, n, random.Random(1))
        return
    pairs = pair_up(pool, pool, n, random.Random(size * 10 + n))
    check_pairs(pairs, pool, pool, n)
    assert Counter(r for r, _ in pairs) == dict.fromkeys(pool, n), "everyone reviews exactly n"


@pytest.mark.parametrize("seed", range(20))
def test_pairs_are_fair_when_some_wrote_no_memo(seed: int) -> None:
    rng = random.Random(seed)
    pool = [f"p{i:03d}" for i in range(rng.randint(4, 60))]
    authors = rng.sample(pool, rng.randint(1, len(pool)))
    n = rng.randint(1, min(5, len(pool) - 1))
    check_pairs(pair_up(authors, pool, n, random.Random(seed)), authors, pool, n)


def test_the_same_seed_gives_the_same_pairs() -> None:
    pool = [f"p{i:02d}" for i in range(30)]
    first = pair_up(pool, pool, 3, random.Random(42))
    assert pair_up(pool, pool, 3, random.Random(42)) == first
    assert pair_up(pool, pool, 3, random.Random(43)) != first


# ---------------------------------------------------------------- filled forms


def rubric() -> Rubric:
    return read_rubric(RUBRIC_01)


FORM_HEAD = "# Peer review\n\nReview code: ABCD-EF23\n\n## The memo\n\n> Evidence: 1\n\n## Your scores\n\n"


@pytest.mark.parametrize(
    ("scores", "total"),
    [
        ("- Evidence (0, 0.25, 0.5, 0.75 or 1): 0.75\n- Who is left out: 1\n- The plan: 0,5\n"
         "- Clarity for the mayor: **0**\n", 2.25),
        ("* evidence: Exemplary\n- Who is left out (...):  proficient \n- The plan: 1.0\n"
         "- Clarity for the mayor: 0.25\n", 3.0),
    ],
)
def test_a_filled_form_is_read_however_the_reviewer_typed_it(scores: str, total: float) -> None:
    comments = "\n## What works\n\n<!-- hint -->\nGood.\n\n## What to improve\n\nShorter.\n"
    review, problems = parse_review(FORM_HEAD + scores + comments, rubric())
    assert problems == [] and review.code == "ABCD-EF23" and review.total == total
    assert (review.works, review.improve) == ("Good.", "Shorter.")


@pytest.mark.parametrize(
    ("scores", "problem"),
    [
        ("- Evidence: 0.6\n- Who is left out: 1\n- The plan: 1\n- Clarity for the mayor: 1\n",
         "Evidence: '0.6' is not a level of the rubric (write 0, 0.25, 0.5, 0.75 or 1)"),
        ("- Evidence: 1\n- Who is left out: \n- The plan: 1\n- Clarity for the mayor: 1\n",
         "Who is left out: no score after the colon"),
        ("- Evidence: 1\n- Who is left out: 1\n- The plan: 1\n", "Clarity for the mayor: no score line"),
        ("- Evidence: 5\n- Who is left out: 1\n- The plan: 1\n- Clarity for the mayor: -1\n", "Evidence: '5'"),
    ],
)
def test_a_wrong_score_is_named(scores: str, problem: str) -> None:
    review, problems = parse_review(FORM_HEAD + scores, rubric())
    assert review is None and any(p.startswith(problem) for p in problems), problems


def test_a_form_without_its_code_is_refused() -> None:
    _, problems = parse_review("## Your scores\n- Evidence: 1\n", rubric())
    assert problems == ["no 'Review code:' line: send back the form as it was given, with its code"]


# ---------------------------------------------------------------- anonymous memos


def test_names_emails_and_ids_are_removed_from_a_memo() -> None:
    author = Learner("c26-007", "Priya Raman", "priya.raman@city.example")
    people = {"c26-007": author, "c26-008": Learner("c26-008", "Lars Eriksen", "l@x.example")}
    memo = ("Recommendation from PRIYA (c26-007): I worked with Lars Eriksen.\nRaman, priya.raman@city.example\n"
            "Write to desk@city.example. Ramanathan Street stays.")
    clean = anonymise(memo, author, people)
    assert not re.search(r"priya|raman\b|lars|eriksen|c26-007|@", clean, re.I)
    assert "Ramanathan Street stays." in clean and clean.count("[name removed]") == 4


def test_a_memo_line_quoting_a_model_answer_is_removed() -> None:
    secrets = secret_lines(REPO / "exercises" / "source" / ASSIGNMENT / "who-is-left-out.ipynb")
    code = questions()[0].solution
    text, dropped = redact_secrets(f"My advice: go.\nI computed `{code}` myself.\nThanks.", secrets)
    assert dropped == 1 and text.splitlines()[1] == "[line removed: it quoted a model answer]"
    assert found_in(secrets, text) == []


# ---------------------------------------------------------------- the commands on a cohort


@pytest.fixture
def cohort(tmp_path: Path, released: Template) -> tuple[Cohort, list[Plan]]:  # noqa: F811
    plans = plan_cohort(24)
    return new_cohort(tmp_path / "cohort", released, plans), plans


def key(cohort: Cohort) -> list[dict[str, str]]:
    return read(cohort.path("peer", ASSIGNMENT, "assignment.csv"))


@pytest.mark.slow
def test_assign_pairs_learners_who_handed_in_within_their_group(cohort: tuple[Cohort, list[Plan]], capsys) -> None:
    cohort, plans = cohort
    assert peer("assign", cohort.root, ASSIGNMENT, "--reviewers", 2, "--seed", 5, "--within-groups") == 0
    rows, by_id = key(cohort), {p.id: p for p in plans}
    handed_in = sorted(p.id for p in plans if not p.missing)
    writers = sorted(p.id for p in plans if not p.missing and p.memo != "none")
    check_pairs([(r["reviewer"], r["author"]) for r in rows], writers, handed_in, 2)
    assert all(by_id[r["reviewer"]].group == by_id[r["author"]].group == r["group"] for r in rows)
    assert len({r["review_code"] for r in rows}) == len(rows)
    assert "seed 5" in capsys.readouterr().out

    # The key is not replaced by accident: forms may already be out.
    assert peer("assign", cohort.root, ASSIGNMENT, "--reviewers", 2, "--seed", 5) == 1
    assert "already assigned" in capsys.readouterr().err
    cohort.path("peer", ASSIGNMENT, "assignment.csv").unlink()
    assert peer("assign", cohort.root, ASSIGNMENT, "--reviewers", 2, "--seed", 5, "--within-groups") == 0
    assert [(r["reviewer"], r["author"]) for r in key(cohort)] == [(r["reviewer"], r["author"]) for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reviewers", 5, "--within-groups"], "only 5 learners in group 'East' handed in: choose --reviewers 4 or fewer"),
        (["--reviewers", 30], "only 22 learners handed in: choose --reviewers 21 or fewer"),
    ],
)
def test_an_impossible_number_of_reviewers_is_explained(cohort, capsys, args: list, message: str) -> None:
    cohort, _ = cohort
    assert peer("assign", cohort.root, ASSIGNMENT, *args) == 1
    assert message in capsys.readouterr().err
    assert not cohort.path("peer", ASSIGNMENT, "assignment.csv").exists()


@pytest.mark.slow
def test_within_groups_needs_every_learner_in_a_group(cohort, capsys) -> None:
    cohort, plans = cohort
    rows = read(cohort.path("roster.csv"))
    rows[0]["group"] = ""
    with cohort.path("roster.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, ["id", "name", "email", "group"])
        writer.writeheader()
        writer.writerows(rows)
    assert peer("assign", cohort.root, ASSIGNMENT, "--reviewers", 2, "--within-groups") == 1
    assert f"gives no group for {plans[0].id}" in capsys.readouterr().err


@pytest.mark.slow
def test_forms_are_anonymous_and_carry_the_rubric(cohort, capsys) -> None:
    cohort, plans = cohort
    assert peer("assign", cohort.root, ASSIGNMENT, "--reviewers", 3, "--seed", 1) == 0
    assert peer("export", cohort.root, ASSIGNMENT) == 0
    assert "memo of c26-002: 1 line(s) quoting a model answer removed" in capsys.readouterr().err
    folder = cohort.path("exports", "peer", ASSIGNMENT)
    forms = sorted(folder.glob("*/*.md"))
    assert len(forms) == len(key(cohort))
    secrets = secret_lines(cohort.source / ASSIGNMENT / "who-is-left-out.ipynb")
    identities = {text for p in plans for text in (p.id, p.name, p.email)}
    table = read_rubric(RUBRIC_01).table
    for row in key(cohort):
        text = (folder / row["reviewer"] / f"{row['review_code']}.md").read_text(encoding="utf-8")
        assert f"Review code: {row['review_code']}" in text and table in text
        assert [i for i in identities if i.lower() in text.lower()] == []
        assert found_in(secrets, text) == []
        assert not re.search(r"nbgrader|kernelspec|grade_id|\"cell_type\"|citylab", text)
        author = next(p for p in plans if p.id == row["author"])
        assert MEMOS[author.memo][0].splitlines()[0].format(city=author.city, offline=924_000)[:40] in text
    signed = next(p for p in plans if p.signs_memo and p.memo != "none" and not p.missing)
    assert any("[name removed], [e-mail removed]" in f.read_text(encoding="utf-8") for f in forms), signed.id
    for reviewer in {r["reviewer"] for r in key(cohort)}:
        with zipfile.ZipFile(folder / f"{reviewer}.zip") as archive:
            assert sorted(archive.namelist()) == sorted(p.name for p in (folder / reviewer).glob("*.md"))


def fill_all(cohort: Cohort, out: Path, rogue: str | None = None, only: set[str] | None = None) -> Path:
    """Every reviewer fills their forms fairly, judging the memo from its text; the rogue scores everything 0."""
    out.mkdir(exist_ok=True)
    for row in key(cohort):
        if only is not None and row["review_code"] not in only:
            continue
        sent = cohort.path("exports", "peer", ASSIGNMENT, row["reviewer"], f"{row['review_code']}.md")
        form = sent.read_text(encoding="utf-8")
        scores = [0.0] * 4 if row["reviewer"] == rogue else fair_scores(quality_of(form), row["reviewer"])
        (out / f"{row['review_code']} (1).md").write_text(fill_form(form, scores), encoding="utf-8")
    return out


@pytest.mark.slow
def test_collect_computes_median_peer_scores_and_flags_the_odd_review(cohort, tmp_path: Path, capsys) -> None:
    cohort, plans = cohort
    assert peer("assign", cohort.root, ASSIGNMENT, "--reviewers", 3, "--seed", 3) == 0
    assert peer("export", cohort.root, ASSIGNMENT) == 0
    rows = key(cohort)
    rogue = rows[0]["reviewer"]
    first_batch = {r["review_code"] for r in rows[: len(rows) // 2]}
    assert peer("collect", cohort.root, ASSIGNMENT, fill_all(cohort, tmp_path / "a", rogue, first_batch)) == 0
    assert peer("collect", cohort.root, ASSIGNMENT, fill_all(cohort, tmp_path / "b", rogue)) == 0
    assert f"{len(rows)} of {len(rows)} assigned reviews are in" in capsys.readouterr().out

    by_id = {p.id: p for p in plans}
    totals: dict[str, list[float]] = {}
    for r in rows:
        score = 0.0 if r["reviewer"] == rogue else sum(fair_scores(by_id[r["author"]].memo, r["reviewer"]))
        totals.setdefault(r["author"], []).append(score)
    scores = {r["learner"]: r for r in read(cohort.path("peer", ASSIGNMENT, "peer_scores.csv"))}
    for author, got in totals.items():
        assert float(scores[author]["peer_score"]) == pytest.approx(sorted(got)[1]), author  # the median of 3
        assert scores[author]["reviews_received"] == scores[author]["reviews_assigned"] == "3"
    assert all(scores[p]["reviews_given"] == scores[p]["reviews_to_give"] for p in scores)

    flags = read(cohort.path("peer", ASSIGNMENT, "flags.csv"))
    rogue_far = {r["review_code"] for r in rows if r["reviewer"] == rogue
                 and sorted(totals[r["author"]])[1] > 1.5}
    assert {f["review_code"] for f in flags} == rogue_far and rogue_far
    assert all(f["reviewer"] == rogue for f in flags)
    assert len(read(cohort.path("peer", ASSIGNMENT, "reviews.csv"))) == len(rows)
    assert len(list(cohort.path("peer", ASSIGNMENT, "reviews").glob("*.md"))) == len(rows)


@pytest.mark.slow
def test_collect_names_every_bad_form_and_stores_nothing(cohort, tmp_path: Path, capsys) -> None:
    cohort, _ = cohort
    assert peer("assign", cohort.root, ASSIGNMENT, "--reviewers", 2, "--seed", 3) == 0
    assert peer("export", cohort.root, ASSIGNMENT) == 0
    folder = fill_all(cohort, tmp_path / "filled")
    files = sorted(folder.glob("*.md"))
    texts = [f.read_text(encoding="utf-8") for f in files[:3]]
    files[0].write_text(texts[0].replace("Evidence (0, 0.25, 0.5, 0.75 or 1): ", "Evidence: 7 #"), encoding="utf-8")
    (folder / "copy.md").write_text(texts[1], encoding="utf-8")
    (folder / "stranger.txt").write_text(texts[2].replace(files[2].name[:9], "ZZZZ-ZZZZ"), encoding="utf-8")
    (folder / "notes.md").write_text("Thanks for the course!", encoding="utf-8")
    capsys.readouterr()
    assert peer("collect", cohort.root, ASSIGNMENT, folder) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("citylab: error: 4 problem(s) in the review forms") and "nothing was stored" in err[-1]
    assert any(line.startswith(f"{files[0]}: Evidence: '7 #") for line in err)
    assert any(line.startswith(f"{folder / 'copy.md'}: same review code") for line in err)
    assert any(line.startswith(f"{folder / 'stranger.txt'}: review code ZZZZ-ZZZZ is not one") for line in err)
    assert any(line.startswith(f"{folder / 'notes.md'}: no 'Review code:' line") for line in err)
    assert not cohort.path("peer", ASSIGNMENT, "reviews").exists()
    assert not cohort.path("peer", ASSIGNMENT, "peer_scores.csv").exists()


@pytest.mark.slow
def test_peer_steps_need_their_turn(cohort, tmp_path: Path, capsys) -> None:
    cohort, _ = cohort
    assert peer("export", cohort.root, ASSIGNMENT) == 1
    assert "not assigned yet: run 'citylab cohort peer assign" in capsys.readouterr().err
    assert peer("assign", cohort.root, "99-nothing", "--reviewers", 2) == 1
    assert "unknown assignment '99-nothing'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        peer("assign", cohort.root, ASSIGNMENT, "--reviewers", 0)
    assert exit_.value.code == 2


def test_criterion_accepts_only_its_levels() -> None:
    criterion = Criterion("Data", "", (("Low", 1.0), ("High", 3.0)))
    assert criterion.allowed_text() == "0, 1 or 3" and criterion.score("high") == 3 and criterion.score("0") == 0
    with pytest.raises(ValueError, match="'2' is not a level"):
        criterion.score("2")



def test_criterion_names_with_brackets_and_colons_are_read(tmp_path: Path) -> None:
    guide = tmp_path / "facilitator.md"
    guide.write_text("## Rubric\n\n| Criterion | Low (1) | High (2) |\n|---|---|---|\n"
                     "| **Data (numbers)**: with sources | a | b |\n| **Plan** | a | b |\n", encoding="utf-8")
    rubric = read_rubric(guide)
    assert [c.name for c in rubric.criteria] == ["Data (numbers)", "Plan"]
    review, problems = parse_review(FORM_HEAD + "- Data (numbers) (0, 1 or 2): 2\n- Plan: High\n", rubric)
    assert problems == [] and review.scores == (2, 2)
