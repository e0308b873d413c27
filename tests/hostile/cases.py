"""The hostile-submission suite: what a learner could hand in to cheat or to break grading.

Each case is one learner's submission and the outcome ``citylab cohort grade`` must give it:
the status in the status log, the automatic score (none, the first question's points, or all
points of the assignment) and, where the grader repairs something, a phrase of the log's
detail. All cases are graded in one batch, together with honest learners.

Most notebooks start from the released notebook, as a learner's would. Attacks that need a
place to run go into a new code cell right after the first check cell ("the attack cell"), so
the first question was already graded when the attack starts; answers after it are correct,
to show that nothing after an attack that stops the notebook is counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from hostile.submissions import Assignment, grade_id, hand_in


@dataclass(frozen=True)
class Target:
    """What hostile notebooks aim at: paths and a port a learner could guess or learn."""

    cohort: Path
    assignment: Assignment
    port: int  # a server the test runs on 127.0.0.1
    victim: str  # an honest learner whose files they try to change

    @property
    def victim_notebook(self) -> Path:
        return self.cohort / "submitted" / self.victim / self.assignment.name / f"{self.assignment.notebook}.ipynb"

    @property
    def gradebook(self) -> Path:
        return self.cohort / "gradebook.db"

    def all(self, kind: str) -> NotebookNode:
        return self.assignment.answered(self.cohort, {q.answer_id: kind for q in self.assignment.questions()})

    def first_then(self, attack: str) -> NotebookNode:
        """All answers correct, and an attack cell right after the first check."""
        notebook = self.all("correct")
        first_check = self.assignment.questions()[0].check_id
        return insert_after(notebook, first_check, attack)


@dataclass(frozen=True)
class Case:
    learner: str
    attack: str
    status: str
    score: str  # "none", "first" (the first question's points) or "all"
    make: Callable[[Target], None]
    note: str = ""  # a phrase the status log's detail must contain

    def expected_score(self, assignment: Assignment) -> float:
        questions = assignment.questions()
        return {"none": 0.0, "first": questions[0].points, "all": sum(q.points for q in questions)}[self.score]


def insert_after(notebook: NotebookNode, anchor: str | None, source: str) -> NotebookNode:
    """A new code cell after the cell labelled ``anchor`` (at the top when None)."""
    index = 0 if anchor is None else next(i for i, c in enumerate(notebook.cells) if grade_id(c) == anchor) + 1
    notebook.cells.insert(index, nbformat.v4.new_code_cell(source))
    return notebook


def tests_of(notebook: NotebookNode) -> list[NotebookNode]:
    def is_test(cell: NotebookNode) -> bool:
        meta = cell.metadata.get("nbgrader", {})
        return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"

    return [cell for cell in notebook.cells if is_test(cell)]


def answers_set_to(target: Target, value: str) -> NotebookNode:
    """Every answer replaced by ``<variable> = <value>``."""
    notebook = target.all("blank")
    by_id = {q.answer_id: q for q in target.assignment.questions()}
    for cell in notebook.cells:
        if grade_id(cell) in by_id:
            cell.source = f"{by_id[grade_id(cell)].variable} = {value}"
    return notebook


def submit(target: Target, learner: str, notebook: NotebookNode) -> None:
    hand_in(target.cohort, learner, target.assignment, notebook)


# ---------------------------------------------------------------- broken or misnamed files


def invalid_json(t: Target) -> None:
    folder = hand_in(t.cohort, "h-invalid-json", t.assignment, None)
    (folder / f"{t.assignment.notebook}.ipynb").write_text('{"cells": [ this is not JSON', encoding="utf-8")


def renamed(t: Target) -> None:
    hand_in(t.cohort, "h-renamed", t.assignment, t.all("correct"), filename=f"{t.assignment.notebook} (1).ipynb")


def missing(t: Target) -> None:
    folder = hand_in(t.cohort, "h-missing", t.assignment, None)
    (folder / "my answers.txt").write_text("I could not open the notebook.", encoding="utf-8")


def symlink_to_solution(t: Target) -> None:
    folder = hand_in(t.cohort, "h-symlink", t.assignment, None)
    (folder / f"{t.assignment.notebook}.ipynb").symlink_to(t.assignment.source)


# ---------------------------------------------------------------- tampered cells and metadata


def deleted_tests(t: Target) -> None:
    notebook = t.all("blank")
    notebook.cells = [c for c in notebook.cells if c not in tests_of(notebook)]
    submit(t, "h-deleted-tests", notebook)


def duplicated_tests(t: Target) -> None:
    notebook = t.all("wrong")
    for test in tests_of(notebook):
        copy = nbformat.from_dict(test)
        copy.id, copy.source = f"{test.id}-copy", "pass"
        notebook.cells.insert(notebook.cells.index(test) + 1, copy)
    submit(t, "h-duplicated-tests", notebook)


def reordered(t: Target) -> None:
    notebook = t.all("correct")
    notebook.cells.reverse()
    submit(t, "h-reordered", notebook)


def points_raised(t: Target) -> None:
    first = t.assignment.questions()[0].answer_id
    notebook = t.assignment.answered(t.cohort, {first: "correct"})
    for test in tests_of(notebook):
        test.metadata.nbgrader["points"] = 1000
    submit(t, "h-points-raised", notebook)


def test_made_answer(t: Target) -> None:
    notebook = t.all("blank")
    for test in tests_of(notebook):
        test.metadata.nbgrader.update(solution=True, locked=False)
        test.source = "pass"
    submit(t, "h-test-made-answer", notebook)


def changed_ids(t: Target) -> None:
    notebook = t.all("blank")
    for n, test in enumerate(tests_of(notebook)):
        test.metadata.nbgrader["grade_id"] += "-x"
        test.id = f"renamed-{n}"
        test.source = "pass"
    submit(t, "h-changed-ids", notebook)


def path_traversal(t: Target) -> None:
    notebook = t.all("correct")
    notebook.metadata.kernelspec = {"name": "../../../../bin/sh", "display_name": "sh", "language": "python"}
    notebook.metadata["nbgrader"] = {"path": "../../../gradebook.db", "assignment": "../../.."}
    cell = nbformat.v4.new_code_cell("pass")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "../../../q1-check", "points": 1000,
                                 "solution": False, "locked": True, "schema_version": 3}
    notebook.cells.append(cell)
    folder = hand_in(t.cohort, "h-path-traversal", t.assignment, notebook)
    (folder / "..%2F..%2Fgradebook.db").write_text("forged", encoding="utf-8")


# ---------------------------------------------------------------- code that attacks the machine

ENDLESS_LOOP = """import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)  # ignore the kernel's interrupt
while True:
    pass"""

OS_EXIT = """import os
os._exit(3)"""

FORK_BOMB = """import os
while True:
    try:
        os.fork()
    except OSError:
        pass"""

MEMORY_ONE_PROCESS = """try:
    hog = bytearray(64 * 2**30)
