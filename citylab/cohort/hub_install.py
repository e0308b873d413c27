"""What a cohort hub needs on the machine: its Python, its proxy, OS accounts and file permissions.

Used by ``citylab cohort hub setup`` and ``remove`` (:mod:`citylab.cohort.hub`). Everything
here runs as root and is idempotent: a second setup installs nothing that is already there.

- The hub's virtual environment is built from Debian's ``/usr/bin/python3``, because every
  learner's server runs that Python as the learner; a Python under ``/root`` (mode 0700)
  cannot be run by them. It lives in ``/opt/citylab-hub/venv`` (world-readable).
- configurable-http-proxy comes from npm, at the version pinned in
  ``citylab/assets/hub/proxy/package-lock.json``, installed with ``npm ci``.
- Each learner and instructor gets an OS account named as their roster id (nbgrader knows
  who submitted by the account name), marked in its comment field so that only accounts made
  here are ever changed or deleted.
"""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

from citylab.cohort.course import REPO, CohortError

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "hub"
HOME = Path(os.environ.get("CITYLAB_HUB_HOME", "/opt/citylab-hub"))
SYSTEM_PYTHON = "/usr/bin/python3"
#: The group of every hub instructor: it may read the instructor notebooks and the cohort folder.
STAFF = "citylab-instructors"
#: Start of the comment (GECOS) field of every account this module made.
MARK = "citylab hub"
#: What useradd accepts by default (Debian's NAME_REGEX), at most 32 characters.
OS_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


def _run(command: list[str], what: str, timeout: float = 1800) -> None:
    """Run a setup command; fail with its last output line."""
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        lines = (done.stderr + done.stdout).strip().splitlines() or ["no output"]
        raise CohortError(f"{what} failed: {lines[-1]}")


def _digest(*files: Path) -> str:
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()


def ensure_venv(home: Path = HOME) -> Path:
    """The hub's virtual environment, (re)installed when requirements-hub.txt changed; returns it."""
    venv, requirements = home / "venv", ASSETS / "requirements-hub.txt"
    stamp, digest = venv / ".citylab-installed", _digest(requirements)
    if stamp.is_file() and stamp.read_text() == digest:
        return venv
    if not Path(SYSTEM_PYTHON).is_file():
        raise CohortError(f"{SYSTEM_PYTHON} not found: install Debian's python3 and python3-venv")
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    if not (venv / "bin" / "python").exists():
        _run([SYSTEM_PYTHON, "-m", "venv", str(venv)], f"making {venv} (is python3-venv installed?)")
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "-r", str(requirements)], "installing the hub's Python packages")
    # Learners import the course's own citylab package (and its datasets) from the repository.
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "citylab-course.pth").write_text(f"{REPO}\n", encoding="utf-8")
    stamp.write_text(digest)
    return venv


