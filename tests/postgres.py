"""A throwaway PostgreSQL server for tests, on 127.0.0.1 only.

Uses the server programs of Debian's ``postgresql`` package (``initdb``,
``pg_ctl``). The cluster lives in a fresh temporary folder, listens on a free
port of 127.0.0.1 and on a socket in that folder, needs a password (the tests
connect over TCP like a real deployment), skips fsync, and is stopped and
removed when the ``running()`` block ends, even when a test fails. PostgreSQL
refuses to run as root: as root, the cluster belongs to the unprivileged
``postgres`` system user the Debian package creates.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER = "citylab"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    """A running cluster and how to reach it."""

    port: int
    password: str
    folder: Path

    def url(self, database: str) -> str:
        return f"postgresql://{USER}:{self.password}@{HOST}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(host=HOST, port=self.port, user=USER, password=self.password,
                             dbname="postgres", autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/<n>/bin."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
                    if p.parent.parent.name.isdigit() else 0)
    return debian[-1].parent if debian else None


def owner() -> pwd.struct_passwd | None:
    """Who runs the server: the current user, or the 'postgres' system user when running as root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def unavailable() -> str | None:
    """Why no server can be started here, or None."""
    if binaries() is None:
        return "PostgreSQL server programs (initdb, pg_ctl) not found: install Debian's 'postgresql' package"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed in this environment (requirements.txt)"
    if owner() is None:
        return "running as root but there is no unprivileged 'postgres' user to own the server"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _run(command: list[str], user: pwd.struct_passwd, folder: Path) -> None:
    """Run a server program as the server's owner; fail with its output."""
    as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if os.geteuid() == 0 else {}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "HOME": str(folder)}
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120, **as_user)
    if result.returncode != 0:
        log = folder / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"{' '.join(command[:2])} failed:\n{result.stdout}{result.stderr}{tail}")


@contextmanager
def running() -> Iterator[Server]:
    """Start a fresh cluster; stop it (``pg_ctl -m fast stop``) and delete it afterwards, whatever happens."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    bin_dir, user = binaries(), owner()
    folder = Path(tempfile.mkdtemp(prefix="citylab-postgres-"))
    password = secrets.token_urlsafe(16)
    (folder / "password").write_text(password)
    os.chown(folder, user.pw_uid, user.pw_gid)
    os.chown(folder / "password", user.pw_uid, user.pw_gid)
    data = folder / "data"
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={folder / 'password'}",
              "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale", "--no-sync"], user, folder)
        for _attempt in range(3):  # another program may take the free port between probe and start
            port = free_port()
            options = f"-k {folder} -p {port} -c listen_addresses={HOST} -c fsync=off"
            try:
                _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
                      "-o", options, "start"], user, folder)
                break
            except RuntimeError:
                if _attempt == 2:
                    raise
        yield Server(port, password, folder)
    finally:
        if (data / "postmaster.pid").exists():
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], user, folder)
        shutil.rmtree(folder, ignore_errors=True)
