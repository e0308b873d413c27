"""The grading sandbox: run a learner's notebook where it can harm no one, and check its answers.

Plain nbgrader runs learner code as the grading user inside the course folder:
a notebook can read the solutions and hidden tests, rewrite the gradebook,
change other learners' files, open network connections, fill the memory or
loop for ever. Here every notebook runs in a jail built from existing Linux
mechanisms, one jail per notebook:

* **bubblewrap** (``bwrap``, Debian package ``bubblewrap``) gives the jail its
  own mount, PID, network, IPC and UTS namespaces. Its file system is built
  from nothing: read-only binds of the system (``/usr``, ``/lib``…, a few
  files of ``/etc``), the Python installation, the virtual environment, the
  course package and ``datasets/`` (notebooks call ``citylab.data.load``), a
  fresh size-limited tmpfs for ``/tmp`` and for ``/scratch`` (its only
  writable place, also its working directory). The course source
  (``exercises/source``: solutions, hidden tests), the cohort folder (gradebook,
  other learners' work) and everything else of the machine do not exist inside.
  The network namespace has only its own loopback: no connection leaves it.
  ``--die-with-parent`` and the PID namespace make sure that when the jail
  ends, every process in it ends.
* **setpriv** runs the code as a separate unprivileged user id (60000 + 2 * slot,
  never in ``/etc/passwd``; the checker of the same slot gets the next id), with
  no capabilities and ``no_new_privs``. Each worker slot has its own ids, locked
  for the time of a run, so two jails never share a user: they cannot signal or
  trace each other, and per-user limits are per jail.
* **prlimit** sets kernel resource limits: address space (memory), CPU
  seconds, number of processes (a fork bomb stops there), file size, open files,
  no core dumps.
* The grader itself (trusted, outside) adds what rlimits cannot: a wall-clock
  limit, a limit on the *total* memory of all the jail's processes and on their
  number (polled from ``/proc`` twice a second; forked copies' shared pages
  counted once), and a limit on how much output it reads back. Whatever crosses
  one is killed at once with SIGKILL, including code that ignores SIGINT.
  (cgroups would do this too, but are not writable in every container or CI.)

Nothing a jail returns is trusted. A notebook's code runs in the same Python
as the instructor's test cells, so it could rewrite them from inside (patch
``assert`` away with an AST transformer, swallow errors, register fake number
types whose ``__eq__`` always says yes). So the test cells are also run a
second time, in a second jail where no learner code ever runs: before each
test cell, the learner's kernel saves the values the test reads as plain data
(numbers, text, lists, dicts, numpy arrays, pandas tables; see :func:`encode`),
and the checker rebuilds them from that data alone and runs the instructor's
test on them in a fresh Python. The worst a learner can do to that data is to
choose values, which is what answering is.

This module is both sides: the trusted side (:func:`run`, :class:`Slots`) and
the programs that run inside the jail (``python -m citylab.cohort.sandbox
execute|check``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import math
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

#: The jail's user ids: slot n runs notebooks as FIRST_UID + 2n and checks as FIRST_UID + 2n + 1.
FIRST_UID = 60000
MAX_SLOTS = 64
#: Inside the jail: the only writable folder (a tmpfs) and the notebook's working directory.
SCRATCH = "/scratch"
WORK = f"{SCRATCH}/work"
#: System folders bound read-only; /etc only by the files programs need.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf",
    "/etc/hosts", "/etc/alternatives", "/etc/fonts", "/etc/mime.types",
)
#: Output MIME types kept from a learner's notebook: none of them can run code in a trainer's browser.
SAFE_MIME = ("text/plain", "text/latex", "image/png", "image/jpeg", "image/gif")
#: A snapshot of the values one test cell reads may not exceed this (bytes of JSON).
MAX_SNAPSHOT = 4 * 2**20


# ====================================================================== the trusted side


@dataclass(frozen=True)
class Limits:
    """What one jail may use. Wall-clock, memory and output are enforced from outside too."""

    timeout: float = 120.0  # seconds of wall-clock time for the whole notebook
    memory_mb: int = 1024  # per process (address space) and for all processes together (resident)
    processes: int = 64  # processes and threads of the jail's user
    output_mb: int = 16  # what the grader reads back from the jail
    scratch_mb: int = 128  # each of the jail's tmpfs (/tmp and /scratch), held in memory
    file_mb: int = 64  # largest file the jail may write

    def prlimit(self) -> list[str]:
        cpu = int(self.timeout) + 1
        return [
            "/usr/bin/prlimit", f"--as={self.memory_mb * 2**20}", f"--cpu={cpu}:{cpu + 5}",
            f"--nproc={self.processes}", f"--fsize={self.file_mb * 2**20}", "--nofile=1024", "--core=0", "--",
        ]


@dataclass
class Outcome:
    """How a jail ended and what it printed on its result channel (untrusted bytes)."""

    status: str  # "finished", "timeout", "memory", "processes" or "output-limit"
    returncode: int | None
    output: bytes
    errors: str  # the end of the jail's stderr, for the trainer's log
    seconds: float


def check_available() -> str | None:
    """Why the sandbox cannot run here, or None when it can (a real jail is started to check)."""
    if os.geteuid() != 0:
        return "grading in the sandbox needs root, to run learner code as a separate user: run it with sudo"
    for tool in ("bwrap", "prlimit", "setpriv"):
        if not shutil.which(tool):
            package = "bubblewrap" if tool == "bwrap" else "util-linux"
            return f"'{tool}' not found: install it with 'apt-get install {package}'"
    with Slots(1) as slots:
        if not slots.free:
            return f"no free sandbox user ids ({FIRST_UID}-{FIRST_UID + 2 * MAX_SLOTS - 1}): is another grading run stuck?"
        with slots.slot() as slot:
            outcome = run("probe", {}, slot.checker_uid, Limits(timeout=30))
    if outcome.status != "finished" or outcome.output.strip() != b"ok":
        why = (outcome.errors.strip().splitlines() or [outcome.status])[-1][:200]
        return (f"the sandbox does not start here ({why}); the course's Python, virtual environment, "
                f"citylab/ and datasets/ must be readable by all users")
    return None


@dataclass(frozen=True)
class Slot:
    """One worker's pair of user ids, held (locked) while the worker runs."""

    runner_uid: int
    checker_uid: int


