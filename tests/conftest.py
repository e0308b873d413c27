"""Shared test helpers: the repository root and the project's virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
#: Executables of the environment running the tests (nbgrader, jupyter-book, ...).
BIN = Path(sys.executable).parent


def toc_pages() -> list[str]:
    """Every page listed in _toc.yml (paths without suffix), root first, in book order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            pages += [chapter["file"], *(section["file"] for section in chapter.get("sections", []))]
    return pages


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full book build per test session (``--path-output`` root).

    The browser, pack and book tests all read this build; a second builder run
    against the same root reuses its notebook execution cache.
    """
    out = tmp_path_factory.mktemp("book")
    env = {**os.environ, "CITYLAB_STATIC": "1"}
    run = subprocess.run(
        [str(BIN / "jupyter-book"), "build", str(ROOT), "--path-output", str(out),
         "--warningiserror", "--keep-going"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
    return out


@pytest.fixture(scope="session")
def site(built_book: Path) -> Path:
    """The built HTML site of :func:`built_book`."""
    return built_book / "_build" / "html"
