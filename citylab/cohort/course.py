"""A cohort folder: where it keeps things, its settings, and running nbgrader in it.

A cohort lives outside the repository, in a folder the trainer names. Its
nbgrader configuration loads the course's own ``exercises/nbgrader_config.py``
(markers, feedback settings) and then points nbgrader at this folder for
everything generated, and at the repository's ``exercises/source`` for the
instructor notebooks, so solutions are never copied into the cohort.

Layout::

    cohort.json          settings: repository, gradebook URL, deadlines
    nbgrader_config.py   generated; loads exercises/nbgrader_config.py
    gradebook.db         SQLite gradebook (unless --db names PostgreSQL)
    roster.csv           the validated roster (id, name, email, group)
    release/ submitted/ autograded/ feedback/   nbgrader's own folders
    inbox/               every file ever collected, untouched (nothing is lost)
    exports/             zips for learners, feedback and reports
    peer/                peer-review assignments, forms and filled reviews
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
COURSE_ID = "smart-city-academy"
SETTINGS = "cohort.json"


class CohortError(Exception):
    """A problem the trainer can fix; the CLI prints it as one line."""


@dataclass(frozen=True)
class Cohort:
    """An existing cohort folder and its settings."""

    root: Path
    settings: dict[str, Any]

    @classmethod
    def open(cls, root: Path | str) -> Cohort:
        """Open a cohort made by ``citylab cohort create``; fail clearly otherwise."""
        folder = Path(root).expanduser().resolve()
        settings_file = folder / SETTINGS
        if not settings_file.is_file():
            raise CohortError(f"{folder} is not a cohort folder (no {SETTINGS}); run 'citylab cohort create {root}' first")
        try:
            settings = json.loads(settings_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise CohortError(f"{settings_file}: not valid JSON ({err.msg}, line {err.lineno})") from err
        return cls(folder, settings)

    @property
    def source(self) -> Path:
        """The instructor notebooks (in the repository, never copied here)."""
        return Path(self.settings["source"])

    @property
    def db_url(self) -> str:
        return self.settings["db_url"]

    @property
    def exchange(self) -> Path:
        """nbgrader's exchange folder (hub releases and submissions); by default inside the cohort."""
        return Path(self.settings.get("exchange") or self.path("exchange"))

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def deadline(self, assignment: str) -> datetime | None:
        """The assignment's deadline (timezone-aware), or None when the trainer set none."""
        text = self.settings.get("deadlines", {}).get(assignment)
        return datetime.fromisoformat(text) if text else None

    def set_deadline(self, assignment: str, when: datetime) -> None:
        """Keep a deadline in cohort.json and, in UTC, as nbgrader's due date in the gradebook.

        nbgrader stores due dates without a timezone and reads them as UTC; an
        assignment the gradebook does not know yet is added to it.
        """
        if when.tzinfo is None:
            raise ValueError("a deadline needs a timezone")
        self.settings.setdefault("deadlines", {})[assignment] = when.isoformat()
        self.save_settings()
        with self.gradebook() as gradebook:
            utc = when.astimezone(timezone.utc).replace(tzinfo=None)
            gradebook.update_or_create_assignment(assignment, duedate=utc)

    def assignments(self) -> list[str]:
        """Assignment names available in the course source, sorted."""
        return sorted(p.name for p in self.source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))

    def require_assignment(self, name: str) -> str:
        if name not in self.assignments():
            known = ", ".join(self.assignments()) or "none"
            raise CohortError(f"unknown assignment {name!r} (available: {known})")
        return name

    def save_settings(self) -> None:
        self.path(SETTINGS).write_text(json.dumps(self.settings, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    def nbgrader(self, *args: str, timeout: float = 3600) -> str:
        """Run ``nbgrader <args>`` in this cohort; raise CohortError with its last error line."""
        env = {
            **os.environ,
            # nbgrader runs `alembic` as a program: the environment's bin must be on PATH.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            # Only this cohort's configuration counts, not the trainer's personal one.
            "JUPYTER_CONFIG_DIR": str(self.path(".jupyter")),
            "JUPYTER_RUNTIME_DIR": str(self.path(".jupyter", "runtime")),
        }
        run = subprocess.run(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout,
        )
        log = run.stdout + run.stderr
        if run.returncode != 0 or "| ERROR]" in log:
            errors = [line for line in log.splitlines() if "ERROR" in line or "Error" in line]
            raise CohortError(f"nbgrader {args[0]} failed: {(errors or log.splitlines() or ['no output'])[-1].strip()}")
        return log

    @contextmanager
    def gradebook(self) -> Iterator[Any]:
        """nbgrader's Gradebook for this cohort (SQLite or PostgreSQL); an unreachable database is a CohortError."""
        from nbgrader.api import Gradebook
        from sqlalchemy.exc import OperationalError

        # A new gradebook gets its schema version from the `alembic` program: put it on PATH.
        bin_dir = str(Path(sys.executable).parent)
        if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        try:
            opened = Gradebook(self.db_url, course_id=COURSE_ID)
        except OperationalError as err:
            reason = str(err.orig or err).strip().splitlines()[0]
            raise CohortError(f"cannot open the gradebook {shown_url(self.db_url)}: {reason}") from err
        with opened as gradebook:
            yield gradebook


def shown_url(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


Item = TypeVar("Item")


def progress(items: Iterable[Item], desc: str, quiet: bool = False, **options: Any) -> Iterable[Item]:
    """A progress bar on the trainer's terminal; none with --quiet or when output goes to a file or log."""
    from tqdm import tqdm

    return tqdm(items, desc=desc, disable=quiet or not sys.stderr.isatty(), **options)


NBGRADER_CONFIG = '''"""nbgrader settings of this cohort (generated by 'citylab cohort create'; safe to read, do not edit)."""

c = get_config()  # noqa: F821
# The course's own settings: solution and hidden-test markers, feedback filters.
load_subconfig({course_config!r})  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = {source!r}
c.CourseDirectory.db_url = {db_url!r}
c.CourseDirectory.course_id = {course_id!r}
'''


def create(root: Path | str, db_url: str | None = None, repo: Path = REPO) -> Cohort:
    """Make a new cohort folder; refuse a folder that already holds files."""
    folder = Path(root).expanduser().resolve()
    if folder.exists() and any(folder.iterdir()):
        raise CohortError(f"{folder} exists and is not empty: choose a new folder for the cohort")
    if repo in (folder, *folder.parents):
        raise CohortError(f"{folder} is inside the course repository: keep learners' work outside it")
    source = repo / "exercises" / "source"
    if not source.is_dir():
        raise CohortError(f"{source} not found: is {repo} the course repository?")
    url = db_url or f"sqlite:///{folder / 'gradebook.db'}"
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://")):
        raise CohortError(f"--db must be a sqlite:/// or postgresql:// URL, not {url!r}")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("inbox", "exports", "peer"):
        (folder / sub).mkdir()
    cohort = Cohort(folder, {"source": str(source), "db_url": url, "deadlines": {}, "course_id": COURSE_ID})
    cohort.save_settings()
    (folder / "nbgrader_config.py").write_text(
        NBGRADER_CONFIG.format(
            course_config=str(repo / "exercises" / "nbgrader_config.py"),
            root=str(folder), source=str(source), db_url=url, course_id=COURSE_ID,
        ),
        encoding="utf-8",
    )
    return cohort
