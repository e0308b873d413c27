"""A whole cohort on a real JupyterHub on 127.0.0.1: accounts, PostgreSQL gradebook, exchange, feedback.

Runs as root (the hub makes OS accounts, all named ``cl-...``, and runs each server as its
person). One instructor and three learners: one answers everything, one half, and one is
hostile (a cell that reads the solutions, another learner's work and the gradebook settings).
Learners act only through the hub's HTTP APIs, with the trainer service's token: start their
server, fetch, write the notebook, submit, fetch feedback. The trainer uses the trainer tool:
release, collect, grade (sandboxed), hub feedback. Afterwards no process of the accounts runs,
the ports are free, and the accounts are gone. Outside CI, a machine without root, PostgreSQL,
bubblewrap or npm skips the test with the reason; under CI it fails instead.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import postgres
import pytest
from cohort_fixtures import ROOT, questions

from citylab.cohort import cli, hub, hub_install, leaks
from citylab.cohort.course import COURSE_ID, Cohort, create

pytestmark = pytest.mark.slow
ASSIGNMENT = "01-people-centred"
NOTEBOOK = "who-is-left-out.ipynb"
INSTRUCTOR = "cl-trainer"
LEARNERS = {"cl-full": "correct", "cl-half": "partial", "cl-evil": "hostile"}
ROSTER = "id,name,email,group\n" + "".join(
    f"{name},{name.title()} Learner,{name}@city.example,north\n" for name in LEARNERS)
#: Run as a learner: everything that must fail. Prints one line per attempt: "<what> <outcome>".
PROBE = """
import glob, pathlib, sys
targets = dict(source=sys.argv[1], cohort=sys.argv[2], inbound=sys.argv[3], home=sys.argv[4], config=sys.argv[5])
for what, path in targets.items():
    p = pathlib.Path(path)
    try:
        (list(p.iterdir()) if p.is_dir() else p.read_bytes())
        print(what, "READ")
    except PermissionError:
        print(what, "denied")
print("glob", len(glob.glob(sys.argv[3] + "/*")))
"""


def _unavailable() -> str | None:
    if os.geteuid() != 0:
        return "the hub test makes OS accounts: run it as root"
    for tool, package in (("bwrap", "bubblewrap"), ("npm", "npm"), ("useradd", "passwd")):
        if not shutil.which(tool):
            return f"'{tool}' not found (Debian package {package})"
    return postgres.unavailable()


def main(*args: object) -> int:
    return cli.main(["cohort", *map(str, args)])


class Learner:
    """A hub user driven over HTTP with the trainer service's token, as JupyterLab would."""

    def __init__(self, cohort: Cohort, name: str) -> None:
        self.cohort, self.name = cohort, name
        self.base = f"{hub.url(hub.settings(cohort))}/user/{name}"

    def call(self, method: str, path: str, form: dict | None = None, body: dict | None = None) -> bytes:
        data = urllib.parse.urlencode(form).encode() if form else json.dumps(body).encode() if body else None
        kind = "application/x-www-form-urlencoded" if form else "application/json"
        request = urllib.request.Request(f"{self.base}{urllib.parse.quote(path, safe='/?=&')}", data=data, method=method, headers={
            "Authorization": f"token {hub.secret(self.cohort, 'service_token')}", "Content-Type": kind})
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.read()

    def start(self) -> None:
        hub.api(self.cohort, "POST", f"/users/{self.name}/server")
        deadline = time.monotonic() + 120
        while not hub.api(self.cohort, "GET", f"/users/{self.name}")["servers"].get("", {}).get("ready"):
            assert time.monotonic() < deadline, f"{self.name}'s server did not start"
            time.sleep(0.5)

    def assignment(self, action: str) -> list[dict]:
        """nbgrader's Assignments tab: fetch, submit or fetch_feedback; returns the assignment list."""
        answer = json.loads(self.call("POST", f"/assignments/{action}",
                                      form={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT}))
        assert answer["success"], f"{self.name}: {action} failed: {answer.get('value') or answer}"
        return answer["value"]

    def notebook(self, path: str) -> nbformat.NotebookNode:
        model = json.loads(self.call("GET", f"/api/contents/{path}?content=1"))
        return nbformat.from_dict(model["content"])

    def save(self, path: str, nb: nbformat.NotebookNode) -> None:
        self.call("PUT", f"/api/contents/{path}", body={"type": "notebook", "format": "json", "content": nb})

    def listing(self, path: str) -> list[str]:
        return [item["name"] for item in json.loads(self.call("GET", f"/api/contents/{path}"))["content"]]


