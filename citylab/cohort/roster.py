"""``citylab cohort roster COHORT roster.csv``: who is in the cohort.

The trainer's spreadsheet is checked as a whole before anything is written:
every problem is reported with its line number, and one bad line means no
change at all, so the gradebook never holds half a roster. A valid roster is
copied to ``COHORT/roster.csv`` (the list every other step reads, through
:func:`load`) and each learner is added to or updated in nbgrader's
gradebook. Learners who disappear from the file are reported, never deleted:
they may already have grades.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from citylab.cohort.course import Cohort, CohortError

STEP = 20
COLUMNS = ("id", "name", "email", "group")
REQUIRED = ("id", "name", "email")
FILE = "roster.csv"
#: An id becomes a folder name (submitted/<id>/...) and part of nbgrader's exchange file names,
#: where "+" separates fields: letters, digits, ".", "-", "_" only, and no name Windows reserves.
SAFE_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9_-])?")
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(1, 10)), *(f"lpt{n}" for n in range(1, 10))}
EMAIL = re.compile(r"[^@\s,;<>()\[\]\"']+@[^@\s,;<>()\[\]\"'.]+(\.[^@\s,;<>()\[\]\"'.]+)+")
#: Words that belong to the family name that follows them ("Ana de la Cruz").
PARTICLES = {"al", "bin", "da", "das", "de", "del", "della", "der", "di", "do", "dos", "du", "el", "la", "le",
             "st", "ten", "ter", "van", "von", "y"}
SAVE_AS_UTF8 = ("save the file as UTF-8 and import it again (Excel: Save As → 'CSV UTF-8 (Comma delimited)'; "
                "LibreOffice: Save As → tick 'Edit filter settings' → character set 'Unicode (UTF-8)')")


@dataclass(frozen=True)
class Learner:
    """One row of the roster."""

    id: str
    name: str
    email: str
    group: str = ""

    @property
    def first_name(self) -> str:
        return split_name(self.name)[0]

    @property
    def last_name(self) -> str:
        return split_name(self.name)[1]


@dataclass
class Changes:
    """What an import changed, for the trainer to read."""

    added: list[Learner] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # id -> what changed
    unlisted: list[str] = field(default_factory=list)
    total: int = 0

    @property
    def none(self) -> bool:
        return not (self.added or self.updated)


def split_name(name: str) -> tuple[str, str]:
    """First and last name for nbgrader: "Surname, Given" is turned round; particles stay with the surname.

    "Ana Maria de la Cruz" → ("Ana Maria", "de la Cruz"); "Okafor, Chidi" → ("Chidi", "Okafor");
    a single word is a first name.
    """
    if "," in name:
        last, _, first = name.partition(",")
        return first.strip(), last.strip()
    words = name.split()
    if len(words) < 2:
        return name.strip(), ""
    start = len(words) - 1
    while start > 1 and words[start - 1].lower() in PARTICLES:
        start -= 1
    return " ".join(words[:start]), " ".join(words[start:])


# ---------------------------------------------------------------- reading and checking


def decode(raw: bytes, label: str) -> tuple[str, list[str]]:
    """The text of a UTF-8 file (with or without BOM), and one problem per line that is not UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "", [f"{label} line 1: the file is UTF-16 ('Unicode text'), not UTF-8: {SAVE_AS_UTF8}"]
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    problems = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as err:
            shown = line.decode("utf-8", errors="replace").strip()
            problems.append(f"{label} line {number}: not UTF-8 (byte 0x{line[err.start]:02X} in {shown!r})")
    if problems:
        problems.append(f"{label}: {SAVE_AS_UTF8}")
    return raw.decode("utf-8", errors="replace"), problems


def delimiter(header: str) -> str:
    """Comma, or the semicolon or tab that spreadsheets in many countries write instead."""
    if "," not in header:
        for candidate in ";\t":
            if candidate in header:
                return candidate
    return ","


