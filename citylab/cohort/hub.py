"""``citylab cohort hub setup|start|stop|status|feedback|remove COHORT``: a JupyterHub for one cohort.

One machine, one command per action. Learners log in with a browser, fetch assignments from
the Assignments tab, work in JupyterLab and submit there; instructors get formgrader. The
trainer's own steps do not change: ``release`` (to the hub's exchange), ``collect``,
``grade`` (sandboxed), then ``hub feedback`` to put the checked feedback pages where learners
fetch them. The gradebook stays the cohort's own (SQLite or the PostgreSQL of ``create --db``).

Where things are:

- ``COHORT/hub/``: the hub's private state (settings, passwords, tokens, its SQLite user
  database, log), root only;
- ``/srv/citylab-hub/<cohort>-<hash>/``: the nbgrader exchange and the per-role Jupyter
  configuration, which every account must reach;
- ``/opt/citylab-hub/``: the hub's Python and proxy, shared by every cohort on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from citylab.cohort import hub_install, roster
from citylab.cohort.course import Cohort, CohortError, shown_url

STEP = 35  # after release: a hub is set up once the roster is in, used from the first release on
SHARED = Path(os.environ.get("CITYLAB_HUB_SHARED", "/srv/citylab-hub"))
SERVICE = "citylab-trainer"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


def register(steps: argparse._SubParsersAction) -> None:
    p = steps.add_parser(
        "hub",
        help="run a JupyterHub for the cohort on this machine (setup, start, stop, status, feedback, remove)",
        description="A JupyterHub for the cohort on this machine: learners log in with a browser, fetch, work "
        "and submit in JupyterLab; instructors get formgrader. 'setup' makes an OS account per roster id "
        "and per --instructor, installs the hub's Python and proxy, and writes its settings; 'start' and "
        "'stop' run it; 'feedback' hands checked feedback pages to learners; 'remove' deletes the accounts. "
        "Needs root.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    setup = actions.add_parser("setup", help="accounts, hub environment and settings (run again after a roster change)")
    setup.add_argument("cohort", help="the cohort folder")
    setup.add_argument("--instructor", action="append", required=True, metavar="NAME",
                       help="an instructor's account name (repeat for several)")
    setup.add_argument("--port", type=int, default=8000, help="the port learners' browsers use (default: 8000)")
    setup.add_argument("--ip", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; put a TLS proxy in front for a public one)")
    for name, text in (("start", "start the hub in the background"), ("stop", "stop the hub and every server"),
                       ("status", "is the hub running, and whose servers are"),
                       ("remove", "stop the hub, delete its accounts (and their homes) and its shared folder")):
        action = actions.add_parser(name, help=text)
        action.add_argument("cohort", help="the cohort folder")
    feedback = actions.add_parser("feedback", help="make, check and hand out feedback pages on the hub")
    feedback.add_argument("cohort", help="the cohort folder")
    feedback.add_argument("assignment", help="the graded assignment, e.g. 01-people-centred")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise CohortError("the hub needs root, to make accounts and run each person's server as them: use sudo")
    cohort = Cohort.open(args.cohort)
    if args.action == "setup":
        setup(cohort, args.instructor, args.port, args.ip)
        print(f"Hub ready for {cohort.root.name}: learners' and instructors' passwords are in {state(cohort)}")
        print(f"Next: citylab cohort hub start {args.cohort}")
    elif args.action == "start":
        print(f"Hub running at {start(cohort)} (log: {state(cohort) / 'jupyterhub.log'})")
    elif args.action == "stop":
        stop(cohort)
        print("Hub stopped; no server of the cohort is running")
    elif args.action == "status":
        print(status(cohort))
    elif args.action == "feedback":
        released = release_feedback(cohort, cohort.require_assignment(args.assignment))
        print(f"Feedback for {released} learners is in the exchange: they fetch it from the Assignments tab")
    else:
        remove(cohort)
        print("Hub removed: its accounts, their home folders and its shared folder are deleted")
    return 0


# ---------------------------------------------------------------- settings and secrets


def state(cohort: Cohort) -> Path:
    return cohort.path("hub")


def settings(cohort: Cohort) -> dict[str, Any]:
    """The hub's settings written by setup; a clear error before setup."""
    file = state(cohort) / "hub.json"
    if not file.is_file():
        raise CohortError(f"no hub set up for {cohort.root}: run 'citylab cohort hub setup {cohort.root} "
                          "--instructor NAME' first")
    return json.loads(file.read_text(encoding="utf-8"))


