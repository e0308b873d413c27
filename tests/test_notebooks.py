"""Every course notebook runs cleanly and prints the numbers it should.

Each notebook is run by nbval (a real Jupyter kernel, as a learner would)
with its stored expected outputs injected into the cells tagged
``nbval-check-output``; nbval fails on any error and on any difference in
those cells. See tests/notebook_outputs.py for how expectations are kept.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from notebook_outputs import CHECK_TAG, course_notebooks, expected_path, sanitize_config, with_expected_outputs

NOTEBOOKS = course_notebooks()
IDS = [str(p.relative_to(p.parents[1])) for p in NOTEBOOKS]


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_without_outputs(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    dirty = [c.id for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert dirty == [], f"strip outputs of cells {dirty}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_notebook_checks_key_outputs(notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    tagged = [c.id for c in nb.cells if CHECK_TAG in c.metadata.get("tags", [])]
    assert len(tagged) >= 2, "tag the cells that print key numbers with nbval-check-output"
    assert expected_path(notebook).is_file(), "record expected outputs: python tests/notebook_outputs.py"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=IDS)
def test_notebook_runs_with_expected_outputs(notebook: Path, tmp_path: Path) -> None:
    copy = tmp_path / notebook.name
    nbformat.write(with_expected_outputs(notebook), copy)
    sanitize = tmp_path / "sanitize.cfg"
    sanitize.write_text(sanitize_config(), encoding="utf-8")
    env = {**os.environ, "CITYLAB_STATIC": "1"}
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "--nbval-current-env", "--nbval-cell-timeout=60", f"--nbval-sanitize-with={sanitize}", str(copy)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    elapsed = time.perf_counter() - started
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
    assert elapsed < 60, f"{notebook.name} took {elapsed:.0f} s (limit 60 s)"
