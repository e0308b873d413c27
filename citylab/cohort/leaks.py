"""What must never reach a learner, and how to look for it.

Solutions and hidden tests sit between nbgrader's ``### BEGIN SOLUTION`` /
``### BEGIN HIDDEN TESTS`` and ``### END ...`` markers in exercises/source.
Anything sent to learners (feedback, peer-review forms) and anything
published (the release, the book) is searched for every such line, both as
written and as it reads once rendered to HTML. The test suite uses the same
functions, so what the trainer's commands check is what the tests prove.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

MARKED = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)


def secret_lines(notebook: Path, kind: str | None = None, min_length: int = 8) -> set[str]:
    """Lines between ``### BEGIN <kind>`` and ``### END <kind>`` (SOLUTION, HIDDEN TESTS, or both).

    Blank and very short lines are left out: they could match anywhere.
    """
    lines: set[str] = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        for found_kind, body in MARKED.findall(cell.source + "\n"):
            if kind in (None, found_kind):
                lines.update(s for s in map(str.strip, body.splitlines()) if len(s) >= min_length)
    return lines


def all_secret_lines(source_dir: Path) -> set[str]:
    """Every solution and hidden-test line of every source notebook under a folder."""
    return set().union(*(secret_lines(nb) for nb in source_dir.rglob("*.ipynb")))


def html_text(path: Path) -> str:
    """The text a reader sees in an HTML page: syntax highlighting splits code into tags."""
    page = path.read_text(encoding="utf-8", errors="replace")
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def plain(line: str) -> str:
    """A Markdown line as it reads once rendered: no emphasis marks, no list number."""
    return re.sub(r"^(\d+\.|[-*])\s+", "", re.sub(r"\*\*|__|`", "", line))


def found_in(lines: set[str], text: str) -> list[str]:
    """The lines that occur in the text, as written or as rendered from Markdown."""
    return sorted(line for line in lines if line in text or plain(line) in text)


def cell_text(notebook: Path) -> str:
    """Everything a learner typed in a notebook: its cell sources (the raw file if it is not valid).

    A notebook is JSON, which escapes quotes: a line of code is only found in its decoded form.
    """
    try:
        return "\n".join(cell.source for cell in nbformat.read(notebook, as_version=4).cells)
    except Exception:  # noqa: BLE001 - a broken submission is still the learner's own text
        return notebook.read_text(encoding="utf-8", errors="replace")


def revealed(secrets: set[str], shown: str, own: str) -> list[str]:
    """Secret lines that a page shows but the learner did not write themselves.

    A learner who found the right answer wrote the model solution's line: showing it back
    to them reveals nothing.
    """
    return sorted(set(found_in(secrets, shown)) - set(found_in(secrets, own)))