class Slots:
    """Hands out user-id pairs that no other grading run on this machine is using.

    A lock file per pair (in a root-only folder) keeps two runs from sharing a
    user, and a pair whose ids own a process (something else uses them) is skipped.
    """

    def __init__(self, count: int) -> None:
        self.free: list[Slot] = []
        self._locks: list[Any] = []
        folder = Path(tempfile.gettempdir()) / "citylab-sandbox-uids"
        folder.mkdir(mode=0o700, exist_ok=True)
        for n in range(MAX_SLOTS):
            if len(self.free) == count:
                break
            slot = Slot(FIRST_UID + 2 * n, FIRST_UID + 2 * n + 1)
            if _has_account(slot.runner_uid) or _has_account(slot.checker_uid):
                continue
            lock = open(folder / f"{slot.runner_uid}.lock", "w")  # noqa: SIM115 (held until close())
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            if _processes_of(slot.runner_uid) or _processes_of(slot.checker_uid):
                lock.close()
                continue
            self._locks.append(lock)
            self.free.append(slot)
        self._available = threading.Semaphore(len(self.free))
        self._mutex = threading.Lock()

    @contextlib.contextmanager
    def slot(self) -> Iterator[Slot]:
        self._available.acquire()
        with self._mutex:
            slot = self.free.pop()
        try:
            yield slot
        finally:
            with self._mutex:
                self.free.append(slot)
            self._available.release()

    def close(self) -> None:
        for lock in self._locks:
            lock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run(program: str, job: dict, uid: int, limits: Limits) -> Outcome:
    """Run ``program`` ("execute", "check" or "probe") in a new jail as ``uid``; ``job`` goes to its stdin.

    Returns when the jail has ended and no process of ``uid`` is left.
    """
    started = time.monotonic()
    process = subprocess.Popen(
        jail_command(program, uid, limits), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )
    with _RUNNING_LOCK:
        _RUNNING[process.pid] = (process, uid)
    output = _Capped(process.stdout, limits.output_mb * 2**20)
    errors = _Capped(process.stderr, 8192, keep="tail")
    threading.Thread(target=_feed, args=(process.stdin, json.dumps(job).encode()), daemon=True).start()
    status = _watch(process, uid, limits, output, started)
    output.join()
    errors.join()
    _kill_all(process, uid)
    with _RUNNING_LOCK:
        _RUNNING.pop(process.pid, None)
    return Outcome(status, process.returncode, output.data, errors.data.decode(errors="replace"),
                   time.monotonic() - started)