def answered(nb: nbformat.NotebookNode, kind: str, hostile_code: str) -> nbformat.NotebookNode:
    """The fetched notebook with a learner's answers: all correct, the first half, or an attack."""
    qs = questions(ASSIGNMENT)
    chosen = {q.answer_id: q for q in (qs if kind == "correct" else qs[: len(qs) // 2] if kind == "partial" else [])}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in chosen:
            cell.source = chosen[grade_id].solution
    if kind == "hostile":
        nb.cells.insert(1, nbformat.v4.new_code_cell(hostile_code))
    return nb


@pytest.fixture(scope="module")
def cohort() -> Iterator[Cohort]:
    """A PostgreSQL cohort with a running hub; afterwards everything is stopped and deleted."""
    reason = _unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the hub test: {reason}")
        pytest.skip(reason)
    source = ROOT / "exercises" / "source"
    # Setup locks the instructor notebooks to root and the instructors' group: put them back as they were.
    modes = {p: (p.stat().st_mode & 0o7777, p.stat().st_uid, p.stat().st_gid) for p in (source, *source.rglob("*"))}
    had_group = hub_install.STAFF in {g.gr_name for g in grp.getgrall()}
    top = Path(tempfile.mkdtemp(prefix="citylab-hub-test-"))
    top.chmod(0o755)  # instructors reach the cohort folder through it, as through /srv or /home
    folder = top / "cohort"
    try:
        with postgres.running() as server:
            assert main("create", folder, "--db", server.create_database("hub")) == 0
            (top / "roster.csv").write_text(ROSTER, encoding="utf-8")
            assert main("roster", folder, top / "roster.csv") == 0
            yield Cohort.open(folder)
            assert main("hub", "remove", folder) == 0
    finally:
        if (folder / "hub" / "hub.json").exists():
            hub.remove(Cohort.open(folder))
        for path, (mode, uid, gid) in modes.items():
            os.chown(path, uid, gid)
            path.chmod(mode)
        if not had_group:
            subprocess.run(["groupdel", hub_install.STAFF], check=False)
        shutil.rmtree(top, ignore_errors=True)


def test_errors_before_anything_is_made_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    assert main("create", tmp_path / "empty") == 0
    assert main("hub", "setup", tmp_path / "empty", "--instructor", INSTRUCTOR) == 1
    assert main("hub", "start", tmp_path / "empty") == 1
    # A PostgreSQL gradebook that does not answer (nothing listens on the port).
    unreachable = create(tmp_path / "no-db", f"postgresql://trainer:secret@127.0.0.1:{postgres.free_port()}/spring")
    unreachable.path("roster.csv").write_text(ROSTER, encoding="utf-8")
    assert main("hub", "setup", unreachable.root, "--instructor", INSTRUCTOR) == 1
    # A cohort under a folder closed to other accounts (pytest's own): instructors could not reach it.
    (tmp_path / "empty" / "roster.csv").write_text(ROSTER, encoding="utf-8")
    assert main("hub", "setup", tmp_path / "empty", "--instructor", INSTRUCTOR) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and "no roster yet" in err[0] and "no hub set up" in err[1]
    assert "cannot open the gradebook" in err[2] and "secret" not in err[2]
    assert "instructors cannot reach" in err[3] and "chmod o+x" in err[3]


def test_a_cohort_on_the_hub_from_release_to_feedback(cohort: Cohort, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.monotonic() - started - sum(phases.values()), 1)

    port = postgres.free_port()
    assert main("hub", "setup", cohort.root, "--instructor", INSTRUCTOR, "--port", port) == 0
    settings = hub.settings(cohort)
    nobody = pwd.getpwnam("nobody")
    home = Path(tempfile.mkdtemp(prefix="citylab-nobody-"))
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    as_nobody = subprocess.run(  # the hub's Python runs the tool too (it imports the course from the repository)
        ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
         str(Path(settings["venv"]) / "bin" / "python"), "-m", "citylab.cohort.cli", "cohort", "hub", "status",
         str(cohort.root)],
        check=False, capture_output=True, text=True, timeout=120, cwd="/", env={"HOME": str(home), "PATH": "/usr/bin:/bin"})
    shutil.rmtree(home)
    assert as_nobody.returncode == 1 and as_nobody.stderr.count("\n") == 1 and "needs root" in as_nobody.stderr
    with socket.socket() as busy:  # another program on the port: one clear line, nothing started
        busy.bind(("127.0.0.1", port))
        busy.listen()
        assert main("hub", "start", cohort.root) == 1
        assert f"port {port}" in capsys.readouterr().err
    phase("setup")
    assert main("hub", "start", cohort.root) == 0
    assert main("release", cohort.root, ASSIGNMENT, "--to", "exchange", "--deadline", "2100-01-01 12:00") == 0

    people = {name: Learner(cohort, name) for name in [*LEARNERS, INSTRUCTOR]}
    phase("start+release")
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(Learner.start, people.values()))
    phase("servers")

    # Roles: the instructor has formgrader, framed by JupyterLab (#1870); learners have none.
    trainer = people[INSTRUCTOR]
    request = urllib.request.Request(f"{trainer.base}/formgrader", headers={
        "Authorization": f"token {hub.secret(cohort, 'service_token')}"})
    with urllib.request.urlopen(request, timeout=60) as page:
        assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
        assert ASSIGNMENT in page.read().decode() or page.status == 200
    with pytest.raises(urllib.error.HTTPError) as missing:
        people["cl-full"].call("GET", "/formgrader")
    assert missing.value.code == 404

    source_nb = cohort.source / ASSIGNMENT / NOTEBOOK
    exchange = Path(settings["shared"]) / "exchange" / COURSE_ID / "inbound"
    hostile = (f"import pathlib\nfor p in [{str(source_nb)!r}, {str(cohort.path('nbgrader_config.py'))!r}, "
               f"'/home/cl-full/{ASSIGNMENT}/{NOTEBOOK}']:\n    print(pathlib.Path(p).read_text()[:200])")
    for name, kind in LEARNERS.items():
        learner = people[name]
        fetched = learner.assignment("fetch")
        assert any(a["assignment_id"] == ASSIGNMENT for a in fetched)
        path = f"{ASSIGNMENT}/{NOTEBOOK}"
        learner.save(path, answered(learner.notebook(path), kind, hostile))
        learner.assignment("submit")

    # As the hostile learner's own account: no solutions, no cohort, no one else's work.
    probe = subprocess.run(
        ["setpriv", f"--reuid={pwd.getpwnam('cl-evil').pw_uid}", f"--regid={pwd.getpwnam('cl-evil').pw_gid}",
         "--init-groups", str(Path(settings["venv"]) / "bin" / "python"), "-c", PROBE, str(source_nb),
         str(cohort.path("roster.csv")), str(exchange), "/home/cl-full", str(Path(settings["config"]["instructor"]))],
        capture_output=True, text=True, timeout=60, check=True)
    assert probe.stdout.split("\n") == ["source denied", "cohort denied", "inbound denied", "home denied",
                                        "config denied", "glob 0", ""], probe.stdout + probe.stderr

    phase("learners")
    assert main("collect", cohort.root, ASSIGNMENT, "--quiet") == 0
    assert main("grade", cohort.root, ASSIGNMENT, "--quiet") == 0
    phase("collect+grade")
    assert main("hub", "feedback", cohort.root, ASSIGNMENT) == 0
    phase("feedback")

    qs = questions(ASSIGNMENT)
    expected = {"cl-full": sum(q.points for q in qs), "cl-half": sum(q.points for q in qs[: len(qs) // 2]),
                "cl-evil": 0}
    with cohort.gradebook() as gradebook:
        scores = {name: gradebook.find_submission(ASSIGNMENT, name).code_score for name in LEARNERS}
    assert scores == expected

    secrets = leaks.all_secret_lines(cohort.source / ASSIGNMENT)
    for name in LEARNERS:
        learner = people[name]
        learner.assignment("fetch_feedback")
        stamps = learner.listing(f"{ASSIGNMENT}/feedback")
        assert len(stamps) == 1, stamps
        page = learner.call("GET", f"/files/{ASSIGNMENT}/feedback/{stamps[0]}/{NOTEBOOK[:-6]}.html").decode()
        own = leaks.cell_text(cohort.path("submitted", name, ASSIGNMENT, NOTEBOOK))
        assert not leaks.revealed(secrets, page, own), f"{name}'s feedback shows hidden tests or solutions"

    assert main("hub", "status", cohort.root) == 0
    assert "Servers running (4)" in capsys.readouterr().out
    phase("fetch-feedback")
    assert main("hub", "stop", cohort.root) == 0
    phase("stop")
    uids = {pwd.getpwnam(name).pw_uid for name in people}
    assert not hub.processes_of(uids), "a server or kernel outlived the hub"
    assert hub._port_free("127.0.0.1", port), "the proxy still holds the port"
    print(f"hub e2e: {time.monotonic() - started:.0f} s after the cohort was made; seconds per phase: {phases}")
