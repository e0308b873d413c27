"""``citylab cohort release`` and ``collect``: what goes out leaks nothing, what comes in is never lost.

Release runs the real nbgrader (slow); collect is tested on folders, zips and an
nbgrader exchange built the way LMS downloads and ``nbgrader submit`` lay them out.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT
from leaks import found_in, secret_lines
from test_cohort_roster import gradebook_template, new_cohort  # noqa: F401 (a fixture)

from citylab.cohort import cli, collect, release, roster
from citylab.cohort.course import Cohort

SOURCE = ROOT / "exercises" / "source"
ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if any(p.glob("*.ipynb")))
FIRST = ASSIGNMENTS[0]
NOTEBOOK = min(SOURCE.glob(f"{FIRST}/*.ipynb")).name
ROSTER = """id,name,email,group
a01,Ana Lima,ana.lima@city.example,north
a02,"Okafor, Chidi",chidi@city.example,north
a03,Maria de la Cruz,maria@city.example,south
a04,Zoë Ñúñez,zoe@city.example,south
a05,Kwame Mensah,kwame@city.example,south
a06,Sofia Rossi,sofia@city.example,north
"""
DEADLINE = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


def main(*args: object) -> int:
    return cli.main(["cohort", *map(str, args)])


def with_roster(folder: Path, template: Path) -> Cohort:
    cohort = new_cohort(folder, template)
    (folder.parent / "roster.csv").write_text(ROSTER, encoding="utf-8")
    roster.import_roster(cohort, folder.parent / "roster.csv")
    return cohort


def notebook_text(data: bytes) -> str:
    """A notebook's raw JSON plus its decoded cell sources (JSON escapes quotes)."""
    raw = data.decode("utf-8")
    return "\n".join([raw, *(cell.source for cell in nbformat.reads(raw, as_version=4).cells)])


def sources(data: bytes | Path) -> list[str]:
    nb = nbformat.read(data, as_version=4) if isinstance(data, Path) else nbformat.reads(data.decode(), as_version=4)
    return [cell.source for cell in nb.cells]


# ---------------------------------------------------------------- release (real nbgrader)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, gradebook_template: Path) -> Cohort:  # noqa: F811
    """Every assignment released as zips per learner (with a deadline); the first also as one zip and to the exchange."""
    cohort = with_roster(tmp_path_factory.mktemp("release") / "cohort", gradebook_template)
    for assignment in ASSIGNMENTS:
        assert main("release", cohort.root, assignment, "--to", "zip-per-learner", "--quiet",
                    "--deadline", "2026-12-01 17:00 Europe/Berlin") == 0
    assert main("release", cohort.root, FIRST, "--to", "zip") == 0  # keeps the deadline
    assert main("release", cohort.root, FIRST) == 0  # exchange is the default
    return Cohort.open(cohort.root)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_one_zip_per_learner_with_the_release_notebook_and_a_readme(released: Cohort, assignment: str) -> None:
    folder = released.path("release", assignment)
    expected = {f"{assignment}/{p.relative_to(folder).as_posix()}" for p in folder.rglob("*") if p.is_file()}
    zips = sorted(released.path("exports", assignment).glob("*.zip"))
    assert [z.stem for z in zips] == [lr.id for lr in roster.load(released)]
    for learner, path in zip(roster.load(released), zips, strict=True):
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            assert set(archive.namelist()) == expected | {"README.txt"}
            readme = archive.read("README.txt").decode()
            for notebook in folder.glob("*.ipynb"):
                data = archive.read(f"{assignment}/{notebook.name}")
                assert sources(data) == sources(notebook), "the zip holds nbgrader's release"
                assert json.loads(data)["metadata"]["citylab"] == {"learner": learner.id, "assignment": assignment}
        assert f"{learner.name} (learner id {learner.id})" in readme
        assert "Deadline: Tuesday 01 December 2026, 17:00 (UTC+01:00), which is 01 December 2026, 16:00 UTC" in readme
        assert f"{learner.id}_{min(folder.glob('*.ipynb')).name}" in readme


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_zip_holds_a_solution_or_hidden_test_line(released: Cohort, assignment: str) -> None:
    secrets = set().union(*(secret_lines(nb) for nb in (SOURCE / assignment).glob("*.ipynb")))
    source_text = "\n".join(notebook_text(nb.read_bytes()) for nb in (SOURCE / assignment).glob("*.ipynb"))
    assert found_in(secrets, source_text) == sorted(secrets), "the search finds what is there"
    cohort_zip = released.path("exports", f"{assignment}.zip")
    zips = [*released.path("exports", assignment).glob("*.zip"), *([cohort_zip] if cohort_zip.exists() else [])]
    leaked = {}
    for path in zips:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                data = archive.read(name)
                text = notebook_text(data) if name.endswith(".ipynb") else data.decode("utf-8", errors="replace")
                if found_in(secrets, text):
                    leaked[f"{path.name}!{name}"] = found_in(secrets, text)
    assert len(zips) == len(roster.load(released)) + (assignment == FIRST) and leaked == {}