def stop_all() -> None:
    """Kill every jail this process started (when the trainer stops grading with Ctrl+C)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING.values())
    for process, uid in running:
        _kill_all(process, uid)


#: The jails running now (bwrap's pid -> its process and user id), for stop_all().
_RUNNING: dict[int, tuple[subprocess.Popen, int]] = {}
_RUNNING_LOCK = threading.Lock()


def jail_command(program: str, uid: int, limits: Limits) -> list[str]:
    """The bwrap, prlimit and setpriv command line of one jail (see the module docstring)."""
    args = ["bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    for name, value in _environment().items():
        args += ["--setenv", name, value]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    scratch = str(limits.scratch_mb * 2**20)
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", scratch, "--perms", "1777", "--tmpfs", "/tmp",
             "--size", scratch, "--perms", "1777", "--tmpfs", SCRATCH,
             "--size", str(16 * 2**20), "--perms", "1777", "--tmpfs", "/dev/shm"]
    made: set[str] = set()
    for path in _readable_paths():
        args += [*_parents(path, made), "--ro-bind", path, path]
    args += ["--chdir", SCRATCH, "--", *limits.prlimit(),
             "/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
             "--inh-caps=-all", "--bounding-set=-all", "--",
             sys.executable, "-m", "citylab.cohort.sandbox", program]
    return args


def _environment() -> dict[str, str]:
    """A small, fixed environment: nothing of the trainer's leaks in, one thread per library."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": SCRATCH, "USER": "learner", "LOGNAME": "learner", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "JUPYTER_CONFIG_DIR": f"{SCRATCH}/.jupyter", "JUPYTER_DATA_DIR": f"{SCRATCH}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": f"{SCRATCH}/.jupyter/runtime", "IPYTHONDIR": f"{SCRATCH}/.ipython",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib",
        # nbgrader sets this for autograding; notebooks may look at it.
        "NBGRADER_EXECUTION": "autograde",
        # Fewer threads and malloc arenas: less address space, fewer processes, fair sharing of cores.
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NUMEXPR_MAX_THREADS": "1", "MALLOC_ARENA_MAX": "2",
    }
    if os.environ.get("CITYLAB_DATASETS"):
        env["CITYLAB_DATASETS"] = os.environ["CITYLAB_DATASETS"]
    return env


def _readable_paths() -> list[str]:
    """Python, the virtual environment, the course package and its datasets: all the jail may read."""
    import citylab
    from citylab import data

    paths = {sys.base_prefix, sys.prefix, str(Path(citylab.__file__).resolve().parent), str(data.datasets_dir().resolve())}
    paths = {str(Path(p).resolve()) for p in paths}
    covered = [d for d in SYSTEM_DIRS if os.path.isdir(d)]
    keep = [p for p in paths if not any(p == d or p.startswith(d + "/") for d in covered)]
    # A folder inside another that is bound anyway needs no bind of its own.
    return sorted(p for p in keep if not any(p != q and p.startswith(q + "/") for q in keep))


def _parents(path: str, made: set[str]) -> list[str]:
    """bwrap makes missing parent folders mode 0700 (unreadable to the jail's user): make them 0755 first."""
    args = []
    for parent in reversed(Path(path).parents):
        name = str(parent)
        if name in ("/", "/tmp") or name in made:
            continue
        made.add(name)
        args += ["--perms", "0755", "--dir", name]
    return args


class _Capped(threading.Thread):
    """Reads a pipe to its end in the background; keeps at most ``limit`` bytes (the head, or the tail)."""

    def __init__(self, pipe: Any, limit: int, keep: str = "head") -> None:
        super().__init__(daemon=True)
        self.pipe, self.limit, self.keep = pipe, limit, keep
        self.data = b""
        self.overflow = False
        self.start()

    def run(self) -> None:
        while chunk := self.pipe.read1(65536):
            if self.keep == "tail":
                self.data = (self.data + chunk)[-self.limit:]
            elif len(self.data) + len(chunk) > self.limit:
                self.overflow = True
            else:
                self.data += chunk
        self.pipe.close()


def _feed(pipe: Any, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, OSError):
        pipe.write(data)
        pipe.close()


