"""``citylab cohort collect COHORT ASSIGNMENT``: gather the learners' notebooks, lose none.

Submissions come from nbgrader's exchange (a JupyterHub) or from a folder or
zip of files downloaded from an LMS or saved from emails. Whatever arrives is
first copied untouched into ``inbox/<assignment>/<time>/``; only then is each
notebook matched to a learner and placed where nbgrader expects it,
``submitted/<id>/<assignment>/<notebook>.ipynb``, with nbgrader's
``timestamp.txt`` (the time it was handed in, in UTC).

Matching rules, in order:

1. exchange: the hub user name in nbgrader's folder name is the learner id;
2. an email address of the roster in the file or folder name;
3. otherwise a roster id as a whole word (``a07_who-is-left-out.ipynb``,
   ``a07/who-is-left-out.ipynb``) or a roster name in any order, accents and
   case ignored (``Lima Ana_123_assignsubmission_file_...``,
   ``limaana_123_...``); an id that is only a word of a name found in the
   same file name does not count;
4. the learner id that ``release --to zip-per-learner`` wrote into the notebook.

The name of the folder or zip given with ``--from`` itself is not used. A
file that fits several learners, or none, is reported as unknown. Several
files for one learner: the newest counts, all stay in the inbox. Nothing
that was collected before is replaced by an older file.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import re
import shutil
import sys
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from citylab.cohort import roster
from citylab.cohort.course import Cohort, CohortError, progress

STEP = 40
#: Files that operating systems and LMS downloads add; kept in the inbox, never reported.
JUNK = re.compile(r"(^|/)(__MACOSX/|\.ipynb_checkpoints/|\._|\.DS_Store$|Thumbs\.db$|desktop\.ini$)")
#: Words of LMS file names that never name a learner (Moodle: "<name>_<n>_assignsubmission_file_<file>").
LMS_WORDS = re.compile(r"(?<![a-z])(assignsubmission_file|assignsubmission_onlinetext|late)(?![a-z])", re.IGNORECASE)
#: A zip entry larger than this is not read (a notebook with big outputs is a few tens of MB).
MAX_ENTRY = 200 * 2**20
#: What nbgrader's exchange adds to each submission beside the learner's files.
EXCHANGE_FILES = {"timestamp.txt", "submission_secret.txt"}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # what nbgrader's exchange writes


@dataclass
class Received:
    """One file as it arrived; read from its copy in the inbox."""

    origin: str  # as the trainer knows it: "exchange/<entry>/<file>", "<folder>/<file>", "<zip>!<entry>"
    match_text: str  # the part of the name that may name a learner
    at: datetime  # when it was handed in (aware)
    data: bytes
    sender: str | None = None  # the hub user name, for exchange submissions


@dataclass
class Row:
    """One line of the collect report."""

    status: str  # submitted, late, missing, duplicate, unknown, not-a-notebook
    learner: str = ""
    name: str = ""
    notebook: str = ""
    received: datetime | None = None
    late_seconds: float = 0
    file: str = ""
    note: str = ""

    def csv(self) -> list[str]:
        at = self.received.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if self.received else ""
        late = late_text(self.late_seconds) if self.late_seconds > 0 else ""
        return [self.status, self.learner, self.name, self.notebook, at, late, f"{self.late_seconds:.0f}",
                self.file, self.note]


HEADER = ["status", "learner", "name", "notebook", "received_utc", "late_by", "late_seconds", "file", "note"]


@dataclass
class Report:
    """What a collect found, for the screen and the CSV file."""

    assignment: str
    inbox: Path
    rows: list[Row] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    csv_path: Path | None = None

    def having(self, *statuses: str) -> list[Row]:
        return [row for row in self.rows if row.status in statuses]


# ---------------------------------------------------------------- the inbox: keep first, read from the copy


def new_inbox(cohort: Cohort, assignment: str) -> Path:
    """inbox/<assignment>/<UTC time>/, never one used before."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = cohort.path("inbox", assignment, stamp)
    for n in itertools.count(2):
        if not folder.exists():
            break
        folder = folder.with_name(f"{stamp}-{n}")
    folder.mkdir(parents=True)
    return folder


def keep(source: Path, inbox: Path) -> tuple[Path, list[str]]:
    """Copy a file or folder into the inbox, byte for byte with its times; report what could not be read."""
    target = inbox / source.name
    try:
        if source.is_dir():
            shutil.copytree(source, target, symlinks=False)
        else:
            shutil.copy2(source, target)
    except shutil.Error as err:
        return target, [f"{Path(src).relative_to(source.parent)}: cannot be read ({why})" for src, _, why in err.args[0]]
    except OSError as err:
        return target, [f"{source.name}: cannot be read ({err.strerror})"]
    return target, []


