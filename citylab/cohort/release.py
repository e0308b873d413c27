"""``citylab cohort release COHORT ASSIGNMENT``: hand the learners their notebook.

nbgrader makes the student version (``generate_assignment``: solutions and
hidden tests removed, notebooks registered in the gradebook), then it goes
out one of three ways:

- ``exchange``: nbgrader's exchange folder, for a JupyterHub where learners
  fetch and submit with nbgrader's assignment list;
- ``zip-per-learner``: ``exports/<assignment>/<id>.zip`` for each learner,
  to send by email or upload to an LMS; each notebook carries the learner's
  id in its metadata, so ``collect`` recognises it even when the file comes
  back without the id in its name;
- ``zip``: one ``exports/<assignment>.zip`` for the whole cohort.

Every zip holds a README.txt with the deadline and how to hand in.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import nbformat

from citylab.cohort import roster
from citylab.cohort.course import Cohort, CohortError, progress

STEP = 30
MODES = ("exchange", "zip-per-learner", "zip")
DEADLINE_FORMATS = '"2026-12-01 17:00" (UTC), "2026-12-01 17:00 Europe/Lisbon" or "2026-12-01T17:00+01:00"'


def parse_deadline(text: str) -> datetime:
    """A timezone-aware deadline: UTC unless the text names a timezone (IANA name or UTC offset)."""
    text = " ".join(text.split())
    head, _, last = text.rpartition(" ")
    zone = _zone(last) if head else None
    when_text = head if zone else text
    try:
        when = datetime.fromisoformat(when_text)
    except ValueError:
        when = None
    if when is None or ":" not in when_text:
        raise CohortError(f"--deadline {text!r}: give a date and a time, e.g. {DEADLINE_FORMATS}")
    if when.tzinfo is not None and zone is not None:
        raise CohortError(f"--deadline {text!r}: give either a UTC offset or a timezone name, not both")
    return when if when.tzinfo else when.replace(tzinfo=zone or UTC)


def deadline_argument(text: str) -> datetime:
    """--deadline for argparse: a malformed date is wrong usage (exit 2)."""
    try:
        return parse_deadline(text)
    except CohortError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--deadline ")) from err


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def describe_deadline(when: datetime | None) -> str:
    """The deadline as a learner reads it: local time as given, and UTC."""
    if when is None:
        return "no deadline set (ask your trainer)"
    given = when.strftime("%A %d %B %Y, %H:%M")
    offset = when.strftime("%z")
    utc = when.astimezone(UTC)
    if offset in ("+0000", ""):
        return f"{given} UTC"
    return f"{given} (UTC{offset[:3]}:{offset[3:]}), which is {utc:%d %B %Y, %H:%M} UTC"


def generate(cohort: Cohort, assignment: str) -> Path:
    """nbgrader's student version in release/<assignment>/ (made again each time: the source may have changed)."""
    cohort.nbgrader("generate_assignment", assignment, "--force")
    folder = cohort.path("release", assignment)
    if not any(folder.glob("*.ipynb")):
        raise CohortError(f"nbgrader made no notebook in {folder}: check exercises/source/{assignment}")
    return folder


def to_exchange(cohort: Cohort, assignment: str) -> Path:
    """Release to nbgrader's exchange; learners on the hub see it in their Assignments list."""
    cohort.nbgrader("release_assignment", assignment, "--force", f"--Exchange.root={cohort.exchange}")
    return cohort.exchange / cohort.settings["course_id"] / "outbound" / assignment


def readme(cohort: Cohort, assignment: str, release: Path, learner: roster.Learner | None) -> str:
    """README.txt for the zip: what is in it, the deadline, how to hand in."""
    notebooks = sorted(p.name for p in release.glob("*.ipynb"))
    you = f"For: {learner.name} (learner id {learner.id})\n" if learner else ""
    file_id = learner.id if learner else "<your learner id>"
    example = f"{file_id}_{notebooks[0]}"
    return f"""Smart City Academy · assignment {assignment}
{you}
Deadline: {describe_deadline(cohort.deadline(assignment))}

In this zip
  {assignment}/   {', '.join(notebooks)} and any files the notebook needs

How to work on it
  1. Unzip this file (do not open the notebook from inside the zip).
  2. Open {notebooks[0]} in JupyterLab or Jupyter Notebook and answer every question.
  3. Save, then choose Kernel > Restart Kernel and Run All Cells... Every check should print a green tick.

How to hand it in
  Send back only the notebook file ({', '.join(notebooks)}), not the zip, before the deadline,
  the way your trainer asked: upload it to the course platform, or attach it to an email.
  By email, name the file {example} so that it reaches the right person.
  You may hand in again before the deadline: the newest file counts.
"""