def _watch(process: subprocess.Popen, uid: int, limits: Limits, output: _Capped, started: float) -> str:
    """Wait for the jail to end; kill it when it passes the wall-clock, memory, process or output limit."""
    deadline = started + limits.timeout
    next_check = 0.0
    while process.poll() is None:
        now = time.monotonic()
        crossed = None
        if now > deadline:
            crossed = "timeout"
        elif output.overflow:
            crossed = "output-limit"
        elif now >= next_check:
            next_check = now + 0.5  # a scan of /proc costs a few ms; RLIMIT_AS bounds each process meanwhile
            crossed = _over_limits(uid, limits)
        if crossed:
            _kill_all(process, uid)
            return crossed
        time.sleep(0.05)
    return "finished"


def _kill_all(process: subprocess.Popen, uid: int) -> None:
    """SIGKILL the jail and every process of its user; wait until none is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    for _ in range(100):
        pids = _processes_of(uid)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def _proc_status() -> Iterator[tuple[int, int, int]]:
    """(pid, real uid, resident kB) of every process on the machine."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        real_uid = int(fields.get("Uid", "-1").split()[0])
        rss = int(fields.get("VmRSS", "0 kB").split()[0])
        yield int(entry.name), real_uid, rss


def _processes_of(uid: int) -> list[int]:
    return [pid for pid, owner, _ in _proc_status() if owner == uid]


def _over_limits(uid: int, limits: Limits) -> str | None:
    """"processes" for a fork bomb, "memory" when the jail's processes together use too much.

    The per-process limits (RLIMIT_NPROC, RLIMIT_AS) stop one process; this
    stops many. Resident sizes are summed first (cheap); only when that sum is
    over the limit is the real total measured (PSS: pages shared by forked
    copies are counted once), so forked processes are not over-counted.
    """
    mine = [(pid, rss) for pid, owner, rss in _proc_status() if owner == uid]
    if len(mine) >= limits.processes // 2:  # threads count towards RLIMIT_NPROC, processes here
        return "processes"
    limit_kb = limits.memory_mb * 1024
    if sum(rss for _, rss in mine) > limit_kb and sum(_proportional_kb(pid, rss) for pid, rss in mine) > limit_kb:
        return "memory"
    return None


