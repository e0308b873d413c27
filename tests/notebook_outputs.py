"""Expected outputs of the key cells of every course notebook.

Notebooks are committed without outputs, so the numbers a notebook must
print are kept here instead, in ``tests/expected_outputs/<notebook>.json``:
one entry per cell tagged ``nbval-check-output``, keyed by cell id. The
notebook test injects them into a copy of the notebook and lets nbval
compare. After a deliberate change, regenerate with::

    .venv/bin/python tests/notebook_outputs.py modules/01-people-centred/01-who-lives-in-cities.ipynb

and review the diff of the JSON file like any other change.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ROOT / "tests" / "expected_outputs"
CHECK_TAG = "nbval-check-output"
#: Charts and maps are checked by their alt text in tests elsewhere, not byte
#: for byte: their embedded PNG/HTML is replaced by a marker on both sides.
FIGURE = re.compile(r'<figure class="citylab-(chart|map)"[\s\S]*?</figure>')
FIGURE_MARKER = r'<figure class="citylab-\1">(figure)</figure>'


def sanitize_config() -> str:
    """The same replacement in nbval's --nbval-sanitize-with format."""
    return f"[figures]\nregex: {FIGURE.pattern}\nreplace: {FIGURE_MARKER}\n"


def course_notebooks() -> list[Path]:
    """Every notebook under modules/, in a stable order."""
    return sorted(p for p in (ROOT / "modules").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def expected_path(notebook: Path) -> Path:
    return EXPECTED / notebook.relative_to(ROOT / "modules").with_suffix(".json")


def checked_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and CHECK_TAG in c.metadata.get("tags", [])]


def with_expected_outputs(notebook: Path) -> nbformat.NotebookNode:
    """The notebook with the stored expected outputs put into its checked cells."""
    nb = nbformat.read(notebook, as_version=4)
    expected = json.loads(expected_path(notebook).read_text(encoding="utf-8"))
    for cell in checked_cells(nb):
        cell.outputs = [nbformat.from_dict(o) for o in expected[cell.id]]
        cell.execution_count = 1  # nbval skips the comparison for "unrun" cells
    return nb


def _stored(output: nbformat.NotebookNode) -> dict:
    """An output as kept in the expected file: text as is, figures as a marker."""
    if output.output_type == "stream":
        return {"output_type": "stream", "name": output.name, "text": output.text}
    data = {k: v for k, v in output.get("data", {}).items() if k in ("text/plain", "text/html")}
    if "text/html" in data:
        data["text/html"] = FIGURE.sub(FIGURE_MARKER, data["text/html"])
    return {"output_type": output.output_type, "data": data, "metadata": {}}


def record(notebook: Path) -> Path:
    """Execute a notebook (static mode, as in the book) and store its checked outputs."""
    os.environ["CITYLAB_STATIC"] = "1"
    nb = nbformat.read(notebook, as_version=4)
    NotebookClient(nb, timeout=60, resources={"metadata": {"path": str(notebook.parent)}}).execute()
    outputs = {cell.id: [_stored(out) for out in cell.outputs] for cell in checked_cells(nb)}
    target = expected_path(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(outputs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


if __name__ == "__main__":
    for arg in sys.argv[1:] or [str(p) for p in course_notebooks()]:
        print("recorded", record(Path(arg).resolve()).relative_to(ROOT))
