"""``citylab cohort grade COHORT ASSIGNMENT``: autograde every submission, in parallel, sandboxed.

nbgrader stays in charge of everything that touches the gradebook; only the
execution of learner code moves into the sandbox (:mod:`citylab.cohort.sandbox`).
A run has four parts:

1. **Prepare** (trusted, this process): each submitted notebook goes through
   nbgrader's own sanitizing preprocessors (``ClearOutput``, ``DeduplicateIds``,
   ``OverwriteKernelspec``, ``OverwriteCells`` that restores the instructor's
   cells and hidden tests from the gradebook), preceded by :class:`RebuildFromRelease`: the notebook that is graded is the released
   notebook with the learner's answers put in it, and the learner's own extra
   cells where they were. Deleted, duplicated, re-ordered or re-labelled
   instructor cells, raised points and changed metadata are thereby undone,
   and a broken submission cannot crash nbgrader.
2. **Calibrate**: the instructor's own solution is prepared and run the same
   way. A test cell whose check gives full marks both in the kernel and in the
   clean checker is *verified*: from now on its score comes from the checker,
   and its hidden tests never enter a learner's sandbox. Any other test cell
   (say one that calls a helper function) is scored in the learner's kernel,
   as plain nbgrader does, and the status log says so.
3. **Execute** (parallel, one jail per notebook): the kernel runs the notebook;
   before each verified test cell it saves the values that test reads; a second
   jail runs the full test on those values.
4. **Record** (trusted, one learner at a time, as runs finish): nbgrader's own
   ``Autograde`` converter, with its ``Execute`` step replaced by
   :class:`ReplaySandboxRun`, writes ``autograded/`` and saves the grades
   (``SaveAutoGrades``, late penalties…), so formgrader, ``nbgrader export``
   and ``generate_feedback`` work as usual. A submission that cannot be graded
   (no notebook, not a notebook, unsafe files) gets 0 for every cell, as
   nbgrader does for a missing notebook.

Every run writes one line per learner to ``grading/<assignment>.csv`` in the
cohort (status, scores, time, what happened); a regrade of some learners
updates their lines only. Submitted files are only ever read.
"""

from __future__ import annotations

import argparse
import ast
import base64
import contextlib
import copy
import csv
import glob
import hashlib
import io
import json
import logging
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Any as AnyTrait
from traitlets import Unicode

from citylab.cohort import sandbox
from citylab.cohort.course import Cohort, CohortError, progress

STEP = 50
#: Largest notebook file that is read at all.
MAX_NOTEBOOK = 50 * 2**20
#: Largest total size of the other files of a submission copied into its sandbox.
MAX_FILES = 20 * 2**20
#: One line per learner: what happened to their submission in the last run that graded it.
STATUS_COLUMNS = ("learner", "status", "auto_score", "auto_max", "score", "max_score",
                  "checked", "seconds", "graded_at", "detail")
#: What the status column means (also in the trainer guide).
STATUSES = {
    "graded": "ran to the end; scores saved",
    "timeout": "stopped at the time limit; cells not reached score 0",
    "memory": "stopped at the memory limit; cells not reached score 0",
    "processes": "stopped for starting too many processes (a fork bomb); cells not reached score 0",
    "output-limit": "stopped for printing too much; cells not reached score 0",
    "crashed": "the notebook's Python stopped (e.g. os._exit, a crash); cells not reached score 0",
    "invalid": "not a readable notebook; 0 points",
    "missing": "the expected notebook is not in the submission (e.g. renamed); 0 points",
    "rejected": "the submission holds links or special files; nothing run; 0 points",
    "unknown-learner": "the folder's name is not a learner in the gradebook; not graded",
    "error": "the grader itself failed on this submission (see detail); nothing saved",
}
#: Statuses worse than "graded", in order: the worst of a learner's notebooks is their status.
SEVERITY = ["graded", "output-limit", "timeout", "memory", "processes", "crashed", "missing", "invalid", "rejected",
            "error"]
LOG = logging.getLogger("citylab.cohort.grade")


def register(steps: argparse._SubParsersAction) -> None:
    p = steps.add_parser(
        "grade",
        help="autograde all submissions of an assignment, in parallel and in a sandbox",
        description="Autograde every submission of ASSIGNMENT in COHORT/submitted/, several at a time. "
        "Each notebook runs in a sandbox: no network, no access to the solutions, the gradebook or "
        "other learners' work, and limits on time, memory, processes and output. Scores go into the "
        "gradebook (formgrader and nbgrader see them). What happened to each learner is written to "
        "COHORT/grading/ASSIGNMENT.csv. Needs root (sudo) and the bubblewrap package.",
    )
    p.add_argument("cohort", help="the cohort folder")
    p.add_argument("assignment", help="the assignment to grade, e.g. 01-people-centred")
    p.add_argument("--workers", type=_positive_int, default=len(os.sched_getaffinity(0)), metavar="N",
                   help="how many notebooks run at the same time (default: the number of processor cores)")
    p.add_argument("--timeout", type=_positive_float, default=120.0, metavar="SECONDS",
                   help="time limit for one notebook (default: 120)")
    p.add_argument("--memory", type=_positive_int, default=1024, metavar="MB",
                   help="memory limit for one notebook, in MB (default: 1024)")
    p.add_argument("--learner", action="extend", nargs="+", metavar="ID",
                   help="grade (or regrade) only these learners")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    cohort = Cohort.open(args.cohort)
    limits = sandbox.Limits(timeout=args.timeout, memory_mb=args.memory)
    started = time.monotonic()
    rows = grade(cohort, args.assignment, learners=args.learner, workers=args.workers, limits=limits,
                 quiet=args.quiet)
    print(summary(rows, args.assignment, time.monotonic() - started, args.workers))
    print(f"Status of every learner: {status_file(cohort, args.assignment)}")
    print(f"Next: citylab cohort feedback {args.cohort} {args.assignment}")
    return 1 if any(row["status"] == "error" for row in rows) else 0