def from_exchange(cohort: Cohort, assignment: str, inbox: Path, quiet: bool) -> tuple[list[Received], list[str]]:
    """Every submission of the assignment in nbgrader's exchange (inbound/<user>+<assignment>+<time>[+random]).

    Read here rather than through ``nbgrader collect``, which files the work of
    users who are not on the roster too (autograde then adds them as students)
    and reports nothing. Names and times are read as nbgrader reads them
    (``parse_utc``), so submitted/ ends up as ``nbgrader collect --update`` makes it.
    """
    from nbgrader.utils import parse_utc

    inbound = cohort.exchange / cohort.settings["course_id"] / "inbound"
    if not inbound.is_dir():
        raise CohortError(f"no exchange at {inbound}: release the assignment with '--to exchange' first, "
                          "or collect with --from FOLDER")
    entries = [e for e in sorted(inbound.iterdir()) if len(e.name.split("+")) in (3, 4)
               and e.name.split("+")[1] == assignment]
    received, problems = [], []
    for entry in progress(entries, "reading", quiet, unit="submission"):
        parts = entry.name.split("+")
        kept, copy_problems = keep(entry, inbox / "exchange")
        problems += copy_problems
        try:
            at = parse_utc(parts[2]).replace(tzinfo=UTC)
        except (ValueError, OverflowError):
            at = datetime.fromtimestamp(entry.stat().st_mtime, UTC)
            problems.append(f"exchange/{entry.name}: the time in its name cannot be read; the folder's time is used")
        for path in sorted(p for p in kept.rglob("*") if p.is_file() and p.name not in EXCHANGE_FILES):
            inside = path.relative_to(kept).as_posix()
            received.append(Received(f"exchange/{entry.name}/{inside}", inside, at, path.read_bytes(), parts[0]))
    return received, problems


def from_path(source: Path, inbox: Path, quiet: bool) -> tuple[list[Received], list[str]]:
    """Every file of a folder, zip or single file (zips inside a folder are opened too)."""
    if not source.exists():
        raise CohortError(f"--from {source}: no such file or folder")
    if source.is_dir() and inbox.resolve().is_relative_to(source.resolve()):
        raise CohortError(f"--from {source}: this folder holds the cohort itself; give the folder of downloaded files")
    kept, problems = keep(source, inbox)
    files = sorted(p for p in kept.rglob("*") if p.is_file()) if kept.is_dir() else [kept]
    received: list[Received] = []
    for path in progress(files, "reading", quiet, unit="file"):
        inside = path.relative_to(kept).as_posix() if kept.is_dir() else ""
        origin = f"{source.name}/{inside}" if inside else source.name
        if path.suffix.lower() == ".zip":
            entries, zip_problems = read_zip(path, origin, inside)
            received += entries
            problems += zip_problems
        else:
            at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            received.append(Received(origin, inside or path.name, at, path.read_bytes()))
    return received, problems


def read_zip(path: Path, origin: str, inside: str) -> tuple[list[Received], list[str]]:
    """The files of a zip and one problem per entry that cannot be read.

    Entry times are read as this computer's local time: zips store no timezone.
    """
    prefix = f"{inside}/" if inside else ""  # a zip inside a folder: its own name may name the learner
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        return [], [f"{origin}: not a readable zip ({err}); it is kept in the inbox, download it again"]
    received, problems = [], []
    with archive:
        for info in (i for i in archive.infolist() if not i.is_dir()):
            where = f"{origin}!{info.filename}"
            if info.file_size > MAX_ENTRY:
                problems.append(f"{where}: {info.file_size / 2**20:.0f} MB, too large to be a notebook; not read")
                continue
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as err:
                problems.append(f"{where}: cannot be read from the zip ({err}); the zip is kept in the inbox")
                continue
            received.append(Received(where, prefix + info.filename, datetime(*info.date_time).astimezone(), data))
    return received, problems


# ---------------------------------------------------------------- matching files to learners


