"""``citylab cohort peer assign|export|collect``: peer review of the written memo.

The memo of each assignment (its manually graded Markdown answer) goes to N other
learners. The steps:

1. ``assign`` pairs reviewers with memos: no one reviews their own, every memo gets
   N reviewers, every reviewer gets the same load (N when everyone wrote a memo; N or
   N±1 otherwise), optionally only within roster groups, and the same ``--seed`` gives
   the same pairs. Each review gets a random code; the key (code → reviewer, author)
   stays with the trainer in ``peer/<assignment>/assignment.csv``.
2. ``export`` writes one Markdown form per review: the memo text only (names, e-mails
   and ids of the roster removed; any line quoting a model answer removed), the
   module's rubric (parsed from ``modules/<assignment>/facilitator.md``) and a score
   line per criterion. Plain text travels by e-mail and opens in any editor.
3. ``collect`` reads the filled forms, checks every score against the rubric, keeps a
   copy of each, computes each learner's peer score (the median of their reviewers'
   totals, scaled to the memo's points) and flags reviews far from the others.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import secrets
import shutil
import statistics
import sys
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from citylab.cohort import roster
from citylab.cohort.course import Cohort, CohortError, progress
from citylab.cohort.leaks import all_secret_lines, found_in
from citylab.cohort.roster import Learner

STEP = 70
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes are read and typed by people
#: A review is flagged when its total is this many times one criterion's top level away from the others.
FLAG_GAP_CRITERIA = 1.5


# ---------------------------------------------------------------- the roster and the memos


def read_roster(cohort: Cohort) -> dict[str, Learner]:
    """The imported roster by id; before any import, the gradebook's learners (no groups)."""
    learners = roster.load(cohort)
    if not learners:
        with cohort.gradebook() as gradebook:
            learners = [Learner(s.id, " ".join(filter(None, (s.first_name, s.last_name))), s.email or "")
                        for s in gradebook.students]
    return {learner.id: learner for learner in learners}


