"""Measure what the course costs its users: build time, notebook cost, page weight.

Run with the project's environment::

    .venv/bin/python benchmarks/build_and_notebooks.py

It prints, in one run on this machine:

* cold and warm book build times (cold = empty execution cache; warm = the
  same build again), and their ratio;
* each notebook's run time and its kernel's peak memory, executed alone
  exactly as the book build runs it (static widget mode);
* the size of the built site and of its heaviest pages.

Targets (issue A): cold build <= 10 min on 2 cores, each notebook <= 30 s
and <= 500 MB, heaviest page <= 1.5 MB. Results also go to
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


def page_weights(site: Path) -> list[tuple[str, int, int]]:
    """Each HTML page plus the local files it references, biggest first: raw and gzipped bytes.

    Fonts that stylesheets load are not followed: the browser test of the
    published book (issue G) measures what a browser really transfers.
    """
    import re

    import gzip

    weights = []
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        total = len(text.encode())
        zipped = len(gzip.compress(text.encode()))
        for ref in set(re.findall(r'(?:src|href)="([^"#?]+\.(?:js|css|png|svg|woff2?))(?:[?#][^"]*)?"', text)):
            target = (page.parent / ref).resolve()
            if target.is_file():
                total += target.stat().st_size
                zipped += len(gzip.compress(target.read_bytes()))
        weights.append((str(page.relative_to(site)), total, zipped))
    return sorted(weights, key=lambda item: -item[1])


def main() -> None:
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        cold = build(out)
        warm = build(out)
        site = out / "_build" / "html"
        site_bytes = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        heaviest = page_weights(site)[:5]
        shutil.rmtree(out / "_build" / ".jupyter_cache", ignore_errors=True)
    print(f"book build: cold {cold:6.1f} s, warm {warm:6.1f} s (warm/cold = {warm / cold:.2f})")
    print(f"built site: {site_bytes / 1e6:.2f} MB")
    for name, size, zipped in heaviest:
        print(f"  page {name:<60} {size / 1e6:5.2f} MB ({zipped / 1e6:4.2f} MB gzipped)")
    results.update(cold_build_s=cold, warm_build_s=warm, site_mb=site_bytes / 1e6,
                   heaviest_pages_mb={n: {"raw": s / 1e6, "gzip": z / 1e6} for n, s, z in heaviest})
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