def summary(rows: list[dict], assignment: str, seconds: float, workers: int) -> str:
    """What the trainer reads after a run: counts per status and who needs a look."""
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row["status"]] += 1
    lines = [(f"Graded {len(rows)} submission(s) of {assignment} in {seconds:.0f} s "
              f"({workers} at a time, each in a sandbox).")]
    for status in [*SEVERITY, "unknown-learner"]:
        if counts[status]:
            lines.append(f"  {status:<16}{counts[status]:>4}  {STATUSES[status]}")
    for row in rows:
        if row["status"] != "graded" or row["detail"]:
            lines.append(f"  {row['learner']}: {row['status']}: {row['detail']}")
    partly = sorted({row["checked"] for row in rows if row.get("checked") and not _all_checked(row["checked"])})
    if partly:
        lines.append(f"Note: some checks were scored in the learner's own Python only, as plain nbgrader does "
                     f"({', '.join(partly)}): see the trainer guide, 'How scores are decided'.")
    return "\n".join(lines)


def _all_checked(checked: str) -> bool:
    verified, total = checked.split()[0].split("/")
    return verified == total


def status_file(cohort: Cohort, assignment: str) -> Path:
    return cohort.path("grading", f"{assignment}.csv")


# ====================================================================== the run


def grade(cohort: Cohort, assignment: str, learners: list[str] | None = None, workers: int | None = None,
          limits: sandbox.Limits | None = None, quiet: bool = True) -> list[dict]:
    """Grade the assignment's submissions (or those of ``learners``); return one status row per learner."""
    cohort.require_assignment(assignment)
    problem = sandbox.check_available()
    if problem:
        raise CohortError(problem)
    pipeline = Pipeline(cohort, assignment)
    submissions = find_submissions(cohort, assignment, learners, pipeline.students())
    with sandbox.Slots(workers or len(os.sched_getaffinity(0))) as slots:
        if not slots.free:
            raise CohortError("no free sandbox user ids: is another grading run stuck? (see sandbox.Slots)")
        pool = ThreadPoolExecutor(max_workers=len(slots.free))
        try:
            rows = _run_batch(pipeline, submissions, pool, slots, limits or sandbox.Limits(), quiet)
        except BaseException:  # Ctrl+C: queued notebooks never start, running ones are killed
            pool.shutdown(wait=False, cancel_futures=True)
            sandbox.stop_all()
            raise
        pool.shutdown()
    pipeline.add_scores(rows)
    rows.sort(key=lambda row: row["learner"])
    write_status(cohort, assignment, rows)
    hand_back(cohort)
    return rows


def hand_back(cohort: Cohort) -> None:
    """Give what grading wrote to whoever owns the cohort folder.

    Grading runs as root (sudo); the trainer then opens formgrader and makes
    feedback as themselves, and must be able to write the gradebook.
    """
    owner = cohort.root.stat()
    if os.geteuid() != 0 or owner.st_uid == 0:
        return
    written = [cohort.path("gradebook.db"), *(p for folder in ("autograded", "grading")
                                              for p in [cohort.path(folder), *cohort.path(folder).rglob("*")])]
    for path in written:
        if path.exists() and not path.is_symlink():
            os.chown(path, owner.st_uid, owner.st_gid)


def _run_batch(pipeline: Pipeline, submissions: list[Submission], pool: ThreadPoolExecutor,
               slots: sandbox.Slots, limits: sandbox.Limits, quiet: bool) -> list[dict]:
    """Calibrate, run every notebook in the pool, and record each learner as soon as all theirs are done.

    Learners' notebooks start while the instructor's runs, on the usual outcome
    of calibration (every check verified); the few whose guess turns out wrong
    run again.
    """
    solutions = {nb: pipeline.prepare_solution(nb) for nb in pipeline.notebooks}
    calibration = {nb: pool.submit(execute, pipeline.job(run, calibrating=True), slots, limits)
                   for nb, run in solutions.items()}
    prepared = {s.learner: {nb: pipeline.prepare(s, nb) for nb in pipeline.notebooks}
                for s in submissions if s.problem is None}
    pending: dict[Future, NotebookRun] = {
        pool.submit(execute, pipeline.job(run), slots, limits): run
        for runs in prepared.values() for run in runs.values() if run.status is None
    }
    waiting = {learner: {run.notebook for run in pending.values() if run.learner == learner} for learner in prepared}
    rows = [_record(pipeline, s, prepared.get(s.learner, {}))
            for s in submissions if s.problem is not None or not waiting[s.learner]]
    pipeline.calibrate({nb: (solutions[nb], _result(future)) for nb, future in calibration.items()})
    by_learner = {s.learner: s for s in submissions}
    bar = progress([], f"Grading {pipeline.assignment}", quiet=quiet, total=len(pending))
    while pending:
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            run = pending.pop(future)
            if run.checked_ids != pipeline.verified[run.notebook]:  # the guess was wrong: run it again
                pending[pool.submit(execute, pipeline.job(run), slots, limits)] = run
                continue
            pipeline.merge(run, _result(future))
            bar.update(1)
            waiting[run.learner].discard(run.notebook)
            if not waiting[run.learner]:
                rows.append(_record(pipeline, by_learner[run.learner], prepared[run.learner]))
    bar.close()
    return rows


