"""``citylab cohort grade``: parallel, sandboxed autograding, proven on honest and hostile submissions.

Fast tests cover the pieces (how answers travel to the checker, how a submission is rebuilt
from the release, which outputs are kept, the jail's command line). The slow tests use real
nbgrader, real kernels and a real bubblewrap sandbox (as root): one cohort, five honest
learners and the hostile suite of tests/hostile/cases.py, all graded in ONE batch; then the
gradebook, the submitted files, the outputs and the machine are checked. Honest learners
must get exactly what plain ``nbgrader autograde`` gives them (compared on a copy of the
cohort), and the in-kernel tricks must fool plain nbgrader but not this grader.

Without a working sandbox (no bwrap, not root) the slow tests are skipped with the reason;
under CI (the CI environment variable is set) they fail instead.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import BIN
from hostile.cases import CASES, FOOL_PLAIN_NBGRADER, Target
from hostile.submissions import Assignment, hand_in
from leaks import found_in, secret_lines

from citylab.cohort import cli, grade, sandbox
from citylab.cohort.course import Cohort, create

ASSIGNMENT = Assignment("01-people-centred")
TIMEOUT = 45.0  # seconds per notebook in the batch: the endless loop and the fork bomb use it all
HONEST = {
    "honest-correct": "correct correct correct correct",
    "honest-rephrased": "rephrased rephrased rephrased rephrased",
    "honest-partial": "correct correct wrong wrong",
    "honest-error": "correct error blank wrong",
    "honest-blank": "blank blank blank blank",
}
MEMO = "**Recommendation:** digital first, never digital only; keep a counter for every service."


def plan(learner: str) -> dict[str, str]:
    return dict(zip([q.answer_id for q in ASSIGNMENT.questions()], HONEST[learner].split(), strict=True))


# ====================================================================== fast: the pieces


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 2.5, float("nan"), float("inf"), "Zoë", b"\x00\xff", 1 + 2j,
    [1, "a", (2, 3)], {"a": [1, {2, 3}]}, frozenset({1}),
])
def test_plain_values_travel_to_the_checker_unchanged(value) -> None:
    copy = sandbox.decode(json.loads(json.dumps(sandbox.encode(value))))
    assert type(copy) is type(value)
    assert repr(copy) == repr(value)


def test_numpy_and_pandas_values_travel_with_their_types() -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"city": pd.array(["Kisumu", None], dtype="string"), "pop": pd.array([1, None], dtype="Int64"),
                          "share": [0.5, 0.25], "kind": pd.Categorical(["a", "b"])}, index=pd.Index([10, 20], name="id"))
    values = [np.float64(27.0), np.int64(924000), np.arange(6).reshape(2, 3), frame, frame["share"],
              pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["x", "y"]), pd.Timestamp("2026-03-01")]
    for value in values:
        copy = sandbox.decode(json.loads(json.dumps(sandbox.encode(value))))
        assert type(copy) is type(value)
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(copy, value)
        elif isinstance(value, pd.Series):
            pd.testing.assert_series_equal(copy, value)
        else:
            assert np.array_equal(np.asarray(copy), np.asarray(value))


def test_look_alike_values_do_not_travel() -> None:
    class Anything(float):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = float.__hash__

    import numbers

    for value in (Anything(1.0), [1, Anything(2.0)], lambda: 1, object()):
        with pytest.raises(sandbox.Uncheckable):
            sandbox.decode(sandbox.encode(value))
    assert sandbox.decode(sandbox.encode(numbers)) is numbers


@pytest.mark.parametrize("data", [
    {"eval": "1+1"}, {"module": "os; rm -rf /"}, {"ndarray": "|O8", "shape": [1], "b64": ""},
    {"npscalar": "<f8", "b64": "AA=="}, {"list": "no"}, {}, {"series": []},
])
def test_malformed_data_is_refused(data: dict) -> None:
    with pytest.raises((sandbox.Uncheckable, KeyError, TypeError, ValueError)):
        sandbox.decode(data)


def test_the_checker_runs_a_test_on_values_only() -> None:
    test = 'import numbers\nassert isinstance(x, numbers.Real), "Q1: a number"\nprint("ok", x)\nassert abs(x - 27.0) < 0.05, "Q1: not the expected gap"'
    assert sandbox.check_cell(test, {"x": sandbox.encode(27.0)}) == {"error": None, "stdout": "ok 27.0\n", "stderr": "", "result": None}
    wrong = sandbox.check_cell(test, {"x": sandbox.encode(30.0)})
    assert wrong["error"] == {"ename": "AssertionError", "evalue": "Q1: not the expected gap"}
    fake = sandbox.check_cell(test, {"x": {"unportable": "__main__.Anything"}})
    assert fake["error"]["ename"] == "UncheckableAnswer" and "Anything" in fake["error"]["evalue"]
    assert sandbox.check_cell("x + 1", {"x": 1})["result"] == "2"  # nbgrader's partial credit
    assert sandbox.check_cell("print(len([1]))", {"__builtins__": {"dict": []}, "len": 5})["error"]["ename"] == "TypeError"


def test_the_summary_names_who_needs_a_look() -> None:
    rows = [
        {"learner": "a", "status": "graded", "detail": "", "checked": "4/4 in the clean checker"},
        {"learner": "b", "status": "timeout", "detail": "stopped at the time limit (120 s), in cell 9 of 30",
         "checked": "3/4 in the clean checker"},
    ]
    text = grade.summary(rows, "01-people-centred", 61.2, 2)
    assert text.splitlines()[0] == "Graded 2 submission(s) of 01-people-centred in 61 s (2 at a time, each in a sandbox)."
    assert "  b: timeout: stopped at the time limit" in text and "  a:" not in text
    assert "(3/4 in the clean checker)" in text


def test_names_read_by_a_test() -> None:
    test = "import numbers\nassert isinstance(gap, numbers.Real)\nassert abs(gap - 27.0) < 0.05"
    assert grade.names_read(test) == ["abs", "gap", "isinstance", "numbers"]
    assert grade.names_read("x = (") == []


def test_outputs_that_could_run_in_a_browser_are_dropped() -> None:
    outputs = [
        {"output_type": "display_data", "data": {"text/html": "<script>steal()</script>", "text/plain": "<Map>",
                                                 "application/javascript": "steal()"}, "metadata": {"x": 1}},
        {"output_type": "execute_result", "data": {"image/svg+xml": "<svg onload=steal()>"}, "execution_count": 3},
        {"output_type": "stream", "name": "stdout", "text": ["a", "b"]},
        {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["t"]},
        {"output_type": "update_display_data"}, "junk",
    ]
    cleaned = grade._clean_outputs(outputs)
    assert [o.output_type for o in cleaned] == ["display_data", "execute_result", "stream", "error"]
    assert cleaned[0].data == {"text/plain": "<Map>"} and cleaned[0].metadata == {}
    assert cleaned[1].data == {"text/plain": "[image/svg+xml output not kept by the grader]"}
    assert cleaned[2].text == "ab"
    assert "steal" not in json.dumps(cleaned[:1])


def _cell(kind: str, source: str, grade_id: str | None = None, **flags) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": False, "solution": False, "locked": False,
                                     "schema_version": 3, **flags}
    return cell


def test_a_submission_is_rebuilt_on_the_release(tmp_path: Path) -> None:
    release = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    release.cells = [
        _cell("markdown", "# Title", "title", locked=True),
        _cell("code", "stub", "answer", solution=True),
        _cell("code", "assert x == 1", "check", grade=True, locked=True, points=2),
    ]
    (tmp_path / "a").mkdir()
    nbformat.write(release, tmp_path / "a" / "nb.ipynb")
    learner = nbformat.from_dict(json.loads(json.dumps(release)))
    learner.metadata.kernelspec = {"name": "../../bin/sh"}
    check = learner.cells[2]
    check.metadata.nbgrader.update(points=1000, solution=True)
    check.source = "pass"
    learner.cells[1].source = "x = 1"
    learner.cells.insert(2, _cell("code", "helper = 2"))
    learner.cells.insert(0, nbformat.from_dict(json.loads(json.dumps(learner.cells[3]))))  # a moved copy of the check
    learner.cells.append(_cell("code", "print('hi')", "bonus", grade=True, points=50))

    rebuild = grade.RebuildFromRelease(release_directory=str(tmp_path))
    resources = {"nbgrader": {"assignment": "a", "notebook": "nb"}}
    handed_in = json.dumps(learner)
    rebuilt, resources = rebuild.preprocess(learner, resources)

    assert [c.source for c in rebuilt.cells] == ["# Title", "x = 1", "helper = 2", "assert x == 1", "print('hi')"]
    assert [c.metadata.get("nbgrader") for c in rebuilt.cells] == [
        release.cells[0].metadata.nbgrader, release.cells[1].metadata.nbgrader, None,
        release.cells[2].metadata.nbgrader, None]
    assert rebuilt.metadata.kernelspec.name == "python3"
    notes = " | ".join(resources["citylab_notes"])
    assert "changed type or nbgrader metadata, restored: check" in notes and "duplicated" in notes
    assert "not in the assignment, run as plain cells: bonus" in notes and "put back in order" in notes
    again, _ = rebuild.preprocess(nbformat.from_dict(json.loads(handed_in)), {"nbgrader": resources["nbgrader"]})
    assert grade.fingerprint(again) == grade.fingerprint(rebuilt), "the same submission must give the same notebook"


def test_the_jail_command_names_every_protection() -> None:
    command = sandbox.jail_command("execute", 60000, sandbox.Limits(timeout=30, memory_mb=512))
    text = " ".join(command)
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session",
                 "--clearenv", "--reuid=60000", "--no-new-privs", "--bounding-set=-all",
                 f"--as={512 * 2**20}", "--nproc=64", "--cpu=31:36", "--core=0"):
        assert flag in command, flag
    assert "--ro-bind / /" not in text and "exercises" not in text
    readable = [command[i + 1] for i, arg in enumerate(command) if arg == "--ro-bind"]
    assert all(not path.startswith(str(Path(ASSIGNMENT.source).parents[1])) for path in readable)


def test_wrong_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for options in (["--workers", "0"], ["--timeout", "-1"], ["--memory", "lots"]):
        with pytest.raises(SystemExit) as stop:
            cli.main(["cohort", "grade", "c", "a", *options])
        assert stop.value.code == 2
    assert "must be" in capsys.readouterr().err


def test_a_folder_that_is_not_a_cohort_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cohort", "grade", str(tmp_path), ASSIGNMENT.name]) == 1
    assert "not a cohort folder" in capsys.readouterr().err


# ====================================================================== slow: the real thing


@pytest.fixture(scope="module")
def sandbox_works() -> None:
    reason = sandbox.check_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the sandbox tests: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, sandbox_works: None) -> Cohort:
    cohort = create(tmp_path_factory.mktemp("grading") / "cohort")
    cohort.nbgrader("generate_assignment", ASSIGNMENT.name)
    return cohort


@dataclass
class Server:
    """A TCP server on 127.0.0.1 that records every connection (nothing from a sandbox may reach it)."""

    port: int
    connections: list


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    listener = socket.create_server(("127.0.0.1", 0))
    found = Server(listener.getsockname()[1], [])

    def accept() -> None:
        while True:
            try:
                connection, address = listener.accept()
            except OSError:
                return
            found.connections.append(address)
            connection.close()

    threading.Thread(target=accept, daemon=True).start()
    yield found
    listener.close()


@dataclass
class Batch:
    """The cohort after one grading run, and what was true just before and just after it."""

    cohort: Cohort
    rows: dict[str, dict]
    files_before: dict[str, str]
    files_after: dict[str, str]
    scores: dict[str, dict[str, dict]]  # learner -> grade cell -> score, max, manual
    gradebook_before: dict
    gradebook_after: dict


def file_hashes(folder: Path) -> dict[str, str]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path)] = f"link to {os.readlink(path)}"
        elif path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def cell_scores(cohort: Cohort, learner: str) -> dict[str, dict]:
    with cohort.gradebook() as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT.notebook, ASSIGNMENT.name, learner)
        return {g.name: {"score": g.score, "max": g.max_score, "manual": g.needs_manual_grade, "type": g.cell_type}
                for g in notebook.grades}


def gradebook_shape(cohort: Cohort) -> dict:
    """What no learner may change: who the learners are, the assignment, its cells and their points."""
    with cohort.gradebook() as gradebook:
        assignment = gradebook.find_assignment(ASSIGNMENT.name)
        return {
            "students": sorted(s.id for s in gradebook.students),
            "max_score": assignment.max_score,
            "cells": sorted((c.name, c.max_score, c.cell_type) for nb in assignment.notebooks for c in nb.grade_cells),
            "sources": sorted((c.name, c.checksum) for nb in assignment.notebooks for c in nb.source_cells),
        }


def hand_in_everything(cohort: Cohort, port: int) -> list[str]:
    learners = [*HONEST, *(case.learner for case in CASES)]
    with cohort.gradebook() as gradebook:
        for learner in learners:
            gradebook.update_or_create_student(learner)
    for learner in HONEST:
        notebook = ASSIGNMENT.answered(cohort.root, plan(learner))
        if learner == "honest-correct":
            memo = next(c for c in notebook.cells if c.cell_type == "markdown" and c.metadata["nbgrader"].get("solution"))
            memo.source = MEMO
        hand_in(cohort.root, learner, ASSIGNMENT, notebook)
    target = Target(cohort.root, ASSIGNMENT, port, victim="honest-correct")
    for case in CASES:
        case.make(target)
    return learners


@pytest.fixture(scope="module")
def batch(released: Cohort, server: Server) -> Batch:
    cohort = released
    learners = hand_in_everything(cohort, server.port)
    files_before = file_hashes(cohort.path("submitted"))
    shape_before = gradebook_shape(cohort)
    rows = grade.grade(cohort, ASSIGNMENT.name, workers=3, limits=sandbox.Limits(timeout=TIMEOUT))
    graded = [r["learner"] for r in rows if r["status"] not in ("unknown-learner",)]
    return Batch(
        cohort=cohort,
        rows={row["learner"]: row for row in rows},
        files_before=files_before,
        files_after=file_hashes(cohort.path("submitted")),
        scores={learner: cell_scores(cohort, learner) for learner in learners if learner in graded},
        gradebook_before=shape_before,
        gradebook_after=gradebook_shape(cohort),
    )


def auto_score(batch: Batch, learner: str) -> float:
    return sum(g["score"] for g in batch.scores[learner].values() if g["type"] == "code")


@pytest.mark.slow
def test_the_batch_graded_everyone_once(batch: Batch) -> None:
    assert sorted(batch.rows) == sorted([*HONEST, *(c.learner for c in CASES)])
    with grade.status_file(batch.cohort, ASSIGNMENT.name).open(encoding="utf-8") as handle:
        logged = {row["learner"]: row for row in csv.DictReader(handle)}
    assert {k: v["status"] for k, v in logged.items()} == {k: v["status"] for k, v in batch.rows.items()}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.learner for c in CASES])
def test_hostile_submission_gets_its_expected_outcome(batch: Batch, case) -> None:
    row = batch.rows[case.learner]
    assert (row["status"], auto_score(batch, case.learner)) == (case.status, case.expected_score(ASSIGNMENT)), row
    assert case.note in row["detail"], row


@pytest.mark.slow
@pytest.mark.parametrize("learner", list(HONEST))
def test_honest_learner_is_graded_exactly(batch: Batch, learner: str) -> None:
    row = batch.rows[learner]
    assert row["status"] == "graded" and row["detail"] == "", row
    assert row["checked"] == "4/4 in the clean checker"
    assert auto_score(batch, learner) == ASSIGNMENT.expected(plan(learner))
    assert float(row["auto_score"]) == ASSIGNMENT.expected(plan(learner))
    memo = next(g for g in batch.scores[learner].values() if g["type"] == "markdown")
    assert memo["manual"] is (learner == "honest-correct") and memo["score"] == 0


@pytest.mark.slow
def test_no_score_is_forged_and_the_gradebook_is_intact(batch: Batch) -> None:
    assert batch.gradebook_after == batch.gradebook_before
    for learner, cells in batch.scores.items():
        for name, g in cells.items():
            assert 0 <= g["score"] <= g["max"], (learner, name, g)
    most = max(auto_score(batch, c.learner) for c in CASES)
    assert most <= sum(q.points for q in ASSIGNMENT.questions())
    assert not list(batch.cohort.root.rglob("forged*"))


@pytest.mark.slow
def test_no_submitted_file_was_lost_or_changed(batch: Batch) -> None:
    assert batch.files_after == batch.files_before
    assert len(batch.files_before) >= len(batch.rows)


@pytest.mark.slow
def test_nothing_reached_the_network(batch: Batch, server: Server) -> None:
    assert server.connections == []
    outputs = learner_outputs(batch, "h-network")
    assert "no network:" in outputs and "CONNECTED" not in outputs


def learner_outputs(batch: Batch, learner: str) -> str:
    """Everything shown under the cells of a learner's autograded notebook, as plain text."""
    path = batch.cohort.path("autograded", learner, ASSIGNMENT.name, f"{ASSIGNMENT.notebook}.ipynb")
    parts = []
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            parts += [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
            parts += [str(value) for value in output.get("data", {}).values()]
    return "\n".join(parts)


@pytest.mark.slow
def test_no_secret_reached_a_learner_notebook(batch: Batch) -> None:
    secrets = secret_lines(ASSIGNMENT.source)
    for case in CASES:
        path = batch.cohort.path("autograded", case.learner, ASSIGNMENT.name, f"{ASSIGNMENT.notebook}.ipynb")
        if path.exists():
            assert found_in(secrets, learner_outputs(batch, case.learner)) == [], case.learner
    attempts = learner_outputs(batch, "h-read-secrets")
    assert "READ" not in attempts and attempts.count("refused") == 5
    writes = learner_outputs(batch, "h-write-others")
    assert "WROTE" not in writes and "refused gradebook" in writes
    shown = learner_outputs(batch, "h-show-cells")
    assert "CELL SOURCE:" in shown, "the attack ran, yet hidden tests never reached the learner's kernel"


@pytest.mark.slow
def test_huge_output_is_cut(batch: Batch) -> None:
    path = batch.cohort.path("autograded", "h-huge-output", ASSIGNMENT.name, f"{ASSIGNMENT.notebook}.ipynb")
    assert path.stat().st_size < 3 * 2**20
    assert "output cut by the grader" in learner_outputs(batch, "h-huge-output")


@pytest.mark.slow
def test_no_sandbox_process_is_left(batch: Batch) -> None:
    uids = range(sandbox.FIRST_UID, sandbox.FIRST_UID + 2 * sandbox.MAX_SLOTS)
    assert [pid for pid, uid, _ in sandbox._proc_status() if uid in uids] == []


@pytest.mark.slow
def test_plain_nbgrader_agrees_on_honest_learners_and_is_fooled_where_we_are_not(
    batch: Batch, tmp_path: Path,
) -> None:
    """The same submissions graded by plain ``nbgrader autograde`` on a copy of the cohort."""
    copy = tmp_path / "plain"
    shutil.copytree(batch.cohort.root, copy, ignore=shutil.ignore_patterns("autograded", "submitted", "grading"))
    for name in ("nbgrader_config.py", "cohort.json"):
        path = copy / name
        path.write_text(path.read_text(encoding="utf-8").replace(str(batch.cohort.root), str(copy)), encoding="utf-8")
    for learner in [*HONEST, *FOOL_PLAIN_NBGRADER]:
        shutil.copytree(batch.cohort.path("submitted", learner), copy / "submitted" / learner)
    plain = Cohort.open(copy)
    plain.nbgrader("autograde", ASSIGNMENT.name)
    for learner in HONEST:
        assert cell_scores(plain, learner) == batch.scores[learner], learner
    full = sum(q.points for q in ASSIGNMENT.questions())
    for learner in FOOL_PLAIN_NBGRADER:
        fooled = sum(g["score"] for g in cell_scores(plain, learner).values() if g["type"] == "code")
        assert (fooled, auto_score(batch, learner)) == (full, 0), learner


@pytest.mark.slow
def test_regrade_one_learner_after_the_trainer_fixes_the_file(batch: Batch, capsys: pytest.CaptureFixture[str]) -> None:
    folder = batch.cohort.path("submitted", "h-renamed", ASSIGNMENT.name)
    (folder / f"{ASSIGNMENT.notebook} (1).ipynb").rename(folder / f"{ASSIGNMENT.notebook}.ipynb")
    others = {k: v for k, v in batch.rows.items() if k != "h-renamed"}
    code = cli.main(["cohort", "grade", str(batch.cohort.root), ASSIGNMENT.name, "--learner", "h-renamed",
                     "--timeout", "60", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "Graded 1 submission(s)" in out and "graded" in out
    assert sum(g["score"] for g in cell_scores(batch.cohort, "h-renamed").values() if g["type"] == "code") == 8
    with grade.status_file(batch.cohort, ASSIGNMENT.name).open(encoding="utf-8") as handle:
        logged = {row["learner"]: row for row in csv.DictReader(handle)}
    assert logged["h-renamed"]["status"] == "graded"
    assert {k: logged[k]["graded_at"] for k in others} == {k: v["graded_at"] for k, v in others.items()}


@pytest.mark.slow
def test_nbgrader_commands_still_work_after_grading(batch: Batch) -> None:
    log = batch.cohort.nbgrader("export", "--to", str(batch.cohort.path("grades.csv")))
    assert "ERROR" not in log
    with batch.cohort.path("grades.csv").open(encoding="utf-8") as handle:
        exported = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert float(exported["honest-correct"]["raw_score"]) == 8
    batch.cohort.nbgrader("generate_feedback", ASSIGNMENT.name, "--student", "honest-partial")
    assert batch.cohort.path("feedback", "honest-partial", ASSIGNMENT.name, f"{ASSIGNMENT.notebook}.html").is_file()


@pytest.mark.slow
def test_the_jail_isolates_a_notebook(sandbox_works: None) -> None:
    """A direct look from inside one jail: who it runs as, what it sees, what it may write."""
    probes = [
        "import os; print('uid', os.getuid(), os.getgid())",
        f"import os; print('source', os.path.exists({str(ASSIGNMENT.source)!r}))",
        f"import os; print('exercises', os.path.exists({str(Path(ASSIGNMENT.source).parents[1])!r}))",
        "open('/scratch/work/mine.txt', 'w').write('ok'); print('scratch ok')",
        "try:\n    open('/usr/forged', 'w')\nexcept OSError as e:\n    print('usr', e.errno)",
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\nexcept OSError as e:\n    print('net', e.errno)",
        "import resource; print('nproc', resource.getrlimit(resource.RLIMIT_NPROC)[0])",
        "from citylab import data; print('datasets', len(data.load('itu-internet-use')) > 0)",
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(p) for p in probes]
    with sandbox.Slots(1) as slots, slots.slot() as slot:
        ran = sandbox.run("execute", {"notebook": notebook, "cell_timeout": 60}, slot.runner_uid,
                          sandbox.Limits(timeout=60))
    printed = "".join(o.get("text", "") for line in ran.output.splitlines() for o in json.loads(line).get("outputs", []))
    assert ran.status == "finished", ran.errors
    assert f"uid {slot.runner_uid} {slot.runner_uid}" in printed
    assert "source False" in printed and "scratch ok" in printed and "datasets True" in printed
    assert "usr 30" in printed  # EROFS: the system is read-only
    assert "net 111" in printed  # ECONNREFUSED: a loopback of its own, with nothing on it
    assert "nproc 64" in printed and "exercises False" in printed


@pytest.mark.slow
def test_console_script_runs_grade_help() -> None:
    import subprocess

    run = subprocess.run([str(BIN / "citylab"), "cohort", "grade", "--help"], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "--workers" in run.stdout and "sandbox" in run.stdout


def _graded_cell(kind: str, source: str, grade_id: str, **flags) -> nbformat.NotebookNode:
    cell = _cell(kind, source, grade_id, **flags)
    cell.metadata["nbgrader"].setdefault("locked", not flags.get("solution", False))
    return cell


@pytest.mark.slow
def test_a_check_that_needs_more_than_data_is_scored_in_the_kernel(
    tmp_path: Path, sandbox_works: None,
) -> None:
    """A check calling the instructor's helper function cannot run in the clean checker: kernel-only, still right."""
    repo = tmp_path / "course"
    (repo / "exercises" / "source" / "helpers").mkdir(parents=True)
    shutil.copy(Path(ASSIGNMENT.source).parents[2] / "nbgrader_config.py", repo / "exercises" / "nbgrader_config.py")
    source = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
    source.cells = [
        _graded_cell("code", "def double(x):\n    return 2 * x", "helper"),
        _graded_cell("code", "### BEGIN SOLUTION\nanswer = 4\n### END SOLUTION", "a1", solution=True),
        _graded_cell("code", "assert double(2) == answer, 'not double 2'", "t1", grade=True, points=1),
        _graded_cell("code", "### BEGIN SOLUTION\nvalue = 3\n### END SOLUTION", "a2", solution=True),
        _graded_cell("code", "assert value > 0, 'positive'\n### BEGIN HIDDEN TESTS\nassert value == 3, 'three'\n"
                             "### END HIDDEN TESTS", "t2", grade=True, points=1),
    ]
    nbformat.write(source, repo / "exercises" / "source" / "helpers" / "work.ipynb")
    cohort = create(tmp_path / "cohort", repo=repo)
    cohort.nbgrader("generate_assignment", "helpers")
    os.chown(cohort.root, 4242, 4242)  # the trainer's folder; grading runs as root
    with cohort.gradebook() as gradebook:
        for learner in ("right", "wrong"):
            gradebook.update_or_create_student(learner)
    for learner, (answer, value) in {"right": ("4", "3"), "wrong": ("5", "7")}.items():
        notebook = nbformat.read(cohort.path("release", "helpers", "work.ipynb"), as_version=4)
        notebook.cells[1].source, notebook.cells[3].source = f"answer = {answer}", f"value = {value}"
        folder = cohort.path("submitted", learner, "helpers")
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / "work.ipynb")

    rows = {row["learner"]: row for row in grade.grade(cohort, "helpers", workers=2)}
    assert {k: (r["status"], r["auto_score"], r["checked"]) for k, r in rows.items()} == {
        "right": ("graded", "2", "1/2 in the clean checker"),
        "wrong": ("graded", "0", "1/2 in the clean checker"),
    }
    written = [cohort.path("gradebook.db"), *cohort.path("autograded").rglob("*"), *cohort.path("grading").rglob("*")]
    assert {path.stat().st_uid for path in written} == {4242}, "the trainer can use what grading wrote"