def parse(path: Path) -> tuple[list[Learner], list[str]]:
    """The learners of a roster file and every problem found in it, each naming its line."""
    label = path.name
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise CohortError(f"cannot read {path}: {err.strerror}") from err
    text, problems = decode(raw, label)
    if not text.strip():
        return [], problems or [f"{label}: the file is empty; the first line must be the header id,name,email,group"]
    header_line = next(line for line in text.splitlines() if line.strip())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(header_line))
    learners: list[Learner] = []
    try:
        first = next(row for row in reader if any(value.strip() for value in row))
        header, header_problems = check_header(first, f"{label} line {reader.line_num}")
        problems += header_problems
        if header:
            learners = check_rows(reader, header, label, problems)
    except csv.Error as err:
        problems.append(f"{label} line {reader.line_num}: {err}")
    if not learners and not problems:
        problems.append(f"{label}: no learners below the header")
    return learners, problems


def check_rows(reader, header: list[str], label: str, problems: list[str]) -> list[Learner]:
    """The valid learners below the header; each problem found is added to ``problems``."""
    learners = []
    seen_ids: dict[str, tuple[int, str]] = {}
    seen_emails: dict[str, int] = {}
    for row in reader:
        if not any(value.strip() for value in row):
            continue
        where = f"{label} line {reader.line_num}"
        if len(row) != len(header):
            problems.append(f"{where}: {len(row)} values but the header has {len(header)} columns "
                            "(put a value that contains a comma in double quotes)")
            continue
        values = {column: " ".join(value.split()) for column, value in zip(header, row) if column in COLUMNS}
        row_problems = check_row(values, where, reader.line_num, seen_ids, seen_emails)
        problems += row_problems
        if not row_problems:
            learners.append(Learner(values["id"], values["name"], values["email"], values.get("group", "")))
    return learners


def check_header(cells: list[str], where: str) -> tuple[list[str], list[str]]:
    """Column names in file order (empty if unusable) and the problems with them."""
    header = [cell.strip().lower() for cell in cells]
    problems = []
    if any("@" in cell for cell in header):
        return [], [f"{where}: the first line must be the header id,name,email,group, not a learner"]
    unknown = [cell or "(empty)" for cell in header if cell not in COLUMNS]
    if unknown:
        problems.append(f"{where}: unknown column(s) {', '.join(unknown)}; allowed: {', '.join(COLUMNS)}")
    twice = sorted({cell for cell in header if header.count(cell) > 1 and cell in COLUMNS})
    if twice:
        problems.append(f"{where}: column(s) {', '.join(twice)} appear more than once")
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        problems.append(f"{where}: column(s) {', '.join(missing)} missing; the header must be id,name,email[,group]")
        return [], problems
    return header, problems


def check_row(values: dict[str, str], where: str, line: int,
              seen_ids: dict[str, tuple[int, str]], seen_emails: dict[str, int]) -> list[str]:
    """Problems of one learner row; remembers its id and email to find duplicates later."""
    problems = [f"{where}: {column} missing" for column in REQUIRED if not values.get(column)]
    learner_id, email = values.get("id", ""), values.get("email", "")
    if learner_id:
        if not SAFE_ID.fullmatch(learner_id) or learner_id.split(".")[0].lower() in WINDOWS_RESERVED:
            problems.append(f"{where}: id {learner_id!r} cannot be a folder name: use letters, digits, '.', '-' "
                            "or '_' only (no spaces or '+'), start with a letter or digit, at most 64 characters")
        # Folder names ignore upper/lower case on Windows and macOS: "A7" and "a7" are one learner.
        key = learner_id.lower()
        if key in seen_ids:
            first_line, first_id = seen_ids[key]
            same = "" if first_id == learner_id else f" as {first_id!r} (ids must differ by more than upper/lower case)"
            problems.append(f"{where}: id {learner_id!r} is already used on line {first_line}{same}")
        else:
            seen_ids[key] = (line, learner_id)
    if email:
        if not EMAIL.fullmatch(email):
            problems.append(f"{where}: email {email!r} is not a valid address")
        key = email.lower()
        if key in seen_emails:
            problems.append(f"{where}: email {email!r} is already used on line {seen_emails[key]} "
                            "(each learner needs an own address to match submissions)")
        else:
            seen_emails[key] = line
    return problems


# ---------------------------------------------------------------- the cohort's roster