def _record(pipeline: Pipeline, submission: Submission, runs: dict[str, NotebookRun]) -> dict:
    """Save one learner's grades; a failure becomes their "error" row, never the end of the batch."""
    try:
        return pipeline.record(submission, runs)
    except Exception as err:  # one submission must not stop the batch
        LOG.exception("recording %s failed", submission.learner)
        return {"learner": submission.learner, "status": "error", "detail": f"recording failed: {_one_line(err)}"}


def _result(future: Future) -> Execution:
    """A worker's result; a failure of the grader itself becomes an "error" status, never a stop."""
    try:
        return future.result()
    except Exception as err:  # one submission must not stop the batch
        LOG.exception("grading a notebook failed")
        return Execution("error", f"the grader failed: {_one_line(err)}", {}, {}, 0.0)


@dataclass
class Submission:
    """A learner's folder in submitted/: its notebooks, or why it cannot be graded."""

    learner: str
    folder: Path
    status: str | None = None  # set when the whole submission cannot be graded
    problem: str | None = None


def find_submissions(cohort: Cohort, assignment: str, learners: list[str] | None,
                     students: set[str]) -> list[Submission]:
    """Every submitted/<learner>/<assignment>/ folder (or the named learners'), checked for unsafe files."""
    base = cohort.path("submitted")
    if learners:
        missing = [who for who in learners if not (base / who / assignment).is_dir()]
        if missing:
            raise CohortError(f"no submission of {assignment} from {', '.join(missing)} "
                              f"(no folder {base / missing[0] / assignment}): collect it first")
        names = sorted(set(learners))
    else:
        names = sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) if base.is_dir() else []
    if not names:
        raise CohortError(f"no submissions of {assignment} in {base}: run 'citylab cohort collect' first")
    found = []
    for learner in names:
        submission = Submission(learner, base / learner / assignment)
        if learner not in students:
            submission.status = "unknown-learner"
            submission.problem = "not a learner in the gradebook: import the roster, then grade again"
        elif glob.has_magic(learner):
            submission.status, submission.problem = "error", "learner ids with * ? or [ cannot be graded by nbgrader"
        else:
            unsafe = _unsafe_entry(submission.folder, base)
            if unsafe:
                submission.status, submission.problem = "rejected", unsafe
        found.append(submission)
    return found


def _unsafe_entry(folder: Path, base: Path) -> str | None:
    """A link or special file in the submission (or on the way to it), described; None if all are plain."""
    for path in (folder.parent, folder):
        if path.is_symlink():
            return f"{path.relative_to(base)} is a link; links are never graded (one could point at the solutions)"
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            if path.is_symlink():
                return f"{path.relative_to(base)} is a link; links are never graded (one could point at the solutions)"
            if name in files and not path.is_file():
                return f"{path.relative_to(base)} is not a regular file"
    return None


# ====================================================================== one notebook


@dataclass
class NotebookRun:
    """One learner notebook on its way through the pipeline."""

    learner: str
    notebook: str
    path: Path
    status: str | None = None  # None while it can still be run
    detail: str = ""
    prepared: NotebookNode | None = None
    fingerprint: str = ""
    outputs: dict[int, list] = field(default_factory=dict)
    counts: dict[int, int | None] = field(default_factory=dict)
    checked: tuple[int, int] = (0, 0)  # verified test cells scored by the checker, of all test cells
    checked_ids: set[str] = field(default_factory=set)  # the test cells its sandbox run treated as verified
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class Execution:
    """What came back from the two jails of one notebook (untrusted data, already parsed)."""

    status: str  # a status of STATUSES
    detail: str
    cells: dict[int, dict]
    verdicts: dict[int, dict]
    seconds: float


def execute(job: dict, slots: sandbox.Slots, limits: sandbox.Limits) -> Execution:
    """Run a prepared notebook in a jail, then its verified tests in a second one (worker thread)."""
    with slots.slot() as slot:
        ran = sandbox.run("execute", job, slot.runner_uid, limits)
        cells, stop, done = _read_cells(ran.output)
        status, detail = _execution_status(ran, stop, done, cells, job)
        checks = [{"index": index, "source": job["tests"][str(index)], "values": cells[index]["snapshot"]}
                  for index in map(int, job["tests"]) if isinstance(cells.get(index, {}).get("snapshot"), dict)]
        verdicts: dict[int, dict] = {}
        seconds = ran.seconds
        if checks:
            checked = sandbox.run("check", {"cells": checks}, slot.checker_uid, limits)
            verdicts = _read_verdicts(checked.output)
            seconds += checked.seconds
            if checked.status != "finished":
                detail = f"{detail}; the checker stopped ({checked.status})".lstrip("; ")
    return Execution(status, detail, cells, verdicts, seconds)