def words(text: str) -> list[str]:
    """Lower-case words without accents: "Ana-María Lima" → ["ana", "maria", "lima"]."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.findall(r"[a-z0-9]+", plain.casefold())


class Matcher:
    """Finds the learner a file name (or a stamped notebook) belongs to."""

    def __init__(self, learners: list[roster.Learner], notebooks: list[str]) -> None:
        self.ids = {learner.id.lower(): learner.id for learner in learners}
        self.learners = learners
        self.notebooks = notebooks

    def notebook(self, received: Received) -> str | None:
        """Which of the assignment's notebooks a file is (any .ipynb when there is only one)."""
        name = PurePosixPath(received.origin.rsplit("!", 1)[-1]).name
        if not name.lower().endswith(".ipynb"):
            return None
        if len(self.notebooks) == 1:
            return self.notebooks[0]
        found = [nb for nb in self.notebooks if " ".join(words(Path(nb).stem)) in " ".join(words(name))]
        return max(found, key=len) if found else None

    def learner(self, received: Received) -> tuple[str | None, str]:
        """(learner id, how it was found) or (None, why not)."""
        if received.sender is not None:
            known = self.ids.get(received.sender.lower())
            return (known, "hub user") if known else (None, f"hub user {received.sender!r} is not on the roster")
        text = self._name_text(received.match_text)
        found = self._by_email(text) or self._by_id_or_name(text)
        if len(found) == 1:
            return found.popitem()
        if found:
            return None, f"the file name fits several learners ({', '.join(sorted(found))})"
        stamp = stamped_learner(received.data)
        if stamp and stamp.lower() in self.ids:
            return self.ids[stamp.lower()], "id in the notebook"
        return None, "the file name matches no learner on the roster"

    def _name_text(self, text: str) -> str:
        """The path without the notebook's own name, extension and LMS words."""
        for notebook in self.notebooks:
            text = re.sub(re.escape(Path(notebook).stem), " ", text, flags=re.IGNORECASE)
        return LMS_WORDS.sub(" ", re.sub(r"\.ipynb$", "", text, flags=re.IGNORECASE))

    def _by_email(self, text: str) -> dict[str, str]:
        lowered = text.lower()
        return {lr.id: "email" for lr in self.learners
                if re.search(rf"(?<![a-z0-9._%+-]){re.escape(lr.email.lower())}(?![a-z0-9-]|\.[a-z0-9])", lowered)}

    def _by_id_or_name(self, text: str) -> dict[str, str]:
        """Learners whose id or name is in the text; an id that is only a word of a name found there does not count.

        ("Souza Ana Maria_55_..." is Ana Maria Souza, not the learner whose id is "ana").
        """
        names = self._by_name(text)
        name_words = {w for lr in self.learners if lr.id in names for w in words(lr.name)}
        ids = {i for i in self._by_id(text) if i in names or not set(words(i)) <= name_words}
        return {i: "name" for i in names} | {i: "id" for i in ids}

    def _by_id(self, text: str) -> set[str]:
        spans = {
            (m.start(), m.end(), learner_id)
            for key, learner_id in self.ids.items()
            for m in re.finditer(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])", text.lower())
        }
        # "ana" inside "ana-maria": the longer id wins where both fit.
        return {i for s, e, i in spans if not any(s2 <= s and e <= e2 and (s2, e2) != (s, e) for s2, e2, _ in spans)}

    def _by_name(self, text: str) -> set[str]:
        found = {lr.id: len(words(lr.name)) for lr in self.learners if name_in(words(lr.name), words(text))}
        longest = max(found.values(), default=0)
        return {i for i, n in found.items() if n == longest}


def name_in(name: list[str], text: list[str]) -> bool:
    """The name's words next to each other in any order, or run together ("limaana")."""
    if not name or len(name) > 5:
        return False
    wanted = sorted(name)
    if any(sorted(text[i:i + len(name)]) == wanted for i in range(len(text) - len(name) + 1)):
        return True
    joined = {"".join(order) for order in itertools.permutations(name)}
    return any(word in joined for word in text)


def stamped_learner(data: bytes) -> str | None:
    """The learner id ``release --to zip-per-learner`` wrote into the notebook, if any."""
    try:
        stamp = json.loads(data).get("metadata", {}).get("citylab", {})
    except (ValueError, AttributeError):
        return None
    return stamp.get("learner") if isinstance(stamp, dict) else None


def is_notebook(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data).get("cells"), list)
    except (ValueError, AttributeError):
        return False


# ---------------------------------------------------------------- placing and reporting


def timestamp_of(folder: Path) -> datetime | None:
    """The time nbgrader's timestamp.txt gives a submission folder (aware UTC)."""
    from nbgrader.utils import parse_utc

    path = folder / "timestamp.txt"
    try:
        return parse_utc(path.read_text(encoding="utf-8").strip()).replace(tzinfo=UTC)
    except (OSError, ValueError, OverflowError, AttributeError):
        return None


