"""The offline course pack (``./course pack``): a zip that works from disk and a PDF of the book.

The slow tests make one pack from the session's book build (the single-page
build for the PDF reuses its execution cache), unzip it, and check it as a
learner would use it: the book opens from file:// in Chromium with no
request leaving the machine, a notebook runs against the pack's own code and
data, and nothing of the instructor's side is inside. The version tests are
fast and use a throwaway git repository.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, toc_pages
from leaks import all_secret_lines, found_in, html_text

from citylab import pack

slow = pytest.mark.slow


# ---------------------------------------------------------------- fast: version and requirements


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "citylab"\nversion = "0.3.0"\n', encoding="utf-8")
    return tmp_path


def test_version_without_git_is_the_pyproject_version(repo: Path) -> None:
    assert pack.version(repo) == "0.3.0"


def test_version_of_an_untagged_commit_names_the_commit_and_uncommitted_changes(repo: Path) -> None:
    git(repo, "init", "-q")
    git(repo, "add", "pyproject.toml")
    git(repo, "commit", "-qm", "first")
    commit = git(repo, "rev-parse", "--short=7", "HEAD")
    assert pack.version(repo) == f"0.3.0+g{commit}"
    (repo / "pyproject.toml").write_text('[project]\nname = "citylab"\nversion = "0.3.1"\n', encoding="utf-8")
    assert pack.version(repo) == f"0.3.1+g{commit}.dirty"


def test_version_of_a_release_tag_is_the_tag(repo: Path) -> None:
    git(repo, "init", "-q")
    git(repo, "add", "pyproject.toml")
    git(repo, "commit", "-qm", "first")
    git(repo, "tag", "v1.2.0")
    assert pack.version(repo) == "1.2.0"


def test_requirements_are_what_the_code_imports_plus_jupyterlab(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%matplotlib inline\nimport numpy as np")])
    nbformat.write(notebook, tmp_path / "n.ipynb")
    pins = pack.learner_requirements([tmp_path / "n.ipynb"])
    names = {p.split("==")[0].lower() for p in pins}
    assert {"numpy", "jupyterlab", "ipykernel"} <= names
    assert not {"nbgrader", "jupyter-book", "pytest", "sphinx"} & names
    assert all(re.fullmatch(r"[\w.-]+==[\w.+-]+", p) for p in pins)


def test_requirements_refuse_a_module_no_package_provides(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("import no_such_module_anywhere\n", encoding="utf-8")
    with pytest.raises(pack.PackError, match="no_such_module_anywhere"):
        pack.learner_requirements([tmp_path / "m.py"])


# ---------------------------------------------------------------- slow: the real pack


@pytest.fixture(scope="module")
def made(built_book: Path, tmp_path_factory: pytest.TempPathFactory) -> pack.Pack:
    return pack.make(built_book, tmp_path_factory.mktemp("pack"))


@pytest.fixture(scope="module")
def unpacked(made: pack.Pack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(made.zip) as archive:
        assert archive.testzip() is None
        archive.extractall(folder)
    (top,) = folder.iterdir()
    assert top.name == f"smart-city-academy-{made.version}"
    return top


def title(page: str) -> str:
    """A page's first heading, as printed (no Markdown code marks)."""
    path = next(ROOT.glob(page + ".*"))
    if path.suffix == ".ipynb":
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    return re.search(r"^# (.+)$", text, re.MULTILINE).group(1).replace("`", "").strip()


def words(text: str) -> str:
    """Text as compared with the PDF: ligatures undone, whitespace collapsed, typographic quotes plain."""
    text = unicodedata.normalize("NFKC", text).replace("’", "'")
    return " ".join(text.split())