def _read_cells(raw: bytes) -> tuple[dict[int, dict], dict | None, bool]:
    cells: dict[int, dict] = {}
    stop, done = None, False
    for message in _json_lines(raw):
        if isinstance(message.get("cell"), int) and isinstance(message.get("outputs"), list):
            cells[message["cell"]] = message
        elif isinstance(message.get("stopped"), int):
            stop = message
        elif message.get("done") is True:
            done = True
    return cells, stop, done


def _read_verdicts(raw: bytes) -> dict[int, dict]:
    for message in _json_lines(raw):
        if isinstance(message.get("verdicts"), dict):
            return {int(k): v for k, v in message["verdicts"].items() if k.isdigit() and isinstance(v, dict)}
    return {}


def _json_lines(raw: bytes) -> list[dict]:
    messages = []
    for line in raw.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def _execution_status(ran: sandbox.Outcome, stop: dict | None, done: bool, cells: dict, job: dict) -> tuple[str, str]:
    code = [i for i, cell in enumerate(job["notebook"]["cells"]) if cell["cell_type"] == "code"]
    stopped_in = next((i for i in code if i not in cells), None)
    where = f"in cell {stopped_in + 1} of {len(job['notebook']['cells'])}" if stopped_in is not None else "at the end"
    if ran.status == "timeout":
        return "timeout", f"stopped at the time limit ({ran.seconds:.0f} s), {where}"
    if ran.status == "memory":
        return "memory", f"stopped at the memory limit, {where}"
    if ran.status == "processes":
        return "processes", f"stopped for starting too many processes, {where}"
    if ran.status == "output-limit":
        return "output-limit", f"stopped for printing too much, {where}"
    if stop is not None:
        exit_code = stop.get("exitcode")
        how = (f" (killed by signal {-exit_code})" if isinstance(exit_code, int) and exit_code < 0
               else f" (exit code {exit_code})" if isinstance(exit_code, int) else "")
        return "crashed", f"the notebook's Python stopped in cell {stop['stopped'] + 1}{how}"
    if not done:
        last = (ran.errors.strip().splitlines() or ["no message"])[-1][:200]
        return "crashed", f"the notebook runner stopped {where}: {last}"
    return "graded", ""


# ====================================================================== nbgrader around the sandbox