def _proportional_kb(pid: int, resident_kb: int) -> int:
    """The process's PSS, or its resident size where the kernel does not say (or it has just ended)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return resident_kb
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:")), resident_kb)


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


# ====================================================================== portable values
#
# A learner's answer crosses from the learner's kernel to the checker as JSON
# with a tag for every type that JSON does not have. Only exact types are
# encoded (a subclass of float is not a float: it could redefine ``__eq__``);
# anything else becomes {"unportable": "<type>"}. Decoding builds genuine
# objects from data alone and never runs code chosen by the learner.


class Uncheckable(Exception):
    """A value that cannot be carried to the checker as plain data."""


def encode(value: Any, depth: int = 0) -> Any:
    """Plain, tagged JSON for a value, or {"unportable": type} for anything else."""
    try:
        return _encode(value, depth)
    except Uncheckable as why:
        return {"unportable": str(why)}


def _encode(value: Any, depth: int) -> Any:
    if depth > 20:
        raise Uncheckable("nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if kind in (list, tuple, set, frozenset):
        items = [_encode(v, depth + 1) for v in value]
        return {kind.__name__: items}
    if kind is dict:
        return {"dict": [[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in value.items()]}
    if kind is complex:
        return {"complex": [repr(value.real), repr(value.imag)]}
    if kind is bytes:
        return {"bytes": base64.b64encode(value).decode()}
    for encoder in (_encode_stdlib, _encode_numpy, _encode_pandas):
        encoded = encoder(value, depth)
        if encoded is not None:
            return encoded
    raise Uncheckable(f"{kind.__module__}.{kind.__qualname__}")


def _encode_stdlib(value: Any, depth: int) -> Any:
    import datetime as dt
    import decimal
    import fractions
    import types

    kind = type(value)
    if kind is types.ModuleType:
        name = value.__name__
        if not all(part.isidentifier() for part in name.split(".")):
            raise Uncheckable("module")
        return {"module": name}
    if kind is decimal.Decimal:
        return {"decimal": str(value)}
    if kind is fractions.Fraction:
        return {"fraction": [value.numerator, value.denominator]}
    if kind in (dt.date, dt.datetime, dt.time) and getattr(value, "tzinfo", None) is None:
        return {kind.__name__: value.isoformat()}
    if kind is dt.timedelta:
        return {"timedelta": [value.days, value.seconds, value.microseconds]}
    return None


def _numpy() -> Any:
    return sys.modules.get("numpy")


def _plain_dtype(dtype: Any) -> bool:
    return dtype.kind in "biufcmMSU" and not dtype.hasobject and dtype.fields is None


def _encode_numpy(value: Any, depth: int) -> Any:
    np = _numpy()
    if np is None:
        return None
    kind = type(value)
    if kind is np.ndarray:
        if not _plain_dtype(value.dtype):
            raise Uncheckable(f"numpy array of {value.dtype}")
        if value.nbytes > MAX_SNAPSHOT // 2:
            raise Uncheckable("numpy array too large")
        raw = np.ascontiguousarray(value).tobytes()
        return {"ndarray": value.dtype.str, "shape": list(value.shape), "b64": base64.b64encode(raw).decode()}
    if isinstance(value, np.generic) and kind is np.dtype(kind).type and _plain_dtype(value.dtype):
        return {"npscalar": value.dtype.str, "b64": base64.b64encode(value.tobytes()).decode()}
    return None


#: pandas extension dtypes rebuilt with pd.array(values, dtype=name).
PANDAS_EXTENSION_DTYPES = {
    "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
    "Float32", "Float64", "boolean", "string", "str",
}


def _encode_pandas(value: Any, depth: int) -> Any:
    pd = sys.modules.get("pandas")
    if pd is None:
        return None
    kind = type(value)
    if value is pd.NA:
        return {"pdNA": True}
    if value is pd.NaT:
        return {"pdNaT": True}
    if kind is pd.Timestamp and value.tzinfo is None:
        return {"timestamp": value.isoformat()}
    if kind is pd.Timedelta:
        return {"pdtimedelta": int(value.value)}
    if kind is pd.Series:
        return {"series": {"name": _encode(value.name, depth + 1), "index": _encode_index(value.index, depth),
                           "values": _encode_array(value.array, depth)}}
    if kind is pd.DataFrame:
        return {"dataframe": {
            "index": _encode_index(value.index, depth), "columns": _encode_index(value.columns, depth),
            "data": [_encode_array(value.iloc[:, i].array, depth) for i in range(value.shape[1])],
        }}
    if isinstance(value, pd.Index) and kind in (pd.Index, pd.RangeIndex, pd.MultiIndex, pd.DatetimeIndex):
        return {"pdindex": _encode_index(value, depth)}
    return None


def _encode_index(index: Any, depth: int) -> Any:
    import pandas as pd

    name = _encode(index.name, depth + 1) if not isinstance(index, pd.MultiIndex) else None
    if type(index) is pd.RangeIndex:
        return {"range": [index.start, index.stop, index.step], "name": name}
    if type(index) is pd.MultiIndex:
        return {"multi": {
            "levels": [_encode_index(level, depth + 1) for level in index.levels],
            "codes": [_encode(level.astype("int64"), depth + 1) for level in index.codes],
            "names": [_encode(n, depth + 1) for n in index.names],
        }}
    if type(index) in (pd.Index, pd.DatetimeIndex):
        return {"values": _encode_array(index.array, depth), "name": name}
    raise Uncheckable(f"pandas {type(index).__name__}")


def _encode_array(array: Any, depth: int) -> Any:
    """One pandas column (or index): numpy-backed, an extension array, categorical, or Python objects."""
    import numpy as np
    import pandas as pd

    if type(array) is pd.arrays.NumpyExtensionArray:  # not its subclasses (StringArray)
        array = array.to_numpy()
    dtype = array.dtype
    if isinstance(dtype, np.dtype) and _plain_dtype(dtype):
        return {"numpy": _encode(np.asarray(array), depth + 1)}
    if isinstance(dtype, pd.CategoricalDtype):
        return {"categorical": {"categories": _encode_index(dtype.categories, depth + 1),
                                "codes": _encode(np.asarray(array.codes, dtype="int64"), depth + 1),
                                "ordered": bool(dtype.ordered)}}
    if str(dtype) in PANDAS_EXTENSION_DTYPES:
        values = [None if v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v for v in array.tolist()]
        return {"extension": str(dtype), "values": [_encode(v, depth + 1) for v in values]}
    if getattr(dtype, "kind", None) == "O":
        return {"objects": [_encode(v, depth + 1) for v in array]}
    raise Uncheckable(f"pandas column of {dtype}")


def decode(data: Any, depth: int = 0) -> Any:
    """The value that :func:`encode` described; raises Uncheckable for anything unexpected."""
    if depth > 40:
        raise Uncheckable("nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is not dict or len(data) == 0:
        raise Uncheckable("malformed value")
    tag = next(iter(data))
    body = data[tag]
    simple = {
        "list": lambda: [decode(v, depth + 1) for v in _list(body)],
        "tuple": lambda: tuple(decode(v, depth + 1) for v in _list(body)),
        "set": lambda: {decode(v, depth + 1) for v in _list(body)},
        "frozenset": lambda: frozenset(decode(v, depth + 1) for v in _list(body)),
        "dict": lambda: {decode(k, depth + 1): decode(v, depth + 1) for k, v in _list(body)},
        "float": lambda: float(_text(body)),
        "complex": lambda: complex(float(_text(body[0])), float(_text(body[1]))),
        "bytes": lambda: base64.b64decode(_text(body)),
        "unportable": lambda: _raise(Uncheckable(_text(body))),
    }
    if tag in simple:
        return simple[tag]()
    for decoder in (_decode_stdlib, _decode_numpy, _decode_pandas):
        found, value = decoder(tag, body, data, depth)
        if found:
            return value
    raise Uncheckable(f"unknown tag {tag!r}")


def _raise(error: Exception) -> Any:
    raise error


def _list(value: Any) -> list:
    if type(value) is not list:
        raise Uncheckable("malformed value")
    return value


def _text(value: Any) -> str:
    if type(value) is not str:
        raise Uncheckable("malformed value")
    return value


def _decode_stdlib(tag: str, body: Any, data: dict, depth: int) -> tuple[bool, Any]:
    import datetime as dt
    import decimal
    import fractions
    import importlib

    if tag == "module":
        name = _text(body)
        if not all(part.isidentifier() for part in name.split(".")):
            raise Uncheckable("malformed module name")
        return True, importlib.import_module(name)
    if tag == "decimal":
        return True, decimal.Decimal(_text(body))
    if tag == "fraction":
        return True, fractions.Fraction(int(body[0]), int(body[1]))
    if tag in ("date", "datetime", "time"):
        return True, getattr(dt, tag).fromisoformat(_text(body))
    if tag == "timedelta":
        return True, dt.timedelta(*(int(v) for v in _list(body)))
    return False, None


def _decode_numpy(tag: str, body: Any, data: dict, depth: int) -> tuple[bool, Any]:
    if tag not in ("ndarray", "npscalar"):
        return False, None
    import numpy as np

    dtype = np.dtype(_text(body))
    if not _plain_dtype(dtype):
        raise Uncheckable("malformed dtype")
    raw = base64.b64decode(_text(data["b64"]))
    if tag == "npscalar":
        if len(raw) != dtype.itemsize:
            raise Uncheckable("malformed scalar")
        return True, np.frombuffer(raw, dtype=dtype)[0]
    shape = tuple(int(n) for n in _list(data["shape"]))
    return True, np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _decode_pandas(tag: str, body: Any, data: dict, depth: int) -> tuple[bool, Any]:
    if tag not in ("pdNA", "pdNaT", "timestamp", "pdtimedelta", "series", "dataframe", "pdindex"):
        return False, None
    import pandas as pd

    if tag in ("pdNA", "pdNaT"):
        return True, pd.NA if tag == "pdNA" else pd.NaT
    if tag == "timestamp":
        return True, pd.Timestamp(_text(body))
    if tag == "pdtimedelta":
        return True, pd.Timedelta(int(body))
    if tag == "pdindex":
        return True, _decode_index(body, depth)
    if tag == "series":
        return True, pd.Series(_decode_array(body["values"], depth), index=_decode_index(body["index"], depth),
                               name=decode(body["name"], depth + 1), copy=False)
    columns = [_decode_array(column, depth) for column in _list(body["data"])]
    frame = pd.concat([pd.Series(c, copy=False) for c in columns], axis=1) if columns else pd.DataFrame()
    frame.columns = _decode_index(body["columns"], depth)
    frame.index = _decode_index(body["index"], depth)
    return True, frame


def _decode_index(body: Any, depth: int) -> Any:
    import pandas as pd

    if type(body) is not dict:
        raise Uncheckable("malformed index")
    if "range" in body:
        start, stop, step = (int(v) for v in _list(body["range"]))
        return pd.RangeIndex(start, stop, step, name=decode(body["name"], depth + 1))
    if "multi" in body:
        multi = body["multi"]
        return pd.MultiIndex(
            levels=[_decode_index(level, depth + 1) for level in _list(multi["levels"])],
            codes=[decode(codes, depth + 1) for codes in _list(multi["codes"])],
            names=[decode(n, depth + 1) for n in _list(multi["names"])],
        )
    return pd.Index(_decode_array(body["values"], depth), name=decode(body["name"], depth + 1))


def _decode_array(body: Any, depth: int) -> Any:
    import numpy as np
    import pandas as pd

    if type(body) is not dict:
        raise Uncheckable("malformed column")
    if "numpy" in body:
        array = decode(body["numpy"], depth + 1)
        if type(array) is not np.ndarray or array.ndim != 1:
            raise Uncheckable("malformed column")
        return array
    if "categorical" in body:
        part = body["categorical"]
        return pd.Categorical.from_codes(decode(part["codes"], depth + 1),
                                         categories=_decode_index(part["categories"], depth + 1),
                                         ordered=bool(part["ordered"]))
    if "extension" in body:
        if body["extension"] not in PANDAS_EXTENSION_DTYPES:
            raise Uncheckable("malformed column")
        return pd.array([decode(v, depth + 1) for v in _list(body["values"])], dtype=body["extension"])
    if "objects" in body:
        values = [decode(v, depth + 1) for v in _list(body["objects"])]
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    raise Uncheckable("malformed column")


# ====================================================================== inside the jail: execute


def dump_snapshot(namespace: dict, names: list[str], path: str) -> None:
    """Called in the learner's kernel just before a test cell: save the values it reads, as data."""
    values = {name: encode(namespace[name]) for name in names if name in namespace}
    text = json.dumps(values)
    if len(text) > MAX_SNAPSHOT:
        text = json.dumps({name: {"unportable": "answer too large"} for name in values})
    Path(path).write_text(text, encoding="utf-8")