def _meta(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def _is_memo(cell: nbformat.NotebookNode) -> bool:
    """A written answer that a person grades: a Markdown answer cell with points."""
    return cell.cell_type == "markdown" and bool(_meta(cell).get("grade")) and bool(_meta(cell).get("solution"))


def memo_ids(notebook: Path) -> list[str]:
    """grade_ids of the notebook's memo cells, as the source notebook defines them."""
    return [_meta(c)["grade_id"] for c in nbformat.read(notebook, as_version=4).cells if _is_memo(c)]


def memo_points(cohort: Cohort, assignment: str) -> float:
    """Points of the assignment's memo cells, as set in the source notebook."""
    notebooks = (cohort.source / assignment).glob("*.ipynb")
    return sum(_meta(c)["points"] for nb in notebooks for c in nbformat.read(nb, as_version=4).cells if _is_memo(c))


def _memo_text(notebook: Path, ids: list[str]) -> str:
    """The text of the cells with these grade_ids (the learner's metadata is not trusted to say what a memo is)."""
    cells = nbformat.read(notebook, as_version=4).cells
    return "\n\n".join(c.source.strip() for c in cells if c.cell_type == "markdown" and _meta(c).get("grade_id") in ids)


def memos(cohort: Cohort, assignment: str) -> dict[str, str]:
    """Each submitting learner's memo text; empty when it was left as released or cannot be read."""
    sources = {nb.name: memo_ids(nb) for nb in sorted((cohort.source / assignment).glob("*.ipynb"))}
    released = cohort.path("release", assignment)
    blanks = {name: _memo_text(released / name, ids) if (released / name).is_file() else "YOUR ANSWER HERE"
              for name, ids in sources.items()}
    texts: dict[str, str] = {}
    for folder in sorted(cohort.path("submitted").glob(f"*/{assignment}")):
        if not any(folder.glob("*.ipynb")):
            continue
        parts = []
        for name, ids in sources.items():
            try:
                text = _memo_text(folder / name, ids)
            except (OSError, ValueError, AttributeError, KeyError, TypeError) as err:  # missing or broken notebook
                print(f"note: {folder / name}: no readable memo ({type(err).__name__})", file=sys.stderr)
                continue
            if text and text != blanks[name].strip():
                parts.append(text)
        texts[folder.parent.name] = "\n\n".join(parts)
    return texts


# ---------------------------------------------------------------- the rubric


@dataclass(frozen=True)
class Criterion:
    name: str
    description: str
    levels: tuple[tuple[str, float], ...]  # (level name, points), as in the table header

    @property
    def allowed(self) -> tuple[float, ...]:
        """0 (not addressed at all) and the points of every level."""
        return tuple(sorted({0.0, *(points for _, points in self.levels)}))

    @property
    def top(self) -> float:
        return max(self.allowed)

    def allowed_text(self) -> str:
        values = [number(v) for v in self.allowed]
        return ", ".join(values[:-1]) + " or " + values[-1]

    def score(self, written: str) -> float:
        """The points a reviewer wrote (a number, with . or , , or a level name); ValueError if not allowed."""
        value = re.sub(r"[*_`\s]", "", written)
        if not value:
            raise ValueError(f"{self.name}: no score after the colon (write {self.allowed_text()})")
        names = {name.lower(): points for name, points in self.levels}
        if value.lower() in names:
            return names[value.lower()]
        try:
            points = float(value.replace(",", "."))
        except ValueError:
            points = None
        if points is None or not any(abs(points - a) < 1e-9 for a in self.allowed):
            raise ValueError(f"{self.name}: {written.strip()!r} is not a level of the rubric (write {self.allowed_text()})")
        return points


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[Criterion, ...]
    table: str  # the Markdown table as the facilitator guide writes it
    source: Path

    @property
    def max(self) -> float:
        return sum(c.top for c in self.criteria)


_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_LEVEL = re.compile(r"^(.*?)\s*\(\s*(\d+(?:[.,]\d+)?)\s*(?:points?|pts?)?\s*\)$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _cells(row: str) -> list[str]:
    return [c.strip() for c in _CELL_SPLIT.split(row.strip().strip("|"))]


def read_rubric(facilitator: Path) -> Rubric:
    """The first Markdown table in the facilitator guide's section whose heading says "Rubric".

    The first column names the criteria (``**Name**: description``); every other column is a
    level whose header gives its points in brackets, e.g. ``Proficient (0.75)``.
    """
    if not facilitator.is_file():
        raise CohortError(f"{facilitator} not found: the module's facilitator guide holds the rubric for peer review")
    lines = facilitator.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if (h := _HEADING.match(line)) and "rubric" in h.group(2).lower()), None)
    if start is None:
        raise CohortError(f"{facilitator}: no section with 'Rubric' in its heading")
    level = len(_HEADING.match(lines[start]).group(1))
    table: list[tuple[int, str]] = []
    for number_, line in enumerate(lines[start + 1:], start + 2):
        heading = _HEADING.match(line)
        if heading and len(heading.group(1)) <= level:
            break
        if line.lstrip().startswith("|"):
            table.append((number_, line))
        elif table:
            break
    if len(table) < 3:
        raise CohortError(f"{facilitator} line {start + 1}: the Rubric section has no table of criteria and levels")
    (header_line, header), _, *rows = table
    levels = []
    for cell in _cells(header)[1:]:
        match = _LEVEL.match(cell)
        if not match:
            raise CohortError(f"{facilitator} line {header_line}: rubric level {cell!r} needs its points in brackets, "
                              "e.g. 'Proficient (3)'")
        levels.append((match.group(1), float(match.group(2).replace(",", "."))))
    criteria = []
    for line_no, row in rows:
        first = _cells(row)[0]
        bold = re.match(r"^\*\*(.+?)\*\*\s*:?\s*(.*)$", first)
        name, _, description = (f"{bold.group(1)}:{bold.group(2)}" if bold else first).partition(":")
        if not name.strip():
            raise CohortError(f"{facilitator} line {line_no}: a rubric row has no criterion name")
        criteria.append(Criterion(name.strip(), description.strip(), tuple(levels)))
    return Rubric(tuple(criteria), "\n".join(line for _, line in table), facilitator)