class Pipeline:
    """nbgrader's configuration, preprocessors and gradebook for one assignment of a cohort."""

    def __init__(self, cohort: Cohort, assignment: str) -> None:
        from nbgrader.converters import Autograde
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        self.cohort, self.assignment = cohort, assignment
        self.config = PyFileConfigLoader("nbgrader_config.py", path=str(cohort.root)).load_config()
        self.config.RebuildFromRelease.release_directory = str(cohort.path("release"))
        self.config.Exporter.default_preprocessors = []  # as nbgrader's converters: only the steps named
        self.coursedir = CourseDirectory(config=self.config)
        self.log = _quiet_logger()
        defaults = Autograde(coursedir=self.coursedir, config=self.config, log=self.log)
        self.sanitizers = [RebuildFromRelease, *defaults.sanitize_preprocessors]
        self.autograders = list(defaults.autograde_preprocessors)
        self.notebooks = self._released_notebooks()
        self.verified: dict[str, set[str]] = {}  # notebook -> grade_ids of the test cells the checker scores

    def _released_notebooks(self) -> list[str]:
        from nbgrader.api import MissingEntry

        with self.cohort.gradebook() as gradebook:
            try:
                names = sorted(nb.name for nb in gradebook.find_assignment(self.assignment).notebooks)
            except MissingEntry:
                names = []
        release = self.cohort.path("release", self.assignment)
        if not names or not all((release / f"{name}.ipynb").is_file() for name in names):
            raise CohortError(f"{self.assignment} is not released in this cohort (no {release}): "
                              f"run 'citylab cohort release {self.cohort.root} {self.assignment}' first")
        return names

    def students(self) -> set[str]:
        with self.cohort.gradebook() as gradebook:
            return {student.id for student in gradebook.students}

    # ------------------------------------------------------------------ prepare

    def prepare(self, submission: Submission, notebook: str) -> NotebookRun:
        """The notebook as nbgrader will grade it (sanitized), or why it cannot be graded."""
        path = submission.folder / f"{notebook}.ipynb"
        run = NotebookRun(submission.learner, notebook, path)
        if not path.is_file():
            others = sorted(p.name for p in submission.folder.glob("*.ipynb"))
            run.status = "missing"
            run.detail = f"no {notebook}.ipynb" + (f" (found: {', '.join(others)})" if others else "")
        elif path.stat().st_size > MAX_NOTEBOOK:
            run.status, run.detail = "invalid", f"{path.name} is larger than {MAX_NOTEBOOK // 2**20} MB"
        else:
            self._sanitize(run, submission.learner)
        return run

    def prepare_solution(self, notebook: str) -> NotebookRun:
        """The instructor's notebook, prepared like a submission, for the calibration run.

        Until calibration says otherwise, every test cell counts as verified.
        """
        run = NotebookRun("(instructor)", notebook, self.cohort.source / self.assignment / f"{notebook}.ipynb")
        self._sanitize(run, "(instructor)")
        if run.status is not None:
            raise CohortError(f"{run.path}: the instructor notebook cannot be prepared ({run.detail})")
        self.verified[notebook] = {_grade_id(cell) for cell in self._test_cells(run.prepared).values()}
        return run

    def _sanitize(self, run: NotebookRun, student: str) -> None:
        """nbgrader's sanitizing steps, as its autograde runs them; only CheckCellMetadata is left out.

        That step only validates (slowly: jsonschema, per cell); nbgrader runs it on
        the same notebook when the grades are recorded.
        """
        from nbconvert.exporters import NotebookExporter
        from nbgrader.preprocessors import CheckCellMetadata

        exporter = NotebookExporter(config=self.config, log=self.log)
        for preprocessor in self.sanitizers:
            if not _is(preprocessor, CheckCellMetadata):
                exporter.register_preprocessor(preprocessor, enabled=True)
        resources = self._resources(student, run.notebook)
        try:
            output, resources = exporter.from_filename(str(run.path), resources=resources)
            run.prepared = nbformat.reads(output, as_version=4)
        except nbformat.reader.NotJSONError:
            run.status, run.detail = "invalid", f"{run.path.name} is not a notebook (not valid JSON)"
            return
        except Exception as err:  # noqa: BLE001 (any broken notebook is a status, never a crash)
            run.status = "invalid"
            run.detail = f"{run.path.name} is not a notebook nbgrader can read ({_one_line(err)})"
            return
        run.fingerprint = fingerprint(run.prepared)
        run.notes.extend(resources.get("citylab_notes", []))

    def _resources(self, student: str, notebook: str) -> dict:
        """What nbgrader's converters pass to their preprocessors (BaseConverter.init_single_notebook_resources)."""
        return {
            "unique_key": notebook, "output_files_dir": f"{notebook}_files",
            "nbgrader": {"student": student, "assignment": self.assignment, "notebook": notebook,
                         "db_url": self.coursedir.db_url},
        }

    # ------------------------------------------------------------------ calibrate

    def calibrate(self, solutions: dict[str, tuple[NotebookRun, Execution]]) -> None:
        """Decide which test cells the checker scores: those where the instructor's solution passes both ways."""
        for notebook, (run, execution) in solutions.items():
            self.verified[notebook] = {
                _grade_id(cell) for index, cell in self._test_cells(run.prepared).items()
                if index in execution.cells and index in execution.verdicts
                and _passes(cell, _clean_outputs(execution.cells[index]["outputs"]))
                and _passes(cell, _verdict_outputs(execution.verdicts[index], None))
            }
            if execution.status != "graded":
                LOG.warning("the instructor's notebook %s did not run to the end: %s", notebook, execution.detail)

    @staticmethod
    def _test_cells(notebook: NotebookNode) -> dict[int, NotebookNode]:
        """Every autograder test cell (a graded code cell that is not an answer), by its index."""
        from nbgrader import utils

        return {i: cell for i, cell in enumerate(notebook.cells)
                if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)}

    def _checked_cells(self, run: NotebookRun) -> dict[int, NotebookNode]:
        """The test cells of a learner's notebook that the checker scores."""
        verified = self.verified.get(run.notebook, set())
        return {i: cell for i, cell in self._test_cells(run.prepared).items() if _grade_id(cell) in verified}

    # ------------------------------------------------------------------ execute

    def job(self, run: NotebookRun, calibrating: bool = False) -> dict:
        """What the sandbox gets: the notebook, which test cells the checker runs, and the other files.

        Verified test cells go into the learner's sandbox without their hidden
        tests: the checker runs those, so learner code never sees them. For the
        calibration run every test cell is checked, and run in full.
        """
        from nbgrader.preprocessors import ClearHiddenTests, Execute

        checked = self._test_cells(run.prepared) if calibrating else self._checked_cells(run)
        run.checked_ids = {_grade_id(cell) for cell in checked.values()}
        notebook = copy.deepcopy(run.prepared)
        if not calibrating:
            hide = ClearHiddenTests(config=self.config)
            for index in checked:
                hide.preprocess_cell(notebook.cells[index], {}, index)
        return {
            "notebook": notebook,
            "tests": {str(i): cell.source for i, cell in checked.items()},
            "snapshots": {str(i): names_read(cell.source) for i, cell in checked.items()},
            "cell_timeout": Execute(config=self.config).timeout,
            "files": {} if calibrating else self._files(run.path.parent),
        }

    def _files(self, folder: Path) -> dict[str, str]:
        """The submission's other files, then the assignment's own files over them, as nbgrader copies them."""
        from nbgrader.utils import find_all_files

        ignore = [*self.coursedir.ignore, "*.ipynb", "timestamp.txt"]
        files: dict[str, str] = {}
        total = 0
        for base in (folder, self.cohort.source / self.assignment):
            for name in find_all_files(str(base), ignore):
                path = Path(name)
                total += path.stat().st_size
                if total > MAX_FILES or path.is_symlink():
                    continue
                files[str(path.relative_to(base))] = base64.b64encode(path.read_bytes()).decode()
        return files

    def merge(self, run: NotebookRun, execution: Execution) -> None:
        """The outputs nbgrader will grade: the kernel's, with verified test cells' from the checker."""
        verified = self._checked_cells(run)
        tests = self._test_cells(run.prepared)
        run.status, run.detail, run.seconds = execution.status, execution.detail, execution.seconds
        for index, cell in enumerate(run.prepared.cells):
            if cell.cell_type != "code":
                continue
            reached = execution.cells.get(index)
            count = reached.get("execution_count") if reached else None
            run.counts[index] = count if isinstance(count, int) else None
            if reached is None:
                run.outputs[index] = [_not_run(run.status)] if index in tests else []
            elif index in verified:
                verdict = execution.verdicts.get(index)
                run.outputs[index] = _verdict_outputs(verdict, run.counts[index])
            else:
                run.outputs[index] = _clean_outputs(reached["outputs"])
        run.checked = (len(verified), len(tests))

    # ------------------------------------------------------------------ record

    def record(self, submission: Submission, runs: dict[str, NotebookRun]) -> dict:
        """Save one learner's grades with nbgrader's Autograde; return their status row."""
        started = time.monotonic()
        if submission.status is not None:
            if submission.status == "rejected":
                for notebook in self.notebooks:
                    self._save_zero(submission, notebook)
            return self._row(submission, submission.status, submission.problem or "", [], started)
        for notebook, run in runs.items():
            if run.status in ("missing", "invalid"):
                self._save_zero(submission, notebook)
            elif run.status != "error":
                self._save(submission, run)
        status = max((run.status or "error" for run in runs.values()), key=SEVERITY.index)
        details = [f"{run.notebook}: {run.detail}" if len(runs) > 1 else run.detail
                   for run in runs.values() if run.detail]
        details += sorted({note for run in runs.values() for note in run.notes})
        return self._row(submission, status, "; ".join(details), list(runs.values()), started)

    def _save(self, submission: Submission, run: NotebookRun) -> None:
        from nbgrader.converters import Autograde
        from nbgrader.preprocessors import Execute
        from nbgrader.utils import capture_log, temp_attrs

        app = Autograde(coursedir=self.coursedir, config=self.config, log=self.log)
        app.force, app.create_student = True, False
        app.sanitize_preprocessors = self.sanitizers
        replay = ReplaySandboxRun(config=self.config, log=self.log, run=run)
        app.autograde_preprocessors = [replay if _is(p, Execute) else p for p in self.autograders]
        with temp_attrs(self.coursedir, assignment_id=self.assignment, student_id=submission.learner,
                        notebook_id=run.notebook), _nbgrader_warnings_hidden():
            result = capture_log(app)
        if not result["success"]:
            errors = [line for line in result.get("log", "").splitlines() if "ERROR" in line]
            last = (result.get("error") or "").strip().splitlines()[-1:] or errors[-1:] or ["unknown error"]
            run.status, run.detail = "error", f"nbgrader autograde failed: {last[0][:300]}"

    def _save_zero(self, submission: Submission, notebook: str) -> None:
        """Give every cell of an ungradable notebook 0, as nbgrader does for a missing one."""
        trusted = submission.status != "rejected"  # a rejected folder's timestamp.txt may be a link
        timestamp = self.coursedir.get_existing_timestamp(str(submission.folder)) if trusted else None
        with self.cohort.gradebook() as gradebook, _nbgrader_warnings_hidden():
            gradebook.update_or_create_submission(self.assignment, submission.learner, timestamp=timestamp)
            for grade in gradebook.find_submission_notebook(notebook, self.assignment, submission.learner).grades:
                grade.auto_score = 0
                grade.needs_manual_grade = False
            gradebook.db.commit()
        stale = self.cohort.path("autograded", submission.learner, self.assignment, f"{notebook}.ipynb")
        if stale.is_file():
            stale.unlink()  # an older graded version would otherwise get feedback

    def _row(self, submission: Submission, status: str, detail: str, runs: list[NotebookRun],
             started: float) -> dict:
        row = {"learner": submission.learner, "status": status, "detail": detail,
               "graded_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
               "seconds": f"{sum(r.seconds for r in runs) + time.monotonic() - started:.1f}",
               "checked": _checked(runs)}
        return row

    def add_scores(self, rows: list[dict]) -> None:
        """Each graded learner's scores as the gradebook has them, once none exceeds its cell's maximum."""
        from nbgrader.api import MissingEntry

        with self.cohort.gradebook() as gradebook:
            for row in rows:
                if row["status"] in ("unknown-learner", "error"):
                    continue
                try:
                    submission = gradebook.find_submission(self.assignment, row["learner"])
                except MissingEntry:
                    continue
                over = [grade for notebook in submission.notebooks for grade in notebook.grades
                        if grade.auto_score is not None and grade.auto_score > grade.max_score]
                for grade in over:
                    grade.auto_score = grade.max_score
                gradebook.db.commit()
                if over:
                    row["detail"] = "; ".join(filter(None, [row["detail"], "a score above its cell's maximum was capped"]))
                row.update(auto_score=_number(submission.code_score), auto_max=_number(submission.max_code_score),
                           score=_number(submission.score), max_score=_number(submission.max_score))