@slow
def test_pack_holds_book_notebooks_assignments_data_and_code(unpacked: Path) -> None:
    assert (unpacked / "book" / "index.html").is_file() and (unpacked / "book" / "book" / "intro.html").is_file()
    modules = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("modules/*/*.ipynb")}
    assert {p.relative_to(unpacked).as_posix() for p in unpacked.glob("modules/*/*.ipynb")} == modules
    for notebook in unpacked.glob("modules/*/*.ipynb"):
        cells = nbformat.read(notebook, as_version=4).cells
        assert not any(c.get("outputs") for c in cells), f"{notebook.name} has outputs"
    assignments = sorted(p.name for p in (ROOT / "exercises" / "source").iterdir() if p.is_dir())
    assert sorted(p.name for p in (unpacked / "assignments").iterdir()) == assignments
    for descriptor in (ROOT / "datasets").glob("*/datapackage.json"):
        packed = unpacked / "datasets" / descriptor.parent.name
        assert (packed / "datapackage.json").is_file() and (packed / "README.md").is_file()
        for resource in json.loads(descriptor.read_text(encoding="utf-8"))["resources"]:
            assert (packed / resource["path"]).is_file()
    assert (unpacked / "citylab" / "data.py").is_file() and (unpacked / "citylab" / "maps.py").is_file()
    requirements = (unpacked / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert "-e ." in requirements
    assert {"pandas", "folium", "jupyterlab"} <= {r.split("==")[0].lower() for r in requirements}
    start = (unpacked / "START-HERE.html").read_text(encoding="utf-8")
    assert 'href="book/index.html"' in start and "pip install -r requirements.txt" in start


@slow
def test_pack_holds_nothing_of_the_instructors_side(unpacked: Path) -> None:
    names = [p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()]
    instructor = [n for n in names if re.search(r"exercises/|/source/|gradebook|nbgrader_config|\.db$|cohort/", n)]
    assert instructor == []
    secrets = all_secret_lines(ROOT / "exercises" / "source")
    assert secrets
    leaked = {}
    for path in unpacked.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".txt", ".ipynb", ".md", ".json", ".py", ".toml"):
            text = html_text(path) if path.suffix == ".html" else path.read_text(encoding="utf-8", errors="replace")
            if path.suffix == ".ipynb":
                text += "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
            if found := found_in(secrets, text):
                leaked[path.relative_to(unpacked).as_posix()] = found[:3]
    assert leaked == {}
    for notebook in unpacked.glob("assignments/*/*.ipynb"):
        assert "YOUR ANSWER HERE" in notebook.read_text(encoding="utf-8") or "NotImplementedError" in notebook.read_text(encoding="utf-8")


@slow
def test_book_links_are_relative_so_it_opens_from_disk(unpacked: Path) -> None:
    absolute = {}
    for name in ["index", "search", "genindex", *toc_pages()]:
        page = unpacked / "book" / f"{name}.html"
        found = re.findall(r'(?:href|src)="(/[^/"][^"]*)"', page.read_text(encoding="utf-8"))
        if found:
            absolute[name] = found[:3]
    assert absolute == {}


@slow
def test_book_opens_from_file_in_chromium_with_maps_and_no_network(unpacked: Path) -> None:
    from browser import block_remote, launch_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        blocked = block_remote(page)
        page.goto((unpacked / "book" / "index.html").as_uri())
        page.wait_for_url("**/book/intro.html")
        assert "Smart City Academy" in page.locator("main h1").first.inner_text()
        page.locator("main a[href$='01-people-centred/index.html']").first.click()
        page.wait_for_url("**/modules/01-people-centred/index.html")
        assert "Module 1" in page.locator("main h1").first.inner_text()
        page.locator("main a[href$='02-who-is-online.html']").first.click()
        page.wait_for_url("**/02-who-is-online.html")
        iframe = page.locator("figure.citylab-map iframe").first
        iframe.scroll_into_view_if_needed()
        frame = iframe.element_handle().content_frame()
        frame.wait_for_selector(".leaflet-container", timeout=15_000)
        assert frame.locator(".leaflet-overlay-pane path").count() > 0
        browser.close()
    assert blocked == []


@slow
def test_a_notebook_runs_on_the_packs_own_code_and_data(unpacked: Path, tmp_path: Path) -> None:
    # As after `pip install -r requirements.txt` (which installs citylab from the pack with `-e .`).
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    env.pop("CITYLAB_DATASETS", None)
    where = subprocess.run(
        [sys.executable, "-c", "import citylab.data as d; print(d.datasets_dir())"],
        check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert where.returncode == 0, where.stderr[-2000:]
    assert Path(where.stdout.strip()) == unpacked / "datasets"
    notebook = unpacked / "modules" / "01-people-centred" / "02-who-is-online.ipynb"
    run = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=120", "--output-dir", str(tmp_path), str(notebook)],
        check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]


@slow
def test_pdf_has_every_page_of_the_book_without_navigation(made: pack.Pack) -> None:
    from pypdf import PdfReader

    reader = PdfReader(made.pdf)
    pages = [words(p.extract_text()) for p in reader.pages]
    text = " ".join(pages)
    missing = [title(f) for f in toc_pages() if words(title(f)) not in text]
    assert missing == []
    assert f"Version {made.version}" in pages[0]
    # print.css: A4, every page of the book on a new sheet, no navigation or toggle labels.
    width, height = (float(x) for x in reader.pages[0].mediabox.upper_right)
    assert (round(width), round(height)) == (595, 842)
    assert len(toc_pages()) <= len(reader.pages) <= 600
    for chrome in ("Skip to main content", "Search Ctrl+K", "Show code cell source", "Back to top"):
        assert chrome not in text