def _execute(job: dict, channel: Any) -> None:
    """Run the notebook cell by cell; send each cell's outputs (and snapshot) as one JSON line."""
    import asyncio

    import nbformat

    notebook = nbformat.from_dict(job["notebook"])
    Path(WORK).mkdir(parents=True, exist_ok=True)
    for name, content in job.get("files", {}).items():
        target = Path(WORK, name).resolve()
        if Path(WORK) in target.parents:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(content))
    snapshots = {int(k): v for k, v in job.get("snapshots", {}).items()}
    asyncio.run(_run_cells(notebook, job, snapshots, channel))


def _make_client(notebook: Any, job: dict) -> Any:
    from nbclient import NotebookClient
    from nbformat import NotebookNode

    limit = int(job.get("cell_output_limit", 2**20))

    class Client(NotebookClient):
        """nbclient as nbgrader configures it, with a cap on each cell's output."""

        cell_bytes = 0  # reset before each cell
        cut = False

        def output(self, outs: list, msg: dict, display_id: Any, cell_index: int) -> Any:
            self.cell_bytes += len(json.dumps(msg.get("content", {})))
            if self.cell_bytes <= limit:
                return super().output(outs, msg, display_id, cell_index)
            if not self.cut:
                self.cut = True
                outs.append(NotebookNode(output_type="stream", name="stdout",
                                         text=f"\n... output cut by the grader after {limit // 1024} KB ...\n"))
            return None

    def reply_error(cell: Any, cell_index: int, execute_reply: dict) -> None:
        """As nbgrader's Execute: an error reply with no error output (a timeout) becomes one."""
        content = execute_reply["content"]
        if content["status"] == "error" and not any(
            o.output_type == "error" and o.ename == content.get("ename") for o in cell.outputs
        ):
            cell.outputs.append(NotebookNode(output_type="error", ename=content.get("ename", "Error"),
                                             evalue=content.get("evalue", ""),
                                             traceback=content.get("traceback") or ["ERROR"]))

    return Client(
        notebook, timeout=job.get("cell_timeout"), interrupt_on_timeout=True, allow_errors=True,
        kernel_name="python3", extra_arguments=["--HistoryManager.hist_file=:memory:"],
        resources={"metadata": {"path": WORK}}, on_cell_executed=reply_error,
        error_on_timeout={"ename": "CellTimeoutError", "evalue": "",
                          "traceback": ["CellTimeoutError: No reply from kernel before timeout"]},
    )


