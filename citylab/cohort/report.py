"""``citylab cohort grades`` and ``citylab cohort report``: the cohort's results, for the trainer and beyond.

Both read the same numbers (:func:`results`): nbgrader's gradebook for the
automatic and the trainer's manual scores, ``peer/<assignment>/peer_scores.csv``
for peer scores. The rule for an assignment's total:

    total = auto + manual, when the trainer graded the memo in formgrader;
    otherwise auto + peer, when the memo has a peer score;
    otherwise auto (an unwritten memo scores 0; a written one is waiting to be scored).

A learner with no submission has a total of 0 and the status "missing".

``grades`` writes one row per learner (names included: it stays with the
trainer). ``report`` writes one self-contained HTML page with no names, for
a steering committee: charts are PNG images inside the page, each with alt
text; there are no scripts, fonts or links to fetch, so it works offline and
as an e-mail attachment.
"""

from __future__ import annotations

import argparse
import html
import re
import statistics
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import nbformat

from citylab.charts import PALETTE, figure_html, new_figure
from citylab.cohort.course import Cohort, CohortError
from citylab.cohort.peer import number, participation, peer_scores, read_roster, write_csv
from citylab.cohort.roster import Learner

STEP = 80
ON_TIME, LATE, NOT_GRADED, MISSING = "on time", "late", "not graded", "missing"
STATUSES = (ON_TIME, LATE, NOT_GRADED, MISSING)
HANDED_IN = (ON_TIME, LATE)


# ---------------------------------------------------------------- the numbers


@dataclass(frozen=True)
class Question:
    """One graded cell of an assignment."""

    grade_id: str
    label: str
    max_score: float


@dataclass
class Part:
    """One learner's result in one assignment."""

    status: str
    auto: float | None = None
    manual: float | None = None
    peer: float | None = None
    cells: dict[str, tuple[float, bool]] = field(default_factory=dict)  # grade_id -> (score, final)

    @property
    def total(self) -> float:
        """auto + the trainer's grade of the memo, else its peer score, else nothing; 0 when nothing was graded."""
        if self.auto is None:
            return 0.0
        memo = self.manual if self.manual is not None else self.peer
        return self.auto + (memo or 0.0)


@dataclass
class Results:
    """What ``grades`` and ``report`` both show, read once."""

    learners: list[Learner]
    assignments: list[str]
    titles: dict[str, str]
    max_scores: dict[str, float]
    questions: dict[str, list[Question]]
    parts: dict[tuple[str, str], Part]

    def handed_in(self, assignment: str) -> list[Part]:
        return [self.parts[learner.id, assignment] for learner in self.learners
                if self.parts[learner.id, assignment].status in HANDED_IN]

    def count(self, assignment: str, status: str) -> int:
        return sum(self.parts[learner.id, assignment].status == status for learner in self.learners)


def module_title(cohort: Cohort, assignment: str) -> str:
    """The module's title (first heading of modules/<assignment>/index.md), else the assignment name."""
    index = cohort.source.parent.parent / "modules" / assignment / "index.md"
    if index.is_file():
        for line in index.read_text(encoding="utf-8").splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return assignment