@pytest.mark.slow
def test_one_zip_for_the_cohort(released: Cohort) -> None:
    with zipfile.ZipFile(released.path("exports", f"{FIRST}.zip")) as archive:
        readme = archive.read("README.txt").decode()
        data = archive.read(f"{FIRST}/{NOTEBOOK}")
    assert "<your learner id>" in readme and "16:00 UTC" in readme
    assert sources(data) == sources(released.path("release", FIRST, NOTEBOOK))
    assert "citylab" not in json.loads(data)["metadata"]


@pytest.mark.slow
def test_exchange_release_and_deadline_in_cohort_and_gradebook(released: Cohort) -> None:
    outbound = released.exchange / "smart-city-academy" / "outbound" / FIRST / NOTEBOOK
    assert sources(outbound) == sources(released.path("release", FIRST, NOTEBOOK))
    assert found_in(secret_lines(SOURCE / FIRST / NOTEBOOK), notebook_text(outbound.read_bytes())) == []
    assert released.deadline(FIRST) == DEADLINE - timedelta(hours=1)
    assert released.settings["deadlines"][FIRST] == "2026-12-01T17:00:00+01:00"
    with released.gradebook() as gradebook:
        assert gradebook.find_assignment(FIRST).duedate == datetime(2026, 12, 1, 16, 0)
        assert {nb.name for nb in gradebook.find_assignment(FIRST).notebooks} == {Path(NOTEBOOK).stem}


def test_release_refuses_what_it_cannot_do(tmp_path: Path, gradebook_template: Path,  # noqa: F811
                                           capsys: pytest.CaptureFixture[str]) -> None:
    cohort = new_cohort(tmp_path / "cohort", gradebook_template)
    assert main("release", cohort.root, FIRST, "--to", "zip-per-learner") == 1
    assert "no roster yet" in capsys.readouterr().err
    assert main("release", cohort.root, "99-nothing") == 1
    assert "unknown assignment '99-nothing'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main("release", cohort.root, FIRST, "--deadline", "next friday")
    assert exit_.value.code == 2 and "give a date and a time" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-12-01 17:00", "2026-12-01T17:00:00+00:00"),
        ("2026-12-01 17:00 UTC", "2026-12-01T17:00:00+00:00"),
        ("2026-07-01 17:00 Europe/Lisbon", "2026-07-01T16:00:00+00:00"),
        ("2026-12-01T17:00-05:00", "2026-12-01T22:00:00+00:00"),
    ],
)
def test_deadlines_are_utc_unless_a_timezone_is_named(text: str, utc: str) -> None:
    assert release.parse_deadline(text).astimezone(UTC).isoformat() == utc


# ---------------------------------------------------------------- collect


