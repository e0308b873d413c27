"""``citylab cohort roster``: every problem with its line number, nothing written on error, idempotent."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from citylab.cohort import cli, roster
from citylab.cohort.course import Cohort, create

HEADER = "id,name,email,group\n"
GOOD = (
    HEADER
    + "a01,Ana Lima,ana.lima@city.example,north\n"
    + 'a02,"Okafor, Chidi",chidi@city.example,north\n'
    + "a03,Maria de la Cruz,maria@city.example,south\n"
    + "a04,Zoë Ñúñez,zoe@city.example,\n"
)


@pytest.fixture(scope="session")
def gradebook_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite gradebook made by nbgrader once (making one takes seconds: nbgrader runs alembic)."""
    cohort = create(tmp_path_factory.mktemp("template") / "cohort")
    with cohort.gradebook():
        pass
    return cohort.path("gradebook.db")


def new_cohort(folder: Path, template: Path) -> Cohort:
    """A fresh cohort whose gradebook is a copy of the template."""
    cohort = create(folder)
    shutil.copyfile(template, cohort.path("gradebook.db"))
    return cohort


@pytest.fixture
def cohort(tmp_path: Path, gradebook_template: Path) -> Cohort:
    return new_cohort(tmp_path / "cohort", gradebook_template)


def csv_file(tmp_path: Path, text: str | bytes, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def students(cohort: Cohort) -> dict[str, tuple[str, str, str]]:
    with cohort.gradebook() as gradebook:
        return {s.id: (s.first_name, s.last_name, s.email) for s in gradebook.students}


def run(*args: str) -> int:
    return cli.main(["cohort", "roster", *map(str, args)])


# ---------------------------------------------------------------- checking, line by line


def test_every_row_problem_is_reported_with_its_line_number(tmp_path: Path) -> None:
    path = csv_file(tmp_path, HEADER
                    + "a01,Ana Lima,ana.lima@city.example,north\n"  # 2: fine
                    + "a01,Ana Again,other@city.example,\n"  # 3: duplicate id
                    + "A01,Ana Upper,upper@city.example,\n"  # 4: duplicate id up to case
                    + ",No Id,noid@city.example,\n"  # 5: id missing
                    + "a05,,a05@city.example,\n"  # 6: name missing
                    + "a06,Six,,\n"  # 7: email missing
                    + "a07,Seven,seven@,\n"  # 8: bad email
                    + "a08,Eight,ana.lima@city.example,\n"  # 9: email used twice
                    + "ana maria,Space,space@city.example,\n"  # 10: id not a folder name
                    + "../up,Dots,dots@city.example,\n"  # 11: path traversal
                    + "a+12,Plus,plus@city.example,\n"  # 12: '+' breaks nbgrader's exchange names
                    + "a13,Thirteen,13@city.example,x,y\n"  # 13: too many values
                    + "\n"  # 14: blank lines are fine
                    + "a15,Fifteen,fifteen@city.example,\n"  # 15: fine
                    + "CON,Reserved,con@city.example,\n"  # 16: a name Windows reserves
                    + "a17.,Trailing Dot,dot@city.example,\n")  # 17: Windows drops a trailing dot
    learners, problems = roster.parse(path)
    assert [lr.id for lr in learners] == ["a01", "a15"]
    assert problems == [
        "roster.csv line 3: id 'a01' is already used on line 2",
        "roster.csv line 4: id 'A01' is already used on line 2 as 'a01' (ids must differ by more than upper/lower case)",
        "roster.csv line 5: id missing",
        "roster.csv line 6: name missing",
        "roster.csv line 7: email missing",
        "roster.csv line 8: email 'seven@' is not a valid address",
        ("roster.csv line 9: email 'ana.lima@city.example' is already used on line 2 "
         "(each learner needs an own address to match submissions)"),
        *[(f"roster.csv line {n}: id {i!r} cannot be a folder name: use letters, digits, '.', '-' or '_' only "
           "(no spaces or '+'), start with a letter or digit, at most 64 characters")
          for n, i in ((10, "ana maria"), (11, "../up"), (12, "a+12"))],
        "roster.csv line 13: 5 values but the header has 4 columns (put a value that contains a comma in double quotes)",
        *[(f"roster.csv line {n}: id {i!r} cannot be a folder name: use letters, digits, '.', '-' or '_' only "
           "(no spaces or '+'), start with a letter or digit, at most 64 characters")
          for n, i in ((16, "CON"), (17, "a17."))],
    ]


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("", ["roster.csv: the file is empty; the first line must be the header id,name,email,group"]),
        (HEADER, ["roster.csv: no learners below the header"]),
        ("a01,Ana,ana@city.example\n", ["roster.csv line 1: the first line must be the header id,name,email,group, not a learner"]),
        ("id,name,mail\na01,Ana,ana@city.example\n", [
            "roster.csv line 1: unknown column(s) mail; allowed: id, name, email, group",
            "roster.csv line 1: column(s) email missing; the header must be id,name,email[,group]",
        ]),
        ("id,name,email,phone\na01,Ana,ana@city.example,123\n",
         ["roster.csv line 1: unknown column(s) phone; allowed: id, name, email, group"]),
        ("id,name,email,id\na01,Ana,ana@city.example,a01\n",
         ["roster.csv line 1: column(s) id appear more than once"]),
        ("\n\nid,name,email\na01,Ana,ana\n", ["roster.csv line 4: email 'ana' is not a valid address"]),
    ],
    ids=["empty", "header-only", "no-header", "misspelt-column", "unknown-column", "column-twice", "blank-lines-first"],
)
def test_header_problems(tmp_path: Path, text: str, problems: list[str]) -> None:
    assert roster.parse(csv_file(tmp_path, text))[1] == problems