def write_zip(path: Path, assignment: str, release: Path, readme_text: str, learner_id: str | None = None) -> Path:
    """A zip with README.txt and the release folder; notebooks stamped with the learner's id when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme_text)
        for file in sorted(p for p in release.rglob("*") if p.is_file()):
            name = f"{assignment}/{file.relative_to(release).as_posix()}"
            if learner_id and file.suffix == ".ipynb":
                archive.writestr(name, stamped(file, learner_id, assignment))
            else:
                archive.write(file, name)
    temporary.replace(path)
    return path


def stamped(notebook: Path, learner_id: str, assignment: str) -> str:
    """The notebook with ``metadata.citylab`` naming its learner (read by ``collect`` as a last resort)."""
    nb = nbformat.read(notebook, as_version=nbformat.NO_CONVERT)
    nb.metadata["citylab"] = {"learner": learner_id, "assignment": assignment}
    return nbformat.writes(nb)


def zip_per_learner(cohort: Cohort, assignment: str, release: Path, quiet: bool = False) -> list[Path]:
    """exports/<assignment>/<id>.zip for every learner on the roster."""
    learners = roster.require(cohort)
    folder = cohort.path("exports", assignment)
    return [
        write_zip(folder / f"{learner.id}.zip", assignment, release,
                  readme(cohort, assignment, release, learner), learner.id)
        for learner in progress(learners, "zips", quiet, unit="learner")
    ]


def zip_for_cohort(cohort: Cohort, assignment: str, release: Path) -> Path:
    """One exports/<assignment>.zip for everyone."""
    return write_zip(cohort.path("exports", f"{assignment}.zip"), assignment, release,
                     readme(cohort, assignment, release, None))


def release(cohort: Cohort, assignment: str, mode: str, deadline: datetime | None = None,
            quiet: bool = False) -> list[Path]:
    """Generate, keep the deadline, and hand out; returns what was written."""
    cohort.require_assignment(assignment)
    if mode == "zip-per-learner":
        roster.require(cohort)  # fail before the slow part
    if not quiet:
        print(f"Making the learners' version of {assignment} with nbgrader (a few seconds)...", file=sys.stderr)
    folder = generate(cohort, assignment)
    if deadline is not None:
        cohort.set_deadline(assignment, deadline)
    if mode == "exchange":
        return [to_exchange(cohort, assignment)]
    if mode == "zip-per-learner":
        return zip_per_learner(cohort, assignment, folder, quiet)
    return [zip_for_cohort(cohort, assignment, folder)]


# ---------------------------------------------------------------- command line


def register(steps: argparse._SubParsersAction) -> None:
    p = steps.add_parser(
        "release",
        help="make the learners' version of an assignment and hand it out",
        description="Make the learners' version of an assignment (solutions and hidden tests "
        "removed) and hand it out: to the exchange of a JupyterHub, as one zip per learner "
        "(to send by email or upload to a course platform), or as one zip for the whole cohort. "
        "Each zip has a README.txt with the deadline and how to hand in. Releasing again "
        "replaces the earlier release.",
    )
    p.add_argument("cohort", help="the cohort folder")
    p.add_argument("assignment", help="the assignment, e.g. 01-people-centred")
    p.add_argument("--deadline", type=deadline_argument, metavar="WHEN",
                   help=f"when it is due, e.g. {DEADLINE_FORMATS}; a time without a timezone is UTC. "
                   "Kept for this assignment (also as nbgrader's due date); leave it out to keep the one set before")
    p.add_argument("--to", choices=MODES, default="exchange",
                   help="exchange (JupyterHub, the default), zip-per-learner or zip")
    p.add_argument("--exchange", metavar="FOLDER", type=Path,
                   help="the hub's nbgrader exchange folder (default: COHORT/exchange); remembered for this cohort")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    if args.exchange:
        if args.to != "exchange":
            raise CohortError("--exchange only applies with --to exchange")
        cohort.settings["exchange"] = str(args.exchange.expanduser().resolve())
        cohort.save_settings()
    written = release(cohort, args.assignment, args.to, args.deadline, args.quiet)
    print(f"Released {args.assignment}; deadline: {describe_deadline(cohort.deadline(args.assignment))}")
    if args.to == "exchange":
        print(f"In the exchange: {written[0]} (learners fetch it from the Assignments tab)")
    elif args.to == "zip-per-learner":
        print(f"{len(written)} zips, one per learner, in {written[0].parent}")
    else:
        print(f"One zip for the cohort: {written[0]}")
    print(f"Next, after the deadline: citylab cohort collect {args.cohort} {args.assignment}")
    return 0