@contextlib.contextmanager
def _nbgrader_warnings_hidden() -> Iterator[None]:
    """nbgrader 0.9's gradebook warns about its own SQLAlchemy session use; a trainer can do nothing about it."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


def _is(preprocessor: Any, cls: type) -> bool:
    return isinstance(preprocessor, type) and issubclass(preprocessor, cls)


def _checked(runs: list[NotebookRun]) -> str:
    verified = sum(r.checked[0] for r in runs)
    total = sum(r.checked[1] for r in runs)
    return f"{verified}/{total} in the clean checker" if total else ""


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


def _quiet_logger() -> logging.Logger:
    """nbgrader's messages go to the status log through capture_log, not to the trainer's terminal."""
    logger = logging.getLogger("citylab.cohort.grade.nbgrader")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.INFO)
    return logger


def fingerprint(notebook: NotebookNode) -> str:
    """Identifies a prepared notebook: the same cells, sources and nbgrader metadata give the same value."""
    cells = [[c.get("id"), c.cell_type, c.source, c.metadata.get("nbgrader")] for c in notebook.cells]
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def names_read(source: str) -> list[str]:
    """Names a test cell reads: the values the checker needs from the learner's kernel."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)})


# ====================================================================== outputs


def _passes(cell: NotebookNode, outputs: list) -> bool:
    from nbgrader import utils

    graded = copy.deepcopy(cell)
    graded.outputs = outputs
    score, maximum = utils.determine_grade(graded)
    return score == maximum