def shared_folder(cohort: Cohort) -> Path:
    """A folder every account can reach, named after the cohort (the hash keeps two 'spring's apart)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", cohort.root.name.lower()).strip("-")[:40] or "cohort"
    return SHARED / f"{slug}-{hashlib.sha256(str(cohort.root).encode()).hexdigest()[:8]}"


def secret(cohort: Cohort, name: str) -> str:
    return (state(cohort) / name).read_text(encoding="utf-8").strip()


def _new_secrets(folder: Path) -> None:
    """Tokens and passwords, made once and kept across setups (learners keep their password)."""
    wanted = {"cookie_secret": secrets.token_hex(32), "proxy_token": secrets.token_hex(32),
              "service_token": secrets.token_hex(32), "learner_password": secrets.token_urlsafe(9),
              "instructor_password": secrets.token_urlsafe(30)}
    for name, value in wanted.items():
        file = folder / name
        if not file.exists():
            file.write_text(value + "\n", encoding="utf-8")
        file.chmod(0o600)


# ---------------------------------------------------------------- setup and remove


def setup(cohort: Cohort, instructors: list[str], port: int, ip: str = "127.0.0.1") -> dict[str, Any]:
    """Make (or bring up to date) everything the cohort's hub needs; returns its settings."""
    learners = [learner.id for learner in roster.require(cohort)]
    hub_install.check_names(learners + instructors)
    both = sorted(set(learners) & set(instructors))
    if both:
        raise CohortError(f"{', '.join(both)} cannot be both a learner (roster) and an instructor")
    if not 0 < port < 65536:
        raise CohortError(f"--port {port}: give a port between 1 and 65535")
    with cohort.gradebook():  # an unreachable gradebook shows now, not on the first login
        pass
    hub_install.check_reachable(cohort.root)
    venv, proxy = hub_install.ensure_venv(), hub_install.ensure_proxy()
    gid = hub_install.ensure_group()
    label = str(cohort.root)
    for name in learners:
        hub_install.ensure_account(name, label, instructor=False)
    for name in instructors:
        hub_install.ensure_account(name, label, instructor=True)
    shared = shared_folder(cohort)
    exchange = shared / "exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    shared.chmod(0o755)
    exchange.chmod(0o777)  # as nbgrader's release makes it; inbound/ is write-only, outbound/ read-only
    cohort.settings["exchange"] = str(exchange)
    cohort.save_settings()
    # Learners never see the cohort folder (roster, gradebook, submissions) or the solutions.
    hub_install.restrict(cohort.root, gid, writable=True, skip=state(cohort))
    hub_install.restrict(cohort.source, gid, writable=False)
    configs = hub_install.role_configs(shared, exchange, cohort.path("nbgrader_config.py"),
                                       cohort.settings["course_id"], gid)
    folder = state(cohort)
    folder.mkdir(exist_ok=True)
    os.chown(folder, 0, 0)
    folder.chmod(0o700)
    _new_secrets(folder)
    hub = {"state": str(folder), "ip": ip, "port": port, "learners": learners, "instructors": sorted(instructors),
           "venv": str(venv), "proxy": str(proxy), "shared": str(shared), "config": configs}
    (folder / "hub.json").write_text(json.dumps(hub, indent=1) + "\n", encoding="utf-8")
    return hub


def remove(cohort: Cohort) -> None:
    """Stop the hub and delete what setup made: accounts with their homes, the shared folder, the state."""
    hub = settings(cohort)
    stop(cohort)
    for name in hub_install.made_here(str(cohort.root)):
        hub_install.remove_account(name)
    shutil.rmtree(hub["shared"], ignore_errors=True)
    with contextlib.suppress(OSError):  # the parent too, once no other cohort uses it
        Path(hub["shared"]).parent.rmdir()
    shutil.rmtree(hub["state"], ignore_errors=True)
    cohort.settings.pop("exchange", None)
    cohort.save_settings()


# ---------------------------------------------------------------- start, stop, status