async def _run_cells(notebook: Any, job: dict, snapshots: dict[int, list[str]], channel: Any) -> None:
    from nbclient.exceptions import DeadKernelError

    client = _make_client(notebook, job)
    client.km = client.create_kernel_manager()
    await client.async_start_new_kernel(cwd=WORK)
    await client.async_start_new_kernel_client()
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        snapshot = await _snapshot(client, index, snapshots[index]) if index in snapshots else None
        client.cell_bytes, client.cut = 0, False
        stopped = None
        try:
            await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        except DeadKernelError:
            stopped = {"stopped": index, "reason": "crashed", "exitcode": _kernel_exit_code(client)}
        _send(channel, {"cell": index, "outputs": cell.get("outputs", []),
                        "execution_count": cell.get("execution_count"), "snapshot": snapshot})
        if stopped:
            _send(channel, stopped)
            return
    _send(channel, {"done": True})


async def _snapshot(client: Any, index: int, names: list[str]) -> Any:
    """Ask the kernel (silently) to save the values a test cell reads; None if it does not."""
    path = f"{SCRATCH}/.grader/snapshot-{index}.json"
    Path(path).parent.mkdir(exist_ok=True)
    code = (f"__import__('citylab.cohort.sandbox', fromlist=['dump_snapshot'])"
            f".dump_snapshot(globals(), {names!r}, {path!r})")
    msg_id = client.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
    try:
        reply = await client.async_wait_for_reply(msg_id)
        if reply is None or reply["content"]["status"] != "ok":
            return None
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 (anything the learner's kernel did wrong means: no snapshot)
        return None


def _kernel_exit_code(client: Any) -> int | None:
    process = getattr(getattr(client.km, "provisioner", None), "process", None)
    return process.poll() if process is not None else None


def _send(channel: Any, message: dict) -> None:
    channel.write(json.dumps(message, default=str) + "\n")
    channel.flush()


# ====================================================================== inside the jail: check


def _check(job: dict, channel: Any) -> None:
    """Run each instructor test cell on the learner's values, rebuilt from data, in a fresh namespace."""
    verdicts = {}
    for cell in job["cells"]:
        verdicts[str(cell["index"])] = check_cell(cell["source"], cell["values"])
    _send(channel, {"verdicts": verdicts})


def check_cell(source: str, values: dict) -> dict:
    """What the test cell prints, its result (nbgrader's partial credit) and its error, if any."""
    import ast
    import builtins
    import warnings

    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    for name, data in values.items():
        if not name.isidentifier() or name.startswith("__"):
            continue
        try:
            namespace[name] = decode(data)
        except Uncheckable as why:
            return {"error": {"ename": "UncheckableAnswer", "evalue": (
                f"{name} holds a {why}, which the grader cannot check safely: store a plain value "
                "(a number, text, a list or a table) as the question asks")}, "stderr": "", "result": None}
        except Exception as err:  # noqa: BLE001 (the data came from the learner's kernel)
            return {"error": {"ename": "UncheckableAnswer", "evalue": f"{name}: {err}"}, "stderr": "", "result": None}
    stdout, stderr, result, error = io.StringIO(), io.StringIO(), None, None
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), warnings.catch_warnings():
        try:
            tree = ast.parse(source)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, "<test>", "exec"), namespace)  # noqa: S102 (the instructor's test; no learner code)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<test>", "eval"), namespace)
                if value is not None and not source.rstrip().endswith(";"):
                    result = repr(value)
        except BaseException as err:  # noqa: BLE001 (a failed test is a verdict, not a crash)
            error = {"ename": type(err).__name__, "evalue": str(err)}
    return {"error": error, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(), "result": result}


# ====================================================================== entry point inside the jail


def main(argv: list[str]) -> int:
    """``python -m citylab.cohort.sandbox execute|check|probe``: job on stdin, results on stdout."""
    # nbformat imports jsonschema, which spends ~1.5 s of CPU building an IRI grammar (rfc3987_syntax)
    # that the runner never uses: jsonschema does without it. (Learner kernels are left as they are.)
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever else writes to stdout (the kernel, learner code) goes to stderr
    job = json.loads(sys.stdin.read() or "{}")
    if argv == ["probe"]:
        channel.write("ok")
    elif argv == ["execute"]:
        _execute(job, channel)
    elif argv == ["check"]:
        _check(job, channel)
    else:
        return 2
    channel.flush()
    # Do not wait for the kernel to shut down politely: the jail's end kills it.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