def test_a_latin1_file_names_each_line_and_says_how_to_save_as_utf8(tmp_path: Path) -> None:
    text = HEADER + "a01,José Pérez,jose@city.example,\na02,Ana Lima,ana@city.example,\na03,Zoë,zoe@city.example,\n"
    problems = roster.parse(csv_file(tmp_path, text.encode("latin-1")))[1]
    assert [p.split(":")[0] for p in problems] == ["roster.csv line 2", "roster.csv line 4", "roster.csv"]
    assert "byte 0xE9" in problems[0] and "CSV UTF-8" in problems[-1]


def test_a_utf16_file_is_refused_with_advice(tmp_path: Path) -> None:
    problems = roster.parse(csv_file(tmp_path, GOOD.encode("utf-16")))[1]
    assert len(problems) == 1 and "UTF-16" in problems[0] and "CSV UTF-8" in problems[0]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"], ids=["plain", "with-BOM"])
def test_utf8_with_or_without_bom(tmp_path: Path, encoding: str) -> None:
    learners, problems = roster.parse(csv_file(tmp_path, GOOD.encode(encoding)))
    assert problems == [] and learners[3] == roster.Learner("a04", "Zoë Ñúñez", "zoe@city.example", "")


def test_semicolons_spaces_and_capitals_as_spreadsheets_write_them(tmp_path: Path) -> None:
    text = " ID ; Name ;E-mail\n".replace("E-mail", "Email") + "a01 ; Ana   Lima ; ana@city.example\n"
    learners, problems = roster.parse(csv_file(tmp_path, text))
    assert problems == [] and learners == [roster.Learner("a01", "Ana Lima", "ana@city.example")]


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Ana Lima", "Ana", "Lima"),
        ("Okafor, Chidi", "Chidi", "Okafor"),
        ("Ana Maria de la Cruz", "Ana Maria", "de la Cruz"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Madonna", "Madonna", ""),
        ("Nguyễn Thị Minh Khai", "Nguyễn Thị Minh", "Khai"),
    ],
)
def test_names_are_split_for_nbgrader(name: str, first: str, last: str) -> None:
    assert roster.split_name(name) == (first, last)


# ---------------------------------------------------------------- importing


def test_nothing_is_written_when_anything_is_wrong(cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cohort.root, csv_file(tmp_path, GOOD)) == 0
    before = (cohort.path("roster.csv").read_bytes(), students(cohort))
    capsys.readouterr()
    bad = csv_file(tmp_path, GOOD + "a05,New Person,new@city.example,\na06,Broken,broken@,\n", "bad.csv")
    assert run(cohort.root, bad) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["bad.csv line 7: email 'broken@' is not a valid address",
                   "citylab: error: bad.csv: nothing was imported; fix the problems listed above and run again"]
    assert (cohort.path("roster.csv").read_bytes(), students(cohort)) == before  # a05 was valid, yet not added


def test_first_import_fills_the_gradebook_and_the_cohort_roster(cohort: Cohort, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cohort.root, csv_file(tmp_path, GOOD.encode("utf-8-sig"))) == 0
    assert capsys.readouterr().out.startswith("Roster: 4 learners (4 added, 0 updated, 0 unchanged).")
    assert students(cohort) == {
        "a01": ("Ana", "Lima", "ana.lima@city.example"),
        "a02": ("Chidi", "Okafor", "chidi@city.example"),
        "a03": ("Maria", "de la Cruz", "maria@city.example"),
        "a04": ("Zoë", "Ñúñez", "zoe@city.example"),
    }
    assert roster.load(cohort) == roster.parse(csv_file(tmp_path, GOOD))[0]
    assert cohort.path("roster.csv").read_text(encoding="utf-8").startswith("id,name,email,group\na01,")


def test_the_same_file_twice_changes_nothing(cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = csv_file(tmp_path, GOOD)
    assert run(cohort.root, path) == 0
    written = cohort.path("roster.csv")
    before = (written.read_bytes(), written.stat().st_mtime_ns, students(cohort))
    capsys.readouterr()
    assert run(cohort.root, path) == 0
    assert capsys.readouterr().out == "No change: the 4 learners of this roster are already imported.\n"
    assert (written.read_bytes(), written.stat().st_mtime_ns, students(cohort)) == before


def test_a_changed_roster_reports_added_updated_and_no_longer_listed(cohort: Cohort, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cohort.root, csv_file(tmp_path, GOOD)) == 0
    changed = (HEADER
               + "a01,Ana Lima,ana.lima@city.example,north\n"  # unchanged
               + 'a02,"Okafor, Chidi",c.okafor@city.example,north\n'  # new email
               + "a03,Maria de la Cruz,maria@city.example,north\n"  # new group
               + "a05,Kwame Mensah,kwame@city.example,south\n")  # new; a04 left
    capsys.readouterr()
    assert run(cohort.root, csv_file(tmp_path, changed, "changed.csv")) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Roster: 4 learners (1 added, 2 updated, 1 unchanged).",
        "  added: a05 (Kwame Mensah)",
        "  updated: a02 (email)",
        "  updated: a03 (group)",
        "  no longer listed, kept in the gradebook because they may have grades: a04",
    ]
    assert "a04" in students(cohort) and students(cohort)["a02"][2] == "c.okafor@city.example"
    assert [lr.id for lr in roster.load(cohort)] == ["a01", "a02", "a03", "a05"]


def test_steps_that_need_a_roster_say_how_to_get_one(cohort: Cohort) -> None:
    with pytest.raises(roster.CohortError, match="citylab cohort roster"):
        roster.require(cohort)


def test_a_missing_file_is_a_one_line_error(cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(cohort.root, tmp_path / "nope.csv") == 1
    assert capsys.readouterr().err.startswith("citylab: error: cannot read")