def _port_free(ip: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pid(cohort: Cohort) -> int | None:
    """The running hub's process id, or None."""
    file = state(cohort) / "jupyterhub.pid"
    try:
        pid = int(file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if Path(f"/proc/{pid}").exists() else b""
    return pid if b"jupyterhub" in cmdline else None


def url(hub: dict[str, Any]) -> str:
    return f"http://{hub['ip']}:{hub['port']}"


def api(cohort: Cohort, method: str, path: str, body: dict | None = None, timeout: float = 30) -> Any:
    """Call the hub's REST API (``/hub/api/...``) with the trainer service's token; returns the JSON answer."""
    hub = settings(cohort)
    request = urllib.request.Request(
        f"{url(hub)}/hub/api{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {secret(cohort, 'service_token')}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        text = answer.read()
    return json.loads(text) if text else None


def start(cohort: Cohort) -> str:
    """Start JupyterHub (and with it the proxy) in the background; returns its address once it answers."""
    hub = settings(cohort)
    if _pid(cohort):
        raise CohortError(f"the hub of {cohort.root} is already running at {url(hub)}")
    if not _port_free(hub["ip"], hub["port"]):
        raise CohortError(f"port {hub['port']} on {hub['ip']} is in use: stop what uses it, or run setup "
                          "again with another --port")
    try:
        with cohort.gradebook():
            pass
    except CohortError as err:
        raise CohortError(f"{err} (the hub needs the gradebook: is PostgreSQL running?)") from err
    log = (state(cohort) / "jupyterhub.log").open("ab")
    command = [str(Path(hub["venv"]) / "bin" / "jupyterhub"), "-f", str(hub_install.ASSETS / "jupyterhub_config.py"),
               f"--JupyterHub.hub_port={_free_port()}",
               f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{_free_port()}"]
    env = {"PATH": f"{Path(hub['venv']) / 'bin'}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "CITYLAB_HUB_SETTINGS": str(state(cohort) / "hub.json")}
    process = subprocess.Popen(command, cwd=state(cohort), env=env, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CohortError(f"the hub stopped at start: {_last_error(cohort)}")
        try:
            api(cohort, "GET", "/", timeout=2)
            return url(hub)
        except (OSError, ValueError):
            time.sleep(0.5)
    _stop_group(process.pid)
    raise CohortError(f"the hub did not answer within {START_TIMEOUT:.0f} s: {_last_error(cohort)}")


def _last_error(cohort: Cohort) -> str:
    lines = (state(cohort) / "jupyterhub.log").read_text(errors="replace").strip().splitlines()
    errors = [line for line in lines if line.startswith(("[E ", "[C ")) or "Error" in line] or lines or ["no log"]
    return f"{errors[-1].strip()} (log: {state(cohort) / 'jupyterhub.log'})"


def _stop_group(pid: int) -> None:
    """SIGTERM a process group, then SIGKILL what is left after STOP_TIMEOUT."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(") ")[-1].startswith("Z"))


def processes_of(uids: set[int]) -> list[int]:
    """Process ids owned by these accounts (servers, kernels, terminals left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    found.append(int(entry.name))
            except FileNotFoundError:
                continue
    return found


def _uids(hub: dict[str, Any]) -> set[int]:
    uids = set()
    for name in hub["learners"] + hub["instructors"]:
        try:
            uids.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            continue
    return uids


def stop(cohort: Cohort) -> None:
    """Stop the hub (it stops every user's server and the proxy), then anything its accounts left running."""
    hub = settings(cohort)
    pid = _pid(cohort)
    if pid:
        _stop_group(pid)
    for proxy_pid in _pids_in(state(cohort) / "proxy.pid"):
        _stop_group(proxy_pid)
    uids = _uids(hub)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for left in processes_of(uids):
            try:
                os.kill(left, sig)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 5
        while processes_of(uids) and time.monotonic() < deadline:
            time.sleep(0.2)
    if processes_of(uids):
        raise CohortError(f"processes of the hub's accounts are still running: {processes_of(uids)[:5]}")


def _pids_in(file: Path) -> list[int]:
    try:
        pid = int(file.read_text())
    except (OSError, ValueError):
        return []
    try:
        return [pid] if os.getpgid(pid) == pid and _alive(pid) else []
    except ProcessLookupError:
        return []


def status(cohort: Cohort) -> str:
    """One paragraph for the trainer: running or not, where, who has a server."""
    hub = settings(cohort)
    if not _pid(cohort):
        return f"The hub of {cohort.root} is stopped (start it with 'citylab cohort hub start {cohort.root}')"
    users = api(cohort, "GET", "/users")
    running = sorted(u["name"] for u in users if u.get("servers", {}).get("", {}).get("ready"))
    return (f"The hub is running at {url(hub)}; gradebook {shown_url(cohort.db_url)}\n"
            f"{len(hub['learners'])} learners, instructors: {', '.join(hub['instructors'])}\n"
            f"Servers running ({len(running)}): {', '.join(running) or 'none'}")


# ---------------------------------------------------------------- feedback


def release_feedback(cohort: Cohort, assignment: str) -> int:
    """Make and check the feedback pages (``citylab cohort feedback``), then put them in the exchange."""
    from citylab.cohort import feedback

    settings(cohort)  # a hub must be set up: its exchange is where the pages go
    pages = feedback.generate(cohort, assignment, quiet=True)
    cohort.nbgrader("release_feedback", assignment, f"--Exchange.root={cohort.exchange}")
    return len(pages)