def question_labels(cohort: Cohort, assignment: str) -> dict[str, str]:
    """Each grade cell's question as learners read it: the last heading above it in the notebook."""
    labels: dict[str, str] = {}
    for notebook in sorted((cohort.source / assignment).glob("*.ipynb")):
        heading = ""
        for cell in nbformat.read(notebook, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                labels[meta["grade_id"]] = heading or meta["grade_id"]
            elif cell.cell_type == "markdown":
                found = re.findall(r"^#{1,6}\s+(.+)$", cell.source, re.M)
                if found:
                    heading = re.sub(r"\s*\(\d+(\.\d+)? points?\)\s*$", "", found[-1]).strip()
    return labels


def _part(cohort: Cohort, gradebook, assignment: str, learner: str, peer: dict[str, float]) -> Part:
    """One learner's result: from the gradebook if graded, else 'not graded' (handed in) or 'missing'."""
    from nbgrader.api import MissingEntry

    try:
        submission = gradebook.find_submission(assignment, learner)
    except MissingEntry:
        waiting = any(cohort.path("submitted", learner, assignment).glob("*.ipynb"))
        return Part(NOT_GRADED if waiting else MISSING)
    grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
    written = [g for g in grades if g.cell_type == "markdown"]
    graded_by_trainer = bool(written) and all(g.manual_score is not None for g in written)
    return Part(
        LATE if submission.total_seconds_late > 0 else ON_TIME,
        auto=sum(g.score for g in grades if g.cell_type == "code"),
        manual=sum(g.score for g in written) if graded_by_trainer else None,
        peer=peer.get(learner),
        cells={g.name: (g.score, not g.needs_manual_grade) for g in grades},
    )


def results(cohort: Cohort) -> Results:
    """Every learner's result in every generated assignment, from the gradebook and the peer reviews."""
    learners = sorted(read_roster(cohort).values(), key=lambda learner: learner.id)
    if not learners:
        raise CohortError(f"{cohort.root} has no learners yet: run 'citylab cohort roster {cohort.root} roster.csv' first")
    with cohort.gradebook() as gradebook:
        generated = sorted(a.name for a in gradebook.assignments if a.notebooks and a.name in cohort.assignments())
        if not generated:
            raise CohortError(f"no assignment released yet: run 'citylab cohort release {cohort.root} ASSIGNMENT' first")
        found = Results(learners, generated, {}, {}, {}, {})
        for assignment in generated:
            record, labels = gradebook.find_assignment(assignment), question_labels(cohort, assignment)
            found.titles[assignment] = module_title(cohort, assignment)
            found.max_scores[assignment] = record.max_score
            found.questions[assignment] = [
                Question(cell.name, labels.get(cell.name, cell.name), cell.max_score)
                for notebook in record.notebooks for cell in notebook.grade_cells
            ]
            peer = peer_scores(cohort, assignment)
            for learner in learners:
                found.parts[learner.id, assignment] = _part(cohort, gradebook, assignment, learner.id, peer)
    return found


# ---------------------------------------------------------------- grades.csv


def _cell(value: float | None) -> str:
    return "" if value is None else number(value)


def write_grades(found: Results, out: Path) -> Path:
    """One row per learner; per assignment its status and auto, manual, peer and total scores."""
    header = ["id", "name", "group"]
    for assignment in found.assignments:
        header += [f"{assignment} {column}" for column in ("status", "auto", "manual", "peer", "total")]
    header.append("total")
    rows = []
    for learner in found.learners:
        parts = [found.parts[learner.id, a] for a in found.assignments]
        row = [learner.id, learner.name, learner.group]
        for part in parts:
            row += [part.status, _cell(part.auto), _cell(part.manual), _cell(part.peer), number(part.total)]
        rows.append([*row, number(sum(part.total for part in parts))])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out, header, rows)
    return out


# ---------------------------------------------------------------- report.html


@dataclass(frozen=True)
class Missed:
    """A question and how many of the learners scored on it had full marks."""

    assignment: str
    question: Question
    full: int
    scored: int

    @property
    def share(self) -> float:
        return 100 * self.full / self.scored


def missed_questions(found: Results) -> tuple[list[Missed], list[tuple[str, Question, int]]]:
    """Questions by share of full marks (lowest first), and written answers still waiting for a grade."""
    missed, waiting = [], []
    for assignment in found.assignments:
        parts = found.handed_in(assignment)
        for question in found.questions[assignment]:
            cells = [p.cells[question.grade_id] for p in parts if question.grade_id in p.cells]
            pending = sum(not final for _, final in cells)
            if pending:
                waiting.append((assignment, question, pending))
            elif cells:
                full = sum(score >= question.max_score - 1e-9 for score, _ in cells)
                missed.append(Missed(assignment, question, full, len(cells)))
    return sorted(missed, key=lambda m: (m.share, m.assignment)), waiting