except MemoryError as error:
    print("no memory:", repr(error))"""

MEMORY_MANY_PROCESSES = """import os, time
for _ in range(4):
    if os.fork() == 0:
        block = b"x" * (400 * 2**20)  # 400 MB really used, in each of 4 processes
        time.sleep(600)
time.sleep(600)"""

HUGE_OUTPUT = """print("x" * 30_000_000)"""


def code_case(learner: str, attack: str, at_the_end: bool = False) -> Callable[[Target], None]:
    def make(t: Target) -> None:
        notebook = t.all("correct")
        if at_the_end:
            notebook.cells.append(nbformat.v4.new_code_cell(attack))
        else:
            notebook = t.first_then(attack)
        submit(t, learner, notebook)

    return make


# ---------------------------------------------------------------- code that reaches for secrets


def read_secrets(t: Target) -> None:
    paths = [t.assignment.source, t.gradebook, t.cohort / "cohort.json", t.victim_notebook, Path("/etc/shadow")]
    attack = f"""import os, re
for path in {[str(p) for p in paths]!r}:
    try:
        text = open(path, errors="replace").read()
        print("READ", path, text[:3000])
        for hidden in re.findall(r"BEGIN HIDDEN TESTS(.*?)### END", text, re.S):
            print("HIDDEN", hidden)
    except Exception as error:
        print("refused", path, repr(error))
print("visible:", sorted(os.listdir("/")), sorted(os.listdir(os.path.expanduser("~"))))"""
    submit(t, "h-read-secrets", insert_after(t.all("blank"), None, attack))


def write_others(t: Target) -> None:
    targets = [t.gradebook, t.victim_notebook, t.assignment.source, t.cohort / "forged.txt",
               t.cohort / "autograded" / "forged.txt", Path(t.assignment.source).parents[2] / "forged.txt"]
    attack = f"""import sqlite3
for path in {[str(p) for p in targets]!r}:
    try:
        with open(path, "a") as f:
            f.write("forged")
        print("WROTE", path)
    except Exception as error:
        print("refused", path, repr(error))
try:
    db = sqlite3.connect({str(t.gradebook)!r})
    db.execute("update grade set auto_score = 1000")
    db.commit()
    print("WROTE gradebook")
except Exception as error:
    print("refused gradebook", repr(error))"""
    submit(t, "h-write-others", insert_after(t.all("blank"), None, attack))


def network(t: Target) -> None:
    attack = f"""import socket
try:
    connection = socket.create_connection(("127.0.0.1", {t.port}), timeout=5)
    connection.sendall(b"answers please")
    print("CONNECTED")