def load(cohort: Cohort) -> list[Learner]:
    """The cohort's imported roster (empty before the first import)."""
    path = cohort.path(FILE)
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [Learner(row["id"], row["name"], row["email"], row.get("group") or "") for row in csv.DictReader(handle)]


def require(cohort: Cohort) -> list[Learner]:
    """The roster, or a clear error when none was imported yet."""
    learners = load(cohort)
    if not learners:
        raise CohortError(f"{cohort.root} has no roster yet: run 'citylab cohort roster {cohort.root} roster.csv' first")
    return learners


def write(cohort: Cohort, learners: Iterable[Learner]) -> None:
    """Replace COHORT/roster.csv in one step (a crash never leaves half a file)."""
    path = cohort.path(FILE)
    temporary = path.with_suffix(".csv.tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows((lr.id, lr.name, lr.email, lr.group) for lr in learners)
    os.replace(temporary, path)


def import_roster(cohort: Cohort, path: Path) -> Changes:
    """Check the file, then add or update every learner; raise with every problem, having written nothing."""
    learners, problems = parse(path)
    if problems:
        raise RosterProblems(path, problems)
    before = {learner.id: learner for learner in load(cohort)}
    changes = Changes(total=len(learners))
    with cohort.gradebook() as gradebook:
        in_gradebook = {student.id: student for student in gradebook.students}
        for learner in learners:
            student = in_gradebook.get(learner.id)
            differences = _differences(learner, student, before.get(learner.id))
            if student is None:
                changes.added.append(learner)
            elif differences:
                changes.updated[learner.id] = differences
            if student is None or differences:
                gradebook.update_or_create_student(
                    learner.id, first_name=learner.first_name, last_name=learner.last_name, email=learner.email,
                )
        listed = {learner.id for learner in learners}
        changes.unlisted = sorted((set(in_gradebook) | set(before)) - listed)
    if list(before.values()) != learners:
        write(cohort, learners)
    return changes


def _differences(learner: Learner, student, previous: Learner | None) -> list[str]:
    """Which of name, email, group differ from the gradebook and the previous roster."""
    if student is None:
        return []
    changed = []
    if (student.first_name or "", student.last_name or "") != split_name(learner.name):
        changed.append("name")
    if (student.email or "") != learner.email:
        changed.append("email")
    if previous is not None and previous.group != learner.group:
        changed.append("group")
    return changed


class RosterProblems(CohortError):
    """Every problem of a roster file; the CLI prints one line each."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{path.name}: nothing was imported; fix the problems listed above and run again")


# ---------------------------------------------------------------- command line


def register(steps: argparse._SubParsersAction) -> None:
    p = steps.add_parser(
        "roster",
        help="import the list of learners from a CSV file",
        description="Import the learners from a CSV file with a header line and the columns "
        "id, name, email and (optional) group, e.g. exported from a spreadsheet as 'CSV UTF-8'. "
        "The whole file is checked first: every problem is listed with its line number and nothing "
        "is imported until all are fixed. Importing the same file again changes nothing; learners "
        "who are no longer in the file are reported but kept (they may have grades).",
    )
    p.add_argument("cohort", help="the cohort folder made by 'citylab cohort create'")
    p.add_argument("csv", type=Path, help="the roster file, e.g. roster.csv")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    try:
        changes = import_roster(cohort, args.csv)
    except RosterProblems as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
        raise
    print(summary(changes))
    return 0


def summary(changes: Changes) -> str:
    """What the trainer reads after an import."""
    if changes.none:
        lines = [f"No change: the {changes.total} learners of this roster are already imported."]
    else:
        unchanged = changes.total - len(changes.added) - len(changes.updated)
        counts = f"{len(changes.added)} added, {len(changes.updated)} updated, {unchanged} unchanged"
        lines = [f"Roster: {changes.total} learners ({counts})."]
        lines += [f"  added: {lr.id} ({lr.name})" for lr in changes.added]
        lines += [f"  updated: {learner_id} ({', '.join(what)})" for learner_id, what in changes.updated.items()]
    if changes.unlisted:
        lines.append(f"  no longer listed, kept in the gradebook because they may have grades: "
                     f"{', '.join(changes.unlisted)}")
    return "\n".join(lines)