def _percent(part: float, whole: float) -> str:
    """'52%' (or a dash when there is nothing to divide by)."""
    return f"{round(100 * part / whole)}%" if whole else "–"


def score_table(found: Results) -> str:
    """Per module: how many handed in, late, missing, and the median and mean of their totals."""
    rows = []
    for a in found.assignments:
        totals = [p.total for p in found.handed_in(a)]
        cells = [
            len(totals), found.count(a, LATE), found.count(a, MISSING), found.count(a, NOT_GRADED),
            number(statistics.median(totals)) if totals else "–",
            number(statistics.mean(totals)) if totals else "–", number(found.max_scores[a]),
        ]
        rows.append(f'<tr><th scope="row">{_e(found.titles[a])}<br><small>{_e(a)}</small></th>'
                    + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return _table("scores", ("Module", "Handed in", "Of which late", "Missing", "Not graded yet", "Median score",
                             "Mean score", "Out of"), rows)


def distribution_chart(found: Results, assignment: str) -> str:
    """A histogram of the totals of those who handed in: is the module too hard, too easy, or split?"""
    totals = [p.total for p in found.handed_in(assignment)]
    title, top = found.titles[assignment], found.max_scores[assignment]
    if not totals:
        return f"<p>No graded submission of {_e(title)} yet.</p>"
    fig, ax = new_figure(8, 3.6)
    step = 1.0 if top <= 20 else top / 10  # one bar per point, or per tenth of the maximum
    edges = [min(top, step * i) for i in range(int(top / step + 0.999) + 1)]
    ax.hist(totals, bins=edges, color=PALETTE[0], edgecolor="white")
    ax.set_xlim(0, top)
    ax.set_xlabel(f"Total score (points out of {number(top)})")
    ax.set_ylabel("Learners")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title, loc="left")
    half = sum(t >= top / 2 for t in totals)
    alt = (f"Histogram of total scores in {title}: {len(totals)} learners handed in; median "
           f"{number(statistics.median(totals))} of {number(top)} points; lowest {number(min(totals))}, "
           f"highest {number(max(totals))}; {half} of {len(totals)} scored at least half the points.")
    return figure_html(fig, alt, "Source: the cohort's gradebook (handed-in work only).")


