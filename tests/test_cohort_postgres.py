"""The PostgreSQL path against a real PostgreSQL server on 127.0.0.1 (Debian's ``postgresql``).

The server is started by the test suite (tests/postgres.py) and stopped afterwards, even
when a test fails. Without the server programs the tests are skipped, with the reason;
under CI (the CI environment variable is set) they fail instead, so CI never skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import postgres
import pytest
from conftest import BIN, ROOT

from citylab.cohort import cli
from citylab.cohort.course import COURSE_ID, Cohort

ASSIGNMENT = "01-people-centred"
NOTEBOOK = "who-is-left-out.ipynb"
ROSTER = """id,name,email,group
a01,Ana Lima,ana.lima@city.example,north
a02,"Okafor, Chidi",chidi@city.example,north
a03,Maria de la Cruz,maria@city.example,south
"""


@pytest.fixture(scope="module")
def server() -> Iterator[postgres.Server]:
    reason = postgres.unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    with postgres.running() as running:
        yield running


def main(*args: object) -> int:
    return cli.main(["cohort", *map(str, args)])


def as_learner(home: Path, *args: str) -> None:
    """``nbgrader ...`` as a learner on a hub would run it, from their own home folder."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "JUPYTER_CONFIG_DIR": str(home / ".jupyter"), "JUPYTER_DATA_DIR": str(home / ".local")}
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args, f"--course={COURSE_ID}"],
                         cwd=home, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_wrong_password_is_one_line_and_leaves_nothing(server: postgres.Server, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    url = server.create_database("wrong_password").replace(server.password, "not-the-password")
    assert main("create", tmp_path / "cohort", "--db", url) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot open the gradebook" in err and "password" in err
    assert "not-the-password" not in err, "passwords are never printed"
    assert not (tmp_path / "cohort").exists(), "the trainer can run the same command again"


@pytest.mark.slow
def test_nbgrader_db_upgrade_works_on_a_cohort_made_on_an_empty_database(server: postgres.Server,
                                                                        tmp_path: Path) -> None:
    assert main("create", tmp_path / "cohort", "--db", server.create_database("upgrade")) == 0
    Cohort.open(tmp_path / "cohort").nbgrader("db", "upgrade")


@pytest.mark.slow
def test_create_roster_release_collect_autograde_on_postgresql(server: postgres.Server, tmp_path: Path) -> None:
    import psycopg

    url = server.create_database("spring")
    folder = tmp_path / "cohort"
    assert main("create", folder, "--db", url) == 0
    assert not list(folder.glob("*.db")), "no SQLite gradebook beside the PostgreSQL one"
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    assert main("roster", folder, tmp_path / "roster.csv") == 0
    assert main("release", folder, ASSIGNMENT, "--deadline", "2100-01-01 12:00") == 0

    # Two learners fetch from the exchange and submit with nbgrader, as on a hub; a03 hands in nothing.
    cohort = Cohort.open(folder)
    home = tmp_path / "home"
    home.mkdir()
    exchange = f"--Exchange.root={cohort.exchange}"
    as_learner(home, "fetch_assignment", ASSIGNMENT, exchange)
    as_learner(home, "submit", ASSIGNMENT, "--student=a02", exchange)  # the notebook as released: blank
    shutil.copyfile(ROOT / "exercises" / "source" / ASSIGNMENT / NOTEBOOK, home / ASSIGNMENT / NOTEBOOK)
    as_learner(home, "submit", ASSIGNMENT, "--student=a01", exchange)  # the model solution

    assert main("collect", folder, ASSIGNMENT, "--quiet") == 0
    cohort.nbgrader("autograde", ASSIGNMENT)  # plain nbgrader, reading the same gradebook

    source = nbformat.read(ROOT / "exercises" / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    auto_points = sum(c.metadata["nbgrader"]["points"] for c in source.cells
                      if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code")
    with cohort.gradebook() as gradebook:
        assert gradebook.find_student("a02").last_name == "Okafor"
        assert gradebook.find_assignment(ASSIGNMENT).duedate.year == 2100
        solution, blank = (gradebook.find_submission(ASSIGNMENT, i) for i in ("a01", "a02"))
        assert (solution.code_score, blank.code_score) == (auto_points, 0)
        assert solution.timestamp is not None and solution.total_seconds_late == 0
        assert {s.student_id for s in gradebook.find_assignment(ASSIGNMENT).submissions} == {"a01", "a02"}

    # The rows are in the PostgreSQL server itself.
    with psycopg.connect(host=postgres.HOST, port=server.port, user=postgres.USER, password=server.password,
                         dbname="spring") as connection:
        students = connection.execute("SELECT id FROM student ORDER BY id").fetchall()
        submitted = connection.execute("SELECT count(*) FROM submitted_assignment").fetchone()
    assert [row[0] for row in students] == ["a01", "a02", "a03"] and submitted == (2,)
