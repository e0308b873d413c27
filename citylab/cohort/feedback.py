"""``citylab cohort feedback COHORT ASSIGNMENT``: a feedback page per learner, proven free of secrets.

nbgrader's ``generate_feedback`` turns each graded notebook into an HTML page. The
course configuration (exercises/nbgrader_config.py, loaded by every cohort's own
config) removes hidden tests from the test cells and cuts every error in a test
cell down to its last line, so a failed hidden ``assert`` shows its message, not
its source. Plain nbgrader has shipped hidden tests in feedback before (issues
#917, #1363), so this command does not trust the configuration alone: it then
reads every page and looks for every solution and hidden-test line of the
assignment. A page that shows one the learner did not write is withheld (moved
to ``feedback-withheld/``) and the command fails, naming the file; nothing is
zipped. Learners' own correct answers are, of course, allowed in their own page.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from citylab.cohort.course import Cohort, CohortError, progress
from citylab.cohort.leaks import all_secret_lines, cell_text, html_text, revealed

STEP = 60
WITHHELD = "feedback-withheld"


def register(steps: argparse._SubParsersAction) -> None:
    p = steps.add_parser(
        "feedback",
        help="make a feedback page for every graded learner, checked for leaks",
        description="Make one feedback page (HTML) per learner for a graded assignment: their "
        "notebook with scores and comments. Hidden tests and model solutions are removed, and "
        "every page is then checked line by line; if any page still shows one, it is held back "
        "in feedback-withheld/ and the command stops with an error naming it.",
    )
    p.add_argument("cohort", help="the cohort folder")
    p.add_argument("assignment", help="assignment name, e.g. 01-people-centred")
    p.add_argument(
        "--zip", action="store_true",
        help="also write exports/feedback/ASSIGNMENT/<learner>.zip, one per learner, ready to e-mail",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    assignment = cohort.require_assignment(args.assignment)
    pages = generate(cohort, assignment, args.quiet)
    print(f"Feedback for {len(pages)} learners in {cohort.path('feedback')}/<learner>/{assignment}/")
    print("Checked: no page shows a hidden test or a model solution the learner did not write.")
    if args.zip:
        folder = zip_feedback(cohort, assignment, pages, args.quiet)
        print(f"One zip per learner in {folder}")
    print(f"Next: citylab cohort peer assign {args.cohort} {assignment} --reviewers 3")
    return 0


def graded_learners(cohort: Cohort, assignment: str) -> list[str]:
    """Learners with an autograded submission of the assignment."""
    graded = sorted(p.parent.name for p in cohort.path("autograded").glob(f"*/{assignment}") if p.is_dir())
    if not graded:
        raise CohortError(f"no graded submissions of {assignment}: "
                          f"run 'citylab cohort grade {cohort.root} {assignment}' first")
    return graded


def generate(cohort: Cohort, assignment: str, quiet: bool = False) -> dict[str, list[Path]]:
    """Run nbgrader's generate_feedback, then check every page; return each learner's pages."""
    learners = graded_learners(cohort, assignment)
    started = time.time()
    bar = progress(None, "feedback", quiet, total=len(learners), unit="learner")
    with ThreadPoolExecutor(1) as pool, bar:
        job = pool.submit(cohort.nbgrader, "generate_feedback", assignment, "--force")
        while not job.done():
            bar.update(len(_written_since(cohort, assignment, started)) - bar.n)
            time.sleep(0.2)
        job.result()
        bar.update(len(learners) - bar.n)
    pages = {learner: sorted(cohort.path("feedback", learner, assignment).glob("*.html")) for learner in learners}
    check(cohort, assignment)
    return pages


def _written_since(cohort: Cohort, assignment: str, started: float) -> set[str]:
    """Learners whose feedback page nbgrader has written since the run started (for the progress bar)."""
    pages = cohort.path("feedback").glob(f"*/{assignment}/*.html")
    return {p.parent.parent.name for p in pages if p.stat().st_mtime >= started}


def check(cohort: Cohort, assignment: str) -> None:
    """Withhold every feedback page of the assignment that reveals a secret line; fail if any did."""
    secrets = all_secret_lines(cohort.source / assignment)
    withheld = []
    for page in sorted(cohort.path("feedback").glob(f"*/{assignment}/*.html")):
        learner = page.parent.parent.name
        own = "\n".join(cell_text(nb) for nb in cohort.path("submitted", learner, assignment).glob("*.ipynb"))
        lines = revealed(secrets, html_text(page), own)
        if lines:
            target = cohort.path(WITHHELD, learner, assignment, page.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(page, target)
            withheld.append(target)
            print(f"{target}: shows {len(lines)} hidden-test or solution line(s), e.g. {lines[0]!r}", file=sys.stderr)
    if withheld:
        more = f" and {len(withheld) - 1} more page(s), listed above," if len(withheld) > 1 else ""
        raise CohortError(
            f"{withheld[0]}{more} would reveal hidden tests or solutions: held back and nothing zipped; "
            "look at the learner's autograded notebook before sending anything"
        )


def zip_feedback(cohort: Cohort, assignment: str, pages: dict[str, list[Path]], quiet: bool = False) -> Path:
    """exports/feedback/<assignment>/<learner>.zip holding that learner's pages."""
    folder = cohort.path("exports", "feedback", assignment)
    folder.mkdir(parents=True, exist_ok=True)
    for learner, files in progress(sorted(pages.items()), "zips", quiet, unit="learner"):
        with zipfile.ZipFile(folder / f"{learner}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for page in files:
                archive.write(page, f"{assignment}-{page.name}")
    return folder
