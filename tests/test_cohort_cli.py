"""The trainer's command line: help everywhere, one-line errors, a cohort folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from citylab.cohort import cli
from citylab.cohort.course import Cohort, CohortError, create
from conftest import BIN, ROOT


def steps() -> list[str]:
    return [m.register.__module__.rsplit(".", 1)[1] for m in cli._steps()]


def test_every_step_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert "create" in steps()
    for step in steps():
        with pytest.raises(SystemExit) as exit_:
            cli.main(["cohort", step, "--help"])
        assert exit_.value.code == 0
        assert "usage: citylab cohort" in capsys.readouterr().out


def test_console_script_is_installed() -> None:
    run = subprocess.run([str(BIN / "citylab"), "cohort", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "create" in run.stdout


def test_create_makes_a_cohort_that_uses_the_course_source(tmp_path: Path) -> None:
    cohort = create(tmp_path / "spring")
    settings = json.loads((cohort.root / "cohort.json").read_text())
    assert settings["source"] == str(ROOT / "exercises" / "source")
    assert settings["db_url"] == f"sqlite:///{cohort.root / 'gradebook.db'}"
    assert "01-people-centred" in Cohort.open(cohort.root).assignments()
    config = (cohort.root / "nbgrader_config.py").read_text()
    assert "load_subconfig" in config and str(ROOT / "exercises" / "nbgrader_config.py") in config


@pytest.mark.parametrize(
    ("folder", "db", "message"),
    [
        (ROOT / "exercises" / "cohort", None, "inside the course repository"),
        (None, "mysql://x", "must be a sqlite:/// or postgresql:// URL"),
    ],
)
def test_create_refuses_bad_places_and_urls(tmp_path: Path, folder: Path | None, db: str | None, message: str) -> None:
    with pytest.raises(CohortError, match=message):
        create(folder or tmp_path / "c", db)


def test_errors_are_one_line_with_exit_code_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file.txt").write_text("x")
    assert cli.main(["cohort", "create", str(tmp_path / "full")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("citylab: error:") and "not empty" in err
    assert cli.main(["cohort", "create", str(tmp_path / "new")]) == 0


def test_opening_a_folder_that_is_not_a_cohort_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CohortError, match="citylab cohort create"):
        Cohort.open(tmp_path)


def test_wrong_usage_exits_2() -> None:
    run = subprocess.run([sys.executable, "-m", "citylab.cohort.cli", "cohort", "nope"], capture_output=True, text=True)
    assert run.returncode == 2