def completion_chart(found: Results) -> str:
    """One bar per module: on time, late, not graded yet, missing."""
    labels = [found.titles[a] for a in found.assignments]
    counts = {status: [found.count(a, status) for a in found.assignments] for status in STATUSES}
    fig, ax = new_figure(8, 1.2 + 0.6 * len(labels))
    left = [0] * len(labels)
    for status, colour in zip(STATUSES, (PALETTE[2], PALETTE[1], PALETTE[4], PALETTE[5]), strict=True):
        ax.barh(labels, counts[status], left=left, color=colour, label=status)
        left = [x + y for x, y in zip(left, counts[status], strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("Learners")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4)
    per_module = "; ".join(
        f"{found.titles[a]}: " + ", ".join(f"{counts[s][i]} {s}" for s in STATUSES) for i, a in enumerate(found.assignments)
    )
    return figure_html(fig, f"Stacked bar chart of hand-ins per module. {per_module}.",
                       "Source: the cohort's gradebook and submissions.")


def missed_chart(missed: list[Missed]) -> str:
    """The (at most 12) questions with the lowest share of full marks: topics to revisit."""
    shown = missed[:12]
    fig, ax = new_figure(8, 1.2 + 0.45 * len(shown))
    ax.barh([_question_name(m) for m in shown], [m.share for m in shown], color=PALETTE[5])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Learners with full marks (%)")
    alt = "Bar chart of the share of learners with full marks per question, lowest first: " + "; ".join(
        f"{_question_name(m)} {round(m.share)}%" for m in shown) + "."
    return figure_html(fig, alt, "Source: the cohort's gradebook (handed-in work only).")


def _question_name(m: Missed) -> str:
    """"01 · Q3 · How much will the world grow?": the module's number keeps questions apart."""
    return f"{m.assignment.split('-')[0]} · {m.question.label}"


def missed_table(missed: list[Missed], found: Results) -> str:
    """Every question with its share of full marks, lowest first."""
    rows = "".join(
        f'<tr><th scope="row">{_e(m.question.label)}</th><td>{_e(found.titles[m.assignment])}</td>'
        f"<td>{number(m.question.max_score)}</td><td>{m.full} of {m.scored}</td><td>{round(m.share)}%</td></tr>"
        for m in missed
    )
    return _table("questions", ("Question", "Module", "Points", "Full marks", "Share"), rows)


def peer_table(cohort: Cohort, found: Results) -> str:
    """Per module with peer review: memos, reviews asked for and returned, reviewers who did all theirs, flags."""
    rows = []
    for a in found.assignments:
        done = participation(cohort, a)
        if done is None:
            continue
        rows.append(
            f'<tr><th scope="row">{_e(found.titles[a])}</th><td>{done.memos}</td><td>{done.assigned}</td>'
            f"<td>{done.returned} ({_percent(done.returned, done.assigned)})</td>"
            f"<td>{done.complete} of {done.reviewers}</td><td>{done.flagged}</td></tr>"
        )
    if not rows:
        return "<p>No peer review has been assigned yet.</p>"
    return _table("peer", ("Module", "Memos reviewed", "Reviews asked for", "Reviews returned",
                           "Reviewers who did all theirs", "Reviews flagged"), rows)


def summary(cohort: Cohort, found: Results, missed: list[Missed]) -> str:
    """The short plain-language summary at the top of the report."""
    sentences = [f"{len(found.learners)} learners are enrolled; this report covers {len(found.assignments)} "
                 f"assignment{'s' if len(found.assignments) > 1 else ''}."]
    for a in found.assignments:
        totals = [p.total for p in found.handed_in(a)]
        sentence = (f"{found.titles[a]} — {len(totals)} of {len(found.learners)} learners handed in "
                    f"({found.count(a, LATE)} late, {found.count(a, MISSING)} missing)")
        if totals:
            median = statistics.median(totals)
            sentence += (f"; the median score was {number(median)} of {number(found.max_scores[a])} points "
                         f"({_percent(median, found.max_scores[a])})")
        sentences.append(sentence + ".")
    if missed:
        m = missed[0]
        sentences.append(f"The question most learners missed was “{m.question.label}” ({found.titles[m.assignment]}): "
                         f"{round(m.share)}% of learners had full marks.")
    peer = [p for a in found.assignments if (p := participation(cohort, a))]
    if peer:
        returned, assigned = sum(p.returned for p in peer), sum(p.assigned for p in peer)
        sentences.append(f"Peer review: {returned} of {assigned} reviews came back ({_percent(returned, assigned)}).")
    return "".join(f"<li>{_e(s)}</li>" for s in sentences)


def _table(css_class: str, head: tuple[str, ...], rows: list[str] | str) -> str:
    """A table with column headers; ``rows`` are ready-made ``<tr>`` elements."""
    header = "".join(f'<th scope="col">{h}</th>' for h in head)
    return f'<table class="{css_class}"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _e(text: object) -> str:
    return html.escape(str(text))


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;max-width:60rem;margin:2rem auto;
 padding:0 1rem;color:#1a1a1a;line-height:1.5}
h1{font-size:1.8rem}
h2{margin-top:2.2rem;border-bottom:2px solid #0072B2;padding-bottom:.2rem}
table{border-collapse:collapse;margin:1rem 0;width:100%}
th,td{border:1px solid #bbb;padding:.35rem .5rem;text-align:left;vertical-align:top}
thead th{background:#eef4fa}
td{font-variant-numeric:tabular-nums}
.summary{background:#f5f5f5;padding:1rem 1rem 1rem 2rem;border-left:4px solid #0072B2}
small{color:#444}
.note{font-size:.9rem;color:#333}
"""


def report_html(cohort: Cohort, found: Results, title: str) -> str:
    """The whole page: summary first, then the evidence behind it, then how the numbers are made."""
    missed, waiting = missed_questions(found)
    waiting_note = "".join(
        f"<li>{_e(q.label)} ({_e(found.titles[a])}): {n} answer(s) still to be graded by the trainer; left out above.</li>"
        for a, q, n in waiting
    )
    sections = [
        f"<h1>{_e(title)}</h1>",
        f"<p>Smart City Academy · cohort report of {date.today():%d %B %Y}. No learner is named in this report.</p>",
        '<h2 id="summary">Summary</h2>',
        f'<ul class="summary">{summary(cohort, found, missed)}</ul>',
        '<h2 id="scores">How learners scored</h2>',
        "<p>Scores of the learners who handed in, per module. Missing work is counted below, not as zero.</p>",
        score_table(found),
        *(distribution_chart(found, a) for a in found.assignments),
        '<h2 id="completion">Who handed in, per module</h2>',
        completion_chart(found),
        '<h2 id="missed">Questions most learners missed</h2>',
        "<p>For each question, the share of learners who handed in and had full marks; the lowest come first. "
        "A low share points to a topic to revisit in the next session.</p>",
        missed_chart(missed) if missed else "<p>No graded question yet.</p>",
        missed_table(missed, found) if missed else "",
        f"<ul>{waiting_note}</ul>" if waiting_note else "",
        '<h2 id="peer">Peer review</h2>',
        "<p>Each memo was read by other learners, anonymously, with the module's rubric. A review is flagged when "
        "it is far from the other reviews of the same memo; the trainer looks at those.</p>",
        peer_table(cohort, found),
        '<h2 id="method">How the numbers are made</h2>',
        '<p class="note">Automatic checks score the calculations; the trainer or, until the trainer has graded it, '
        "the median of the peer reviews scores the memo. A submission is late when it arrived after the "
        "assignment's deadline. Made with <code>citylab cohort report</code> from the cohort's nbgrader gradebook.</p>",
    ]
    body = "\n".join(s for s in sections if s)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body><main>\n{body}\n</main></body></html>\n")


# ---------------------------------------------------------------- the commands


def register(steps: argparse._SubParsersAction) -> None:
    g = steps.add_parser(
        "grades",
        help="export every learner's scores to a spreadsheet (CSV)",
        description="Write a CSV with one row per learner and, for each assignment, the status "
        "(on time, late, not graded, missing) and the auto, manual, peer and total scores. "
        "Total = auto + the trainer's grade of the memo, or the peer score until the trainer has graded it.",
    )
    g.add_argument("cohort", help="the cohort folder")
    g.add_argument("--out", type=Path, metavar="FILE", help="where to write it (default: COHORT/exports/grades.csv)")
    g.set_defaults(run=run_grades)

    r = steps.add_parser(
        "report",
        help="write a one-page HTML report for a steering committee",
        description="Write one self-contained HTML page (charts included, no names, works offline) with "
        "a summary, the scores per module, who handed in, the questions most learners missed and "
        "peer-review participation.",
    )
    r.add_argument("cohort", help="the cohort folder")
    r.add_argument("--out", type=Path, metavar="FILE", help="where to write it (default: COHORT/exports/report.html)")
    r.add_argument("--title", help="the report's title (default: 'Cohort report: <folder name>')")
    r.set_defaults(run=run_report)


def run_grades(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    found = results(cohort)
    out = write_grades(found, args.out or cohort.path("exports", "grades.csv"))
    print(f"Grades of {len(found.learners)} learners in {len(found.assignments)} assignment(s): {out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    found = results(cohort)
    out = args.out or cohort.path("exports", "report.html")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_html(cohort, found, args.title or f"Cohort report: {cohort.root.name}"), encoding="utf-8")
    print(f"Report: {out} (one file; open it in a browser, or attach it to an e-mail)")
    return 0
