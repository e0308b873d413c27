"""Measure what the course costs its users: build time, notebook cost, site size.

Run with the project's environment::

    .venv/bin/python benchmarks/build_and_notebooks.py

It prints, in one run on this machine:

* cold and warm book build times (cold = empty execution cache; warm = the
  same build again), and their ratio;
* each notebook's run time and its kernel's peak memory, executed alone
  exactly as the book build runs it (static widget mode);
* the size of the built site and of its JupyterLite app.

Targets (issue A): cold build <= 10 min on 2 cores, each notebook <= 30 s
and <= 500 MB. Page weight (<= 1.5 MB a page) is measured by what Chromium
really transfers, in tests/test_browser.py. Results also go to
benchmarks/results/latest.json (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "tests"))

from notebook_outputs import course_notebooks  # noqa: E402

RUN_ONE = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=60, resources={"metadata": {"path": sys.argv[2]}}).execute()
"""


def build(out: Path) -> float:
    """One `jupyter-book build` into ``out``; returns seconds."""
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "jupyter-book"), "build", str(ROOT), "--path-output", str(out), "--warningiserror"],
        check=True, capture_output=True, env={**os.environ, "CITYLAB_STATIC": "1"},
    )
    return time.perf_counter() - started


def notebook_cost(notebook: Path) -> tuple[float, float]:
    """Seconds and peak resident memory (MB) of the kernel running ``notebook``.

    The notebook runs in a fresh child process whose own children include the
    kernel, so RUSAGE_CHILDREN of that child reports the kernel's peak.
    """
    probe = (
        RUN_ONE
        + "import resource; print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", probe, str(notebook), str(notebook.parent)],
        check=True, capture_output=True, text=True, env={**os.environ, "CITYLAB_STATIC": "1"},
    )
    seconds = time.perf_counter() - started
    return seconds, int(run.stdout.strip().splitlines()[-1]) / 1024


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cold = build(out)
        warm = build(out)
        site = out / "_build" / "html"
        site_bytes = folder_bytes(site)
        lite_bytes = folder_bytes(site / "lite")
        shutil.rmtree(out / "_build" / ".jupyter_cache", ignore_errors=True)
    print(f"book build: cold {cold:6.1f} s, warm {warm:6.1f} s (warm/cold = {warm / cold:.2f})")
    print(f"built site: {site_bytes / 1e6:.2f} MB, of which the JupyterLite app {lite_bytes / 1e6:.2f} MB")
    print("page weights: measured in Chromium by tests/test_browser.py (test-artifacts/browser/pages.md)")
    results.update(cold_build_s=cold, warm_build_s=warm, site_mb=site_bytes / 1e6, lite_mb=lite_bytes / 1e6)
    notebooks = {}
    for notebook in course_notebooks():
        seconds, peak_mb = notebook_cost(notebook)
        notebooks[str(notebook.relative_to(ROOT))] = {"seconds": seconds, "peak_mb": peak_mb}
        print(f"notebook {notebook.relative_to(ROOT)}: {seconds:5.1f} s, kernel peak {peak_mb:6.0f} MB")
    results["notebooks"] = notebooks
    target = ROOT / "benchmarks" / "results" / "latest.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
