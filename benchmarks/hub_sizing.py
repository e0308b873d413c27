"""What one learner's session costs on the hub: memory and CPU of a JupyterLab server and a kernel.

Run with the hub's own Python (what learners' servers run), after ``citylab cohort hub setup``::

    /opt/citylab-hub/venv/bin/python benchmarks/hub_sizing.py [--notebooks modules/*/*.ipynb]

It measures, on this machine:

* the server: a JupyterLab server as the hub starts it (``jupyter lab``, nbgrader's extensions
  loaded), after the JupyterLab page and the assignment list were requested once: resident
  memory (RSS) and CPU seconds spent starting;
* the kernel: each module notebook executed top to bottom in a fresh kernel (as a learner
  running all cells, with ``CITYLAB_STATIC`` unset so widgets are live): peak RSS of the
  kernel process, sampled every 50 ms, RSS at the end (what an idle kernel keeps until it is
  culled) and CPU seconds (user + system).

Results go to benchmarks/results/hub_sizing.json (git-ignored); the trainer guide's sizing
table (book/trainer-guide/scale.md) is derived from them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
from jupyter_client import KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "hub_sizing.json"
MB = 2**20


class Peak(threading.Thread):
    """Samples a process's RSS until stopped; keeps the highest value."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process, self.peak, self.done = psutil.Process(pid), 0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)


def measure_server(work: Path) -> dict:
    """Start JupyterLab as a learner's server, load the page and the assignment list, read its cost."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = secrets.token_hex(16)
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(
        [str(bin_dir / "jupyter-lab"), "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--allow-root",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}"],
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        base, started = f"http://127.0.0.1:{port}", time.monotonic()
        for path in ("/api/status", "/lab", "/assignments?course_id=smart-city-academy"):
            while True:
                try:
                    request = urllib.request.Request(base + path, headers={"Authorization": f"token {token}"})
                    urllib.request.urlopen(request, timeout=10).read()
                    break
                except OSError:
                    if time.monotonic() - started > 120:
                        raise
                    time.sleep(0.3)
        time.sleep(1)
        process = psutil.Process(server.pid)
        cpu = process.cpu_times()
        return {"rss_mb": round(process.memory_info().rss / MB, 1), "cpu_seconds": round(cpu.user + cpu.system, 2),
                "ready_seconds": round(time.monotonic() - started, 1)}
    finally:
        server.terminate()
        server.wait(30)


def measure_notebook(path: Path, sockets: Path) -> dict:
    """Run one notebook in a fresh kernel; peak and final RSS and CPU seconds of the kernel."""
    nb = nbformat.read(path, as_version=4)
    # Kernel sockets over IPC, not TCP: on a busy machine another program can take a TCP port
    # between the kernel manager choosing it and the kernel binding it, and the run then hangs.
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(sockets / path.stem))
    client = NotebookClient(nb, km=km, timeout=300, resources={"metadata": {"path": str(path.parent)}})
    started = time.monotonic()
    with client.setup_kernel():
        pid = client.km.provisioner.process.pid
        peak = Peak(pid)
        peak.start()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        process = psutil.Process(pid)
        cpu = process.cpu_times()
        children = [c.cpu_times() for c in process.children(recursive=True)]
        final_rss = process.memory_info().rss
        peak.done.set()
        peak.join()
    return {"notebook": str(path.relative_to(ROOT)), "seconds": round(time.monotonic() - started, 1),
            "peak_rss_mb": round(max(peak.peak, final_rss) / MB, 1), "idle_rss_mb": round(final_rss / MB, 1),
            "cpu_seconds": round(cpu.user + cpu.system + sum(c.user + c.system for c in children), 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="*", type=Path,
                        default=sorted((ROOT / "modules").glob("*/*.ipynb")), help="notebooks to run")
    args = parser.parse_args()
    os.environ.pop("CITYLAB_STATIC", None)
    with tempfile.TemporaryDirectory() as work:
        server = measure_server(Path(work))
        print(f"server: {server['rss_mb']} MB RSS, {server['cpu_seconds']} CPU s to start")
        kernels = []
        for path in args.notebooks:
            result = measure_notebook(path.resolve(), Path(work))
            kernels.append(result)
            print(f"{result['notebook']}: peak {result['peak_rss_mb']} MB, idle {result['idle_rss_mb']} MB, "
                  f"{result['cpu_seconds']} CPU s in {result['seconds']} s")
    summary = {
        "server_rss_mb": server["rss_mb"],
        "kernel_peak_rss_mb_max": max(k["peak_rss_mb"] for k in kernels),
        "kernel_peak_rss_mb_median": sorted(k["peak_rss_mb"] for k in kernels)[len(kernels) // 2],
        "kernel_cpu_seconds_max": max(k["cpu_seconds"] for k in kernels),
        "kernel_cpu_seconds_median": sorted(k["cpu_seconds"] for k in kernels)[len(kernels) // 2],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "load_before": os.getloadavg()},
        "server": server, "kernels": kernels, "summary": summary,
    }, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=1))
    print(f"Written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
