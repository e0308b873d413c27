"""``citylab cohort create DIR``: a new cohort folder with its own gradebook."""

from __future__ import annotations

import argparse

from citylab.cohort.course import create

STEP = 10


def register(steps: argparse._SubParsersAction) -> None:
    p = steps.add_parser(
        "create",
        help="make a new cohort folder (outside the repository)",
        description="Make a new cohort folder. Its nbgrader configuration uses the course's "
        "exercises/source; the gradebook is SQLite unless --db gives a PostgreSQL URL.",
    )
    p.add_argument("folder", help="new or empty folder for the cohort, e.g. ~/cohorts/2026-spring")
    p.add_argument("--db", metavar="URL", help="gradebook URL, e.g. postgresql://user@127.0.0.1/cohort (default: SQLite in the folder)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cohort = create(args.folder, args.db)
    print(f"Created cohort in {cohort.root}")
    print(f"Gradebook: {cohort.db_url}")
    print(f"Next: citylab cohort roster {args.folder} roster.csv")
    return 0