def ensure_proxy(home: Path = HOME) -> Path:
    """configurable-http-proxy from npm (``npm ci`` against the committed lock file); returns its program."""
    folder, source = home / "proxy", ASSETS / "proxy"
    program = folder / "node_modules" / ".bin" / "configurable-http-proxy"
    stamp, digest = folder / ".citylab-installed", _digest(source / "package.json", source / "package-lock.json")
    if stamp.is_file() and stamp.read_text() == digest and program.exists():
        return program
    if not shutil.which("npm") or not shutil.which("node"):
        raise CohortError("node and npm not found: install them with 'apt-get install nodejs npm'")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(source / name, folder / name)
    _run(["npm", "ci", "--prefix", str(folder), "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
         "installing configurable-http-proxy with npm")
    stamp.write_text(digest)
    return program


def check_names(names: list[str]) -> None:
    """Every hub user becomes an OS account of the same name: refuse ids useradd would not take."""
    bad = [name for name in names if not OS_NAME.fullmatch(name)]
    if bad:
        raise CohortError(f"ids {', '.join(map(repr, bad[:5]))} cannot be account names on the hub: use lower-case "
                          "letters, digits, '-' or '_', starting with a letter, at most 32 characters")


def check_reachable(folder: Path) -> None:
    """Instructors' servers run as the instructors: every folder above the cohort must let them pass."""
    closed = [parent for parent in folder.parents if not parent.stat().st_mode & 0o001]
    if closed:
        raise CohortError(f"instructors cannot reach {folder}: {closed[0]} is closed to other accounts; "
                          f"move the cohort (e.g. to /srv/cohorts/) or run 'chmod o+x {closed[0]}'")


def ensure_group(name: str = STAFF) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run(["groupadd", "--system", name], f"groupadd {name}")
        return grp.getgrnam(name).gr_gid


def ensure_account(name: str, label: str, instructor: bool) -> None:
    """An OS account with a private home; refuse an existing account this tool did not make."""
    try:
        existing = pwd.getpwnam(name)
    except KeyError:
        existing = None
    if existing is not None and not existing.pw_gecos.startswith(MARK):
        raise CohortError(f"an account {name!r} already exists on this machine and was not made by the hub: "
                          "give that person another id in the roster")
    if existing is None:
        _run(["useradd", "--create-home", "--shell", "/bin/bash", "--comment", f"{MARK} {label}", name],
             f"useradd {name}")
    groups = {g.gr_name for g in grp.getgrall() if name in g.gr_mem}
    if instructor and STAFF not in groups:
        _run(["usermod", "--append", "--groups", STAFF, name], f"usermod {name}")
    if not instructor and STAFF in groups:
        _run(["gpasswd", "--delete", name, STAFF], f"gpasswd {name}")
    home = Path(pwd.getpwnam(name).pw_dir)
    home.chmod(0o700)  # one learner never reads another's notebooks


def made_here(label: str) -> list[str]:
    """Accounts this tool made for the cohort with this label."""
    return sorted(p.pw_name for p in pwd.getpwall() if p.pw_gecos == f"{MARK} {label}")


def remove_account(name: str) -> None:
    """Delete an account made here and its home (never any other account)."""
    if not pwd.getpwnam(name).pw_gecos.startswith(MARK):
        raise CohortError(f"refusing to delete {name!r}: the hub did not make that account")
    _run(["userdel", "--remove", name], f"userdel {name}")


def restrict(folder: Path, gid: int, writable: bool, skip: Path | None = None) -> None:
    """Give a tree (except ``skip``) to root and the instructors' group only; learners cannot even list it."""
    for path in (folder, *folder.rglob("*")):
        if path.is_symlink() or (skip is not None and path.is_relative_to(skip)):
            continue
        os.chown(path, 0, gid)
        mode = path.stat().st_mode & 0o7777
        group = (0o070 if path.is_dir() else 0o060) if writable else (0o050 if path.is_dir() else 0o040)
        setgid = 0o2000 if path.is_dir() and writable else 0
        path.chmod((mode & 0o700) | group | setgid)


def server_config(role: str) -> dict:
    """Jupyter server settings of a role ("learner" or "instructor").

    Learners: no formgrader and no course list. Both: formgrader's iframe allowed on the same
    origin (nbgrader issue #1870: JupyterHub's default ``frame-ancestors 'none'`` leaves the
    formgrader panel blank), idle kernels stopped after 30 minutes and idle servers after an
    hour, so a cohort does not hold memory overnight.
    """
    config: dict = {
        "ServerApp": {
            "tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}},
            "shutdown_no_activity_timeout": 3600,
        },
        "MappingKernelManager": {"cull_idle_timeout": 1800, "cull_interval": 300},
    }
    if role == "learner":
        config["ServerApp"]["jpserver_extensions"] = {"nbgrader.server_extensions.formgrader": False,
                                                      "nbgrader.server_extensions.course_list": False}
    return config


def lab_config(role: str) -> dict | None:
    """JupyterLab's page settings of a role: learners do not see formgrader, courses or 'create assignment'."""
    if role != "learner":
        return None
    return {"disabledExtensions": {f"@jupyter/nbgrader:{p}": True
                                   for p in ("formgrader", "course-list", "create-assignment")}}


def role_configs(shared: Path, exchange: Path, cohort_config: Path, course_id: str, gid: int) -> dict[str, str]:
    """A Jupyter configuration folder per role under ``shared``; returns the folder of each.

    Learners reach the exchange only; instructors load the cohort's nbgrader configuration
    (course folder, gradebook with its password), so their folder is for the instructors' group.
    """
    exchange_config = f"c.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = {course_id!r}\n"
    folders = {}
    for role in ("learner", "instructor"):
        folder = shared / role
        (folder / "labconfig").mkdir(parents=True, exist_ok=True)
        lab = lab_config(role)
        if lab:
            (folder / "labconfig" / "page_config.json").write_text(json.dumps(lab, indent=1), encoding="utf-8")
        else:
            (folder / "labconfig" / "page_config.json").unlink(missing_ok=True)
        nbgrader = exchange_config if role == "learner" else (
            f"load_subconfig({str(cohort_config)!r})  # noqa: F821\n" + exchange_config)
        (folder / "jupyter_server_config.json").write_text(json.dumps(server_config(role), indent=1), encoding="utf-8")
        (folder / "nbgrader_config.py").write_text(
            f'"""nbgrader settings for {role}s on the cohort hub (written by citylab cohort hub setup)."""\n\n'
            f"c = get_config()  # noqa: F821\n{nbgrader}", encoding="utf-8")
        folders[role] = str(folder)
    for path in (shared / "learner", *(shared / "learner").rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    restrict(shared / "instructor", gid, writable=False)
    return folders