def _not_run(status: str | None) -> NotebookNode:
    reason = STATUSES.get(status or "", "the notebook stopped before this cell")
    return _error("NotRun", f"this check did not run: {reason}")


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _verdict_outputs(verdict: dict | None, count: int | None) -> list:
    """The outputs of a test cell as the checker ran it (it never ran learner code)."""
    if verdict is None:
        return [_error("NotChecked", "the grader could not get the values this check needs from your notebook")]
    outputs = []
    for name in ("stdout", "stderr"):
        text = verdict.get(name)
        if isinstance(text, str) and text:
            outputs.append(NotebookNode(output_type="stream", name=name, text=text))
    if isinstance(verdict.get("result"), str):
        outputs.append(NotebookNode(output_type="execute_result", execution_count=count,
                                    data={"text/plain": verdict["result"]}, metadata={}))
    error = verdict.get("error")
    if isinstance(error, dict):
        outputs.append(_error(str(error.get("ename", "Error")), str(error.get("evalue", ""))))
    return outputs


def _clean_outputs(outputs: Any) -> list:
    """A learner kernel's outputs, rebuilt from known fields only; nothing that can run in a browser."""
    cleaned = []
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") in ("stdout", "stderr"):
            cleaned.append(NotebookNode(output_type="stream", name=output["name"], text=_text(output.get("text"))))
        elif kind == "error":
            traceback = output.get("traceback")
            cleaned.append(NotebookNode(
                output_type="error", ename=_text(output.get("ename")), evalue=_text(output.get("evalue")),
                traceback=[_text(line) for line in traceback] if isinstance(traceback, list) else []))
        elif kind in ("display_data", "execute_result"):
            cleaned.append(_clean_display(output, kind))
    return cleaned


def _clean_display(output: dict, kind: str) -> NotebookNode:
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    kept = {mime: _text(value) for mime, value in data.items() if mime in sandbox.SAFE_MIME}
    dropped = sorted(set(data) - set(kept))
    if "text/plain" not in kept:
        kept["text/plain"] = f"[{', '.join(dropped) or 'empty'} output not kept by the grader]"
    node = NotebookNode(output_type=kind, data=kept, metadata={})
    if kind == "execute_result":
        count = output.get("execution_count")
        node.execution_count = count if isinstance(count, int) else None
    return node


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value or "")


# ====================================================================== nbgrader preprocessors