@pytest.fixture
def cohort(tmp_path: Path, gradebook_template: Path) -> Cohort:  # noqa: F811
    cohort = with_roster(tmp_path / "cohort", gradebook_template)
    cohort.set_deadline(FIRST, DEADLINE)
    return cohort


def handed_in(by: str) -> bytes:
    """A small notebook that says who handed it in."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"handed in by {by}")])
    return nbformat.writes(nb).encode()


AT = DEADLINE - timedelta(hours=3)
#: An LMS download: path -> (content, time handed in). a06 handed in nothing.
LMS = {
    f"a01_{NOTEBOOK}": (handed_in("a01"), AT),
    f"a02/{NOTEBOOK}": (handed_in("a02"), DEADLINE + timedelta(hours=2, minutes=10)),
    f"maria@city.example_{NOTEBOOK}": (handed_in("a03 first"), AT),
    f"Maria de la Cruz_4242_assignsubmission_file_/{NOTEBOOK}": (handed_in("a03 again"), AT + timedelta(hours=1)),
    f"nunezzoe_777_888_{NOTEBOOK}": (handed_in("a04"), AT),
    f"Mensah Kwame_12345_assignsubmission_file_{NOTEBOOK}": (handed_in("a05"), AT),
    f"Nobody Here_999_assignsubmission_file_{NOTEBOOK}": (handed_in("nobody"), AT),
    "a01_notes.pdf": (b"%PDF-1.4 not a notebook", AT),
    f"__MACOSX/._a01_{NOTEBOOK}": (b"\x00\x05\x16\x07 resource fork", AT),
}
EXPECTED = {
    "a01": ("submitted", "a01"), "a02": ("late", "a02"), "a03": ("submitted", "a03 again"),
    "a04": ("submitted", "a04"), "a05": ("submitted", "a05"), "a06": ("missing", None),
}


def lms_folder(folder: Path, files: dict[str, tuple[bytes, datetime]] = LMS) -> Path:
    for name, (data, at) in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (at.timestamp(), at.timestamp()))
    return folder


def lms_zip(path: Path, files: dict[str, tuple[bytes, datetime]] = LMS) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, (data, at) in files.items():
            archive.writestr(zipfile.ZipInfo(name, at.astimezone().timetuple()[:6]), data)
    return path


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def report_rows(cohort: Cohort) -> list[dict[str, str]]:
    (path,) = cohort.path("exports", FIRST).glob("collect-*.csv")
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def placed(cohort: Cohort, learner: str) -> tuple[str, datetime]:
    """Who the placed notebook says handed it in, and the time nbgrader reads from timestamp.txt."""
    from nbgrader.coursedir import CourseDirectory

    folder = cohort.path("submitted", learner, FIRST)
    text = nbformat.read(folder / NOTEBOOK, as_version=4).cells[0].source
    return text.removeprefix("handed in by "), CourseDirectory().get_existing_timestamp(str(folder))


def check_lms_outcome(cohort: Cohort) -> None:
    rows = report_rows(cohort)
    learners = {r["learner"]: r for r in rows if r["status"] in ("submitted", "late", "missing")}
    assert {i: r["status"] for i, r in learners.items()} == {i: s for i, (s, _) in EXPECTED.items()}
    for learner, (_, by) in EXPECTED.items():
        if by:
            assert placed(cohort, learner)[0] == by
    assert not cohort.path("submitted", "a06").exists()
    assert learners["a02"]["late_by"] == "2 h 10 min" and learners["a02"]["late_seconds"] == "7800"
    assert placed(cohort, "a02")[1] == (DEADLINE + timedelta(hours=2, minutes=10)).replace(tzinfo=None)
    others = sorted((r["status"], r["file"].rsplit("/", 1)[-1].rsplit("!", 1)[-1]) for r in rows
                    if r["status"] not in ("submitted", "late", "missing"))
    assert others == [
        ("duplicate", f"maria@city.example_{NOTEBOOK}"),
        ("not-a-notebook", "a01_notes.pdf"),
        ("unknown", f"Nobody Here_999_assignsubmission_file_{NOTEBOOK}"),
    ]
    assert sorted(p.name for p in cohort.path("submitted").iterdir()) == ["a01", "a02", "a03", "a04", "a05"]


def test_collect_an_lms_folder(cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = lms_folder(tmp_path / "downloads")
    assert main("collect", cohort.root, FIRST, "--from", source) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{FIRST}: 5 of 6 learners have handed in (1 late), 1 missing.\n")
    assert "  late: a02 (Okafor, Chidi) by 2 h 10 min\n  missing: a06\n" in out
    check_lms_outcome(cohort)
    (inbox,) = cohort.path("inbox", FIRST).iterdir()
    assert tree(inbox / "downloads") == tree(source), "every file is kept byte for byte, junk included"


def test_collect_an_lms_zip(cohort: Cohort, tmp_path: Path) -> None:
    source = lms_zip(tmp_path / "Smart City-Assignment 1-31337.zip")
    assert main("collect", cohort.root, FIRST, "--from", source, "--quiet") == 0
    check_lms_outcome(cohort)
    (inbox,) = cohort.path("inbox", FIRST).iterdir()
    assert (inbox / source.name).read_bytes() == source.read_bytes()


def test_collect_from_the_exchange(cohort: Cohort) -> None:
    """Entries named as ``nbgrader submit`` names them: <user>+<assignment>+<UTC time>+<random>."""
    inbound = cohort.exchange / "smart-city-academy" / "inbound"
    entries = {
        "a01": (AT, "a01"), "a02": (DEADLINE + timedelta(minutes=5), "a02 late"),
        "zz9": (AT, "a stranger"), "A02": (AT - timedelta(days=1), "a02 early"),
    }
    for user, (at, by) in entries.items():
        stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f UTC")
        entry = inbound / f"{user}+{FIRST}+{stamp}+x{len(by)}"
        entry.mkdir(parents=True)
        (entry / NOTEBOOK).write_bytes(handed_in(by))
        (entry / "timestamp.txt").write_text(stamp)
    (inbound / f"a03+99-other+{AT:%Y-%m-%d %H:%M:%S} UTC").mkdir()  # another assignment: not collected
    assert main("collect", cohort.root, FIRST) == 0
    got = sorted((r["status"], r["learner"] or r["file"].split("/")[1].split("+")[0]) for r in report_rows(cohort))
    assert got == sorted([("submitted", "a01"), ("late", "a02"), ("duplicate", "a02"), ("unknown", "zz9"),
                          *(("missing", i) for i in ("a03", "a04", "a05", "a06"))])
    assert placed(cohort, "a02") == ("a02 late", (DEADLINE + timedelta(minutes=5)).replace(tzinfo=None))
    (inbox,) = cohort.path("inbox", FIRST).iterdir()
    assert len(list((inbox / "exchange").iterdir())) == 4


def test_a_broken_zip_is_one_line_and_is_kept(cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "submissions.zip"
    broken.write_bytes(b"PK\x03\x04 this download was cut short")
    assert main("collect", cohort.root, FIRST, "--from", broken) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("citylab: error: submissions.zip: not a readable zip")
    (inbox,) = cohort.path("inbox", FIRST).iterdir()
    assert (inbox / broken.name).read_bytes() == broken.read_bytes()
    assert not cohort.path("submitted").exists()


def test_an_unreadable_file_is_one_line_and_the_rest_is_collected(cohort: Cohort, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    source = lms_folder(tmp_path / "mail", {f"a01_{NOTEBOOK}": (handed_in("a01"), AT)})
    (source / f"a02_{NOTEBOOK}").symlink_to(tmp_path / "deleted-meanwhile.ipynb")
    assert main("collect", cohort.root, FIRST, "--from", source) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"citylab: problem: mail/a02_{NOTEBOOK}: cannot be read")
    assert placed(cohort, "a01")[0] == "a01"


def test_an_older_file_never_replaces_a_newer_one(cohort: Cohort, tmp_path: Path) -> None:
    newer = lms_folder(tmp_path / "first", {f"a01_{NOTEBOOK}": (handed_in("a01 newer"), AT)})
    older = lms_folder(tmp_path / "second", {f"a01_{NOTEBOOK}": (handed_in("a01 older"), AT - timedelta(days=1))})
    assert main("collect", cohort.root, FIRST, "--from", newer) == 0
    assert main("collect", cohort.root, FIRST, "--from", older) == 0
    assert placed(cohort, "a01") == ("a01 newer", AT.replace(tzinfo=None))
    assert len(list(cohort.path("inbox", FIRST).iterdir())) == 2, "both batches are kept"


def test_a_broken_notebook_is_collected_and_flagged(cohort: Cohort, tmp_path: Path) -> None:
    source = lms_folder(tmp_path / "mail", {f"a01_{NOTEBOOK}": (b'{"cells": [', AT)})
    assert main("collect", cohort.root, FIRST, "--from", source) == 0
    (row,) = [r for r in report_rows(cohort) if r["learner"] == "a01"]
    assert row["status"] == "submitted" and "not a valid notebook" in row["note"]
    assert cohort.path("submitted", "a01", FIRST, NOTEBOOK).read_bytes() == b'{"cells": ['


def test_nothing_to_collect_exits_1(cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main("collect", cohort.root, FIRST, "--from", tmp_path / "empty") == 1
    assert main("collect", cohort.root, FIRST) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("citylab: error: no exchange at")


# ---------------------------------------------------------------- matching rules


LEARNERS = [roster.Learner("ana", "Ana Lima", "ana@city.example"),
            roster.Learner("ana-maria", "Ana Maria Souza", "am@city.example"),
            roster.Learner("b7", "Bo Chen", "bo@city.example")]


def received(name: str, data: bytes = b"{}") -> collect.Received:
    return collect.Received(name, name, AT, data)


@pytest.mark.parametrize(
    ("name", "learner", "how"),
    [
        ("ana-maria_week1.ipynb", "ana-maria", "id"),  # the longer id wins where both fit
        ("ana_week1.ipynb", "ana", "id"),
        ("B7/week1.ipynb", "b7", "id"),
        ("am@city.example_week1.ipynb", "ana-maria", "email"),
        ("SOUZA Ana María_55_assignsubmission_file_week1.ipynb", "ana-maria", "name"),
        ("chenbo_LATE_55_66_week1.ipynb", "b7", "name"),
        ("ana and b7 together.ipynb", None, "the file name fits several learners (ana, b7)"),
        ("week1.ipynb", None, "the file name matches no learner on the roster"),
    ],
)
def test_matching_rules(name: str, learner: str | None, how: str) -> None:
    assert collect.Matcher(LEARNERS, ["week1.ipynb"]).learner(received(name)) == (learner, how)


def test_the_id_written_into_a_learners_zip_is_the_last_resort() -> None:
    stamped = json.dumps({"cells": [], "metadata": {"citylab": {"learner": "b7"}}}).encode()
    assert collect.Matcher(LEARNERS, ["week1.ipynb"]).learner(received("week1 (2).ipynb", stamped)) == ("b7", "id in the notebook")


def test_with_several_notebooks_the_file_name_says_which() -> None:
    matcher = collect.Matcher(LEARNERS, ["budget.ipynb", "budget-memo.ipynb"])
    assert matcher.notebook(received("ana_budget-memo.ipynb")) == "budget-memo.ipynb"
    assert matcher.notebook(received("ana_budget (1).ipynb")) == "budget.ipynb"
    assert matcher.notebook(received("ana_other.ipynb")) is None