def rubric_for(cohort: Cohort, assignment: str) -> Rubric:
    """The rubric of the module the assignment belongs to (modules/<assignment>/facilitator.md)."""
    return read_rubric(cohort.source.parent.parent / "modules" / assignment / "facilitator.md")


# ---------------------------------------------------------------- assign


@dataclass(frozen=True)
class Pair:
    code: str
    reviewer: str
    author: str
    group: str = ""


def number(value: float) -> str:
    """A score as people write it: 3, 2.5, 2.75 (never 2.7500000001)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def pair_up(authors: list[str], pool: list[str], reviewers: int, rng: random.Random,
            group: str = "") -> list[tuple[str, str]]:
    """(reviewer, author) pairs: each author gets ``reviewers`` others from the pool, loads balanced.

    Everyone in the pool sits on a circle, authors spread evenly around it, and each author
    is reviewed by the next ``reviewers`` people. So no one reviews themselves or the same
    memo twice, and any stretch of the circle holds as many authors as any other of the
    same length, give or take one: every reviewer's load is floor or ceil of
    reviewers x authors / pool (exactly ``reviewers`` when everyone wrote a memo).
    """
    where, or_else = (f" in group {group!r}", " or drop --within-groups") if group else ("", "")
    if len(pool) < 2:
        raise CohortError(f"only {len(pool)} learner{where} handed in: peer review needs at least two{or_else}")
    if reviewers >= len(pool):
        raise CohortError(f"each memo needs {reviewers} reviewers other than its author, but only {len(pool)} learners"
                          f"{where} handed in: choose --reviewers {len(pool) - 1} or fewer{or_else}")
    authors, others = list(authors), [p for p in pool if p not in set(authors)]
    rng.shuffle(authors)
    rng.shuffle(others)
    circle: list[str | None] = [None] * len(pool)
    seats = [i * len(pool) // len(authors) for i in range(len(authors))]
    for seat, author in zip(seats, authors, strict=True):
        circle[seat] = author
    rest = iter(others)
    circle = [person if person is not None else next(rest) for person in circle]
    return [(circle[(seat + k) % len(pool)], circle[seat]) for seat in seats for k in range(1, reviewers + 1)]


def _new_code(taken: set[str]) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        code = f"{code[:4]}-{code[4:]}"
        if code not in taken:
            taken.add(code)
            return code


def peer_dir(cohort: Cohort, assignment: str) -> Path:
    return cohort.path("peer", assignment)


def assign(cohort: Cohort, assignment: str, reviewers: int, seed: int, within_groups: bool = False) -> list[Pair]:
    """Pair reviewers with memos and save the key; refuse to overwrite a key already in use."""
    key = peer_dir(cohort, assignment) / "assignment.csv"
    if key.exists():
        raise CohortError(f"{key} exists: peer review of {assignment} is already assigned and forms may be out; "
                          "delete that file to start again")
    people, texts = read_roster(cohort), memos(cohort, assignment)
    pool = sorted(learner for learner in texts if learner in people)
    for stranger in sorted(set(texts) - set(people)):
        print(f"note: submitted/{stranger}/{assignment} is not on the roster: left out of peer review", file=sys.stderr)
    if not any(texts[learner] for learner in pool):
        raise CohortError(f"no submission of {assignment} has a written memo to review: collect submissions first")
    groups: dict[str, list[str]] = defaultdict(list)
    for learner in pool:
        groups[people[learner].group if within_groups else ""].append(learner)
    if within_groups and "" in groups:
        raise CohortError(f"--within-groups: roster.csv gives no group for {', '.join(groups[''])}: "
                          "add one or drop --within-groups")
    rng, taken, pairs = random.Random(seed), set(), []
    for group in sorted(groups):
        authors = [learner for learner in groups[group] if texts[learner]]
        if authors:
            pairs += [Pair(_new_code(taken), reviewer, author, group)
                      for reviewer, author in pair_up(authors, groups[group], reviewers, rng, group)]
    key.parent.mkdir(parents=True, exist_ok=True)
    write_csv(key, ["review_code", "reviewer", "author", "group"], ([p.code, p.reviewer, p.author, p.group] for p in pairs))
    return pairs


def read_pairs(cohort: Cohort, assignment: str) -> list[Pair]:
    """The key written by ``assign``: one pair per review."""
    key = peer_dir(cohort, assignment) / "assignment.csv"
    if not key.is_file():
        raise CohortError(f"peer review of {assignment} is not assigned yet: "
                          f"run 'citylab cohort peer assign {cohort.root} {assignment} --reviewers 3'")
    try:
        return [Pair(r["review_code"], r["reviewer"], r["author"], r["group"]) for r in read_csv(key)]
    except KeyError as err:
        raise CohortError(f"{key}: column {err.args[0]!r} is missing; 'peer assign' writes this file, "
                          "do not edit it") from err


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV written by :func:`write_csv` (or by a spreadsheet, with or without byte-order mark)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, header: list[str], rows: Iterable[list]) -> None:
    """A CSV a spreadsheet opens correctly (UTF-8 with byte-order mark: accents survive Excel)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


