"""The course keeps its shape: every module is complete and in the book."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, toc_pages

MODULES = sorted(p for p in (ROOT / "modules").iterdir() if p.is_dir())


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_module_is_complete(module: Path) -> None:
    for page in ("index.md", "facilitator.md", "takeaways.md"):
        assert (module / page).is_file(), f"{module.name} needs {page}"
    notebooks = sorted(module.glob("*.ipynb"))
    assert 2 <= len(notebooks) <= 3
    assert (ROOT / "exercises" / "source" / module.name).is_dir(), "each module has a graded assignment"
    index = (module / "index.md").read_text(encoding="utf-8").lower()
    for section in ("objectives", "time", "prerequisites"):
        assert section in index, f"{module.name}/index.md has no {section} section"


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_module_pages_are_in_the_book(module: Path) -> None:
    listed = set(toc_pages())
    for page in [*module.glob("*.ipynb"), *module.glob("*.md")]:
        assert str(page.relative_to(ROOT).with_suffix("")) in listed, f"{page.name} is missing from _toc.yml"


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_notebooks_follow_the_template(module: Path) -> None:
    import nbformat

    for notebook in module.glob("*.ipynb"):
        text = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown")
        for heading in ("Overview", "Prerequisites", "Time to learn", "Extend it", "Summary", "What's next", "References"):
            assert heading in text, f"{notebook.name} lacks '{heading}'"


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_facilitator_guide_has_plan_activity_and_rubric(module: Path) -> None:
    guide = (module / "facilitator.md").read_text(encoding="utf-8").lower()
    assert re.search(r"\|\s*\d+\s*(min)?", guide), "a timed session plan (a table with minutes)"
    for word in ("peer", "rubric", "misconception"):
        assert word in guide


def test_every_bib_file_is_in_the_book_config() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    listed = set(config["bibtex_bibfiles"])
    on_disk = {p.relative_to(ROOT).as_posix() for p in [ROOT / "book" / "references.bib", *(ROOT / "book" / "bib").glob("*.bib")]}
    assert on_disk == listed


def test_every_cited_key_is_in_the_bibliography() -> None:
    bibs = [ROOT / "book" / "references.bib", *sorted((ROOT / "book" / "bib").glob("*.bib"))]
    defined = [k for bib in bibs for k in re.findall(r"@\w+\{([^,]+),", bib.read_text(encoding="utf-8"))]
    assert len(defined) == len(set(defined)), "a BibTeX key is defined twice"
    keys = set(defined)
    sources = [*ROOT.glob("book/*.md"), *ROOT.glob("modules/*/*.md"), *ROOT.glob("modules/*/*.ipynb")]
    cited = set()
    for path in sources:
        for group in re.findall(r"\{(?:foot)?cite(?::[pt])?\}`([^`]+)`", path.read_text(encoding="utf-8")):
            cited.update(k.strip() for k in group.split(","))
    assert cited and cited <= keys, f"unknown keys: {sorted(cited - keys)}"