class RebuildFromRelease(NbGraderPreprocessor):
    """Grade the released notebook with the learner's answers in it, plus the learner's own cells.

    Every instructor cell (one with an nbgrader ``grade_id`` in the release)
    comes from the release, in the release's order, with the release's
    metadata; for answer cells, the learner's text is put in. The learner's
    other cells are kept where they were (after the instructor cell they
    followed), as plain cells without metadata. So deleting, duplicating,
    moving or re-labelling instructor cells, raising points or turning a test
    into an answer changes nothing, and notebook metadata (kernel, paths) is
    the release's. nbgrader's OverwriteCells then restores the gradebook's
    version of locked cells, with their hidden tests, as usual.
    """

    release_directory = Unicode("", help="the cohort's release folder").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        release = nbformat.read(Path(self.release_directory, info["assignment"], f"{info['notebook']}.ipynb"),
                                as_version=4)
        instructor = [cell for cell in release.cells if _grade_id(cell)]
        answer_ids = {_grade_id(c) for c in instructor if c.metadata["nbgrader"].get("solution")}
        known = {_grade_id(c): c for c in instructor}
        answers, extras, notes = self._split(nb, known, answer_ids)
        cells = list(extras.pop(None, []))
        for cell in instructor:
            grade_id = _grade_id(cell)
            rebuilt = copy.deepcopy(cell)
            if grade_id in answers:
                rebuilt.source = _text(answers[grade_id].get("source"))
            elif grade_id in answer_ids:
                notes.append(f"answer cell {grade_id} missing: graded as blank")
            cells.append(rebuilt)
            cells.extend(extras.pop(grade_id, []))
        for index, cell in enumerate(cells):
            if not _grade_id(cell):
                cell.pop("id", None)
                if release.nbformat_minor >= 5:  # cell ids exist from nbformat 4.5 on
                    cell.id = f"learner-{index}"
        nb.cells = cells
        nb.metadata = copy.deepcopy(release.metadata)
        nb.nbformat, nb.nbformat_minor = release.nbformat, release.nbformat_minor
        resources["citylab_notes"] = notes
        return nb, resources

    @staticmethod
    def _split(nb: NotebookNode, known: dict, answer_ids: set) -> tuple[dict, dict, list[str]]:
        """The learner's answers by grade_id, their other cells by the instructor cell they follow, and notes."""
        answers: dict[str, Any] = {}
        extras: dict[str | None, list] = defaultdict(list)
        anchor: str | None = None
        seen: list[str] = []
        changed, duplicated, foreign = set(), set(), set()
        for cell in nb.get("cells", []):
            grade_id = _grade_id(cell)
            if grade_id not in known:
                if grade_id:
                    foreign.add(grade_id)
                extras[anchor].append(_plain_cell(cell))
                continue
            if grade_id in seen:
                duplicated.add(grade_id)
            else:
                seen.append(grade_id)
            if _differs(cell, known[grade_id]):
                changed.add(grade_id)
            if grade_id in answer_ids:
                if grade_id in answers:  # a duplicated answer: the last one counts, as in nbgrader
                    extras[anchor].append(_plain_cell(answers[grade_id]))
                answers[grade_id] = cell
            anchor = grade_id
        notes = [f"{what}: {', '.join(sorted(ids))}" for what, ids in (
            ("instructor cells with changed type or nbgrader metadata, restored", changed),
            ("instructor cells duplicated, one kept", duplicated),
            ("instructor cells missing, put back", set(known) - set(seen) - answer_ids),
            ("cells labelled with ids that are not in the assignment, run as plain cells", foreign),
        ) if ids]
        if seen != [g for g in known if g in seen]:
            notes.append("instructor cells moved, put back in order")
        return answers, extras, notes


def _grade_id(cell: Any) -> str | None:
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return grade_id if isinstance(grade_id, str) and grade_id else None


def _differs(cell: Any, released: NotebookNode) -> bool:
    """Has the learner changed what kind of nbgrader cell this is (type, flags, points)?"""
    mine = cell["metadata"]["nbgrader"]
    theirs = released.metadata["nbgrader"]
    keys = ("grade", "solution", "locked", "points", "task")
    return cell.get("cell_type") != released.cell_type or any(mine.get(k) != theirs.get(k) for k in keys)


def _plain_cell(cell: Any) -> NotebookNode:
    """A learner's cell with its source only: no metadata, outputs or attachments."""
    source = _text(cell.get("source") if isinstance(cell, dict) else "")
    kind = cell.get("cell_type") if isinstance(cell, dict) else None
    if kind == "code":
        return nbformat.v4.new_code_cell(source)
    if kind == "markdown":
        return nbformat.v4.new_markdown_cell(source)
    return nbformat.v4.new_raw_cell(source)


class ReplaySandboxRun(NbGraderPreprocessor):
    """In nbgrader's autograde steps, in place of ``Execute``: the outputs of the sandboxed run.

    It checks that nbgrader prepared exactly the notebook that was run (same
    fingerprint), then puts in each code cell's outputs, so that nbgrader's
    own ``SaveAutoGrades`` scores them.
    """

    run = AnyTrait(None)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        run: NotebookRun = self.run
        if fingerprint(nb) != run.fingerprint:
            raise RuntimeError(f"{run.path} changed while it was being graded: grade it again")
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                cell.outputs = copy.deepcopy(run.outputs.get(index, []))
                cell.execution_count = run.counts.get(index)
        return nb, resources


# ====================================================================== the status log


def write_status(cohort: Cohort, assignment: str, rows: list[dict]) -> Path:
    """Merge this run's rows into grading/<assignment>.csv (one line per learner, newest wins)."""
    path = status_file(cohort, assignment)
    path.parent.mkdir(exist_ok=True)
    merged: dict[str, dict] = {}
    if path.is_file():
        with path.open(encoding="utf-8", newline="") as handle:
            merged = {row["learner"]: row for row in csv.DictReader(handle)}
    merged.update({row["learner"]: row for row in rows})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=STATUS_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for learner in sorted(merged):
        writer.writerow(merged[learner])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path