# ---------------------------------------------------------------- export


FORM = """# Peer review · {assignment}

Review code: {code}

Keep the line above as it is: it is how your trainer knows which memo you reviewed.
You do not know who wrote this memo, and its author will not know who reviewed it.

## How to review

1. Read the memo below ({words} words).
2. For each criterion, pick the level of the rubric that fits the memo best and write its
   points after the colon under **Your scores** (write 0 if the memo does not address it).
3. Write one sentence on what works and one on what to improve.
4. Save this file (keep it as plain text) and send it back to your trainer.

## The memo

{memo}

## Rubric

{rubric}

## Your scores

{scores}

## What works

<!-- One sentence, below this line. -->


## What to improve

<!-- One sentence, below this line. -->

"""


def anonymise(text: str, author: Learner, people: dict[str, Learner]) -> str:
    """Remove e-mail addresses, every roster name and the author's id and name parts."""
    text = re.sub(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", "[e-mail removed]", text)
    names = {learner.name for learner in people.values() if learner.name}
    names |= {part for part in re.findall(r"\w+(?:['’-]\w+)*", author.name) if len(part) >= 3} | {author.id}
    for name in sorted(names, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "[name removed]", text, flags=re.I)
    return text


def redact_secrets(text: str, secret: set[str]) -> tuple[str, int]:
    """Drop memo lines that quote a model answer or a hidden test; return the text and how many."""
    kept, dropped = [], 0
    for line in text.splitlines():
        if found_in(secret, line):
            kept.append("[line removed: it quoted a model answer]")
            dropped += 1
        else:
            kept.append(line)
    return "\n".join(kept), dropped


def form(assignment: str, code: str, memo: str, rubric: Rubric) -> str:
    """One review form: the memo quoted (so nothing in it can pass for a line of the form), the rubric, the blanks."""
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in memo.splitlines())
    scores = "\n".join(f"- {c.name} ({c.allowed_text()}): " for c in rubric.criteria)
    return FORM.format(assignment=assignment, code=code, words=len(memo.split()), memo=quoted,
                       rubric=rubric.table, scores=scores)


