"""``citylab cohort create DIR``: a new cohort folder with its own gradebook."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from citylab.cohort.course import Cohort, CohortError, create, shown_url

STEP = 10


def register(steps: argparse._SubParsersAction) -> None:
    p = steps.add_parser(
        "create",
        help="make a new cohort folder (outside the repository)",
        description="Make a new cohort folder. Its nbgrader configuration uses the course's "
        "exercises/source; the gradebook is SQLite unless --db gives a PostgreSQL URL. "
        "The gradebook is opened (and its tables made) right away, so a wrong address or "
        "password shows now and not on grading day.",
    )
    p.add_argument("folder", help="new or empty folder for the cohort, e.g. ~/cohorts/2026-spring")
    p.add_argument("--db", metavar="URL", help="gradebook URL, e.g. postgresql://user@127.0.0.1/cohort (default: SQLite in the folder)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder).expanduser()
    existed = folder.exists()
    cohort = create(folder, normalised(args.db))
    try:
        prepare_gradebook(cohort)
    except CohortError:
        _undo(cohort.root, existed)
        raise
    print(f"Created cohort in {cohort.root}")
    print(f"Gradebook: {shown_url(cohort.db_url)}")
    print(f"Next: citylab cohort roster {args.folder} roster.csv")
    return 0


def normalised(url: str | None) -> str | None:
    """``postgres://`` (as many hosting services write it) is ``postgresql://`` to SQLAlchemy."""
    if url and url.startswith("postgres://"):
        return "postgresql://" + url.removeprefix("postgres://")
    return url


def prepare_gradebook(cohort: Cohort) -> None:
    """Make the gradebook's tables now.

    nbgrader's ``db upgrade`` fails on an empty PostgreSQL database; opening
    nbgrader's Gradebook once creates the tables and stamps the schema
    version, after which every nbgrader command works.
    """
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        with cohort.gradebook():
            pass
    except ModuleNotFoundError as err:
        raise CohortError(f"--db {shown_url(cohort.db_url)}: the database driver {err.name!r} is not installed; "
                          "write postgresql://... to use psycopg 3") from err
    except (ArgumentError, NoSuchModuleError) as err:
        raise CohortError(f"--db {shown_url(cohort.db_url)}: {err}") from err


def _undo(root: Path, existed: bool) -> None:
    """Remove what ``create`` wrote, so the trainer can fix the URL and run the same command again."""
    if existed:
        for child in root.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    else:
        shutil.rmtree(root)
