"""Shared test helpers: the repository root and the project's virtual environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Executables of the environment running the tests (nbgrader, jupyter-book, ...).
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