def export(cohort: Cohort, assignment: str, quiet: bool = False) -> tuple[Path, int]:
    """Write every reviewer's forms and a zip of them; return the folder and the number of forms."""
    pairs, rubric = read_pairs(cohort, assignment), rubric_for(cohort, assignment)
    people, texts = read_roster(cohort), memos(cohort, assignment)
    secret = all_secret_lines(cohort.source / assignment)
    folder = cohort.path("exports", "peer", assignment)
    if folder.exists():
        shutil.rmtree(folder)  # generated from the key and the submissions: nothing of value is lost
    clean: dict[str, str] = {}
    for author in sorted({p.author for p in pairs}):
        memo = anonymise(texts.get(author, ""), people.get(author, Learner(author, "", "")), people)
        clean[author], dropped = redact_secrets(memo, secret)
        if dropped:
            print(f"note: memo of {author}: {dropped} line(s) quoting a model answer removed from the forms",
                  file=sys.stderr)
    for pair in progress(pairs, "forms", quiet, unit="form"):
        target = folder / pair.reviewer / f"{pair.code}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(form(assignment, pair.code, clean[pair.author], rubric), encoding="utf-8")
    for reviewer in sorted({p.reviewer for p in pairs}):
        with zipfile.ZipFile(folder / f"{reviewer}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted((folder / reviewer).glob("*.md")):
                archive.write(path, path.name)
    return folder, len(pairs)


# ---------------------------------------------------------------- collect


@dataclass(frozen=True)
class Review:
    code: str
    scores: tuple[float, ...]  # one per rubric criterion, in rubric order
    works: str
    improve: str

    @property
    def total(self) -> float:
        return sum(self.scores)


def _section(text: str, title: str) -> list[str]:
    """The lines under a ``## title`` heading of a form, up to the next one."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("## "):
            inside = line[3:].strip().lower() == title.lower()
        elif inside:
            lines.append(line)
    return lines


def _comment(text: str, title: str) -> str:
    body = re.sub(r"<!--.*?-->", "", "\n".join(_section(text, title)), flags=re.S)
    return " ".join(body.split())


def parse_review(text: str, rubric: Rubric) -> tuple[Review | None, list[str]]:
    """A filled form and the problems found in it (each a short sentence)."""
    code = re.search(r"^Review code:\s*\**\s*([A-Z0-9]{4}-[A-Z0-9]{4})", text, re.M)
    if not code:
        return None, ["no 'Review code:' line: send back the form as it was given, with its code"]
    lines = [re.sub(r"^\s*[-*]?\s*", "", line) for line in _section(text, "Your scores")]
    scores, problems = [], []
    for criterion in rubric.criteria:
        written = next((w for line in lines if (w := _after_label(line, criterion.name)) is not None), None)
        if written is None:
            problems.append(f"{criterion.name}: no score line under 'Your scores'")
            continue
        try:
            scores.append(criterion.score(written))
        except ValueError as err:
            problems.append(str(err))
    if problems:
        return None, problems
    return Review(code.group(1), tuple(scores), _comment(text, "What works"), _comment(text, "What to improve")), []


def _after_label(line: str, name: str) -> str | None:
    """What follows "<name> (<allowed values>):" on a score line, or None if the line is not for ``name``."""
    if not line.lower().startswith(name.lower()):
        return None
    match = re.match(r"\s*(\([^)]*\))?\s*:(.*)$", line[len(name):])
    return match.group(2) if match else None


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # an older Windows editor: keep the scores readable


def read_folder(folder: Path, rubric: Rubric, codes: set[str]) -> dict[str, tuple[Path, str, Review]]:
    """Every filled form in a folder, by review code; fail with one line per problem if any."""
    files = sorted(p for p in Path(folder).rglob("*")
                   if p.suffix.lower() in (".md", ".txt") and not p.name.startswith(".") and p.is_file())
    if not files:
        raise CohortError(f"{folder}: no filled review forms (.md or .txt files) found")
    found: dict[str, tuple[Path, str, Review]] = {}
    problems = []
    for path in files:
        text = _read_text(path)
        review, issues = parse_review(text, rubric)
        if review and review.code not in codes:
            issues = [f"review code {review.code} is not one of this assignment's reviews"]
        elif review and review.code in found:
            issues = [f"same review code {review.code} as {found[review.code][0]}: keep one of the two"]
        problems += [f"{path}: {issue}" for issue in issues]
        if review and not issues:
            found[review.code] = (path, text, review)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        raise CohortError(f"{len(problems)} problem(s) in the review forms (listed above): "
                          "fix them and run again; nothing was stored")
    return found


def store(cohort: Cohort, assignment: str, found: dict[str, tuple[Path, str, Review]]) -> int:
    """Keep a copy of every form under peer/<assignment>/reviews/; a replaced one moves to replaced/."""
    reviews = peer_dir(cohort, assignment) / "reviews"
    reviews.mkdir(parents=True, exist_ok=True)
    for code, (_, text, _) in found.items():
        target = reviews / f"{code}.md"
        if target.exists() and target.read_text(encoding="utf-8") != text:
            old = reviews / "replaced" / f"{code}-{sum(1 for _ in reviews.glob(f'replaced/{code}-*')) + 1}.md"
            old.parent.mkdir(exist_ok=True)
            shutil.move(target, old)
        target.write_text(text, encoding="utf-8")
    return len(found)


def stored_reviews(cohort: Cohort, assignment: str, rubric: Rubric) -> dict[str, Review]:
    """Every review kept so far, by code."""
    stored = {}
    for path in sorted((peer_dir(cohort, assignment) / "reviews").glob("*.md")):
        review, problems = parse_review(path.read_text(encoding="utf-8"), rubric)
        if problems:
            raise CohortError(f"{path}: {problems[0]}")
        stored[review.code] = review
    return stored


def score_reviews(cohort: Cohort, assignment: str, flag_gap: float | None = None) -> tuple[int, int, int]:
    """Write reviews.csv, peer_scores.csv and flags.csv from every stored review; return (in, assigned, flagged).

    Peer score = the median of the reviewers' totals (one odd review cannot move it far),
    scaled from the rubric's maximum to the memo's points. A review is flagged when its
    total is more than ``flag_gap`` rubric points from the median of all reviews of the
    same memo, or from the other review when there are two (default: 1.5 times one
    criterion's top level, i.e. 1.5 of 4 points for a four-criterion rubric scored to 1).
    """
    pairs, rubric = read_pairs(cohort, assignment), rubric_for(cohort, assignment)
    reviews = stored_reviews(cohort, assignment, rubric)
    done = [(pair, reviews[pair.code]) for pair in pairs if pair.code in reviews]
    folder, names = peer_dir(cohort, assignment), [c.name for c in rubric.criteria]
    write_csv(folder / "reviews.csv",
              ["review_code", "reviewer", "author", *names, "total", "what_works", "what_to_improve"],
              ([p.code, p.reviewer, p.author, *map(number, r.scores), number(r.total), r.works, r.improve]
               for p, r in done))
    gap = flag_gap if flag_gap is not None else FLAG_GAP_CRITERIA * max(c.top for c in rubric.criteria)
    flags = _flags(done, gap)
    write_csv(folder / "flags.csv", ["review_code", "reviewer", "author", "total", "compared_with", "gap", "reason"], flags)
    write_csv(folder / "peer_scores.csv",
              ["learner", "reviews_received", "reviews_assigned", "peer_score", "out_of", *names,
               "reviews_given", "reviews_to_give"],
              _score_rows(pairs, done, rubric, memo_points(cohort, assignment)))
    return len(done), len(pairs), len(flags)


def _flags(done: list[tuple[Pair, Review]], gap: float) -> list[list[str]]:
    """One row per review whose total is more than ``gap`` from its memo's other reviews."""
    by_author: dict[str, list[Review]] = defaultdict(list)
    for pair, review in done:
        by_author[pair.author].append(review)
    flags = []
    for pair, review in done:
        reference = _reference(review, by_author[pair.author])
        if reference is not None and abs(review.total - reference) > gap:
            flags.append([pair.code, pair.reviewer, pair.author, number(review.total), number(reference),
                          number(abs(review.total - reference)),
                          f"more than {number(gap)} points from the other reviews of this memo"])
    return flags


def _score_rows(pairs: list[Pair], done: list[tuple[Pair, Review]], rubric: Rubric, out_of: float) -> list[list]:
    """One row per learner: reviews received and their median (total and per criterion), reviews given."""
    returned = {pair.code for pair, _ in done}
    rows = []
    for learner in sorted({p.author for p in pairs} | {p.reviewer for p in pairs}):
        got = [review for pair, review in done if pair.author == learner]
        given = [p for p in pairs if p.reviewer == learner]
        score = number(statistics.median(r.total for r in got) * out_of / rubric.max) if got else ""
        medians = [number(statistics.median(r.scores[i] for r in got)) if got else "" for i in range(len(rubric.criteria))]
        rows.append([learner, len(got), sum(p.author == learner for p in pairs), score, number(out_of), *medians,
                     sum(p.code in returned for p in given), len(given)])
    return rows


def _reference(review: Review, all_reviews: list[Review]) -> float | None:
    """What a review's total is compared with: the median of all reviews of the memo.

    With three or more reviews, one odd review cannot move the median, so only it stands
    out. With two, each is compared with the other: if they disagree, both are flagged,
    as nobody can tell which one is off. A single review is compared with nothing.
    """
    if len(all_reviews) < 2:
        return None
    if len(all_reviews) == 2:
        return next(r.total for r in all_reviews if r is not review)
    return statistics.median(r.total for r in all_reviews)


def peer_scores(cohort: Cohort, assignment: str) -> dict[str, float]:
    """Each learner's peer score from peer/<assignment>/peer_scores.csv (empty if none yet)."""
    path = peer_dir(cohort, assignment) / "peer_scores.csv"
    if not path.is_file():
        return {}
    return {r["learner"]: float(r["peer_score"]) for r in read_csv(path) if r["peer_score"]}


@dataclass(frozen=True)
class Participation:
    """How far peer review of one assignment has got."""

    memos: int
    assigned: int
    returned: int
    reviewers: int
    complete: int  # reviewers who returned every review asked of them
    flagged: int


def participation(cohort: Cohort, assignment: str) -> Participation | None:
    """Counts for the report; None when peer review of the assignment was never assigned."""
    if not (peer_dir(cohort, assignment) / "assignment.csv").is_file():
        return None
    pairs = read_pairs(cohort, assignment)
    returned = {p.stem for p in (peer_dir(cohort, assignment) / "reviews").glob("*.md")}
    reviewers = {p.reviewer for p in pairs}
    flags = peer_dir(cohort, assignment) / "flags.csv"
    return Participation(
        memos=len({p.author for p in pairs}), assigned=len(pairs), returned=sum(p.code in returned for p in pairs),
        reviewers=len(reviewers),
        complete=sum(all(p.code in returned for p in pairs if p.reviewer == r) for r in reviewers),
        flagged=len(read_csv(flags)) if flags.is_file() else 0,
    )


# ---------------------------------------------------------------- the commands


def register(steps: argparse._SubParsersAction) -> None:
    p = steps.add_parser(
        "peer",
        help="peer review of the memo: assign reviewers, export forms, collect reviews",
        description="Peer review of each assignment's memo, in three steps: 'assign' pairs reviewers "
        "with memos, 'export' writes an anonymous review form per review, 'collect' reads the filled "
        "forms and computes a peer score per learner.",
    )
    sub = p.add_subparsers(dest="peer_step", required=True, metavar="{assign,export,collect}")

    a = sub.add_parser(
        "assign", help="choose who reviews whose memo",
        description="Give every written memo to N reviewers among the learners who handed in: nobody "
        "reviews their own memo, everyone reviews about the same number, and the same --seed gives "
        "the same pairs again. The key stays in COHORT/peer/ASSIGNMENT/assignment.csv.",
    )
    a.add_argument("cohort", help="the cohort folder")
    a.add_argument("assignment", help="assignment name, e.g. 01-people-centred")
    a.add_argument("--reviewers", type=_positive, required=True, metavar="N", help="reviewers per memo, e.g. 3")
    a.add_argument("--seed", type=int, metavar="S", help="a number that fixes the pairs (default: a new one, printed)")
    a.add_argument("--within-groups", action="store_true",
                   help="only pair learners of the same group (roster.csv 'group' column)")
    a.set_defaults(run=run_assign)

    e = sub.add_parser(
        "export", help="write the anonymous review forms, one zip per reviewer",
        description="Write one review form per review (the memo without names, the rubric, a line per "
        "criterion to fill) into COHORT/exports/peer/ASSIGNMENT/<reviewer>/, and a zip per reviewer to e-mail.",
    )
    e.add_argument("cohort", help="the cohort folder")
    e.add_argument("assignment", help="assignment name, e.g. 01-people-centred")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.set_defaults(run=run_export)

    c = sub.add_parser(
        "collect", help="read the filled review forms and compute peer scores",
        description="Read every filled form (.md or .txt) in FOLDER, check each score against the rubric, "
        "keep a copy, and write peer_scores.csv (median of the reviewers), reviews.csv and flags.csv "
        "(reviews far from the others) in COHORT/peer/ASSIGNMENT/. Forms can arrive in several batches.",
    )
    c.add_argument("cohort", help="the cohort folder")
    c.add_argument("assignment", help="assignment name, e.g. 01-people-centred")
    c.add_argument("folder", help="folder holding the filled forms sent back by reviewers")
    c.add_argument("--flag-gap", type=float, metavar="POINTS",
                   help="flag a review whose total is more than this many points from the median of its memo's "
                   "reviews (default: 1.5 times the top score of one criterion, e.g. 1.5 when each scores up to 1)")
    c.set_defaults(run=run_collect)


def _positive(text: str) -> int:
    """--reviewers for argparse: a whole number of 1 or more (anything else is wrong usage, exit 2)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of 1 or more, e.g. 3")
    return int(text)


def run_assign(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    assignment = cohort.require_assignment(args.assignment)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(100_000)
    pairs = assign(cohort, assignment, args.reviewers, seed, args.within_groups)
    loads = Counter(p.reviewer for p in pairs)
    print(f"{len({p.author for p in pairs})} memos, {args.reviewers} reviewers each: {len(pairs)} reviews for "
          f"{len(loads)} learners, {min(loads.values())} to {max(loads.values())} each (seed {seed}).")
    print(f"Key: {peer_dir(cohort, assignment) / 'assignment.csv'} (keep it to yourself)")
    print(f"Next: citylab cohort peer export {args.cohort} {assignment}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    assignment = cohort.require_assignment(args.assignment)
    folder, count = export(cohort, assignment, args.quiet)
    print(f"{count} review forms in {folder}/<reviewer>/, and one <reviewer>.zip per reviewer to send.")
    print("When they come back, put them in one folder and run: "
          f"citylab cohort peer collect {args.cohort} {assignment} FOLDER")
    return 0


def run_collect(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    assignment = cohort.require_assignment(args.assignment)
    pairs, rubric = read_pairs(cohort, assignment), rubric_for(cohort, assignment)
    new = store(cohort, assignment, read_folder(Path(args.folder), rubric, {p.code for p in pairs}))
    stored, assigned, flagged = score_reviews(cohort, assignment, args.flag_gap)
    folder = peer_dir(cohort, assignment)
    print(f"Read {new} review forms; {stored} of {assigned} assigned reviews are in.")
    print(f"Peer scores: {folder / 'peer_scores.csv'}; every review: {folder / 'reviews.csv'}")
    print(f"{flagged} review(s) far from the others: {folder / 'flags.csv'}")
    return 0