def place(cohort: Cohort, assignment: str, learner_id: str, notebook: str, item: Received) -> bool:
    """Put the notebook where nbgrader reads it; never replace a newer one. True when placed."""
    folder = cohort.path("submitted", learner_id, assignment)
    target = folder / notebook
    before = timestamp_of(folder)
    if target.exists() and before and item.at < before:
        return False
    folder.mkdir(parents=True, exist_ok=True)
    target.write_bytes(item.data)
    latest = max(filter(None, (before, item.at))).astimezone(UTC)
    (folder / "timestamp.txt").write_text(latest.strftime(TIMESTAMP_FORMAT), encoding="utf-8")
    return True


def late_text(seconds: float) -> str:
    """"1 day 3 h 05 min", "2 h 10 min", "4 min", "35 s"."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} day{'s' * (days > 1)} {hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else f"{secs} s"


def collect(cohort: Cohort, assignment: str, source: str = "exchange", quiet: bool = False) -> Report:
    """Keep everything in the inbox, place what matches, and report every learner and every file."""
    cohort.require_assignment(assignment)
    learners = roster.require(cohort)
    notebooks = sorted(p.name for p in (cohort.source / assignment).glob("*.ipynb"))
    inbox = new_inbox(cohort, assignment)
    if source == "exchange":
        received, problems = from_exchange(cohort, assignment, inbox, quiet)
    else:
        received, problems = from_path(Path(source).expanduser(), inbox, quiet)
    report = Report(assignment, inbox, problems=problems)
    if not received:
        where = "the exchange" if source == "exchange" else source
        report.problems = problems or [f"no files of {assignment} found in {where}"]
        return report
    matcher = Matcher(learners, notebooks)
    chosen: dict[tuple[str, str], list[tuple[Received, str]]] = defaultdict(list)
    for item in received:
        if JUNK.search(item.origin.replace("!", "/")):
            continue
        notebook = matcher.notebook(item)
        if notebook is None:
            report.rows.append(Row("not-a-notebook", file=item.origin, received=item.at,
                                   note=f"not one of this assignment's notebooks ({', '.join(notebooks)})"))
            continue
        learner_id, how = matcher.learner(item)
        if learner_id is None:
            report.rows.append(Row("unknown", notebook=notebook, file=item.origin, received=item.at, note=how))
        else:
            chosen[(learner_id, notebook)].append((item, how))
    names = {lr.id: lr.name for lr in learners}
    for (learner_id, notebook), items in progress(sorted(chosen.items()), "placing", quiet, unit="learner"):
        items.sort(key=lambda pair: (pair[0].at, pair[0].origin), reverse=True)
        newest, how = items[0]
        placed = place(cohort, assignment, learner_id, notebook, newest)
        for older, _ in items[1:] if placed else items:
            why = f"older than {newest.origin}" if placed else "older than the submission collected before"
            report.rows.append(Row("duplicate", learner_id, names[learner_id], notebook, older.at,
                                   file=older.origin, note=f"{why}; kept in the inbox only"))
        if placed:
            report.rows.append(Row("submitted", learner_id, names[learner_id], notebook, newest.at,
                                   file=newest.origin, note=_note(newest, how, learner_id)))
    if source == "exchange":
        for learner_id in {learner_id for learner_id, _ in chosen}:
            keep_submission_secret(cohort, assignment, inbox, learner_id)
    report.rows = _learner_rows(cohort, assignment, learners, report.rows)
    return report


def keep_submission_secret(cohort: Cohort, assignment: str, inbox: Path, learner_id: str) -> None:
    """Put the secret of the submission collected beside it in submitted/, as ``nbgrader collect`` does.

    nbgrader names a released feedback page after a hash of the secret that
    ``submit`` wrote into the submission, and the learner's ``fetch_feedback``
    looks for that name; grading and ``generate_feedback`` carry the file on.
    The submission collected is the exchange entry whose time is the one
    submitted/ records.
    """
    from nbgrader.utils import parse_utc

    folder = cohort.path("submitted", learner_id, assignment)
    collected = timestamp_of(folder)
    for entry in (inbox / "exchange").glob(f"{learner_id}+{assignment}+*"):
        secret = entry / "submission_secret.txt"
        with contextlib.suppress(ValueError, OverflowError):
            if secret.is_file() and parse_utc(entry.name.split("+")[2]).replace(tzinfo=UTC) == collected:
                shutil.copyfile(secret, folder / secret.name)
                return


def _note(item: Received, how: str, learner_id: str) -> str:
    """How the file was matched, and whether it is a notebook at all or was sent to someone else."""
    notes = [f"matched by {how}"]
    if not is_notebook(item.data):
        notes.append("not a valid notebook: grading will record it as broken")
    stamp = stamped_learner(item.data)
    if stamp and stamp != learner_id and how != "id in the notebook":
        notes.append(f"this notebook was released to {stamp}")
    return "; ".join(notes)


def _learner_rows(cohort: Cohort, assignment: str, learners: list[roster.Learner], rows: list[Row]) -> list[Row]:
    """One row per learner from what is in submitted/ now (also from earlier collects), then the other files."""
    deadline = cohort.deadline(assignment)
    this_time = {row.learner: row for row in rows if row.status == "submitted"}
    files = [row for row in rows if row.status != "submitted"]
    result = []
    for learner in learners:
        folder = cohort.path("submitted", learner.id, assignment)
        at = timestamp_of(folder)
        if not (folder.is_dir() and any(folder.glob("*.ipynb"))):
            result.append(Row("missing", learner.id, learner.name, note="nothing received"))
            continue
        row = this_time.get(learner.id) or Row("submitted", learner.id, learner.name, note="collected before")
        row.received = at or row.received
        if deadline and row.received and row.received > deadline:
            row.status, row.late_seconds = "late", (row.received - deadline).total_seconds()
        result.append(row)
    return result + files


def write_report(cohort: Cohort, report: Report) -> Path:
    """exports/<assignment>/collect-<time>.csv (UTF-8 with BOM, so spreadsheets show accents right)."""
    path = cohort.path("exports", report.assignment, f"collect-{report.inbox.name}.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(row.csv() for row in report.rows)
        writer.writerows(["problem", "", "", "", "", "", "", "", problem] for problem in report.problems)
    report.csv_path = path
    return path


def summary(cohort: Cohort, report: Report) -> Iterator[str]:
    """What the trainer reads on screen."""
    learners = [r for r in report.rows if r.status in ("submitted", "late", "missing")]
    handed_in = [r for r in learners if r.status != "missing"]
    late, missing = report.having("late"), report.having("missing")
    yield (f"{report.assignment}: {len(handed_in)} of {len(learners)} learners have handed in "
           f"({len(late)} late), {len(missing)} missing.")
    for row in late:
        yield f"  late: {row.learner} ({row.name}) by {late_text(row.late_seconds)}"
    if missing:
        yield f"  missing: {', '.join(row.learner for row in missing)}"
    for row in report.having("duplicate"):
        yield f"  duplicate: {row.learner}: {row.file} ({row.note})"
    for row in report.having("unknown"):
        yield f"  unknown: {row.file}: {row.note}"
    for row in report.having("not-a-notebook"):
        yield f"  not a notebook: {row.file}"
    yield f"Everything received is kept in {report.inbox.relative_to(cohort.root)}/"
    if report.csv_path:
        yield f"Report: {report.csv_path.relative_to(cohort.root)}"


# ---------------------------------------------------------------- command line


def register(steps: argparse._SubParsersAction) -> None:
    p = steps.add_parser(
        "collect",
        help="gather the learners' notebooks and see who is missing or late",
        description="Gather the learners' notebooks from the JupyterHub exchange or from a folder "
        "or zip of files downloaded from a course platform (LMS) or saved from emails. Everything "
        "received is first copied untouched into COHORT/inbox/; each notebook is then matched to a "
        "learner by the hub user, an email address, a learner id or a name in its file or folder "
        "name. The report lists who handed in, who is late (after the deadline given at release), "
        "who is missing, files that match no learner, and learners who sent several files (the "
        "newest counts). It is also written as a CSV file in COHORT/exports/.",
    )
    p.add_argument("cohort", help="the cohort folder")
    p.add_argument("assignment", help="the assignment, e.g. 01-people-centred")
    p.add_argument("--from", dest="source", default="exchange", metavar="exchange|FOLDER|ZIP",
                   help="where the submissions are: 'exchange' (the default) or a folder or zip of files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    report = collect(cohort, args.assignment, args.source, args.quiet)
    write_report(cohort, report)
    *earlier, last = report.problems or [""]
    for problem in earlier:
        print(f"citylab: problem: {problem}", file=sys.stderr)
    if not any(row.file for row in report.rows):
        raise CohortError(f"{last or 'nothing could be read'}; nothing was collected; "
                          f"whatever arrived is kept in {report.inbox}")
    if last:
        print(f"citylab: problem: {last}", file=sys.stderr)
    for line in summary(cohort, report):
        print(line)
    return 0