except OSError as error:
    print("no network:", repr(error))"""
    submit(t, "h-network", insert_after(t.all("blank"), None, attack))


# ---------------------------------------------------------------- code that fools the checks

STRIP_ASSERTS = """import ast
class NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()
get_ipython().ast_transformers.append(NoAsserts())"""

FAKE_NUMBERS = """class Anything(int):
    \"\"\"Equal to, smaller and larger than everything.\"\"\"
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    __le__ = __gt__ = __ge__ = __lt__
    def __sub__(self, other): return self
    __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = __sub__
    def __abs__(self): return self
    def __round__(self, digits=None): return self
    __hash__ = int.__hash__"""

PATCH_BUILTINS = """import numbers
# The check cells run in this namespace: these names hide Python's own.
isinstance = lambda value, kind: True
abs = lambda value: 0
round = lambda value, digits=None: value
numbers.Real = numbers.Integral = object  # and the module the checks import"""

SWALLOW_ERRORS = """get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)"""

SHOW_CELLS = """def show(info):
    print("CELL SOURCE:", info.raw_cell)
get_ipython().events.register("pre_run_cell", show)"""


def fooling_case(learner: str, attack: str, value: str | None) -> Callable[[Target], None]:
    """The attack at the top; every answer set to ``value`` (None: left blank)."""
    def make(t: Target) -> None:
        notebook = answers_set_to(t, value) if value else t.all("blank")
        submit(t, learner, insert_after(notebook, None, attack))

    return make


#: The suite: learner, what the submission does, its status, its automatic score, a phrase of the log.
CASES = [
    Case("h-invalid-json", "the notebook file is not JSON", "invalid", "none", invalid_json, "not valid JSON"),
    Case("h-renamed", "the notebook was renamed", "missing", "none", renamed, "(1).ipynb"),
    Case("h-missing", "no notebook, only a text file", "missing", "none", missing, "no "),
    Case("h-symlink", "the notebook is a link to the instructor's solution", "rejected", "none",
         symlink_to_solution, "is a link"),
    Case("h-deleted-tests", "check cells deleted", "graded", "none", deleted_tests, "missing, put back"),
    Case("h-duplicated-tests", "check cells duplicated, copies emptied", "graded", "none", duplicated_tests,
         "duplicated"),
    Case("h-reordered", "all cells in reverse order", "graded", "all", reordered, "put back in order"),
    Case("h-points-raised", "check cells worth 1000 points", "graded", "first", points_raised,
         "changed type or nbgrader metadata"),
    Case("h-test-made-answer", "check cells turned into unlocked answer cells and emptied", "graded", "none",
         test_made_answer, "changed type or nbgrader metadata"),
    Case("h-changed-ids", "check cells renamed (grade_id and cell id) and emptied", "graded", "none",
         changed_ids, "not in the assignment"),
    Case("h-path-traversal", "kernel name, metadata, a cell id and a file name with ../", "graded", "all",
         path_traversal, "not in the assignment"),
    Case("h-endless-loop", "an endless loop that ignores SIGINT", "timeout", "first",
         code_case("h-endless-loop", ENDLESS_LOOP)),
    Case("h-os-exit", "os._exit(3) kills the kernel", "crashed", "first", code_case("h-os-exit", OS_EXIT),
         "exit code 3"),
    Case("h-fork-bomb", "a fork bomb", "processes", "first", code_case("h-fork-bomb", FORK_BOMB)),
    Case("h-memory", "asks for 64 GB in one process", "graded", "all",
         code_case("h-memory", MEMORY_ONE_PROCESS, at_the_end=True)),
    Case("h-memory-processes", "4 processes using 400 MB each", "memory", "first",
         code_case("h-memory-processes", MEMORY_MANY_PROCESSES)),
    Case("h-huge-output", "prints 30 MB", "graded", "all", code_case("h-huge-output", HUGE_OUTPUT, at_the_end=True)),
    Case("h-read-secrets", "reads the solutions, the gradebook, another learner's notebook", "graded", "none",
         read_secrets),
    Case("h-write-others", "writes the gradebook (files and SQL), another learner's notebook, the source",
         "graded", "none", write_others),
    Case("h-network", "connects to a server on 127.0.0.1", "graded", "none", network),
    Case("h-strip-asserts", "an AST transformer removes every assert", "graded", "none",
         fooling_case("h-strip-asserts", STRIP_ASSERTS, "1.0")),
    Case("h-fake-numbers", "answers are ints whose __eq__, __lt__… always say yes", "graded", "none",
         fooling_case("h-fake-numbers", FAKE_NUMBERS, "Anything(1)")),
    Case("h-patch-builtins", "isinstance, abs, round redefined; numbers.Real patched", "graded", "none",
         fooling_case("h-patch-builtins", PATCH_BUILTINS, "50.0")),
    Case("h-swallow-errors", "a custom exception handler hides every error", "graded", "none",
         fooling_case("h-swallow-errors", SWALLOW_ERRORS, None)),
    Case("h-show-cells", "prints the source of every cell it can see (hidden tests)", "graded", "none",
         fooling_case("h-show-cells", SHOW_CELLS, None)),
]

#: Cases that fool plain nbgrader's checks from inside the kernel, without touching any file:
#: safe to run unsandboxed, to prove they would get full marks there.
FOOL_PLAIN_NBGRADER = ("h-strip-asserts", "h-fake-numbers", "h-patch-builtins")
